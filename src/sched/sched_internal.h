/*
 * sched/sched_internal: what the scheduler's parts share; not for callers outside src/sched.
 *
 * A pick builds one wp__sched_ctx_t (the candidates left by the filters, the prefix match
 * of every endpoint, time, config) and hands it, read-only, to the policy's parts. Each part
 * is a small const table of function pointers in its own file, found by name through the
 * registry (registry.c):
 *   - scorer:  score(ctx, out) writes one value in [0,1] per candidate;
 *   - picker:  pick(totals, n, rng) returns the chosen candidate's position;
 *   - policy:  either a scoring policy (the configured list, "topology"; one named scorer
 *              with weight 1; or a fixed preset list of weighted scorers, "llm-d"; the last
 *              two with the max-score picker) or its own choose(ctx, state, rng)
 *              (round-robin, random, sglang-cache-aware, dynamo-kv) with one word of state
 *              kept by the scheduler.
 *   - filter:  a row of filter.c's table: when an endpoint may serve the request; all rows
 *              are tested in one pass over the endpoints.
 * Tables are immutable, so there is no global mutable state. Adding a scorer means one new
 * file and one line in registry.c.
 */
#ifndef WP_SCHED_SCHED_INTERNAL_H
#define WP_SCHED_SCHED_INTERNAL_H

#include "sched/active.h"
#include "sched/sched.h"

typedef struct wp__sched_ep_s {
    char *name; /* owned */
    wp_sched_role_t role;
    bool healthy;
    bool has_metrics;
    bool has_kv; /* the last scrape had a KV usage series (kv_usage is 0 when not) */
    bool kv_fed; /* its KV events feed the view (wp_sched_endpoint_set_kv_events) */
    uint32_t in_flight;
    uint32_t max_in_flight;   /* 0 = no limit; at the limit the "room" filter drops it */
    uint32_t kv_blocks;       /* KV cache size in blocks (num_gpu_blocks), 0 = unknown */
    double pending_prefill;   /* tokens sent here whose prefill has not ended (first token) */
    uint32_t prefilling;      /* dispatched requests whose prefill has not ended; 0: no tokens */
    double tokens_in_flight;  /* prompt tokens of the requests in flight here; 0 when none */
    int group;                /* wide-EP group, 0..WP_SCHED_MAX_ENDPOINTS-1; -1: none */
    wp_sched_active_t active; /* block hashes of the requests in flight here (multiset,
                                 owned); empty when none */
    uint64_t active_tail;     /* their KV blocks the hashes do not name; 0 when none */
    uint64_t acct_errors[WP_SCHED_ACCT_KINDS]; /* underflows reported by the caller */
    double waiting, running, kv_usage, scraped_at;
    double in_flight_at_scrape; /* in_flight when the metrics were set (or the scrape was
                                   sent, if larger: wp_sched_endpoint_scrape_sent) */
    double in_flight_at_send;   /* the most in flight since the scrape on its way was sent
                                   (dispatches raise it); -1: none on its way */
} wp__sched_ep_t;

typedef struct wp__sched_ctx_s {
    const wp_sched_config_t *cfg;
    const wp__sched_ep_t *eps; /* all endpoints, by index */
    const wp_sched_request_t *req;
    double now;
    int n;                   /* candidates */
    const int *cand;         /* candidate endpoint indices, ascending */
    const uint32_t *matched; /* leading blocks held, by endpoint index */
    const uint64_t *hashes;  /* the prompt's block hashes (n_blocks of them; NULL when none) */
    uint32_t n_blocks;
    const wp_sched_index_t *index; /* the prefix index, read-only (tree sizes) */
    /* The KV view's match of the request's kv_hashes (n_kv of them, kv_block_tokens each):
     * leading blocks on the GPU and on either medium, by endpoint; NULL when the request has
     * none or no scorer reads them. */
    const uint32_t *kv_gpu, *kv_any;
    uint32_t n_kv;
    double kv_block_tokens;
    double prompt_tokens; /* the whole prompt, estimated (wp__sched_prompt_tokens) */
} wp__sched_ctx_t;

typedef struct wp__sched_scorer_s {
    const char *name;
    void (*score)(const wp__sched_ctx_t *ctx, double *out);
    bool reads_tokens; /* it reads the prompt's token count (wp_sched_reads_prompt_tokens) */
} wp__sched_scorer_t;

typedef struct wp__sched_picker_s {
    const char *name;
    int (*pick)(const double *totals, int n, wp_rng_t *rng);
} wp__sched_picker_t;

/* One row of a preset policy: a scorer by name and its weight. */
typedef struct wp__sched_weighted_s {
    const char *scorer;
    double weight;
} wp__sched_weighted_t;

typedef struct wp__sched_policy_s {
    const char *name;
    const char *scorer; /* single-scorer policy: its scorer; NULL: topology, preset or choose */
    int (*choose)(const wp__sched_ctx_t *ctx, uint32_t *state, wp_rng_t *rng);
    const wp__sched_weighted_t *preset; /* preset policy: its scorers, with max-score */
    int n_preset;                       /* 1..WP_SCHED_MAX_SCORERS when preset is set */
    /* Blocks per endpoint its prefix index holds, at least 1; NULL: cfg->lru_capacity. */
    uint32_t (*index_capacity)(const wp_sched_config_t *cfg);
    /* It hashes and matches the whole prompt (its source's router does); false: the first
     * cfg->max_blocks blocks. */
    bool whole_prompt;
    /* It reads the KV view's match when the request brings kv_hashes (its source's router
     * consumes the servers' KV events by default); false: the prefix index alone. */
    bool kv_events;
    bool reads_tokens; /* it reads the prompt's token count */
    /* It reads the endpoints' active blocks (wp__sched_ep_t.active, active_tail): only then
     * does the scheduler keep them (a multiset update per block on dispatch and end). */
    bool reads_active;
} wp__sched_policy_t;

extern const wp__sched_scorer_t wp__sched_scorer_prefix;
extern const wp__sched_scorer_t wp__sched_scorer_precise;
extern const wp__sched_scorer_t wp__sched_scorer_load;
extern const wp__sched_scorer_t wp__sched_scorer_queue;
extern const wp__sched_scorer_t wp__sched_scorer_kv;
extern const wp__sched_scorer_t wp__sched_scorer_least_request;
extern const wp__sched_scorer_t wp__sched_scorer_session;
extern const wp__sched_scorer_t wp__sched_scorer_headroom;
extern const wp__sched_scorer_t wp__sched_scorer_prefill;
extern const wp__sched_scorer_t wp__sched_scorer_rank_balance;

/* Prompt tokens the endpoint would have to prefill: the whole prompt less the leading
 * blocks it holds (by the KV view when the pick matched it and the endpoint's events feed
 * it: kv_block_tokens each, either medium; else by the prefix index: block_chars / 4 tokens
 * each), never below 0. */
double wp__sched_uncached_tokens(const wp__sched_ctx_t *ctx, int ep);
/* A prompt's KV blocks its n_blocks hashes do not name: its full block_chars / 4-token
 * blocks, floor(prompt_tokens / that), less n_blocks; 0 when not positive (or not finite). */
uint64_t wp__sched_tail_blocks(double prompt_tokens, uint32_t n_blocks, uint32_t block_chars);
extern const wp__sched_picker_t wp__sched_picker_max;
extern const wp__sched_picker_t wp__sched_picker_weighted;
extern const wp__sched_policy_t wp__sched_policy_rr;
extern const wp__sched_policy_t wp__sched_policy_random;
extern const wp__sched_policy_t wp__sched_policy_llmd;
extern const wp__sched_policy_t wp__sched_policy_llmd_precise;
extern const wp__sched_policy_t wp__sched_policy_sglang;
extern const wp__sched_policy_t wp__sched_policy_dynamo;

/* Registry: NULL when the name is unknown (name may be NULL). */
const wp__sched_scorer_t *wp__sched_scorer_find(const char *name);
const wp__sched_picker_t *wp__sched_picker_find(const char *name);
const wp__sched_policy_t *wp__sched_policy_find(const char *name);
/* WP_EINVAL "unknown <what> 'name' (valid: a, b, c)" for kind 's'corer, 'p'icker, 'P'olicy. */
wp_status_t wp__sched_unknown(wp_err_t *err, char kind, const char *name);

/* Filters: writes, ascending, the indices of the endpoints every filter keeps; returns their
 * count. */
int wp__sched_filter(const wp__sched_ep_t *eps, int n_eps, const wp_sched_request_t *req, int *out);

/* Endpoint predicates shared by the filters, the scorers and wp_sched_room; inline, since
 * each runs once per endpoint of every pick (a thousand of them in a large pool). */
/* Its metrics were scraped at most stale_after_s before now. */
static inline bool wp__sched_metrics_fresh(const wp__sched_ep_t *e, double now,
                                           double stale_after_s)
{
    return e->has_metrics && now - e->scraped_at <= stale_after_s;
}
/* It may serve a request that wants `role` (BOTH on either side fits anything). */
static inline bool wp__sched_role_fits(wp_sched_role_t ep_role, wp_sched_role_t role)
{
    return role == WP_SCHED_ROLE_BOTH || ep_role == WP_SCHED_ROLE_BOTH || ep_role == role;
}
/* It has reached its in-flight limit (never, without one). */
static inline bool wp__sched_at_limit(const wp__sched_ep_t *e)
{
    return e->max_in_flight > 0 && e->in_flight >= e->max_in_flight;
}

/* Shared by scorers. */
static inline bool wp__sched_ep_fresh(const wp__sched_ctx_t *ctx, int ep)
{
    return wp__sched_metrics_fresh(&ctx->eps[ep], ctx->now, ctx->cfg->stale_after_s);
}
/* Waiting requests: scraped when fresh, otherwise the gateway's in-flight count. */
double wp__sched_ep_queue(const wp__sched_ctx_t *ctx, int ep);
/* Load: requests the endpoint holds, waiting or running. The gateway's own in-flight count
 * (exact, immediate) plus, with fresh metrics, what the scrape saw beyond the gateway's own
 * requests: in_flight + max(0, waiting + running − in_flight at the scrape). A scrape that
 * is stale about the gateway's own requests (one finished since) adds nothing; other
 * clients' requests, waiting or running, count. Unknown metrics: in_flight. */
static inline double wp__sched_ep_load(const wp__sched_ctx_t *ctx, int ep)
{
    const wp__sched_ep_t *e = &ctx->eps[ep];
    double own = (double)e->in_flight, beyond = e->waiting + e->running - e->in_flight_at_scrape;
    return wp__sched_ep_fresh(ctx, ep) && beyond > 0.0 ? own + beyond : own;
}
/* out[i] = (max - v[i]) / (max - min) over v[0..n); 1 for all when max == min. */
void wp__sched_inverse_minmax(const double *v, int n, double *out);
static inline double wp__sched_clamp01(double x)
{
    if (!(x > 0.0)) /* also maps NaN to 0 */
        return 0.0;
    return x < 1.0 ? x : 1.0;
}

/* Shared by choose policies: the position (in ctx->cand) of a candidate with the lowest
 * key(ctx, endpoint); keys within 1e-9 of the lowest are ties, broken uniformly with the
 * rng. Two passes over the candidates, calling key again in the second: no scratch. */
typedef double (*wp__sched_key_fn)(const wp__sched_ctx_t *ctx, int ep);
int wp__sched_argmin(const wp__sched_ctx_t *ctx, wp__sched_key_fn key, wp_rng_t *rng);

#endif
