/*
 * gateway/notice: endpoints that are going away (a spot node's preemption notice, a
 * server under SIGTERM draining). sched/drain decides what an answer means; this applies
 * it to the current generation: a draining endpoint leaves the pool at once (the health
 * checks' verdict in the outlier state, pushed by wp__gw_pool_sync), its prefixes are
 * forgotten (a replacement starts empty), the notice is counted
 * (wellpath_gateway_preemption_notices_total), shown (wellpath_endpoint_draining) and
 * logged. Its running streams are not touched: the server finishes them. It rejoins at its
 * next good health answer, as any endpoint that left.
 *
 * A request refused with 503 before its first byte is retried elsewhere by proxy.c; here
 * it makes the endpoint's health be checked at once, so that no more requests go to a
 * draining server than the ones already sent.
 */
#include "gateway/internal.h"

#include "base/log.h"
#include "sched/drain.h"

void wp__gw_notice_draining(wp_gateway_t *gw, gw_endpoint_t *ep)
{
    gw_probe_t *pr = &ep->probe;
    pr->failures[GW_CHECK_HEALTH] =
        pr->failures[GW_CHECK_HEALTH] ? pr->failures[GW_CHECK_HEALTH] : 1; /* rejoins when well */
    if (pr->draining)
        return;
    pr->draining = true;
    gw->preemption_notices++;
    bool *healthy = &wp_sched_outlier_ep(ep->pool->outlier, ep->index)->healthy;
    bool was = *healthy;
    *healthy = false;
    wp__gw_pool_sync(gw, ep->pool);
    wp_sched_index_clear_endpoint(wp_sched_index(ep->pool->sched), ep->index);
    if (!gw_logs_state(gw))
        return;
    wp_log(WP_LOG_WARN, "endpoint draining: left the pool at once",
           "endpoint=%s reason=\"/health answered 503 (shutting down or preemption notice)\" "
           "was_in_pool=%s in_flight=%u",
           ep->cfg.name, was ? "true" : "false",
           wp_sched_endpoint_in_flight(ep->pool->sched, ep->index));
}

void wp__gw_notice_clear(wp_gateway_t *gw, gw_endpoint_t *ep)
{
    if (!ep->probe.draining)
        return;
    ep->probe.draining = false;
    if (gw_logs_state(gw))
        wp_log(WP_LOG_INFO, "endpoint no longer draining", "endpoint=%s", ep->cfg.name);
}

void wp__gw_notice_upstream(wp_gateway_t *gw, gw_endpoint_t *ep, int status)
{
    if (wp_sched_drain_suspect(status) && ep->pool == gw->pool && !gw->stopping &&
        !ep->probe.draining)
        wp__gw_checks_health_now(gw, ep);
}
