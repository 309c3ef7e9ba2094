/* Unit tests for stats/: histogram counts, exposition text, quantiles, number format and
 * raw-sample percentiles, checked against hand-computed values. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stats/stats.h"

/* cmocka 1.1 compares only floats; this compares doubles within eps and shows both. */
#define assert_near(a, b, eps) check_near((a), (b), (eps), __FILE__, __LINE__)
static void check_near(double a, double b, double eps, const char *file, int line)
{
    if (!(fabs(a - b) <= eps)) {
        print_error("%.17g != %.17g (eps %g)\n", a, b, eps);
        _fail(file, line);
    }
}

static const double small_bounds[] = {0.25, 0.5, 1.0};

/* 0.125 and 0.25 (inclusive) in le=0.25; 0.375 in 0.5; 0.75 in 1.0; 2 and 5 in +Inf. */
static void fill_small(wp_stats_hist_t *h)
{
    const double v[] = {0.125, 0.25, 0.375, 0.75, 2.0, 5.0};
    assert_int_equal(wp_stats_hist_init(h, small_bounds, 3, NULL), WP_OK);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        wp_stats_hist_observe(h, v[i]);
}

static void test_stats_hist_observe_counts(void **state)
{
    (void)state;
    wp_stats_hist_t h;
    fill_small(&h);
    assert_int_equal(h.buckets[0], 2);
    assert_int_equal(h.buckets[1], 1);
    assert_int_equal(h.buckets[2], 1);
    assert_int_equal(h.buckets[3], 2);
    assert_int_equal(wp_stats_hist_cumulative(&h, 0), 2);
    assert_int_equal(wp_stats_hist_cumulative(&h, 1), 3);
    assert_int_equal(wp_stats_hist_cumulative(&h, 2), 4);
    assert_int_equal(wp_stats_hist_cumulative(&h, 3), 6);
    assert_int_equal(h.count, 6);
    assert_true(h.sum == 8.5);
    wp_stats_hist_observe(&h, NAN); /* ignored */
    assert_int_equal(h.count, 6);
    assert_int_equal(wp_stats_hist_validate(&h, NULL), WP_OK);
    wp_stats_hist_reset(&h);
    assert_int_equal(h.count, 0);
    assert_int_equal(wp_stats_hist_cumulative(&h, 3), 0);
    assert_int_equal(wp_stats_hist_validate(&h, NULL), WP_OK);
    wp_stats_hist_free(&h);
}

static void test_stats_hist_write_prom(void **state)
{
    (void)state;
    wp_stats_hist_t h;
    fill_small(&h);
    wp_buf_t b;
    wp_buf_init(&b, 0);
    assert_int_equal(wp_stats_hist_write_prom(&h, &b, "x", "model_name=\"m\""), WP_OK);
    assert_string_equal(b.data, "x_bucket{model_name=\"m\",le=\"0.25\"} 2.0\n"
                                "x_bucket{model_name=\"m\",le=\"0.5\"} 3.0\n"
                                "x_bucket{model_name=\"m\",le=\"1.0\"} 4.0\n"
                                "x_bucket{model_name=\"m\",le=\"+Inf\"} 6.0\n"
                                "x_sum{model_name=\"m\"} 8.5\n"
                                "x_count{model_name=\"m\"} 6.0\n");
    wp_buf_reset(&b);
    assert_int_equal(wp_stats_hist_write_prom(&h, &b, "x", ""), WP_OK);
    assert_string_equal(b.data, "x_bucket{le=\"0.25\"} 2.0\n"
                                "x_bucket{le=\"0.5\"} 3.0\n"
                                "x_bucket{le=\"1.0\"} 4.0\n"
                                "x_bucket{le=\"+Inf\"} 6.0\n"
                                "x_sum 8.5\n"
                                "x_count 6.0\n");
    wp_buf_free(&b);
    wp_buf_init(&b, 64); /* too small: the cap is reported, not overrun */
    assert_int_equal(wp_stats_hist_write_prom(&h, &b, "x", ""), WP_ELIMIT);
    assert_true(b.len < 64);
    wp_buf_free(&b);
    wp_stats_hist_free(&h);
}

static void test_stats_hist_vllm_buckets(void **state)
{
    (void)state;
    wp_stats_hist_t h;
    assert_int_equal(wp_stats_hist_init(&h, WP_STATS_BUCKETS_TTFT, WP_STATS_BUCKETS_TTFT_N, NULL),
                     WP_OK);
    assert_true(WP_STATS_BUCKETS_TTFT[0] == 0.001 && WP_STATS_BUCKETS_TTFT[21] == 2560.0);
    assert_true(WP_STATS_BUCKETS_ITL[0] == 0.01 && WP_STATS_BUCKETS_ITL[18] == 80.0);
    assert_true(WP_STATS_BUCKETS_E2E[0] == 0.3 && WP_STATS_BUCKETS_E2E[20] == 7680.0);
    wp_stats_hist_observe(&h, 0.12); /* le=0.25 */
    wp_buf_t b;
    wp_buf_init(&b, 0);
    assert_int_equal(wp_stats_hist_write_prom(&h, &b, "vllm:time_to_first_token_seconds",
                                              "engine=\"0\",model_name=\"qwen3-8b\""),
                     WP_OK);
    assert_non_null(strstr(b.data, "vllm:time_to_first_token_seconds_bucket{engine=\"0\","
                                   "model_name=\"qwen3-8b\",le=\"0.001\"} 0.0\n"));
    assert_non_null(strstr(b.data, ",le=\"0.1\"} 0.0\n"));
    assert_non_null(strstr(b.data, ",le=\"0.25\"} 1.0\n"));
    assert_non_null(strstr(b.data, ",le=\"2560.0\"} 1.0\n"));
    assert_non_null(strstr(b.data, "_sum{engine=\"0\",model_name=\"qwen3-8b\"} 0.12\n"));
    wp_buf_free(&b);
    wp_stats_hist_t e;
    assert_int_equal(wp_stats_hist_init(&e, WP_STATS_BUCKETS_E2E, WP_STATS_BUCKETS_E2E_N, NULL),
                     WP_OK);
    assert_int_equal(wp_stats_hist_validate(&e, NULL), WP_OK);
    wp_stats_hist_free(&e);
    wp_stats_hist_free(&h);
}

static void test_stats_hist_quantile(void **state)
{
    (void)state;
    wp_stats_hist_t h;
    fill_small(&h);
    /* rank 1.5 of 2 in [0, 0.25] */
    assert_near(wp_stats_hist_quantile(&h, 0.25), 0.1875, 1e-12);
    /* rank 3: 1 of 1 in (0.25, 0.5] */
    assert_near(wp_stats_hist_quantile(&h, 0.5), 0.5, 1e-12);
    /* rank 3.6: 0.6 of 1 in (0.5, 1.0] */
    assert_near(wp_stats_hist_quantile(&h, 0.6), 0.8, 1e-12);
    /* rank 5.4 falls in +Inf: the last finite bound */
    assert_near(wp_stats_hist_quantile(&h, 0.9), 1.0, 1e-12);
    assert_near(wp_stats_hist_quantile(&h, 0.0), 0.0, 1e-12);
    assert_true(isinf(wp_stats_hist_quantile(&h, -0.1)) && wp_stats_hist_quantile(&h, -1) < 0);
    assert_true(isinf(wp_stats_hist_quantile(&h, 1.5)) && wp_stats_hist_quantile(&h, 2) > 0);
    assert_true(isnan(wp_stats_hist_quantile(&h, NAN)));
    wp_stats_hist_reset(&h);
    assert_true(isnan(wp_stats_hist_quantile(&h, 0.5)));
    /* an empty bucket before the rank: 4 in le=0.25, none in 0.5, 4 in 1.0; q=0.75 ->
     * rank 6 -> 2 of 4 into (0.5, 1.0] = 0.75 */
    for (int i = 0; i < 4; i++) {
        wp_stats_hist_observe(&h, 0.1);
        wp_stats_hist_observe(&h, 0.9);
    }
    assert_near(wp_stats_hist_quantile(&h, 0.75), 0.75, 1e-12);
    wp_stats_hist_free(&h);
}

static void test_stats_hist_init_rejects(void **state)
{
    (void)state;
    wp_stats_hist_t h;
    wp_err_t err;
    const double dup[] = {0.1, 0.1};
    const double down[] = {1.0, 0.5};
    const double nan_b[] = {0.1, NAN};
    assert_int_equal(wp_stats_hist_init(&h, dup, 2, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "bound 1"));
    assert_int_equal(wp_stats_hist_init(&h, down, 2, &err), WP_EINVAL);
    assert_int_equal(wp_stats_hist_init(&h, nan_b, 2, &err), WP_EINVAL);
    assert_int_equal(wp_stats_hist_init(&h, dup, 0, &err), WP_EINVAL);
    wp_stats_hist_free(&h); /* safe after a failed init */
}

static void test_stats_hist_merge_and_validate(void **state)
{
    (void)state;
    wp_stats_hist_t a, b, c;
    fill_small(&a);
    fill_small(&b);
    assert_int_equal(wp_stats_hist_init(&c, WP_STATS_BUCKETS_ITL, WP_STATS_BUCKETS_ITL_N, NULL),
                     WP_OK);
    assert_int_equal(wp_stats_hist_merge(&a, &b), WP_OK);
    assert_int_equal(a.count, 12);
    assert_int_equal(wp_stats_hist_cumulative(&a, 0), 4);
    assert_true(a.sum == 17.0);
    assert_int_equal(wp_stats_hist_merge(&a, &c), WP_EINVAL);
    assert_int_equal(wp_stats_hist_validate(&a, NULL), WP_OK);
    wp_err_t err;
    a.count++; /* break the invariant */
    assert_int_equal(wp_stats_hist_validate(&a, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "count"));
    wp_stats_hist_free(&a);
    wp_stats_hist_free(&b);
    wp_stats_hist_free(&c);
}

static void check_fmt(double v, const char *want)
{
    char s[WP_STATS_FMT_MAX];
    size_t n = wp_stats_fmt_double(s, sizeof(s), v);
    assert_string_equal(s, want);
    assert_int_equal(n, strlen(want));
}

static void test_stats_fmt_double(void **state)
{
    (void)state;
    check_fmt(0.005, "0.005");
    check_fmt(1.0, "1.0");
    check_fmt(2560.0, "2560.0");
    check_fmt(100.0, "100.0");
    check_fmt(0.1, "0.1");
    check_fmt(12.5, "12.5");
    check_fmt(-2.5, "-2.5");
    check_fmt(0.0, "0.0");
    check_fmt(0.0001, "0.0001");
    check_fmt(0.00012, "0.00012");
    check_fmt(1e-5, "1e-05");
    check_fmt(123456.0, "123456.0");
    check_fmt(1e6, "1e+06");
    check_fmt(1.5e6, "1.5e+06");
    check_fmt(1234567.0, "1.234567e+06");
    check_fmt(1e100, "1e+100");
    check_fmt(0.1 + 0.2, "0.30000000000000004");
    check_fmt(INFINITY, "+Inf");
    check_fmt(-INFINITY, "-Inf");
    check_fmt(NAN, "NaN");
    char tiny[4];
    assert_int_equal(wp_stats_fmt_double(tiny, sizeof(tiny), 2560.0), 6); /* cut, not overrun */
    assert_string_equal(tiny, "256");
}

static void test_stats_samples_quantile(void **state)
{
    (void)state;
    wp_stats_samples_t s;
    wp_stats_samples_init(&s, 0);
    assert_true(isnan(wp_stats_samples_quantile(&s, 0.5)));
    assert_true(isnan(wp_stats_samples_mean(&s)));
    for (int i = 1; i <= 4; i++)
        assert_int_equal(wp_stats_samples_add(&s, i), WP_OK);
    assert_near(wp_stats_samples_mean(&s), 2.5, 1e-12);
    assert_near(wp_stats_samples_quantile(&s, 0.5), 2.5, 1e-12); /* h = 1.5 */
    assert_near(wp_stats_samples_quantile(&s, 0.9), 3.7, 1e-12); /* h = 2.7 */
    assert_near(wp_stats_samples_quantile(&s, 0.0), 1.0, 1e-12);
    assert_near(wp_stats_samples_quantile(&s, 1.0), 4.0, 1e-12);
    assert_near(wp_stats_samples_quantile(&s, 7.0), 4.0, 1e-12); /* clamped */
    wp_stats_samples_free(&s);

    /* unsorted input: sorted {15,20,35,40,50}; q=0.4 -> h=1.6 -> 20 + 0.6*15 = 29 */
    const double v[] = {40, 15, 50, 35, 20};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(wp_stats_samples_add(&s, v[i]), WP_OK);
    assert_false(s.sorted);
    assert_int_equal(wp_stats_samples_validate(&s, NULL), WP_OK);
    assert_near(wp_stats_samples_quantile(&s, 0.4), 29.0, 1e-12);
    assert_true(s.sorted);
    assert_near(wp_stats_samples_quantile(&s, 0.95), 48.0, 1e-12); /* h=3.8 */
    assert_near(wp_stats_samples_min(&s), 15.0, 0);
    assert_near(wp_stats_samples_max(&s), 50.0, 0);
    assert_near(wp_stats_samples_mean(&s), 32.0, 1e-12);
    assert_int_equal(wp_stats_samples_validate(&s, NULL), WP_OK);
    assert_int_equal(wp_stats_samples_add(&s, 1.0), WP_OK); /* breaks the order */
    assert_false(s.sorted);
    assert_near(wp_stats_samples_quantile(&s, 0.0), 1.0, 0);
    wp_stats_samples_free(&s);
}

/* Above 64 samples the sort is a radix sort on the values' bits: every quantile of 5000
 * values of mixed signs, magnitudes, zeros of both signs and repeats must equal the one
 * computed from a reference order (insertion sort of a copy). */
static void test_stats_samples_sort_order(void **state)
{
    (void)state;
    enum { N = 5000 };
    static double ref[N];
    wp_stats_samples_t s;
    wp_stats_samples_init(&s, 0);
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v = (double)(x % 2000001) / 1000.0 - 1000.0; /* [-1000, 1000], repeats */
        if (i % 7 == 0)
            v *= 1e-300; /* tiny and subnormal-adjacent magnitudes */
        if (i % 11 == 0)
            v = (i % 2) ? 0.0 : -0.0;
        if (i % 13 == 0)
            v = ldexp(v, 900); /* huge ones */
        ref[i] = v;
        assert_int_equal(wp_stats_samples_add(&s, v), WP_OK);
    }
    for (int i = 1; i < N; i++) {
        double v = ref[i];
        int j = i;
        for (; j > 0 && ref[j - 1] > v; j--)
            ref[j] = ref[j - 1];
        ref[j] = v;
    }
    for (int i = 0; i <= 100; i++) {
        double q = i / 100.0, h = (N - 1) * q;
        int lo = (int)floor(h);
        double want = lo + 1 >= N ? ref[N - 1] : ref[lo] + (h - lo) * (ref[lo + 1] - ref[lo]);
        assert_near(wp_stats_samples_quantile(&s, q), want, 0);
    }
    assert_true(s.sorted);
    assert_int_equal(wp_stats_samples_validate(&s, NULL), WP_OK);
    wp_stats_samples_free(&s);
}

/* Quantiles over the union of sets, merged without a copy, equal those of one set holding
 * every value: three sets of different sizes (one empty, one of a single value, repeats
 * across sets), every percentile, the ends, and a NaN q. */
static void test_stats_samples_union_quantiles(void **state)
{
    (void)state;
    wp_stats_samples_t sets[4], all;
    wp_stats_samples_init(&all, 0);
    for (int i = 0; i < 4; i++)
        wp_stats_samples_init(&sets[i], 0);
    const int sizes[4] = {700, 0, 1, 300};
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < sizes[i]; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            double v = (double)(x % 5000) / 100.0 - 10.0;
            assert_int_equal(wp_stats_samples_add(&sets[i], v), WP_OK);
            assert_int_equal(wp_stats_samples_add(&all, v), WP_OK);
        }
    double qs[104], got[104];
    for (int i = 0; i <= 100; i++)
        qs[i] = i / 100.0;
    qs[101] = 1.0; /* repeated */
    qs[102] = 1.0;
    qs[103] = 1.0;
    assert_int_equal(wp_stats_samples_union_quantiles(sets, 4, qs, 104, got), WP_OK);
    for (int i = 0; i < 104; i++)
        assert_near(got[i], wp_stats_samples_quantile(&all, qs[i]), 0);
    const double two[2] = {0.25, 0.25}; /* the same rank twice */
    double out[2];
    assert_int_equal(wp_stats_samples_union_quantiles(sets, 4, two, 2, out), WP_OK);
    assert_near(out[0], wp_stats_samples_quantile(&all, 0.25), 0);
    assert_near(out[1], out[0], 0);
    const double nan_q[1] = {NAN};
    assert_int_equal(wp_stats_samples_union_quantiles(sets, 4, nan_q, 1, out), WP_OK);
    assert_true(isnan(out[0]));
    assert_int_equal(wp_stats_samples_union_quantiles(sets + 1, 1, qs, 1, out), WP_OK);
    assert_true(isnan(out[0])); /* only the empty set */
    for (int i = 0; i < 4; i++)
        wp_stats_samples_free(&sets[i]);
    wp_stats_samples_free(&all);
}

static void test_stats_samples_limits(void **state)
{
    (void)state;
    wp_stats_samples_t s;
    wp_stats_samples_init(&s, 3);
    assert_int_equal(wp_stats_samples_add(&s, NAN), WP_EINVAL);
    assert_int_equal(wp_stats_samples_add(&s, INFINITY), WP_EINVAL);
    assert_int_equal(wp_stats_samples_add(&s, 7.0), WP_OK);
    assert_near(wp_stats_samples_quantile(&s, 0.3), 7.0, 0); /* one sample */
    assert_int_equal(wp_stats_samples_add(&s, 8.0), WP_OK);
    assert_int_equal(wp_stats_samples_add(&s, 9.0), WP_OK);
    assert_int_equal(wp_stats_samples_add(&s, 10.0), WP_ELIMIT);
    assert_int_equal(wp_stats_samples_count(&s), 3);
    assert_int_equal(wp_stats_samples_validate(&s, NULL), WP_OK);
    wp_err_t err;
    s.max = 100.0; /* break the invariant */
    assert_int_equal(wp_stats_samples_validate(&s, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "min/max"));
    wp_stats_samples_free(&s);
}

/* wp_stats_append: values kept in order across growth from 64. */
static void test_stats_append_grows(void **state)
{
    (void)state;
    double *v = NULL;
    size_t n = 0, cap = 0;
    for (int i = 0; i < 200; i++)
        assert_int_equal(wp_stats_append(&v, &n, &cap, i * 0.5), WP_OK);
    assert_int_equal(n, 200);
    assert_int_equal(cap, 256);
    for (int i = 0; i < 200; i++)
        assert_true(v[i] == i * 0.5);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_append_grows),
        cmocka_unit_test(test_stats_hist_observe_counts),
        cmocka_unit_test(test_stats_hist_write_prom),
        cmocka_unit_test(test_stats_hist_vllm_buckets),
        cmocka_unit_test(test_stats_hist_quantile),
        cmocka_unit_test(test_stats_hist_init_rejects),
        cmocka_unit_test(test_stats_hist_merge_and_validate),
        cmocka_unit_test(test_stats_fmt_double),
        cmocka_unit_test(test_stats_samples_quantile),
        cmocka_unit_test(test_stats_samples_sort_order),
        cmocka_unit_test(test_stats_samples_union_quantiles),
        cmocka_unit_test(test_stats_samples_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
