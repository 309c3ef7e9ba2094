/*
 * sched/scorer_load: "load-aware". With T = load_threshold and q the endpoint's waiting
 * requests (scraped when fresh, else its in-flight count): q = 0 scores 0.5, otherwise
 * 0.5 × (1 − min(q, T)/T). The score never exceeds 0.5, so with weights prefix 100 /
 * load 50 load can move at most 25 points: it overrides a prefix difference below 0.25.
 */
#include "sched/sched_internal.h"

#include <math.h>

static void load_score(const wp__sched_ctx_t *ctx, double *out)
{
    double t = ctx->cfg->load_threshold;
    for (int i = 0; i < ctx->n; i++) {
        double q = wp__sched_ep_queue(ctx, ctx->cand[i]);
        out[i] = q <= 0.0 ? 0.5 : 0.5 * (1.0 - fmin(q, t) / t);
    }
}

const wp__sched_scorer_t wp__sched_scorer_load = {"load-aware", load_score};
