/*
 * sched/policy_dynamo: "dynamo-kv", NVIDIA Dynamo's KV router cost function.
 *
 * For each candidate: cost = overlap_weight × prefill + decode, the lowest wins (Dynamo at
 * its default router temperature 0: argmin, ties at random). Units are KV blocks, taking
 * one 64-character prompt block as one 16-token KV block (4 characters per token).
 *   prefill = prompt blocks not cached there = prompt_len / block_chars − matched, with
 *             prompt_len / block_chars counted on the whole prompt (fractional, like
 *             Dynamo's uncached tokens / block size), matched from the prefix index;
 *   decode  = KV blocks in use there = kv_usage × kv_blocks when the metrics are fresh
 *             with a KV usage series and the capacity is known (wp_sched_endpoint_set_capacity,
 * from the server's num_gpu_blocks); otherwise in_flight × max(1, hashed blocks): each request in
 * flight assumed as large as this one (Dynamo's own fallback for a worker it knows nothing of
 * assumes the request's blocks). docs/policies.md lists where this departs from Dynamo (which
 * tracks the blocks and pending prefill tokens of the requests it routed, per worker).
 */
#include "sched/sched_internal.h"

#include <math.h>

static double decode_blocks(const wp__sched_ctx_t *ctx, int ep)
{
    const wp__sched_ep_t *e = &ctx->eps[ep];
    if (e->kv_blocks > 0 && e->has_kv && wp__sched_ep_fresh(ctx, ep))
        return e->kv_usage * (double)e->kv_blocks;
    return (double)e->in_flight * fmax(1.0, (double)ctx->n_blocks);
}

static double cost(const wp__sched_ctx_t *ctx, int ep)
{
    double prompt_blocks = (double)ctx->req->prompt_len / (double)ctx->cfg->block_chars;
    double prefill = fmax(0.0, prompt_blocks - (double)ctx->matched[ep]);
    return ctx->cfg->dynamo_overlap_weight * prefill + decode_blocks(ctx, ep);
}

static int dynamo_choose(const wp__sched_ctx_t *ctx, uint32_t *state, wp_rng_t *rng)
{
    return wp__sched_argmin(ctx, cost, rng);
}

const wp__sched_policy_t wp__sched_policy_dynamo = {
    .name = "dynamo-kv",
    .choose = dynamo_choose,
};
