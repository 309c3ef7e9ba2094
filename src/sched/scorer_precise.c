/*
 * sched/scorer_precise: "precise-prefix". The pick has matched the request's kv_hashes (the
 * servers' own block hashes of its token ids) against the KV view (what the servers' events
 * say they hold): an endpoint scores its leading GPU blocks plus kv_cpu_weight times the
 * further leading blocks it holds on the CPU, over the request's blocks. A request without
 * kv_hashes (no tokenizer for its model) scores as prefix-aware, from the prefix index.
 */
#include "sched/sched_internal.h"

static void precise_score(const wp__sched_ctx_t *ctx, double *out)
{
    if (!ctx->kv_gpu) {
        wp__sched_scorer_prefix.score(ctx, out);
        return;
    }
    double w = ctx->cfg->kv_cpu_weight;
    for (int i = 0; i < ctx->n; i++) {
        int ep = ctx->cand[i];
        double g = ctx->kv_gpu[ep], a = ctx->kv_any[ep];
        out[i] = ctx->n_kv ? (g + w * (a - g)) / ctx->n_kv : 0.0;
    }
}

const wp__sched_scorer_t wp__sched_scorer_precise = {.name = "precise-prefix",
                                                     .score = precise_score};
