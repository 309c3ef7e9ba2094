/*
 * sched/policy_rr: "round-robin". The state word is the endpoint index to try next; the
 * first candidate at or after it (wrapping to the lowest) is chosen and the state moves past
 * it, so the eligible endpoints are served in index order, skipping ones filtered out.
 */
#include "sched/sched_internal.h"

static int rr_choose(const wp__sched_ctx_t *ctx, uint32_t *state, wp_rng_t *rng)
{
    int pos = 0;
    for (int i = 0; i < ctx->n; i++) {
        if ((uint32_t)ctx->cand[i] >= *state) {
            pos = i;
            break;
        }
    }
    *state = (uint32_t)ctx->cand[pos] + 1;
    return pos;
}

const wp__sched_policy_t wp__sched_policy_rr = {.name = "round-robin", .choose = rr_choose};
