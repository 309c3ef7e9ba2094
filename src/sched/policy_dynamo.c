/*
 * sched/policy_dynamo: "dynamo-kv", NVIDIA Dynamo's KV router cost function, in KV blocks
 * (one 64-character prompt block = one 16-token KV block at 4 characters per token).
 *
 * For each candidate, lower is better (Dynamo's DefaultWorkerSelector, temperature 0):
 *   prefill = (prompt tokens it would have to prefill + the prefill tokens still pending on
 *             it from requests this scheduler sent there) / block tokens;
 *   decode  = the endpoint's active blocks (the distinct block hashes of the requests this
 *             scheduler has in flight there, and their blocks no hash names) + the
 *             request's blocks not already active there (its hashes the active set lacks,
 *             and its blocks no hash names); no engine metrics;
 *   cost    = overlap_weight × prefill + decode.
 * Ties (equal cost) go to the candidate whose prefix index holds the fewest blocks (Dynamo's
 * "tree size"), and among those uniformly with the rng. The costs are worked out once per
 * pick, into a stack array. It matches the whole prompt (no max_blocks horizon): Dynamo
 * hashes every full KV block of the request. docs/policies.md cites the source and lists
 * where this departs from it.
 */
#include "sched/sched_internal.h"

#include <math.h>

#define TIE_EPS 1e-9

static double cost(const wp__sched_ctx_t *ctx, int ep, uint64_t request_tail)
{
    const wp__sched_ep_t *e = &ctx->eps[ep];
    double block_tokens = (double)ctx->cfg->block_chars / 4.0;
    double prefill = (wp__sched_uncached_tokens(ctx, ep) + e->pending_prefill) / block_tokens;
    size_t fresh = wp_sched_active_missing(&e->active, ctx->hashes, ctx->n_blocks);
    double decode =
        (double)(wp_sched_active_unique(&e->active) + e->active_tail + fresh + request_tail);
    return ctx->cfg->dynamo_overlap_weight * prefill + decode;
}

static size_t tree_size(const wp__sched_ctx_t *ctx, int ep)
{
    return ctx->index ? wp_sched_index_endpoint_blocks(ctx->index, ep) : 0;
}

/* The lowest cost; the smallest tree among the candidates within TIE_EPS of it, counting
 * them; the k-th of those the rng names. */
static int dynamo_choose(const wp__sched_ctx_t *ctx, uint32_t *state, wp_rng_t *rng)
{
    (void)state;
    double costs[WP_SCHED_MAX_ENDPOINTS];
    uint64_t tail = wp__sched_tail_blocks(ctx->prompt_tokens, ctx->n_blocks, ctx->cfg->block_chars);
    double best = INFINITY;
    for (int i = 0; i < ctx->n; i++) {
        costs[i] = cost(ctx, ctx->cand[i], tail);
        best = fmin(best, costs[i]);
    }
    size_t smallest = SIZE_MAX;
    int ties = 0;
    for (int i = 0; i < ctx->n; i++) {
        if (costs[i] - best > TIE_EPS)
            continue;
        size_t t = tree_size(ctx, ctx->cand[i]);
        if (t < smallest) {
            smallest = t;
            ties = 1;
        } else if (t == smallest) {
            ties++;
        }
    }
    int pick = ties > 1 ? (int)wp_rng_below(rng, (uint64_t)ties) : 0;
    for (int i = 0; i < ctx->n; i++)
        if (costs[i] - best <= TIE_EPS && tree_size(ctx, ctx->cand[i]) == smallest && pick-- == 0)
            return i;
    return 0; /* unreachable for finite costs */
}

const wp__sched_policy_t wp__sched_policy_dynamo = {
    .name = "dynamo-kv",
    .choose = dynamo_choose,
    .whole_prompt = true, /* Dynamo hashes every full KV block of the request */
    .kv_events = true,    /* its indexer follows the workers' KV events by default */
    .reads_tokens = true, /* its costs are in blocks of the prompt's tokens */
    .reads_active = true, /* its decode term */
};
