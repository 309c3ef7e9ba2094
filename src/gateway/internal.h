/*
 * gateway/internal: what the gateway's files share. Not a public interface.
 *
 * Every decision is a core's (sched/: pick, admission, P/D, retry, outlier ejection); these
 * files carry real events to the cores and carry out what they decide. They are split by
 * what they talk to:
 *
 *   downstream, the clients
 *     gateway.c    life cycle, the server and its routes, drain, reload, the tick, the
 *                  served models
 *     proxy.c      one proxied request (gw_proxy_t) from its body to the last byte
 *     pd.c         a request's prefill stage in a P/D pool
 *     flow.c       admission and the waiting room (sched/admit.h)
 *   upstream, the pools of endpoints
 *     pool.c       generations (gw_pool_t): endpoints, schedulers, shared connections,
 *                  carry-over on reload, what requests do to the schedulers' counts
 *     checks.c     scrape, health and model checks of the current generation
 *     outlier.c    outlier detection (sched/outlier.h) fed and pushed to the schedulers
 *   the admin and status surface
 *     metrics.c    GET /metrics and the counters behind it
 *     status.c     GET / and GET /status
 *     decisions.c  the decision log
 *     session.c    session affinity's x-session-token
 *
 * Below: the shared types (an endpoint, a generation, the gateway, one request), then the
 * functions each file offers the others, under its name. A file changes another file's
 * state through these functions; it reads the shared types where that is all it needs.
 */
#ifndef WP_GATEWAY_INTERNAL_H
#define WP_GATEWAY_INTERNAL_H

#include <stdio.h>

#include "api/openai.h"
#include "base/buf.h"
#include "base/rng.h"
#include "sched/admit.h"
#include "sched/decision.h"
#include "sched/outlier.h"
#include "gateway/gateway.h"
#include "kvev/sub.h"
#include "kvhash/kvhash.h"
#include "stats/stats.h"
#include "tok/model.h"

/* ---- an endpoint ---- */

/* (model, status) pairs counted per endpoint. The last GW_OTHER_STATUSES slots are kept
 * for model "other": a new pair that finds the others full is counted there. */
#define GW_MAX_STATUSES 48
#define GW_OTHER_STATUSES 16
#define GW_MODEL_LABEL_MAX 128

/* One wellpath_gateway_requests_total sample of an endpoint: status 0 = free slot. */
typedef struct gw_status_count_s {
    int status;
    char model[GW_MODEL_LABEL_MAX]; /* the request's model, "none" when unknown */
    uint64_t count;
} gw_status_count_t;

#define GW_TTFT_RECENT 32       /* TTFTs kept per endpoint for the status page */
#define GW_TTFT_RECENT_ALL 1024 /* TTFTs kept for the page's exact recent percentiles */

struct gw_endpoint_s;

/* One periodic GET to an endpoint (scrape, health or models), run on the checks' thread
 * (checks.c, prober.c). */
typedef enum { GW_CHECK_SCRAPE, GW_CHECK_HEALTH, GW_CHECK_MODELS, GW_CHECK_KINDS } gw_check_kind_t;

typedef struct gw_check_s {
    struct wp_gateway_s *gw;
    struct gw_endpoint_s *ep;
    gw_check_kind_t kind;
    uint64_t ticket; /* its GET in flight (a slot of gw->probing + a sequence), 0: none */
    uint64_t started_ms;
} gw_check_t;

/* Checks awaited at once: every kind on every endpoint of the current generation (a power
 * of two: a ticket's low bits are its slot). */
#define GW_PROBE_SLOTS 4096
_Static_assert(GW_PROBE_SLOTS >= WP_GATEWAY_MAX_ENDPOINTS * GW_CHECK_KINDS &&
                   (GW_PROBE_SLOTS & (GW_PROBE_SLOTS - 1)) == 0,
               "a slot for every check of the largest pool");

/* What an endpoint's checks learned (checks.c). A reload carries it over while the
 * endpoint keeps its name and address. The checks' health verdict is kept once, in the
 * generation's outlier state (wp_sched_outlier_ep_t.healthy; see gw_ep_outlier). */
typedef struct gw_probe_s {
    int failures[GW_CHECK_KINDS];      /* consecutive failed checks, by kind */
    double waiting, running, kv_usage; /* last scrape (kv_usage 0 when not kv_known) */
    double cache_queries, cache_hits;  /* the endpoint's prefix-cache counters */
    bool metrics_seen;                 /* the last scrape had waiting and running */
    bool kv_known;                     /* ... and KV usage */
    bool cache_known;                  /* ... and the prefix-cache counters */
    /* What the metrics lack and how to fix it ("" when complete); logged once per change,
     * shown on /status. */
    char metrics_warning[300];
    unsigned noted; /* the engine and series metrics_warning was last written for by a scrape
                       with the load series ((engine << 8 | seen) + 1); 0: none */
    char last_error[200];
    bool draining; /* notice.c: /health answered 503; out of the pool until it answers 2xx */
} gw_probe_t;

/* An endpoint's counters for /metrics and /status, counted through metrics.c, status.c
 * and pool.c (accounting errors). A reload carries them over while the endpoint keeps its
 * name. */
typedef struct gw_ep_counts_s {
    gw_status_count_t statuses[GW_MAX_STATUSES];
    uint64_t picks, upstream_errors;
    uint64_t acct_errors[WP_SCHED_ACCT_KINDS]; /* accounting_errors_total */
    /* recent TTFTs in seconds (status page): a ring of the last ttft_n answers */
    double ttft_recent[GW_TTFT_RECENT];
    int ttft_n, ttft_next;
    /* the other workers' open upstream connections to it (workers.c): 0 but while /metrics
     * is written with every worker's counters added */
    uint64_t connections;
} gw_ep_counts_t;

struct gw_pool_s;
struct gw_upstream_s; /* pool.c: an upstream shared by generations, with its refs */

/* An endpoint of one generation (pool.c makes and frees it). */
typedef struct gw_endpoint_s {
    wp_gateway_endpoint_cfg_t cfg;
    struct gw_pool_s *pool; /* the generation it belongs to */
    int index;              /* in that pool's sched/ and outlier state */
    /* The connection pool (wp__gw_ep_upstream), shared with the same endpoint of the
     * generations before and after while its address and client settings stay; freed with
     * the last of them. */
    struct gw_upstream_s *upstream;
    /* Equal across generations while name and address stay: the newer scheduler's counts
     * of the endpoint then continue the older one's (wp_sched_endpoint_adopt), and what a
     * request of an older generation does there is passed on (pool.c). */
    uint64_t lineage;
    wp_sched_load_t synced; /* this generation's load of it, as last passed on */
    /* workers.c: the other workers' requests on it that this scheduler counts (dispatched,
     * and not yet prefilled), carried over with the lineage */
    uint32_t peer_in_flight, peer_prefilling;
    uint64_t acct_seen[WP_SCHED_ACCT_KINDS]; /* the sched's error counts taken in */
    gw_check_t checks[GW_CHECK_KINDS];       /* checks.c */
    gw_probe_t probe;                        /* checks.c */
    gw_ep_counts_t counts;
} gw_endpoint_t;

/* ---- a generation of the pool ---- */

/* A scheduler and the endpoints it picks from (eps[i] is sched endpoint i), each with its
 * upstream connections (shared with the generation before when the endpoint stayed). A
 * reload (SIGHUP) builds a new generation and makes it current; the old one is retired: its
 * checks stop, and it is freed (sched, its refs on the upstreams, endpoints) once no request
 * holds it any more. A request holds the generation that was current when it arrived (refs)
 * for all its attempts, so a request on a removed endpoint completes. The current
 * generation holds one ref too. */
typedef struct gw_pool_s {
    int refs;
    wp_sched_t *sched;
    wp_sched_outlier_t *outlier; /* outlier detection's state of eps[i] is its endpoint i */
    gw_endpoint_t *eps;
    int n_eps;
    bool has_prefill; /* it has prefill endpoints: requests go to decode endpoints */
    struct gw_pool_s *next_retired;
} gw_pool_t;

/* ep's outlier state in its generation, the health checks' verdict included. */
static inline const wp_sched_outlier_ep_t *gw_ep_outlier(const gw_endpoint_t *ep)
{
    return wp_sched_outlier_get(ep->pool->outlier, ep->index);
}

/* The role a request's pick asks of pool: decode in a P/D pool, else any endpoint. */
static inline wp_sched_role_t gw_pool_role(const gw_pool_t *pool)
{
    return pool->has_prefill ? WP_SCHED_ROLE_DECODE : WP_SCHED_ROLE_BOTH;
}

/* ---- the gateway: its state, grouped by the file that owns each part ---- */

/* Why a P/D request fell back to decode-only (wellpath_gateway_pd_fallbacks_total). */
typedef enum {
    GW_PD_NO_PREFILL_ENDPOINT,
    GW_PD_CONNECT,
    GW_PD_TIMEOUT,
    GW_PD_HTTP_5XX,
    GW_PD_BAD_RESPONSE,
    GW_PD_FALLBACK_KINDS
} gw_pd_fallback_t;

/* kvevents.c: one endpoint's KV-event subscription (owned by the gateway, kept across
 * reloads while name and addresses stay). */
typedef struct gw_kvsub_s {
    struct wp_gateway_s *gw;
    char name[64], addr[256], replay[256], topic[64];
    wp_kvev_sub_t *sub;
    double lag_s;          /* at the last batch: the gateway's clock less the batch's ts */
    uint64_t store_errors; /* stores the view could not take (no memory) */
} gw_kvsub_t;

/* What requests counted on one worker (metrics.c, status.c): /metrics and /status add every
 * worker's (workers.c: wp__gw_tally_add). The pool's state (health, ejections, notices,
 * reloads) is every worker's alike and is not in it. */
typedef struct gw_tally_s {
    wp_stats_hist_t decision_s, ttft_s, e2e_s, itl_s, prefix_ratio, queue_wait_s;
    gw_status_count_t unrouted[GW_MAX_STATUSES]; /* answers without an endpoint */
    uint64_t in_flight; /* accepted, not answered yet (queued ones included) */
    /* completion requests accepted, by worker: each worker counts in its own slot */
    uint64_t accepted[WP_GATEWAY_MAX_WORKERS];
    uint64_t retries_total;
    uint64_t pd_disaggregated, pd_decode_only; /* P/D requests by path */
    uint64_t pd_fallbacks[GW_PD_FALLBACK_KINDS];
    uint64_t tokenize_errors;
    uint64_t routes_sent, routes_learned; /* routes.c: worker 0's (it alone talks to peers) */
    uint64_t held; /* scale-to-zero: the other workers' held requests (as queued, below) */
    /* Flow control's queue length and sheds: sched/admit keeps this worker's; these hold the
     * other workers' (0 but while /metrics or /status is written with them added). */
    uint64_t queued, shed[WP_SCHED_SHED_KINDS];
    /* status.c: the last GW_TTFT_RECENT_ALL TTFTs of streamed 2xx answers (a ring) */
    double ttft_recent[GW_TTFT_RECENT_ALL];
    int ttft_n, ttft_next;
} gw_tally_t;

struct wp_gateway_s {
    /* gateway.c: life cycle, the server, drain, reload, the tick */
    uv_loop_t *loop;
    wp_gateway_config_t cfg;
    wp_http_server_t *server;
    int port;
    uv_timer_t scrape_timer; /* the tick */
    uv_timer_t drain_timer;
    int handles_open; /* the timers and the checks' thread: gw is freed when all are closed */
    bool draining, stopping;
    uint64_t drain_deadline_ms;
    wp_gateway_drained_fn on_drained;
    void *drained_ud;
    wp_gateway_admin_t admin;
    uint64_t reloads; /* applied */
    uint64_t start_ms;
    wp_rng_t rng; /* the schedulers' randomness (proxy.c, pd.c) */
    /* the served models: the config's, else learned (wp__gw_model_learn) */
    char models[WP_GATEWAY_MAX_MODELS][128];
    int n_models;
    /* proxy.c: requests */
    uint64_t next_id, id_base;   /* request ids: mixed start time + counter */
    uint64_t preemption_notices; /* notice.c: endpoints seen starting to drain */
    /* pool.c: generations */
    gw_pool_t *pool;       /* the current generation */
    gw_pool_t *retired;    /* older generations still held by requests */
    uint64_t next_lineage; /* the last gw_endpoint_t.lineage handed out */
    /* checks.c: when the last health and models checks started (0: at the next tick) */
    uint64_t last_health_ms, last_models_ms;
    int scrape_cursor, health_cursor;    /* the next endpoints to scrape and to check */
    double health_credit;                /* health checks owed, spread over the ticks */
    struct wp_gw_prober_s *prober;       /* the checks' thread */
    gw_check_t *probing[GW_PROBE_SLOTS]; /* the check each slot's GET is for, NULL: free */
    int probe_free[GW_PROBE_SLOTS];      /* free slots (a stack) */
    int n_probe_free;
    uint64_t probe_seq;
    /* flow.c: admission and flow control over sched/admit */
    wp_sched_admit_t *admit;
    /* wake.c: scale-to-zero (sched/wake.h) and the requests it holds */
    struct gw_wake_s *wake;
    /* metrics.c: the request counters (histograms observed where the event is) */
    gw_tally_t tally;
    /* decisions.c: the decision log, NULL when off */
    FILE *decision_log;
    /* prompt.c: the model's tokenizer (NULL: none) and the servers' hash seed */
    wp_tokmodel_t *tok;
    wp_bpe_cache_t *tok_cache;
    wp_kvhash_t kv_seed;
    /* kvevents.c: the endpoints' KV-event subscriptions */
    void *zctx;
    gw_kvsub_t *kvsubs[WP_GATEWAY_MAX_ENDPOINTS];
    int n_kvsubs;
    /* routes.c: routing shared with the other replicas */
    struct wp_kvev_pub_s *routes_pub;
    wp_kvev_sub_t *route_subs[WP_GATEWAY_MAX_ROUTE_PEERS];
    int n_route_subs;
    /* gateway.c: where endpoints come from (wp_gateway_set_sources), for metrics.c, status.c */
    wp_gateway_source_t sources[WP_GATEWAY_MAX_SOURCES];
    int n_sources;
    /* workers.c: gateway.workers > 1: the hub linking the workers (NULL with one), and this
     * one's index (0: the caller's loop, which alone runs the checks and the admin API) */
    struct gw_hub_s *hub;
    int worker;
    bool told_empty; /* flow.c: the others last learned that this worker's queue is empty */
};

/* A change of the pool's state (an endpoint joins, leaves, is ejected) is applied by every
 * worker and logged by worker 0 alone. */
static inline bool gw_logs_state(const wp_gateway_t *gw)
{
    return gw->worker == 0;
}

/* ---- one request ---- */

/* The state of one proxied request, from wp__gw_proxy_start to wp__gw_proxy_finish (which
 * frees it). proxy.c owns it; the other files read it and write only the fields listed
 * under their name (pd.c, answering a prefill 4xx itself, also sets status and ep). */
typedef struct gw_proxy_s {
    wp_gateway_t *gw;
    /* The generation it picks from, held (a ref) for all its attempts; flow.c moves a
     * request still queued to the current one (wp__gw_proxy_move_to_current). */
    gw_pool_t *pool;
    wp_http_req_t *req;   /* the client's request; its user is this */
    wp_api_request_t api; /* the parsed body (owned) */
    const char *model;    /* api.model, or the first served model when it names none */
    char *logged_prompt;  /* the prompt's first 4 KB for the request log (log_prompts), owned */
    size_t n_tokens;      /* the prompt's tokens (tok/), for the scheduler and the P/D decider;
                             0 when no decision reads them (wp_sched_reads_prompt_tokens) */
    /* The prompt's block chain, which each pick writes and its pick points at (owned; grown
     * by wp__gw_proxy_sched_request, when no pick of this request is dispatched). */
    uint64_t *hashes;
    size_t hash_cap;
    /* prompt.c: its full blocks as the servers hash them (owned; NULL without a tokenizer) */
    uint64_t *kv_hashes;
    size_t n_kv_hashes;
    char request_id[80]; /* the client's X-Request-Id when usable, else made up */
    /* The client's headers less hop-by-hop ones and X-data-parallel-rank, + X-Request-Id
     * (fwd_base bytes); past fwd_base: the current call's (its endpoint's rank, or the
     * client's rank header; proxy.c). */
    wp_buf_t fwd_headers;
    size_t fwd_base;
    uint64_t t0_ns;      /* arrival (the server's start of the request) */
    uint64_t t_first_ns; /* the first body byte from upstream; 0 before */
    uint64_t t_last_ns;  /* the last body byte (inter-token latency) */
    /* the decode attempt (or the only one): endpoint, pick, call */
    gw_endpoint_t *ep;    /* the endpoint of the current or last attempt; NULL before */
    wp_sched_pick_t pick; /* the scheduler's answer for ep */
    wp_http_call_t *call; /* the upstream call in flight, or NULL */
    uint64_t tried[(WP_SCHED_MAX_ENDPOINTS + 63) / 64]; /* endpoints tried (excluded) */
    int attempts;
    bool dispatched;    /* counted in ep's in-flight (wp__gw_ep_sent) until released */
    bool prefilling;    /* dispatched and no body byte yet: counts in ep's pending prefill */
    int up_status;      /* what the current upstream answered; 0 before or after a failure */
    char fail_why[300]; /* the last failed attempt's reason and status, answered when */
    int fail_status;    /* no endpoint is left to retry on */
    /* the answer to the client */
    int status;     /* what the client got (499: went away) */
    bool responded; /* its head is sent: no retry, no error answer from here on */
    /* The upstream's answer head, held until its first body byte (or its end) so that an
     * attempt that fails before it is retried unseen (proxy.c). */
    struct {
        bool held;
        int status;
        int64_t length;
        char ctype[128];
        char extra[640];
    } head;
    bool sse;                                   /* the answer is an event stream */
    long long prompt_tokens, completion_tokens; /* from the answer's usage, for the log; -1 */
    /* pd.c: the prefill stage on a prefill endpoint, run before the decode attempt */
    bool pd_started;      /* wp__gw_pd_begin has run: a second dispatch goes to decode */
    gw_endpoint_t *pf_ep; /* its endpoint; NULL without one */
    wp_sched_pick_t pf_pick;
    wp_http_call_t *pf_call; /* in flight, or NULL */
    bool pf_dispatched;      /* counted on pf_ep until released */
    int pf_status;
    wp_buf_t pf_answer;  /* the prefill endpoint's answer */
    wp_buf_t send_body;  /* the body for the next call; empty: the client's own */
    long long pf_cached; /* the prefill side's cached tokens, shown to the client; -1: none */
    /* flow.c: its priority (the body's, or the X-Wellpath-Priority header's), fairness key
     * and place in the queue */
    wp_sched_ticket_t ticket;
} gw_proxy_t;

/* ---- gateway.c ---- */

double wp__gw_now(const wp_gateway_t *gw);
/* Worker `worker` (1..) of a gateway with several (workers.c), on its own loop: the checks are
 * worker 0's. NULL (err set) as wp_gateway_new. */
wp_gateway_t *wp__gw_new_worker(uv_loop_t *loop, const wp_gateway_config_t *cfg,
                                struct gw_hub_s *hub, int worker, wp_err_t *err);
/* This worker's own drain (wp_gateway_drain's, without the other workers). */
void wp__gw_drain_local(wp_gateway_t *gw, wp_gateway_drained_fn fn, void *ud);
/* Answers GET /status (status true) or GET /metrics with gw's counters as they are now. */
void wp__gw_answer_counters(wp_gateway_t *gw, wp_http_req_t *req, bool status);
/* An admin API answer: {"status": msg} below 300, else an error. */
void wp__gw_admin_answer(wp_http_req_t *req, int status, const char *msg);
bool wp__gw_model_known(const wp_gateway_t *gw, const char *model);
/* A model an endpoint serves (checks.c): added to the served ones while there is room. */
void wp__gw_model_learn(wp_gateway_t *gw, const char *model);

/* ---- prompt.c: token ids and the servers' block hashes ---- */

/* Loads cfg.tokenizer when set; err names the file and what is wrong. */
wp_status_t wp__gw_prompt_open(wp_gateway_t *gw, wp_err_t *err);
void wp__gw_prompt_close(wp_gateway_t *gw);
/* With a tokenizer: p->n_tokens from the token ids, p->kv_hashes from their blocks. */
void wp__gw_prompt_hash(gw_proxy_t *p);

/* ---- kvevents.c: the endpoints' KV events into the KV view ---- */

/* Subscriptions follow the current generation's endpoints (after a pool becomes current). */
void wp__gw_kvev_sync(wp_gateway_t *gw);
void wp__gw_kvev_close(wp_gateway_t *gw);
/* The subscription of the endpoint of that name, or NULL. */
const gw_kvsub_t *wp__gw_kvev_find(const wp_gateway_t *gw, const char *name);

/* ---- routes.c: routing shared between gateway replicas ---- */

wp_status_t wp__gw_routes_open(wp_gateway_t *gw, wp_err_t *err);
void wp__gw_routes_close(wp_gateway_t *gw);
/* pick went to ep: the other replicas learn it. */
void wp__gw_routes_publish(wp_gateway_t *gw, const gw_endpoint_t *ep, const wp_sched_pick_t *pick);

/* ---- proxy.c: one proxied request ---- */

void wp__gw_proxy_start(wp_gateway_t *gw, wp_http_req_t *req, wp_api_kind_t kind);
/* The rest of the start once the body is parsed: model checks, prompt, priority, admission
 * and dispatch (wake.c calls it for a request it held). */
void wp__gw_proxy_continue(gw_proxy_t *p);
/* Sends the request on its way: the P/D prefill stage, or straight to an endpoint. */
void wp__gw_proxy_dispatch(gw_proxy_t *p);
/* Picks an endpoint (decode role in a P/D pool) and sends it the request. */
void wp__gw_proxy_attempt(gw_proxy_t *p);
/* Sends body to ep of p's generation, picked by pick for role: the decision log's line, the
 * endpoint's pick count and in-flight accounting (wp__gw_ep_sent), then the upstream POST
 * on the request's path. The call, or NULL when out of memory (the accounting stays: the
 * caller releases it as for any failed call). */
wp_http_call_t *wp__gw_proxy_send(gw_proxy_t *p, gw_endpoint_t *ep, const wp_sched_pick_t *pick,
                                  wp_sched_role_t role, int attempt, const wp_buf_t *body,
                                  const wp_http_call_cbs_t *cbs);
/* No healthy endpoint can serve it: 503. Ends the request. */
void wp__gw_proxy_unavailable(gw_proxy_t *p);
/* The scheduler's view of the request (the decode role in a P/D pool), for a pick from p's
 * generation: its hash buffer grows first to the blocks that scheduler hashes (when it cannot,
 * the pick hashes fewer). Call it only while no pick of p is dispatched: growing moves the
 * buffer the picks point at. */
void wp__gw_proxy_sched_request(gw_proxy_t *p, wp_sched_request_t *sr);
/* A queued request (nothing dispatched, its prefill stage over) moves to the current
 * generation. */
void wp__gw_proxy_move_to_current(gw_proxy_t *p);
/* Answers with an error, only before anything was sent; ends the request. */
void wp__gw_proxy_fail(gw_proxy_t *p, int status, const char *msg, const char *param);
/* Ends the request: accounting, the log line, memory. */
void wp__gw_proxy_finish(gw_proxy_t *p, const char *outcome);

/* ---- pd.c: prefill/decode disaggregation ---- */

/* Decides whether to disaggregate and, if so, starts the prefill stage (which then calls
 * wp__gw_proxy_attempt with the decode body); false: go straight to the decode endpoint. */
bool wp__gw_pd_begin(gw_proxy_t *p);
/* The client went away or the request ends: cancel and release the prefill stage. */
void wp__gw_pd_end(gw_proxy_t *p);
const char *wp__gw_pd_fallback_name(int kind);

/* ---- flow.c: flow control (gateway.h, wp_gateway_flow_cfg_t) ---- */

/* true: send the request now. false: it waits in the queue (and is dispatched from there)
 * or it was answered 429 and finished. */
bool wp__gw_flow_admit(gw_proxy_t *p);
/* Reads the request's priority into its ticket; false when X-Wellpath-Priority is there
 * but not an integer (the caller answers 400). */
bool wp__gw_flow_priority(gw_proxy_t *p);
/* A first pick found no candidate: the request waits for room again, or is answered (429
 * shed, 503 nothing healthy) and finished. */
void wp__gw_flow_no_room(gw_proxy_t *p);
/* Dispatches queued requests while an endpoint has room; safe to call from anywhere
 * (a call made while one runs makes that one go round again). */
void wp__gw_flow_drain(wp_gateway_t *gw);
/* At each tick: 429 for requests past their deadline, then drain. */
void wp__gw_flow_tick(wp_gateway_t *gw);
/* Another worker queued a request in place of this worker's worst (workers.c): evict it when
 * its priority value is above `below`. */
void wp__gw_flow_evict(wp_gateway_t *gw, int64_t below);
/* The request ends while queued (client gone, shutdown): take it out. */
void wp__gw_flow_forget(gw_proxy_t *p);
/* Applies cfg->flow (at start and on reload). WP_ENOMEM, or WP_EINVAL on a bad bound. */
wp_status_t wp__gw_flow_configure(wp_gateway_t *gw, wp_err_t *err);
void wp__gw_flow_free(wp_gateway_t *gw);

/* ---- wake.c: scale-to-zero (gateway.h, wp_gateway_s2z_cfg_t) ---- */

/* Applies cfg->scale_to_zero (at start and on reload). */
wp_status_t wp__gw_wake_configure(wp_gateway_t *gw, wp_err_t *err);
/* Cancels the sleep and wake-up calls in flight (the gateway stops). */
void wp__gw_wake_cancel(wp_gateway_t *gw);
void wp__gw_wake_free(wp_gateway_t *gw);
/* A request (body parsed) arrives: true when it is held (or answered 503, the hold being
 * full); it goes on later through wp__gw_proxy_continue, or gets 503 at its timeout. */
bool wp__gw_wake_hold(gw_proxy_t *p);
/* The request ends (client gone, shutdown): out of the hold if it is there. */
void wp__gw_wake_forget(gw_proxy_t *p);
/* At each tick: timeouts, sleep of an idle pool, wake-up, release. */
void wp__gw_wake_tick(wp_gateway_t *gw);
/* Several workers: worker 0 is asked to wake the pool (a tick now, and its state shared); a
 * follower takes worker 0's state; the requests this worker holds. */
void wp__gw_wake_asked(wp_gateway_t *gw);
void wp__gw_wake_follow(wp_gateway_t *gw, const struct wp_sched_wake_s *leader);
uint32_t wp__gw_wake_held(const wp_gateway_t *gw);
/* /metrics: the pool's demand, sleep state and time asleep. */
void wp__gw_wake_metrics(const wp_gateway_t *gw, wp_buf_t *out);

/* ---- pool.c: generations ---- */

/* A new generation from cfg's endpoints and scheduler (refs 0; its checks are set up, not
 * started). Its endpoints carry over from `prev` (may be NULL) what is known about the same
 * endpoint: counters by name; at the same address also health, last metrics, outlier state
 * and scheduler counts. NULL with err on failure. */
gw_pool_t *wp__gw_pool_new(wp_gateway_t *gw, const wp_gateway_config_t *cfg, const gw_pool_t *prev,
                           wp_err_t *err);
/* Makes pool current (taking a ref) and retires the previous one (dropping its ref). */
void wp__gw_pool_use(wp_gateway_t *gw, gw_pool_t *pool);
void wp__gw_pool_ref(gw_pool_t *pool);
/* Drops a ref; a retired generation left without refs is freed at the next tick. */
void wp__gw_pool_unref(gw_pool_t *pool);
/* Frees retired generations nobody holds (all == true: every one, at shutdown). */
void wp__gw_pools_collect(wp_gateway_t *gw, bool all);
/* Shutdown: frees the current and every retired generation (their checks cancelled). */
void wp__gw_pools_free(wp_gateway_t *gw);
/* ep's upstream connections; valid while ep's generation lives. */
wp_http_upstream_t *wp__gw_ep_upstream(const gw_endpoint_t *ep);
/* The current generation's endpoint for ep (same name): where counters go when a request
 * that began before a reload ends; ep itself when it is current or was removed. */
gw_endpoint_t *wp__gw_ep_current(wp_gateway_t *gw, gw_endpoint_t *ep);
/* ep itself when current; else the current generation's endpoint that continues it (same
 * name and address: its outlier state is ep's), NULL when it was removed or moved. */
gw_endpoint_t *wp__gw_ep_heir(wp_gateway_t *gw, gw_endpoint_t *ep);
/* A request of generation `pool` was sent to ep with `pick` (in flight, prefill pending,
 * its blocks active, taught to the prefix index), or its attempt there, sent with `pick`,
 * ended. A new generation starts from the counts, active blocks and prefix blocks of the
 * one before (wp_sched_endpoint_adopt) for each endpoint of the same name and address;
 * when a newer generation is current, what a request of an older one does is passed on to
 * it, so in-flight limits, load, pending prefill, active blocks and the prefix index hold
 * across reloads. Each call also takes in the
 * accounting errors the scheduler counted (a completion or prefill-done with nothing
 * pending): counted in ep's acct_errors, logged, and an assert in debug builds. */
void wp__gw_ep_sent(wp_gateway_t *gw, gw_pool_t *pool, gw_endpoint_t *ep,
                    const wp_sched_pick_t *pick);
void wp__gw_ep_done(wp_gateway_t *gw, gw_pool_t *pool, gw_endpoint_t *ep,
                    const wp_sched_pick_t *pick);
/* The request of `pick` on ep produced its first byte (or failed before one). */
void wp__gw_ep_prefilled(wp_gateway_t *gw, gw_pool_t *pool, gw_endpoint_t *ep,
                         const wp_sched_pick_t *pick);
/* Endpoints of the current generation in the pool: health checks pass, not ejected. */
int wp__gw_ready_count(const wp_gateway_t *gw);

/* ---- checks.c: scrape, health and models checks ---- */

/* Sets up ep's checks (pool.c, for a new endpoint): out of the pool until both its scrape
 * and its health check pass. */
void wp__gw_checks_init(wp_gateway_t *gw, gw_endpoint_t *ep);
/* Starts the checks' thread. */
wp_status_t wp__gw_checks_open(wp_gateway_t *gw, wp_err_t *err);
/* Stops it; closed(ud) once it is gone (at once when it never started). */
void wp__gw_checks_close(wp_gateway_t *gw, void (*closed)(void *ud), void *ud);
/* Gives up ep's checks in flight (its generation is retired or freed): their results are
 * dropped. */
void wp__gw_checks_cancel(gw_endpoint_t *ep);
/* At each tick: starts the checks due on the current generation's endpoints. */
void wp__gw_checks_tick(wp_gateway_t *gw);
/* Health checks at the next tick (a reload brought new endpoints). */
void wp__gw_checks_soon(wp_gateway_t *gw);
/* ep's health check now, unless one is in flight (notice.c: a 503 may mean draining). */
void wp__gw_checks_health_now(wp_gateway_t *gw, gw_endpoint_t *ep);

/* Applies what a check's GET found (checks.c's results, and worker 0's on the other workers). */
struct wp_gw_probe_result_s;
void wp__gw_checks_apply(wp_gateway_t *gw, gw_endpoint_t *ep, gw_check_kind_t kind,
                         const struct wp_gw_probe_result_s *res);

/* ---- notice.c: endpoints going away (sched/drain) ---- */

/* /health answered 503: ep leaves the pool at once, counted and logged once per notice. */
void wp__gw_notice_draining(wp_gateway_t *gw, gw_endpoint_t *ep);
/* A good health answer: ep no longer drains (it rejoins as checks.c says). */
void wp__gw_notice_clear(wp_gateway_t *gw, gw_endpoint_t *ep);
/* An upstream status before the first byte (proxy.c): a 503 checks ep's health now. */
void wp__gw_notice_upstream(wp_gateway_t *gw, gw_endpoint_t *ep, int status);

/* ---- outlier.c: outlier detection (gateway.h, wp_gateway_outlier_cfg_t) ---- */

/* Pushes what the pool's scheduler must know of each endpoint: in the pool (health checks
 * pass and not ejected) and its in-flight limit (1 on probation while another endpoint
 * serves fully, else cfg.max_in_flight). Call it after any change to one endpoint: a
 * change to one can lift or set another's probation limit. */
void wp__gw_pool_sync(wp_gateway_t *gw, gw_pool_t *pool);
/* A proxied request on ep (of any generation: the current one's endpoint of that name is
 * the one judged) ended; fault: it counts against the endpoint (sched/retry.h). */
void wp__gw_outlier_note(wp_gateway_t *gw, gw_endpoint_t *ep, bool fault);
/* The verdict on ep (of the current generation) applied here alone; logs: what it decides is
 * logged here (the worker whose request it was). */
void wp__gw_outlier_apply(wp_gateway_t *gw, gw_endpoint_t *ep, bool fault, bool logs);
/* Ends ejections whose time is up (the endpoint goes on probation). */
void wp__gw_outlier_tick(wp_gateway_t *gw);

/* ---- metrics.c: /metrics and the counters behind it ---- */

void wp__gw_metrics_init(wp_gateway_t *gw);
void wp__gw_metrics_free(wp_gateway_t *gw);
/* A tally with empty histograms (WP_ENOMEM); free with wp__gw_tally_free. */
wp_status_t wp__gw_tally_init(gw_tally_t *t);
void wp__gw_tally_free(gw_tally_t *t);
/* Adds src's counts into dst (another worker's, for /metrics and /status). */
void wp__gw_tally_add(gw_tally_t *dst, const gw_tally_t *src);
void wp__gw_counts_add(gw_ep_counts_t *dst, const gw_ep_counts_t *src);
/* Requests in flow control's queue, and those shed for a reason: this worker's (sched/admit)
 * plus, while written summed, the others' (gw_tally_t.queued, .shed). */
uint64_t wp__gw_queued(const wp_gateway_t *gw);
uint64_t wp__gw_shed(const wp_gateway_t *gw, int reason);
/* An answer the gateway gave without an endpoint (model label "none"). */
void wp__gw_count_unrouted(wp_gateway_t *gw, int status);
/* A proxied request's answer, counted on ep (of any generation: on the current one's
 * endpoint of that name, so counters survive a reload), or as unrouted when ep is NULL.
 * Its model label: the model when the pool serves it (or when the pool's models are not
 * known yet), "none" when NULL, empty or unknown; a new pair that finds the table full is
 * counted as model "other" with its status. */
void wp__gw_count_answer(wp_gateway_t *gw, gw_endpoint_t *ep, const char *model, int status);
/* ep (of any generation, as above) was picked / failed an upstream attempt. */
void wp__gw_count_pick(wp_gateway_t *gw, gw_endpoint_t *ep);
void wp__gw_count_upstream_error(wp_gateway_t *gw, gw_endpoint_t *ep);
void wp__gw_metrics_write(wp_gateway_t *gw, wp_buf_t *out);

/* ---- status.c: GET / (the HTML status page) and GET /status (its JSON; shape in status.c) */

/* The page, a static string: *html stays valid for the life of the program. */
void wp__gw_status_page(const char **html, size_t *len);
void wp__gw_status_write_json(const wp_gateway_t *gw, wp_buf_t *out);
/* Records a streamed 2xx answer's TTFT on ep (of any generation, as metrics.c counts). */
void wp__gw_status_note_ttft(wp_gateway_t *gw, gw_endpoint_t *ep, double seconds);

/* ---- decisions.c: the decision log (gateway.decisionLog; sched/decision.h) ---- */

/* Opens cfg.decision_log for appending (closing one open before); "" = off. */
wp_status_t wp__gw_decisions_open(wp_gateway_t *gw, wp_err_t *err);
void wp__gw_decisions_close(wp_gateway_t *gw);
/* Writes one line when the log is on. */
void wp__gw_decision(wp_gateway_t *gw, const wp_sched_decision_t *d);

/* ---- session.c: session affinity's x-session-token (llm-d's): an endpoint's name in base64 */

/* Writes name's token, NUL-terminated; its length, or 0 when it does not fit in cap. */
size_t wp__gw_session_encode(const char *name, char *out, size_t cap);
/* The endpoint of s that token[0..len) names; -1 when it is not a token (never trusted) or
 * names no endpoint of s. */
int wp__gw_session_decode(const wp_sched_t *s, const char *token, size_t len);
/* The request's session endpoint in its generation (wp_sched_request_t.session_ep): -1
 * without the header, with a bad one, or when the scheduler runs no session-affinity. */
int wp__gw_session_endpoint(const gw_proxy_t *p);
/* "x-session-token: TOKEN\r\n" for the answer of p->ep, when its scheduler runs
 * session-affinity; else "" (and 0). Returns the length written. */
size_t wp__gw_session_header(const gw_proxy_t *p, char *out, size_t cap);

/* ---- workers.c: gateway.workers > 1 (each call does nothing with one worker) ---- */

/* What a request did on an endpoint, told to the other workers' schedulers. */
typedef enum { GW_LOAD_SENT, GW_LOAD_PREFILLED, GW_LOAD_DONE } gw_load_t;

/* Worker 0, listening: starts the others on the same address; on error none runs. */
wp_status_t wp__gw_workers_start(wp_gateway_t *gw, wp_err_t *err);
/* Worker 0, being freed: stops and joins the others (their requests are cut). */
void wp__gw_workers_stop(wp_gateway_t *gw);
void wp__gw_workers_load(wp_gateway_t *gw, const gw_endpoint_t *ep, const wp_sched_pick_t *pick,
                         gw_load_t what);
/* Worker 0's checks: a scrape sent, a result (applied by every worker) */
void wp__gw_workers_scrape_sent(wp_gateway_t *gw, const gw_endpoint_t *ep);
void wp__gw_workers_check(wp_gateway_t *gw, const gw_endpoint_t *ep, gw_check_kind_t kind,
                          const struct wp_gw_probe_result_s *res);
void wp__gw_workers_outlier(wp_gateway_t *gw, const gw_endpoint_t *ep, bool fault);
/* Applies the other workers' events sent so far, now rather than at this loop's next
 * iteration (a pick that found no room asks before it answers); true when there were some. */
bool wp__gw_workers_sync(wp_gateway_t *gw);
/* Flow control across workers (sched/admit.h, "Several queues"): what the other workers'
 * queues hold together (none with one worker); this worker's queue now holds `mine` (when its
 * best got worse, the others with requests queued look again); the worker holding the worst
 * queued request is to evict one of a priority value above `below`. */
wp_sched_admit_others_t wp__gw_workers_queues(const wp_gateway_t *gw);
void wp__gw_workers_queue_moved(wp_gateway_t *gw, wp_sched_admit_others_t mine);
void wp__gw_workers_evict(wp_gateway_t *gw, int64_t below);
/* Scale-to-zero across workers (wake.c; sched/wake.h, "Several workers"): a follower publishes
 * what it holds, has in flight and when it last saw a request; the leader (worker 0) reads the
 * others'; a follower asks the leader to wake the pool; the leader shares its state. */
void wp__gw_workers_wake_publish(wp_gateway_t *gw, uint32_t held, uint64_t in_flight,
                                 double last_busy);
void wp__gw_workers_wake_others(const wp_gateway_t *gw, uint32_t *held, uint64_t *in_flight,
                                double *last_busy);
void wp__gw_workers_wake_ask(wp_gateway_t *gw);
void wp__gw_workers_wake_share(wp_gateway_t *gw, const struct wp_sched_wake_s *state);
/* A new pool's scheduler takes its turns (round-robin's) from the hub's one turn, shared by
 * every worker's scheduler: exact turns across workers (sched.h, wp_sched_share_turns). */
void wp__gw_workers_share_turns(wp_gateway_t *gw, gw_pool_t *pool);
/* Worker 0 learned a peer replica's route (routes.c): the others take it too. */
void wp__gw_workers_route(wp_gateway_t *gw, const gw_endpoint_t *ep, const uint64_t *hashes,
                          size_t n);
/* Another worker asks worker 0 to check ep's health now: true when it was asked. */
bool wp__gw_workers_health_now(wp_gateway_t *gw, const gw_endpoint_t *ep);
/* Worker 0 applied a new config / new discovery sources: the others apply them too. */
void wp__gw_workers_reload(wp_gateway_t *gw, const wp_gateway_config_t *cfg);
void wp__gw_workers_sources(wp_gateway_t *gw);
/* Worker 0: every worker drains, then fn(ud, connections cut in all); false with one worker. */
bool wp__gw_workers_drain(wp_gateway_t *gw, wp_gateway_drained_fn fn, void *ud);
/* GET /metrics (status false) or /status, answered with every worker's counters added once
 * they came: true when it will be (false with one worker: answer it at once). */
bool wp__gw_workers_summed(wp_gateway_t *gw, wp_http_req_t *req, bool status);
/* An authorized admin call on a worker other than 0, relayed to worker 0: true when the answer
 * will come from there (reload); false: answer it here (one worker, or a drain, which worker 0
 * starts). */
bool wp__gw_workers_admin(wp_gateway_t *gw, wp_http_req_t *req, bool drain);

#endif
