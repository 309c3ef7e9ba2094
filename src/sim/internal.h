/*
 * sim/internal: structures shared by the simulator's files (sim.c: replicas and
 * routes; serve.c: completions and the engine's step loop; metrics.c: /metrics).
 * Not a public interface.
 */
#ifndef WP_SIM_INTERNAL_H
#define WP_SIM_INTERNAL_H

#include "api/openai.h"
#include "base/buf.h"
#include "engine/engine.h"
#include "model/model.h"
#include "sim/sim.h"
#include "stats/stats.h"

typedef struct sim_replica_s sim_replica_t;

/* One request on a replica, from arrival to the last byte. */
typedef struct sim_req_s {
    sim_replica_t *r;
    wp_http_req_t *http;
    wp_api_kind_t kind;
    bool stream, include_usage, aborted;
    uint64_t id;
    char resp_id[48];
    int64_t created;
    int32_t prompt_tokens, cached_tokens, max_tokens, out_tokens;
    wp_buf_t text;                                            /* the answer, when not streamed */
    double arrival, first_token, last_token, first_scheduled; /* simulated seconds */
    struct sim_req_s *next_dead;
} sim_req_t;

struct sim_replica_s {
    wp_sim_t *sim;
    int index;
    wp_http_server_t *server;
    int port;
    wp_engine_t *engine;
    uv_timer_t timer;
    bool timer_armed; /* a step is running; its events come when the timer fires */
    bool closing;
    wp_engine_step_t step;
    double vnow; /* simulated clock, seconds */
    uint64_t next_id;
    sim_req_t *dead; /* aborted while a step was running; freed after it */
    wp_stats_hist_t ttft, itl, e2e, queue, prefill, decode;
    uint64_t success;
    uint64_t steps;
};

struct wp_sim_s {
    uv_loop_t *loop;
    wp_sim_config_t cfg;
    const wp_model_spec_t *model;
    wp_perf_t perf;
    wp_engine_config_t ecfg;
    uint64_t t0_ns;
    sim_replica_t *replicas;
    int n;
    int open_handles;
    bool freeing;
};

/* sim.c: whether `model` names this simulator's model (any catalog spelling) */
bool wp__sim_serves(const wp_sim_t *sim, const char *model);

/* serve.c */
void wp__sim_serve_completion(sim_replica_t *r, wp_http_req_t *req, wp_api_kind_t kind);
void wp__sim_serve_tokenize(sim_replica_t *r, wp_http_req_t *req);
double
wp__sim_real_seconds(const wp_sim_t *sim); /* simulated seconds since start, from the clock */

/* metrics.c */
void wp__sim_metrics_init(sim_replica_t *r);
void wp__sim_metrics_free(sim_replica_t *r);
void wp__sim_metrics_write(sim_replica_t *r, wp_buf_t *out);

#endif
