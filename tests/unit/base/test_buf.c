/* Unit tests for base/buf: appends and their hard cap (WP_ELIMIT leaves the buffer as
 * it was), NUL termination, printf, JSON escaping and consume. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"

static void test_base_buf_append_and_nul(void **state)
{
    (void)state;
    wp_buf_t b;
    wp_buf_init(&b, 0);
    assert_int_equal(b.max, WP_BUF_DEFAULT_MAX);
    assert_int_equal(wp_buf_append(&b, "ab", 2), WP_OK);
    assert_int_equal(wp_buf_puts(&b, "cd"), WP_OK);
    assert_int_equal(wp_buf_append(&b, NULL, 0), WP_OK);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "abcd");
    assert_true(b.cap > b.len && b.cap <= b.max);
    /* Binary data with a NUL inside is kept whole. */
    assert_int_equal(wp_buf_append(&b, "x\0y", 3), WP_OK);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.data + 4, "x\0y", 4);
    wp_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    wp_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    /* A freed buffer may be reused. */
    assert_int_equal(wp_buf_puts(&b, "again"), WP_OK);
    assert_string_equal(b.data, "again");
    wp_buf_free(&b);
}

static void test_base_buf_cap_leaves_unchanged(void **state)
{
    (void)state;
    wp_buf_t b;
    wp_buf_init(&b, 8); /* at most 7 bytes plus the NUL */
    assert_int_equal(wp_buf_puts(&b, "12345"), WP_OK);
    assert_int_equal(wp_buf_puts(&b, "678"), WP_ELIMIT);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "12345");
    assert_int_equal(wp_buf_printf(&b, "%d", 678), WP_ELIMIT);
    assert_string_equal(b.data, "12345");
    assert_int_equal(wp_buf_json_escape(&b, "a\"b", 3), WP_ELIMIT); /* needs 4 */
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "12345");
    assert_int_equal(wp_buf_reserve(&b, (size_t)-1), WP_ELIMIT);
    assert_int_equal(wp_buf_puts(&b, "67"), WP_OK); /* exactly full */
    assert_int_equal(b.len, 7);
    assert_true(b.cap <= 8);
    assert_int_equal(wp_buf_append(&b, "x", 1), WP_ELIMIT);
    assert_string_equal(b.data, "1234567");
    wp_buf_free(&b);
}

static void test_base_buf_growth(void **state)
{
    (void)state;
    wp_buf_t b;
    wp_buf_init(&b, 0);
    char chunk[100];
    memset(chunk, 'z', sizeof(chunk));
    for (int i = 0; i < 100; i++)
        assert_int_equal(wp_buf_append(&b, chunk, sizeof(chunk)), WP_OK);
    assert_int_equal(b.len, 10000);
    assert_int_equal(b.data[9999], 'z');
    assert_int_equal(b.data[10000], '\0');
    assert_true(b.cap >= 10001);
    wp_buf_free(&b);
}

static void test_base_buf_printf(void **state)
{
    (void)state;
    wp_buf_t b;
    wp_buf_init(&b, 0);
    assert_int_equal(wp_buf_printf(&b, "%s=%d;", "a", 42), WP_OK);
    assert_int_equal(wp_buf_printf(&b, "%.2f", 0.125), WP_OK);
    assert_string_equal(b.data, "a=42;0.12");
    assert_int_equal(b.len, 9);
    wp_buf_free(&b);
}

/* Text that fits the room left is written in one pass; text that does not makes the buffer
 * grow and is written whole, never cut at the old capacity. */
static void test_base_buf_printf_fits_or_grows(void **state)
{
    (void)state;
    wp_buf_t b;
    wp_buf_init(&b, 0);
    assert_int_equal(wp_buf_puts(&b, "x"), WP_OK);
    size_t cap = b.cap;
    assert_int_equal(wp_buf_printf(&b, "%d", 7), WP_OK);
    assert_int_equal(b.cap, cap); /* fitted */
    char big[600];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(wp_buf_printf(&b, "[%s]", big), WP_OK);
    assert_true(b.cap > cap);
    assert_int_equal(b.len, 2 + 1 + 599 + 1);
    assert_int_equal(b.data[2], '[');
    assert_int_equal(b.data[b.len - 1], ']');
    assert_int_equal(b.data[b.len], '\0');
    assert_int_equal(strlen(b.data), b.len);
    wp_buf_free(&b);
    /* Past the cap after a first pass that wrote into the room: the text is as it was. */
    wp_buf_init(&b, 16);
    assert_int_equal(wp_buf_puts(&b, "abc"), WP_OK);
    assert_int_equal(wp_buf_printf(&b, "%s", "0123456789abcdef"), WP_ELIMIT);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.data, "abc");
    wp_buf_free(&b);
}

static void test_base_buf_cat_and_numbers(void **state)
{
    (void)state;
    wp_buf_t b;
    wp_buf_init(&b, 0);
    assert_int_equal(wp_buf_cat(&b, "a", "", "bc", NULL), WP_OK);
    assert_int_equal(wp_buf_append_int(&b, 0), WP_OK);
    assert_int_equal(wp_buf_append_int(&b, -42), WP_OK);
    assert_int_equal(wp_buf_append_int(&b, INT64_MIN), WP_OK);
    assert_int_equal(wp_buf_puts(&b, " "), WP_OK);
    assert_int_equal(wp_buf_append_int(&b, INT64_MAX), WP_OK);
    assert_string_equal(b.data, "abc0-42-9223372036854775808 9223372036854775807");
    wp_buf_free(&b);
    /* All the strings or none. */
    wp_buf_init(&b, 8);
    assert_int_equal(wp_buf_cat(&b, "12", "34", NULL), WP_OK);
    assert_int_equal(wp_buf_cat(&b, "5", "678", NULL), WP_ELIMIT);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "1234");
    assert_int_equal(wp_buf_append_int(&b, 12345), WP_ELIMIT);
    assert_string_equal(b.data, "1234");
    wp_buf_free(&b);
}

static void test_base_buf_json_escape(void **state)
{
    (void)state;
    wp_buf_t b;
    wp_buf_init(&b, 0);
    const char in[] = "q\"b\\n\nr\rt\t\x01\x1f\x7f h\xc3\xa9";
    assert_int_equal(wp_buf_json_escape(&b, in, sizeof(in) - 1), WP_OK);
    assert_string_equal(b.data, "q\\\"b\\\\n\\nr\\rt\\t\\u0001\\u001f\x7f h\xc3\xa9");
    wp_buf_reset(&b);
    /* An embedded NUL is escaped, not a terminator. */
    assert_int_equal(wp_buf_json_escape(&b, "a\0b", 3), WP_OK);
    assert_string_equal(b.data, "a\\u0000b");
    wp_buf_reset(&b);
    assert_int_equal(wp_buf_json_escape(&b, "", 0), WP_OK);
    assert_int_equal(b.len, 0);
    wp_buf_free(&b);
}

static void test_base_buf_consume(void **state)
{
    (void)state;
    wp_buf_t b;
    wp_buf_init(&b, 0);
    assert_int_equal(wp_buf_puts(&b, "hello world"), WP_OK);
    wp_buf_consume(&b, 6);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "world");
    wp_buf_consume(&b, 0);
    assert_string_equal(b.data, "world");
    wp_buf_consume(&b, 5);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_int_equal(wp_buf_puts(&b, "xy"), WP_OK);
    wp_buf_consume(&b, 100); /* more than held: empties */
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    wp_buf_free(&b);
    wp_buf_consume(&b, 1); /* on an empty, unallocated buffer: no-op */
    assert_int_equal(b.len, 0);
}

/* wp_array_reserve: room for more elements, doubling from `first`; nothing changes when it
 * cannot (an overflowing size). */
static void test_base_array_reserve(void **state)
{
    (void)state;
    int *v = NULL;
    size_t cap = 0, n = 0;
    assert_int_equal(wp_array_reserve((void **)&v, &cap, n, 1, sizeof(int), 4), WP_OK);
    assert_int_equal(cap, 4);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(wp_array_reserve((void **)&v, &cap, n, 1, sizeof(int), 4), WP_OK);
        v[n++] = i;
    }
    assert_int_equal(cap, 128); /* 4, 8, ..., 128: doubled, never more than needed twice */
    assert_int_equal(wp_array_reserve((void **)&v, &cap, n, 300, sizeof(int), 4), WP_OK);
    assert_int_equal(cap, 512);
    for (int i = 0; i < 100; i++)
        assert_int_equal(v[i], i); /* kept across the moves */
    int *before = v;
    assert_int_equal(wp_array_reserve((void **)&v, &cap, n, SIZE_MAX / 2, sizeof(int), 4),
                     WP_ENOMEM);
    assert_ptr_equal(v, before);
    assert_int_equal(cap, 512);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_buf_append_and_nul),
        cmocka_unit_test(test_base_buf_cap_leaves_unchanged),
        cmocka_unit_test(test_base_buf_growth),
        cmocka_unit_test(test_base_buf_printf),
        cmocka_unit_test(test_base_buf_printf_fits_or_grows),
        cmocka_unit_test(test_base_buf_cat_and_numbers),
        cmocka_unit_test(test_base_buf_json_escape),
        cmocka_unit_test(test_base_buf_consume),
        cmocka_unit_test(test_base_array_reserve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
