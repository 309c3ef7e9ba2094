/* Tests for engine/group: a group of one is its engine; a wide-EP group steps every rank at
 * once for the slowest rank's time (wp_ep_step_time of the ranks' batches), an idle rank
 * included; each rank keeps its own requests and KV pool; a reset rank starts empty and the
 * others keep theirs; bad configs are refused. Model: Qwen3-30B-A3B on 4 H100 ranks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "engine/group.h"

#define RANKS 4

typedef struct fixture_s {
    wp_ep_t ep;
    wp_perf_t perf;
    wp_group_config_t cfg;
    wp_group_t *g;
} fixture_t;

static fixture_t fx;

static void setup_wide(void)
{
    wp_err_t err = {{0}};
    const wp_model_spec_t *m = wp_model_find("qwen3-30b-a3b");
    assert_non_null(m);
    if (wp_ep_init(&fx.ep, m, wp_gpu_find("h100"), RANKS, NULL, &err) != WP_OK)
        fail_msg("ep: %s", err.msg);
    wp_engine_config_t base;
    wp_engine_config_default(&base, &fx.ep.perf);
    if (wp_group_rank_config(&fx.ep, &base, &fx.cfg.engine, &err) != WP_OK)
        fail_msg("rank config: %s", err.msg);
    fx.cfg.ranks = RANKS;
    fx.cfg.ep = &fx.ep;
    if (wp_group_new(&fx.cfg, &fx.g, &err) != WP_OK)
        fail_msg("group: %s", err.msg);
}

static void add(int rank, uint64_t id, int32_t prompt, int32_t out)
{
    static int32_t toks[4096];
    for (int i = 0; i < prompt; i++)
        toks[i] = (int32_t)(id * 7919 + (uint64_t)i) % 30000;
    wp_engine_req_t in = {.id = id, .tokens = toks, .n_tokens = prompt, .max_tokens = out};
    wp_err_t err = {{0}};
    if (wp_engine_add(wp_group_engine(fx.g, rank), &in, &err) != WP_OK)
        fail_msg("add: %s", err.msg);
}

/* The rank pool is the EP model's, not a TP1 engine's (which would not be told apart). */
static void test_rank_config(void **state)
{
    (void)state;
    setup_wide();
    int64_t cap = wp_ep_kv_capacity_tokens(&fx.ep);
    assert_int_equal(fx.cfg.engine.num_blocks, cap / fx.cfg.engine.block_size);
    assert_ptr_equal(fx.cfg.engine.perf, &fx.ep.perf);
    assert_true(fx.cfg.engine.max_model_len <= fx.cfg.engine.num_blocks * 16);
    wp_group_free(fx.g);
}

/* One busy rank: every rank steps, for wp_ep_step_time of the four batches (three empty). */
static void test_lockstep_time(void **state)
{
    (void)state;
    setup_wide();
    add(1, 1, 1000, 4);
    assert_true(wp_group_busy(fx.g));
    assert_false(wp_engine_busy(wp_group_engine(fx.g, 0)));
    wp_group_step_t s;
    assert_int_equal(wp_group_step(fx.g, 0.0, &s), WP_OK);
    assert_int_equal(s.n_ranks, RANKS);
    wp_perf_batch_t b[RANKS] = {{0}};
    b[1] = s.ranks[1].batch;
    assert_int_equal(b[1].prefill_tokens, 1000);
    double want = wp_ep_step_time(&fx.ep, b, RANKS, NULL);
    assert_true(want > 0);
    assert_true(s.duration_s == want);
    for (int r = 0; r < RANKS; r++)
        assert_true(s.ranks[r].duration_s == want);
    assert_int_equal(s.ranks[0].n_events, 0);
    assert_int_equal(s.ranks[1].n_events, 1); /* the first token */
    /* An idle rank is not free: the group's step is longer than the busy rank alone on a
     * one-rank view would be if the others did not join; the slowest rank sets it. */
    add(3, 2, 4000, 4);
    assert_int_equal(wp_group_step(fx.g, s.duration_s, &s), WP_OK);
    assert_int_equal(s.ep.slowest_rank, 3);
    wp_group_free(fx.g);
}

/* A balanced group steps faster than the same tokens piled on one rank: why a router
 * balances tokens across the ranks of a group. */
static void test_balance_matters(void **state)
{
    (void)state;
    setup_wide();
    for (int r = 0; r < RANKS; r++)
        add(r, 10 + (uint64_t)r, 2000, 2);
    wp_group_step_t s;
    assert_int_equal(wp_group_step(fx.g, 0.0, &s), WP_OK);
    double balanced = s.duration_s;
    wp_group_free(fx.g);
    setup_wide();
    for (int i = 0; i < RANKS; i++)
        add(0, 10 + (uint64_t)i, 2000, 2);
    assert_int_equal(wp_group_step(fx.g, 0.0, &s), WP_OK);
    /* The piled rank runs 4x the attention and dense matmuls and sends 4x the dispatch
     * bytes; the experts' load is the group's either way (0.105 s vs 0.137 s here). */
    assert_true(s.duration_s > 1.2 * balanced);
    wp_group_free(fx.g);
}

/* A reset rank loses its requests; the others go on. */
static void test_reset(void **state)
{
    (void)state;
    setup_wide();
    add(0, 1, 100, 8);
    add(2, 2, 100, 8);
    wp_err_t err = {{0}};
    assert_int_equal(wp_group_reset(fx.g, 2, &err), WP_OK);
    assert_false(wp_engine_busy(wp_group_engine(fx.g, 2)));
    assert_true(wp_engine_busy(wp_group_engine(fx.g, 0)));
    assert_int_equal(wp_group_reset(fx.g, RANKS, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "no rank 4"));
    wp_group_free(fx.g);
}

/* A group of one is its engine: the engine's own step time. */
static void test_single(void **state)
{
    (void)state;
    wp_err_t err = {{0}};
    if (wp_perf_init(&fx.perf, wp_model_find("qwen3-8b"), wp_gpu_find("h100"), 1, NULL, &err) !=
        WP_OK)
        fail_msg("perf: %s", err.msg);
    wp_group_config_t c = {.ranks = 1};
    wp_engine_config_default(&c.engine, &fx.perf);
    assert_int_equal(wp_group_new(&c, &fx.g, &err), WP_OK);
    add(0, 1, 500, 2);
    wp_group_step_t s;
    assert_int_equal(wp_group_step(fx.g, 0.0, &s), WP_OK);
    assert_true(s.duration_s == wp_perf_step_time(&fx.perf, &s.ranks[0].batch));
    assert_int_equal(s.ep.slowest_rank, 0);
    wp_group_free(fx.g);
}

static void test_bad_config(void **state)
{
    (void)state;
    wp_err_t err = {{0}};
    wp_group_t *g = NULL;
    wp_group_config_t c = {.ranks = 0};
    assert_int_equal(wp_group_new(&c, &g, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "0 ranks"));
    c.ranks = 4; /* no EP model */
    assert_int_equal(wp_group_new(&c, &g, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "expert-parallel model"));
    assert_null(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank_config),     cmocka_unit_test(test_lockstep_time),
        cmocka_unit_test(test_balance_matters), cmocka_unit_test(test_reset),
        cmocka_unit_test(test_single),          cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
