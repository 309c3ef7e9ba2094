/*
 * sched/policy_util: what the choose policies share — the lowest-key candidate with ties
 * broken uniformly at random. It runs in two passes (find the lowest key; then count the
 * ties and take the k-th one the rng names), calling the key again in the second pass
 * instead of storing the keys, so a pick stays allocation-free and needs no scratch.
 * Keys must be pure functions of the context, so both passes see the same values.
 */
#include "sched/sched_internal.h"

#include <math.h>

#define TIE_EPS 1e-9

int wp__sched_argmin(const wp__sched_ctx_t *ctx, wp__sched_key_fn key, wp_rng_t *rng)
{
    double best = INFINITY;
    int ties = 0;
    for (int i = 0; i < ctx->n; i++) {
        double k = key(ctx, ctx->cand[i]);
        if (k < best - TIE_EPS) {
            best = k;
            ties = 1;
        } else if (k <= best + TIE_EPS) {
            ties++;
        }
    }
    int pick = ties > 1 ? (int)wp_rng_below(rng, (uint64_t)ties) : 0;
    for (int i = 0; i < ctx->n; i++)
        if (fabs(key(ctx, ctx->cand[i]) - best) <= TIE_EPS && pick-- == 0)
            return i;
    return 0; /* unreachable for finite keys: the best is among the ties */
}
