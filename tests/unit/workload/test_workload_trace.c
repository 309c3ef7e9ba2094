/* Tests for workload traces: Mooncake JSONL parsing (fields, order, blank lines, every kind
 * of malformed line reported with its number), replay (arrivals, speed, num_requests) and
 * prefix reuse (equal hash ids give equal text; exact token counts). Set
 * WP_MOONCAKE_TRACE to a copy of the Mooncake synthetic trace (docs/reference.md §9) to
 * also parse the real one; without it that test is skipped, saying why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok.h"
#include "workload/workload.h"

static const char *sample = "{\"timestamp\": 3000, \"input_length\": 1200, \"output_length\": 7, "
                            "\"hash_ids\": [1, 2, 4]}\n"
                            "\n"
                            "{\"timestamp\": 0, \"input_length\": 1536, \"output_length\": 5, "
                            "\"hash_ids\": [1, 2, 3], \"extra\": true}\r\n"
                            "{\"timestamp\": 3000, \"input_length\": 700, \"output_length\": 1, "
                            "\"hash_ids\": [5]}";

static void parse_ok(const char *text, wp_workload_trace_t *t)
{
    wp_err_t err = {{0}};
    if (wp_workload_trace_parse(text, strlen(text), "t.jsonl", t, &err) != WP_OK)
        fail_msg("trace parse: %s", err.msg);
    assert_int_equal(wp_workload_trace_validate(t, &err), WP_OK);
}

static void expect_error(const char *text, const char *needle)
{
    wp_workload_trace_t t;
    wp_err_t err = {{0}};
    assert_int_not_equal(wp_workload_trace_parse(text, strlen(text), "t.jsonl", &t, &err), WP_OK);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, needle);
    assert_null(t.entries);
    assert_null(t.pool);
}

static void test_trace_parse(void **state)
{
    (void)state;
    wp_workload_trace_t t;
    parse_ok(sample, &t);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.n_pool, 7);
    /* sorted by time, ties in file order */
    assert_int_equal(t.entries[0].line, 3);
    assert_int_equal(t.entries[1].line, 1);
    assert_int_equal(t.entries[2].line, 4);
    assert_true(t.entries[0].timestamp_ms == 0);
    assert_int_equal(t.entries[0].input_length, 1536);
    assert_int_equal(t.entries[0].output_length, 5);
    assert_int_equal(t.entries[0].n_hash_ids, 3);
    assert_int_equal(t.entries[0].hash_ids[2], 3);
    assert_int_equal(t.entries[1].hash_ids[2], 4);
    assert_int_equal(t.entries[2].hash_ids[0], 5);
    wp_workload_trace_free(&t);
    assert_null(t.entries);
}

static void test_trace_malformed(void **state)
{
    (void)state;
    const char *good = "{\"timestamp\": 0, \"input_length\": 10, \"output_length\": 1, "
                       "\"hash_ids\": [0]}\n";
    char buf[512];
    struct {
        const char *line, *needle;
    } cases[] = {
        {"{\"timestamp\": 1, \"input_length\": 10", "t.jsonl:3:"},
        {"[1, 2]", "t.jsonl:3: expected a JSON object"},
        {"{\"input_length\": 10, \"output_length\": 1, \"hash_ids\": []}",
         "t.jsonl:3: timestamp: missing"},
        {"{\"timestamp\": -5, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": []}",
         "t.jsonl:3: timestamp: expected milliseconds >= 0"},
        {"{\"timestamp\": 5, \"output_length\": 1, \"hash_ids\": []}",
         "t.jsonl:3: input_length: missing"},
        {"{\"timestamp\": 5, \"input_length\": 10.5, \"output_length\": 1, \"hash_ids\": []}",
         "t.jsonl:3: input_length: expected a whole number"},
        {"{\"timestamp\": 5, \"input_length\": 10, \"output_length\": 0, \"hash_ids\": []}",
         "t.jsonl:3: output_length: expected a whole number in [1, 1000000]"},
        {"{\"timestamp\": 5, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": 7}",
         "t.jsonl:3: hash_ids: expected a list"},
        {"{\"timestamp\": 5, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": [1, -2]}",
         "t.jsonl:3: hash_ids[1]: expected a non-negative integer"},
        {"{\"timestamp\": 5, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": [\"a\"]}",
         "t.jsonl:3: hash_ids[0]"},
        {"{\"timestamp\": 5, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": []} x",
         "t.jsonl:3:74: text after the JSON object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(buf, sizeof(buf), "%s%s%s\n%s", good, good, cases[i].line, good);
        expect_error(buf, cases[i].needle);
    }
    expect_error("", "t.jsonl: no entries");
    expect_error("\n  \n", "t.jsonl: no entries");
}

static void test_trace_replay(void **state)
{
    (void)state;
    wp_workload_trace_t t;
    parse_ok(sample, &t);
    wp_workload_spec_t s = wp_workload_spec_default();
    wp_err_t err;
    assert_int_equal(wp_workload_spec_set(&s, "type", "trace", &err), WP_OK);
    assert_int_equal(wp_workload_spec_set(&s, "path", "t.jsonl", &err), WP_OK);
    assert_int_equal(wp_workload_spec_set(&s, "speed", "2", &err), WP_OK);
    wp_workload_t *w = wp_workload_new(&s, &t, &err);
    assert_non_null(w);
    assert_int_equal(wp_workload_total(w), 3);
    char *text[3];
    wp_workload_req_t r[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(wp_workload_next(w, &r[i]), WP_OK);
        assert_int_equal(wp_tok_count(r[i].prompt, r[i].prompt_len), r[i].prompt_tokens);
        text[i] = strdup(r[i].prompt);
    }
    assert_int_equal(wp_workload_next(w, &r[0]), WP_ENOTFOUND);
    assert_int_equal(wp_workload_validate(w, &err), WP_OK);
    const wp_workload_stage_t *st;
    assert_int_equal(wp_workload_stages(w, &st), 1);
    assert_true(st[0].duration == 1.5);
    wp_workload_free(w);
    /* arrivals: timestamps / 1000 / speed */
    assert_true(r[0].arrival_s == 0 && r[1].arrival_s == 1.5 && r[2].arrival_s == 1.5);
    assert_int_equal(r[0].prompt_tokens, 1536);
    assert_int_equal(r[1].prompt_tokens, 1200);
    assert_int_equal(r[2].prompt_tokens, 700); /* one block of 512, padded */
    assert_int_equal(r[0].max_tokens, 5);
    /* ids 1, 2 shared: the first 1024 tokens are the same text, then they differ */
    int32_t a[1600], b[1600];
    size_t na = wp_tok_encode(text[0], strlen(text[0]), 0, a, 1600);
    size_t nb = wp_tok_encode(text[1], strlen(text[1]), 0, b, 1600);
    assert_int_equal(na, 1536);
    assert_int_equal(nb, 1200);
    size_t k = 0;
    while (k < nb && a[k] == b[k])
        k++;
    assert_true(k >= 1024 && k < 1024 + 16);
    for (int i = 0; i < 3; i++)
        free(text[i]);
    wp_workload_trace_free(&t);
}

static void test_trace_ids_fixed_text(void **state)
{
    (void)state;
    /* the same id gives the same block whatever the seed; num_requests keeps the first N */
    wp_workload_trace_t t;
    parse_ok("{\"timestamp\": 0, \"input_length\": 512, \"output_length\": 1, \"hash_ids\": [9]}\n"
             "{\"timestamp\": 1, \"input_length\": 512, \"output_length\": 1, \"hash_ids\": [8]}\n",
             &t);
    wp_workload_spec_t s = wp_workload_spec_default();
    wp_err_t err;
    assert_int_equal(wp_workload_spec_set(&s, "type", "trace", &err), WP_OK);
    assert_int_equal(wp_workload_spec_set(&s, "path", "x", &err), WP_OK);
    assert_int_equal(wp_workload_spec_set(&s, "load.num_requests", "1", &err), WP_OK);
    char *first = NULL;
    for (int seed = 1; seed <= 2; seed++) {
        s.seed = seed;
        wp_workload_t *w = wp_workload_new(&s, &t, &err);
        assert_non_null(w);
        assert_int_equal(wp_workload_total(w), 1);
        wp_workload_req_t r;
        assert_int_equal(wp_workload_next(w, &r), WP_OK);
        if (first == NULL)
            first = strdup(r.prompt);
        else
            assert_string_equal(first, r.prompt);
        wp_workload_free(w);
    }
    free(first);
    /* a trace workload without a trace is an error, not a crash */
    assert_null(wp_workload_new(&s, NULL, &err));
    assert_non_null(strstr(err.msg, "no trace given"));
    wp_workload_trace_free(&t);
}

static void test_trace_mooncake_file(void **state)
{
    (void)state;
    const char *path = getenv("WP_MOONCAKE_TRACE");
    if (path == NULL) {
        print_message("skipped: WP_MOONCAKE_TRACE is not set; set it to a copy of the Mooncake "
                      "synthetic trace (kvcache-ai/Mooncake FAST25-release/traces/"
                      "synthetic_trace.jsonl, docs/reference.md section 9) to parse the real "
                      "trace\n");
        skip();
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        print_message("skipped: %s not readable\n", path);
        skip();
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)len + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    wp_workload_trace_t t;
    wp_err_t err;
    assert_int_equal(wp_workload_trace_parse(data, (size_t)len, path, &t, &err), WP_OK);
    assert_int_equal(t.n, 3993);
    free(data);
    wp_workload_spec_t s = wp_workload_spec_default();
    assert_int_equal(wp_workload_spec_set(&s, "type", "trace", &err), WP_OK);
    assert_int_equal(wp_workload_spec_set(&s, "path", "x", &err), WP_OK);
    wp_workload_t *w = wp_workload_new(&s, &t, &err);
    wp_workload_req_t r;
    double tokens = 0;
    while (wp_workload_next(w, &r) == WP_OK)
        tokens += (double)r.prompt_tokens;
    assert_true(fabs(tokens / 3993 - 15325) < 10); /* the README's average input */
    wp_workload_free(w);
    wp_workload_trace_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_parse),         cmocka_unit_test(test_trace_malformed),
        cmocka_unit_test(test_trace_replay),        cmocka_unit_test(test_trace_ids_fixed_text),
        cmocka_unit_test(test_trace_mooncake_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
