/*
 * des/des: see des.h.
 *
 * Events, in the order a request meets them:
 *   SEND       the client sends request i (from the workload's arrival time, or when a
 *              closed-loop slot frees); it reaches the gateway a client latency later
 *   PICK       the gateway admits the request (or queues it: flow control) and picks an
 *              engine (sched/) and forwards it
 *   ADD        the request reaches the engine and joins its queue
 *   STEP_END   an engine's step ends: its tokens are delivered, the next step planned
 *   DONE       the gateway sees the end of a request: its in-flight count drops, and
 *              queued requests are sent while an engine has room
 *   SCRAPE     the gateway reads every engine's metrics (stale until the next one),
 *              sheds queued requests past their deadline and drains the queue
 * Times seen by the client add the latencies of the way back, which are constant, so
 * gaps between tokens are the engine's own.
 */
#include "des/des.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "des/heap.h"
#include "sched/admit.h"
#include "sched/pd.h"
#include "workload/arrivals.h"

enum { EV_SEND, EV_SEND_QUEUED, EV_PICK, EV_ADD, EV_STEP_END, EV_DONE, EV_SCRAPE, EV_RELEASE };

/* A request's phase: straight to one engine, or P/D prefill then decode. */
enum { PHASE_DIRECT, PHASE_PREFILL, PHASE_DECODE, PHASE_DECODE_LOCAL };

typedef struct dreq_s {
    uint64_t id;
    size_t stage;
    int ep;
    double sent, first; /* client times */
    double last_token;  /* engine time of the last token */
    double *itl;
    size_t n_itl, cap_itl;
    int32_t *ids;
    int32_t n_ids, max_tokens;
    uint32_t prompt_tokens, output_tokens, cached;
    wp_sched_pick_t pick;
    int phase;
    int pf_ep;
    wp_sched_pick_t pf_pick;  /* P/D: the prefill engine's pick */
    wp_sched_ticket_t ticket; /* admission: its place in the gateway's waiting room */
    struct dreq_s *next_free; /* the free list */
} dreq_t;

typedef struct engine_s {
    wp_engine_t *e;
    const wp_engine_config_t *cfg;
    wp_engine_step_t step;
    bool stepping;
} engine_t;

typedef struct des_s {
    const wp_des_config_t *cfg;
    wp_workload_t *wl;
    wp_report_run_t *run;
    wp_sched_t *sched;
    wp_rng_t rng;
    wp_des_heap_t heap;
    engine_t *engines;
    wp_des_stats_t *stats;
    size_t total, done, in_flight;
    /* The client's pacing (workload/arrivals): when each request is sent. closed_loop: the
     * requests are closed loop, so each one that ends pulls the next (finish, reject). */
    wp_workload_pacer_t pacer;
    bool source_done, closed_loop;
    wp_des_progress_fn progress;
    void *ud;
    size_t next_progress;
    dreq_t *free_reqs;
    wp_status_t failure;
    wp_err_t *err;
    bool pd;                 /* two pools: prefill and decode */
    int n;                   /* engines */
    wp_sched_admit_t *admit; /* admission and flow control's waiting room */
} des_t;

void wp_des_config_default(wp_des_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->n_engines = 1;
    wp_sched_config_default(&cfg->sched);
    cfg->model = "model";
    cfg->vocab = 151936;
    cfg->scrape_interval_s = 0.05;
    cfg->client_latency_s = 0.0005;
    cfg->engine_latency_s = 0.0002;
    cfg->seed = 1;
    cfg->flow_max_queue = 1024; /* the gateway's defaults */
    cfg->flow_queue_timeout_s = 30.0;
    cfg->saturation = (wp_sched_saturation_t){5, 0.8};
}

static void push(des_t *d, double t, int type, int index, void *ptr)
{
    if (wp_des_heap_push(&d->heap, t, type, index, ptr) != WP_OK && d->failure == WP_OK)
        d->failure = wp_err_set(d->err, WP_ENOMEM, "out of memory for the event queue");
}

/* ---- the decision log ---- */

static void decide(des_t *d, double t, wp_sched_decision_kind_t kind, const dreq_t *q,
                   const wp_sched_decision_t *more)
{
    if (d->cfg->decision == NULL)
        return;
    char name[32];
    wp_sched_decision_t dec = more != NULL ? *more : (wp_sched_decision_t){0};
    dec.kind = kind;
    if (q != NULL) {
        snprintf(name, sizeof(name), "r%llu", (unsigned long long)q->id);
        dec.request = name;
    }
    d->cfg->decision(d->cfg->decision_ud, t, &dec);
}

static void decide_pick(des_t *d, double t, const dreq_t *q, const wp_sched_pick_t *pick,
                        wp_sched_role_t role)
{
    wp_sched_decision_t more = {.endpoint = wp_sched_endpoint_name(d->sched, pick->endpoint),
                                .pick = pick,
                                .role = role,
                                .attempt = 1};
    decide(d, t, WP_SCHED_DECISION_PICK, q, &more);
}

/* ---- requests ---- */

static dreq_t *req_alloc(des_t *d)
{
    dreq_t *q = d->free_reqs;
    if (q != NULL) {
        d->free_reqs = q->next_free;
        int32_t *ids = q->ids;
        double *itl = q->itl;
        size_t cap = q->cap_itl;
        memset(q, 0, sizeof(*q));
        q->ids = ids;
        q->itl = itl;
        q->cap_itl = cap;
        return q;
    }
    return calloc(1, sizeof(dreq_t));
}

static void req_release(des_t *d, dreq_t *q)
{
    free(q->ids);
    q->ids = NULL;
    q->next_free = d->free_reqs;
    d->free_reqs = q;
}

static void record(des_t *d, dreq_t *q, wp_report_outcome_t outcome, double end)
{
    wp_report_result_t r = {
        .stage = q->stage,
        .outcome = outcome,
        .start_s = q->sent,
        .ttft_s = q->output_tokens > 0 ? q->first - q->sent : NAN,
        .e2e_s = end - q->sent,
        .prompt_tokens = q->prompt_tokens,
        .output_tokens = q->output_tokens,
        .cached_tokens = q->cached,
        .itl_s = q->itl,
        .n_itl = q->n_itl,
    };
    wp_report_add(d->run, &r, NULL);
    d->done++;
    void *next;
    double at;
    if (wp_workload_pacer_ended(&d->pacer, q->stage, end, &next, &at))
        push(d, at, EV_SEND, -1, next); /* the next stage starts: its first request */
    if (outcome == WP_REPORT_OK)
        d->stats->completed++;
    else
        d->stats->failed++;
    if (d->progress != NULL && d->done >= d->next_progress) {
        d->progress(d->ud, d->done, d->total);
        d->next_progress = d->done + (d->total / 100 > 0 ? d->total / 100 : 1);
    }
}

/* Pulls the next request; schedules its SEND when the pacer says (now in a closed loop,
 * at its arrival, or when its stage starts). */
static void pull_next(des_t *d, double now)
{
    if (d->source_done)
        return;
    wp_workload_req_t w;
    if (wp_workload_next(d->wl, &w) != WP_OK) {
        d->source_done = true;
        return;
    }
    dreq_t *q = req_alloc(d);
    if (q == NULL) {
        d->failure = wp_err_set(d->err, WP_ENOMEM, "out of memory for requests");
        return;
    }
    q->id = (uint64_t)w.index + 1;
    q->stage = w.stage;
    q->max_tokens = (int32_t)w.max_tokens;
    q->ids = malloc((w.n_ids ? w.n_ids : 1) * sizeof(int32_t));
    if (q->ids != NULL && w.ids != NULL)
        memcpy(q->ids, w.ids, w.n_ids * sizeof(int32_t));
    q->n_ids = (int32_t)w.n_ids;
    q->prompt_tokens = (uint32_t)w.n_ids;
    /* The text is valid only until the next pull: hash its block chain now (as the
     * gateway would at PICK) and keep the hashes for the pick. */
    q->pick.n_blocks = (uint32_t)wp_sched_hash_chain(
        d->cfg->model, NULL, w.prompt, w.prompt_len, d->cfg->sched.block_chars,
        d->cfg->sched.max_blocks, q->pick.block_hashes);
    d->closed_loop = w.arrival_s < 0;
    d->stats->requests++;
    wp_workload_pacer_item_t it = {w.arrival_s, w.stage, w.stage_start_s};
    double at;
    if (wp_workload_pacer_offer(&d->pacer, &it, q, now, &at))
        push(d, at, EV_SEND, -1, q);
    /* else held until its stage starts: record() sends it */
}

/* ---- events ---- */

static void send_now(des_t *d, double t, dreq_t *q)
{
    q->sent = t;
    d->in_flight++;
    push(d, t + d->cfg->client_latency_s, EV_PICK, -1, q);
}

/* A request's send time: sent at once, or it waits in the client's line for a slot. */
static void on_send(des_t *d, double t, dreq_t *q)
{
    if (!d->closed_loop)
        pull_next(d, t);
    bool send = false;
    wp_status_t st = wp_workload_pacer_due(&d->pacer, q, &send);
    if (st != WP_OK) {
        req_release(d, q);
        if (d->failure == WP_OK)
            d->failure = wp_err_set(d->err, st, "the client's line of requests is full");
        return;
    }
    if (send)
        send_now(d, t, q);
}

/* A request ended at the client: its slot goes to the first one waiting, if any. */
static void free_slot(des_t *d, double t)
{
    void *q;
    if (wp_workload_pacer_free_slot(&d->pacer, &q))
        push(d, t, EV_SEND_QUEUED, -1, q);
}

/* The scheduler's view of q (the decode role in a P/D pool). */
static wp_sched_request_t sched_request(const des_t *d, const dreq_t *q)
{
    return (wp_sched_request_t){.model = d->cfg->model,
                                .session_ep = -1,
                                .hashes = q->pick.block_hashes,
                                .n_hashes = q->pick.n_blocks,
                                .prompt_tokens = q->prompt_tokens,
                                .role = d->pd ? WP_SCHED_ROLE_DECODE : WP_SCHED_ROLE_BOTH};
}

/* P/D, the gateway's decider (sched/pd.h): prefill apart? Then pf_pick is the prefill
 * engine's pick. */
static bool pd_prefill_pick(des_t *d, double t, dreq_t *q)
{
    wp_sched_request_t sr = sched_request(d, q);
    wp_sched_pd_verdict_t v =
        wp_sched_pd_decide(d->sched, t, &sr, d->cfg->pd_threshold, &d->rng, &q->pf_pick);
    decide(d, t, WP_SCHED_DECISION_PD, q, &(wp_sched_decision_t){.detail = wp_sched_pd_name(v)});
    if (v != WP_SCHED_PD_DISAGGREGATE)
        return false;
    decide_pick(d, t, q, &q->pf_pick, WP_SCHED_ROLE_PREFILL);
    return true;
}

/* The gateway answers the request itself (503: no engine; 429: shed) before any engine
 * has it. Nobody will pull a prefill engine's held KV (the simulator's would expire):
 * it is released now. */
static void reject(des_t *d, dreq_t *q, wp_report_outcome_t outcome, double t)
{
    if (q->phase == PHASE_DECODE)
        wp_engine_release(d->engines[q->pf_ep].e, q->id);
    d->in_flight--;
    record(d, q, outcome, t + d->cfg->client_latency_s);
    free_slot(d, t + d->cfg->client_latency_s);
    if (d->closed_loop) /* the client's slot is free again, as in finish() */
        pull_next(d, t + d->cfg->client_latency_s);
    req_release(d, q);
}

static wp_sched_role_t room_role(const des_t *d)
{
    return d->pd ? WP_SCHED_ROLE_DECODE : WP_SCHED_ROLE_BOTH;
}

/* Carries out what admission decided: true when the request goes on to its pick now. */
static bool carry_out(des_t *d, double t, dreq_t *q, wp_sched_admit_result_t r)
{
    if (r.evicted != NULL) {
        decide(d, t, WP_SCHED_DECISION_SHED, r.evicted->ud,
               &(wp_sched_decision_t){.detail = wp_sched_shed_name(WP_SCHED_SHED_EVICTED)});
        reject(d, r.evicted->ud, WP_REPORT_HTTP_4XX, t);
    }
    switch (r.verdict) {
    case WP_SCHED_ADMIT_SEND:
        return true;
    case WP_SCHED_ADMIT_QUEUED:
        decide(d, t, WP_SCHED_DECISION_QUEUE, q, NULL);
        return false;
    case WP_SCHED_ADMIT_SHED:
        decide(d, t, WP_SCHED_DECISION_SHED, q,
               &(wp_sched_decision_t){.detail = wp_sched_shed_name(r.shed)});
        reject(d, q, WP_REPORT_HTTP_4XX, t);
        return false;
    case WP_SCHED_ADMIT_UNAVAILABLE:
    default:
        decide(d, t, WP_SCHED_DECISION_UNAVAILABLE, q, NULL);
        reject(d, q, WP_REPORT_HTTP_5XX, t);
        return false;
    }
}

static void route(des_t *d, double t, dreq_t *q);

/* Sends queued requests while an engine has room; each at most once a pass. */
static void drain(des_t *d, double t)
{
    for (uint32_t left = wp_sched_admit_pass(d->admit); left > 0; left--) {
        wp_sched_ticket_t *k = wp_sched_admit_next(d->admit, d->sched, t, room_role(d));
        if (k == NULL)
            return;
        decide(d, t, WP_SCHED_DECISION_DEQUEUE, k->ud, NULL);
        route(d, t, k->ud);
    }
}

static void expire(des_t *d, double t)
{
    wp_sched_ticket_t *k;
    while ((k = wp_sched_admit_expired(d->admit, t)) != NULL) {
        decide(d, t, WP_SCHED_DECISION_SHED, k->ud,
               &(wp_sched_decision_t){.detail = wp_sched_shed_name(WP_SCHED_SHED_QUEUE_TIMEOUT)});
        reject(d, k->ud, WP_REPORT_HTTP_4XX, t);
    }
}

/* A request reaching the gateway: sent on at once while an engine has room and nobody
 * waits, queued otherwise (no engine at all: on to the pick, which answers 503). */
static void on_pick(des_t *d, double t, dreq_t *q)
{
    if (q->phase == PHASE_DIRECT) {
        q->ticket.ud = q;
        wp_sched_admit_result_t r =
            wp_sched_admit_arrive(d->admit, d->sched, t, room_role(d), &q->ticket);
        if (!carry_out(d, t, q, r))
            return;
    }
    route(d, t, q);
}

/* No engine passed the filters: wait again (flow control), shed (429), or 503. */
static void no_pick(des_t *d, double t, dreq_t *q)
{
    wp_sched_admit_result_t r =
        wp_sched_admit_no_room(d->admit, d->sched, t, room_role(d), &q->ticket);
    if (carry_out(d, t, q, r))
        reject(d, q, WP_REPORT_HTTP_5XX, t);
}

static void route(des_t *d, double t, dreq_t *q)
{
    if (d->pd && q->phase == PHASE_DIRECT && pd_prefill_pick(d, t, q)) {
        q->phase = PHASE_PREFILL;
        q->pf_ep = q->pf_pick.endpoint;
        wp_sched_on_dispatch(d->sched, &q->pf_pick);
        push(d, t + d->cfg->engine_latency_s, EV_ADD, q->pf_ep, q);
        return;
    }
    wp_sched_request_t sr = sched_request(d, q);
    if (wp_sched_pick(d->sched, t, &sr, &d->rng, &q->pick, NULL) != WP_OK) {
        no_pick(d, t, q);
        return;
    }
    q->ep = q->pick.endpoint;
    decide_pick(d, t, q, &q->pick, sr.role);
    if (q->ep < 64)
        d->stats->picks[q->ep]++;
    wp_sched_on_dispatch(d->sched, &q->pick);
    double at = t + d->cfg->engine_latency_s;
    if (q->phase == PHASE_DECODE) { /* the decode engine pulls the KV first */
        double bytes = (double)q->prompt_tokens * d->engines[q->pf_ep].cfg->perf->kv_bytes_token;
        d->stats->kv_bytes_moved += bytes;
        at += bytes / d->cfg->kv_link_bw + d->cfg->kv_link_latency_s;
        push(d, at, EV_RELEASE, q->pf_ep, q);
    }
    push(d, at, EV_ADD, q->ep, q);
}

static void plan_step(des_t *d, int i, double t)
{
    engine_t *en = &d->engines[i];
    if (en->stepping || !wp_engine_busy(en->e))
        return;
    if (wp_engine_step(en->e, t, &en->step) != WP_OK)
        return;
    d->stats->steps++;
    d->stats->scheduled += (uint64_t)en->step.n_scheduled;
    d->stats->preemptions += (uint64_t)en->step.n_preempted;
    en->stepping = true;
    push(d, t + en->step.duration_s, EV_STEP_END, i, NULL);
}

static void finish(des_t *d, dreq_t *q, wp_report_outcome_t outcome, double at)
{
    double back = d->cfg->engine_latency_s + d->cfg->client_latency_s;
    record(d, q, outcome, at + back);
    free_slot(d, at + back);
    push(d, at + d->cfg->engine_latency_s, EV_DONE, q->ep, NULL);
    if (d->closed_loop)
        pull_next(d, at + back);
    req_release(d, q);
}

static void on_add(des_t *d, double t, dreq_t *q)
{
    int ep = q->phase == PHASE_PREFILL ? q->pf_ep : q->ep;
    wp_engine_req_t in = {.id = q->id,
                          .tokens = q->ids,
                          .n_tokens = q->n_ids,
                          .max_tokens = q->phase == PHASE_PREFILL ? 1 : q->max_tokens,
                          .hold = q->phase == PHASE_PREFILL,
                          .kv_ready = q->phase == PHASE_DECODE,
                          .arrival = t,
                          .user = q};
    if (q->ids == NULL || wp_engine_add(d->engines[ep].e, &in, NULL) != WP_OK) {
        if (q->phase == PHASE_PREFILL) { /* decode-only, as the gateway falls back */
            wp_sched_on_prefill_done(d->sched, &q->pf_pick);
            wp_sched_on_complete(d->sched, q->pf_ep);
            q->phase = PHASE_DECODE_LOCAL;
            push(d, t + d->cfg->engine_latency_s, EV_PICK, -1, q);
            return;
        }
        wp_sched_on_prefill_done(d->sched, &q->pick);
        finish(d, q, WP_REPORT_HTTP_4XX, t); /* the server would answer 400 */
        return;
    }
    if (q->phase != PHASE_PREFILL) { /* the engine keeps the block hashes, not the tokens */
        free(q->ids);
        q->ids = NULL;
    }
    plan_step(d, ep, t);
}

static void add_gap(dreq_t *q, double gap)
{
    if (q->n_itl == q->cap_itl) {
        size_t cap = q->cap_itl ? q->cap_itl * 2 : 64;
        double *v = realloc(q->itl, cap * sizeof(double));
        if (v == NULL)
            return;
        q->itl = v;
        q->cap_itl = cap;
    }
    q->itl[q->n_itl++] = gap;
}

static void on_step_end(des_t *d, double t, int i)
{
    engine_t *en = &d->engines[i];
    en->stepping = false;
    double back = d->cfg->engine_latency_s + d->cfg->client_latency_s;
    for (size_t k = 0; k < en->step.n_events; k++) {
        const wp_engine_event_t *ev = &en->step.events[k];
        dreq_t *q = ev->user;
        switch (ev->type) {
        case WP_ENGINE_EV_FIRST_TOKEN:
            if (q->phase == PHASE_PREFILL) { /* the prefill stage's one token: not the client's */
                wp_sched_on_prefill_done(d->sched, &q->pf_pick);
                q->cached = (uint32_t)ev->cached_tokens; /* the prefill side's hits */
                break;
            }
            wp_sched_on_prefill_done(d->sched, &q->pick);
            q->first = t + back;
            if (q->phase != PHASE_DECODE) /* a pulled prompt counts as the prefill side's hits */
                q->cached = (uint32_t)ev->cached_tokens;
            q->output_tokens = 1;
            q->last_token = t;
            break;
        case WP_ENGINE_EV_TOKEN:
            add_gap(q, t - q->last_token);
            q->last_token = t;
            q->output_tokens++;
            break;
        case WP_ENGINE_EV_FINISHED:
            if (q->phase == PHASE_PREFILL) { /* the gateway gets the KV params, then decodes */
                wp_sched_on_complete(d->sched, q->pf_ep);
                d->stats->disaggregated++; /* as the gateway counts it: the prefill succeeded */
                q->phase = PHASE_DECODE;
                push(d, t + d->cfg->engine_latency_s, EV_PICK, -1, q);
                break;
            }
            finish(d, q, WP_REPORT_OK, t);
            break;
        }
    }
    en->step.n_events = 0;
    plan_step(d, i, t);
}

static void on_scrape(des_t *d, double t)
{
    for (int i = 0; i < d->n; i++) {
        wp_engine_stats_t st;
        wp_engine_stats(d->engines[i].e, &st);
        wp_sched_endpoint_set_metrics(d->sched, i, t, st.num_waiting, st.num_running, st.kv_usage);
        wp_sched_endpoint_set_capacity(d->sched, i, (uint32_t)st.num_blocks);
    }
    expire(d, t);
    drain(d, t);
    if (d->in_flight > 0 || !d->source_done || wp_workload_pacer_waiting(&d->pacer) > 0)
        push(d, t + d->cfg->scrape_interval_s, EV_SCRAPE, -1, NULL);
}

static void dispatch(des_t *d, const wp_des_event_t *ev)
{
    switch (ev->type) {
    case EV_SEND:
        on_send(d, ev->t, ev->ptr);
        break;
    case EV_SEND_QUEUED:
        send_now(d, ev->t, ev->ptr);
        break;
    case EV_PICK:
        on_pick(d, ev->t, ev->ptr);
        break;
    case EV_ADD:
        on_add(d, ev->t, ev->ptr);
        break;
    case EV_STEP_END:
        on_step_end(d, ev->t, ev->index);
        break;
    case EV_DONE:
        wp_sched_on_complete(d->sched, ev->index);
        d->in_flight--;
        drain(d, ev->t);
        break;
    case EV_RELEASE:
        wp_engine_release(d->engines[ev->index].e, ((dreq_t *)ev->ptr)->id);
        break;
    case EV_SCRAPE:
        on_scrape(d, ev->t);
        break;
    }
}

/* ---- set-up and the loop ---- */

static wp_status_t setup(des_t *d, wp_err_t *err)
{
    const wp_des_config_t *cfg = d->cfg;
    /* One pool of n_engines, or the two P/D pools. */
    wp_des_pool_t single = {cfg->n_engines, cfg->engine, WP_SCHED_ROLE_BOTH};
    const wp_des_pool_t *pools = cfg->n_pools == 2 ? cfg->pools : &single;
    int n_pools = cfg->n_pools == 2 ? 2 : 1;
    d->pd = n_pools == 2;
    d->n = 0;
    for (int p = 0; p < n_pools; p++)
        d->n += pools[p].n;
    if (d->n < 1 || d->n > WP_DES_MAX_ENGINES || d->n > WP_SCHED_MAX_ENDPOINTS)
        return wp_err_set(err, WP_EINVAL, "engines must be 1..%d, got %d", WP_SCHED_MAX_ENDPOINTS,
                          d->n);
    if (d->pd && !(cfg->kv_link_bw > 0 && cfg->kv_link_latency_s >= 0))
        return wp_err_set(err, WP_EINVAL, "P/D needs a KV link bandwidth > 0");
    d->sched = wp_sched_new(&cfg->sched, err);
    if (d->sched == NULL)
        return WP_EINVAL;
    d->engines = calloc((size_t)d->n, sizeof(engine_t));
    if (d->engines == NULL)
        return wp_err_set(err, WP_ENOMEM, "out of memory");
    static const char *const prefix[] = {"engine", "prefill", "decode"};
    for (int p = 0, i = 0; p < n_pools; p++) {
        for (int k = 0; k < pools[p].n; k++, i++) {
            char name[32];
            snprintf(name, sizeof(name), "%s-%d", prefix[pools[p].role], k);
            if (wp_sched_endpoint_add(d->sched, name, pools[p].role) < 0 ||
                wp_sched_endpoint_set_limit(d->sched, i, cfg->max_in_flight) != WP_OK)
                return wp_err_set(err, WP_EINVAL, "cannot add engine %d to the scheduler", i);
            d->engines[i].cfg = d->pd ? &cfg->pools[p].engine : &cfg->engine;
            wp_status_t st = wp_engine_new(&pools[p].engine, &d->engines[i].e, err);
            if (st != WP_OK)
                return st;
        }
    }
    wp_sched_admit_cfg_t acfg = {.queue = cfg->flow_enabled,
                                 .max_queue = cfg->flow_max_queue,
                                 .queue_timeout_s = cfg->flow_queue_timeout_s,
                                 .saturation = cfg->saturation};
    d->admit = wp_sched_admit_new(&acfg, err);
    if (d->admit == NULL) /* err says which: a bad bound or no memory */
        return cfg->flow_max_queue >= 1 && cfg->flow_max_queue <= WP_SCHED_QUEUE_MAX &&
                       cfg->flow_queue_timeout_s > 0
                   ? WP_ENOMEM
                   : WP_EINVAL;
    wp_rng_seed(&d->rng, cfg->seed);
    wp_des_heap_init(&d->heap);
    return WP_OK;
}

static void teardown(des_t *d)
{
    wp_sched_ticket_t *k; /* a run that failed: what still waits */
    while (d->admit != NULL && (k = wp_sched_admit_expired(d->admit, INFINITY)) != NULL)
        req_release(d, k->ud);
    wp_sched_admit_free(d->admit);
    d->admit = NULL;
    void *ud;
    while (wp_workload_pacer_take(&d->pacer, &ud)) /* a run that failed: held or in line */
        req_release(d, ud);
    wp_workload_pacer_free(&d->pacer);
    for (int i = 0; d->engines != NULL && i < d->n; i++)
        wp_engine_free(d->engines[i].e);
    free(d->engines);
    wp_sched_free(d->sched);
    wp_des_heap_free(&d->heap);
    while (d->free_reqs != NULL) {
        dreq_t *q = d->free_reqs;
        d->free_reqs = q->next_free;
        free(q->itl);
        free(q->ids);
        free(q);
    }
}

wp_status_t wp_des_run(const wp_des_config_t *cfg, wp_workload_t *wl, wp_report_run_t *run,
                       wp_des_progress_fn progress, void *ud, wp_des_stats_t *stats, wp_err_t *err)
{
    des_t d = {.cfg = cfg,
               .wl = wl,
               .run = run,
               .stats = stats,
               .progress = progress,
               .ud = ud,
               .err = err};
    memset(stats, 0, sizeof(*stats));
    d.total = wp_workload_total(wl);
    wp_status_t st = setup(&d, err);
    if (st == WP_OK) {
        /* Token ids straight from the generator; text only as far as the scheduler hashes. */
        if (wp_workload_set_vocab(wl, cfg->vocab) != WP_OK)
            d.failure = wp_err_set(err, WP_ENOMEM, "out of memory for token ids");
        wp_workload_set_max_text_bytes(wl, (size_t)cfg->sched.block_chars * cfg->sched.max_blocks);
        push(&d, 0.0, EV_SCRAPE, -1, NULL);
        const wp_workload_spec_t *spec = wp_workload_spec(wl);
        int conc = spec->load.type == WP_WORKLOAD_LOAD_CONCURRENCY ? spec->load.concurrency : 1;
        wp_workload_pacer_config_t pc = {conc, spec->load.max_concurrency, spec->load.sequential,
                                         spec->load.interval};
        wp_workload_pacer_init(&d.pacer, &pc);
        pull_next(&d, 0.0);
        for (int k = 1; d.closed_loop && k < conc; k++)
            pull_next(&d, 0.0);
        wp_des_event_t ev;
        while (d.failure == WP_OK && wp_des_heap_pop(&d.heap, &ev)) {
            stats->events++;
            stats->end_s = ev.t;
            dispatch(&d, &ev);
        }
        st = d.failure;
        stats->queued = wp_sched_admit_waited_count(d.admit);
        for (int k = 0; k < WP_SCHED_SHED_KINDS; k++)
            stats->shed += wp_sched_admit_shed_count(d.admit, (wp_sched_shed_t)k);
    }
    teardown(&d);
    return st;
}
