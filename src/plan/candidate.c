/*
 * plan/candidate: the sizes of a candidate deployment.
 */
#include "plan/plan.h"

const char *wp_plan_path_name(wp_plan_path_t p)
{
    switch (p) {
    case WP_PLAN_PATH_1:
        return "Path 1 (inference scheduling)";
    case WP_PLAN_PATH_2:
        return "Path 2 (prefill/decode disaggregation)";
    case WP_PLAN_PATH_3:
        return "Path 3 (wide expert parallelism)";
    }
    return "?";
}

int wp_plan_pool_gpus(const wp_plan_pool_t *p)
{
    int dp = p->data_parallel > 1 ? p->data_parallel : 1;
    return p->replicas * p->tensor_parallel * dp;
}

int wp_plan_candidate_gpus(const wp_plan_candidate_t *c)
{
    return c->pd ? wp_plan_pool_gpus(&c->prefill) + wp_plan_pool_gpus(&c->decode)
                 : wp_plan_pool_gpus(&c->pool);
}
