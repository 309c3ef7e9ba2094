/* Unit tests for api/prom: the Prometheus text parser on vLLM-like /metrics output
 * (comments, labels in any order, escaped label values, special values, timestamps),
 * malformed lines (WP_EINVAL naming the line) and label lookup. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/prom.h"

#define MAX_SAMPLES 32

typedef struct {
    int n;
    char name[MAX_SAMPLES][96];
    char labels[MAX_SAMPLES][160];
    double value[MAX_SAMPLES];
} samples_t;

static void collect(void *ud, wp_str_t name, wp_str_t labels, double value)
{
    samples_t *s = ud;
    assert_true(s->n < MAX_SAMPLES);
    snprintf(s->name[s->n], sizeof(s->name[0]), "%.*s", (int)name.n, name.p);
    snprintf(s->labels[s->n], sizeof(s->labels[0]), "%.*s", (int)labels.n, labels.p);
    s->value[s->n] = value;
    s->n++;
}

static wp_status_t parse(const char *text, samples_t *s, wp_err_t *err)
{
    memset(s, 0, sizeof(*s));
    err->msg[0] = '\0';
    return wp_api_prom_parse(text, strlen(text), collect, s, err);
}

static const char vllm_text[] =
    "# HELP vllm:num_requests_running Number of requests in model execution batches.\n"
    "# TYPE vllm:num_requests_running gauge\n"
    "vllm:num_requests_running{engine=\"0\",model_name=\"Qwen/Qwen3-8B\"} 3.0\n"
    "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n"
    "# TYPE vllm:num_requests_waiting gauge\n"
    "vllm:num_requests_waiting{model_name=\"Qwen/Qwen3-8B\",engine=\"0\"} 12\n"
    "\n"
    "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"Qwen/Qwen3-8B\"} 0.4375\r\n"
    "vllm:prefix_cache_hits_total{engine=\"0\",model_name=\"Qwen/Qwen3-8B\"} 1.5e+06 "
    "1700000000123\n"
    "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"+Inf\",model_name=\"Qwen/"
    "Qwen3-8B\"} 42\n"
    "vllm:request_success_total{finished_reason=\"say \\\"stop\\\", then {}\",engine=\"0\"} 7\n"
    "  process_start_time_seconds   NaN  \n"
    "weird_gauge -Inf\n"
    "up +Inf\n"
    "no_labels{} 1e-3";

static void test_api_prom_parse_vllm_text(void **state)
{
    (void)state;
    samples_t s;
    wp_err_t err;
    assert_int_equal(parse(vllm_text, &s, &err), WP_OK);
    assert_int_equal(s.n, 10);

    assert_string_equal(s.name[0], "vllm:num_requests_running");
    assert_string_equal(s.labels[0], "engine=\"0\",model_name=\"Qwen/Qwen3-8B\"");
    assert_true(s.value[0] == 3.0);
    assert_string_equal(s.name[1], "vllm:num_requests_waiting");
    assert_true(s.value[1] == 12.0);
    assert_string_equal(s.name[2], "vllm:kv_cache_usage_perc"); /* CRLF line end */
    assert_true(s.value[2] == 0.4375);
    assert_string_equal(s.name[3], "vllm:prefix_cache_hits_total"); /* timestamp ignored */
    assert_true(s.value[3] == 1.5e6);
    assert_string_equal(s.name[4], "vllm:time_to_first_token_seconds_bucket");
    assert_true(s.value[4] == 42.0);
    /* Quotes, a comma and braces inside a quoted value do not end the label set. */
    assert_string_equal(s.labels[5], "finished_reason=\"say \\\"stop\\\", then {}\",engine=\"0\"");
    assert_true(s.value[5] == 7.0);
    assert_string_equal(s.name[6], "process_start_time_seconds");
    assert_string_equal(s.labels[6], "");
    assert_true(isnan(s.value[6]));
    assert_true(isinf(s.value[7]) && s.value[7] < 0);
    assert_true(isinf(s.value[8]) && s.value[8] > 0);
    assert_string_equal(s.name[9], "no_labels"); /* last line without a newline */
    assert_string_equal(s.labels[9], "");
    assert_true(s.value[9] == 1e-3);
}

static void test_api_prom_parse_empty_and_comments(void **state)
{
    (void)state;
    samples_t s;
    wp_err_t err;
    assert_int_equal(parse("", &s, &err), WP_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(parse("# just a comment\n\n   \n#TYPE x counter\n", &s, &err), WP_OK);
    assert_int_equal(s.n, 0);
}

/* Each malformed line: WP_EINVAL, a message naming its line number, no sample after it. */
static void test_api_prom_parse_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *text, *msg;
        int before;
    } cases[] = {
        {"ok 1\n{a=\"b\"} 2\n", "metrics line 2: expected a metric name", 1},
        {"ok 1\n# c\nbad{a=\"b\" 3\nnext 4\n", "metrics line 3: unterminated label set of 'bad'",
         1},
        {"bad{a=\"unterminated} 3\n", "metrics line 1: unterminated label set of 'bad'", 0},
        {"a 1\nb 2\nnovalue\n", "metrics line 3: bad value for 'novalue'", 2},
        {"novalue{x=\"1\"}   \n", "metrics line 1: bad value for 'novalue'", 0},
        {"x abc\n", "metrics line 1: bad value for 'x'", 0},
        {"x 12abc\n", "metrics line 1: bad value for 'x'", 0},
        {"x 1 garbage\n", "metrics line 1: unexpected text after the value of 'x'", 0},
        {"x 1 17000 extra\n", "metrics line 1: unexpected text after the value of 'x'", 0},
        {"x 1 1.5\n", "metrics line 1: unexpected text after the value of 'x'", 0},
        {"9lives 1\n", "metrics line 1: expected a metric name", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        samples_t s;
        wp_err_t err;
        assert_int_equal(parse(cases[i].text, &s, &err), WP_EINVAL);
        if (strcmp(err.msg, cases[i].msg) != 0) {
            print_error("case %zu: got '%s', want '%s'\n", i, err.msg, cases[i].msg);
            fail();
        }
        assert_int_equal(s.n, cases[i].before);
    }
}

static void test_api_prom_timestamps_accepted(void **state)
{
    (void)state;
    samples_t s;
    wp_err_t err;
    assert_int_equal(parse("a 1 1700000000000\nb{x=\"y\"} 2\t-5 \n", &s, &err), WP_OK);
    assert_int_equal(s.n, 2);
    assert_true(s.value[0] == 1.0);
    assert_true(s.value[1] == 2.0);
}

static void test_api_prom_label_any_order(void **state)
{
    (void)state;
    char out[64];
    wp_str_t a = WP_STR("engine=\"0\",model_name=\"Qwen/Qwen3-8B\"");
    wp_str_t b = WP_STR("model_name=\"Qwen/Qwen3-8B\",engine=\"3\"");
    assert_true(wp_api_prom_label(a, "model_name", out, sizeof(out)));
    assert_string_equal(out, "Qwen/Qwen3-8B");
    assert_true(wp_api_prom_label(a, "engine", out, sizeof(out)));
    assert_string_equal(out, "0");
    assert_true(wp_api_prom_label(b, "model_name", out, sizeof(out)));
    assert_string_equal(out, "Qwen/Qwen3-8B");
    assert_true(wp_api_prom_label(b, "engine", out, sizeof(out)));
    assert_string_equal(out, "3");
    /* Whole key match only: no prefix or suffix matches. */
    assert_false(wp_api_prom_label(a, "engin", out, sizeof(out)));
    assert_false(wp_api_prom_label(a, "name", out, sizeof(out)));
    assert_false(wp_api_prom_label(WP_STR(""), "engine", out, sizeof(out)));
}

static void test_api_prom_label_escapes_and_cut(void **state)
{
    (void)state;
    char out[64];
    wp_str_t l = WP_STR("reason=\"say \\\"hi\\\", a\\\\b\\nc\",le=\"+Inf\",empty=\"\",tail=\"t\",");
    assert_true(wp_api_prom_label(l, "reason", out, sizeof(out)));
    assert_string_equal(out, "say \"hi\", a\\b\nc");
    assert_true(wp_api_prom_label(l, "le", out, sizeof(out)));
    assert_string_equal(out, "+Inf");
    assert_true(wp_api_prom_label(l, "empty", out, sizeof(out)));
    assert_string_equal(out, "");
    assert_true(wp_api_prom_label(l, "tail", out, sizeof(out))); /* trailing comma is allowed */
    assert_string_equal(out, "t");
    /* A value longer than the output is cut and still NUL-terminated. */
    char small[4];
    assert_true(wp_api_prom_label(l, "reason", small, sizeof(small)));
    assert_string_equal(small, "say");
}

static void test_api_prom_label_malformed(void **state)
{
    (void)state;
    char out[16];
    assert_false(wp_api_prom_label(WP_STR("a=1"), "a", out, sizeof(out)));
    assert_false(wp_api_prom_label(WP_STR("a"), "a", out, sizeof(out)));
    assert_false(wp_api_prom_label(WP_STR("b=\"x\",a"), "a", out, sizeof(out)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_prom_parse_vllm_text),
        cmocka_unit_test(test_api_prom_parse_empty_and_comments),
        cmocka_unit_test(test_api_prom_parse_malformed),
        cmocka_unit_test(test_api_prom_timestamps_accepted),
        cmocka_unit_test(test_api_prom_label_any_order),
        cmocka_unit_test(test_api_prom_label_escapes_and_cut),
        cmocka_unit_test(test_api_prom_label_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
