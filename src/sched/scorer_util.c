/*
 * sched/scorer_util: helpers the scorers, filters and wp_sched_room share — metric
 * freshness, role fit, the in-flight limit, the waiting-queue and load estimates with their
 * in-flight fallback, and the inverse min-max normalisation used by the queue and least-request
 * scorers. All pure functions of their arguments.
 */
#include "sched/sched_internal.h"

#include <math.h>

double wp__sched_clamp01(double x)
{
    if (!(x > 0.0)) /* also maps NaN to 0 */
        return 0.0;
    return x < 1.0 ? x : 1.0;
}

bool wp__sched_metrics_fresh(const wp__sched_ep_t *e, double now, double stale_after_s)
{
    return e->has_metrics && now - e->scraped_at <= stale_after_s;
}

bool wp__sched_role_fits(wp_sched_role_t ep_role, wp_sched_role_t role)
{
    return role == WP_SCHED_ROLE_BOTH || ep_role == WP_SCHED_ROLE_BOTH || ep_role == role;
}

bool wp__sched_at_limit(const wp__sched_ep_t *e)
{
    return e->max_in_flight > 0 && e->in_flight >= e->max_in_flight;
}

bool wp__sched_ep_fresh(const wp__sched_ctx_t *ctx, int ep)
{
    return wp__sched_metrics_fresh(&ctx->eps[ep], ctx->now, ctx->cfg->stale_after_s);
}

double wp__sched_ep_queue(const wp__sched_ctx_t *ctx, int ep)
{
    if (wp__sched_ep_fresh(ctx, ep))
        return ctx->eps[ep].waiting;
    return (double)ctx->eps[ep].in_flight;
}

double wp__sched_ep_load(const wp__sched_ctx_t *ctx, int ep)
{
    const wp__sched_ep_t *e = &ctx->eps[ep];
    double own = (double)e->in_flight;
    if (wp__sched_ep_fresh(ctx, ep))
        return own + fmax(0.0, e->waiting + e->running - e->in_flight_at_scrape);
    return own;
}

void wp__sched_inverse_minmax(const double *v, int n, double *out)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        lo = fmin(lo, v[i]);
        hi = fmax(hi, v[i]);
    }
    for (int i = 0; i < n; i++)
        out[i] = hi > lo ? (hi - v[i]) / (hi - lo) : 1.0;
}
