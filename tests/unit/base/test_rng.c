/* Unit tests for base/rng: seeding (splitmix64 reference values), the xoshiro256**
 * sequence (reference values from an independent implementation), determinism,
 * wp_rng_below bounds and spread, wp_rng_double range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/rng.h"

static void test_base_rng_seed_reference(void **state)
{
    (void)state;
    wp_rng_t r;
    wp_rng_seed(&r, 0);
    /* The first four outputs of splitmix64 from 0, as published with the algorithm. */
    assert_true(r.s[0] == 0xe220a8397b1dcdafULL);
    assert_true(r.s[1] == 0x6e789e6aa1b965f4ULL);
    assert_true(r.s[2] == 0x06c45d188009454fULL);
    assert_true(r.s[3] == 0xf88bb8a8724c81ecULL);
    assert_true(wp_rng_next(&r) == 0x99ec5f36cb75f2b4ULL);
    assert_true(wp_rng_next(&r) == 0xbf6e1f784956452aULL);
    assert_true(wp_rng_next(&r) == 0x1a5f849d4933e6e0ULL);

    wp_rng_seed(&r, 42);
    assert_true(wp_rng_next(&r) == 0x15780b2e0c2ec716ULL);
    assert_true(wp_rng_next(&r) == 0x6104d9866d113a7eULL);
    assert_true(wp_rng_next(&r) == 0xae17533239e499a1ULL);
}

static void test_base_rng_deterministic(void **state)
{
    (void)state;
    wp_rng_t a, b, c;
    wp_rng_seed(&a, 1234);
    wp_rng_seed(&b, 1234);
    wp_rng_seed(&c, 1235);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = wp_rng_next(&a);
        assert_true(x == wp_rng_next(&b));
        differ += x != wp_rng_next(&c);
    }
    assert_true(differ > 990);
    /* The state is plain data: a copy continues the same sequence. */
    wp_rng_t d = a;
    for (int i = 0; i < 10; i++)
        assert_true(wp_rng_below(&a, 1000) == wp_rng_below(&d, 1000));
}

static void test_base_rng_below_bounds(void **state)
{
    (void)state;
    wp_rng_t r;
    wp_rng_seed(&r, 7);
    for (int i = 0; i < 100; i++)
        assert_true(wp_rng_below(&r, 1) == 0);
    const uint64_t big[] = {(1ULL << 63) + 1, UINT64_MAX, 3, 1000003};
    for (size_t k = 0; k < sizeof(big) / sizeof(big[0]); k++)
        for (int i = 0; i < 2000; i++)
            assert_true(wp_rng_below(&r, big[k]) < big[k]);
}

static void test_base_rng_below_spread(void **state)
{
    (void)state;
    wp_rng_t r;
    wp_rng_seed(&r, 99);
    enum { N = 10, DRAWS = 100000 };
    int count[N] = {0};
    for (int i = 0; i < DRAWS; i++)
        count[wp_rng_below(&r, N)]++;
    for (int k = 0; k < N; k++) {
        /* Expected 10000 each; 5 % is over 15 standard deviations. */
        assert_in_range(count[k], 9500, 10500);
    }
}

static void test_base_rng_double_range(void **state)
{
    (void)state;
    wp_rng_t r;
    wp_rng_seed(&r, 5);
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        double x = wp_rng_double(&r);
        assert_true(x >= 0.0 && x < 1.0);
        sum += x;
    }
    double mean = sum / 100000;
    assert_true(mean > 0.49 && mean < 0.51);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_rng_seed_reference),
        cmocka_unit_test(test_base_rng_deterministic),
        cmocka_unit_test(test_base_rng_below_bounds),
        cmocka_unit_test(test_base_rng_below_spread),
        cmocka_unit_test(test_base_rng_double_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
