/*
 * gateway/outlier: passive outlier detection, as a load balancer does it (gateway.h,
 * wp_gateway_outlier_cfg_t). Health checks (endpoints.c) see a server that answers
 * /health; this sees one that fails real requests while its /health still answers — a
 * bad GPU, a wedged engine, a server that answers 500 to everything.
 *
 *   well --N failures in a row--> ejected --time up--> probation --success--> well
 *                                    ^                     |
 *                                    +------failure--------+
 *
 * Ejected: out of the scheduler's pool for base × 2^k ms (k = ejections since it last
 * stayed well for max_ejection_ms), at most max_ejection_ms. Probation: in the pool with an
 * in-flight limit of 1 (while some other endpoint serves fully; else without that limit,
 * which would only turn clients away), so each request it gets is a recovery probe; a request that
 * fails there before the first byte is retried on another endpoint like any other, so the client
 * does not pay for the probe. The scheduler's view of an endpoint (in the pool, its limit)
 * is set in one place, wp__gw_pool_sync, from both the health checks and this.
 */
#include "gateway/internal.h"

#include "base/log.h"

/* In the pool, and not held back: health checks pass, not ejected, not on probation. */
static bool serves_fully(const gw_endpoint_t *e)
{
    return e->healthy && !e->out.ejected && !e->out.probation;
}

void wp__gw_pool_sync(wp_gateway_t *gw, gw_pool_t *pool)
{
    int full = 0;
    for (int i = 0; i < pool->n_eps; i++)
        full += serves_fully(&pool->eps[i]);
    for (int i = 0; i < pool->n_eps; i++) {
        gw_endpoint_t *e = &pool->eps[i];
        /* Probation limits an endpoint to one request at a time only while another one can
         * take the rest: with none, the limit would only turn clients away. */
        bool one = e->out.probation && full > 0;
        wp_sched_endpoint_set_healthy(pool->sched, e->index, e->healthy && !e->out.ejected);
        wp_sched_endpoint_set_limit(pool->sched, e->index, one ? 1 : gw->cfg.max_in_flight);
    }
}

/* Ejecting one more keeps the ejected share within max_ejection_percent (at least one). */
static bool may_eject(const wp_gateway_t *gw, const gw_pool_t *pool)
{
    int pct = gw->cfg.outlier.max_ejection_percent, ejected = 0;
    if (pct <= 0)
        return false;
    for (int i = 0; i < pool->n_eps; i++)
        ejected += pool->eps[i].out.ejected;
    int cap = pool->n_eps * pct / 100;
    return ejected < (cap > 0 ? cap : 1);
}

static void eject(wp_gateway_t *gw, gw_endpoint_t *ep, uint64_t now)
{
    const wp_gateway_outlier_cfg_t *c = &gw->cfg.outlier;
    uint64_t ms = c->base_ejection_ms;
    for (int k = 0; k < ep->out.ejections && ms < c->max_ejection_ms; k++)
        ms *= 2;
    if (ms > c->max_ejection_ms)
        ms = c->max_ejection_ms;
    ep->out.ejected = true;
    ep->out.probation = false;
    ep->out.ejected_until_ms = now + ms;
    ep->out.ejections++;
    ep->ejections_total++;
    gw->ejections_total++;
    wp__gw_pool_sync(gw, ep->pool);
    wp_log(WP_LOG_WARN, "endpoint ejected", "endpoint=%s failures=%d for_ms=%llu ejections=%d",
           ep->cfg.name, ep->out.consecutive_failures, (unsigned long long)ms, ep->out.ejections);
}

void wp__gw_outlier_note(wp_gateway_t *gw, gw_endpoint_t *ep, bool ok)
{
    if (ep == NULL || gw->cfg.outlier.consecutive_failures <= 0)
        return;
    ep = wp__gw_ep_current(gw, ep);
    uint64_t now = uv_now(gw->loop);
    if (ok) {
        ep->out.consecutive_failures = 0;
        if (ep->out.probation) {
            ep->out.probation = false;
            ep->out.recovered_ms = now;
            wp__gw_pool_sync(gw, ep->pool);
            wp_log(WP_LOG_INFO, "endpoint recovered", "endpoint=%s", ep->cfg.name);
        }
        return;
    }
    ep->out.consecutive_failures++;
    if (ep->out.ejected)
        return;
    bool due =
        ep->out.probation || ep->out.consecutive_failures >= gw->cfg.outlier.consecutive_failures;
    if (due && may_eject(gw, ep->pool))
        eject(gw, ep, now);
}

void wp__gw_outlier_tick(wp_gateway_t *gw)
{
    uint64_t now = uv_now(gw->loop);
    for (int i = 0; i < gw->n_eps; i++) {
        gw_endpoint_t *ep = &gw->eps[i];
        if (gw->cfg.outlier.consecutive_failures <= 0) {
            /* Turned off (by a reload): nothing would ever end an ejection or probation. */
            if (ep->out.ejected || ep->out.probation) {
                ep->out = (gw_outlier_t){0};
                wp__gw_pool_sync(gw, ep->pool);
            }
            continue;
        }
        if (!ep->out.ejected) {
            if (ep->out.ejections > 0 && !ep->out.probation &&
                now - ep->out.recovered_ms >= gw->cfg.outlier.max_ejection_ms)
                ep->out.ejections = 0; /* well long enough: the back-off starts over */
            continue;
        }
        if (now < ep->out.ejected_until_ms)
            continue;
        ep->out.ejected = false;
        ep->out.probation = true;
        wp__gw_pool_sync(gw, ep->pool);
        wp_log(WP_LOG_INFO, "endpoint on probation", "endpoint=%s", ep->cfg.name);
    }
}
