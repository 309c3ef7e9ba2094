/*
 * sched/scorer_headroom: "cache-headroom". Prefers the endpoint whose prefix cache holds the
 * least, as the gateway's prefix index sees it: 1 − blocks(e) / max over the candidates of
 * blocks (1 for all when none holds anything). With a small weight next to prefix-aware it
 * decides only where prefix scores tie — typically a prompt whose prefix no endpoint holds
 * — and sends new prefixes to the endpoint with the most room, so the pool's cache fills
 * evenly and fewer prefixes are evicted (the idea of SGLang's "smallest tree" fallback).
 */
#include "sched/sched_internal.h"

static void headroom_score(const wp__sched_ctx_t *ctx, double *out)
{
    size_t max = 0;
    for (int i = 0; i < ctx->n; i++) {
        size_t b = wp_sched_index_endpoint_blocks(ctx->index, ctx->cand[i]);
        if (b > max)
            max = b;
    }
    for (int i = 0; i < ctx->n; i++) {
        size_t b = wp_sched_index_endpoint_blocks(ctx->index, ctx->cand[i]);
        out[i] = max == 0 ? 1.0 : 1.0 - (double)b / (double)max;
    }
}

const wp__sched_scorer_t wp__sched_scorer_headroom = {.name = "cache-headroom",
                                                      .score = headroom_score};
