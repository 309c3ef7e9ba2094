/*
 * gateway/flow: the wiring of admission and the waiting room (sched/admit.h decides; this
 * file reads the loop's clock, answers 429/503 and dispatches what the core hands back).
 *
 * A request's ticket carries its priority (the body's `priority`, vLLM's convention:
 * lower first; the X-Wellpath-Priority header overrides it) and its fairness key (the
 * x-gateway-inference-fairness-id header, hashed; none: the default flow). The queue is
 * drained when room may have appeared, at the same points as the simulator drains it
 * (des/gateway.c): a request joined at its arrival, the gateway finished a request
 * (answered, shed, failed), a tick (after shedding, all at once, those that waited
 * queue_timeout_ms). A drain never runs inside another or inside an answer the drain
 * itself gives: it goes round once more instead.
 *
 * P/D: room is the decode endpoints'. A request in its prefill stage holds no decode slot
 * yet, so when its decode pick then finds every decode endpoint at its limit it waits
 * again (wp__gw_flow_no_room) with its first deadline, and goes on to the decode stage
 * when room appears (its prefill is not run again).
 *
 * Several workers (gateway.workers): each has its own queue over the one view of the pool
 * they share (workers.c), and the queues behave as one (sched/admit.h, "Several queues").
 * Before admission decides, it reads what the other workers' queues hold; after each change
 * of its queue, it publishes what it holds. A request goes before no better one queued on
 * another worker (a worker whose best got worse tells the others to look again), maxQueue
 * counts every worker's, and a newcomer that outranks the worst of them all has that one
 * evicted on the worker that holds it. A slot freed on one worker reaches the others with its
 * completion, and each drains then.
 */
#include "gateway/internal.h"

#include <stdint.h>
#include <stdio.h>

#include "base/hash.h"

wp_status_t wp__gw_flow_configure(wp_gateway_t *gw, wp_err_t *err)
{
    wp_sched_admit_cfg_t c = wp_gateway_admit_cfg(&gw->cfg.flow);
    if (gw->admit == NULL) {
        gw->admit = wp_sched_admit_new(&c, err);
        return gw->admit != NULL ? WP_OK : WP_EINVAL;
    }
    return wp_sched_admit_configure(gw->admit, &c, err);
}

void wp__gw_flow_free(wp_gateway_t *gw)
{
    wp_sched_admit_free(gw->admit);
    gw->admit = NULL;
}

/* Admission reads what the other workers' queues hold ... */
static void look_around(wp_gateway_t *gw)
{
    if (gw->hub != NULL && (gw->cfg.flow.enabled || !gw->told_empty))
        wp_sched_admit_set_others(gw->admit, wp__gw_workers_queues(gw));
}

/* ... and they learn what this worker's holds, after each change of it (an empty queue once:
 * the hot path of a gateway without flow control writes nothing shared). */
static void tell_around(wp_gateway_t *gw)
{
    if (gw->hub == NULL)
        return;
    wp_sched_admit_others_t mine = wp_sched_admit_mine(gw->admit);
    if (mine.queued == 0 && gw->told_empty)
        return;
    gw->told_empty = mine.queued == 0;
    wp__gw_workers_queue_moved(gw, mine);
}

bool wp__gw_flow_priority(gw_proxy_t *p)
{
    wp_str_t h = wp_http_headers_get(&p->req->headers, "X-Wellpath-Priority");
    p->ticket.priority = p->api.priority;
    return h.p == NULL || wp_parse_i64(h.p, h.n, &p->ticket.priority) == WP_OK;
}

static uint64_t request_flow(const gw_proxy_t *p)
{
    wp_str_t h = wp_http_headers_get(&p->req->headers, "x-gateway-inference-fairness-id");
    return h.p != NULL && h.n > 0 ? wp_hash64(h.p, h.n, 0x666c6f77) | 1 : 0;
}

static void shed(gw_proxy_t *p, wp_sched_shed_t why)
{
    wp_gateway_t *gw = p->gw;
    char msg[160];
    switch (why) {
    case WP_SCHED_SHED_QUEUE_TIMEOUT:
        snprintf(msg, sizeof(msg), "every endpoint stayed saturated for %llu ms",
                 (unsigned long long)gw->cfg.flow.queue_timeout_ms);
        break;
    case WP_SCHED_SHED_EVICTED:
        snprintf(msg, sizeof(msg), "queued request displaced by one of higher priority");
        break;
    case WP_SCHED_SHED_IN_FLIGHT_LIMIT:
        snprintf(msg, sizeof(msg), "every endpoint is at its in-flight limit (%u)",
                 gw->cfg.max_in_flight);
        break;
    case WP_SCHED_SHED_NO_MEMORY:
        snprintf(msg, sizeof(msg), "out of memory queueing the request");
        break;
    default:
        snprintf(msg, sizeof(msg), "every endpoint is saturated and the queue is full (%u)",
                 gw->cfg.flow.max_queue); /* every worker's requests */
        break;
    }
    wp__gw_decision(gw, &(wp_sched_decision_t){.kind = WP_SCHED_DECISION_SHED,
                                               .request = p->request_id,
                                               .detail = wp_sched_shed_name(why)});
    wp__gw_proxy_fail(p, 429, msg, NULL);
}

/* Sheds without draining: a drain that an answer would start waits for the caller's. */
static void shed_held(gw_proxy_t *p, wp_sched_shed_t why)
{
    wp_gateway_t *gw = p->gw;
    bool was = wp_sched_admit_hold(gw->admit);
    shed(p, why);
    wp_sched_admit_unhold(gw->admit, was);
}

/* Carries out what admission decided: true when the request goes on to its pick now. A
 * request queued in place of an evicted one is logged first; the evicted one's answer
 * drains nothing (p may be dispatched, and freed, by the next drain). */
static bool carry_out(gw_proxy_t *p, wp_sched_admit_result_t r)
{
    wp_gateway_t *gw = p->gw;
    switch (r.verdict) {
    case WP_SCHED_ADMIT_SEND:
        return true;
    case WP_SCHED_ADMIT_QUEUED:
        wp__gw_decision(
            gw, &(wp_sched_decision_t){.kind = WP_SCHED_DECISION_QUEUE, .request = p->request_id});
        if (r.evicted != NULL)
            shed_held(r.evicted->ud, WP_SCHED_SHED_EVICTED);
        if (r.evict_elsewhere)
            wp__gw_workers_evict(gw, r.evict_below);
        return false;
    case WP_SCHED_ADMIT_SHED:
        shed(p, r.shed);
        return false;
    case WP_SCHED_ADMIT_UNAVAILABLE:
    default:
        wp__gw_proxy_unavailable(p);
        return false;
    }
}

bool wp__gw_flow_admit(gw_proxy_t *p)
{
    wp_gateway_t *gw = p->gw;
    p->ticket.ud = p;
    p->ticket.flow = request_flow(p);
    look_around(gw);
    wp_sched_admit_result_t r = wp_sched_admit_arrive(gw->admit, p->pool->sched, wp__gw_now(gw),
                                                      gw_pool_role(p->pool), &p->ticket);
    bool queued = r.verdict == WP_SCHED_ADMIT_QUEUED;
    if (carry_out(p, r))
        return true;
    if (queued) {
        tell_around(gw);
        wp__gw_flow_drain(gw); /* it joined: room may be there for those ahead of it */
    }
    return false;
}

void wp__gw_flow_no_room(gw_proxy_t *p)
{
    wp_gateway_t *gw = p->gw;
    if (gw->stopping) {
        wp__gw_proxy_fail(p, 503, "the gateway is stopping", NULL);
        return;
    }
    p->attempts = 0; /* waiting for room: its next pick is a first attempt again */
    look_around(gw);
    wp_sched_admit_result_t r = wp_sched_admit_no_room(gw->admit, p->pool->sched, wp__gw_now(gw),
                                                       gw_pool_role(p->pool), &p->ticket);
    if (r.verdict == WP_SCHED_ADMIT_QUEUED)
        tell_around(gw);
    /* Not drained from here: the caller is in the middle of a pick. */
    if (carry_out(p, r))
        wp__gw_proxy_unavailable(p);
}

void wp__gw_flow_forget(gw_proxy_t *p)
{
    if (p->gw->admit == NULL || !p->ticket.queued)
        return;
    wp_sched_admit_forget(p->gw->admit, &p->ticket);
    tell_around(p->gw);
}

/* A queued request may go now (wp_sched_admit_drain). */
static void send_queued(void *ud, wp_sched_ticket_t *t)
{
    wp_gateway_t *gw = ud;
    gw_proxy_t *p = t->ud;
    /* It holds nothing on its generation but the reference (its prefill, if it had one, is
     * over): it moves to the current one, whose room was just checked. Left on a retired
     * scheduler, it would be picked against in-flight counts the check does not see, fail,
     * come back to the queue, and be popped again at once. */
    wp__gw_proxy_move_to_current(p);
    wp_stats_hist_observe(&gw->tally.queue_wait_s, wp__gw_now(gw) - t->queued_at);
    wp__gw_decision(
        gw, &(wp_sched_decision_t){.kind = WP_SCHED_DECISION_DEQUEUE, .request = p->request_id});
    wp__gw_proxy_dispatch(p); /* nothing healthy: the pick answers 503 */
}

void wp__gw_flow_drain(wp_gateway_t *gw)
{
    if (gw->admit == NULL || gw->stopping)
        return;
    look_around(gw);
    wp_sched_admit_drain(gw->admit, gw->pool->sched, wp__gw_now(gw), gw_pool_role(gw->pool),
                         send_queued, gw);
    tell_around(gw);
}

void wp__gw_flow_evict(wp_gateway_t *gw, int64_t below)
{
    if (gw->admit == NULL)
        return;
    look_around(gw); /* the newcomer is counted in its worker's queue by now */
    wp_sched_ticket_t *t = wp_sched_admit_evict_worse(gw->admit, below);
    if (t == NULL)
        return; /* sent or gone meanwhile */
    shed_held(t->ud, WP_SCHED_SHED_EVICTED);
    tell_around(gw);
}

void wp__gw_flow_tick(wp_gateway_t *gw)
{
    if (gw->admit == NULL)
        return;
    wp_sched_ticket_t *t; /* every one past its deadline first, then the drain */
    while ((t = wp_sched_admit_expired(gw->admit, wp__gw_now(gw))) != NULL)
        shed_held(t->ud, WP_SCHED_SHED_QUEUE_TIMEOUT);
    wp__gw_flow_drain(gw); /* which tells the others what is left */
}
