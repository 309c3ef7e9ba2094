/* Tests for plan/: the guide's decision tree on each branch, the candidates of each path on
 * a budget, the sweep's bracketing and bisection, the ranking and its verdicts, prefix reuse
 * measured on token ids, and the topology text of a plan read back by the topology parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config/topology.h"
#include "plan/plan.h"

static wp_plan_facts_t facts(const char *model, int gpus, double isl, double osl, double reuse)
{
    return (wp_plan_facts_t){.model = wp_model_find(model),
                             .gpu = wp_gpu_find("h100"),
                             .gpus = gpus,
                             .isl_p50 = isl,
                             .isl_p90 = isl,
                             .osl_p50 = osl,
                             .prefix_reuse = reuse};
}

static void test_decide_branches(void **state)
{
    (void)state;
    wp_plan_decision_t d;
    wp_plan_facts_t f = facts("qwen3-32b", 16, 2200, 200, 0.86);
    wp_plan_decide(&f, &d);
    assert_int_equal(d.path, WP_PLAN_PATH_1);
    assert_non_null(strstr(d.why[d.n_why - 1], "86 %"));
    f = facts("llama-3.1-70b", 16, 10000, 300, 0);
    wp_plan_decide(&f, &d);
    assert_int_equal(d.path, WP_PLAN_PATH_2);
    assert_int_equal(d.ratio_p, 8); /* ISL/OSL 33: the guide's 10:1 row */
    assert_int_equal(d.ratio_d, 1);
    f = facts("llama-3.1-8b", 16, 10000, 300, 0); /* long, but a small model */
    wp_plan_decide(&f, &d);
    assert_int_equal(d.path, WP_PLAN_PATH_1);
    f = facts("deepseek-r1", 32, 1000, 1000, 0);
    wp_plan_decide(&f, &d);
    assert_int_equal(d.path, WP_PLAN_PATH_3);
    f = facts("deepseek-r1", 8, 1000, 1000, 0); /* too few GPUs to spread its experts */
    wp_plan_decide(&f, &d);
    assert_int_equal(d.path, WP_PLAN_PATH_1);
    f = facts("qwen3-30b-a3b", 32, 1000, 1000, 0); /* MoE, but small */
    wp_plan_decide(&f, &d);
    assert_int_equal(d.path, WP_PLAN_PATH_1);
}

static void test_candidates(void **state)
{
    (void)state;
    wp_plan_candidate_t c[WP_PLAN_MAX_CANDIDATES];
    const wp_gpu_spec_t *h100 = wp_gpu_find("h100");
    /* Qwen3-32B fits at TP1: Path 1 at TP 1, 2, 4, 8; Path 2 at TPs 1 and 2 per pool. */
    size_t n = wp_plan_candidates(wp_model_find("qwen3-32b"), h100, 16, c, WP_PLAN_MAX_CANDIDATES);
    size_t p1 = 0, p2 = 0, p3 = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(wp_plan_candidate_gpus(&c[i]) <= 16);
        p1 += c[i].path == WP_PLAN_PATH_1;
        p2 += c[i].path == WP_PLAN_PATH_2;
        p3 += c[i].path == WP_PLAN_PATH_3;
    }
    assert_int_equal(p1, 4);
    assert_int_equal(p2, 15 + 7 + 14 + 7); /* (1,1) (1,2) (2,1) (2,2) splits of 16 */
    assert_int_equal(p3, 0);
    assert_string_equal(c[0].label, "16 x TP1");
    /* DeepSeek-R1 on 32 H200: TP8 only for servers, groups of 8, 16 and 32 for Path 3. */
    n = wp_plan_candidates(wp_model_find("deepseek-r1"), wp_gpu_find("h200"), 32, c,
                           WP_PLAN_MAX_CANDIDATES);
    p3 = 0;
    for (size_t i = 0; i < n; i++)
        p3 += c[i].path == WP_PLAN_PATH_3;
    assert_int_equal(p3, 5); /* 4 x EP8, EP8 P + 3 EP8 D, 2 x EP16, EP16 P + D, 1 x EP32 */
    assert_int_equal(wp_plan_min_tp(wp_model_find("deepseek-r1"), wp_gpu_find("h200")), 8);
    assert_int_equal(wp_plan_candidates(wp_model_find("deepseek-r1"), h100, 4, c, 10), 0);
    assert_int_equal(wp_plan_candidates(wp_model_find("qwen3-32b"), h100, 16, c, 3), 3);
}

/* A candidate that sustains up to 37 req/s, from 10: 10, 20, 40 (no), then bisect. */
static void test_sweep(void **state)
{
    (void)state;
    wp_plan_sweep_t s;
    wp_plan_sweep_init(&s, 10);
    double rate, limit = 37;
    while (wp_plan_sweep_next(&s, &rate))
        wp_plan_sweep_report(&s, rate <= limit);
    assert_true(s.lo <= limit && s.lo > 0.9 * limit);
    assert_true(s.runs <= 3 + 5);
    /* One that sustains nothing: halvings, then lo stays 0. */
    wp_plan_sweep_init(&s, 10);
    while (wp_plan_sweep_next(&s, &rate))
        wp_plan_sweep_report(&s, false);
    assert_true(s.lo == 0);
    assert_true(wp_plan_sustains(0.95, 0));
    assert_false(wp_plan_sustains(0.95, 1));
    assert_false(wp_plan_sustains(0.85, 0));
}

static wp_plan_result_t result(const char *label, int gpus, double goodput, double ttft)
{
    wp_plan_result_t r = {.gpus = gpus,
                          .ran = true,
                          .goodput_rps = goodput,
                          .output_tps = goodput * 100,
                          .ttft_p90 = ttft,
                          .itl_p50 = 0.02,
                          .tpot_p90 = 0.02,
                          .e2e_p90 = 5,
                          .requests = 100};
    snprintf(r.cand.label, sizeof(r.cand.label), "%s", label);
    return r;
}

static void test_rank(void **state)
{
    (void)state;
    wp_plan_result_t r[4] = {result("a", 16, 10, 0.5), result("b", 8, 8, 0.5),
                             result("c", 16, 12, 3.0), result("d", 16, 20, 0.5)};
    r[3].ran = false;
    snprintf(r[3].error, sizeof(r[3].error), "does not fit");
    wp_plan_slo_t slo = {2.0, INFINITY, INFINITY, INFINITY};
    wp_plan_rank(r, 4, &slo);
    assert_string_equal(r[0].cand.label, "b"); /* 1.0 per GPU beats 0.75 and 0.625 */
    assert_non_null(strstr(r[0].verdict, "best goodput per GPU"));
    assert_string_equal(r[1].cand.label, "c");
    assert_non_null(strstr(r[1].verdict, "TTFT p90 3 s over the 2 s objective"));
    assert_string_equal(r[2].cand.label, "a");
    assert_non_null(strstr(r[2].verdict, "38 % less goodput per GPU"));
    assert_string_equal(r[3].cand.label, "d");
    assert_non_null(strstr(r[3].verdict, "did not run: does not fit"));
}

static void test_reuse(void **state)
{
    (void)state;
    int32_t a[64], b[64];
    for (int i = 0; i < 64; i++)
        a[i] = b[i] = i;
    b[40] = 999; /* b shares a's first two blocks of 16, then diverges */
    wp_plan_reuse_t *r = wp_plan_reuse_new();
    assert_non_null(r);
    wp_plan_reuse_add(r, a, 64);
    assert_true(wp_plan_reuse_ratio(r) == 0);
    wp_plan_reuse_add(r, b, 64);
    assert_true(fabs(wp_plan_reuse_ratio(r) - 32.0 / 128.0) < 1e-12);
    wp_plan_reuse_free(r);
}

/* Each path's topology text parses, with the pools, groups and scorers of its candidate. */
static void test_topology_round_trip(void **state)
{
    (void)state;
    wp_plan_candidate_t c[WP_PLAN_MAX_CANDIDATES];
    size_t n = wp_plan_candidates(wp_model_find("deepseek-r1"), wp_gpu_find("h200"), 32, c,
                                  WP_PLAN_MAX_CANDIDATES);
    for (size_t i = 0; i < n; i++) {
        wp_plan_deploy_t d = {.model = wp_model_find("deepseek-r1"),
                              .gpu = wp_gpu_find("h200"),
                              .cand = c[i],
                              .prefix_caching = true,
                              .gateway_port = 8000};
        wp_buf_t b;
        wp_buf_init(&b, 0);
        wp_err_t err = {{0}};
        assert_int_equal(wp_plan_topology_yaml(&d, NULL, &b, &err), WP_OK);
        wp_topology_t t;
        if (wp_topology_parse(b.data, b.len, "plan.yaml", &t, &err) != WP_OK)
            fail_msg("%s\n%s", err.msg, b.data);
        assert_string_equal(t.model, "deepseek-r1");
        assert_int_equal(t.prefill.present, c[i].pd);
        int ranks = (c[i].pd ? c[i].decode : c[i].pool).data_parallel;
        assert_int_equal(t.expert_parallel, ranks > 1 ? ranks : 0);
        if (c[i].pd)
            assert_int_equal(t.decode.replicas, c[i].decode.replicas);
        else
            assert_int_equal(t.vllm.replicas, c[i].pool.replicas);
        wp_topology_free(&t);
        /* The gateway's topology in the Kubernetes deployment: one endpoint per rank. */
        wp_buf_free(&b);
        wp_buf_init(&b, 0);
        d.name = "wellpath";
        d.namespace_ = "default";
        assert_int_equal(wp_plan_gateway_yaml(&d, &b, &err), WP_OK);
        if (wp_topology_parse(b.data, b.len, "gateway.yaml", &t, &err) != WP_OK)
            fail_msg("%s\n%s", err.msg, b.data);
        assert_int_equal(t.n_endpoints, (size_t)wp_plan_candidate_gpus(&c[i]) /
                                            (c[i].path == WP_PLAN_PATH_3 ? 1 : 8));
        wp_topology_free(&t);
        wp_buf_free(&b);
    }
    wp_plan_deploy_t none = {0};
    wp_buf_t b;
    wp_buf_init(&b, 0);
    wp_err_t err = {{0}};
    assert_int_equal(wp_plan_topology_yaml(&none, NULL, &b, &err), WP_EINVAL);
    wp_buf_free(&b);
}

static void test_levers(void **state)
{
    (void)state;
    /* 16 GPUs at 2.5 an hour making 10,000 output tokens/s: 40 / 36e6 tokens x 1e6. */
    assert_true(fabs(wp_plan_cost_per_mtok(16, 2.5, 10000) - 40.0 / 36.0) < 1e-12);
    assert_true(isnan(wp_plan_cost_per_mtok(16, 2.5, 0)));
    /* Arrivals 0, 10, 1000, 1010: one gap of 990 s, less the 300 s window, of 1010 s. */
    double a[] = {1010, 0, 1000, 10};
    assert_true(fabs(wp_plan_idle_share(a, 4, 300) - 690.0 / 1010.0) < 1e-12);
    assert_true(a[0] == 0 && a[3] == 1010); /* sorted in place */
    double one[] = {5};
    assert_true(wp_plan_idle_share(one, 1, 300) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide_branches), cmocka_unit_test(test_candidates),
        cmocka_unit_test(test_sweep),           cmocka_unit_test(test_rank),
        cmocka_unit_test(test_reuse),           cmocka_unit_test(test_topology_round_trip),
        cmocka_unit_test(test_levers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
