/*
 * sched/registry: maps names to the scorer, picker and policy tables. One line per part;
 * the same lists produce the "valid: ..." part of an unknown-name error, so the message can
 * never drift from what is accepted. The single-scorer policies are data rows here: a policy
 * named after a scorer runs that scorer alone with the max-score picker.
 */
#include "sched/sched_internal.h"

#include <stdio.h>
#include <string.h>

static const wp__sched_scorer_t *const scorers[] = {
    &wp__sched_scorer_prefix,   &wp__sched_scorer_load,          &wp__sched_scorer_queue,
    &wp__sched_scorer_kv,       &wp__sched_scorer_least_request, &wp__sched_scorer_session,
    &wp__sched_scorer_headroom, &wp__sched_scorer_prefill,       &wp__sched_scorer_rank_balance,
    &wp__sched_scorer_precise,
};

static const wp__sched_picker_t *const pickers[] = {
    &wp__sched_picker_max,
    &wp__sched_picker_weighted,
};

static const wp__sched_policy_t topology = {.name = "topology"};
static const wp__sched_policy_t least_request = {.name = "least-request",
                                                 .scorer = "least-request"};
static const wp__sched_policy_t load_aware = {.name = "load-aware", .scorer = "load-aware"};
static const wp__sched_policy_t prefix_aware = {.name = "prefix-aware", .scorer = "prefix-aware"};
static const wp__sched_policy_t queue = {.name = "queue", .scorer = "queue"};
static const wp__sched_policy_t kv = {.name = "kv-cache-utilization",
                                      .scorer = "kv-cache-utilization"};

static const wp__sched_policy_t *const policies[] = {
    &topology,
    &wp__sched_policy_rr,
    &wp__sched_policy_random,
    &least_request,
    &load_aware,
    &prefix_aware,
    &queue,
    &kv,
    &wp__sched_policy_llmd,
    &wp__sched_policy_llmd_precise,
    &wp__sched_policy_sglang,
    &wp__sched_policy_dynamo,
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Every table row starts with `const char *name`, and a pointer to a struct may be read as
 * a pointer to its first member, so one search serves all three tables. */
static const void *find(const void *const *table, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (strcmp(*(const char *const *)table[i], name) == 0)
            return table[i];
    return NULL;
}

const wp__sched_scorer_t *wp__sched_scorer_find(const char *name)
{
    return find((const void *const *)scorers, COUNT(scorers), name);
}

const wp__sched_picker_t *wp__sched_picker_find(const char *name)
{
    return find((const void *const *)pickers, COUNT(pickers), name);
}

const wp__sched_policy_t *wp__sched_policy_find(const char *name)
{
    return find((const void *const *)policies, COUNT(policies), name);
}

const char *wp_sched_policy_name(size_t i)
{
    return i < COUNT(policies) ? policies[i]->name : NULL;
}

const char *wp_sched_picker_name(size_t i)
{
    return i < COUNT(pickers) ? pickers[i]->name : NULL;
}

static void append_name(char *list, size_t cap, const char *name)
{
    size_t len = strlen(list);
    snprintf(list + len, cap - len, "%s%s", len ? ", " : "", name);
}

wp_status_t wp__sched_unknown(wp_err_t *err, char kind, const char *name)
{
    char list[512] = "";
    const char *what;
    if (kind == 's') {
        what = "scorer type";
        for (size_t i = 0; i < COUNT(scorers); i++)
            append_name(list, sizeof(list), scorers[i]->name);
    } else if (kind == 'p') {
        what = "picker";
        for (size_t i = 0; i < COUNT(pickers); i++)
            append_name(list, sizeof(list), pickers[i]->name);
    } else {
        what = "scheduling policy";
        for (size_t i = 0; i < COUNT(policies); i++)
            append_name(list, sizeof(list), policies[i]->name);
    }
    return wp_err_set(err, WP_EINVAL, "unknown %s '%s' (valid: %s)", what, name ? name : "(null)",
                      list);
}
