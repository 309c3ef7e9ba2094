/*
 * tests/unit/des/test_spot: spot capacity in virtual time (des/spot.c) — interruptions at a
 * rate take engines out for their notice and restart, which shows in the billed
 * GPU-seconds, the cost per million output tokens and the SLO attainment; a notice never
 * cuts a stream (one shorter than a request waits for it, counted); the same seed gives the
 * same bytes.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "des/des.h"
#include "model/model.h"
#include "report/cost.h"

typedef struct result_s {
    wp_des_stats_t stats;
    wp_report_metrics_t m;
    wp_cost_report_t od, spot; /* priced at $3/GPU-hour, and at 60 % off */
    char *json;
} result_t;

static wp_perf_t perf;

static void config(wp_des_config_t *cfg, int engines)
{
    wp_err_t err;
    assert_int_equal(
        wp_perf_init(&perf, wp_model_find("qwen3-8b"), wp_gpu_find("h100"), 1, NULL, &err), WP_OK);
    wp_des_config_default(cfg);
    wp_engine_config_default(&cfg->engine, &perf);
    cfg->n_engines = engines;
    cfg->model = "Qwen/Qwen3-8B";
    cfg->client_latency_s = 0.001;
    cfg->engine_latency_s = 0.002;
}

static wp_workload_spec_t workload(double rate, int requests, int output_len)
{
    wp_workload_spec_t s = wp_workload_spec_default();
    wp_err_t err;
    char v[32];
    assert_int_equal(wp_workload_spec_set(&s, "num_groups", "8", &err), WP_OK);
    assert_int_equal(wp_workload_spec_set(&s, "system_prompt_len", "800", &err), WP_OK);
    assert_int_equal(wp_workload_spec_set(&s, "question_len", "100", &err), WP_OK);
    snprintf(v, sizeof(v), "%d", output_len);
    assert_int_equal(wp_workload_spec_set(&s, "output_len", v, &err), WP_OK);
    snprintf(v, sizeof(v), "%g", rate);
    assert_int_equal(wp_workload_spec_set(&s, "load.rate", v, &err), WP_OK);
    snprintf(v, sizeof(v), "%d", requests);
    assert_int_equal(wp_workload_spec_set(&s, "load.num_requests", v, &err), WP_OK);
    return s;
}

static void run(const wp_des_config_t *cfg, const wp_workload_spec_t *spec, result_t *out)
{
    wp_err_t err;
    wp_workload_t *wl = wp_workload_new(spec, NULL, &err);
    assert_non_null(wl);
    wp_report_slo_t slo;
    assert_int_equal(wp_report_slo_parse("ttft=0.5", &slo, &err), WP_OK);
    wp_report_t *rep;
    assert_int_equal(wp_report_create(&rep, WP_REPORT_MODE_SIMULATE, "{}", &slo, NULL, &err),
                     WP_OK);
    wp_report_stage_t stage = {NAN, NAN};
    wp_report_run_t *rr;
    assert_int_equal(wp_report_run_add(rep, "spot", &stage, 1, &rr, &err), WP_OK);
    assert_int_equal(wp_des_run(cfg, wl, rr, NULL, NULL, &out->stats, &err), WP_OK);
    assert_int_equal(wp_report_run_metrics(rr, WP_REPORT_SUMMARY, &out->m, &err), WP_OK);
    wp_cost_usage_t u = {.up_gpu_s = out->stats.up_gpu_s,
                         .busy_gpu_s = out->stats.busy_gpu_s,
                         .output_tokens = out->m.output_tokens,
                         .requests = out->m.requests,
                         .good = out->m.good};
    wp_cost_price_t price = {.per_gpu_hour = 3.0, .spot_discount = 0.6};
    wp_cost_compute(&price, &u, &out->od);
    u.spot = true;
    wp_cost_compute(&price, &u, &out->spot);
    wp_report_run_set_cost(rr, &out->spot);
    wp_buf_t b;
    wp_buf_init(&b, 0);
    assert_int_equal(wp_report_write_json(rep, &b, false, &err), WP_OK);
    out->json = strdup(b.data);
    wp_buf_free(&b);
    wp_report_free(rep);
    wp_workload_free(wl);
}

/* On-demand (rate 0): nothing is interrupted; every engine is billed for the whole run. */
static void test_spot_none_bills_the_whole_run(void **state)
{
    (void)state;
    wp_des_config_t cfg;
    config(&cfg, 2);
    wp_workload_spec_t spec = workload(4, 400, 20);
    result_t r;
    run(&cfg, &spec, &r);
    assert_int_equal(r.stats.interruptions, 0);
    assert_true(r.stats.down_s == 0.0);
    assert_true(fabs(r.stats.up_gpu_s - 2 * r.stats.end_s) < 1e-9);
    assert_true(r.stats.busy_gpu_s > 0 && r.stats.busy_gpu_s < r.stats.up_gpu_s);
    assert_int_equal(r.stats.failed, 0);
    assert_true(r.od.idle_share > 0 && r.od.idle_share < 1);
    assert_non_null(strstr(r.json, "\"cost\":{\"gpu_hours\":"));
    free(r.json);
}

/* Frequent interruptions of two engines with a long restart: the pool is sometimes empty
 * (503s), so attainment falls; the down time is not billed; at 60 % off the spot run still
 * costs less per million output tokens; and the same seed gives the same bytes. */
static void test_spot_interruptions_change_cost_and_attainment(void **state)
{
    (void)state;
    wp_des_config_t cfg;
    config(&cfg, 2);
    wp_workload_spec_t spec = workload(4, 4800, 20); /* about 20 minutes */
    result_t od, a, b;
    run(&cfg, &spec, &od);
    cfg.spot = (wp_des_spot_t){.interruptions_per_hour = 6, .notice_s = 30, .restart_s = 300};
    run(&cfg, &spec, &a);
    run(&cfg, &spec, &b);
    assert_true(a.stats.interruptions > 0);
    assert_true(a.stats.down_s > 0);
    assert_int_equal(a.stats.spot_overruns, 0); /* 30 s covers every request */
    assert_true(fabs(a.stats.up_gpu_s - (2 * a.stats.end_s - a.stats.down_s)) < 1e-6);
    assert_true(a.od.gpu_hours < od.od.gpu_hours);
    assert_int_equal(a.stats.completed + a.stats.failed, a.stats.requests);
    assert_true(a.m.good < od.m.good);
    assert_true(a.od.attainment < od.od.attainment);
    assert_true(a.spot.cost_per_mtok < od.od.cost_per_mtok);
    /* same seed, same bytes */
    assert_string_equal(a.json, b.json);
    assert_int_equal(a.stats.interruptions, b.stats.interruptions);
    assert_true(a.stats.down_s == b.stats.down_s);
    assert_true(a.stats.events == b.stats.events);
    /* another seed, other interruptions */
    cfg.seed = 7;
    result_t c;
    run(&cfg, &spec, &c);
    assert_true(c.stats.interruptions != a.stats.interruptions || c.stats.down_s != a.stats.down_s);
    free(od.json);
    free(a.json);
    free(b.json);
    free(c.json);
}

/* A notice shorter than a request: the engine waits for its streams (overruns counted) and
 * every request still ends, well or with an answer. */
static void test_spot_short_notice_never_cuts_a_stream(void **state)
{
    (void)state;
    wp_des_config_t cfg;
    config(&cfg, 2);
    cfg.spot = (wp_des_spot_t){.interruptions_per_hour = 60, .notice_s = 0.01, .restart_s = 5};
    wp_workload_spec_t spec = workload(4, 1200, 300);
    result_t r;
    run(&cfg, &spec, &r);
    assert_true(r.stats.interruptions > 0);
    assert_true(r.stats.spot_overruns > 0);
    assert_int_equal(r.stats.completed + r.stats.failed, r.stats.requests);
    assert_int_equal(r.m.failures[WP_REPORT_STREAM_ERROR], 0);
    free(r.json);
}

static void test_spot_bad_config(void **state)
{
    (void)state;
    wp_des_config_t cfg;
    config(&cfg, 1);
    cfg.spot.interruptions_per_hour = -1;
    wp_workload_spec_t spec = workload(4, 10, 20);
    wp_err_t err;
    wp_workload_t *wl = wp_workload_new(&spec, NULL, &err);
    wp_report_t *rep;
    assert_int_equal(wp_report_create(&rep, WP_REPORT_MODE_SIMULATE, "{}", NULL, NULL, &err),
                     WP_OK);
    wp_report_stage_t stage = {NAN, NAN};
    wp_report_run_t *rr;
    assert_int_equal(wp_report_run_add(rep, "x", &stage, 1, &rr, &err), WP_OK);
    wp_des_stats_t st;
    assert_int_equal(wp_des_run(&cfg, wl, rr, NULL, NULL, &st, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "spot"));
    wp_report_free(rep);
    wp_workload_free(wl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spot_none_bills_the_whole_run),
        cmocka_unit_test(test_spot_interruptions_change_cost_and_attainment),
        cmocka_unit_test(test_spot_short_notice_never_cuts_a_stream),
        cmocka_unit_test(test_spot_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
