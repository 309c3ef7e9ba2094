/*
 * sched/scorer_util: helpers the scorers share that are not inline in sched_internal.h —
 * the waiting-queue estimate with its in-flight fallback, and the inverse min-max
 * normalisation used by the queue and least-request scorers. All pure functions of their
 * arguments.
 */
#include "sched/sched_internal.h"

#include <math.h>

double wp__sched_ep_queue(const wp__sched_ctx_t *ctx, int ep)
{
    if (wp__sched_ep_fresh(ctx, ep))
        return ctx->eps[ep].waiting;
    return (double)ctx->eps[ep].in_flight;
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
