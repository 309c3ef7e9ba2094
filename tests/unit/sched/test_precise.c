/* Tests for sched/kv_view (what the servers' KV events say they hold) and the scorer that
 * reads it, "precise-prefix": events stored, removed and cleared per endpoint and medium, the
 * GPU and either-medium runs, the CPU weight, the fallback to the prefix index without
 * kv_hashes, and a reload's copy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/rng.h"
#include "sched/sched.h"

static const uint64_t chain[6] = {11, 22, 33, 44, 55, 66};

static void assert_valid(const wp_sched_t *s)
{
    wp_err_t err = {{0}};
    if (wp_sched_validate(s, &err) != WP_OK)
        fail_msg("validate: %s", err.msg);
}

static wp_sched_t *make(double cpu_weight, int n)
{
    wp_sched_config_t cfg;
    wp_sched_config_default(&cfg);
    cfg.n_scorers = 0;
    cfg.kv_cpu_weight = cpu_weight;
    wp_err_t err;
    assert_int_equal(wp_sched_config_add_scorer(&cfg, "precise-prefix", 1.0, &err), WP_OK);
    wp_sched_t *s = wp_sched_new(&cfg, &err);
    if (!s)
        fail_msg("new: %s", err.msg);
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "ep-%d", i);
        assert_int_equal(wp_sched_endpoint_add(s, name, WP_SCHED_ROLE_BOTH), i);
    }
    return s;
}

static void test_kv_view_events(void **state)
{
    (void)state;
    wp_err_t err;
    wp_sched_kv_t *kv = wp_sched_kv_new(4, &err);
    assert_non_null(kv);
    uint32_t gpu[WP_SCHED_INDEX_MAX_ENDPOINTS], any[WP_SCHED_INDEX_MAX_ENDPOINTS];
    assert_int_equal(wp_sched_kv_store(kv, 0, WP_SCHED_MEDIUM_GPU, chain, 3), WP_OK);
    assert_int_equal(wp_sched_kv_store(kv, 1, WP_SCHED_MEDIUM_GPU, chain, 1), WP_OK);
    assert_int_equal(wp_sched_kv_store(kv, 1, WP_SCHED_MEDIUM_CPU, chain + 1, 3), WP_OK);
    wp_sched_kv_match(kv, 2, chain, 6, gpu, any);
    assert_int_equal(gpu[0], 3);
    assert_int_equal(any[0], 3);
    assert_int_equal(gpu[1], 1);
    assert_int_equal(any[1], 4);
    assert_int_equal(wp_sched_kv_blocks(kv, 1, WP_SCHED_MEDIUMS), 4);
    assert_int_equal(wp_sched_kv_blocks(kv, -1, WP_SCHED_MEDIUM_GPU), 4);
    /* A removed middle block cuts the run; removing what is not held changes nothing. */
    assert_int_equal(wp_sched_kv_remove(kv, 0, WP_SCHED_MEDIUM_GPU, chain + 1, 1), 1);
    assert_int_equal(wp_sched_kv_remove(kv, 0, WP_SCHED_MEDIUM_GPU, chain + 5, 1), 0);
    assert_int_equal(wp_sched_kv_remove(kv, 0, WP_SCHED_MEDIUM_CPU, chain, 1), 0);
    wp_sched_kv_match(kv, 2, chain, 6, gpu, any);
    assert_int_equal(gpu[0], 1);
    /* Bounded: a fifth block on one medium pushes out the oldest stored. */
    assert_int_equal(wp_sched_kv_store(kv, 1, WP_SCHED_MEDIUM_CPU, chain + 4, 2), WP_OK);
    assert_int_equal(wp_sched_kv_blocks(kv, 1, WP_SCHED_MEDIUM_CPU), 4);
    assert_int_equal(wp_sched_kv_store(kv, 0, WP_SCHED_MEDIUMS, chain, 1), WP_EINVAL);
    assert_int_equal(wp_sched_kv_validate(kv, 2, &err), WP_OK);
    assert_int_equal(wp_sched_kv_validate(kv, 1, &err), WP_EINVAL); /* ep 1 is unknown */
    wp_sched_kv_clear(kv, 1);
    assert_int_equal(wp_sched_kv_blocks(kv, 1, WP_SCHED_MEDIUMS), 0);
    assert_true(wp_sched_kv_bytes(kv) > 0);
    wp_sched_kv_free(kv);
}

/* Endpoint 1 holds 4 leading blocks on the GPU; endpoint 2 holds 2 on the GPU and the next 4
 * on the CPU only; endpoint 0 nothing. */
static void fill(wp_sched_t *s)
{
    wp_sched_kv_t *kv = wp_sched_kv(s);
    assert_int_equal(wp_sched_kv_store(kv, 1, WP_SCHED_MEDIUM_GPU, chain, 4), WP_OK);
    assert_int_equal(wp_sched_kv_store(kv, 2, WP_SCHED_MEDIUM_GPU, chain, 2), WP_OK);
    assert_int_equal(wp_sched_kv_store(kv, 2, WP_SCHED_MEDIUM_CPU, chain + 2, 4), WP_OK);
    for (int ep = 0; ep < 3; ep++)
        assert_int_equal(wp_sched_endpoint_set_kv_events(s, ep, true), WP_OK);
}

static wp_sched_pick_t pick(wp_sched_t *s, const uint64_t *kv_hashes, size_t n)
{
    wp_rng_t rng;
    wp_rng_seed(&rng, 1);
    wp_sched_request_t req = {.model = "m",
                              .prompt = "",
                              .session_ep = -1,
                              .kv_hashes = kv_hashes,
                              .n_kv_hashes = n,
                              .prompt_tokens = 100};
    wp_sched_pick_t p;
    wp_err_t err;
    if (wp_sched_pick(s, 0.0, &req, &rng, &p, &err) != WP_OK)
        fail_msg("pick: %s", err.msg);
    return p;
}

static void test_precise_prefix_gpu_over_cpu(void **state)
{
    (void)state;
    wp_sched_t *s = make(0.8, 3);
    fill(s);
    wp_sched_pick_t p = pick(s, chain, 6);
    /* ep 2: (2 + 0.8 × 4) / 6 = 0.867 beats ep 1's 4 / 6. */
    assert_int_equal(p.endpoint, 2);
    assert_true(fabs(p.scores[0].raw - 5.2 / 6.0) < 1e-9);
    assert_int_equal(p.n_kv_blocks, 6);
    assert_int_equal(p.kv_gpu_blocks, 2);
    assert_int_equal(p.kv_any_blocks, 6);
    assert_true(fabs(p.prefill_tokens - 4.0) < 1e-9); /* 100 tokens less 6 blocks of 16 */
    /* Events no longer feed ep 2: its cached tokens come from the prefix index (none). */
    assert_int_equal(wp_sched_endpoint_set_kv_events(s, 2, false), WP_OK);
    p = pick(s, chain, 6);
    assert_int_equal(p.endpoint, 2);
    assert_true(fabs(p.prefill_tokens - 100.0) < 1e-9);
    assert_int_equal(wp_sched_endpoint_set_kv_events(s, 3, true), WP_EINVAL);
    wp_sched_free(s);
    s = make(0.3, 3);
    fill(s);
    p = pick(s, chain, 6); /* ep 2: (2 + 1.2) / 6 = 0.533 < 0.667 */
    assert_int_equal(p.endpoint, 1);
    assert_true(fabs(p.scores[0].raw - 4.0 / 6.0) < 1e-9);
    /* A removal reported by ep 1 takes its blocks 3 and 4 away: ep 2 wins again. */
    assert_int_equal(wp_sched_kv_remove(wp_sched_kv(s), 1, WP_SCHED_MEDIUM_GPU, chain + 2, 1), 1);
    p = pick(s, chain, 6);
    assert_int_equal(p.endpoint, 2);
    assert_valid(s);
    wp_sched_free(s);
}

/* Without kv_hashes the scorer is prefix-aware: the prefix index decides. */
static void test_precise_prefix_fallback(void **state)
{
    (void)state;
    wp_sched_t *s = make(0.8, 3);
    fill(s);
    char prompt[256];
    memset(prompt, 'a', sizeof(prompt));
    wp_sched_pick_t sent = {.endpoint = 0, .prompt_tokens = 64};
    uint64_t hashes[4];
    size_t n = wp_sched_hash_prompt(s, "m", NULL, prompt, sizeof(prompt), hashes, 4);
    assert_int_equal(n, 4);
    sent.block_hashes = hashes;
    sent.n_blocks = 4;
    assert_int_equal(wp_sched_on_dispatch(s, &sent), WP_OK);
    wp_rng_t rng;
    wp_rng_seed(&rng, 1);
    wp_sched_request_t req = {.model = "m",
                              .prompt = prompt,
                              .prompt_len = sizeof(prompt),
                              .session_ep = -1,
                              .hash_buf = hashes,
                              .hash_cap = 4};
    wp_sched_pick_t p;
    wp_err_t err;
    assert_int_equal(wp_sched_pick(s, 0.0, &req, &rng, &p, &err), WP_OK);
    assert_int_equal(p.endpoint, 0);
    assert_true(fabs(p.scores[0].raw - 1.0) < 1e-9);
    assert_int_equal(p.n_kv_blocks, 0);
    assert_int_equal(wp_sched_on_complete(s, &sent), WP_OK);
    wp_sched_free(s);
}

/* A reload's new scheduler adopts the view of the endpoints it keeps. */
static void test_precise_prefix_adopt(void **state)
{
    (void)state;
    wp_sched_t *old = make(0.8, 3), *neu = make(0.8, 2);
    fill(old);
    assert_int_equal(wp_sched_endpoint_adopt(neu, 0, old, 2), WP_OK);
    assert_int_equal(wp_sched_kv_blocks(wp_sched_kv(neu), 0, WP_SCHED_MEDIUM_GPU), 2);
    assert_int_equal(wp_sched_kv_blocks(wp_sched_kv(neu), 0, WP_SCHED_MEDIUM_CPU), 4);
    assert_int_equal(pick(neu, chain, 6).endpoint, 0);
    assert_valid(neu);
    wp_sched_free(old);
    wp_sched_free(neu);
}

static void test_precise_prefix_config(void **state)
{
    (void)state;
    wp_sched_config_t cfg;
    wp_sched_config_default(&cfg);
    wp_err_t err;
    cfg.kv_cpu_weight = 1.5;
    assert_int_equal(wp_sched_config_validate(&cfg, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "cpu weight"));
    cfg.kv_cpu_weight = 0.5;
    cfg.kv_capacity = 0;
    assert_int_equal(wp_sched_config_validate(&cfg, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "kv view capacity"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kv_view_events),
        cmocka_unit_test(test_precise_prefix_gpu_over_cpu),
        cmocka_unit_test(test_precise_prefix_fallback),
        cmocka_unit_test(test_precise_prefix_adopt),
        cmocka_unit_test(test_precise_prefix_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
