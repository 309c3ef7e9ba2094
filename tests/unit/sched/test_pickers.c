/* Tests for the sched pickers and baseline policies: max-score with uniform tie-breaking,
 * weighted-random proportions, round-robin cycling, and random. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sched/sched_internal.h"

#define DRAWS 20000

static void test_pickers_max_prefers_highest(void **state)
{
    wp_rng_t rng;
    wp_rng_seed(&rng, 1);
    const double t[] = {1.0, 3.0, 3.0, 2.0};
    int hits[4] = {0};
    for (int i = 0; i < DRAWS; i++)
        hits[wp__sched_picker_max.pick(t, 4, &rng)]++;
    assert_int_equal(hits[0] + hits[3], 0);
    /* The two tied leaders share the traffic about evenly. */
    assert_in_range(hits[1], DRAWS * 45 / 100, DRAWS * 55 / 100);
    const double single[] = {0.2};
    assert_int_equal(wp__sched_picker_max.pick(single, 1, &rng), 0);
}

static void test_pickers_max_ties_uniform(void **state)
{
    /* Four equal endpoints, many seeded picks: each is chosen 20-30 % of the time. */
    const double t[] = {75.0, 75.0, 75.0, 75.0};
    int hits[4] = {0};
    for (uint64_t seed = 0; seed < 4000; seed++) {
        wp_rng_t rng;
        wp_rng_seed(&rng, seed);
        hits[wp__sched_picker_max.pick(t, 4, &rng)]++;
    }
    for (int i = 0; i < 4; i++)
        assert_in_range(hits[i], 800, 1200);
}

static void test_pickers_weighted_proportions(void **state)
{
    wp_rng_t rng;
    wp_rng_seed(&rng, 2);
    const double t[] = {10.0, 0.0, 20.0, 30.0, 40.0}; /* 0.1, 0, 0.2, 0.3, 0.4 */
    int hits[5] = {0};
    for (int i = 0; i < DRAWS; i++)
        hits[wp__sched_picker_weighted.pick(t, 5, &rng)]++;
    assert_int_equal(hits[1], 0);
    const double want[] = {0.1, 0.0, 0.2, 0.3, 0.4};
    for (int i = 0; i < 5; i++)
        assert_float_equal((double)hits[i] / DRAWS, want[i], 0.015);
}

static void test_pickers_weighted_all_zero_uniform(void **state)
{
    wp_rng_t rng;
    wp_rng_seed(&rng, 3);
    const double t[] = {0.0, 0.0, 0.0, 0.0};
    int hits[4] = {0};
    for (int i = 0; i < DRAWS; i++)
        hits[wp__sched_picker_weighted.pick(t, 4, &rng)]++;
    for (int i = 0; i < 4; i++)
        assert_in_range(hits[i], DRAWS * 20 / 100, DRAWS * 30 / 100);
}

static wp__sched_ctx_t ctx_for(const int *cand, int n)
{
    return (wp__sched_ctx_t){.cand = cand, .n = n};
}

static void test_pickers_round_robin_cycles(void **state)
{
    wp_rng_t rng;
    wp_rng_seed(&rng, 4);
    uint32_t st = 0;
    const int all[] = {0, 1, 2};
    wp__sched_ctx_t ctx = ctx_for(all, 3);
    const int want[] = {0, 1, 2, 0, 1, 2, 0};
    for (int i = 0; i < 7; i++)
        assert_int_equal(all[wp__sched_policy_rr.choose(&ctx, &st, &rng)], want[i]);
    /* Endpoint 1 filtered out: the cycle skips it. */
    const int some[] = {0, 2};
    ctx = ctx_for(some, 2);
    st = 0;
    const int want2[] = {0, 2, 0, 2};
    for (int i = 0; i < 4; i++)
        assert_int_equal(some[wp__sched_policy_rr.choose(&ctx, &st, &rng)], want2[i]);
}

static void test_pickers_random_uniform(void **state)
{
    wp_rng_t rng;
    wp_rng_seed(&rng, 5);
    uint32_t st = 0;
    const int cand[] = {3, 5, 8, 9};
    wp__sched_ctx_t ctx = ctx_for(cand, 4);
    int hits[4] = {0};
    for (int i = 0; i < DRAWS; i++)
        hits[wp__sched_policy_random.choose(&ctx, &st, &rng)]++;
    for (int i = 0; i < 4; i++)
        assert_in_range(hits[i], DRAWS * 20 / 100, DRAWS * 30 / 100);
}

static void test_pickers_registry(void **state)
{
    assert_ptr_equal(wp__sched_picker_find("max-score"), &wp__sched_picker_max);
    assert_ptr_equal(wp__sched_picker_find("weighted-random"), &wp__sched_picker_weighted);
    assert_null(wp__sched_picker_find("min-score"));
    assert_null(wp__sched_picker_find(NULL));
    assert_ptr_equal(wp__sched_policy_find("round-robin"), &wp__sched_policy_rr);
    assert_ptr_equal(wp__sched_scorer_find("queue"), &wp__sched_scorer_queue);
    wp_err_t err;
    assert_int_equal(wp__sched_unknown(&err, 'p', "min-score"), WP_EINVAL);
    assert_string_equal(err.msg, "unknown picker 'min-score' (valid: max-score, weighted-random)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pickers_max_prefers_highest),
        cmocka_unit_test(test_pickers_max_ties_uniform),
        cmocka_unit_test(test_pickers_weighted_proportions),
        cmocka_unit_test(test_pickers_weighted_all_zero_uniform),
        cmocka_unit_test(test_pickers_round_robin_cycles),
        cmocka_unit_test(test_pickers_random_uniform),
        cmocka_unit_test(test_pickers_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
