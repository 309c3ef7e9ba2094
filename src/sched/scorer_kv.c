/*
 * sched/scorer_kv: "kv-cache-utilization". 1 − kv_usage when the metrics are fresh; 0.5 when
 * they are unknown (never scraped or stale): neutral, so a silent endpoint is neither
 * preferred as if empty nor shunned as if full.
 */
#include "sched/sched_internal.h"

#define KV_UNKNOWN_SCORE 0.5

static void kv_score(const wp__sched_ctx_t *ctx, double *out)
{
    for (int i = 0; i < ctx->n; i++) {
        int ep = ctx->cand[i];
        out[i] = wp__sched_ep_fresh(ctx, ep) ? 1.0 - ctx->eps[ep].kv_usage : KV_UNKNOWN_SCORE;
    }
}

const wp__sched_scorer_t wp__sched_scorer_kv = {"kv-cache-utilization", kv_score};
