/*
 * sim: simulated vLLM-compatible model servers, in real time.
 *
 * Each replica is an HTTP server in front of one engine/ core: requests are tokenized
 * (tok/), added to the engine, and the engine is stepped on a libuv timer whose delay
 * is the step's simulated duration times time_scale. Tokens produced by a step are
 * delivered when the step ends: streamed as SSE chunks or gathered into one JSON
 * answer. The API is vLLM's (REFERENCE.md §1): /v1/completions, /v1/chat/completions,
 * /v1/models, /health, /tokenize, /metrics (§2 names, labels and buckets).
 *
 * The generated text is deterministic filler; a request without max_tokens gets
 * default_max_tokens (a real model would stop at its end-of-sequence token).
 * Ownership: wp_sim_t owns its replicas, engines and servers; free with wp_sim_free
 * and run the loop until the handles are closed.
 */
#ifndef WP_SIM_SIM_H
#define WP_SIM_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/err.h"
#include "engine/engine.h"
#include "model/model.h"
#include "http/server.h"

#define WP_SIM_MAX_REPLICAS 64

typedef struct wp_sim_config_s {
    char host[64];
    int port; /* first replica's port; replica i listens on port + i (0: ephemeral) */
    int replicas;
    char model[64]; /* catalog name, e.g. qwen3-8b */
    char gpu[16];   /* a100|h100|h200|b200 */
    int tensor_parallel;
    double time_scale;
    uint64_t seed;
    bool prefix_caching;
    /* 0 = the engine's default */
    int max_num_seqs, max_num_batched_tokens, block_size, max_model_len;
    double gpu_memory_utilization;
    int default_max_tokens;
    wp_http_server_config_t server;
} wp_sim_config_t;

typedef struct wp_sim_s wp_sim_t;

void wp_sim_config_default(wp_sim_config_t *cfg);
/* The model, its perf model and the engine config that cfg describes (catalog names,
 * TP, memory utilisation, engine overrides). Shared with the virtual-time simulator. */
wp_status_t wp_sim_engine_setup(const wp_sim_config_t *cfg, const wp_model_spec_t **model,
                                wp_perf_t *perf, wp_engine_config_t *ecfg, wp_err_t *err);
wp_sim_t *wp_sim_new(uv_loop_t *loop, const wp_sim_config_t *cfg, wp_err_t *err);
wp_status_t wp_sim_start(wp_sim_t *sim, wp_err_t *err);
int wp_sim_replicas(const wp_sim_t *sim);
int wp_sim_port(const wp_sim_t *sim, int replica);
/* The name clients use (the catalog's Hugging Face id) and its short alias. */
const char *wp_sim_served_name(const wp_sim_t *sim);
void wp_sim_free(wp_sim_t *sim);

#endif
