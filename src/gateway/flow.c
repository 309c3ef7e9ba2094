/*
 * gateway/flow: flow control — the waiting room in front of the scheduler (gateway.h,
 * wp_gateway_flow_cfg_t; the queue's order is sched/queue.h's).
 *
 * A request is sent at once while some endpoint of the pool has room (wp_sched_room) and
 * nobody is queued; otherwise it joins the queue with its priority (the body's `priority`,
 * vLLM's convention: lower first; the X-Wellpath-Priority header overrides it, parsed for
 * every request in proxy.c) and its
 * fairness key (the x-gateway-inference-fairness-id header, hashed; none: the default
 * flow). The queue is drained whenever room may have appeared: a request ended, a tick
 * brought fresh metrics, a request joined. Each tick also answers 429 to those that waited
 * queue_timeout_ms. A request that finds the queue full gets 429 at once, unless it
 * outranks the last one queued, which then gets the 429 instead.
 *
 * P/D: room is the decode endpoints'. A request in its prefill stage holds no decode slot
 * yet, so when its decode pick then finds every decode endpoint at its limit it comes back
 * to the queue (wp__gw_flow_requeue) with its priority and first deadline, and goes on to
 * the decode stage when room appears (its prefill is not run again).
 *
 * Without flow control, an in-flight limit still applies: when every endpoint is at it the
 * request gets 429 at once (proxy.c, on a failed pick). Time is the loop's (uv_now), read
 * here and passed to the pure queue.
 */
#include "gateway/internal.h"

#include <stdio.h>
#include <string.h>

#include "base/hash.h"
#include "base/log.h"

static const char *const shed_names[GW_SHED_KINDS] = {
    [GW_SHED_QUEUE_FULL] = "queue_full",
    [GW_SHED_QUEUE_TIMEOUT] = "queue_timeout",
    [GW_SHED_EVICTED] = "evicted",
    [GW_SHED_IN_FLIGHT_LIMIT] = "in_flight_limit",
};

const char *wp__gw_shed_name(int kind)
{
    return kind >= 0 && kind < GW_SHED_KINDS ? shed_names[kind] : "unknown";
}

wp_status_t wp__gw_flow_configure(wp_gateway_t *gw, wp_err_t *err)
{
    const wp_gateway_flow_cfg_t *f = &gw->cfg.flow;
    if (!f->enabled)
        return WP_OK; /* a queue kept from before drains as usual; nothing joins it */
    if (gw->queue == NULL) {
        gw->queue = wp_sched_queue_new(f->max_queue, err);
        return gw->queue != NULL ? WP_OK : WP_EINVAL;
    }
    if (wp_sched_queue_set_capacity(gw->queue, f->max_queue) != WP_OK)
        return wp_err_set(err, WP_EINVAL, "flowControl.maxQueue %u out of range", f->max_queue);
    return WP_OK;
}

void wp__gw_flow_free(wp_gateway_t *gw)
{
    wp_sched_queue_free(gw->queue);
    gw->queue = NULL;
}

static wp_sched_role_t pool_role(const gw_pool_t *pool)
{
    return pool->has_prefill ? WP_SCHED_ROLE_DECODE : WP_SCHED_ROLE_BOTH;
}

static void shed(gw_proxy_t *p, gw_shed_t why, const char *msg)
{
    p->gw->shed[why]++;
    wp__gw_proxy_fail(p, 429, msg, NULL);
}

bool wp__gw_flow_priority(gw_proxy_t *p)
{
    wp_str_t h = wp_http_headers_get(&p->req->headers, "X-Wellpath-Priority");
    p->priority = p->api.priority;
    return h.p == NULL || wp_parse_i64(h.p, h.n, &p->priority) == WP_OK;
}

static uint64_t request_flow(const gw_proxy_t *p)
{
    wp_str_t h = wp_http_headers_get(&p->req->headers, "x-gateway-inference-fairness-id");
    return h.p != NULL && h.n > 0 ? wp_hash64(h.p, h.n, 0x666c6f77) | 1 : 0;
}

/* Into the queue (the deadline is set the first time), or answered 429. */
static void enqueue(gw_proxy_t *p)
{
    wp_gateway_t *gw = p->gw;
    uint64_t now = uv_now(gw->loop);
    if (p->deadline_ms == 0)
        p->deadline_ms = now + gw->cfg.flow.queue_timeout_ms;
    wp_sched_queue_item_t it = {.priority = p->priority,
                                .flow = request_flow(p),
                                .deadline = (double)p->deadline_ms,
                                .ud = p},
                          ev;
    bool evicted;
    wp_status_t st = wp_sched_queue_push(gw->queue, &it, &ev, &evicted);
    if (st != WP_OK) {
        char msg[160];
        if (st == WP_ENOMEM)
            snprintf(msg, sizeof(msg), "out of memory queueing the request");
        else
            snprintf(msg, sizeof(msg), "every endpoint is saturated and the queue is full (%u)",
                     wp_sched_queue_len(gw->queue));
        shed(p, GW_SHED_QUEUE_FULL, msg);
        return;
    }
    p->queued = true;
    p->queue_id = it.id;
    p->queued_ms = now;
    if (evicted) {
        gw_proxy_t *out = ev.ud;
        out->queued = false;
        shed(out, GW_SHED_EVICTED, "queued request displaced by one of higher priority");
    }
}

bool wp__gw_flow_admit(gw_proxy_t *p)
{
    wp_gateway_t *gw = p->gw;
    if (!gw->cfg.flow.enabled || gw->queue == NULL)
        return true;
    int healthy = 0;
    int room = wp_sched_room(p->pool->sched, wp__gw_now(gw), pool_role(p->pool),
                             &gw->cfg.flow.saturation, &healthy);
    if (wp_sched_queue_len(gw->queue) == 0 && (room > 0 || healthy == 0))
        return true; /* no endpoint at all: the pick answers 503 */
    enqueue(p);
    wp__gw_flow_drain(gw);
    return false;
}

bool wp__gw_flow_requeue(gw_proxy_t *p)
{
    wp_gateway_t *gw = p->gw;
    if (!gw->cfg.flow.enabled || gw->queue == NULL || gw->stopping)
        return false;
    enqueue(p); /* not drained from here: the caller is in the middle of a pick */
    return true;
}

void wp__gw_flow_forget(gw_proxy_t *p)
{
    if (p->queued && p->gw->queue != NULL)
        wp_sched_queue_remove(p->gw->queue, p->queue_id);
    p->queued = false;
}

/* A queued request holds nothing on its generation but the reference (its prefill, if it
 * had one, is over): it moves to the current one, whose room was just checked. Left on a
 * retired scheduler, it would be picked against in-flight counts the check does not see,
 * fail, come back to the queue, and be popped again at once. */
static void move_to_current(wp_gateway_t *gw, gw_proxy_t *p)
{
    if (p->pool == gw->pool)
        return;
    wp__gw_pool_unref(p->pool);
    p->pool = gw->pool;
    wp__gw_pool_ref(p->pool);
    p->pf_ep = NULL; /* an endpoint of the old generation: its stage is over */
    memset(p->tried, 0, sizeof(p->tried));
}

static void drain_once(wp_gateway_t *gw)
{
    wp_sched_queue_item_t it;
    /* Each request queued now is popped at most once per pass: one that comes straight
     * back (its pick found no room after all) waits for the next event. */
    for (uint32_t left = wp_sched_queue_len(gw->queue); left > 0; left--) {
        int healthy = 0;
        int room = wp_sched_room(gw->sched, wp__gw_now(gw), pool_role(gw->pool),
                                 &gw->cfg.flow.saturation, &healthy);
        if (room == 0 && healthy > 0)
            return;
        if (!wp_sched_queue_pop(gw->queue, &it))
            return;
        gw_proxy_t *p = it.ud;
        p->queued = false;
        move_to_current(gw, p);
        p->queue_wait_s = (double)(uv_now(gw->loop) - p->queued_ms) / 1000.0;
        wp_stats_hist_observe(&gw->queue_wait_s, p->queue_wait_s);
        wp__gw_proxy_dispatch(p); /* healthy == 0: the pick answers 503 */
    }
}

void wp__gw_flow_drain(wp_gateway_t *gw)
{
    if (gw->queue == NULL || gw->stopping)
        return;
    if (gw->flow_busy) {
        gw->flow_again = true;
        return;
    }
    gw->flow_busy = true;
    do {
        gw->flow_again = false;
        drain_once(gw);
    } while (gw->flow_again);
    gw->flow_busy = false;
}

void wp__gw_flow_tick(wp_gateway_t *gw)
{
    if (gw->queue == NULL)
        return;
    wp_sched_queue_item_t it;
    double now = (double)uv_now(gw->loop);
    while (wp_sched_queue_pop_expired(gw->queue, now, &it)) {
        gw_proxy_t *p = it.ud;
        p->queued = false;
        char msg[160];
        snprintf(msg, sizeof(msg), "every endpoint stayed saturated for %llu ms",
                 (unsigned long long)gw->cfg.flow.queue_timeout_ms);
        shed(p, GW_SHED_QUEUE_TIMEOUT, msg);
    }
    wp__gw_flow_drain(gw);
}
