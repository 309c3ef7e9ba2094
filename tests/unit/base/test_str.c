/* Unit tests for base/str: slices, strict number parsing (whole slice or nothing: no
 * trailing garbage, no leading space, no overflow, no empty input) and wp_strlcpy. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/str.h"

static wp_status_t i64(const char *s, int64_t *v)
{
    return wp_parse_i64(s, strlen(s), v);
}

static wp_status_t u64(const char *s, uint64_t *v)
{
    return wp_parse_u64(s, strlen(s), v);
}

static wp_status_t dbl(const char *s, double *v)
{
    return wp_parse_double(s, strlen(s), v);
}

static void test_base_str_slices(void **state)
{
    (void)state;
    wp_str_t a = wp_str_from("abc");
    assert_int_equal(a.n, 3);
    assert_true(wp_str_eq(a, WP_STR("abc")));
    assert_false(wp_str_eq(a, WP_STR("abd")));
    assert_false(wp_str_eq(a, WP_STR("ab")));
    assert_true(wp_str_eq((wp_str_t){NULL, 0}, WP_STR("")));
    assert_int_equal(wp_str_from(NULL).n, 0);
    assert_true(wp_str_eq_cstr(WP_STR("x-y"), "x-y"));
    assert_false(wp_str_eq_cstr(WP_STR("X-Y"), "x-y"));
    assert_true(wp_str_case_eq_cstr(WP_STR("Content-TYPE"), "content-type"));
    assert_false(wp_str_case_eq_cstr(WP_STR("Content-Typ"), "content-type"));
    assert_false(wp_str_case_eq_cstr(WP_STR("Content-Types"), "content-type"));
}

static void test_base_str_parse_i64(void **state)
{
    (void)state;
    int64_t v = 7;
    assert_int_equal(i64("0", &v), WP_OK);
    assert_int_equal(v, 0);
    assert_int_equal(i64("-42", &v), WP_OK);
    assert_int_equal(v, -42);
    assert_int_equal(i64("9223372036854775807", &v), WP_OK);
    assert_true(v == INT64_MAX);
    assert_int_equal(i64("-9223372036854775808", &v), WP_OK);
    assert_true(v == INT64_MIN);
    /* Only the slice is read. */
    assert_int_equal(wp_parse_i64("12345", 2, &v), WP_OK);
    assert_int_equal(v, 12);

    v = 7;
    const char *bad[] = {"",
                         "9223372036854775808",
                         "-9223372036854775809",
                         "12x",
                         "1 ",
                         " 1",
                         "\t1",
                         "1.0",
                         "0x10",
                         "abc",
                         "-",
                         "99999999999999999999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (i64(bad[i], &v) != WP_EINVAL) {
            print_error("'%s' accepted\n", bad[i]);
            fail();
        }
    }
    assert_int_equal(v, 7); /* untouched on failure */
    assert_int_equal(wp_parse_i64("5", 0, &v), WP_EINVAL);
}

static void test_base_str_parse_u64(void **state)
{
    (void)state;
    uint64_t v = 7;
    assert_int_equal(u64("18446744073709551615", &v), WP_OK);
    assert_true(v == UINT64_MAX);
    assert_int_equal(u64("65535", &v), WP_OK);
    assert_true(v == 65535);
    v = 7;
    const char *bad[] = {"", "18446744073709551616", "-1", " -1", "-0", "1e3", "8080/", "+"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (u64(bad[i], &v) != WP_EINVAL) {
            print_error("'%s' accepted\n", bad[i]);
            fail();
        }
    }
    assert_true(v == 7);
}

static void test_base_str_parse_double(void **state)
{
    (void)state;
    double v = 0;
    assert_int_equal(dbl("0.05", &v), WP_OK);
    assert_true(v == 0.05);
    assert_int_equal(dbl("-1.5e3", &v), WP_OK);
    assert_true(v == -1500.0);
    assert_int_equal(dbl("42", &v), WP_OK);
    assert_true(v == 42.0);
    assert_int_equal(wp_parse_double("3.75abc", 4, &v), WP_OK);
    assert_true(v == 3.75);
    v = 7.0;
    const char *bad[] = {"", "1.5x", "1e999", "-1e999", " 1", "1 ", ".", "e5", "--1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (dbl(bad[i], &v) != WP_EINVAL) {
            print_error("'%s' accepted\n", bad[i]);
            fail();
        }
    }
    assert_true(v == 7.0);
    /* Longer than the scratch space: refused, not cut. */
    char longnum[80];
    memset(longnum, '1', sizeof(longnum) - 1);
    longnum[sizeof(longnum) - 1] = '\0';
    assert_int_equal(dbl(longnum, &v), WP_EINVAL);
}

static void test_base_str_strlcpy(void **state)
{
    (void)state;
    char dst[6];
    assert_true(wp_strlcpy(dst, "hello", sizeof(dst)));
    assert_string_equal(dst, "hello");
    assert_false(wp_strlcpy(dst, "hello!", sizeof(dst)));
    assert_string_equal(dst, "hello");
    assert_true(wp_strlcpy(dst, "", sizeof(dst)));
    assert_string_equal(dst, "");
    dst[0] = 'q';
    assert_false(wp_strlcpy(dst, "x", 0));
    assert_int_equal(dst[0], 'q'); /* nothing written with cap 0 */
    assert_false(wp_strlcpy(dst, "x", 1));
    assert_string_equal(dst, "");
}

static void test_base_str_format_and_append(void **state)
{
    (void)state;
    char d[24];
    assert_int_equal(wp_str_put_u64(d, 0), 1);
    assert_memory_equal(d, "0", 1);
    assert_int_equal(wp_str_put_u64(d, UINT64_MAX), 20);
    assert_memory_equal(d, "18446744073709551615", 20);
    assert_int_equal(wp_str_put_hex(d, 0), 1);
    assert_memory_equal(d, "0", 1);
    assert_int_equal(wp_str_put_hex(d, 0xabc0), 4);
    assert_memory_equal(d, "abc0", 4);
    assert_int_equal(wp_str_put_hex(d, UINT64_MAX), 16);
    assert_memory_equal(d, "ffffffffffffffff", 16);
    char s[6] = "";
    size_t n = 0;
    assert_true(wp_str_append(s, sizeof(s), &n, "ab", 2));
    assert_true(wp_str_append(s, sizeof(s), &n, "", 0));
    assert_false(wp_str_append(s, sizeof(s), &n, "cdef", 4)); /* 7 bytes with the NUL: 6 fit */
    assert_string_equal(s, "ab");
    assert_int_equal(n, 2);
    assert_true(wp_str_append(s, sizeof(s), &n, "cde", 3));
    assert_string_equal(s, "abcde");
    assert_true(wp_str_append(s, sizeof(s), &n, "", 0)); /* nothing fits a full one */
    assert_false(wp_str_append(s, sizeof(s), &n, "f", 1));
    assert_int_equal(n, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_str_slices),
        cmocka_unit_test(test_base_str_parse_i64),
        cmocka_unit_test(test_base_str_parse_u64),
        cmocka_unit_test(test_base_str_parse_double),
        cmocka_unit_test(test_base_str_strlcpy),
        cmocka_unit_test(test_base_str_format_and_append),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
