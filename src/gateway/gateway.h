/*
 * gateway: the OpenAI-compatible, inference-aware reverse proxy (Path 1).
 *
 * It listens for /v1/completions and /v1/chat/completions, parses the body, asks the
 * sched/ core for an endpoint over the current endpoint state, forwards the body
 * unchanged on a kept-alive upstream connection and streams the answer back as it
 * arrives. Endpoint state is the gateway's own in-flight counts plus metrics scraped
 * from each endpoint's /metrics every scrape_interval_ms; an endpoint whose health
 * check or scrape fails leaves the pool until it answers again. Its own /metrics,
 * /health and /v1/models are served too.
 *
 * Time: the shell reads the loop's clock (uv_now) once per tick and passes it to
 * sched/. Ownership: the gateway copies its config; wp_gateway_free stops listening,
 * cancels upstream calls and frees everything once libuv has closed the handles
 * (run the loop after calling it).
 */
#ifndef WP_GATEWAY_GATEWAY_H
#define WP_GATEWAY_GATEWAY_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/err.h"
#include "config/topology.h"
#include "http/client.h"
#include "http/server.h"
#include "sched/admit.h"
#include "sched/outlier.h"
#include "sched/sched.h"
#include "sched/wake.h"

#define WP_GATEWAY_MAX_ENDPOINTS 1024
#define WP_GATEWAY_MAX_MODELS 8

#define WP_GATEWAY_MAX_ROUTE_PEERS 16
/* gateway.workers' largest value */
#define WP_GATEWAY_MAX_WORKERS WP_TOPO_MAX_WORKERS

typedef struct wp_gateway_endpoint_cfg_s {
    char name[64];
    char host[256];
    int port;
    char base_path[128];         /* prefixed to every upstream path; "" for none */
    wp_topology_engine_t engine; /* picks the metric names to scrape */
    wp_sched_role_t role;
    /* Wide-EP (docs/topology.md): with has_dp_rank the endpoint is data-parallel rank
     * dp_rank (0..1023): every request to it carries "X-data-parallel-rank: dp_rank" in
     * place of the client's own such header, and its scrape reads only the samples
     * labelled engine="dp_rank" (unlabelled ones too). Without it: the client's header, if
     * any, is passed on as it is, and every sample is read (summed). Endpoints with the same
     * non-empty group are ranks of one group for the scheduler (wp_sched_endpoint_set_group; "" =
     * none). All zero: none of this. */
    bool has_dp_rank;
    int dp_rank;
    char group[WP_TOPO_GROUP_MAX];
    /* Its KV events (vLLM's --kv-events-config publisher): "tcp://host:port" of the PUB
     * socket and of the replay ROUTER ("" = none), and the topic. With kv_events the
     * gateway subscribes and applies them to the scheduler's KV view (precise-prefix). */
    char kv_events[256];
    char kv_replay[256];
    char kv_topic[64];
} wp_gateway_endpoint_cfg_t;

/* Flow control: while every endpoint is saturated (sched.h, wp_sched_room), requests wait
 * in a bounded queue (sched/queue.h: priority, then fair turns between fairness keys) and
 * are sent as room appears; beyond max_queue, or past queue_timeout_ms, they get 429. */
typedef struct wp_gateway_flow_cfg_s {
    bool enabled;                     /* false */
    uint32_t max_queue;               /* 1024 */
    uint64_t queue_timeout_ms;        /* 30000 */
    wp_sched_saturation_t saturation; /* queue depth 5, KV usage 0.8 */
} wp_gateway_flow_cfg_t;

/* Scale-to-zero (gateway/wake.c over sched/wake.h): after idle_after_ms without a request
 * the gateway puts every endpoint to sleep (vLLM's POST /sleep?level=N); a request to a
 * sleeping pool -- or to one with no healthy endpoint at all -- is held (at most max_queue,
 * each at most wake_timeout_ms, then 503 with Retry-After) while POST /wake_up wakes it.
 * The held count is exported as wellpath_gateway_pool_demand. Off: none of this. */
typedef struct wp_gateway_s2z_cfg_s {
    bool enabled;             /* false */
    uint64_t idle_after_ms;   /* 300000 */
    uint64_t wake_timeout_ms; /* 60000 */
    uint32_t max_queue;       /* 256 */
    int level;                /* 1 */
} wp_gateway_s2z_cfg_t;

/* Outlier detection: an endpoint whose proxied requests fail (connect error, timeout, 5xx,
 * a cut stream) consecutive_failures times in a row leaves the pool for base_ejection_ms,
 * doubled at each ejection up to max_ejection_ms; then it is on probation (one request at
 * a time: each one a recovery probe) until a request succeeds, and a failure on probation
 * ejects it again. At most max_ejection_percent of the pool is ejected at once (at least
 * one endpoint when it is > 0). consecutive_failures 0 turns it off. */
typedef struct wp_gateway_outlier_cfg_s {
    int consecutive_failures;  /* 5 */
    uint64_t base_ejection_ms; /* 30000 */
    uint64_t max_ejection_ms;  /* 300000 */
    int max_ejection_percent;  /* 50 */
} wp_gateway_outlier_cfg_t;

typedef struct wp_gateway_config_s {
    char listen_host[64];
    int listen_port; /* 0 = ephemeral */
    wp_http_server_config_t server;
    wp_http_client_config_t client;
    wp_sched_config_t sched;
    uint64_t scrape_interval_ms; /* 50 */
    /* Scrapes per second across the pool (2000; 0: no limit). A pool whose every endpoint
     * every interval would pass it is scraped in turns, the budget's share of an interval
     * at a time: each endpoint every n / budget seconds, and no burst of n scrapes. */
    uint32_t scrape_budget;
    uint64_t health_interval_ms; /* 1000 */
    /* A check (scrape, health, models) waits check_timeout_ms to connect, for the answer's
     * head and between body pieces, each (2000); past it, it has failed. unhealthy_after
     * failed checks of one kind in a row take the endpoint out of the pool (2). */
    uint64_t check_timeout_ms;
    int unhealthy_after;
    int retries; /* extra attempts on another endpoint, before any byte: 2 */
    /* A streamed answer's head, and a prefill stage's answer, come with the first token:
     * the longest wait for them (0: client.first_byte_ms, as for other answers, whose head
     * comes with the whole answer): 120000. */
    uint64_t first_token_ms;
    int pd_threshold; /* P/D decider, in prompt tokens (see topology.h) */
    /* Models the pool serves: requests naming another model get 404. When empty, the
     * gateway learns them from the endpoints' /v1/models. */
    char models[WP_GATEWAY_MAX_MODELS][128];
    int n_models;
    bool log_requests; /* one line per request */
    bool log_prompts;  /* include prompt text in that line (off by default) */
    /* Also export the production guide's own series (vllm_ttft, kv_cache_hit,
     * kv_cache_lookup, vllm_kv_utilization) so its rules run unchanged; off by default. */
    bool guide_metrics;
    uint64_t seed;             /* tie-breaking randomness */
    uint64_t drain_timeout_ms; /* SIGTERM: in-flight requests are cut after this: 30000 */
    uint32_t max_in_flight;    /* per endpoint, 0 = no limit; all at it: queue or 429 */
    wp_gateway_flow_cfg_t flow;
    wp_gateway_outlier_cfg_t outlier;
    wp_gateway_s2z_cfg_t scale_to_zero;
    /* Bearer token of the admin API (POST /admin/reload, POST /admin/drain); "" = the
     * admin paths do not exist (404). */
    char admin_token[256];
    /* The decision log (sched/decision.h): one JSON line per pick, queue, shed, retry, P/D
     * and outlier decision, appended to this file; "" = off (the default). */
    char decision_log[512];
    wp_gateway_endpoint_cfg_t endpoints[WP_GATEWAY_MAX_ENDPOINTS];
    int n_endpoints;
    /* Precise prefix routing: the model's tokenizer (tok/model.h; a directory or a
     * tokenizer.json, "" = none: requests get no kv_hashes and precise-prefix scores as
     * prefix-aware), the servers' PYTHONHASHSEED and KV block size, for vLLM's block hashes
     * of each prompt's token ids (kvhash/kvhash.h). */
    char tokenizer[512];
    char kv_hash_seed[64];
    int kv_block_size;
    /* Gateway replicas sharing their routing (gateway/routes.c): this one's PUB address
     * ("tcp://host:port", port 0: any free one; "" = off) and the others'. */
    char routes_listen[256];
    char route_peers[WP_GATEWAY_MAX_ROUTE_PEERS][256];
    int n_route_peers;
    /* Event loops serving the listen address, each on its own thread (1..WP_GATEWAY_MAX_WORKERS,
     * default 1): the kernel spreads client connections over them (SO_REUSEPORT), and they share
     * one view of the pool (gateway/workers.c). With more than one: no flow control, no
     * scale-to-zero, no routes_listen or route_peers. */
    int workers;
} wp_gateway_config_t;

typedef struct wp_gateway_s wp_gateway_t;

/* Another replica's routes address (its routes_listen as bound): its routing decisions
 * reach this gateway's prefix index. WP_ELIMIT past WP_GATEWAY_MAX_ROUTE_PEERS. */
wp_status_t wp_gateway_add_route_peer(wp_gateway_t *gw, const char *addr, wp_err_t *err);
/* The routes PUB address as bound ("tcp://127.0.0.1:40123"); "" when off. */
const char *wp_gateway_routes_endpoint(const wp_gateway_t *gw);
typedef void (*wp_gateway_drained_fn)(void *ud, int cut);

void wp_gateway_config_default(wp_gateway_config_t *cfg);
/* The cores' configs (in seconds) from the gateway's: the outlier detector
 * (sched/outlier.h) and admission (sched/admit.h). The simulator takes the same. */
wp_sched_outlier_cfg_t wp_gateway_outlier_cfg(const wp_gateway_outlier_cfg_t *c);
wp_sched_admit_cfg_t wp_gateway_admit_cfg(const wp_gateway_flow_cfg_t *f);
/* ... and scale-to-zero's (sched/wake.h). */
wp_sched_wake_cfg_t wp_gateway_wake_cfg(const wp_gateway_s2z_cfg_t *c);

wp_gateway_t *wp_gateway_new(uv_loop_t *loop, const wp_gateway_config_t *cfg, wp_err_t *err);
wp_status_t wp_gateway_start(wp_gateway_t *gw, wp_err_t *err);
int wp_gateway_port(const wp_gateway_t *gw);
/* Endpoints currently in the pool (healthy). */
int wp_gateway_ready_endpoints(const wp_gateway_t *gw);
/* Graceful stop: the listener closes (new connections are refused), idle keep-alive
 * connections are closed, completion requests arriving on connections still open get 503
 * with "Connection: close", and requests in flight (streams included) run to their end.
 * fn(ud, cut) is called once, from the loop: when no client connection remains (cut 0)
 * or when cfg.drain_timeout_ms has passed (cut = connections still open, which
 * wp_gateway_free then closes). The caller frees the gateway then (fn may do it). A
 * second call does nothing. */
void wp_gateway_drain(wp_gateway_t *gw, wp_gateway_drained_fn fn, void *ud);
/* Applies a new config without dropping a connection: endpoints (added, removed,
 * changed), scheduler policy, scorers and weights, retries, timeouts for new upstream
 * calls, limits for new requests, logging. The listen address is kept (a change is
 * logged and ignored). A request in flight finishes on the endpoints it started with.
 * On error (bad scheduler config, an endpoint that cannot be added) nothing changes and
 * err says why. */
wp_status_t wp_gateway_reload(wp_gateway_t *gw, const wp_gateway_config_t *cfg, wp_err_t *err);
/* What the admin API calls (the gateway cannot re-read its own file: the command that
 * started it can). reload: re-read and apply, return WP_OK or an error in err; drain: as
 * SIGTERM. Either may be NULL (that path then answers 501). */
typedef struct wp_gateway_admin_s {
    wp_status_t (*reload)(void *ud, wp_err_t *err);
    void (*drain)(void *ud);
    void *ud;
} wp_gateway_admin_t;
void wp_gateway_set_admin(wp_gateway_t *gw, const wp_gateway_admin_t *admin);

/* Where endpoints come from, as the command running the gateway follows them (a DNS name, a
 * discovery file): shown on /metrics (wellpath_gateway_discovery_*) and /status. */
#define WP_GATEWAY_MAX_SOURCES 65
typedef struct wp_gateway_source_s {
    char name[256];     /* the DNS name or the file's path */
    char kind[8];       /* "dns", "srv", "file" */
    bool ok;            /* its last lookup or read succeeded */
    uint32_t endpoints; /* the endpoints it gives now (its last good set) */
    uint64_t lookups, failures;
    char error[200]; /* the last failure's words; "" when ok */
} wp_gateway_source_t;
/* Replaces the sources shown (at most WP_GATEWAY_MAX_SOURCES; the rest are left out). */
void wp_gateway_set_sources(wp_gateway_t *gw, const wp_gateway_source_t *s, int n);
void wp_gateway_free(wp_gateway_t *gw);

#endif
