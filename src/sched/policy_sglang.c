/*
 * sched/policy_sglang: "sglang-cache-aware", the SGLang router's cache-aware policy.
 *
 * Load is the gateway's in-flight count per endpoint (the SGLang router counts the
 * requests it has running on each worker). Over the candidates, with max and min of that
 * load: when max − min > balance_abs AND max > balance_rel × min, the system is
 * imbalanced and the least-loaded candidate wins (shortest queue). Otherwise the
 * candidate holding the longest prefix match is taken when its match rate — matched
 * blocks / hashed blocks, our 64-character-block reading of SGLang's matched characters /
 * prompt characters — is above cache_threshold; else the candidate whose entry in the
 * prefix index is smallest (fewest tracked blocks: SGLang's "smallest tree", the worker
 * with the most room). Every rule breaks ties uniformly with the rng. The index learns
 * the request on the endpoint chosen, whichever rule chose it, as SGLang inserts the text
 * into the chosen worker's tree in both modes (wp_sched_on_dispatch does it here).
 * The index is sized as SGLang sizes its trees: max_tree_size characters per worker
 * (sglang_max_tree_chars, 2^24 by default), so max_tree_size / block_chars blocks per
 * endpoint, the least recently used going first. It matches the whole prompt (no max_blocks
 * horizon), as SGLang's tree matches the whole text.
 */
#include "sched/sched_internal.h"

static double load(const wp__sched_ctx_t *ctx, int ep)
{
    return (double)ctx->eps[ep].in_flight;
}

static double neg_matched(const wp__sched_ctx_t *ctx, int ep)
{
    return -(double)ctx->matched[ep];
}

static double tree_size(const wp__sched_ctx_t *ctx, int ep)
{
    return (double)wp_sched_index_endpoint_blocks(ctx->index, ep);
}

static bool imbalanced(const wp__sched_ctx_t *ctx)
{
    double lo = load(ctx, ctx->cand[0]), hi = lo;
    for (int i = 1; i < ctx->n; i++) {
        double v = load(ctx, ctx->cand[i]);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    return hi - lo > ctx->cfg->sglang_balance_abs && hi > ctx->cfg->sglang_balance_rel * lo;
}

static int sglang_choose(const wp__sched_ctx_t *ctx, uint32_t *state, wp_rng_t *rng)
{
    if (imbalanced(ctx))
        return wp__sched_argmin(ctx, load, rng);
    int best = wp__sched_argmin(ctx, neg_matched, rng);
    double rate =
        ctx->n_blocks ? (double)ctx->matched[ctx->cand[best]] / (double)ctx->n_blocks : 0.0;
    if (rate > ctx->cfg->sglang_cache_threshold)
        return best;
    return wp__sched_argmin(ctx, tree_size, rng);
}

static uint32_t tree_blocks(const wp_sched_config_t *cfg)
{
    uint32_t blocks = cfg->sglang_max_tree_chars / cfg->block_chars;
    return blocks > 0 ? blocks : 1;
}

const wp__sched_policy_t wp__sched_policy_sglang = {
    .name = "sglang-cache-aware",
    .choose = sglang_choose,
    .index_capacity = tree_blocks,
    .whole_prompt = true, /* SGLang's tree matches every character of the text */
};
