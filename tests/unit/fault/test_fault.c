/* Unit tests for fault/: the flag spec parser (kinds, rates, parameters, defaults and the
 * errors for each wrong part), the JSON form (round trip, errors naming the field) and the
 * per-request decision (rates 0 and 1, precedence, crash after N, determinism, one draw
 * per fault). */
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fault/fault.h"

static wp_fault_t spec_ok(const char *s)
{
    wp_fault_t f;
    wp_err_t err;
    wp_status_t st = wp_fault_parse_spec(s, &f, &err);
    if (st != WP_OK)
        fail_msg("%s: %s", s, err.msg);
    return f;
}

/* Parsing fails and the message holds `want`. */
static void spec_bad(const char *s, const char *want)
{
    wp_fault_t f;
    wp_err_t err;
    assert_int_equal(wp_fault_parse_spec(s, &f, &err), WP_EINVAL);
    if (strstr(err.msg, want) == NULL)
        fail_msg("%s: message '%s' lacks '%s'", s, err.msg, want);
}

static void test_fault_spec_kinds_and_rates(void **state)
{
    (void)state;
    static const char *const names[] = {"429",     "500",  "503",        "context-length",
                                        "latency", "hang", "disconnect", "crash"};
    for (int k = 0; k < WP_FAULT_KIND_COUNT; k++) {
        wp_fault_t f = spec_ok(names[k]);
        assert_int_equal(f.kind, k);
        assert_true(f.rate == 1.0);
        assert_string_equal(wp_fault_kind_name((wp_fault_kind_t)k), names[k]);
    }
    wp_fault_t f = spec_ok("503:0.2");
    assert_int_equal(f.kind, WP_FAULT_503);
    assert_true(f.rate == 0.2);
    assert_true(spec_ok("429:0").rate == 0.0);
    assert_true(spec_ok("429:1").rate == 1.0);
    assert_int_equal(wp_fault_status(WP_FAULT_429), 429);
    assert_int_equal(wp_fault_status(WP_FAULT_500), 500);
    assert_int_equal(wp_fault_status(WP_FAULT_503), 503);
    assert_int_equal(wp_fault_status(WP_FAULT_CONTEXT_LENGTH), 400);
    assert_int_equal(wp_fault_status(WP_FAULT_HANG), 0);
}

static void test_fault_spec_params_and_defaults(void **state)
{
    (void)state;
    wp_fault_t f = spec_ok("latency:0.1,ms=500");
    assert_int_equal(f.kind, WP_FAULT_LATENCY);
    assert_true(f.rate == 0.1);
    assert_int_equal(f.ms, 500);
    assert_int_equal(spec_ok("latency").ms, WP_FAULT_LATENCY_MS);
    f = spec_ok("disconnect:1,after=5");
    assert_int_equal(f.after, 5);
    assert_int_equal(spec_ok("disconnect").after, WP_FAULT_DISCONNECT_AFTER);
    f = spec_ok("crash:0,restart_ms=2000");
    assert_true(f.rate == 0.0);
    assert_int_equal(f.restart_ms, 2000);
    assert_int_equal(f.after, 0);
    f = spec_ok("crash,after=10,restart_ms=0");
    assert_true(f.rate == 1.0);
    assert_int_equal(f.after, 10);
    assert_int_equal(f.restart_ms, 0);
    assert_int_equal(spec_ok("crash").restart_ms, -1);
}

static void test_fault_spec_errors(void **state)
{
    (void)state;
    spec_bad("504", "unknown fault kind '504'");
    spec_bad("", "unknown fault kind ''");
    spec_bad("503:1.5", "rate must be a number in [0, 1]");
    spec_bad("503:-0.1", "rate must be a number in [0, 1]");
    spec_bad("503:abc", "rate must be a number in [0, 1], got 'abc'");
    spec_bad("503:", "rate must be a number");
    spec_bad("503,ms=5", "'ms' is not a parameter of 503 (its parameters: none)");
    spec_bad("latency,after=5", "'after' is not a parameter of latency (its parameters: ms)");
    spec_bad("latency,ms=-1", "ms must be an integer in 0..3600000");
    spec_bad("latency,ms=fast", "ms must be an integer, got 'fast'");
    spec_bad("latency,ms", "expected param=value, got 'ms'");
    spec_bad("latency,", "expected param=value");
    spec_bad("crash,restart_ms=-2", "restart_ms must be an integer in -1..86400000");
    spec_bad("crash,bogus=1", "its parameters: after, restart_ms");
}

static void test_fault_spec_format_round_trip(void **state)
{
    (void)state;
    static const char *const specs[] = {"503:0.2",
                                        "latency:0.1,ms=500",
                                        "hang",
                                        "disconnect:1,after=5",
                                        "crash:0,restart_ms=2000",
                                        "context-length:0.333333333333333314829616256247"};
    static const char *const want[] = {"503:0.2",
                                       "latency:0.1,ms=500",
                                       "hang:1",
                                       "disconnect:1,after=5",
                                       "crash:0,after=0,restart_ms=2000",
                                       "context-length:0.33333333333333331"};
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        wp_fault_t f = spec_ok(specs[i]), back;
        char out[WP_FAULT_SPEC_MAX];
        assert_true(wp_fault_format_spec(&f, out, sizeof(out)));
        assert_string_equal(out, want[i]);
        back = spec_ok(out);
        assert_memory_equal(&back, &f, sizeof(f));
    }
    wp_fault_t f = spec_ok("crash:0.123456789,after=1000000000000,restart_ms=86400000");
    char small[16];
    assert_false(wp_fault_format_spec(&f, small, sizeof(small)));
    char out[WP_FAULT_SPEC_MAX];
    assert_true(wp_fault_format_spec(&f, out, sizeof(out)));
}

static void test_fault_json_round_trip(void **state)
{
    (void)state;
    const char *body = "{\"faults\":[{\"kind\":\"503\",\"rate\":0.5},{\"kind\":\"latency\","
                       "\"rate\":1,\"ms\":300},{\"kind\":\"crash\",\"after\":2,\"restart_ms\":"
                       "100},{\"kind\":\"disconnect\"}]}";
    wp_fault_set_t set;
    wp_err_t err;
    assert_int_equal(wp_fault_set_parse_json(body, strlen(body), &set, &err), WP_OK);
    assert_int_equal(set.n, 4);
    assert_int_equal(set.f[0].kind, WP_FAULT_503);
    assert_true(set.f[0].rate == 0.5);
    assert_int_equal(set.f[1].ms, 300);
    assert_int_equal(set.f[2].after, 2);
    assert_int_equal(set.f[2].restart_ms, 100);
    assert_int_equal(set.f[3].after, WP_FAULT_DISCONNECT_AFTER);
    assert_true(set.f[3].rate == 1.0);
    wp_buf_t b;
    wp_buf_init(&b, 0);
    assert_int_equal(wp_fault_set_write_json(&set, &b), WP_OK);
    assert_string_equal(b.data, "{\"faults\":[{\"kind\":\"503\",\"rate\":0.5},"
                                "{\"kind\":\"latency\",\"rate\":1,\"ms\":300},"
                                "{\"kind\":\"crash\",\"rate\":1,\"after\":2,\"restart_ms\":100},"
                                "{\"kind\":\"disconnect\",\"rate\":1,\"after\":3}]}");
    wp_fault_set_t again;
    assert_int_equal(wp_fault_set_parse_json(b.data, b.len, &again, &err), WP_OK);
    assert_memory_equal(&again, &set, sizeof(set));
    wp_buf_free(&b);
    wp_fault_set_t one = {.n = 1, .f = {{.kind = WP_FAULT_503, .rate = 0.2}}};
    wp_buf_init(&b, 0);
    assert_int_equal(wp_fault_set_write_json(&one, &b), WP_OK);
    assert_string_equal(b.data, "{\"faults\":[{\"kind\":\"503\",\"rate\":0.2}]}");
    wp_buf_free(&b);
    assert_int_equal(wp_fault_set_parse_json("{\"faults\":[]}", 13, &set, &err), WP_OK);
    assert_int_equal(set.n, 0);
}

static void json_bad(const char *body, const char *want)
{
    wp_fault_set_t set = {.n = 7};
    wp_err_t err;
    assert_int_equal(wp_fault_set_parse_json(body, strlen(body), &set, &err), WP_EINVAL);
    assert_int_equal(set.n, 7); /* left as it was */
    if (strstr(err.msg, want) == NULL)
        fail_msg("%s: message '%s' lacks '%s'", body, err.msg, want);
}

static void test_fault_json_errors_name_the_field(void **state)
{
    (void)state;
    json_bad("{", "body: not valid JSON");
    json_bad("[]", "body: expected a JSON object");
    json_bad("{\"faults\":3}", "faults: expected a list");
    json_bad("{\"fault\":[]}", "fault: unknown field");
    json_bad("{\"faults\":[3]}", "faults[0]: expected an object");
    json_bad("{\"faults\":[{\"rate\":1}]}", "faults[0].kind: expected a string");
    json_bad("{\"faults\":[{\"kind\":\"503\"},{\"kind\":\"x\"}]}",
             "faults[1].kind: unknown fault kind 'x'");
    json_bad("{\"faults\":[{\"kind\":\"503\",\"rate\":2}]}",
             "faults[0].rate: rate must be a number in [0, 1]");
    json_bad("{\"faults\":[{\"kind\":\"503\",\"rate\":\"1\"}]}",
             "faults[0].rate: expected a number");
    json_bad("{\"faults\":[{\"kind\":\"latency\",\"ms\":1.5}]}",
             "faults[0]: ms must be an integer in 0..3600000");
    json_bad("{\"faults\":[{\"kind\":\"hang\",\"ms\":1}]}",
             "faults[0]: 'ms' is not a parameter of hang");
    char big[2048];
    size_t len = (size_t)snprintf(big, sizeof(big), "{\"faults\":[");
    for (int i = 0; i <= WP_FAULT_MAX; i++)
        len +=
            (size_t)snprintf(big + len, sizeof(big) - len, "%s{\"kind\":\"hang\"}", i ? "," : "");
    snprintf(big + len, sizeof(big) - len, "]}");
    wp_fault_set_t set;
    wp_err_t err;
    assert_int_equal(wp_fault_set_parse_json(big, strlen(big), &set, &err), WP_ELIMIT);
}

static void test_fault_crash_body(void **state)
{
    (void)state;
    int64_t ms = 5;
    wp_err_t err;
    assert_int_equal(wp_fault_crash_parse_json("", 0, &ms, &err), WP_OK);
    assert_int_equal(ms, -1);
    assert_int_equal(wp_fault_crash_parse_json(" {} ", 4, &ms, &err), WP_OK);
    assert_int_equal(ms, -1);
    const char *b = "{\"restart_ms\":250}";
    assert_int_equal(wp_fault_crash_parse_json(b, strlen(b), &ms, &err), WP_OK);
    assert_int_equal(ms, 250);
    b = "{\"restart_ms\":-5}";
    assert_int_equal(wp_fault_crash_parse_json(b, strlen(b), &ms, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "restart_ms must be an integer in -1..86400000"));
    b = "{\"restart\":1}";
    assert_int_equal(wp_fault_crash_parse_json(b, strlen(b), &ms, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "restart: unknown field"));
    b = "{\"restart_ms\":\"1\"}";
    assert_int_equal(wp_fault_crash_parse_json(b, strlen(b), &ms, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "restart_ms: expected a number"));
    assert_int_equal(wp_fault_crash_parse_json("nope", 4, &ms, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "body: expected a JSON object"));
    assert_int_equal(ms, 250); /* unchanged by the failures */
}

static wp_fault_set_t set_of(const char *const *specs, int n)
{
    wp_fault_set_t set = {.n = 0};
    for (int i = 0; i < n; i++) {
        wp_fault_t f = spec_ok(specs[i]);
        assert_int_equal(wp_fault_set_add(&set, &f, NULL), WP_OK);
    }
    return set;
}

static void test_fault_decide_rates_zero_and_one(void **state)
{
    (void)state;
    static const char *const one[] = {"503:1"}, *const zero[] = {"503:0", "crash:0", "hang:0"};
    wp_fault_set_t s1 = set_of(one, 1), s0 = set_of(zero, 3), empty = {.n = 0};
    wp_rng_t rng;
    wp_rng_seed(&rng, 7);
    wp_fault_decision_t d;
    for (uint64_t i = 1; i <= 1000; i++) {
        wp_fault_decide(&s1, &rng, i, &d);
        assert_int_equal(d.status, 503);
        assert_int_equal(d.injected, 1u << WP_FAULT_503);
        wp_fault_decide(&s0, &rng, i, &d);
        assert_int_equal(d.injected, 0);
        assert_int_equal(d.status, 0);
        assert_false(d.crash || d.hang);
        assert_int_equal(d.disconnect_after, -1);
        wp_fault_decide(&empty, &rng, i, &d);
        assert_int_equal(d.injected, 0);
    }
}

static void test_fault_decide_rate_is_a_probability(void **state)
{
    (void)state;
    static const char *const specs[] = {"500:0.25"};
    wp_fault_set_t s = set_of(specs, 1);
    wp_rng_t rng;
    wp_rng_seed(&rng, 11);
    int hits = 0;
    for (uint64_t i = 1; i <= 20000; i++) {
        wp_fault_decision_t d;
        wp_fault_decide(&s, &rng, i, &d);
        hits += d.status == 500;
    }
    assert_true(hits > 4600 && hits < 5400); /* 5000 expected, sd about 61 */
}

static void test_fault_decide_precedence(void **state)
{
    (void)state;
    wp_rng_t rng;
    wp_rng_seed(&rng, 3);
    wp_fault_decision_t d;
    static const char *const all[] = {"latency:1,ms=20", "disconnect:1,after=2", "429:1", "500:1",
                                      "hang:1",          "crash:1,restart_ms=50"};
    wp_fault_set_t s = set_of(all, 6);
    wp_fault_decide(&s, &rng, 1, &d);
    assert_true(d.crash);
    assert_int_equal(d.restart_ms, 50);
    assert_int_equal(d.injected, 1u << WP_FAULT_CRASH);
    s = set_of(all, 5); /* no crash: the hang wins alone */
    wp_fault_decide(&s, &rng, 1, &d);
    assert_true(d.hang && !d.crash);
    assert_int_equal(d.injected, 1u << WP_FAULT_HANG);
    s = set_of(all, 4); /* the first error in set order, with the latency */
    wp_fault_decide(&s, &rng, 1, &d);
    assert_int_equal(d.status, 429);
    assert_int_equal(d.error, WP_FAULT_429);
    assert_int_equal(d.latency_ms, 20);
    assert_int_equal(d.disconnect_after, -1);
    assert_int_equal(d.injected, (1u << WP_FAULT_429) | (1u << WP_FAULT_LATENCY));
    s = set_of(all, 2); /* latency and disconnect together */
    wp_fault_decide(&s, &rng, 1, &d);
    assert_int_equal(d.status, 0);
    assert_int_equal(d.latency_ms, 20);
    assert_int_equal(d.disconnect_after, 2);
    assert_int_equal(d.injected, (1u << WP_FAULT_DISCONNECT) | (1u << WP_FAULT_LATENCY));
    static const char *const ctx[] = {"context-length", "latency:1,ms=0"};
    s = set_of(ctx, 2);
    wp_fault_decide(&s, &rng, 1, &d);
    assert_int_equal(d.status, 400);
    assert_int_equal(d.error, WP_FAULT_CONTEXT_LENGTH);
    assert_int_equal(d.latency_ms, 0);
    assert_true(d.injected & (1u << WP_FAULT_LATENCY)); /* drawn, even at 0 ms */
}

static void test_fault_decide_crash_after_requests(void **state)
{
    (void)state;
    static const char *const specs[] = {"crash:1,after=3"};
    wp_fault_set_t s = set_of(specs, 1);
    wp_rng_t rng;
    wp_rng_seed(&rng, 5);
    wp_fault_decision_t d;
    for (uint64_t i = 1; i <= 3; i++) {
        wp_fault_decide(&s, &rng, i, &d);
        assert_false(d.crash);
        assert_int_equal(d.injected, 0);
    }
    wp_fault_decide(&s, &rng, 4, &d);
    assert_true(d.crash);
    assert_int_equal(d.restart_ms, -1);
}

static void test_fault_decide_deterministic_one_draw_per_fault(void **state)
{
    (void)state;
    static const char *const specs[] = {"503:0.3", "latency:0.5,ms=7", "disconnect:0.2"};
    wp_fault_set_t s = set_of(specs, 3);
    wp_rng_t a, b, c;
    wp_rng_seed(&a, 99);
    wp_rng_seed(&b, 99);
    wp_rng_seed(&c, 99);
    for (uint64_t i = 1; i <= 500; i++) {
        wp_fault_decision_t da, db;
        wp_fault_decide(&s, &a, i, &da);
        wp_fault_decide(&s, &b, i, &db);
        assert_memory_equal(&da, &db, sizeof(da));
        for (int k = 0; k < 3; k++)
            wp_rng_double(&c); /* three faults: three draws, whatever fired */
    }
    assert_true(wp_rng_next(&a) == wp_rng_next(&c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_spec_kinds_and_rates),
        cmocka_unit_test(test_fault_spec_params_and_defaults),
        cmocka_unit_test(test_fault_spec_errors),
        cmocka_unit_test(test_fault_spec_format_round_trip),
        cmocka_unit_test(test_fault_json_round_trip),
        cmocka_unit_test(test_fault_json_errors_name_the_field),
        cmocka_unit_test(test_fault_crash_body),
        cmocka_unit_test(test_fault_decide_rates_zero_and_one),
        cmocka_unit_test(test_fault_decide_rate_is_a_probability),
        cmocka_unit_test(test_fault_decide_precedence),
        cmocka_unit_test(test_fault_decide_crash_after_requests),
        cmocka_unit_test(test_fault_decide_deterministic_one_draw_per_fault),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
