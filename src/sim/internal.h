/*
 * sim/internal: structures shared by the simulator's files (sim.c: replicas and
 * routes; serve.c: completions and the engine's step loop; metrics.c: /metrics; kv.c: the
 * side-channel server and held requests; pull.c: the decode side's KV pull; inject.c: fault
 * injection, the admin endpoint, crash and restart).
 * Not a public interface.
 *
 * Handle lifetime: every libuv handle the simulator opens counts in sim->open_handles; each
 * close callback ends with wp__sim_handle_closed, and the last one frees the sim (only once
 * wp_sim_free has run).
 */
#ifndef WP_SIM_INTERNAL_H
#define WP_SIM_INTERNAL_H

#include "api/openai.h"
#include "base/buf.h"
#include "engine/engine.h"
#include "engine/group.h"
#include "model/model.h"
#include "sim/sim.h"
#include "stats/stats.h"
#include "kvev/pub.h"
#include "kvhash/kvhash.h"
#include "tok/model.h"

typedef struct sim_replica_s sim_replica_t;
typedef struct sim_group_s sim_group_t;
typedef struct sim_pull_s sim_pull_t;
typedef struct sim_held_s sim_held_t;
typedef struct sim_kvconn_s sim_kvconn_t;
typedef struct sim_sleep_s sim_sleep_t;

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
    wp_buf_t text;            /* the answer, when not streamed */
    bool hold;                /* a remote prefill: answer carries kv_transfer_params */
    int64_t disconnect_after; /* injected: close the connection at this token (-1: never) */
    uint64_t salt;
    char *cache_salt; /* with KV events: the request's cache_salt (owned; NULL = none) */
    int32_t *ids;     /* with KV events: the prompt's ids (owned), for BlockStored */
    size_t n_ids;
    int32_t priority;
    char headers[160]; /* extra response headers: "X-Request-Id: ...\r\n" or "" */
    sim_pull_t *pull;  /* while pulling KV: the pull owns the record */
    double arrival, first_token, last_token, first_scheduled; /* simulated seconds */
    struct sim_req_s *next_dead;
    /* On r->live from req_new to wp__sim_req_free: a crash of r cuts what closing r's own
     * server did not reach (requests sent to r by X-data-parallel-rank on another port). */
    struct sim_req_s *live_prev, *live_next;
} sim_req_t;

/* Ranks that step together (engine/group.h): a plain replica is a group of one. The step
 * loop is the group's: one simulated clock, one timer, one step for all its ranks. */
struct sim_group_s {
    wp_sim_t *sim;
    int index;
    sim_replica_t *ranks; /* sim->replicas + index x ranks per group */
    int n_ranks;
    wp_group_t *core;
    uv_timer_t timer;
    bool timer_armed; /* a step is running; its events come when the timer fires */
    double vnow;      /* simulated clock, seconds */
    wp_group_step_t step;
    sim_sleep_t *sleep; /* sleep.c: vLLM's sleep mode of the group */
};

struct sim_replica_s {
    wp_sim_t *sim;
    int index;
    sim_group_t *group;
    int rank; /* within its group: the `engine` label of its series */
    wp_http_server_t *server;
    int port;
    wp_engine_t *engine; /* the group's engine of this rank (changes on a crash) */
    bool closing;
    uint64_t next_id;
    sim_req_t *live; /* its requests, a list */
    sim_req_t *dead; /* aborted while a step was running; freed after it */
    wp_stats_hist_t ttft, itl, e2e, queue, prefill, decode;
    uint64_t success;
    uint64_t steps;
    /* P/D */
    uv_tcp_t kv_listener;
    bool kv_listening;
    int kv_port;
    sim_held_t *held;      /* held requests, a list */
    sim_kvconn_t *kvconns; /* side-channel connections, a list */
    sim_pull_t *pulls;     /* pulls in flight, a list */
    uint64_t expired[64];  /* ids of the last held requests that expired (a ring) */
    uint64_t n_expired;
    uint64_t kv_pulls_ok, kv_pulls_failed, kv_served, kv_refused;
    wp_stats_hist_t kv_pull;
    /* fault injection (inject.c) */
    wp_fault_set_t faults;
    wp_rng_t fault_rng;
    uint64_t fault_requests; /* completion requests since the set was installed or a restart */
    uint64_t faults_injected[WP_FAULT_KIND_COUNT];
    struct sim_wait_s *waits; /* requests parked by a fault for this replica, a list */
    uv_timer_t fault_timer;   /* the crash (deferred out of any handler), then the restart */
    bool crash_pending, down;
    int64_t restart_ms;
    /* a preemption notice (notice.c): draining until notice_timer fires, then a crash */
    bool noticed;
    uv_timer_t notice_timer;
    int64_t notice_restart_ms;
    uint64_t notices;
    wp_kvev_pub_t *kvpub; /* its KV events (kvevents.c); NULL when off */
};

struct wp_sim_s {
    uv_loop_t *loop;
    wp_sim_config_t cfg;
    const wp_model_spec_t *model;
    wp_perf_t perf;
    wp_ep_t ep; /* wide-EP groups (cfg.data_parallel > 1) */
    wp_engine_config_t ecfg;
    uint64_t t0_ns;
    sim_replica_t *replicas; /* n of them: group g's rank k is replicas[g x ranks + k] */
    int n;
    sim_group_t *groups;
    int n_groups;
    int open_handles;
    bool freeing;
    wp_tokmodel_t *tok;        /* cfg.tokenizer loaded, or NULL: the fake tokenizer */
    wp_bpe_cache_t *tok_cache; /* the loop thread's */
    bool kvev;                 /* cfg.kv_events_config enabled (kvevents.c) */
    void *zctx;                /* its ZeroMQ context */
    wp_kvhash_t kv_seed;       /* vLLM's NONE_HASH, from PYTHONHASHSEED */
};

/* sim.c: whether `model` names this simulator's model (any catalog spelling) */
bool wp__sim_serves(const wp_sim_t *sim, const char *model);
/* sim.c: the HTTP handler of a replica (ctx: the replica). */
void wp__sim_on_request(wp_http_req_t *req, void *ctx);
/* sim.c: a handle's close callback ends with this. */
void wp__sim_handle_closed(wp_sim_t *sim);

/* serve.c: d is the request's fault decision: its context-length error, its disconnect. */
void wp__sim_serve_completion(sim_replica_t *r, wp_http_req_t *req, wp_api_kind_t kind,
                              const wp_fault_decision_t *d);
void wp__sim_serve_tokenize(sim_replica_t *r, wp_http_req_t *req);
double
wp__sim_real_seconds(const wp_sim_t *sim); /* simulated seconds since start, from the clock */

/* serve.c: plans the group's next step when it has work and none is running. */
void wp__sim_plan_step(sim_group_t *g);
/* serve.c: after a crash closed r's server, cuts r's requests still live (those that came
 * through another rank's port): their connections close as the crash closed its own. */
void wp__sim_cut_live(sim_replica_t *r);

/* serve.c: adds q (prompt ids copied by the engine) and starts its answer; on failure the
 * request is answered with an error and q freed. */
void wp__sim_enqueue(sim_req_t *q, const int32_t *ids, size_t n, bool kv_ready);
void wp__sim_req_free(sim_req_t *q);
/* serve.c: ends q's request with a JSON error (echoing X-Request-Id) and frees q. */
void wp__sim_fail(sim_req_t *q, int status, const char *msg);

/* kv.c: the side channel of a replica, and its held requests. */
wp_status_t wp__sim_kv_listen(sim_replica_t *r, int port, wp_err_t *err);
/* Registers q's engine request (held in the engine) for a pull; arms its expiry timer. */
void wp__sim_kv_hold(sim_replica_t *r, uint64_t id, int32_t prompt_tokens);
/* The kv_transfer_params object of a held request's answer (caller deletes it). */
cJSON *wp__sim_kv_params(sim_replica_t *r, uint64_t id);
void wp__sim_kv_close(sim_replica_t *r);
/* Drops every held request without touching the engine (it is being replaced or freed). */
void wp__sim_kv_forget(sim_replica_t *r);

/* pull.c: pulls q's KV as kv_transfer_params says, then enqueues q (or fails it). ids are
 * copied. */
void wp__sim_pull_start(sim_req_t *q, const cJSON *kv, const int32_t *ids, size_t n);
void wp__sim_pull_close_all(sim_replica_t *r);

/* inject.c: per-replica fault state (opens fault_timer); a completion request through the
 * fault decision; the admin endpoint (false when req is not for it); closing. */
void wp__sim_inject_init(sim_replica_t *r);
void wp__sim_inject_completion(sim_replica_t *r, wp_http_req_t *req, wp_api_kind_t kind);
bool wp__sim_admin(sim_replica_t *r, wp_http_req_t *req);
void wp__sim_inject_close(sim_replica_t *r);
/* inject.c: crashes r as /admin/crash does (deferred out of any handler). */
void wp__sim_crash(sim_replica_t *r, int64_t restart_ms);

/* notice.c: preemption notices. init/close: r's notice timer (from inject init/close);
 * start: r drains for notice_ms, then crashes (restart_ms as /admin/crash's); admin:
 * POST /admin/preempt; route: answers req when r is noticed and req is a completion
 * (503) or GET /health (503), true when it did. */
void wp__sim_notice_init(sim_replica_t *r);
void wp__sim_notice_close(sim_replica_t *r);
wp_status_t wp__sim_notice_start(sim_replica_t *r, int64_t notice_ms, int64_t restart_ms,
                                 wp_err_t *err);
void wp__sim_admin_preempt(sim_replica_t *r, wp_http_req_t *req);
bool wp__sim_notice_route(sim_replica_t *r, wp_http_req_t *req, bool completion);

/* kvevents.c: KV events. open: reads cfg.kv_events_config (sim-wide); replica: r's
 * publisher; hashes: q's prompt blocks as vLLM hashes them (malloc'd, NULL when off);
 * publish: a step's events of r's engine; cleared: r restarted with an empty cache. */
wp_status_t wp__sim_kvev_open(wp_sim_t *sim, wp_err_t *err);
wp_status_t wp__sim_kvev_replica(sim_replica_t *r, wp_err_t *err);
void wp__sim_kvev_close(sim_replica_t *r);
uint64_t *wp__sim_kvev_hashes(const sim_req_t *q, const int32_t *ids, size_t n);
void wp__sim_kvev_publish(sim_replica_t *r, const wp_engine_step_t *st);
void wp__sim_kvev_cleared(sim_replica_t *r);

/* sleep.c: vLLM's sleep mode (POST /sleep, POST /wake_up, GET /is_sleeping). route: false
 * when req is not one of them; asleep: the group's scheduler is paused; wake_seconds: the
 * wake-up time (simulated seconds) of the parts named from that level; metrics: the
 * vllm:engine_sleep_state gauge of n replicas. */
wp_status_t wp__sim_sleep_init(sim_group_t *g, wp_err_t *err);
void wp__sim_sleep_close(sim_group_t *g);
bool wp__sim_sleep_route(sim_replica_t *r, wp_http_req_t *req);
bool wp__sim_asleep(const sim_group_t *g);
double wp__sim_wake_seconds(const sim_group_t *g, int level, bool weights, bool kv);
void wp__sim_sleep_metrics(sim_replica_t *const *rs, int n, wp_buf_t *out);

/* metrics.c */
void wp__sim_metrics_init(sim_replica_t *r);
void wp__sim_metrics_free(sim_replica_t *r);
/* The series of n replicas (ranks of one group), each labelled engine="<its rank>". */
void wp__sim_metrics_write(sim_replica_t *const *rs, int n, wp_buf_t *out);

#endif
