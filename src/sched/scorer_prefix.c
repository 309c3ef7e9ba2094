/*
 * sched/scorer_prefix: "prefix-aware" (approximate). The pick has already matched the
 * request's block chain against the prefix index; an endpoint scores the leading blocks it
 * holds over the request's total blocks, 0 when the prompt has no full block.
 */
#include "sched/sched_internal.h"

static void prefix_score(const wp__sched_ctx_t *ctx, double *out)
{
    for (int i = 0; i < ctx->n; i++)
        out[i] = ctx->n_blocks ? (double)ctx->matched[ctx->cand[i]] / ctx->n_blocks : 0.0;
}

const wp__sched_scorer_t wp__sched_scorer_prefix = {.name = "prefix-aware", .score = prefix_score};
