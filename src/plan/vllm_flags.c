/*
 * plan/vllm_flags: every vLLM command-line flag the manifest renderer may write, with the
 * file of vllm-project/vllm (at WP_PLAN_VLLM_VERSION) that defines it. docs/vllm-flags.md
 * is the same list with links; tests/unit/plan/test_manifest.c checks that every flag in
 * every rendered command is here, and manifest_vllm.c asserts it as it writes.
 *
 * Engine flags come from EngineArgs.add_cli_args (vllm/engine/arg_utils.py), which takes
 * their names and help from the config dataclasses named here; the serve-only ones from
 * make_arg_parser (vllm/entrypoints/openai/cli_args.py).
 */
#include <string.h>

#include "plan/manifest.h"

#define ARGS "vllm/engine/arg_utils.py"
#define CLI "vllm/entrypoints/openai/cli_args.py"

static const wp_plan_vllm_flag_t flags[] = {
    {"--port", true, CLI " (FrontendArgs.port)"},
    {"--headless", false, CLI " (make_arg_parser)"},
    {"--api-server-count", true, CLI " (make_arg_parser)"},
    {"--tensor-parallel-size", true, ARGS " (ParallelConfig.tensor_parallel_size)"},
    {"--data-parallel-size", true, ARGS " (ParallelConfig.data_parallel_size)"},
    {"--data-parallel-size-local", true, ARGS " (ParallelConfig.data_parallel_size_local)"},
    {"--data-parallel-start-rank", true, ARGS " (EngineArgs.data_parallel_start_rank)"},
    {"--data-parallel-address", true, ARGS " (EngineArgs.data_parallel_address)"},
    {"--data-parallel-rpc-port", true, ARGS " (ParallelConfig.data_parallel_rpc_port)"},
    {"--enable-expert-parallel", false, ARGS " (ParallelConfig.enable_expert_parallel)"},
    {"--enable-prefix-caching", false, ARGS " (CacheConfig.enable_prefix_caching)"},
    {"--no-enable-prefix-caching", false, ARGS " (CacheConfig.enable_prefix_caching)"},
    {"--gpu-memory-utilization", true, ARGS " (CacheConfig.gpu_memory_utilization)"},
    {"--kv-cache-dtype", true, ARGS " (CacheConfig.cache_dtype)"},
    {"--max-model-len", true, ARGS " (ModelConfig.max_model_len)"},
    {"--kv-transfer-config", true, ARGS " (KVTransferConfig)"},
};

size_t wp_plan_vllm_flag_count(void)
{
    return sizeof(flags) / sizeof(flags[0]);
}

const wp_plan_vllm_flag_t *wp_plan_vllm_flag_at(size_t i)
{
    return i < wp_plan_vllm_flag_count() ? &flags[i] : NULL;
}

const wp_plan_vllm_flag_t *wp_plan_vllm_flag_find(const char *flag)
{
    for (size_t i = 0; i < wp_plan_vllm_flag_count(); i++)
        if (strcmp(flags[i].flag, flag) == 0)
            return &flags[i];
    return NULL;
}

/* CacheConfig.cache_dtype's values that every CUDA build takes (vllm/config/cache.py). */
bool wp_plan_vllm_kv_dtype_known(const char *dtype)
{
    static const char *const known[] = {"auto", "bfloat16", "fp8", "fp8_e4m3", "fp8_e5m2"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(known[i], dtype) == 0)
            return true;
    return false;
}
