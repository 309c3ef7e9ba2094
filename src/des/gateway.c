/*
 * des/gateway: the simulated gateway (see des/internal.h): what gateway/ does live, on
 * virtual events, through the same cores. Admission and the waiting room (sched/admit),
 * the P/D decision (sched/pd), the pick (sched), retries (sched/retry) and outlier
 * detection (sched/outlier); every decision goes to the decision log (sched/decision)
 * when the caller asked for one. No decision is taken here: this file wires events to
 * the cores and carries out what they say.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "des/internal.h"
#include "sched/pd.h"
#include "sched/retry.h"

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
                                .attempt = q->attempts > 0 ? q->attempts : 1};
    decide(d, t, WP_SCHED_DECISION_PICK, q, &more);
}

/* q's gateway sent it with pick: its scheduler counts it, and with share_routes the other
 * replicas learn where its blocks went. */
static void dispatched(des_t *d, const dreq_t *q, const wp_sched_pick_t *pick)
{
    wp_sched_on_dispatch(wp__des_sched(d, q), pick);
    for (int g = 0; d->cfg->share_routes && g < d->n_gw; g++)
        if (g != q->gw)
            wp_sched_learn_route(d->scheds[g], pick->endpoint, pick->block_hashes, pick->n_blocks);
}

/* Outlier detection's verdicts reach every replica's scheduler. */
static void apply_outlier(des_t *d)
{
    for (int g = 0; g < d->n_gw; g++)
        wp_sched_outlier_apply(d->outlier, d->scheds[g], d->cfg->max_in_flight);
}

/* The scheduler's view of q (the decode role in a P/D pool). */
static wp_sched_request_t sched_request(const des_t *d, const dreq_t *q)
{
    return (wp_sched_request_t){.model = d->cfg->model,
                                .session_ep = -1,
                                .hashes = q->hashes,
                                .n_hashes = q->n_hashes,
                                .kv_hashes = q->kv_hashes,
                                .n_kv_hashes = q->n_kv,
                                .kv_block_tokens = (uint32_t)d->kv_block,
                                .prompt_tokens = q->prompt_tokens,
                                .role = d->pd ? WP_SCHED_ROLE_DECODE : WP_SCHED_ROLE_BOTH,
                                .exclude = q->tried};
}

/* P/D, the gateway's decider (sched/pd.h): prefill apart? Then pf_pick is the prefill
 * engine's pick. */
static bool pd_prefill_pick(des_t *d, double t, dreq_t *q)
{
    wp_sched_request_t sr = sched_request(d, q);
    wp_sched_pd_verdict_t v =
        wp_sched_pd_decide(wp__des_sched(d, q), t, &sr, d->cfg->pd_threshold, &d->rng, &q->pf_pick);
    decide(d, t, WP_SCHED_DECISION_PD, q, &(wp_sched_decision_t){.detail = wp_sched_pd_name(v)});
    if (v != WP_SCHED_PD_DISAGGREGATE) {
        q->phase = PHASE_DECODE_LOCAL; /* decided once, as the gateway's pd_started */
        return false;
    }
    decide_pick(d, t, q, &q->pf_pick, WP_SCHED_ROLE_PREFILL);
    return true;
}

/* The gateway answers the request itself (503: no engine; 429: shed; an engine's error
 * passed on) before any byte reached the client. Nobody will pull a prefill engine's held KV (the
 * simulator's would expire): it is released now. */
static void drain(des_t *d, double t);

static void reject(des_t *d, dreq_t *q, wp_report_outcome_t outcome, double t)
{
    if (q->phase == PHASE_DECODE && !q->kv_pulled) {
        wp_engine_release(d->engines[q->pf_ep].e, q->id);
        wp__des_plan_step(d, q->pf_ep, t);
    }
    d->in_flight--;
    wp__des_end(d, q, outcome, t + d->cfg->client_latency_s);
    drain(d, t); /* the gateway finished a request: as gateway/proxy.c's finish */
}

/* Answers q without draining: the caller drains when it is done. */
static void reject_held(des_t *d, dreq_t *q, wp_report_outcome_t outcome, double t)
{
    bool was = wp_sched_admit_hold(d->admit);
    reject(d, q, outcome, t);
    wp_sched_admit_unhold(d->admit, was);
}

static wp_sched_role_t room_role(const des_t *d)
{
    return d->pd ? WP_SCHED_ROLE_DECODE : WP_SCHED_ROLE_BOTH;
}

/* Carries out what admission decided: true when the request goes on to its pick now. As
 * gateway/flow.c: a request queued in place of an evicted one is logged first. */
static bool carry_out(des_t *d, double t, dreq_t *q, wp_sched_admit_result_t r)
{
    switch (r.verdict) {
    case WP_SCHED_ADMIT_SEND:
        return true;
    case WP_SCHED_ADMIT_QUEUED:
        decide(d, t, WP_SCHED_DECISION_QUEUE, q, NULL);
        if (r.evicted != NULL) {
            decide(d, t, WP_SCHED_DECISION_SHED, r.evicted->ud,
                   &(wp_sched_decision_t){.detail = wp_sched_shed_name(WP_SCHED_SHED_EVICTED)});
            reject_held(d, r.evicted->ud, WP_REPORT_HTTP_4XX, t);
        }
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

/* The time of the drain running (send_queued's): drains never nest, so one is enough. */
typedef struct drain_ctx_s {
    des_t *d;
    double t;
} drain_ctx_t;

static void send_queued(void *ud, wp_sched_ticket_t *k)
{
    drain_ctx_t *c = ud;
    decide(c->d, c->t, WP_SCHED_DECISION_DEQUEUE, k->ud, NULL);
    route(c->d, c->t, k->ud);
}

/* Sends queued requests while an engine has room, at the points gateway/flow.c drains
 * (a request joined, the gateway finished one, a tick). */
static void drain(des_t *d, double t)
{
    drain_ctx_t c = {d, t};
    wp_sched_admit_drain(d->admit, d->sched, t, room_role(d), send_queued, &c);
}

/* Every request past its deadline is shed before the tick's drain. */
static void expire(des_t *d, double t)
{
    wp_sched_ticket_t *k;
    while ((k = wp_sched_admit_expired(d->admit, t)) != NULL) {
        decide(d, t, WP_SCHED_DECISION_SHED, k->ud,
               &(wp_sched_decision_t){.detail = wp_sched_shed_name(WP_SCHED_SHED_QUEUE_TIMEOUT)});
        reject_held(d, k->ud, WP_REPORT_HTTP_4XX, t);
    }
}

/* A request reaching the gateway: sent on at once while an engine has room and nobody
 * waits, queued otherwise (no engine at all: on to the pick, which answers 503). */
/* Scale-to-zero's timeout or a full hold: 503. */
static void wake_timeout(des_t *d, double t, dreq_t *q)
{
    reject(d, q, WP_REPORT_HTTP_5XX, t);
}

void wp__des_gw_arrive(des_t *d, double t, dreq_t *q)
{
    bool rejected;
    if (q->phase == PHASE_DIRECT && !wp__des_wake_arrive(d, t, q, &rejected)) {
        if (rejected)
            wake_timeout(d, t, q);
        return;
    }
    if (q->phase == PHASE_DIRECT) {
        q->ticket.ud = q;
        wp_sched_admit_result_t r =
            wp_sched_admit_arrive(d->admit, wp__des_sched(d, q), t, room_role(d), &q->ticket);
        if (!carry_out(d, t, q, r)) {
            if (r.verdict == WP_SCHED_ADMIT_QUEUED)
                drain(d, t); /* it joined: room may be there for those ahead of it */
            return;
        }
    }
    route(d, t, q);
}

/* No engine passed the filters. A retry with nothing left to try: the client hears the
 * last failure. A first pick: wait again (flow control), shed (429), or 503. */
static void no_pick(des_t *d, double t, dreq_t *q)
{
    if (q->attempts > 1) {
        reject(d, q, q->fail_status >= 500 ? WP_REPORT_HTTP_5XX : WP_REPORT_HTTP_4XX, t);
        return;
    }
    q->attempts = 0; /* waiting for room: its next pick is a first attempt again */
    wp_sched_admit_result_t r =
        wp_sched_admit_no_room(d->admit, wp__des_sched(d, q), t, room_role(d), &q->ticket);
    if (carry_out(d, t, q, r))
        reject(d, q, WP_REPORT_HTTP_5XX, t);
}

static void route(des_t *d, double t, dreq_t *q)
{
    if (d->pd && q->phase == PHASE_DIRECT && pd_prefill_pick(d, t, q)) {
        q->phase = PHASE_PREFILL;
        q->pf_ep = q->pf_pick.endpoint;
        dispatched(d, q, &q->pf_pick);
        wp__des_push(d, t + d->cfg->engine_latency_s, EV_ADD, q->pf_ep, q);
        return;
    }
    q->attempts++;
    wp_sched_request_t sr = sched_request(d, q);
    if (wp_sched_pick(wp__des_sched(d, q), t, &sr, &d->rng, &q->pick, NULL) != WP_OK) {
        no_pick(d, t, q);
        return;
    }
    q->ep = q->pick.endpoint;
    q->tried[q->ep / 64] |= 1ULL << (q->ep % 64);
    decide_pick(d, t, q, &q->pick, sr.role);
    if (q->ep < 64)
        d->stats->picks[q->ep]++;
    dispatched(d, q, &q->pick);
    double at = t + d->cfg->engine_latency_s;
    if (q->phase == PHASE_DECODE && !q->kv_pulled) { /* the decode engine pulls the KV first */
        q->kv_pulled = true;
        double bytes = (double)q->prompt_tokens * d->engines[q->pf_ep].cfg->perf->kv_bytes_token;
        d->stats->kv_bytes_moved += bytes;
        at += bytes / d->cfg->kv_link_bw + d->cfg->kv_link_latency_s;
        wp__des_push(d, at, EV_RELEASE, q->pf_ep, q);
    }
    wp__des_push(d, at, EV_ADD, q->ep, q);
}

/* ---- outcomes: retries and outlier detection ---- */

/* Outlier detection hears of an outcome on engine ep; what it decides is logged and
 * pushed into the scheduler. */
static void judge(des_t *d, double t, int ep, bool fault)
{
    double for_s = 0;
    wp_sched_outlier_event_t ev = wp_sched_outlier_note(d->outlier, ep, fault, t, &for_s);
    if (ev == WP_SCHED_OUTLIER_NONE)
        return;
    decide(
        d, t, wp_sched_decision_of_outlier(ev), NULL,
        &(wp_sched_decision_t){.endpoint = wp_sched_endpoint_name(d->sched, ep), .seconds = for_s});
    apply_outlier(d);
}

void wp__des_gw_done(des_t *d, double t, dreq_t *q)
{
    wp_sched_on_complete(wp__des_sched(d, q), &q->pick);
    d->in_flight--;
    judge(d, t, q->ep, false);
    drain(d, t);
}

void wp__des_gw_failed(des_t *d, double t, dreq_t *q, int ep)
{
    int status = q->fail_status;
    bool prefill = q->phase == PHASE_PREFILL;
    const wp_sched_pick_t *pick = prefill ? &q->pf_pick : &q->pick;
    wp_sched_on_prefill_done(wp__des_sched(d, q), pick);
    wp_sched_on_complete(wp__des_sched(d, q), pick);
    if (prefill) { /* as gateway/pd.c: a 4xx is the client's, anything else falls back */
        wp_sched_pd_prefill_t o = wp_sched_pd_prefill_outcome(status);
        if (o.judged)
            judge(d, t, ep, o.fault);
        if (o.to_client) {
            reject(d, q, WP_REPORT_HTTP_4XX, t);
            return;
        }
        q->phase = PHASE_DECODE_LOCAL;
        route(d, t, q);
        return;
    }
    wp_sched_retry_t r = wp_sched_retry_decide(status, q->attempts, d->cfg->retries, false);
    if (r.judged)
        judge(d, t, ep, r.fault);
    if (r.retry) {
        decide(d, t, WP_SCHED_DECISION_RETRY, q,
               &(wp_sched_decision_t){.endpoint = wp_sched_endpoint_name(d->sched, ep),
                                      .status = status});
        q->fail_status = r.status;
        route(d, t, q);
    } else {
        reject(d, q, r.status >= 500 ? WP_REPORT_HTTP_5XX : WP_REPORT_HTTP_4XX, t);
    }
}

void wp__des_gw_prefilled(des_t *d, double t, dreq_t *q)
{
    wp_sched_on_complete(wp__des_sched(d, q), &q->pf_pick);
    judge(d, t, q->pf_ep, false); /* a prefill answered 200: a success, as gateway/pd.c hears */
    d->stats->disaggregated++;    /* as the gateway counts it: the prefill succeeded */
    q->phase = PHASE_DECODE;
    route(d, t, q);
}

void wp__des_gw_tick(des_t *d, double t)
{
    for (int i = 0; i < d->n; i++) {
        wp_sched_outlier_event_t ev = wp_sched_outlier_tick(d->outlier, i, t);
        if (ev != WP_SCHED_OUTLIER_NONE)
            decide(d, t, wp_sched_decision_of_outlier(ev), NULL,
                   &(wp_sched_decision_t){.endpoint = wp_sched_endpoint_name(d->sched, i)});
    }
    apply_outlier(d);
    expire(d, t);
    wp__des_wake_tick(d, t, wake_timeout);
    drain(d, t);
}

/* ---- set-up ---- */

wp_status_t wp__des_gw_setup(des_t *d, wp_err_t *err)
{
    const wp_des_config_t *cfg = d->cfg;
    d->admit = wp_sched_admit_new(&cfg->admit, err);
    if (d->admit == NULL) /* err says which: a bad bound or no memory */
        return cfg->admit.max_queue >= 1 && cfg->admit.max_queue <= WP_SCHED_QUEUE_MAX &&
                       cfg->admit.queue_timeout_s > 0
                   ? WP_ENOMEM
                   : WP_EINVAL;
    d->outlier = wp_sched_outlier_new(d->n, &cfg->outlier, err);
    if (d->outlier == NULL)
        return WP_ENOMEM;
    apply_outlier(d);
    return WP_OK;
}

void wp__des_gw_teardown(des_t *d)
{
    wp_sched_ticket_t *k; /* a run that failed: what still waits */
    while (d->admit != NULL && (k = wp_sched_admit_expired(d->admit, INFINITY)) != NULL)
        wp__des_release(d, k->ud);
    wp_sched_admit_free(d->admit);
    d->admit = NULL;
    wp_sched_outlier_free(d->outlier);
    d->outlier = NULL;
}
