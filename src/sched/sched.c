/*
 * sched/sched: endpoint state and the pick pipeline.
 *
 * wp_sched_new validates the config and resolves it, once, into a plan: the policy table,
 * and for scoring policies the list of (scorer table, weight) and the picker table. A pick
 * then runs without allocating, using scratch arrays inside wp_sched_t: filter the endpoints
 * into candidates, hash the prompt's block chain as far as the policy's horizon into the
 * caller's array (or take the caller's hashes), match it against the prefix index (one pass
 * for all endpoints), and either let the policy choose
 * (round-robin, random) or run each scorer over the candidates, clamp its values to [0,1],
 * add value × weight into the totals and let the picker choose. The winner's per-scorer
 * values and prefix match are copied into the pick, so the gateway can log and export why
 * an endpoint won, and on_dispatch can teach the index without hashing again.
 */
#include "sched/sched_internal.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct plan_s {
    const wp__sched_scorer_t *scorer;
    double weight;
} plan_t;

struct wp_sched_s {
    wp_sched_config_t cfg;
    const wp__sched_policy_t *policy;
    const wp__sched_picker_t *picker;
    plan_t plan[WP_SCHED_MAX_SCORERS];
    int n_plan;
    uint32_t policy_state[WP_SCHED_ROLE_DECODE + 1]; /* round-robin cursor, one per role */
    _Atomic uint32_t *shared_turns; /* instead of policy_state: wp_sched_share_turns */
    wp_sched_index_t *index;
    uint32_t index_capacity; /* blocks per endpoint (the policy's, or lru_capacity) */
    wp_sched_kv_t *kv;       /* what the servers' KV events say they hold */
    bool reads_kv;           /* a scorer of the plan reads the KV view's match */
    int n_eps;
    wp__sched_ep_t eps[WP_SCHED_MAX_ENDPOINTS];
    /* pick scratch */
    int cand[WP_SCHED_MAX_ENDPOINTS];
    uint32_t matched[WP_SCHED_MAX_ENDPOINTS];
    uint32_t kv_gpu[WP_SCHED_MAX_ENDPOINTS], kv_any[WP_SCHED_MAX_ENDPOINTS];
    double totals[WP_SCHED_MAX_ENDPOINTS];
    double raw[WP_SCHED_MAX_SCORERS][WP_SCHED_MAX_ENDPOINTS];
    uint64_t debug_ops; /* debug builds: state changes since the last validation */
};

/* Debug builds: validate after a state change, every time while the scheduler is small and
 * about once per 16 KiB of index memory otherwise, so a long debug run stays linear. */
static void debug_check(wp_sched_t *s)
{
#ifndef NDEBUG
    uint64_t every = 1 + wp_sched_index_bytes(s->index) / 16384;
    if (++s->debug_ops < every)
        return;
    s->debug_ops = 0;
    wp_err_t err;
    wp_status_t st = wp_sched_validate(s, &err);
    assert(st == WP_OK && "wp_sched_validate failed (see err.msg)");
    (void)st;
#else
    (void)s;
#endif
}

/* ---- life ---- */

static void plan_add(wp_sched_t *s, const char *scorer, double weight)
{
    s->plan[s->n_plan++] = (plan_t){wp__sched_scorer_find(scorer), weight};
}

/* Scoring policies: the policy's one scorer, its preset list, or (topology) the configured
 * list; the first two always use max-score. Choose policies need no plan. */
static void resolve_plan(wp_sched_t *s)
{
    const wp__sched_policy_t *p = wp__sched_policy_find(s->cfg.policy);
    s->policy = p;
    s->n_plan = 0;
    if (p->choose)
        return;
    s->picker = &wp__sched_picker_max;
    if (p->scorer) {
        plan_add(s, p->scorer, 1.0);
    } else if (p->preset) {
        for (int i = 0; i < p->n_preset; i++)
            plan_add(s, p->preset[i].scorer, p->preset[i].weight);
    } else {
        for (int i = 0; i < s->cfg.n_scorers; i++)
            plan_add(s, s->cfg.scorers[i].type, s->cfg.scorers[i].weight);
        s->picker = wp__sched_picker_find(s->cfg.picker);
    }
}

wp_sched_t *wp_sched_new(const wp_sched_config_t *cfg, wp_err_t *err)
{
    if (!cfg || wp_sched_config_validate(cfg, err) != WP_OK)
        return NULL;
    wp_sched_t *s = calloc(1, sizeof(*s));
    if (!s) {
        wp_err_set(err, WP_ENOMEM, "scheduler: out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    const wp__sched_policy_t *p = wp__sched_policy_find(cfg->policy);
    s->index_capacity = p->index_capacity ? p->index_capacity(cfg) : cfg->lru_capacity;
    s->index = wp_sched_index_new(s->index_capacity, err);
    s->kv = s->index ? wp_sched_kv_new(cfg->kv_capacity, err) : NULL;
    if (!s->kv) {
        wp_sched_index_free(s->index);
        free(s);
        return NULL;
    }
    resolve_plan(s);
    s->reads_kv = s->policy->kv_events || wp_sched_uses_scorer(s, "precise-prefix");
    return s;
}

void wp_sched_free(wp_sched_t *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n_eps; i++) {
        free(s->eps[i].name);
        wp_sched_active_clear(&s->eps[i].active);
    }
    wp_sched_index_free(s->index);
    wp_sched_kv_free(s->kv);
    free(s);
}

/* ---- endpoints ---- */

static bool ep_ok(const wp_sched_t *s, int ep)
{
    return ep >= 0 && ep < s->n_eps;
}

int wp_sched_endpoint_add(wp_sched_t *s, const char *name, wp_sched_role_t role)
{
    if (!name || !*name || wp_sched_endpoint_find(s, name) >= 0 || role < WP_SCHED_ROLE_BOTH ||
        role > WP_SCHED_ROLE_DECODE)
        return WP_EINVAL;
    if (s->n_eps >= WP_SCHED_MAX_ENDPOINTS)
        return WP_ELIMIT;
    char *copy = strdup(name);
    if (!copy)
        return WP_ENOMEM;
    s->eps[s->n_eps] = (wp__sched_ep_t){
        .name = copy, .role = role, .healthy = true, .in_flight_at_send = -1.0, .group = -1};
    return s->n_eps++;
}

int wp_sched_endpoint_count(const wp_sched_t *s)
{
    return s->n_eps;
}

const char *wp_sched_endpoint_name(const wp_sched_t *s, int ep)
{
    return ep_ok(s, ep) ? s->eps[ep].name : NULL;
}

int wp_sched_endpoint_find(const wp_sched_t *s, const char *name)
{
    for (int i = 0; name && i < s->n_eps; i++)
        if (strcmp(s->eps[i].name, name) == 0)
            return i;
    return -1;
}

wp_status_t wp_sched_endpoint_set_healthy(wp_sched_t *s, int ep, bool healthy)
{
    if (!ep_ok(s, ep))
        return WP_EINVAL;
    s->eps[ep].healthy = healthy;
    return WP_OK;
}

wp_status_t wp_sched_endpoint_set_metrics(wp_sched_t *s, int ep, double now, double waiting,
                                          double running, double kv_usage)
{
    const double tol = 1e-6;
    if (!ep_ok(s, ep) || !isfinite(now) || !isfinite(waiting) || waiting < 0.0 ||
        !isfinite(running) || running < 0.0 || isinf(kv_usage) || kv_usage < -tol ||
        kv_usage > 1.0 + tol)
        return WP_EINVAL;
    wp__sched_ep_t *e = &s->eps[ep];
    e->waiting = waiting;
    e->running = running;
    e->has_kv = !isnan(kv_usage);
    e->kv_usage = e->has_kv ? wp__sched_clamp01(kv_usage) : 0.0;
    e->scraped_at = now;
    e->in_flight_at_scrape = fmax((double)e->in_flight, e->in_flight_at_send);
    e->in_flight_at_send = -1.0;
    e->has_metrics = true;
    return WP_OK;
}

wp_status_t wp_sched_endpoint_scrape_sent(wp_sched_t *s, int ep)
{
    if (!ep_ok(s, ep))
        return WP_EINVAL;
    s->eps[ep].in_flight_at_send = (double)s->eps[ep].in_flight;
    return WP_OK;
}

uint32_t wp_sched_endpoint_in_flight(const wp_sched_t *s, int ep)
{
    return ep_ok(s, ep) ? s->eps[ep].in_flight : 0;
}

/* Nothing in flight: no active blocks and no tokens in flight either (also when the
 * caller's bookkeeping and ours disagreed about which requests ended). */
static void settle_active(wp__sched_ep_t *e)
{
    if (e->in_flight > 0)
        return;
    wp_sched_active_clear(&e->active);
    e->active_tail = 0;
    e->tokens_in_flight = 0.0;
}

wp_status_t wp_sched_endpoint_set_in_flight(wp_sched_t *s, int ep, uint32_t n)
{
    if (!ep_ok(s, ep))
        return WP_EINVAL;
    s->eps[ep].in_flight = n;
    settle_active(&s->eps[ep]);
    return WP_OK;
}

wp_sched_load_t wp_sched_endpoint_load(const wp_sched_t *s, int ep)
{
    if (!ep_ok(s, ep))
        return (wp_sched_load_t){0, 0, 0.0, 0.0};
    const wp__sched_ep_t *e = &s->eps[ep];
    return (wp_sched_load_t){e->in_flight, e->prefilling, e->pending_prefill, e->tokens_in_flight};
}

/* A token count that is a count, and 0 when `of` (the requests it belongs to) is. */
static bool tokens_ok(double tokens, uint32_t of)
{
    return isfinite(tokens) && tokens >= 0.0 && (of > 0 || tokens == 0.0);
}

wp_status_t wp_sched_endpoint_set_load(wp_sched_t *s, int ep, const wp_sched_load_t *load)
{
    if (!ep_ok(s, ep) || !load || !tokens_ok(load->pending_prefill, load->prefilling) ||
        !tokens_ok(load->tokens_in_flight, load->in_flight))
        return WP_EINVAL;
    wp__sched_ep_t *e = &s->eps[ep];
    e->in_flight = load->in_flight;
    e->tokens_in_flight = load->tokens_in_flight;
    settle_active(e);
    e->prefilling = load->prefilling;
    e->pending_prefill = load->pending_prefill;
    return WP_OK;
}

wp_status_t wp_sched_endpoint_set_limit(wp_sched_t *s, int ep, uint32_t max_in_flight)
{
    if (!ep_ok(s, ep))
        return WP_EINVAL;
    s->eps[ep].max_in_flight = max_in_flight;
    return WP_OK;
}

static bool saturated(const wp_sched_t *s, const wp__sched_ep_t *e, double now,
                      const wp_sched_saturation_t *th)
{
    if (wp__sched_at_limit(e))
        return true;
    if (!wp__sched_metrics_fresh(e, now, s->cfg.stale_after_s))
        return false;
    double waiting = fmax(e->waiting, (double)e->in_flight - e->running);
    return (th->queue_depth > 0 && waiting >= th->queue_depth) ||
           (th->kv_usage > 0 && e->has_kv && e->kv_usage >= th->kv_usage);
}

int wp_sched_room(const wp_sched_t *s, double now, wp_sched_role_t role,
                  const wp_sched_saturation_t *th, int *n_healthy)
{
    int room = 0, healthy = 0;
    for (int i = 0; i < s->n_eps; i++) {
        const wp__sched_ep_t *e = &s->eps[i];
        if (!e->healthy || !wp__sched_role_fits(e->role, role))
            continue;
        healthy++;
        room += !saturated(s, e, now, th);
    }
    if (n_healthy)
        *n_healthy = healthy;
    return room;
}

wp_status_t wp_sched_endpoint_set_group(wp_sched_t *s, int ep, int group)
{
    if (!ep_ok(s, ep) || group < -1 || group >= WP_SCHED_MAX_ENDPOINTS)
        return WP_EINVAL;
    s->eps[ep].group = group;
    return WP_OK;
}

wp_status_t wp_sched_endpoint_set_kv_events(wp_sched_t *s, int ep, bool fed)
{
    if (!ep_ok(s, ep))
        return WP_EINVAL;
    s->eps[ep].kv_fed = fed;
    return WP_OK;
}

int wp_sched_endpoint_group(const wp_sched_t *s, int ep)
{
    return ep_ok(s, ep) ? s->eps[ep].group : -1;
}

wp_status_t wp_sched_endpoint_set_capacity(wp_sched_t *s, int ep, uint32_t blocks)
{
    if (!ep_ok(s, ep))
        return WP_EINVAL;
    s->eps[ep].kv_blocks = blocks;
    return WP_OK;
}

/* ---- pick ---- */

static const char *role_name(wp_sched_role_t role)
{
    return role == WP_SCHED_ROLE_PREFILL  ? "prefill"
           : role == WP_SCHED_ROLE_DECODE ? "decode"
                                          : "any";
}

static wp_status_t check_request(const wp_sched_request_t *req, const wp_rng_t *rng,
                                 const wp_sched_pick_t *out, wp_err_t *err)
{
    if (!req || !out || !rng)
        return wp_err_set(err, WP_EINVAL, "pick: request, rng and output are required");
    if (!req->model)
        return wp_err_set(err, WP_EINVAL, "pick: request has no model");
    if (!req->prompt && req->prompt_len > 0)
        return wp_err_set(err, WP_EINVAL, "pick: prompt is NULL but its length is %zu",
                          req->prompt_len);
    if (req->role < WP_SCHED_ROLE_BOTH || req->role > WP_SCHED_ROLE_DECODE)
        return wp_err_set(err, WP_EINVAL, "pick: bad role %d", (int)req->role);
    if (!req->hashes && !req->hash_buf && req->hash_cap > 0)
        return wp_err_set(err, WP_EINVAL, "pick: hash_buf is NULL but hash_cap is %zu",
                          req->hash_cap);
    return WP_OK;
}

size_t wp_sched_horizon(const wp_sched_t *s)
{
    return s->policy->whole_prompt ? SIZE_MAX : s->cfg.max_blocks;
}

size_t wp_sched_chain_blocks(const wp_sched_t *s, size_t len)
{
    size_t n = len / s->cfg.block_chars, h = wp_sched_horizon(s);
    return n < h ? n : h;
}

size_t wp_sched_hash_prompt(const wp_sched_t *s, const char *model, const char *cache_salt,
                            const char *text, size_t len, uint64_t *out, size_t cap)
{
    size_t n = wp_sched_chain_blocks(s, len);
    return wp_sched_hash_chain(model, cache_salt, text, len, s->cfg.block_chars, n < cap ? n : cap,
                               out);
}

/* The request's chain as far as the horizon (and UINT32_MAX, what a pick counts): the
 * caller's hashes, or the prompt hashed into the caller's hash_buf. */
static const uint64_t *request_chain(const wp_sched_t *s, const wp_sched_request_t *req, size_t *n)
{
    size_t h = wp_sched_horizon(s);
    h = h < UINT32_MAX ? h : UINT32_MAX;
    if (req->hashes != NULL) {
        *n = req->n_hashes < h ? req->n_hashes : h;
        return *n ? req->hashes : NULL;
    }
    *n = wp_sched_hash_chain(req->model, req->cache_salt, req->prompt, req->prompt_len,
                             s->cfg.block_chars, req->hash_cap < h ? req->hash_cap : h,
                             req->hash_buf);
    return *n ? req->hash_buf : NULL;
}

static wp_status_t no_candidate(const wp_sched_t *s, const wp_sched_request_t *req, wp_err_t *err)
{
    int healthy = 0;
    for (int i = 0; i < s->n_eps; i++)
        healthy += s->eps[i].healthy;
    return wp_err_set(err, WP_ENOTFOUND,
                      "no eligible endpoint for model '%s' (%d endpoints, %d healthy, role %s)",
                      req->model, s->n_eps, healthy, role_name(req->role));
}

static int score_and_pick(wp_sched_t *s, const wp__sched_ctx_t *ctx, wp_rng_t *rng,
                          wp_sched_pick_t *out)
{
    int n = ctx->n;
    memset(s->totals, 0, (size_t)n * sizeof(double));
    for (int k = 0; k < s->n_plan; k++) {
        double *raw = s->raw[k];
        s->plan[k].scorer->score(ctx, raw);
        for (int i = 0; i < n; i++) {
            raw[i] = wp__sched_clamp01(raw[i]);
            s->totals[i] += raw[i] * s->plan[k].weight;
        }
    }
    int pos = s->picker->pick(s->totals, n, rng);
    out->total = s->totals[pos];
    out->n_scores = s->n_plan;
    for (int k = 0; k < s->n_plan; k++)
        out->scores[k] = (wp_sched_score_t){s->plan[k].scorer->name, s->raw[k][pos],
                                            s->raw[k][pos] * s->plan[k].weight};
    return pos;
}

/* A policy with a choose function: chooses from the turn and moves it past the pick (not for
 * a dry pick; round-robin's turn, the others leave it as it is). A shared turn that moves is
 * claimed with a compare-and-swap; when another scheduler moved it meanwhile, the choice is
 * made again from where it is now. One that does not move is only read. */
static int choose_turn(wp_sched_t *s, const wp__sched_ctx_t *ctx, const wp_sched_request_t *req,
                       wp_rng_t *rng)
{
    if (s->shared_turns == NULL) {
        uint32_t cursor = s->policy_state[req->role];
        int pos = s->policy->choose(ctx, &cursor, rng);
        if (!req->dry)
            s->policy_state[req->role] = cursor;
        return pos;
    }
    _Atomic uint32_t *turn = &s->shared_turns[req->role];
    uint32_t seen = atomic_load(turn);
    for (;;) {
        uint32_t next = seen;
        int pos = s->policy->choose(ctx, &next, rng);
        if (req->dry || next == seen || atomic_compare_exchange_weak(turn, &seen, next))
            return pos;
    }
}

wp_status_t wp_sched_pick(wp_sched_t *s, double now, const wp_sched_request_t *req, wp_rng_t *rng,
                          wp_sched_pick_t *out, wp_err_t *err)
{
    wp_status_t st = check_request(req, rng, out, err);
    if (st != WP_OK)
        return st;
    int n = wp__sched_filter(s->eps, s->n_eps, req, s->cand);
    if (n == 0)
        return no_candidate(s, req, err);
    size_t nb;
    const uint64_t *chain = request_chain(s, req, &nb);
    wp_sched_index_match(s->index, chain, nb, s->matched);
    wp__sched_ctx_t ctx = {.cfg = &s->cfg,
                           .eps = s->eps,
                           .req = req,
                           .now = now,
                           .n = n,
                           .cand = s->cand,
                           .matched = s->matched,
                           .hashes = chain,
                           .n_blocks = (uint32_t)nb,
                           .index = s->index};
    if (s->reads_kv && req->kv_hashes && req->n_kv_hashes > 0) {
        size_t nk = req->n_kv_hashes < UINT32_MAX ? req->n_kv_hashes : UINT32_MAX;
        wp_sched_kv_match(s->kv, s->n_eps, req->kv_hashes, nk, s->kv_gpu, s->kv_any);
        ctx.kv_gpu = s->kv_gpu;
        ctx.kv_any = s->kv_any;
        ctx.n_kv = (uint32_t)nk;
        ctx.kv_block_tokens = req->kv_block_tokens ? req->kv_block_tokens : 16.0;
    }
    ctx.prompt_tokens = req->prompt_tokens    ? (double)req->prompt_tokens
                        : req->hashes != NULL ? (double)nb * s->cfg.block_chars / 4.0
                                              : (double)req->prompt_len / 4.0;
    int pos;
    if (s->policy->choose) {
        pos = choose_turn(s, &ctx, req, rng);
        out->total = 0.0;
        out->n_scores = 0;
    } else {
        pos = score_and_pick(s, &ctx, rng, out);
    }
    int ep = s->cand[pos];
    out->endpoint = ep;
    out->block_hashes = chain;
    out->n_candidates = n;
    out->n_blocks = (uint32_t)nb;
    out->matched_blocks = s->matched[ep];
    out->prefix_ratio = nb ? (double)s->matched[ep] / (double)nb : 0.0;
    out->n_kv_blocks = ctx.n_kv;
    out->kv_gpu_blocks = ctx.kv_gpu ? ctx.kv_gpu[ep] : 0;
    out->kv_any_blocks = ctx.kv_any ? ctx.kv_any[ep] : 0;
    out->prefill_tokens = wp__sched_uncached_tokens(&ctx, ep);
    out->prompt_tokens = ctx.prompt_tokens;
    return WP_OK;
}

double wp__sched_uncached_tokens(const wp__sched_ctx_t *ctx, int ep)
{
    double cached = ctx->kv_any && ctx->eps[ep].kv_fed
                        ? (double)ctx->kv_any[ep] * ctx->kv_block_tokens
                        : (double)ctx->matched[ep] * ctx->cfg->block_chars / 4.0;
    return ctx->prompt_tokens > cached ? ctx->prompt_tokens - cached : 0.0;
}

uint64_t wp__sched_tail_blocks(double prompt_tokens, uint32_t n_blocks, uint32_t block_chars)
{
    double full = floor(prompt_tokens / ((double)block_chars / 4.0));
    return isfinite(full) && full > (double)n_blocks ? (uint64_t)full - n_blocks : 0;
}

/* The blocks of pick's request join (held) or leave e's active set, kept only for a policy
 * that reads it. */
static wp_status_t hold(const wp_sched_t *s, wp__sched_ep_t *e, const wp_sched_pick_t *pick,
                        bool held)
{
    if (!s->policy->reads_active)
        return WP_OK;
    uint64_t tail = wp__sched_tail_blocks(pick->prompt_tokens, pick->n_blocks, s->cfg.block_chars);
    if (!held) {
        wp_sched_active_remove(&e->active, pick->block_hashes, pick->n_blocks);
        e->active_tail -= tail < e->active_tail ? tail : e->active_tail;
        return WP_OK;
    }
    wp_status_t st = wp_sched_active_add(&e->active, pick->block_hashes, pick->n_blocks);
    if (st == WP_OK)
        e->active_tail += tail;
    return st;
}

/* The pick's prompt tokens as tokens in flight count them (0 when not a count). */
static double pick_tokens(const wp_sched_pick_t *pick)
{
    return isfinite(pick->prompt_tokens) && pick->prompt_tokens > 0.0 ? pick->prompt_tokens : 0.0;
}

/* A pick whose chain is there when it has one. */
static bool chain_ok(const wp_sched_pick_t *pick)
{
    return pick && (pick->n_blocks == 0 || pick->block_hashes != NULL);
}

wp_status_t wp_sched_on_dispatch(wp_sched_t *s, const wp_sched_pick_t *pick)
{
    if (!chain_ok(pick) || !ep_ok(s, pick->endpoint))
        return WP_EINVAL;
    wp__sched_ep_t *e = &s->eps[pick->endpoint];
    e->in_flight++;
    e->tokens_in_flight += pick_tokens(pick);
    if (e->in_flight_at_send >= 0.0) /* a scrape on its way may count this request */
        e->in_flight_at_send = fmax(e->in_flight_at_send, (double)e->in_flight);
    e->prefilling++;
    e->pending_prefill += pick->prefill_tokens;
    wp_status_t held = hold(s, e, pick, true);
    wp_status_t st =
        wp_sched_index_insert(s->index, pick->endpoint, pick->block_hashes, pick->n_blocks);
    debug_check(s);
    return st != WP_OK ? st : held != WP_OK ? WP_ENOMEM : WP_OK;
}

wp_status_t wp_sched_endpoint_hold(wp_sched_t *s, int ep, const wp_sched_pick_t *pick, bool held)
{
    if (!chain_ok(pick) || !ep_ok(s, ep))
        return WP_EINVAL;
    wp_status_t st = hold(s, &s->eps[ep], pick, held);
    debug_check(s);
    return st;
}

uint64_t wp_sched_endpoint_active_blocks(const wp_sched_t *s, int ep)
{
    if (!ep_ok(s, ep))
        return 0;
    return wp_sched_active_unique(&s->eps[ep].active) + s->eps[ep].active_tail;
}

wp_status_t wp_sched_on_prefill_done(wp_sched_t *s, const wp_sched_pick_t *pick)
{
    if (!pick || !ep_ok(s, pick->endpoint))
        return WP_EINVAL;
    wp__sched_ep_t *e = &s->eps[pick->endpoint];
    if (e->prefilling == 0) {
        e->acct_errors[WP_SCHED_ACCT_PREFILL]++;
        return WP_ELIMIT;
    }
    e->prefilling--;
    e->pending_prefill -= pick->prefill_tokens;
    if (e->prefilling == 0 || e->pending_prefill < 0.5) /* none left, or rounding */
        e->pending_prefill = 0.0;
    debug_check(s);
    return WP_OK;
}

wp_status_t wp_sched_on_complete(wp_sched_t *s, const wp_sched_pick_t *pick)
{
    if (!chain_ok(pick) || !ep_ok(s, pick->endpoint))
        return WP_EINVAL;
    wp__sched_ep_t *e = &s->eps[pick->endpoint];
    if (e->in_flight == 0) {
        e->acct_errors[WP_SCHED_ACCT_COMPLETE]++;
        return WP_ELIMIT;
    }
    e->in_flight--;
    e->tokens_in_flight = fmax(0.0, e->tokens_in_flight - pick_tokens(pick));
    hold(s, e, pick, false);
    settle_active(e);
    debug_check(s);
    return WP_OK;
}

uint64_t wp_sched_accounting_errors(const wp_sched_t *s, int ep, wp_sched_acct_t kind)
{
    if (!ep_ok(s, ep) || kind < 0 || kind >= WP_SCHED_ACCT_KINDS)
        return 0;
    return s->eps[ep].acct_errors[kind];
}

const char *wp_sched_acct_name(wp_sched_acct_t kind)
{
    static const char *const names[WP_SCHED_ACCT_KINDS] = {"complete", "prefill"};
    return kind >= 0 && kind < WP_SCHED_ACCT_KINDS ? names[kind] : NULL;
}

wp_status_t wp_sched_endpoint_adopt(wp_sched_t *dst, int dst_ep, const wp_sched_t *src, int src_ep)
{
    if (!dst || !src || dst == src || !ep_ok(dst, dst_ep) || !ep_ok(src, src_ep))
        return WP_EINVAL;
    wp__sched_ep_t *d = &dst->eps[dst_ep];
    const wp__sched_ep_t *o = &src->eps[src_ep];
    d->in_flight = o->in_flight;
    d->tokens_in_flight = o->tokens_in_flight;
    /* The last scrape as it was taken, with the requests in flight it may count (and a scrape
     * on its way): re-set at the reload's time against the counts of then, a request that
     * ended since would count twice until the next scrape. */
    d->has_metrics = o->has_metrics;
    d->has_kv = o->has_kv;
    d->kv_fed = o->kv_fed;
    d->waiting = o->waiting;
    d->running = o->running;
    d->kv_usage = o->kv_usage;
    d->scraped_at = o->scraped_at;
    d->in_flight_at_scrape = o->in_flight_at_scrape;
    d->in_flight_at_send = o->in_flight_at_send;
    d->prefilling = o->prefilling;
    d->pending_prefill = o->pending_prefill;
    wp_status_t copied = wp_sched_active_copy(&d->active, &o->active);
    d->active_tail = copied == WP_OK ? o->active_tail : 0;
    if (copied != WP_OK)
        wp_sched_active_clear(&d->active);
    wp_status_t st = wp_sched_index_copy_endpoint(dst->index, dst_ep, src->index, src_ep);
    wp_status_t kst = wp_sched_kv_copy_endpoint(dst->kv, dst_ep, src->kv, src_ep);
    debug_check(dst);
    return st != WP_OK ? st : kst != WP_OK ? kst : copied;
}

bool wp_sched_uses_scorer(const wp_sched_t *s, const char *type)
{
    for (int k = 0; type && k < s->n_plan; k++)
        if (s->plan[k].weight > 0 && strcmp(s->plan[k].scorer->name, type) == 0)
            return true;
    return false;
}

bool wp_sched_reads_kv_events(const wp_sched_t *s)
{
    return s->reads_kv;
}

void wp_sched_share_turns(wp_sched_t *s, _Atomic uint32_t *turns)
{
    s->shared_turns = turns;
}

bool wp_sched_reads_active(const wp_sched_t *s)
{
    return s->policy->reads_active;
}

bool wp_sched_reads_prompt_tokens(const wp_sched_t *s)
{
    if (s->policy->reads_tokens)
        return true;
    for (int k = 0; k < s->n_plan; k++)
        if (s->plan[k].weight > 0 && s->plan[k].scorer->reads_tokens)
            return true;
    return false;
}

wp_status_t wp_sched_learn_route(wp_sched_t *s, int ep, const uint64_t *hashes, size_t n)
{
    if (!ep_ok(s, ep) || (n > 0 && !hashes))
        return WP_EINVAL;
    wp_status_t st = wp_sched_index_insert(s->index, ep, hashes, n);
    debug_check(s);
    return st;
}

wp_sched_index_t *wp_sched_index(wp_sched_t *s)
{
    return s->index;
}

wp_sched_kv_t *wp_sched_kv(wp_sched_t *s)
{
    return s->kv;
}

/* ---- validation ---- */

static wp_status_t validate_ep(const wp_sched_t *s, int i, wp_err_t *err)
{
    const wp__sched_ep_t *e = &s->eps[i];
    if (!e->name || !*e->name || wp_sched_endpoint_find(s, e->name) != i)
        return wp_err_set(err, WP_EINVAL, "endpoint %d: missing or duplicate name", i);
    if (e->role < WP_SCHED_ROLE_BOTH || e->role > WP_SCHED_ROLE_DECODE)
        return wp_err_set(err, WP_EINVAL, "endpoint %s: bad role", e->name);
    if (e->has_metrics && (e->waiting < 0.0 || e->running < 0.0 || !(e->kv_usage >= 0.0) ||
                           e->kv_usage > 1.0 || !isfinite(e->scraped_at)))
        return wp_err_set(err, WP_EINVAL, "endpoint %s: metrics out of range", e->name);
    if (!tokens_ok(e->pending_prefill, e->prefilling))
        return wp_err_set(err, WP_EINVAL, "endpoint %s: pending prefill %g with %u prefilling",
                          e->name, e->pending_prefill, e->prefilling);
    if (!tokens_ok(e->tokens_in_flight, e->in_flight))
        return wp_err_set(err, WP_EINVAL, "endpoint %s: %g tokens in flight with %u requests",
                          e->name, e->tokens_in_flight, e->in_flight);
    if (e->group < -1 || e->group >= WP_SCHED_MAX_ENDPOINTS)
        return wp_err_set(err, WP_EINVAL, "endpoint %s: group %d out of range", e->name, e->group);
    wp_status_t st = wp_sched_active_validate(&e->active, err);
    if (st != WP_OK)
        return st;
    if (e->in_flight == 0 && (wp_sched_active_unique(&e->active) != 0 || e->active_tail != 0))
        return wp_err_set(
            err, WP_EINVAL,
            "endpoint %s: %zu active hashes and %llu other blocks with none in flight", e->name,
            wp_sched_active_unique(&e->active), (unsigned long long)e->active_tail);
    if (wp_sched_index_endpoint_blocks(s->index, i) > s->index_capacity)
        return wp_err_set(err, WP_EINVAL, "endpoint %s: index holds too many blocks", e->name);
    return WP_OK;
}

wp_status_t wp_sched_validate(const wp_sched_t *s, wp_err_t *err)
{
    if (s->n_eps < 0 || s->n_eps > WP_SCHED_MAX_ENDPOINTS)
        return wp_err_set(err, WP_EINVAL, "endpoint count %d out of range", s->n_eps);
    if (!s->policy || (!s->policy->choose && (!s->picker || s->n_plan < 1)))
        return wp_err_set(err, WP_EINVAL, "policy plan not resolved");
    for (int k = 0; k < s->n_plan; k++)
        if (!s->plan[k].scorer)
            return wp_err_set(err, WP_EINVAL, "policy %s: scorer %d unknown", s->policy->name, k);
    for (int i = 0; i < s->n_eps; i++) {
        wp_status_t st = validate_ep(s, i, err);
        if (st != WP_OK)
            return st;
    }
    for (int i = s->n_eps; i < WP_SCHED_MAX_ENDPOINTS; i++)
        if (wp_sched_index_endpoint_blocks(s->index, i) != 0)
            return wp_err_set(err, WP_EINVAL, "index holds blocks for unknown endpoint %d", i);
    wp_status_t st = wp_sched_kv_validate(s->kv, s->n_eps, err);
    return st != WP_OK ? st : wp_sched_index_validate(s->index, err);
}
