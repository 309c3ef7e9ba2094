/*
 * sched/scorer_rank_balance: "rank-balance", for the data-parallel ranks of a wide-EP group
 * (Path 3). The ranks of a group step in lock step, so the rank holding the most tokens
 * sets every rank's step time: the group is fastest when its ranks hold equal work. Among
 * the candidates of one group, score = (max t − t) / (max t − min t), t the endpoint's
 * prompt tokens in flight (the gateway's own, exact and immediate), 1 for all when equal; an
 * endpoint in no group scores 0, so ungrouped endpoints gain nothing from it (under max-score
 * and weighted-random alike) and each group is scaled on its own.
 *
 * The idea is SGLang's data-parallel controller's load-balance method minimum_tokens (send
 * a request to the rank holding the fewest tokens); as a scorer it is weighed against the
 * others (prefix affinity first, when the weights say so). docs/policies.md has the source
 * and what differs.
 *
 * One pass to find each group's lowest and highest t, one to score: O(candidates), with
 * two arrays indexed by group id (ids are below WP_SCHED_MAX_ENDPOINTS) on the stack.
 */
#include "sched/sched_internal.h"

#include <math.h>

static void rank_balance_score(const wp__sched_ctx_t *ctx, double *out)
{
    double lo[WP_SCHED_MAX_ENDPOINTS], hi[WP_SCHED_MAX_ENDPOINTS];
    for (int i = 0; i < ctx->n; i++) {
        int g = ctx->eps[ctx->cand[i]].group;
        if (g >= 0) {
            lo[g] = INFINITY;
            hi[g] = -INFINITY;
        }
    }
    for (int i = 0; i < ctx->n; i++) {
        const wp__sched_ep_t *e = &ctx->eps[ctx->cand[i]];
        if (e->group >= 0) {
            lo[e->group] = fmin(lo[e->group], e->tokens_in_flight);
            hi[e->group] = fmax(hi[e->group], e->tokens_in_flight);
        }
    }
    for (int i = 0; i < ctx->n; i++) {
        const wp__sched_ep_t *e = &ctx->eps[ctx->cand[i]];
        int g = e->group;
        out[i] = g < 0           ? 0.0
                 : hi[g] > lo[g] ? (hi[g] - e->tokens_in_flight) / (hi[g] - lo[g])
                                 : 1.0;
    }
}

const wp__sched_scorer_t wp__sched_scorer_rank_balance = {
    .name = "rank-balance", .score = rank_balance_score, .reads_tokens = true};
