/* Tests for sched/active: counts, distinct size and missing hashes by hand; all-or-nothing
 * adds at the size cap; copy and clear; and the set against a plain reference model under
 * random adds and removes (probe runs that wrap, backward-shift deletion), validated after
 * every operation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/rng.h"
#include "sched/active.h"

static void assert_valid(const wp_sched_active_t *a)
{
    wp_err_t err = {{0}};
    if (wp_sched_active_validate(a, &err) != WP_OK)
        fail_msg("validate: %s", err.msg);
}

/* Two requests share hashes 1 and 2: each counts once in the size, twice in its count, and
 * stays until both have gone. A hash never added is skipped on remove and counted. */
static void test_active_shared_hashes_count_once(void **state)
{
    wp_sched_active_t a = {0};
    assert_int_equal(wp_sched_active_unique(&a), 0);
    assert_int_equal(wp_sched_active_missing(&a, (uint64_t[]){1, 2}, 2), 2);
    const uint64_t r1[] = {1, 2, 3}, r2[] = {1, 2, 4, 5};
    assert_int_equal(wp_sched_active_add(&a, r1, 3), WP_OK);
    assert_int_equal(wp_sched_active_add(&a, r2, 4), WP_OK);
    assert_int_equal(wp_sched_active_unique(&a), 5);
    assert_int_equal(wp_sched_active_count(&a, 1), 2);
    assert_int_equal(wp_sched_active_count(&a, 4), 1);
    assert_int_equal(wp_sched_active_count(&a, 9), 0);
    const uint64_t q[] = {1, 2, 6, 7};
    assert_int_equal(wp_sched_active_missing(&a, q, 4), 2);
    assert_valid(&a);
    assert_int_equal(wp_sched_active_remove(&a, r1, 3), 0);
    assert_int_equal(wp_sched_active_unique(&a), 4); /* 3 left; 1 and 2 are r2's too */
    assert_int_equal(wp_sched_active_count(&a, 1), 1);
    assert_int_equal(wp_sched_active_remove(&a, (uint64_t[]){3, 8}, 2), 2);
    assert_int_equal(wp_sched_active_remove(&a, r2, 4), 0);
    assert_int_equal(wp_sched_active_unique(&a), 0);
    assert_valid(&a);
    wp_sched_active_clear(&a);
    assert_valid(&a);
}

/* An add past the cap adds nothing: the set is as it was (room is reserved before any hash
 * is read, so the count alone decides). Hash 0 is a key like any other. */
static void test_active_cap_is_all_or_nothing(void **state)
{
    wp_sched_active_t a = {0};
    assert_int_equal(wp_sched_active_add(&a, (uint64_t[]){0}, 1), WP_OK);
    assert_int_equal(wp_sched_active_count(&a, 0), 1);
    uint64_t big[1] = {7};
    assert_int_equal(wp_sched_active_add(&a, big, WP_SCHED_ACTIVE_MAX_UNIQUE), WP_ELIMIT);
    assert_int_equal(wp_sched_active_unique(&a), 1);
    assert_int_equal(wp_sched_active_count(&a, 7), 0);
    assert_valid(&a);
    wp_sched_active_clear(&a);
}

static void test_active_copy_and_clear(void **state)
{
    wp_sched_active_t a = {0}, b = {0};
    const uint64_t h[] = {10, 11, 12, 10};
    assert_int_equal(wp_sched_active_add(&a, h, 4), WP_OK);
    assert_int_equal(wp_sched_active_add(&b, (uint64_t[]){99}, 1), WP_OK);
    assert_int_equal(wp_sched_active_copy(&b, &a), WP_OK); /* b's own table is replaced */
    assert_int_equal(wp_sched_active_unique(&b), 3);
    assert_int_equal(wp_sched_active_count(&b, 10), 2);
    assert_int_equal(wp_sched_active_count(&b, 99), 0);
    assert_valid(&b);
    wp_sched_active_clear(&a); /* the copy does not share a's table */
    assert_int_equal(wp_sched_active_count(&b, 12), 1);
    wp_sched_active_t empty = {0};
    assert_int_equal(wp_sched_active_copy(&b, &empty), WP_OK);
    assert_int_equal(wp_sched_active_unique(&b), 0);
    assert_valid(&b);
    wp_sched_active_clear(&b);
}

/* Random requests of 1..40 hashes drawn from a small universe (so requests share hashes and
 * probe runs collide) join and leave in random order; after every step each hash's count
 * equals the reference's, and the set validates. */
static void test_active_against_reference(void **state)
{
    enum { UNIVERSE = 300, LIVE = 64, STEPS = 4000, MAX_N = 40 };
    static uint64_t req[LIVE][MAX_N];
    static uint32_t drawn[LIVE][MAX_N]; /* req's hashes as indices into the universe */
    static size_t len[LIVE];
    static uint32_t ref[UNIVERSE];
    int n_live = 0;
    wp_sched_active_t a = {0};
    wp_rng_t rng;
    wp_rng_seed(&rng, 5);
    for (int step = 0; step < STEPS; step++) {
        bool add = n_live == 0 || (n_live < LIVE && wp_rng_below(&rng, 2) == 0);
        if (add) {
            len[n_live] = 1 + wp_rng_below(&rng, MAX_N);
            for (size_t k = 0; k < len[n_live]; k++) {
                uint32_t u = (uint32_t)wp_rng_below(&rng, UNIVERSE);
                drawn[n_live][k] = u;
                req[n_live][k] = u * 0x9e3779b97f4a7c15ULL; /* spread, 0 included */
                ref[u]++;
            }
            assert_int_equal(wp_sched_active_add(&a, req[n_live], len[n_live]), WP_OK);
            n_live++;
        } else {
            int i = (int)wp_rng_below(&rng, (uint64_t)n_live);
            assert_int_equal(wp_sched_active_remove(&a, req[i], len[i]), 0);
            for (size_t k = 0; k < len[i]; k++)
                ref[drawn[i][k]]--;
            n_live--;
            memcpy(req[i], req[n_live], sizeof(req[i]));
            memcpy(drawn[i], drawn[n_live], sizeof(drawn[i]));
            len[i] = len[n_live];
        }
        size_t distinct = 0;
        for (uint64_t u = 0; u < UNIVERSE; u++) {
            distinct += ref[u] > 0;
            assert_int_equal(wp_sched_active_count(&a, u * 0x9e3779b97f4a7c15ULL), ref[u]);
        }
        assert_int_equal(wp_sched_active_unique(&a), distinct);
        assert_valid(&a);
    }
    wp_sched_active_clear(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_active_shared_hashes_count_once),
        cmocka_unit_test(test_active_cap_is_all_or_nothing),
        cmocka_unit_test(test_active_copy_and_clear),
        cmocka_unit_test(test_active_against_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
