/*
 * sched/policy_dynamo: "dynamo-kv", NVIDIA Dynamo's KV router cost function, in KV blocks
 * (one 64-character prompt block = one 16-token KV block at 4 characters per token).
 *
 * For each candidate, lower is better (Dynamo's DefaultWorkerSelector, temperature 0):
 *   prefill = (prompt tokens it would have to prefill + the prefill tokens still pending on
 *             it from requests this scheduler sent there) / block tokens;
 *   decode  = the KV blocks of the requests this scheduler has in flight there
 *             (active_blocks, kept by on_dispatch / on_complete, no engine metrics);
 *   cost    = overlap_weight × prefill + decode.
 * Ties (equal cost) go to the candidate whose prefix index holds the fewest blocks (Dynamo's
 * "tree size"), and among those uniformly with the rng. docs/policies.md cites the source
 * and lists where this departs from it.
 */
#include "sched/sched_internal.h"

#include <math.h>

#define TIE_EPS 1e-9

static double cost(const wp__sched_ctx_t *ctx, int ep)
{
    double block_tokens = (double)ctx->cfg->block_chars / 4.0;
    double uncached = wp__sched_uncached_tokens(ctx, ep) / block_tokens;
    double prefill = uncached + ctx->eps[ep].pending_prefill / block_tokens;
    double decode = ctx->eps[ep].active_blocks + ceil(uncached);
    return ctx->cfg->dynamo_overlap_weight * prefill + decode;
}

static size_t tree_size(const wp__sched_ctx_t *ctx, int ep)
{
    return ctx->index ? wp_sched_index_endpoint_blocks(ctx->index, ep) : 0;
}

static bool tied(const wp__sched_ctx_t *ctx, int ep, double best, size_t smallest)
{
    return fabs(cost(ctx, ep) - best) <= TIE_EPS && tree_size(ctx, ep) == smallest;
}

/* Three passes, no scratch: the lowest cost; the smallest tree among the lowest-cost
 * candidates, counting them; the k-th of those the rng names. */
static int dynamo_choose(const wp__sched_ctx_t *ctx, uint32_t *state, wp_rng_t *rng)
{
    (void)state;
    double best = INFINITY;
    for (int i = 0; i < ctx->n; i++)
        best = fmin(best, cost(ctx, ctx->cand[i]));
    size_t smallest = SIZE_MAX;
    int ties = 0;
    for (int i = 0; i < ctx->n; i++) {
        int ep = ctx->cand[i];
        if (fabs(cost(ctx, ep) - best) > TIE_EPS)
            continue;
        size_t t = tree_size(ctx, ep);
        if (t < smallest) {
            smallest = t;
            ties = 1;
        } else if (t == smallest) {
            ties++;
        }
    }
    int pick = ties > 1 ? (int)wp_rng_below(rng, (uint64_t)ties) : 0;
    for (int i = 0; i < ctx->n; i++)
        if (tied(ctx, ctx->cand[i], best, smallest) && pick-- == 0)
            return i;
    return 0; /* unreachable for finite costs */
}

const wp__sched_policy_t wp__sched_policy_dynamo = {
    .name = "dynamo-kv",
    .choose = dynamo_choose,
};
