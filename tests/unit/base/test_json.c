/* Unit tests for base/json: the index of a document (types, spans, subtrees, members),
 * strings read in place or decoded (surrogate pairs, lone surrogates), the grammar's
 * edges with the offset and reason of each refusal, the depth limit, and agreement with
 * cJSON (a second, independent parser) on random documents it printed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "base/json.h"
#include "base/rng.h"

static wp_json_t parse_ok(const char *text)
{
    wp_json_t j;
    size_t at;
    wp_err_t err;
    if (wp_json_parse(&j, text, strlen(text), &at, &err) != WP_OK)
        fail_msg("parse '%s': %s at %zu", text, err.msg, at);
    return j;
}

/* The text's refusal: its offset, and a message containing `why`. */
static void parse_bad(const char *text, size_t want_at, const char *why)
{
    wp_json_t j;
    size_t at;
    wp_err_t err = {{0}};
    assert_int_equal(wp_json_parse(&j, text, strlen(text), &at, &err), WP_EINVAL);
    if (at != want_at || strstr(err.msg, why) == NULL)
        fail_msg("'%s': got '%s' at %zu, want '%s' at %zu", text, err.msg, at, why, want_at);
    assert_int_equal(j.n, 0);
    wp_json_free(&j);
}

static void str_is(const wp_json_t *j, int i, const char *want)
{
    wp_buf_t b;
    wp_buf_init(&b, 0);
    const char *s;
    size_t n;
    assert_int_equal(wp_json_str(j, i, &b, &s, &n), WP_OK);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(s, want, n);
    wp_buf_free(&b);
}

static void test_json_index_and_members(void **state)
{
    (void)state;
    const char *text = " {\"model\": \"m\", \"prompt\": [1, 2, [3]], \"n\": -1.5e2,"
                       " \"ok\": true, \"no\": false, \"z\": null, \"o\": {}} ";
    wp_json_t j = parse_ok(text);
    assert_int_equal(wp_json_type(&j, 0), WP_JSON_OBJECT);
    assert_int_equal(j.toks[0].count, 7);
    assert_int_equal(j.toks[0].end, j.n);
    assert_int_equal(j.toks[0].start, 1);
    assert_int_equal(j.toks[0].len, strlen(text) - 2);
    int m = wp_json_get(&j, 0, "model");
    assert_int_equal(wp_json_type(&j, m), WP_JSON_STRING);
    str_is(&j, m, "m");
    assert_true(j.src + j.toks[m].start == strstr(text, "\"m\"") + 1); /* in place */
    int p = wp_json_get(&j, 0, "prompt");
    assert_int_equal(wp_json_type(&j, p), WP_JSON_ARRAY);
    assert_int_equal(j.toks[p].count, 3);
    int e = wp_json_first(&j, p);
    assert_float_equal(wp_json_number(&j, e), 1, 0);
    e = wp_json_next(&j, p, e);
    assert_float_equal(wp_json_number(&j, e), 2, 0);
    e = wp_json_next(&j, p, e);
    assert_int_equal(wp_json_type(&j, e), WP_JSON_ARRAY);
    assert_int_equal(wp_json_next(&j, p, e), -1); /* past [3]'s subtree: the array ends */
    assert_float_equal(wp_json_number(&j, wp_json_get(&j, 0, "n")), -150, 0);
    assert_int_equal(wp_json_type(&j, wp_json_get(&j, 0, "ok")), WP_JSON_TRUE);
    assert_int_equal(wp_json_type(&j, wp_json_get(&j, 0, "no")), WP_JSON_FALSE);
    assert_int_equal(wp_json_type(&j, wp_json_get(&j, 0, "z")), WP_JSON_NULL);
    int o = wp_json_get(&j, 0, "o");
    assert_int_equal(wp_json_first(&j, o), -1);
    assert_int_equal(wp_json_get(&j, 0, "absent"), -1);
    assert_int_equal(wp_json_get(&j, p, "model"), -1); /* not an object */
    wp_json_free(&j);

    j = parse_ok("{\"a\": 1, \"a\": 2, \"b\\u0061\": 3}"); /* last wins; keys decoded */
    assert_float_equal(wp_json_number(&j, wp_json_get(&j, 0, "a")), 2, 0);
    assert_float_equal(wp_json_number(&j, wp_json_get(&j, 0, "ba")), 3, 0);
    wp_json_free(&j);
    j = parse_ok("\"just a string\"");
    str_is(&j, 0, "just a string");
    wp_json_free(&j);
}

static void test_json_strings_decoded(void **state)
{
    (void)state;
    wp_json_t j = parse_ok("[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\", \"\\u00e9\\u20AC\","
                           " \"\\ud83d\\ude00\", \"x\\ud800y\", \"\\udc00\", \"long text with "
                           "no escape at all, past eight bytes\"]");
    int e = wp_json_first(&j, 0);
    assert_true(j.toks[e].escaped);
    str_is(&j, e, "a\"b\\c/d\b\f\n\r\t");
    e = wp_json_next(&j, 0, e);
    str_is(&j, e, "\xc3\xa9\xe2\x82\xac");
    e = wp_json_next(&j, 0, e);
    str_is(&j, e, "\xf0\x9f\x98\x80"); /* a surrogate pair: U+1F600 */
    e = wp_json_next(&j, 0, e);
    str_is(&j, e, "x\xef\xbf\xbdy"); /* lone surrogate: U+FFFD */
    e = wp_json_next(&j, 0, e);
    str_is(&j, e, "\xef\xbf\xbd");
    e = wp_json_next(&j, 0, e);
    assert_false(j.toks[e].escaped);
    str_is(&j, e, "long text with no escape at all, past eight bytes");
    wp_json_free(&j);
}

static void test_json_refusals_say_where_and_why(void **state)
{
    (void)state;
    parse_bad("", 0, "end of the text");
    parse_bad("   ", 3, "end of the text");
    parse_bad("{", 1, "member name");
    parse_bad("{\"a\" 1}", 5, "':'");
    parse_bad("{\"a\": 1,}", 8, "member name");
    parse_bad("[1,]", 3, "expected a value");
    parse_bad("[1 2]", 3, "',' or ']'");
    parse_bad("{\"a\": 1 \"b\": 2}", 8, "',' or '}'");
    parse_bad("[01]", 2, "',' or ']'");
    parse_bad("[1.]", 3, "decimal point");
    parse_bad("[1e+]", 4, "exponent");
    parse_bad("[-]", 2, "invalid number");
    parse_bad("[+1]", 1, "expected a value");
    parse_bad("[tru]", 1, "expected a value");
    parse_bad("[\"abc", 5, "unterminated");
    parse_bad("[\"a\tb\"]", 3, "control character");
    parse_bad("[\"a\\x\"]", 3, "invalid escape");
    parse_bad("[\"\\u12G4\"]", 2, "four hex digits");
    parse_bad("{} x", 3, "after the value");
    parse_bad("[1]]", 3, "after the value");
    parse_bad("{'a': 1}", 1, "member name");
    /* The eight-byte scan stops at a control byte or a quote inside a block. */
    parse_bad("[\"0123456789abcdef\x01\"]", 18, "control character");
}

static void test_json_depth_limit(void **state)
{
    (void)state;
    char deep[2 * WP_JSON_MAX_DEPTH + 3];
    for (int i = 0; i < WP_JSON_MAX_DEPTH; i++) {
        deep[i] = '[';
        deep[WP_JSON_MAX_DEPTH + i] = ']';
    }
    deep[2 * WP_JSON_MAX_DEPTH] = '\0';
    wp_json_t j = parse_ok(deep);
    assert_int_equal(j.n, WP_JSON_MAX_DEPTH);
    wp_json_free(&j);
    char deeper[2 * WP_JSON_MAX_DEPTH + 3];
    deeper[0] = '[';
    memcpy(deeper + 1, deep, 2 * WP_JSON_MAX_DEPTH);
    deeper[2 * WP_JSON_MAX_DEPTH + 1] = ']';
    deeper[2 * WP_JSON_MAX_DEPTH + 2] = '\0';
    parse_bad(deeper, WP_JSON_MAX_DEPTH, "nested too deeply");
}

/* A random value of depth at most d, as cJSON builds it. */
static cJSON *random_value(wp_rng_t *r, int d)
{
    switch (wp_rng_below(r, d > 0 ? 7 : 5)) {
    case 0:
        return cJSON_CreateNull();
    case 1:
        return cJSON_CreateBool(wp_rng_below(r, 2));
    case 2:
        return cJSON_CreateNumber((double)(int64_t)wp_rng_below(r, 2000000) - 1e6 +
                                  (double)wp_rng_below(r, 1000) / 8.0);
    case 3:
    case 4: {
        char s[40];
        size_t n = wp_rng_below(r, sizeof(s));
        for (size_t k = 0; k < n; k++) {
            static const char pool[] = "ab \"\\/\n\t\x01\x1f\xc3\xa9zq{}[]:,";
            s[k] = pool[wp_rng_below(r, sizeof(pool) - 1)];
        }
        s[n] = '\0';
        return cJSON_CreateString(s);
    }
    case 5: {
        cJSON *a = cJSON_CreateArray();
        for (int k = (int)wp_rng_below(r, 4); k > 0; k--)
            cJSON_AddItemToArray(a, random_value(r, d - 1));
        return a;
    }
    default: {
        cJSON *o = cJSON_CreateObject();
        for (int k = (int)wp_rng_below(r, 4); k > 0; k--) {
            char key[16];
            snprintf(key, sizeof(key), "k%d", k);
            cJSON_AddItemToObject(o, key, random_value(r, d - 1));
        }
        return o;
    }
    }
}

/* Token i of j is the same value as v; returns the token after its subtree. */
static int same(const wp_json_t *j, int i, const cJSON *v)
{
    if (cJSON_IsNull(v))
        assert_int_equal(wp_json_type(j, i), WP_JSON_NULL);
    else if (cJSON_IsTrue(v))
        assert_int_equal(wp_json_type(j, i), WP_JSON_TRUE);
    else if (cJSON_IsFalse(v))
        assert_int_equal(wp_json_type(j, i), WP_JSON_FALSE);
    else if (cJSON_IsNumber(v))
        assert_float_equal(wp_json_number(j, i), v->valuedouble, fabs(v->valuedouble) * 1e-12);
    else if (cJSON_IsString(v))
        str_is(j, i, v->valuestring);
    else {
        assert_int_equal(wp_json_type(j, i), cJSON_IsArray(v) ? WP_JSON_ARRAY : WP_JSON_OBJECT);
        assert_int_equal(j->toks[i].count, cJSON_GetArraySize(v));
        int k = i + 1;
        const cJSON *c;
        cJSON_ArrayForEach(c, v)
        {
            if (cJSON_IsObject(v)) {
                assert_true(wp_json_str_eq(j, k, c->string));
                k++;
            }
            k = same(j, k, c);
        }
        assert_int_equal(k, j->toks[i].end);
    }
    return (int)j->toks[i].end;
}

static void test_json_agrees_with_cjson(void **state)
{
    (void)state;
    wp_rng_t r;
    wp_rng_seed(&r, 7);
    for (int round = 0; round < 500; round++) {
        cJSON *v = random_value(&r, 5);
        char *text = round % 2 ? cJSON_Print(v) : cJSON_PrintUnformatted(v);
        wp_json_t j = parse_ok(text);
        assert_int_equal(same(&j, 0, v), j.n);
        wp_json_free(&j);
        free(text);
        cJSON_Delete(v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_index_and_members),
        cmocka_unit_test(test_json_strings_decoded),
        cmocka_unit_test(test_json_refusals_say_where_and_why),
        cmocka_unit_test(test_json_depth_limit),
        cmocka_unit_test(test_json_agrees_with_cjson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
