/*
 * plan/candidate: the candidate deployments of each path on a GPU budget, and their sizes.
 */
#include "plan/plan.h"

#include <stdio.h>

#include "model/ep.h"

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

/* ---- enumeration ---- */

#define MIN_KV_TOKENS 4096 /* a server that cannot hold one 4k-token request is no server */

static const int tps[] = {1, 2, 4, 8};

static bool fits(const wp_model_spec_t *m, const wp_gpu_spec_t *g, int tp)
{
    wp_perf_t p;
    return wp_perf_init(&p, m, g, tp, NULL, NULL) == WP_OK &&
           wp_perf_kv_capacity_tokens(&p) >= MIN_KV_TOKENS;
}

int wp_plan_min_tp(const wp_model_spec_t *m, const wp_gpu_spec_t *g)
{
    for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++)
        if (fits(m, g, tps[i]))
            return tps[i];
    return 0;
}

typedef struct list_s {
    wp_plan_candidate_t *out;
    size_t n, cap;
} list_t;

static void push(list_t *l, const wp_plan_candidate_t *c)
{
    if (l->n < l->cap)
        l->out[l->n++] = *c;
}

static void path1(list_t *l, const wp_model_spec_t *m, const wp_gpu_spec_t *g, int gpus)
{
    for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++) {
        int tp = tps[i];
        if (tp > gpus || !fits(m, g, tp))
            continue;
        wp_plan_candidate_t c = {
            .path = WP_PLAN_PATH_1,
            .pool = {.replicas = gpus / tp, .tensor_parallel = tp, .data_parallel = 1}};
        snprintf(c.label, sizeof(c.label), "%d x TP%d", c.pool.replicas, tp);
        push(l, &c);
    }
}

/* Every split of the budget into x prefill servers at tp_p and y decode servers at tp_d. */
static void path2_tps(list_t *l, int gpus, int tp_p, int tp_d)
{
    for (int x = 1; x * tp_p + tp_d <= gpus; x++) {
        int y = (gpus - x * tp_p) / tp_d;
        wp_plan_candidate_t c = {
            .path = WP_PLAN_PATH_2,
            .pd = true,
            .prefill = {.replicas = x, .tensor_parallel = tp_p, .data_parallel = 1},
            .decode = {.replicas = y, .tensor_parallel = tp_d, .data_parallel = 1}};
        snprintf(c.label, sizeof(c.label), "%dP TP%d + %dD TP%d", x, tp_p, y, tp_d);
        push(l, &c);
    }
}

static void path2(list_t *l, const wp_model_spec_t *m, const wp_gpu_spec_t *g, int gpus)
{
    int two[2], n = 0; /* the two smallest TPs a server fits at */
    for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]) && n < 2; i++)
        if (fits(m, g, tps[i]))
            two[n++] = tps[i];
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++)
            path2_tps(l, gpus, two[a], two[b]);
}

static void path3(list_t *l, const wp_model_spec_t *m, const wp_gpu_spec_t *g, int gpus)
{
    for (int e = 8; e <= gpus && m->n_experts > 0; e *= 2) {
        wp_ep_t ep;
        if (m->n_experts % e != 0 || wp_ep_init(&ep, m, g, e, NULL, NULL) != WP_OK)
            continue;
        wp_plan_pool_t group = {.replicas = 1, .tensor_parallel = 1, .data_parallel = e};
        wp_plan_candidate_t c = {.path = WP_PLAN_PATH_3, .pool = group};
        c.pool.replicas = gpus / e;
        snprintf(c.label, sizeof(c.label), "%d x EP%d", c.pool.replicas, e);
        push(l, &c);
        if (2 * e > gpus)
            continue;
        c = (wp_plan_candidate_t){
            .path = WP_PLAN_PATH_3, .pd = true, .prefill = group, .decode = group};
        c.decode.replicas = (gpus - e) / e;
        snprintf(c.label, sizeof(c.label), "EP%d P + %d x EP%d D", e, c.decode.replicas, e);
        push(l, &c);
    }
}

size_t wp_plan_candidates(const wp_model_spec_t *m, const wp_gpu_spec_t *g, int gpus,
                          wp_plan_candidate_t *out, size_t cap)
{
    list_t l = {out, 0, cap};
    if (m == NULL || g == NULL || gpus < 1)
        return 0;
    path1(&l, m, g, gpus);
    path2(&l, m, g, gpus);
    path3(&l, m, g, gpus);
    return l.n;
}
