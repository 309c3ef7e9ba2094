/*
 * sched/scorer_least_request: "least-request". (max − n)/(max − min) over the candidates'
 * in-flight counts (the gateway's own, always known), 1 for all when equal.
 */
#include "sched/sched_internal.h"

static void least_request_score(const wp__sched_ctx_t *ctx, double *out)
{
    for (int i = 0; i < ctx->n; i++)
        out[i] = (double)ctx->eps[ctx->cand[i]].in_flight;
    wp__sched_inverse_minmax(out, ctx->n, out);
}

const wp__sched_scorer_t wp__sched_scorer_least_request = {.name = "least-request",
                                                           .score = least_request_score};
