/* Tests for tok: chars per token on English, determinism, boundaries, UTF-8 safety,
 * cap handling and the filler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/hash.h"
#include "tok/tok.h"

static const char *english =
    "Large language models are served today by engines that batch many requests together "
    "on each step. The scheduler decides which requests run, how much of each prompt is "
    "computed, and when a request must wait because the key-value cache is full. When two "
    "requests share a long system prompt, the second one can reuse the cached blocks of the "
    "first, which saves most of its prefill time. A gateway in front of several replicas "
    "should therefore send related requests to the same server, while still spreading the "
    "load evenly. This is the whole point of inference-aware routing: it looks at queue "
    "lengths, cache usage and prefix matches before it picks an endpoint. In practice, the "
    "difference between a naive round-robin balancer and a cache-aware one can be an order "
    "of magnitude in time to first token, especially under heavy traffic with many users.";

static void test_tok_english_ratio(void **state)
{
    (void)state;
    size_t n = strlen(english);
    size_t t = wp_tok_count(english, n);
    double ratio = (double)n / (double)t;
    print_message("english: %zu bytes, %zu tokens, %.2f bytes/token\n", n, t, ratio);
    assert_true(ratio >= 3.3 && ratio <= 4.7);
}

static void test_tok_deterministic(void **state)
{
    (void)state;
    size_t n = strlen(english);
    int32_t a[512], b[512];
    size_t na = wp_tok_encode(english, n, 151936, a, 512);
    size_t nb = wp_tok_encode(english, n, 151936, b, 512);
    assert_int_equal(na, nb);
    assert_true(na <= 512);
    assert_memory_equal(a, b, na * sizeof(int32_t));
    for (size_t i = 0; i < na; i++) {
        assert_true(a[i] >= 0 && a[i] < 151936);
    }
    /* The same word gives the same id wherever it appears: " the" appears many times. */
    int32_t w[4];
    assert_int_equal(wp_tok_encode(" the", 4, 151936, w, 4), 1);
    size_t seen = 0;
    for (size_t i = 0; i < na; i++) {
        seen += a[i] == w[0];
    }
    assert_true(seen >= 5);
    /* A shared prefix gives a shared id prefix (what the prefix cache relies on). */
    int32_t c[512];
    size_t nc = wp_tok_encode(english, 200, 151936, c, 512);
    assert_true(nc < na);
    assert_memory_equal(a, c, (nc - 1) * sizeof(int32_t));
}

/* Long words split at hash-chosen places: different words of one length do not all split
 * into the same number of pieces, and no piece count is a fixed function of length. */
static void test_tok_boundaries_vary(void **state)
{
    (void)state;
    bool differ = false;
    size_t first = 0;
    for (int i = 0; i < 50; i++) {
        char w[21];
        w[0] = ' ';
        for (int k = 1; k < 21; k++) {
            w[k] = (char)('a' + (i * 7 + k * k * 3 + i * k) % 26);
        }
        size_t c = wp_tok_count(w, 21);
        assert_true(c >= 3 && c <= 7); /* 21 bytes in pieces of 3..6 (up to 7 at the tail) */
        if (i == 0) {
            first = c;
        }
        differ |= c != first;
    }
    assert_true(differ);
    /* Short words and punctuation. */
    assert_int_equal(wp_tok_count(" hello", 6), 1);
    assert_int_equal(wp_tok_count("hello, world.", 13), 4);
    assert_int_equal(wp_tok_count("a\n\n\n\n\nb", 7), 4); /* a, 4 newlines, 1 newline, b */
    assert_int_equal(wp_tok_count("", 0), 0);
    assert_int_equal(wp_tok_count(NULL, 5), 0);
}

/* A cut never falls inside a UTF-8 sequence: every piece of a word made of 3-byte
 * characters is a whole number of characters. Each id must be the hash of the next run of
 * whole characters. */
static void test_tok_utf8_safe(void **state)
{
    (void)state;
    /* "日本語のテキスト" repeated: 3-byte characters, no spaces. */
    char text[256];
    size_t n = 0;
    const char *cjk = "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad"
                      "\xe3\x82\xb9\xe3\x83\x88";
    for (int r = 0; r < 4; r++) {
        memcpy(text + n, cjk, strlen(cjk));
        n += strlen(cjk);
    }
    int32_t ids[128];
    size_t t = wp_tok_encode(text, n, 0, ids, 128);
    assert_true(t >= 2);
    /* Rebuild the piece ids greedily from whole characters: each id must be matched by a
     * prefix made of complete 3-byte characters. */
    size_t at = 0;
    for (size_t k = 0; k < t; k++) {
        bool found = false;
        for (size_t len = 3; at + len <= n && !found; len += 3) {
            /* The id of a piece is its bytes' hash (tok.c's PIECE_SEED) mod INT32_MAX. */
            uint64_t h = wp_hash64(text + at, len, 0x746f6b656e730001ULL);
            int32_t one = (int32_t)(h % INT32_MAX);
            if (one == ids[k]) {
                at += len;
                found = true;
            }
        }
        assert_true(found);
    }
    assert_int_equal(at, n);
    /* Mixed: ASCII word followed by 2-byte characters, cut anywhere, still whole. */
    const char *mixed = " caf\xc3\xa9s\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
    assert_true(wp_tok_count(mixed, strlen(mixed)) >= 2);
}

static void test_tok_cap(void **state)
{
    (void)state;
    size_t n = strlen(english);
    int32_t full[512];
    size_t t = wp_tok_encode(english, n, 1000, full, 512);
    int32_t small[10];
    memset(small, 0x7f, sizeof(small));
    assert_int_equal(wp_tok_encode(english, n, 1000, small, 5), t);
    assert_memory_equal(small, full, 5 * sizeof(int32_t));
    assert_int_equal(small[5], 0x7f7f7f7f); /* nothing past cap */
    assert_int_equal(wp_tok_encode(english, n, 1000, NULL, 100), t);
    assert_int_equal(wp_tok_count(english, n), t);
    for (size_t i = 0; i < t; i++) {
        assert_true(full[i] >= 0 && full[i] < 1000);
    }
}

static void test_tok_filler(void **state)
{
    (void)state;
    char buf[16];
    size_t total = 0, puncts = 0;
    char text[8192];
    size_t tn = 0;
    for (uint64_t i = 0; i < 1000; i++) {
        size_t len = wp_tok_filler(42, i, buf, sizeof(buf));
        assert_true(len >= 1 && len <= WP_TOK_FILLER_MAX);
        assert_int_equal(strlen(buf), len);
        assert_int_equal(wp_tok_count(buf, len), 1);
        puncts += len == 1;
        if (len > 1) {
            assert_true(buf[0] == ' ');
        }
        total += len;
        memcpy(text + tn, buf, len);
        tn += len;
        char again[16];
        assert_int_equal(wp_tok_filler(42, i, again, sizeof(again)), len);
        assert_string_equal(again, buf);
    }
    /* 1000 pieces tokenize back to 1000 tokens, at about 4 bytes each. */
    assert_int_equal(wp_tok_count(text, tn), 1000);
    assert_true(total >= 3300 && total <= 4700);
    assert_true(puncts > 50 && puncts < 200); /* 2 in 16 */
    /* Another seed, another stream. */
    int same = 0;
    for (uint64_t i = 0; i < 100; i++) {
        char x[8], y[8];
        wp_tok_filler(1, i, x, sizeof(x));
        wp_tok_filler(2, i, y, sizeof(y));
        same += strcmp(x, y) == 0;
    }
    assert_true(same < 50);
    /* Cap: truncated but NUL-terminated, full length returned. */
    char tiny[2] = {'x', 'x'};
    size_t len = 0;
    uint64_t i = 0;
    while ((len = wp_tok_filler(42, i, tiny, sizeof(tiny))) < 3) {
        i++;
    }
    assert_int_equal(tiny[1], '\0');
    assert_int_equal(tiny[0], ' ');
    assert_true(wp_tok_filler(42, i, NULL, 0) == len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tok_english_ratio),
        cmocka_unit_test(test_tok_deterministic),
        cmocka_unit_test(test_tok_boundaries_vary),
        cmocka_unit_test(test_tok_utf8_safe),
        cmocka_unit_test(test_tok_cap),
        cmocka_unit_test(test_tok_filler),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
