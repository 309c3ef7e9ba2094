/* Tests for gateway/session: the x-session-token of session affinity. Tokens are an
 * endpoint's name in standard base64 (known vectors), decode back to that endpoint of a
 * scheduler, and anything else (garbage, truncation, a NUL inside, an endpoint gone) is
 * -1, never a crash: a few thousand random and mutated tokens are thrown at the decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/rng.h"
#include "gateway/internal.h"

static wp_sched_t *sched_with(const char *const *names, int n)
{
    wp_sched_config_t cfg;
    wp_sched_config_default(&cfg);
    wp_err_t err;
    wp_sched_t *s = wp_sched_new(&cfg, &err);
    assert_non_null(s);
    for (int i = 0; i < n; i++)
        assert_int_equal(wp_sched_endpoint_add(s, names[i], WP_SCHED_ROLE_BOTH), i);
    return s;
}

static int decode(const wp_sched_t *s, const char *tok)
{
    return wp__gw_session_decode(s, tok, strlen(tok));
}

static void test_session_encode_vectors(void **state)
{
    char out[128];
    /* RFC 4648 section 10 */
    assert_int_equal(wp__gw_session_encode("f", out, sizeof(out)), 4);
    assert_string_equal(out, "Zg==");
    wp__gw_session_encode("fo", out, sizeof(out));
    assert_string_equal(out, "Zm8=");
    wp__gw_session_encode("foo", out, sizeof(out));
    assert_string_equal(out, "Zm9v");
    wp__gw_session_encode("foobar", out, sizeof(out));
    assert_string_equal(out, "Zm9vYmFy");
    /* llm-d's shape: a namespaced name */
    wp__gw_session_encode("default/vllm-0", out, sizeof(out));
    assert_string_equal(out, "ZGVmYXVsdC92bGxtLTA=");
    assert_int_equal(wp__gw_session_encode("", out, sizeof(out)), 0);
    assert_int_equal(wp__gw_session_encode("foobar", out, 8), 0); /* no room for the NUL */
    assert_int_equal(wp__gw_session_encode("foobar", out, 9), 8);
}

static void test_session_round_trip(void **state)
{
    const char *names[] = {"a", "vllm-1", "default/vllm-0", "127.0.0.1:8001",
                           "a-name-of-sixty-three-characters-which-is-the-longest-allowed-x"};
    wp_sched_t *s = sched_with(names, 5);
    for (int i = 0; i < 5; i++) {
        char tok[128];
        assert_true(wp__gw_session_encode(names[i], tok, sizeof(tok)) > 0);
        assert_int_equal(decode(s, tok), i);
    }
    wp_sched_free(s);
}

static void test_session_garbage_ignored(void **state)
{
    const char *names[] = {"a", "b"};
    wp_sched_t *s = sched_with(names, 2);
    const char *bad[] = {
        "",      "Y",    "YQ",   "YQ=",  "YQ==YQ==", "Y===", "====",    "YQ!=", "Yw==", " YQ==",
        "YQ== ", "YWE=", "AGE=", "YQA=", "%%%%",     "YR==", "YQ\x80=", "Yg=a", "=YQ=", "eA=="};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(decode(s, bad[i]), -1); /* "YWE=" is "aa", "eA==" is "x": unknown */
    assert_int_equal(decode(s, "YQ=="), 0);
    assert_int_equal(decode(s, "Yg=="), 1);
    assert_int_equal(wp__gw_session_decode(s, NULL, 4), -1);
    assert_int_equal(wp__gw_session_decode(NULL, "YQ==", 4), -1);
    assert_int_equal(wp__gw_session_decode(s, "YQ==", 3), -1); /* cut short */
    /* Far too long for any endpoint name. */
    char longtok[4097];
    memset(longtok, 'Q', sizeof(longtok) - 1);
    longtok[sizeof(longtok) - 1] = '\0';
    assert_int_equal(decode(s, longtok), -1);
    /* Random bytes and mutations of a good token: never a crash, and only a token that is
     * exactly an endpoint's name decodes to it. */
    wp_rng_t rng;
    wp_rng_seed(&rng, 12);
    for (int round = 0; round < 5000; round++) {
        char tok[16];
        size_t len = wp_rng_below(&rng, sizeof(tok));
        for (size_t k = 0; k < len; k++)
            tok[k] = round % 2 ? (char)wp_rng_below(&rng, 256) : "YQ==Yg"[wp_rng_below(&rng, 6)];
        int ep = wp__gw_session_decode(s, tok, len);
        assert_true(ep == -1 ||
                    (len == 4 && (memcmp(tok, "YQ==", 4) == 0 || memcmp(tok, "Yg==", 4) == 0)));
    }
    wp_sched_free(s);
}

/* A token of an endpoint that is gone (another generation's scheduler) names nothing. */
static void test_session_endpoint_gone(void **state)
{
    const char *before[] = {"a", "b"}, *after[] = {"b", "c"};
    wp_sched_t *s1 = sched_with(before, 2), *s2 = sched_with(after, 2);
    char tok[16];
    wp__gw_session_encode("a", tok, sizeof(tok));
    assert_int_equal(decode(s1, tok), 0);
    assert_int_equal(decode(s2, tok), -1);
    wp__gw_session_encode("b", tok, sizeof(tok));
    assert_int_equal(decode(s2, tok), 0); /* the same name, its new index */
    wp_sched_free(s1);
    wp_sched_free(s2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_encode_vectors),
        cmocka_unit_test(test_session_round_trip),
        cmocka_unit_test(test_session_garbage_ignored),
        cmocka_unit_test(test_session_endpoint_gone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
