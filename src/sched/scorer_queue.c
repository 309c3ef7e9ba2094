/*
 * sched/scorer_queue: "queue". (maxQ − q)/(maxQ − minQ) over the candidates, 1 for all when
 * every q is equal; q as in load-aware (scraped waiting when fresh, else in-flight). With a
 * mix of fresh and stale endpoints the two kinds of count are compared as they are.
 */
#include "sched/sched_internal.h"

static void queue_score(const wp__sched_ctx_t *ctx, double *out)
{
    /* out doubles as the input array: the normalisation reads each value before writing it
     * back, and min/max are taken in a first pass. */
    for (int i = 0; i < ctx->n; i++)
        out[i] = wp__sched_ep_queue(ctx, ctx->cand[i]);
    wp__sched_inverse_minmax(out, ctx->n, out);
}

const wp__sched_scorer_t wp__sched_scorer_queue = {.name = "queue", .score = queue_score};
