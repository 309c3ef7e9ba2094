/*
 * api/engines: the engine table and the scrape reader. The table's names are checked
 * against each engine's source in docs/engines.md (file and commit per engine); a name
 * changed there is changed here and in the doc together. The reader is one pass of
 * wp_api_prom_parse with a callback that compares each sample's name against the row.
 */
#include "api/engines.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "api/prom.h"
#include "base/str.h"

static const wp_api_engine_t engines[] = {
    [WP_TOPO_ENGINE_VLLM] = {"vLLM", "/metrics", "vllm:num_requests_waiting",
                             "vllm:num_requests_running", "vllm:kv_cache_usage_perc",
                             "vllm:gpu_cache_usage_perc", "vllm:prefix_cache_hits_total",
                             "vllm:prefix_cache_queries_total", false,
                             "vLLM exports these unless started with --disable-log-stats"},
    [WP_TOPO_ENGINE_SGLANG] = {"SGLang", "/metrics", "sglang:num_queue_reqs",
                               "sglang:num_running_reqs", "sglang:token_usage", NULL,
                               "sglang:cached_tokens_total", "sglang:prompt_tokens_total", false,
                               "start the SGLang server with --enable-metrics"},
    [WP_TOPO_ENGINE_TRTLLM] = {"TensorRT-LLM", "/prometheus/metrics", "trtllm_num_requests_waiting",
                               "trtllm_num_requests_running", "trtllm_kv_cache_utilization", NULL,
                               "trtllm_kv_cache_reused_blocks_total",
                               "trtllm_kv_cache_missed_blocks_total", true,
                               "start trtllm-serve with enable_iter_perf_stats: true in its "
                               "--extra_llm_api_options file"},
    [WP_TOPO_ENGINE_LLAMACPP] = {"llama.cpp", "/metrics", "llamacpp:requests_deferred",
                                 "llamacpp:requests_processing", "llamacpp:kv_cache_usage_ratio",
                                 NULL, "llamacpp:prompt_tokens_cached_total",
                                 "llamacpp:prompt_tokens_total", true,
                                 "start llama-server with --metrics"},
};

const wp_api_engine_t *wp_api_engine(wp_topology_engine_t engine)
{
    size_t i = (size_t)engine;
    return i < sizeof(engines) / sizeof(engines[0]) ? &engines[i] : &engines[0];
}

typedef struct acc_s {
    const wp_api_engine_t *e;
    int rank; /* -1: every sample */
    wp_api_engine_reading_t *r;
    double misses; /* `queries` when it excludes the hits */
} acc_t;

static bool is(wp_str_t name, const char *want)
{
    return want != NULL && wp_str_eq_cstr(name, want);
}

/* The sample is the rank's: no rank asked, no rank label, or the label is that rank. */
static bool rank_sample(int rank, wp_str_t labels)
{
    char v[24];
    int64_t r;
    if (rank < 0 || !wp_api_prom_label(labels, WP_API_ENGINE_RANK_LABEL, v, sizeof(v)))
        return true;
    return wp_parse_i64(v, strlen(v), &r) == WP_OK && r == rank;
}

static void on_sample(void *ud, wp_str_t name, wp_str_t labels, double v)
{
    acc_t *a = ud;
    const wp_api_engine_t *e = a->e;
    wp_api_engine_reading_t *r = a->r;
    if (v != v || !rank_sample(a->rank, labels)) /* NaN, or another rank's */
        return;
    if (is(name, e->waiting)) {
        r->waiting += v;
        r->seen |= WP_API_ENGINE_SEEN_WAITING;
    } else if (is(name, e->running)) {
        r->running += v;
        r->seen |= WP_API_ENGINE_SEEN_RUNNING;
    } else if (is(name, e->kv) || is(name, e->kv_old)) {
        if (v > r->kv_usage)
            r->kv_usage = v > 1.0 ? 1.0 : v;
        r->seen |= WP_API_ENGINE_SEEN_KV;
    } else if (is(name, e->hits)) {
        r->cache_hits += v;
        r->seen |= WP_API_ENGINE_SEEN_CACHE;
    } else if (is(name, e->queries)) {
        a->misses += v;
        r->seen |= WP_API_ENGINE_SEEN_CACHE;
    } else if (wp_str_eq_cstr(name, "vllm:cache_config_info")) {
        char blocks[32];
        double b;
        if (wp_api_prom_label(labels, "num_gpu_blocks", blocks, sizeof(blocks)) &&
            wp_parse_double(blocks, strlen(blocks), &b) == WP_OK && b > 0 && b < 4e9) {
            r->kv_blocks = b;
            r->seen |= WP_API_ENGINE_SEEN_BLOCKS;
        }
    }
}

wp_status_t wp_api_engine_read(const wp_api_engine_t *e, int rank, const char *text, size_t len,
                               wp_api_engine_reading_t *out, wp_err_t *err)
{
    *out = (wp_api_engine_reading_t){0};
    acc_t a = {.e = e, .rank = rank, .r = out};
    if (wp_api_prom_parse(text, len, on_sample, &a, err) != WP_OK) {
        *out = (wp_api_engine_reading_t){0};
        return WP_EINVAL;
    }
    if (out->kv_usage < 0.0)
        out->kv_usage = 0.0;
    out->cache_queries = e->queries_exclude_hits ? a.misses + out->cache_hits : a.misses;
    return WP_OK;
}

static void add(char *buf, size_t cap, const char *name)
{
    size_t n = strlen(buf);
    if (name == NULL || n + 1 >= cap)
        return;
    snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", name);
}

const char *wp_api_engine_missing(const wp_api_engine_t *e, unsigned seen, bool optional, char *buf,
                                  size_t cap)
{
    if (cap == 0)
        return buf;
    buf[0] = '\0';
    if (!(seen & WP_API_ENGINE_SEEN_WAITING))
        add(buf, cap, e->waiting);
    if (!(seen & WP_API_ENGINE_SEEN_RUNNING))
        add(buf, cap, e->running);
    if (optional && !(seen & WP_API_ENGINE_SEEN_KV))
        add(buf, cap, e->kv);
    if (optional && !(seen & WP_API_ENGINE_SEEN_CACHE) && e->hits)
        add(buf, cap, e->hits);
    return buf;
}
