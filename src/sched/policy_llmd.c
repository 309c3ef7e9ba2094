/*
 * sched/policy_llmd: "llm-d", the llm-d inference scheduler's scoring profile for the
 * inference-scheduling path, as a preset of this scheduler's own scorers: approximate
 * prefix (64-character blocks, a 31,250-block LRU per endpoint: the prefix index with the
 * default config) weight 3 + queue (waiting requests, min-max normalised) weight 2 +
 * kv-cache-utilization (1 − kv_usage) weight 2, max-score picker with random tie-breaking:
 * the weights of the guide's scheduler profile and of llm-d-router's default-plugins.yaml.
 * The weights are data in the table below; docs/policies.md cites the files.
 */
#include "sched/sched_internal.h"

static const wp__sched_weighted_t llmd_scorers[] = {
    {"prefix-aware", 3.0},
    {"queue", 2.0},
    {"kv-cache-utilization", 2.0},
};

const wp__sched_policy_t wp__sched_policy_llmd = {
    .name = "llm-d",
    .preset = llmd_scorers,
    .n_preset = (int)(sizeof(llmd_scorers) / sizeof(llmd_scorers[0])),
};

/* "llm-d-precise": the profile of llm-d's precise-prefix-cache-aware guide
 * (guides/precise-prefix-cache-aware/gaie-kv-events/values.yaml): the precise prefix scorer
 * (the servers' KV events against the prompt's tokenized blocks) weight 3 +
 * kv-cache-utilization 2 + queue 2, max-score. */
static const wp__sched_weighted_t llmd_precise_scorers[] = {
    {"precise-prefix", 3.0},
    {"kv-cache-utilization", 2.0},
    {"queue", 2.0},
};

const wp__sched_policy_t wp__sched_policy_llmd_precise = {
    .name = "llm-d-precise",
    .preset = llmd_precise_scorers,
    .n_preset = (int)(sizeof(llmd_precise_scorers) / sizeof(llmd_precise_scorers[0])),
};
