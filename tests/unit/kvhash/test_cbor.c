/* Tests for kvhash/cbor: heads at every size boundary, strings, arrays and null against
 * the bytes RFC 8949 gives (Appendix A) or that follow from its §3 and §4.2.1 by hand;
 * overflow without a sink; the same bytes through a sink and a tiny buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "kvhash/cbor.h"

typedef void (*write_fn)(wp_cbor_t *w);

/* Writes with fn into a fresh 64-byte buffer and compares with want[0..n). */
static void expect(write_fn fn, const uint8_t *want, size_t n)
{
    uint8_t buf[64];
    wp_cbor_t w;
    wp_cbor_init(&w, buf, sizeof(buf), NULL, NULL);
    fn(&w);
    assert_true(wp_cbor_ok(&w));
    assert_int_equal(w.len, n);
    assert_memory_equal(buf, want, n);
}

#define EXPECT(fn, ...)                                                                            \
    do {                                                                                           \
        static const uint8_t want_[] = {__VA_ARGS__};                                              \
        expect(fn, want_, sizeof(want_));                                                          \
    } while (0)

static void u0(wp_cbor_t *w)
{
    wp_cbor_uint(w, 0);
}
static void u23(wp_cbor_t *w)
{
    wp_cbor_uint(w, 23);
}
static void u24(wp_cbor_t *w)
{
    wp_cbor_uint(w, 24);
}
static void u255(wp_cbor_t *w)
{
    wp_cbor_uint(w, 255);
}
static void u256(wp_cbor_t *w)
{
    wp_cbor_uint(w, 256);
}
static void u65535(wp_cbor_t *w)
{
    wp_cbor_uint(w, 65535);
}
static void u65536(wp_cbor_t *w)
{
    wp_cbor_uint(w, 65536);
}
static void u32max(wp_cbor_t *w)
{
    wp_cbor_uint(w, UINT32_MAX);
}
static void u32over(wp_cbor_t *w)
{
    wp_cbor_uint(w, (uint64_t)UINT32_MAX + 1);
}
static void u64max(wp_cbor_t *w)
{
    wp_cbor_uint(w, UINT64_MAX);
}

static void test_cbor_uint_heads(void **state)
{
    (void)state;
    EXPECT(u0, 0x00);
    EXPECT(u23, 0x17);
    EXPECT(u24, 0x18, 0x18);
    EXPECT(u255, 0x18, 0xff);
    EXPECT(u256, 0x19, 0x01, 0x00);
    EXPECT(u65535, 0x19, 0xff, 0xff);
    EXPECT(u65536, 0x1a, 0x00, 0x01, 0x00, 0x00);
    EXPECT(u32max, 0x1a, 0xff, 0xff, 0xff, 0xff);
    EXPECT(u32over, 0x1b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00);
    EXPECT(u64max, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
}

static void i_pos(wp_cbor_t *w)
{
    wp_cbor_int(w, 1000);
}
static void i_m1(wp_cbor_t *w)
{
    wp_cbor_int(w, -1);
}
static void i_m10(wp_cbor_t *w)
{
    wp_cbor_int(w, -10);
}
static void i_m24(wp_cbor_t *w)
{
    wp_cbor_int(w, -24);
}
static void i_m25(wp_cbor_t *w)
{
    wp_cbor_int(w, -25);
}
static void i_m100(wp_cbor_t *w)
{
    wp_cbor_int(w, -100);
}
static void i_m1000(wp_cbor_t *w)
{
    wp_cbor_int(w, -1000);
}
static void i_min(wp_cbor_t *w)
{
    wp_cbor_int(w, INT64_MIN);
}

static void test_cbor_int_signs(void **state)
{
    (void)state;
    EXPECT(i_pos, 0x19, 0x03, 0xe8); /* RFC 8949 Appendix A */
    EXPECT(i_m1, 0x20);
    EXPECT(i_m10, 0x29);
    EXPECT(i_m24, 0x37);
    EXPECT(i_m25, 0x38, 0x18);
    EXPECT(i_m100, 0x38, 0x63);
    EXPECT(i_m1000, 0x39, 0x03, 0xe7);
    EXPECT(i_min, 0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
}

static void s_bytes_empty(wp_cbor_t *w)
{
    wp_cbor_bytes(w, "", 0);
}
static void s_bytes4(wp_cbor_t *w)
{
    wp_cbor_bytes(w, "\x01\x02\x03\x04", 4);
}
static void s_text_empty(wp_cbor_t *w)
{
    wp_cbor_text(w, "", 0);
}
static void s_text_a(wp_cbor_t *w)
{
    wp_cbor_text(w, "a", 1);
}
static void s_text_ietf(wp_cbor_t *w)
{
    wp_cbor_text(w, "IETF", 4);
}
static void s_text_utf8(wp_cbor_t *w)
{
    wp_cbor_text(w, "\xc3\xbc", 2); /* "ü" */
}
static void s_null(wp_cbor_t *w)
{
    wp_cbor_null(w);
}

static void test_cbor_strings_and_null(void **state)
{
    (void)state;
    EXPECT(s_bytes_empty, 0x40);
    EXPECT(s_bytes4, 0x44, 0x01, 0x02, 0x03, 0x04);
    EXPECT(s_text_empty, 0x60);
    EXPECT(s_text_a, 0x61, 0x61);
    EXPECT(s_text_ietf, 0x64, 0x49, 0x45, 0x54, 0x46);
    EXPECT(s_text_utf8, 0x62, 0xc3, 0xbc);
    EXPECT(s_null, 0xf6);
}

static void a_empty(wp_cbor_t *w)
{
    wp_cbor_array(w, 0);
}
static void a_nested(wp_cbor_t *w)
{
    wp_cbor_array(w, 3);
    wp_cbor_uint(w, 1);
    wp_cbor_array(w, 2);
    wp_cbor_uint(w, 2);
    wp_cbor_uint(w, 3);
    wp_cbor_array(w, 2);
    wp_cbor_uint(w, 4);
    wp_cbor_uint(w, 5);
}
static void a_25(wp_cbor_t *w)
{
    wp_cbor_array(w, 25);
    for (uint64_t i = 1; i <= 25; i++)
        wp_cbor_uint(w, i);
}
/* A tuple shaped like a block's: (b"\x00\x01", (1, 2, 500), None). */
static void a_tuple(wp_cbor_t *w)
{
    wp_cbor_array(w, 3);
    wp_cbor_bytes(w, "\x00\x01", 2);
    wp_cbor_array(w, 3);
    wp_cbor_int(w, 1);
    wp_cbor_int(w, 2);
    wp_cbor_int(w, 500);
    wp_cbor_null(w);
}

static void test_cbor_arrays(void **state)
{
    (void)state;
    EXPECT(a_empty, 0x80);
    EXPECT(a_nested, 0x83, 0x01, 0x82, 0x02, 0x03, 0x82, 0x04, 0x05); /* RFC 8949 App. A */
    EXPECT(a_25, 0x98, 0x19, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
           0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x18, 0x18,
           0x19); /* RFC 8949 Appendix A */
    EXPECT(a_tuple, 0x83, 0x42, 0x00, 0x01, 0x83, 0x01, 0x02, 0x19, 0x01, 0xf4, 0xf6);
}

static void test_cbor_overflow_without_sink(void **state)
{
    (void)state;
    uint8_t buf[4];
    wp_cbor_t w;
    wp_cbor_init(&w, buf, sizeof(buf), NULL, NULL);
    wp_cbor_text(&w, "IETF", 4); /* 5 bytes: the head fits, the payload does not */
    assert_false(wp_cbor_ok(&w));
    assert_int_equal(w.len, 1);
    wp_cbor_init(&w, buf, sizeof(buf), NULL, NULL);
    wp_cbor_uint(&w, 65536); /* 5 bytes */
    assert_false(wp_cbor_ok(&w));
    assert_int_equal(w.len, 0);
}

typedef struct collect_s {
    uint8_t data[1024];
    size_t len;
    size_t calls;
} collect_t;

static void collect(void *ctx, const uint8_t *p, size_t n)
{
    collect_t *c = ctx;
    assert_true(c->len + n <= sizeof(c->data));
    memcpy(c->data + c->len, p, n);
    c->len += n;
    c->calls++;
}

/* Writes a mixed item with buf[0..cap) and a sink; returns what the sink got. */
static void through_sink(size_t cap, collect_t *c)
{
    uint8_t buf[512];
    uint8_t big[300];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)i;
    wp_cbor_t w;
    memset(c, 0, sizeof(*c));
    wp_cbor_init(&w, buf, cap, collect, c);
    wp_cbor_array(&w, 4);
    wp_cbor_bytes(&w, big, sizeof(big));
    wp_cbor_text(&w, "hello, world", 12);
    wp_cbor_int(&w, -70000);
    wp_cbor_null(&w);
    wp_cbor_flush(&w);
    assert_true(wp_cbor_ok(&w));
    assert_int_equal(w.len, 0);
}

static void test_cbor_sink_small_buffer(void **state)
{
    (void)state;
    collect_t whole, small;
    through_sink(512, &whole);
    through_sink(9, &small); /* one head of the largest size fits, nothing more */
    assert_int_equal(whole.calls, 1);
    assert_true(small.calls > 3);
    assert_int_equal(whole.len, 1 + 3 + 300 + 13 + 5 + 1);
    assert_int_equal(small.len, whole.len);
    assert_memory_equal(small.data, whole.data, whole.len);
    assert_int_equal(whole.data[0], 0x84);
    assert_int_equal(whole.data[1], 0x59); /* bytes, two-byte length 300 */
    assert_int_equal(whole.data[2], 0x01);
    assert_int_equal(whole.data[3], 0x2c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cbor_uint_heads),
        cmocka_unit_test(test_cbor_int_signs),
        cmocka_unit_test(test_cbor_strings_and_null),
        cmocka_unit_test(test_cbor_arrays),
        cmocka_unit_test(test_cbor_overflow_without_sink),
        cmocka_unit_test(test_cbor_sink_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
