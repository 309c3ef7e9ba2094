/*
 * sched/policy_random: "random". Uniform over the candidates, from the caller's rng.
 */
#include "sched/sched_internal.h"

static int random_choose(const wp__sched_ctx_t *ctx, uint32_t *state, wp_rng_t *rng)
{
    return (int)wp_rng_below(rng, (uint64_t)ctx->n);
}

const wp__sched_policy_t wp__sched_policy_random = {.name = "random", .choose = random_choose};
