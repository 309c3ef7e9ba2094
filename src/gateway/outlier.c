/*
 * gateway/outlier: the wiring of outlier detection (sched/outlier.h decides; gateway.h,
 * wp_gateway_outlier_cfg_t configures). Each pool generation holds the detector's state
 * of its endpoints; this file feeds it the outcomes of proxied requests and the health
 * checks' verdicts, reads the clock for it, logs what it decided, and pushes its view
 * into the generation's scheduler (wp__gw_pool_sync, the one place that sets an
 * endpoint's membership and in-flight limit).
 */
#include "gateway/internal.h"

#include "base/log.h"

void wp__gw_pool_sync(wp_gateway_t *gw, gw_pool_t *pool)
{
    wp_sched_outlier_apply(pool->outlier, pool->sched, gw->cfg.max_in_flight);
}

/* Logs what outlier detection decided (the caller says whether this worker logs it). */
static void log_event(wp_gateway_t *gw, gw_endpoint_t *ep, wp_sched_outlier_event_t ev,
                      double for_s)
{
    const wp_sched_outlier_ep_t *o = gw_ep_outlier(ep);
    wp__gw_decision(gw, &(wp_sched_decision_t){.kind = wp_sched_decision_of_outlier(ev),
                                               .endpoint = ep->cfg.name,
                                               .seconds = for_s});
    if (ev == WP_SCHED_OUTLIER_EJECTED) {
        wp_log(WP_LOG_WARN, "endpoint ejected", "endpoint=%s failures=%d for_ms=%.0f ejections=%d",
               ep->cfg.name, o->consecutive_failures, for_s * 1000.0, o->ejections);
    } else {
        wp_log(WP_LOG_INFO,
               ev == WP_SCHED_OUTLIER_PROBATION ? "endpoint on probation" : "endpoint recovered",
               "endpoint=%s", ep->cfg.name);
    }
}

void wp__gw_outlier_note(wp_gateway_t *gw, gw_endpoint_t *ep, bool fault)
{
    ep = wp__gw_ep_heir(gw, ep); /* an endpoint that moved is another server: not judged */
    if (ep == NULL)
        return;
    wp__gw_workers_outlier(gw, ep, fault);
    wp__gw_outlier_apply(gw, ep, fault, true);
}

void wp__gw_outlier_apply(wp_gateway_t *gw, gw_endpoint_t *ep, bool fault, bool logs)
{
    double for_s = 0;
    wp_sched_outlier_event_t ev =
        wp_sched_outlier_note(ep->pool->outlier, ep->index, fault, wp__gw_now(gw), &for_s);
    if (ev == WP_SCHED_OUTLIER_NONE)
        return;
    if (logs)
        log_event(gw, ep, ev, for_s);
    wp__gw_pool_sync(gw, ep->pool);
}

void wp__gw_outlier_tick(wp_gateway_t *gw)
{
    gw_pool_t *pool = gw->pool;
    for (int i = 0; i < pool->n_eps; i++) {
        wp_sched_outlier_event_t ev = wp_sched_outlier_tick(pool->outlier, i, wp__gw_now(gw));
        if (ev != WP_SCHED_OUTLIER_NONE && gw_logs_state(gw)) /* each worker's clock: once */
            log_event(gw, &pool->eps[i], ev, 0);
    }
    wp__gw_pool_sync(gw, pool);
}
