/*
 * sched/scorer_prefill: "prefill-queue", wellpath's own. Weighs the prompt tokens an
 * endpoint would have to prefill for this request against the prefill work already sent
 * to it and not finished: cost_e = pending_e + uncached_e, where pending_e is what the
 * gateway itself dispatched there whose first token has not come back (known at once, no
 * scrape needed) and uncached_e is the prompt less the leading blocks the prefix index
 * says e holds. Score = (max cost − cost_e) / (max cost − min cost), 1 for all when equal.
 * A long prompt then goes where it will start soonest: to the holder of its prefix unless
 * the holder is busy prefilling more than the prefix saves.
 */
#include "sched/sched_internal.h"

static void prefill_score(const wp__sched_ctx_t *ctx, double *out)
{
    double lo = 0, hi = 0;
    for (int i = 0; i < ctx->n; i++) {
        int ep = ctx->cand[i];
        out[i] = ctx->eps[ep].pending_prefill + wp__sched_uncached_tokens(ctx, ep);
        if (i == 0 || out[i] < lo)
            lo = out[i];
        if (i == 0 || out[i] > hi)
            hi = out[i];
    }
    for (int i = 0; i < ctx->n; i++)
        out[i] = hi > lo ? (hi - out[i]) / (hi - lo) : 1.0;
}

const wp__sched_scorer_t wp__sched_scorer_prefill = {
    .name = "prefill-queue", .score = prefill_score, .reads_tokens = true};
