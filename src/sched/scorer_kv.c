/*
 * sched/scorer_kv: "kv-cache-utilization". 1 − kv_usage when the metrics are fresh and had a
 * KV usage series; 0.5 when it is unknown (never scraped, stale, or an engine that exports
 * no KV usage, such as current llama.cpp): neutral, so a silent endpoint is neither
 * preferred as if empty nor shunned as if full.
 */
#include "sched/sched_internal.h"

#define KV_UNKNOWN_SCORE 0.5

static void kv_score(const wp__sched_ctx_t *ctx, double *out)
{
    for (int i = 0; i < ctx->n; i++) {
        int ep = ctx->cand[i];
        out[i] = wp__sched_ep_fresh(ctx, ep) && ctx->eps[ep].has_kv ? 1.0 - ctx->eps[ep].kv_usage
                                                                    : KV_UNKNOWN_SCORE;
    }
}

const wp__sched_scorer_t wp__sched_scorer_kv = {.name = "kv-cache-utilization", .score = kv_score};
