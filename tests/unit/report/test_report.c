/* Unit tests for report/: metrics against hand-computed values (percentiles, means, TPOT,
 * goodput, rates over the measured span, cache hit rate), failures by kind, the stage split,
 * the JSON shape and its determinism, the HTML page, the SLO parser's errors, and warm-up
 * results counted apart. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cJSON.h>
#include <cmocka.h>

#include "report/report.h"

#define assert_near(a, b, eps) check_near((a), (b), (eps), __FILE__, __LINE__)
static void check_near(double a, double b, double eps, const char *file, int line)
{
    if (!(fabs(a - b) <= eps)) {
        print_error("%.17g != %.17g (eps %g)\n", a, b, eps);
        _fail(file, line);
    }
}

#define EPS 1e-12

static const wp_report_stage_t two_stages[] = {{2.0, 10.0}, {4.0, 10.0}};

static wp_report_result_t ok_result(size_t stage, double start, double ttft, double e2e,
                                    uint32_t prompt, uint32_t out, uint32_t cached)
{
    return (wp_report_result_t){.stage = stage,
                                .outcome = WP_REPORT_OK,
                                .start_s = start,
                                .ttft_s = ttft,
                                .e2e_s = e2e,
                                .prompt_tokens = prompt,
                                .output_tokens = out,
                                .cached_tokens = cached};
}

static wp_report_result_t failed_result(size_t stage, wp_report_outcome_t kind, double start,
                                        double e2e)
{
    return (wp_report_result_t){
        .stage = stage, .outcome = kind, .start_s = start, .ttft_s = NAN, .e2e_s = e2e};
}

/*
 * Stage 0 (three completed requests, one 5xx):
 *   A start 0  ttft 0.1 e2e 1.0 prompt 100 out 10 cached 50  gaps 0.1 x9   (TPOT 0.1)
 *   B start 1  ttft 0.3 e2e 2.3 prompt 100 out 5  cached 0   gaps .2,.4,.6,.8 (TPOT 0.5)
 *   C start 2  ttft 0.2 e2e 0.2 prompt 200 out 1  cached 100 no gaps (no TPOT)
 *   F start 3  http_5xx e2e 0.5
 * Span: 0 .. max(1, 3.3, 2.2, 3.5) = 3.5 s.
 * Stage 1: D start 10 ttft 1.0 e2e 3.0 prompt 100 out 3 cached 100 gaps 1.0,1.0 (TPOT 1.0)
 *          G start 11 timeout e2e 4.0; H start 12 timeout e2e 1.0. Span 10 .. 15 = 5 s.
 */
static const double gaps_a[9] = {0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1};
static const double gaps_b[4] = {0.2, 0.4, 0.6, 0.8};
static const double gaps_d[2] = {1.0, 1.0};

static void fill_run(wp_report_run_t *run)
{
    wp_report_result_t a = ok_result(0, 0.0, 0.1, 1.0, 100, 10, 50);
    a.itl_s = gaps_a;
    a.n_itl = 9;
    wp_report_result_t b = ok_result(0, 1.0, 0.3, 2.3, 100, 5, 0);
    b.itl_s = gaps_b;
    b.n_itl = 4;
    wp_report_result_t c = ok_result(0, 2.0, 0.2, 0.2, 200, 1, 100);
    wp_report_result_t d = ok_result(1, 10.0, 1.0, 3.0, 100, 3, 100);
    d.itl_s = gaps_d;
    d.n_itl = 2;
    wp_report_result_t f = failed_result(0, WP_REPORT_HTTP_5XX, 3.0, 0.5);
    wp_report_result_t g = failed_result(1, WP_REPORT_TIMEOUT, 11.0, 4.0);
    wp_report_result_t h = failed_result(1, WP_REPORT_TIMEOUT, 12.0, 1.0);
    const wp_report_result_t *all[] = {&a, &b, &c, &f, &d, &g, &h};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        assert_int_equal(wp_report_add(run, all[i], NULL), WP_OK);
}

static wp_report_t *make_report(const wp_report_slo_t *slo, const char *policy)
{
    wp_report_t *r;
    assert_int_equal(wp_report_create(&r, WP_REPORT_MODE_BENCH,
                                      "{\"type\":\"shared_prefix\",\"seed\":7}", slo, NULL, NULL),
                     WP_OK);
    wp_report_run_t *run;
    assert_int_equal(wp_report_run_add(r, policy, two_stages, 2, &run, NULL), WP_OK);
    fill_run(run);
    assert_int_equal(wp_report_validate(r, NULL), WP_OK);
    return r;
}

static void test_report_stage_metrics(void **state)
{
    (void)state;
    wp_report_t *r = make_report(NULL, "rr");
    wp_report_metrics_t m;
    assert_int_equal(wp_report_run_metrics(wp_report_run_get(r, 0), 0, &m, NULL), WP_OK);
    assert_int_equal(m.requests, 4);
    assert_int_equal(m.completed, 3);
    assert_int_equal(m.failed, 1);
    assert_int_equal(m.failures[WP_REPORT_HTTP_5XX], 1);
    /* TTFT {0.1,0.2,0.3}: mean 0.2; p90: h = 2*0.9 = 1.8 -> 0.2 + 0.8*0.1 = 0.28. */
    assert_near(m.ttft_s.mean, 0.2, EPS);
    assert_near(m.ttft_s.p50, 0.2, EPS);
    assert_near(m.ttft_s.p90, 0.28, EPS);
    assert_near(m.ttft_s.p99, 0.298, EPS);
    /* E2E {0.2,1.0,2.3}: mean 3.5/3; p95: h = 1.9 -> 1.0 + 0.9*1.3 = 2.17. */
    assert_near(m.e2e_s.mean, 3.5 / 3, EPS);
    assert_near(m.e2e_s.p50, 1.0, EPS);
    assert_near(m.e2e_s.p95, 2.17, EPS);
    /* TPOT only for A (0.9/9 = 0.1) and B (2.0/4 = 0.5); C has one output token. */
    assert_near(m.tpot_s.mean, 0.3, EPS);
    assert_near(m.tpot_s.p50, 0.3, EPS);
    assert_near(m.tpot_s.p90, 0.46, EPS);
    /* ITL pools 13 gaps: nine 0.1, then .2 .4 .6 .8. mean = (0.9+2.0)/13; p50 = x[6] = 0.1;
     * p90: h = 12*0.9 = 10.8 -> 0.4 + 0.8*0.2 = 0.56. */
    assert_near(m.itl_s.mean, 2.9 / 13, EPS);
    assert_near(m.itl_s.p50, 0.1, EPS);
    assert_near(m.itl_s.p90, 0.56, EPS);
    /* Each stream's largest gap: A 0.1, B 0.8 (C has none): mean and p50 0.45, largest 0.8. */
    assert_near(m.max_itl_s.mean, 0.45, EPS);
    assert_near(m.max_itl_s.p50, 0.45, EPS);
    assert_near(m.max_itl_max_s, 0.8, EPS);
    /* Span 3.5 s (F ends at 3.5); 3 completed, 16 output, 400 prompt tokens. */
    assert_near(m.span_s, 3.5, EPS);
    assert_near(m.requests_per_s, 3 / 3.5, EPS);
    assert_near(m.output_tokens_per_s, 16 / 3.5, EPS);
    assert_near(m.total_tokens_per_s, 416 / 3.5, EPS);
    assert_near(m.cache_hit_rate, 150.0 / 400.0, EPS);
    /* No SLO: goodput equals the completed rate. */
    assert_near(m.goodput_requests_per_s, m.requests_per_s, EPS);
    assert_true(isnan(m.server_cache_hit_rate));
    wp_report_free(r);
}

static void test_report_stage_split(void **state)
{
    (void)state;
    wp_report_t *r = make_report(NULL, "rr");
    wp_report_run_t *run = wp_report_run_get(r, 0);
    wp_report_metrics_t m1, all;
    assert_int_equal(wp_report_run_metrics(run, 1, &m1, NULL), WP_OK);
    assert_int_equal(m1.requests, 3);
    assert_int_equal(m1.completed, 1);
    assert_int_equal(m1.failures[WP_REPORT_TIMEOUT], 2);
    assert_near(m1.span_s, 5.0, EPS); /* 10 .. G's end 15 */
    assert_near(m1.ttft_s.p99, 1.0, EPS);
    assert_near(m1.tpot_s.mean, 1.0, EPS); /* (3-1)/(3-1) */
    assert_near(m1.itl_s.mean, 1.0, EPS);
    assert_near(m1.cache_hit_rate, 1.0, EPS);

    assert_int_equal(wp_report_run_metrics(run, WP_REPORT_SUMMARY, &all, NULL), WP_OK);
    assert_int_equal(all.requests, 7);
    assert_int_equal(all.completed, 4);
    assert_int_equal(all.failed, 3);
    assert_int_equal(all.failures[WP_REPORT_HTTP_5XX], 1);
    assert_int_equal(all.failures[WP_REPORT_TIMEOUT], 2);
    assert_int_equal(all.failures[WP_REPORT_CONNECT], 0);
    assert_near(all.span_s, 15.0, EPS);
    assert_near(all.requests_per_s, 4 / 15.0, EPS);
    assert_near(all.output_tokens_per_s, 19 / 15.0, EPS);
    assert_near(all.cache_hit_rate, 250.0 / 500.0, EPS);
    /* TTFT {0.1,0.2,0.3,1.0}: p50 = 0.25, mean 0.4. ITL: 15 gaps, mean (2.9+2)/15. */
    assert_near(all.ttft_s.p50, 0.25, EPS);
    assert_near(all.ttft_s.mean, 0.4, EPS);
    assert_near(all.itl_s.mean, 4.9 / 15, EPS);
    assert_near(all.itl_s.p99, 1.0, EPS);
    assert_int_equal(wp_report_run_metrics(run, 2, &m1, NULL), WP_EINVAL);
    wp_report_free(r);
}

static void test_report_goodput(void **state)
{
    (void)state;
    wp_report_slo_t slo;
    /* A: ttft 0.1, mean ITL 0.1 -> good. B: ttft 0.3 -> misses. C: ttft 0.2, no gaps -> good.
     * D: ttft 1.0 -> misses (bounds are inclusive). */
    assert_int_equal(wp_report_slo_parse("ttft=0.2,itl=0.15", &slo, NULL), WP_OK);
    wp_report_t *r = make_report(&slo, "rr");
    wp_report_metrics_t m;
    assert_int_equal(wp_report_run_metrics(wp_report_run_get(r, 0), 0, &m, NULL), WP_OK);
    assert_int_equal(m.good, 2);
    assert_near(m.goodput_requests_per_s, 2 / 3.5, EPS);
    wp_report_free(r);

    /* ITL SLO on the request's mean: B's gaps average 0.5, A's 0.1; TTFT 1 s lets all in. */
    assert_int_equal(wp_report_slo_parse("itl=0.4,ttft=1s", &slo, NULL), WP_OK);
    r = make_report(&slo, "rr");
    assert_int_equal(wp_report_run_metrics(wp_report_run_get(r, 0), WP_REPORT_SUMMARY, &m, NULL),
                     WP_OK);
    assert_int_equal(m.good, 2); /* A and C; B (0.5) and D (1.0) miss */
    wp_report_free(r);

    /* TPOT: A 0.1, B 0.5, C none (meets), D 1.0 (misses); e2e 2.5 s also excludes D. */
    assert_int_equal(wp_report_slo_parse("tpot=600ms,e2e=2.5", &slo, NULL), WP_OK);
    r = make_report(&slo, "rr");
    assert_int_equal(wp_report_run_metrics(wp_report_run_get(r, 0), WP_REPORT_SUMMARY, &m, NULL),
                     WP_OK);
    assert_int_equal(m.good, 3);
    assert_near(m.goodput_requests_per_s, 3 / 15.0, EPS);
    wp_report_free(r);
}

static void test_report_slo_parse_errors(void **state)
{
    (void)state;
    wp_report_slo_t slo;
    wp_err_t err;
    assert_int_equal(wp_report_slo_parse("ttft=0.2,itl=50ms", &slo, &err), WP_OK);
    assert_near(slo.ttft_s, 0.2, EPS);
    assert_near(slo.itl_s, 0.05, EPS);
    assert_true(isinf(slo.tpot_s) && isinf(slo.e2e_s));
    assert_true(wp_report_slo_is_set(&slo));

    struct {
        const char *spec;
        const char *msg;
    } bad[] = {
        {"", "empty"},
        {"ttft", "expected key=value"},
        {"ttft=0.2,,itl=1", "empty item at byte 9"},
        {"ttft=0.2,", "empty item at byte 9"},
        {"foo=1", "unknown key 'foo'"},
        {"ttft=abc", "'abc' is not a positive number"},
        {"ttft=", "'' is not a positive number"},
        {"ttft=-1", "not a positive"},
        {"ttft=0", "not a positive"},
        {"ttft=inf", "not a positive"},
        {"ttft=1,ttft=2", "given twice"},
        {"itl=5xs", "not a positive"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        wp_report_slo_t keep = slo;
        err.msg[0] = '\0';
        assert_int_equal(wp_report_slo_parse(bad[i].spec, &slo, &err), WP_EINVAL);
        if (strstr(err.msg, bad[i].msg) == NULL)
            fail_msg("spec '%s': message '%s' lacks '%s'", bad[i].spec, err.msg, bad[i].msg);
        assert_memory_equal(&keep, &slo, sizeof(slo)); /* untouched on error */
    }
    assert_int_equal(wp_report_slo_parse(NULL, &slo, NULL), WP_EINVAL);
    wp_report_slo_none(&slo);
    assert_false(wp_report_slo_is_set(&slo));
}

static void test_report_add_rejects(void **state)
{
    (void)state;
    wp_report_t *r;
    wp_report_run_t *run;
    wp_err_t err;
    wp_report_limits_t lim = {.max_requests = 2, .max_itl_samples = 3};
    assert_int_equal(wp_report_create(&r, WP_REPORT_MODE_SIMULATE, NULL, NULL, &lim, NULL), WP_OK);
    assert_int_equal(wp_report_run_add(r, "", two_stages, 2, &run, &err), WP_EINVAL);
    assert_int_equal(wp_report_run_add(r, "x", two_stages, 0, &run, &err), WP_EINVAL);
    assert_int_equal(wp_report_run_add(r, "x", two_stages, 2, &run, &err), WP_OK);

    wp_report_result_t res = ok_result(2, 0, 0.1, 1, 10, 2, 0);
    assert_int_equal(wp_report_add(run, &res, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "stage 2"));
    res = ok_result(0, 0, NAN, 1, 10, 2, 0);
    assert_int_equal(wp_report_add(run, &res, &err), WP_EINVAL);
    res = ok_result(0, 0, 2.0, 1, 10, 2, 0); /* e2e < ttft */
    assert_int_equal(wp_report_add(run, &res, &err), WP_EINVAL);
    res = ok_result(0, 0, 0.1, 1, 10, 2, 11);
    assert_int_equal(wp_report_add(run, &res, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "cached tokens 11 > prompt tokens 10"));
    res = ok_result(0, -1, 0.1, 1, 10, 2, 0);
    assert_int_equal(wp_report_add(run, &res, &err), WP_EINVAL);
    const double bad_gap[] = {0.1, -0.1};
    res = ok_result(0, 0, 0.1, 1, 10, 3, 0);
    res.itl_s = bad_gap;
    res.n_itl = 2;
    assert_int_equal(wp_report_add(run, &res, &err), WP_EINVAL);
    res = failed_result(0, WP_REPORT_OUTCOME_COUNT, 0, 1);
    assert_int_equal(wp_report_add(run, &res, &err), WP_EINVAL);
    wp_report_metrics_t m;
    assert_int_equal(wp_report_run_metrics(run, WP_REPORT_SUMMARY, &m, NULL), WP_OK);
    assert_int_equal(m.requests, 0); /* nothing recorded */
    assert_true(isnan(m.ttft_s.p50) && isnan(m.requests_per_s) && isnan(m.cache_hit_rate));

    /* The ITL cap keeps 3 of 4 gaps and counts the rest; the mean still uses all four
     * (0.8 s over 4 gaps), the percentiles only the kept ones. */
    const double gaps[] = {0.1, 0.1, 0.1, 0.5};
    res = ok_result(0, 0, 0.1, 1, 10, 5, 0);
    res.itl_s = gaps;
    res.n_itl = 4;
    assert_int_equal(wp_report_add(run, &res, NULL), WP_OK);
    assert_int_equal(wp_report_run_itl_dropped(run), 1);
    res = failed_result(1, WP_REPORT_ABORTED, 1, 0);
    assert_int_equal(wp_report_add(run, &res, NULL), WP_OK);
    assert_int_equal(wp_report_add(run, &res, &err), WP_ELIMIT);
    assert_int_equal(wp_report_validate(r, NULL), WP_OK);
    assert_int_equal(wp_report_run_metrics(run, 0, &m, NULL), WP_OK);
    assert_near(m.itl_s.mean, 0.2, EPS);
    assert_near(m.itl_s.p99, 0.1, EPS);

    assert_int_equal(wp_report_run_set_server_hit_rate(run, 1, 1.5, NULL), WP_EINVAL);
    assert_int_equal(wp_report_run_set_server_hit_rate(run, 2, 0.5, NULL), WP_EINVAL);
    assert_int_equal(wp_report_run_set_server_hit_rate(run, WP_REPORT_SUMMARY, 0.75, NULL), WP_OK);
    assert_int_equal(wp_report_run_metrics(run, WP_REPORT_SUMMARY, &m, NULL), WP_OK);
    assert_near(m.server_cache_hit_rate, 0.75, EPS);
    assert_int_equal(m.failures[WP_REPORT_ABORTED], 1);
    wp_report_free(r);

    assert_int_equal(wp_report_create(&r, WP_REPORT_MODE_BENCH, "{bad", NULL, NULL, &err),
                     WP_EINVAL);
    assert_null(r);
}

static void test_report_outcome_names(void **state)
{
    (void)state;
    const char *want[] = {"ok",      "http_4xx",     "http_5xx",     "connect",
                          "timeout", "stream_error", "bad_response", "aborted"};
    for (int k = 0; k < WP_REPORT_OUTCOME_COUNT; k++)
        assert_string_equal(wp_report_outcome_name((wp_report_outcome_t)k), want[k]);
    assert_string_equal(wp_report_outcome_name(WP_REPORT_OUTCOME_COUNT), "?");
}

static void check_dist(const cJSON *m, const char *key)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(m, key);
    assert_true(cJSON_IsObject(d));
    const char *want[] = {"mean", "p50", "p90", "p95", "p99"};
    const cJSON *c = d->child;
    for (size_t i = 0; i < 5; i++, c = c->next) {
        assert_non_null(c);
        assert_string_equal(c->string, want[i]);
    }
    assert_null(c);
}

/* Checks M's keys in order and a few values. */
static void check_metrics(const cJSON *m)
{
    const char *want[] = {"requests",
                          "completed",
                          "failed",
                          "failures",
                          "ttft_s",
                          "itl_s",
                          "tpot_s",
                          "e2e_s",
                          "max_itl_s",
                          "max_itl_max_s",
                          "requests_per_s",
                          "output_tokens_per_s",
                          "total_tokens_per_s",
                          "cache_hit_rate",
                          "goodput_requests_per_s",
                          "server_cache_hit_rate"};
    const cJSON *c = m->child;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++, c = c->next) {
        assert_non_null(c);
        assert_string_equal(c->string, want[i]);
    }
    assert_null(c);
    check_dist(m, "ttft_s");
    check_dist(m, "itl_s");
    check_dist(m, "tpot_s");
    check_dist(m, "e2e_s");
    check_dist(m, "max_itl_s");
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(m, "failures");
    const char *kinds[] = {"http_4xx",     "http_5xx",     "connect", "timeout",
                           "stream_error", "bad_response", "aborted"};
    for (size_t i = 0; i < 7; i++)
        assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(f, kinds[i])));
}

static void test_report_json_shape(void **state)
{
    (void)state;
    wp_report_t *r = make_report(NULL, "round-robin");
    wp_report_run_t *run;
    const wp_report_stage_t one = {NAN, 30.0};
    assert_int_equal(wp_report_run_add(r, "prefix-aware", &one, 1, &run, NULL), WP_OK);
    wp_report_result_t res = ok_result(0, 0, 0.05, 0.5, 1000, 2, 900);
    assert_int_equal(wp_report_add(run, &res, NULL), WP_OK);
    assert_int_equal(wp_report_run_set_server_hit_rate(run, 0, 0.5, NULL), WP_OK);

    wp_buf_t b;
    wp_buf_init(&b, 0);
    assert_int_equal(wp_report_write_json(r, &b, true, NULL), WP_OK);
    cJSON *root = cJSON_Parse(b.data);
    assert_non_null(root);
    const char *top[] = {"tool", "mode", "workload", "runs"};
    const cJSON *c = root->child;
    for (size_t i = 0; i < 4; i++, c = c->next)
        assert_string_equal(c->string, top[i]);
    assert_null(c);
    assert_string_equal(cJSON_GetObjectItem(root, "tool")->valuestring, "wellpath");
    assert_string_equal(cJSON_GetObjectItem(root, "mode")->valuestring, "bench");
    const cJSON *wl = cJSON_GetObjectItem(root, "workload");
    assert_int_equal(cJSON_GetObjectItem(wl, "seed")->valueint, 7);
    const cJSON *runs = cJSON_GetObjectItem(root, "runs");
    assert_int_equal(cJSON_GetArraySize(runs), 2);

    const cJSON *r0 = cJSON_GetArrayItem(runs, 0);
    assert_string_equal(cJSON_GetObjectItem(r0, "policy")->valuestring, "round-robin");
    const cJSON *sum = cJSON_GetObjectItem(r0, "summary");
    check_metrics(sum);
    assert_int_equal(cJSON_GetObjectItem(sum, "requests")->valueint, 7);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(sum, "failures"), "timeout")->valueint,
                     2);
    assert_near(cJSON_GetObjectItem(sum, "cache_hit_rate")->valuedouble, 0.5, EPS);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(sum, "server_cache_hit_rate")));
    const cJSON *stages = cJSON_GetObjectItem(r0, "stages");
    assert_int_equal(cJSON_GetArraySize(stages), 2);
    const cJSON *s1 = cJSON_GetArrayItem(stages, 1);
    const char *skeys[] = {"rate", "duration_s", "metrics"};
    c = s1->child;
    for (size_t i = 0; i < 3; i++, c = c->next)
        assert_string_equal(c->string, skeys[i]);
    assert_near(cJSON_GetObjectItem(s1, "rate")->valuedouble, 4.0, EPS);
    check_metrics(cJSON_GetObjectItem(s1, "metrics"));
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(s1, "metrics"), "requests")->valueint,
                     3);

    const cJSON *r1 = cJSON_GetArrayItem(runs, 1);
    const cJSON *st0 = cJSON_GetArrayItem(cJSON_GetObjectItem(r1, "stages"), 0);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(st0, "rate")));
    const cJSON *m1 = cJSON_GetObjectItem(st0, "metrics");
    assert_near(cJSON_GetObjectItem(m1, "server_cache_hit_rate")->valuedouble, 0.5, EPS);
    assert_near(cJSON_GetObjectItem(m1, "cache_hit_rate")->valuedouble, 0.9, EPS);
    /* One request: span 0.5 s. tpot (0.45/1) present, ITL has no samples -> null. */
    assert_near(cJSON_GetObjectItem(m1, "requests_per_s")->valuedouble, 2.0, EPS);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(m1, "itl_s"), "p50")));
    assert_near(cJSON_GetObjectItem(cJSON_GetObjectItem(m1, "tpot_s"), "p50")->valuedouble, 0.45,
                EPS);
    cJSON_Delete(root);
    wp_buf_free(&b);
    wp_report_free(r);
}

static void test_report_json_deterministic(void **state)
{
    (void)state;
    wp_buf_t a, b;
    wp_buf_init(&a, 0);
    wp_buf_init(&b, 0);
    wp_report_t *r1 = make_report(NULL, "rr");
    wp_report_t *r2 = make_report(NULL, "rr");
    assert_int_equal(wp_report_write_json(r1, &a, false, NULL), WP_OK);
    assert_int_equal(wp_report_write_json(r2, &b, false, NULL), WP_OK);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    /* Writing twice (samples now sorted in place) gives the same bytes. */
    wp_buf_reset(&b);
    assert_int_equal(wp_report_write_json(r1, &b, false, NULL), WP_OK);
    assert_string_equal(a.data, b.data);
    assert_null(strchr(a.data, '\n'));
    wp_buf_free(&a);
    wp_buf_free(&b);
    wp_report_free(r1);
    wp_report_free(r2);
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_report_html(void **state)
{
    (void)state;
    wp_report_t *r = make_report(NULL, "<b>rr&co</b>");
    wp_report_run_t *run;
    assert_int_equal(wp_report_run_add(r, "prefix\"aware", two_stages, 2, &run, NULL), WP_OK);
    fill_run(run);
    wp_buf_t b;
    wp_buf_init(&b, 0);
    assert_int_equal(wp_report_write_html(r, &b, NULL), WP_OK);
    assert_true(strncmp(b.data, "<!DOCTYPE html>", 15) == 0);
    assert_int_equal(count_of(b.data, "<svg "), 3);
    assert_int_equal(count_of(b.data, "</svg>"), 3);
    assert_int_equal(count_of(b.data, "<polyline"), 2); /* one CDF line per policy */
    assert_null(strstr(b.data, "<b>rr"));
    assert_non_null(strstr(b.data, "&lt;b&gt;rr&amp;co&lt;/b&gt;"));
    assert_non_null(strstr(b.data, "prefix&quot;aware"));
    assert_null(strstr(b.data, "<script"));
    assert_null(strstr(b.data, "src=")); /* no external assets */
    assert_null(strstr(b.data, "href="));
    assert_non_null(strstr(b.data, "&quot;shared_prefix&quot;")); /* workload, escaped */
    assert_non_null(strstr(b.data, "</html>"));
    wp_buf_free(&b);
    wp_report_free(r);
}

static void test_report_table(void **state)
{
    (void)state;
    wp_report_slo_t slo;
    assert_int_equal(wp_report_slo_parse("ttft=0.2", &slo, NULL), WP_OK);
    wp_report_t *r = make_report(&slo, "round-robin");
    wp_buf_t b;
    wp_buf_init(&b, 0);
    assert_int_equal(wp_report_write_table(r, &b, NULL), WP_OK);
    assert_non_null(strstr(b.data, "goodput SLO: ttft<=0.2s"));
    assert_non_null(strstr(b.data, "TTFT p95 ms"));
    assert_non_null(strstr(b.data, "per stage"));
    /* Summary row: 7 requests, 3 failed, hit rate 50.0%, TTFT p50 250.0 ms. */
    const char *row = strstr(b.data, "\nround-robin ");
    assert_non_null(row);
    assert_non_null(strstr(row, "50.0%"));
    assert_non_null(strstr(row, "250.0"));
    assert_int_equal(count_of(b.data, "\nround-robin "), 3); /* summary + 2 stages */
    wp_buf_free(&b);

    wp_buf_init(&b, 64); /* too small: a clear limit error */
    wp_err_t err;
    assert_int_equal(wp_report_write_table(r, &b, &err), WP_ELIMIT);
    wp_buf_free(&b);
    wp_report_free(r);
}

/* Warm-up results are counted apart (how many, failed, the last end) and change no
 * metric; the JSON, the table and the page say how many there were. */
static void test_report_warmup_counted_apart(void **state)
{
    (void)state;
    wp_report_t *r = make_report(NULL, "rr");
    wp_report_run_t *run = wp_report_run_get(r, 0);
    wp_report_metrics_t before[3], after[3];
    size_t scopes[3] = {0, 1, WP_REPORT_SUMMARY};
    for (size_t k = 0; k < 3; k++)
        assert_int_equal(wp_report_run_metrics(run, scopes[k], &before[k], NULL), WP_OK);
    assert_int_equal(wp_report_run_warmup(run).requests, 0);
    assert_true(isnan(wp_report_run_warmup(run).end_s));
    wp_report_result_t w1 = ok_result(0, 0.0, 0.05, 0.4, 5000, 7, 4000);
    w1.itl_s = gaps_a;
    w1.n_itl = 9;
    w1.warmup = true;
    wp_report_result_t w2 = failed_result(1, WP_REPORT_HTTP_5XX, 0.1, 0.8);
    w2.warmup = true;
    assert_int_equal(wp_report_add(run, &w1, NULL), WP_OK);
    assert_int_equal(wp_report_add(run, &w2, NULL), WP_OK);
    wp_report_result_t bad = w1;
    bad.start_s = -1; /* checked as any result: nothing counted */
    assert_int_equal(wp_report_add(run, &bad, NULL), WP_EINVAL);
    wp_report_warmup_t w = wp_report_run_warmup(run);
    assert_int_equal(w.requests, 2);
    assert_int_equal(w.failed, 1);
    assert_near(w.end_s, 0.9, EPS);
    assert_int_equal(wp_report_validate(r, NULL), WP_OK);
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(wp_report_run_metrics(run, scopes[k], &after[k], NULL), WP_OK);
        assert_int_equal(after[k].requests, before[k].requests);
        assert_int_equal(after[k].failed, before[k].failed);
        assert_int_equal(after[k].prompt_tokens, before[k].prompt_tokens);
        assert_near(after[k].span_s, before[k].span_s, 0);
        assert_near(after[k].ttft_s.p50, before[k].ttft_s.p50, 0);
        assert_near(after[k].itl_s.mean, before[k].itl_s.mean, 0);
        assert_near(after[k].cache_hit_rate, before[k].cache_hit_rate, 0);
    }
    wp_report_run_t *cold;
    assert_int_equal(wp_report_run_add(r, "cold", two_stages, 2, &cold, NULL), WP_OK);
    fill_run(cold);

    wp_buf_t b;
    wp_buf_init(&b, 0);
    assert_int_equal(wp_report_write_json(r, &b, false, NULL), WP_OK);
    assert_non_null(
        strstr(b.data, "\"policy\":\"rr\",\"warmup\":2,\"warmup_failed\":1,\"warmup_end_s\":0.9,"));
    assert_non_null(strstr(b.data, "\"policy\":\"cold\",\"warmup\":0,\"warmup_failed\":0,"
                                   "\"warmup_end_s\":null,"));
    wp_buf_reset(&b);
    assert_int_equal(wp_report_write_table(r, &b, NULL), WP_OK);
    assert_non_null(strstr(b.data, "\nwarm-up rr: 2 warm-up requests (1 failed) before the "
                                   "measured run, the last ended at 0.900 s; in no metric\n"));
    assert_int_equal(count_of(b.data, "warm-up"), 2); /* one line: the cold run has none */
    wp_buf_reset(&b);
    assert_int_equal(wp_report_write_html(r, &b, NULL), WP_OK);
    assert_non_null(strstr(b.data, "<p>Warm-up, rr: 2 warm-up requests (1 failed)"));
    wp_buf_free(&b);
    wp_report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_stage_metrics),
        cmocka_unit_test(test_report_stage_split),
        cmocka_unit_test(test_report_goodput),
        cmocka_unit_test(test_report_slo_parse_errors),
        cmocka_unit_test(test_report_add_rejects),
        cmocka_unit_test(test_report_outcome_names),
        cmocka_unit_test(test_report_json_shape),
        cmocka_unit_test(test_report_json_deterministic),
        cmocka_unit_test(test_report_html),
        cmocka_unit_test(test_report_table),
        cmocka_unit_test(test_report_warmup_counted_apart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
