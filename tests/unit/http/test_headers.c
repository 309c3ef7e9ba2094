/* Unit tests for http/headers: names and values arriving in pieces are glued, lookups
 * are case-insensitive and return the first match, and both limits (count, bytes)
 * fail with WP_ELIMIT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/headers.h"

static void add(wp_http_headers_t *hs, const char *name, const char *value)
{
    assert_int_equal(wp_http_headers_on_field(hs, name, strlen(name)), WP_OK);
    assert_int_equal(wp_http_headers_on_value(hs, value, strlen(value)), WP_OK);
}

static void expect_str(wp_str_t s, const char *want)
{
    assert_non_null(s.p);
    assert_int_equal(s.n, strlen(want));
    assert_memory_equal(s.p, want, s.n);
}

static void test_http_headers_pieces_glued(void **state)
{
    (void)state;
    wp_http_headers_t hs;
    wp_http_headers_init(&hs, 0);
    /* "Content-Type: application/json" in three name pieces and two value pieces. */
    assert_int_equal(wp_http_headers_on_field(&hs, "Con", 3), WP_OK);
    assert_int_equal(wp_http_headers_on_field(&hs, "tent-", 5), WP_OK);
    assert_int_equal(wp_http_headers_on_field(&hs, "Type", 4), WP_OK);
    assert_int_equal(wp_http_headers_on_value(&hs, "applica", 7), WP_OK);
    assert_int_equal(wp_http_headers_on_value(&hs, "tion/json", 9), WP_OK);
    /* The next name starts a new header. */
    assert_int_equal(wp_http_headers_on_field(&hs, "X-Req", 5), WP_OK);
    assert_int_equal(wp_http_headers_on_field(&hs, "uest-Id", 7), WP_OK);
    assert_int_equal(wp_http_headers_on_value(&hs, "abc", 3), WP_OK);
    assert_int_equal(hs.n, 2);
    expect_str(wp_http_headers_name(&hs, 0), "Content-Type");
    expect_str(wp_http_headers_value(&hs, 0), "application/json");
    expect_str(wp_http_headers_name(&hs, 1), "X-Request-Id");
    expect_str(wp_http_headers_value(&hs, 1), "abc");
    wp_http_headers_free(&hs);
}

static void test_http_headers_get_case_insensitive(void **state)
{
    (void)state;
    wp_http_headers_t hs;
    wp_http_headers_init(&hs, 0);
    add(&hs, "Host", "localhost");
    add(&hs, "x-data-parallel-rank", "3");
    add(&hs, "X-DATA-PARALLEL-RANK", "5");
    add(&hs, "Empty", "");
    expect_str(wp_http_headers_get(&hs, "host"), "localhost");
    expect_str(wp_http_headers_get(&hs, "HOST"), "localhost");
    expect_str(wp_http_headers_get(&hs, "X-Data-Parallel-Rank"), "3"); /* first match */
    wp_str_t e = wp_http_headers_get(&hs, "empty");
    assert_non_null(e.p);
    assert_int_equal(e.n, 0);
    wp_str_t none = wp_http_headers_get(&hs, "Hos");
    assert_null(none.p);
    assert_int_equal(none.n, 0);
    assert_null(wp_http_headers_get(&hs, "Hostname").p);
    wp_http_headers_free(&hs);
}

static void test_http_headers_value_before_name(void **state)
{
    (void)state;
    wp_http_headers_t hs;
    wp_http_headers_init(&hs, 0);
    assert_int_equal(wp_http_headers_on_value(&hs, "v", 1), WP_EINVAL);
    assert_int_equal(hs.n, 0);
    wp_http_headers_free(&hs);
}

static void test_http_headers_count_limit(void **state)
{
    (void)state;
    wp_http_headers_t hs;
    wp_http_headers_init(&hs, 0);
    for (int i = 0; i < WP_HTTP_MAX_HEADERS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "H%d", i);
        add(&hs, name, "v");
    }
    assert_int_equal(hs.n, WP_HTTP_MAX_HEADERS);
    assert_int_equal(wp_http_headers_on_field(&hs, "One-Too-Many", 12), WP_ELIMIT);
    assert_int_equal(hs.n, WP_HTTP_MAX_HEADERS);
    expect_str(wp_http_headers_get(&hs, "h99"), "v");
    wp_http_headers_free(&hs);
}

static void test_http_headers_byte_limit(void **state)
{
    (void)state;
    wp_http_headers_t hs;
    wp_http_headers_init(&hs, 16); /* 15 bytes of names and values, plus the NUL */
    add(&hs, "Name", "value");     /* 9 */
    assert_int_equal(wp_http_headers_on_field(&hs, "Ab", 2), WP_OK);   /* 11 */
    assert_int_equal(wp_http_headers_on_value(&hs, "cdef", 4), WP_OK); /* 15 */
    assert_int_equal(wp_http_headers_on_value(&hs, "g", 1), WP_ELIMIT);
    assert_int_equal(wp_http_headers_on_field(&hs, "X", 1), WP_ELIMIT);
    expect_str(wp_http_headers_get(&hs, "ab"), "cdef");
    wp_http_headers_free(&hs);
}

static void test_http_headers_reset_reuses(void **state)
{
    (void)state;
    wp_http_headers_t hs;
    wp_http_headers_init(&hs, 0);
    add(&hs, "A", "1");
    add(&hs, "B", "2");
    wp_http_headers_reset(&hs);
    assert_int_equal(hs.n, 0);
    assert_null(wp_http_headers_get(&hs, "A").p);
    add(&hs, "C", "3");
    assert_int_equal(hs.n, 1);
    expect_str(wp_http_headers_get(&hs, "c"), "3");
    assert_null(wp_http_headers_get(&hs, "B").p);
    wp_http_headers_free(&hs);
    assert_int_equal(hs.n, 0);
}

/* Growth of the raw buffer moves it: lookups must still see the right bytes. */
static void test_http_headers_many_after_growth(void **state)
{
    (void)state;
    wp_http_headers_t hs;
    wp_http_headers_init(&hs, 0);
    char value[200];
    memset(value, 'v', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    for (int i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof(name), "Header-%d", i);
        add(&hs, name, value);
    }
    expect_str(wp_http_headers_get(&hs, "header-0"), value);
    expect_str(wp_http_headers_get(&hs, "HEADER-39"), value);
    expect_str(wp_http_headers_name(&hs, 17), "Header-17");
    wp_http_headers_free(&hs);
}

static void test_http_headers_bearer(void **state)
{
    (void)state;
    wp_http_headers_t hs;
    wp_http_headers_init(&hs, 0);
    assert_false(wp_http_bearer_ok(&hs, "s3cret")); /* no header */
    add(&hs, "authorization", "Bearer s3cret");
    assert_true(wp_http_bearer_ok(&hs, "s3cret"));
    assert_false(wp_http_bearer_ok(&hs, "s3cre"));   /* a prefix of the sent token */
    assert_false(wp_http_bearer_ok(&hs, "s3cret!")); /* longer than the sent token */
    assert_false(wp_http_bearer_ok(&hs, ""));        /* no token configured: closed */
    assert_false(wp_http_bearer_ok(&hs, NULL));
    wp_http_headers_reset(&hs);
    add(&hs, "Authorization", "bearer   s3cret"); /* scheme is case-insensitive */
    assert_true(wp_http_bearer_ok(&hs, "s3cret"));
    wp_http_headers_reset(&hs);
    add(&hs, "Authorization", "Basic s3cret");
    assert_false(wp_http_bearer_ok(&hs, "s3cret"));
    wp_http_headers_reset(&hs);
    add(&hs, "Authorization", "Bearer ");
    assert_false(wp_http_bearer_ok(&hs, "s3cret"));
    wp_http_headers_free(&hs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_headers_pieces_glued),
        cmocka_unit_test(test_http_headers_get_case_insensitive),
        cmocka_unit_test(test_http_headers_value_before_name),
        cmocka_unit_test(test_http_headers_count_limit),
        cmocka_unit_test(test_http_headers_byte_limit),
        cmocka_unit_test(test_http_headers_reset_reuses),
        cmocka_unit_test(test_http_headers_many_after_growth),
        cmocka_unit_test(test_http_headers_bearer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
