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
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "des/internal.h"
#include "stats/stats.h"

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
    wp_sched_admit_cfg_default(&cfg->admit); /* the gateway's defaults */
    wp_sched_outlier_cfg_default(&cfg->outlier);
    cfg->retries = 2;
    cfg->fault_replicas = ~0ULL;
}

void wp__des_push(des_t *d, double t, int type, int index, void *ptr)
{
    if (wp_des_heap_push(&d->heap, t, type, index, ptr) != WP_OK && d->failure == WP_OK)
        d->failure = wp_err_set(d->err, WP_ENOMEM, "out of memory for the event queue");
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
        uint64_t *hashes = q->hashes, *kv_hashes = q->kv_hashes;
        size_t cap_hashes = q->cap_hashes, cap_kv = q->cap_kv;
        memset(q, 0, sizeof(*q));
        q->ids = ids;
        q->itl = itl;
        q->cap_itl = cap;
        q->hashes = hashes;
        q->cap_hashes = cap_hashes;
        q->kv_hashes = kv_hashes;
        q->cap_kv = cap_kv;
        return q;
    }
    return calloc(1, sizeof(dreq_t));
}

void wp__des_release(des_t *d, dreq_t *q)
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
        .warmup = q->warmup,
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
    if (!q->warmup)
        d->stats->cached_tokens += q->cached;
    d->done++;
    void *next;
    double at;
    if (wp_workload_pacer_ended(&d->pacer, end, &next, &at))
        wp__des_push(d, at, EV_SEND, -1, next); /* the next phase starts: its first request */
    if (outcome == WP_REPORT_OK)
        d->stats->completed++;
    else
        d->stats->failed++;
    if (d->progress != NULL && d->done >= d->next_progress) {
        d->progress(d->ud, d->done, d->total);
        d->next_progress = d->done + (d->total / 100 > 0 ? d->total / 100 : 1);
    }
}

/* The prompt's blocks as the engines hash them, for precise-prefix (what their KV events
 * name) and the oracle: the same chain an engine computes at wp_engine_add. */
static wp_status_t kv_chain(des_t *d, dreq_t *q, const wp_workload_req_t *w)
{
    size_t need = w->n_ids / (size_t)d->kv_block;
    if (need > q->cap_kv) {
        uint64_t *h = realloc(q->kv_hashes, need * sizeof(uint64_t));
        if (h == NULL)
            return d->failure =
                       wp_err_set(d->err, WP_ENOMEM, "out of memory for a prompt's hashes");
        q->kv_hashes = h;
        q->cap_kv = need;
    }
    q->n_kv =
        w->ids ? wp_engine_hash_prompt(w->ids, w->n_ids, d->kv_block, 0, q->kv_hashes, need) : 0;
    return WP_OK;
}

/* Pulls the next request; schedules its SEND when the pacer says (now in a closed loop,
 * at its arrival, or when its phase starts: after the warm-up, or its sequential stage). */
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
    q->gw = (int)(w.index % (size_t)d->n_gw);
    q->stage = w.stage;
    q->warmup = w.warmup;
    q->max_tokens = (int32_t)w.max_tokens;
    q->ids = malloc((w.n_ids ? w.n_ids : 1) * sizeof(int32_t));
    if (q->ids != NULL && w.ids != NULL)
        memcpy(q->ids, w.ids, w.n_ids * sizeof(int32_t));
    q->n_ids = (int32_t)w.n_ids;
    q->prompt_tokens = (uint32_t)w.n_ids;
    /* The text is valid only until the next pull: hash its block chain now (as the
     * gateway would at PICK) and keep the hashes for the picks. */
    size_t need = wp_sched_chain_blocks(d->sched, w.prompt_len);
    if (need > q->cap_hashes) {
        uint64_t *h = realloc(q->hashes, need * sizeof(uint64_t));
        if (h == NULL) {
            d->failure = wp_err_set(d->err, WP_ENOMEM, "out of memory for a prompt's hashes");
            wp__des_release(d, q);
            return;
        }
        q->hashes = h;
        q->cap_hashes = need;
    }
    q->n_hashes = wp_sched_hash_prompt(d->sched, d->cfg->model, NULL, w.prompt, w.prompt_len,
                                       q->hashes, q->cap_hashes);
    if (kv_chain(d, q, &w) != WP_OK) {
        wp__des_release(d, q);
        return;
    }
    wp__des_oracle_add(&d->oracle, q->kv_hashes, q->n_kv, q->prompt_tokens, (uint32_t)d->kv_block,
                       !q->warmup);
    d->closed_loop = w.arrival_s < 0;
    d->pulled++;
    d->stats->requests++;
    wp_workload_pacer_item_t it = {w.arrival_s, w.stage, w.stage_start_s, w.warmup};
    double at;
    if (wp_workload_pacer_offer(&d->pacer, &it, q, now, &at))
        wp__des_push(d, at, EV_SEND, -1, q);
    /* else held until its phase starts: record() sends it */
}

/* A closed loop pulls until `concurrency` requests are pulled and not ended (sent, in the
 * client's line, or held until the warm-up drains), but never past a held one: the others
 * are pulled when it is handed back. */
static void fill_closed_loop(des_t *d, double now)
{
    while (d->closed_loop && !d->source_done && d->failure == WP_OK && d->pulled < d->concurrency &&
           !wp_workload_pacer_holding(&d->pacer))
        pull_next(d, now);
}

/* ---- events ---- */

static void send_now(des_t *d, double t, dreq_t *q)
{
    q->sent = t;
    d->in_flight++;
    wp__des_push(d, t + d->cfg->client_latency_s, EV_PICK, -1, q);
}

/* A request's send time: sent at once, or it waits in the client's line for a slot. */
static void on_send(des_t *d, double t, dreq_t *q)
{
    if (!d->closed_loop)
        pull_next(d, t);
    bool send = false;
    wp_status_t st = wp_workload_pacer_due(&d->pacer, q, &send);
    if (st != WP_OK) {
        wp__des_release(d, q);
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
        wp__des_push(d, t, EV_SEND_QUEUED, -1, q);
}

/* q ended at the client at time t: recorded, its slot freed, the next one pulled. */
static void answered(des_t *d, dreq_t *q, wp_report_outcome_t outcome, double t)
{
    record(d, q, outcome, t);
    free_slot(d, t);
    d->pulled--;
    fill_closed_loop(d, t); /* the client's slot is free again */
}

void wp__des_end(des_t *d, dreq_t *q, wp_report_outcome_t outcome, double t)
{
    answered(d, q, outcome, t);
    wp__des_release(d, q);
}

void wp__des_plan_step(des_t *d, int i, double t)
{
    dgroup_t *g = &d->groups[d->engines[i].group];
    if (g->stepping || !wp_group_busy(g->core))
        return;
    if (wp_group_step(g->core, t, &g->step) != WP_OK || g->step.n_scheduled == 0)
        return; /* blocked on held KV: planned again when blocks are freed */
    d->stats->steps += (uint64_t)g->step.n_ranks; /* every rank of a group steps */
    for (int k = 0; k < g->step.n_ranks; k++) {
        d->stats->scheduled += (uint64_t)g->step.ranks[k].n_scheduled;
        d->stats->preemptions += (uint64_t)g->step.ranks[k].n_preempted;
    }
    g->stepping = true;
    wp__des_spot_busy(d, d->engines[i].group, g->step.duration_s);
    wp__des_push(d, t + g->step.duration_s, EV_STEP_END, d->engines[i].group, NULL);
}

/* The engine finished q at `at`: the client hears it a round trip later, the gateway
 * (EV_DONE, which releases q: the completion names its pick) an engine latency later. */
static void finish(des_t *d, dreq_t *q, wp_report_outcome_t outcome, double at)
{
    double back = d->cfg->engine_latency_s + d->cfg->client_latency_s;
    wp__des_push(d, at + d->cfg->engine_latency_s, EV_DONE, q->ep, q);
    answered(d, q, outcome, at + back);
}

/* An engine with faults draws for every request, as `wellpath sim` does for each one its
 * replica gets: an error is answered at once (the gateway sees it an engine latency
 * later). true: q was answered so. */
static bool injected_error(des_t *d, double t, dreq_t *q, int ep)
{
    engine_t *en = &d->engines[ep];
    if (!en->faulty)
        return false;
    wp_fault_decision_t dec;
    wp_fault_decide(&d->cfg->faults, &en->fault_rng, ++en->fault_requests, &dec);
    if (dec.status == 0)
        return false;
    d->stats->faults_injected++;
    q->fail_status = dec.status;
    wp__des_push(d, t + d->cfg->engine_latency_s, EV_FAIL, ep, q);
    return true;
}

static void on_add(des_t *d, double t, dreq_t *q)
{
    int ep = q->phase == PHASE_PREFILL ? q->pf_ep : q->ep;
    if (injected_error(d, t, q, ep))
        return;
    wp_engine_req_t in = {.id = q->id,
                          .tokens = q->ids,
                          .n_tokens = q->n_ids,
                          .max_tokens = q->phase == PHASE_PREFILL ? 1 : q->max_tokens,
                          .hold = q->phase == PHASE_PREFILL,
                          .kv_ready = q->phase == PHASE_DECODE,
                          .arrival = t,
                          .user = q};
    if (q->ids == NULL || wp_engine_add(d->engines[ep].e, &in, NULL) != WP_OK) {
        /* The server answers 400 (too long for its context, or no memory to hold it);
         * the gateway takes it as any answer of that engine (des/gateway.c). */
        q->fail_status = 400;
        wp__des_push(d, t + d->cfg->engine_latency_s, EV_FAIL, ep, q);
        return;
    }
    if (q->phase != PHASE_PREFILL) { /* the engine keeps the block hashes, not the tokens */
        free(q->ids);
        q->ids = NULL;
    }
    wp__des_plan_step(d, ep, t);
}

static void add_gap(dreq_t *q, double gap)
{
    wp_stats_append(&q->itl, &q->n_itl, &q->cap_itl, gap); /* no memory: one gap fewer */
}

static void on_event(des_t *d, double t, const wp_engine_event_t *ev)
{
    double back = d->cfg->engine_latency_s + d->cfg->client_latency_s;
    dreq_t *q = ev->user;
    switch (ev->type) {
    case WP_ENGINE_EV_FIRST_TOKEN:
        if (q->phase == PHASE_PREFILL) { /* the prefill stage's one token: not the client's */
            wp_sched_on_prefill_done(wp__des_sched(d, q), &q->pf_pick);
            q->cached = (uint32_t)ev->cached_tokens; /* the prefill side's hits */
            break;
        }
        wp_sched_on_prefill_done(wp__des_sched(d, q), &q->pick);
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
            wp__des_push(d, t + d->cfg->engine_latency_s, EV_PREFILLED, q->pf_ep, q);
            break;
        }
        finish(d, q, WP_REPORT_OK, t);
        break;
    }
}

/* Engine ep's KV events of a step reach the scheduler's KV view (as a live gateway's
 * subscriber applies a server's batch; here with no delay). A lost event makes the view
 * start over, as a resync does. */
static void apply_kv_events(des_t *d, int ep, const wp_engine_step_t *st)
{
    for (int g = 0; g < d->n_gw; g++) {
        wp_sched_kv_t *kv = wp_sched_kv(d->scheds[g]);
        if (st->kv_events_lost > 0)
            wp_sched_kv_clear(kv, ep);
        for (size_t i = 0; i < st->n_kv_events; i++) {
            const wp_engine_kv_event_t *ev = &st->kv_events[i];
            wp_sched_medium_t m = ev->cpu ? WP_SCHED_MEDIUM_CPU : WP_SCHED_MEDIUM_GPU;
            if (ev->type == WP_ENGINE_KV_STORED)
                wp_sched_kv_store(kv, ep, m, &ev->hash, 1);
            else
                wp_sched_kv_remove(kv, ep, m, &ev->hash, 1);
        }
    }
}

/* Group gi's step ended at t: every rank's tokens are delivered, the next step planned. */
static void on_step_end(des_t *d, double t, int gi)
{
    dgroup_t *g = &d->groups[gi];
    g->stepping = false;
    for (int k = 0; k < g->step.n_ranks; k++) {
        const wp_engine_step_t *st = &g->step.ranks[k];
        apply_kv_events(d, g->first + k, st);
        for (size_t i = 0; i < st->n_events; i++)
            on_event(d, t, &st->events[i]);
    }
    g->step.n_ranks = 0;
    wp__des_plan_step(d, g->first, t);
}

static void on_scrape(des_t *d, double t)
{
    for (int i = 0; i < d->n; i++) {
        wp_engine_stats_t st;
        wp_engine_stats(d->engines[i].e, &st);
        for (int g = 0; g < d->n_gw; g++) {
            wp_sched_endpoint_set_metrics(d->scheds[g], i, t, st.num_waiting, st.num_running,
                                          st.kv_usage);
            wp_sched_endpoint_set_capacity(d->scheds[g], i, (uint32_t)st.num_blocks);
        }
    }
    wp__des_gw_tick(d, t);
    if (d->in_flight > 0 || !d->source_done || wp_workload_pacer_waiting(&d->pacer) > 0)
        wp__des_push(d, t + d->cfg->scrape_interval_s, EV_SCRAPE, -1, NULL);
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
        wp__des_gw_arrive(d, ev->t, ev->ptr);
        break;
    case EV_ADD:
        on_add(d, ev->t, ev->ptr);
        break;
    case EV_STEP_END:
        on_step_end(d, ev->t, ev->index);
        break;
    case EV_DONE:
        wp__des_gw_done(d, ev->t, ev->ptr);
        wp__des_release(d, ev->ptr);
        break;
    case EV_FAIL:
        wp__des_gw_failed(d, ev->t, ev->ptr, ev->index);
        break;
    case EV_PREFILLED:
        wp__des_gw_prefilled(d, ev->t, ev->ptr);
        break;
    case EV_RELEASE:
        wp_engine_release(d->engines[ev->index].e, ((dreq_t *)ev->ptr)->id);
        wp__des_plan_step(d, ev->index, ev->t);
        break;
    case EV_SCRAPE:
        on_scrape(d, ev->t);
        break;
    case EV_WOKE:
        wp__des_wake_woke(d, ev->t);
        break;
    case EV_SPOT:
        wp__des_spot_event(d, ev->t, ev->index);
        break;
    }
}

/* ---- set-up and the loop ---- */

/* The faults an engine answers in virtual time: errors before any work. The others need
 * a connection to hang, cut or crash, which only `wellpath sim` has. */
static wp_status_t check_faults(const wp_fault_set_t *set, wp_err_t *err)
{
    for (int i = 0; i < set->n; i++) {
        if (wp_fault_status(set->f[i].kind) == 0)
            return wp_err_set(err, WP_EINVAL,
                              "fault '%s' is not simulated in virtual time (429, 500, 503 and "
                              "context-length are; run it live with `wellpath up`)",
                              wp_fault_kind_name(set->f[i].kind));
    }
    return WP_OK;
}

/* A group of `ranks` engines of pool pl, its rank 0 at engine `first`. */
static wp_status_t group_new(des_t *d, const wp_des_pool_t *pl, int ranks, int first, wp_err_t *err)
{
    dgroup_t *g = &d->groups[d->n_groups];
    wp_group_config_t gc = {.ranks = ranks, .engine = pl->engine, .ep = ranks > 1 ? pl->ep : NULL};
    gc.engine.kv_events = d->kv_events;
    wp_status_t st = wp_group_new(&gc, &g->core, err);
    if (st != WP_OK)
        return st;
    g->first = first;
    g->n = ranks;
    d->n_groups++;
    return WP_OK;
}

static wp_status_t setup(des_t *d, wp_err_t *err)
{
    const wp_des_config_t *cfg = d->cfg;
    /* One pool of n_engines, or the two P/D pools. */
    wp_des_pool_t single = {cfg->n_engines, cfg->engine, WP_SCHED_ROLE_BOTH, cfg->ranks, cfg->ep};
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
    d->n_gw = cfg->gateways > 0 ? cfg->gateways : 1;
    if (d->n_gw > WP_DES_MAX_GATEWAYS)
        return wp_err_set(err, WP_EINVAL, "gateway replicas must be 1..%d, got %d",
                          WP_DES_MAX_GATEWAYS, d->n_gw);
    if (d->n_gw > 1 && cfg->admit.queue)
        return wp_err_set(err, WP_EINVAL,
                          "flow control with %d gateway replicas is not simulated (each would "
                          "keep its own waiting room); use one gateway or turn flowControl off",
                          d->n_gw);
    for (int g = 0; g < d->n_gw; g++)
        if ((d->scheds[g] = wp_sched_new(&cfg->sched, err)) == NULL)
            return WP_EINVAL;
    d->sched = d->scheds[0];
    d->kv_events = wp_sched_reads_kv_events(d->sched);
    d->kv_block = pools[n_pools - 1].engine.block_size; /* the decode side's, in P/D */
    d->engines = calloc((size_t)d->n, sizeof(engine_t));
    d->groups = calloc((size_t)d->n, sizeof(dgroup_t));
    if (d->engines == NULL || d->groups == NULL)
        return wp_err_set(err, WP_ENOMEM, "out of memory");
    static const char *const prefix[] = {"engine", "prefill", "decode"};
    for (int p = 0, i = 0; p < n_pools; p++) {
        int ranks = pools[p].ranks > 1 ? pools[p].ranks : 1;
        if (pools[p].n % ranks != 0)
            return wp_err_set(err, WP_EINVAL, "%s pool: %d engines are not groups of %d ranks",
                              prefix[pools[p].role], pools[p].n, ranks);
        for (int k = 0; k < pools[p].n; k++, i++) {
            if (k % ranks == 0) {
                wp_status_t st = group_new(d, &pools[p], ranks, i, err);
                if (st != WP_OK)
                    return st;
            }
            char name[32];
            snprintf(name, sizeof(name), "%s-%d", prefix[pools[p].role], k);
            for (int g = 0; g < d->n_gw; g++) {
                if (wp_sched_endpoint_add(d->scheds[g], name, pools[p].role) < 0)
                    return wp_err_set(err, WP_EINVAL, "cannot add engine %d to the scheduler", i);
                wp_sched_endpoint_set_kv_events(d->scheds[g], i, d->kv_events);
            }
            /* Replica k of its pool, as `wellpath up` runs one `wellpath sim` per pool. */
            engine_t *en = &d->engines[i];
            en->faulty = cfg->faults.n > 0 && k < 64 && (cfg->fault_replicas >> k & 1);
            wp_rng_seed(&en->fault_rng, cfg->seed * 0x9e3779b97f4a7c15ULL + (uint64_t)k);
            en->cfg = d->pd ? &cfg->pools[p].engine : &cfg->engine;
            en->group = d->n_groups - 1;
            en->e = wp_group_engine(d->groups[en->group].core, k % ranks);
            /* A wide-EP group's ranks share one scheduler group, named by its first rank. */
            for (int g = 0; ranks > 1 && g < d->n_gw; g++)
                wp_sched_endpoint_set_group(d->scheds[g], i, d->groups[en->group].first);
        }
    }
    wp_status_t st = check_faults(&cfg->faults, err);
    if (st != WP_OK || (st = wp__des_gw_setup(d, err)) != WP_OK)
        return st;
    wp_rng_seed(&d->rng, cfg->seed);
    wp_des_heap_init(&d->heap);
    wp__des_wake_setup(d);
    return wp__des_spot_start(d, err);
}

static void teardown(des_t *d)
{
    for (size_t i = 0; i < d->n_held; i++) /* a run that failed: still held */
        wp__des_release(d, d->held[i]);
    wp__des_wake_free(d);
    wp__des_oracle_free(&d->oracle);
    wp__des_spot_free(d);
    wp__des_gw_teardown(d);
    void *ud;
    while (wp_workload_pacer_take(&d->pacer, &ud)) /* a run that failed: held or in line */
        wp__des_release(d, ud);
    wp_workload_pacer_free(&d->pacer);
    for (int i = 0; d->groups != NULL && i < d->n_groups; i++)
        wp_group_free(d->groups[i].core);
    free(d->groups);
    free(d->engines);
    for (int g = 0; g < d->n_gw; g++)
        wp_sched_free(d->scheds[g]);
    wp_des_heap_free(&d->heap);
    while (d->free_reqs != NULL) {
        dreq_t *q = d->free_reqs;
        d->free_reqs = q->next_free;
        free(q->itl);
        free(q->ids);
        free(q->hashes);
        free(q->kv_hashes);
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
        /* Token ids straight from the generator; text only as far as the scheduler hashes
         * (all of it for a policy that sees the whole prompt: no cap). */
        if (wp_workload_set_vocab(wl, cfg->vocab) != WP_OK)
            d.failure = wp_err_set(err, WP_ENOMEM, "out of memory for token ids");
        size_t horizon = wp_sched_horizon(d.sched);
        wp_workload_set_max_text_bytes(
            wl, horizon == SIZE_MAX ? 0 : horizon * (size_t)cfg->sched.block_chars);
        wp__des_push(&d, 0.0, EV_SCRAPE, -1, NULL);
        const wp_workload_spec_t *spec = wp_workload_spec(wl);
        int conc = spec->load.type == WP_WORKLOAD_LOAD_CONCURRENCY ? spec->load.concurrency : 1;
        wp_workload_pacer_config_t pc = {conc, spec->load.max_concurrency, spec->load.sequential,
                                         spec->load.interval};
        wp_workload_pacer_init(&d.pacer, &pc);
        d.concurrency = (size_t)(conc > 0 ? conc : 1);
        pull_next(&d, 0.0);
        fill_closed_loop(&d, 0.0);
        wp_des_event_t ev;
        while (d.failure == WP_OK && wp_des_heap_pop(&d.heap, &ev)) {
            stats->events++;
            if (ev.type != EV_SPOT) /* spot events do not make the run longer */
                stats->end_s = ev.t;
            dispatch(&d, &ev);
        }
        wp__des_spot_finish(&d);
        st = d.failure;
        stats->queued = wp_sched_admit_waited_count(d.admit);
        stats->asleep_s = wp_sched_wake_asleep_seconds(&d.wake, stats->end_s);
        stats->sleeps = d.wake.sleeps;
        stats->wakes = d.wake.wakes;
        stats->oracle_hit_tokens = d.oracle.hit_tokens;
        stats->oracle_prompt_tokens = d.oracle.prompt_tokens;
        stats->oracle_failed = d.oracle.failed;
        for (int k = 0; k < WP_SCHED_SHED_KINDS; k++)
            stats->shed += wp_sched_admit_shed_count(d.admit, (wp_sched_shed_t)k);
    }
    teardown(&d);
    return st;
}
