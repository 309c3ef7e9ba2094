/*
 * tests/unit/des/test_des: the virtual-time simulator — determinism, conservation, a
 * scenario small enough to check on paper, and the warm-up before the measured run.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cJSON.h>

#include "des/des.h"
#include "des/heap.h"
#include "fault/fault.h"
#include "model/model.h"

typedef struct world_s {
    wp_perf_t perf;
    wp_des_config_t cfg;
} world_t;

static void world_init(world_t *w, int engines)
{
    wp_err_t err;
    assert_int_equal(
        wp_perf_init(&w->perf, wp_model_find("qwen3-8b"), wp_gpu_find("h100"), 1, NULL, &err),
        WP_OK);
    wp_des_config_default(&w->cfg);
    wp_engine_config_default(&w->cfg.engine, &w->perf);
    w->cfg.n_engines = engines;
    w->cfg.model = "Qwen/Qwen3-8B";
    w->cfg.vocab = 151936;
    w->cfg.client_latency_s = 0.001;
    w->cfg.engine_latency_s = 0.002;
}

/* P/D: a prefill pool and a decode pool of the world's engine config, a 1 GB/s link with
 * 100 µs latency, disaggregation from 500 prompt tokens. */
static void world_pd(world_t *w, int n_prefill, int n_decode)
{
    w->cfg.n_pools = 2;
    w->cfg.pools[0] =
        (wp_des_pool_t){.n = n_prefill, .engine = w->cfg.engine, .role = WP_SCHED_ROLE_PREFILL};
    w->cfg.pools[1] =
        (wp_des_pool_t){.n = n_decode, .engine = w->cfg.engine, .role = WP_SCHED_ROLE_DECODE};
    w->cfg.kv_link_bw = 1e9;
    w->cfg.kv_link_latency_s = 1e-4;
    w->cfg.pd_threshold = 500;
}

/* The "summary" object of a report's first run. */
static const cJSON *first_summary(const cJSON *root)
{
    return cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "runs"), 0), "summary");
}

static wp_workload_spec_t shared_prefix(int groups, int per_group, double rate, int requests)
{
    wp_workload_spec_t s = wp_workload_spec_default();
    wp_err_t err;
    char v[32];
    snprintf(v, sizeof(v), "%d", groups);
    assert_int_equal(wp_workload_spec_set(&s, "num_groups", v, &err), WP_OK);
    snprintf(v, sizeof(v), "%d", per_group);
    assert_int_equal(wp_workload_spec_set(&s, "num_prompts_per_group", v, &err), WP_OK);
    assert_int_equal(wp_workload_spec_set(&s, "system_prompt_len", "800", &err), WP_OK);
    assert_int_equal(wp_workload_spec_set(&s, "question_len", "100", &err), WP_OK);
    assert_int_equal(wp_workload_spec_set(&s, "output_len", "20", &err), WP_OK);
    snprintf(v, sizeof(v), "%g", rate);
    assert_int_equal(wp_workload_spec_set(&s, "load.rate", v, &err), WP_OK);
    snprintf(v, sizeof(v), "%d", requests);
    assert_int_equal(wp_workload_spec_set(&s, "load.num_requests", v, &err), WP_OK);
    return s;
}

/* Runs one simulation and returns its JSON report (caller frees). */
static char *run_json(world_t *w, const wp_workload_spec_t *spec, const char *policy,
                      wp_des_stats_t *stats)
{
    wp_err_t err;
    wp_des_config_t cfg = w->cfg;
    assert_int_equal(wp_sched_config_set_policy(&cfg.sched, policy, &err), WP_OK);
    wp_workload_t *wl = wp_workload_new(spec, NULL, &err);
    assert_non_null(wl);
    wp_report_t *rep;
    assert_int_equal(wp_report_create(&rep, WP_REPORT_MODE_SIMULATE, "{}", NULL, NULL, &err),
                     WP_OK);
    wp_report_stage_t stage = {NAN, NAN};
    wp_report_run_t *run;
    assert_int_equal(wp_report_run_add(rep, policy, &stage, 1, &run, &err), WP_OK);
    assert_int_equal(wp_des_run(&cfg, wl, run, NULL, NULL, stats, &err), WP_OK);
    wp_buf_t b;
    wp_buf_init(&b, 0);
    assert_int_equal(wp_report_write_json(rep, &b, false, &err), WP_OK);
    char *s = strdup(b.data);
    wp_buf_free(&b);
    wp_report_free(rep);
    wp_workload_free(wl);
    return s;
}

static void test_des_heap_orders_by_time_then_insertion(void **state)
{
    (void)state;
    wp_des_heap_t h;
    wp_des_heap_init(&h);
    double times[] = {3.0, 1.0, 2.0, 1.0, 0.5, 2.0};
    for (int i = 0; i < 6; i++)
        assert_int_equal(wp_des_heap_push(&h, times[i], i, -1, NULL), WP_OK);
    int expect[] = {4, 1, 3, 2, 5, 0}; /* equal times come out in insertion order */
    wp_des_event_t ev;
    for (int i = 0; i < 6; i++) {
        assert_true(wp_des_heap_pop(&h, &ev));
        assert_int_equal(ev.type, expect[i]);
    }
    assert_false(wp_des_heap_pop(&h, &ev));
    wp_des_heap_free(&h);
}

static void test_des_same_seed_same_bytes(void **state)
{
    (void)state;
    world_t w;
    world_init(&w, 4);
    wp_workload_spec_t spec = shared_prefix(6, 5, 20, 120);
    wp_des_stats_t a, b;
    char *ja = run_json(&w, &spec, "topology", &a);
    char *jb = run_json(&w, &spec, "topology", &b);
    assert_string_equal(ja, jb);
    assert_int_equal(a.events, b.events);
    /* Another tie-breaking seed changes the run. */
    w.cfg.seed = 99;
    wp_des_stats_t c;
    char *jc = run_json(&w, &spec, "random", &c);
    char *jd = run_json(&w, &spec, "random", &c);
    assert_string_equal(jc, jd);
    free(ja);
    free(jb);
    free(jc);
    free(jd);
}

static void test_des_conserves_requests(void **state)
{
    (void)state;
    world_t w;
    world_init(&w, 3);
    const char *policies[] = {"round-robin", "random",       "least-request",
                              "load-aware",  "prefix-aware", "topology"};
    for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
        wp_workload_spec_t spec = shared_prefix(4, 5, 50, 200);
        wp_des_stats_t st;
        char *j = run_json(&w, &spec, policies[i], &st);
        cJSON *root = cJSON_Parse(j);
        const cJSON *m = first_summary(root);
        assert_int_equal(st.requests, 200);
        assert_int_equal(st.completed + st.failed, 200);
        assert_int_equal(cJSON_GetObjectItem(m, "requests")->valuedouble, 200);
        assert_int_equal(cJSON_GetObjectItem(m, "completed")->valuedouble, st.completed);
        assert_int_equal(st.failed, 0);
        uint64_t picks = 0;
        for (int e = 0; e < 3; e++)
            picks += st.picks[e];
        assert_int_equal(picks, 200);
        cJSON_Delete(root);
        free(j);
    }
    /* A prompt the engines cannot take fails, once, and is still counted. */
    world_init(&w, 2);
    w.cfg.engine.max_model_len = 500;
    wp_workload_spec_t spec = shared_prefix(2, 2, 10, 10);
    wp_des_stats_t st;
    char *j = run_json(&w, &spec, "round-robin", &st);
    assert_int_equal(st.requests, 10);
    assert_int_equal(st.failed, 10);
    assert_int_equal(st.completed, 0);
    assert_non_null(strstr(j, "\"http_4xx\":10"));
    free(j);
}

/* One request on an idle engine: TTFT = the way there (client + engine latency) + the
 * prefill step (one step: 900 tokens fit the 8192-token budget) + the way back. */
static void test_des_single_request_ttft_on_paper(void **state)
{
    (void)state;
    world_t w;
    world_init(&w, 1);
    wp_workload_spec_t spec = shared_prefix(1, 1, 1, 1);
    wp_des_stats_t st;
    char *j = run_json(&w, &spec, "round-robin", &st);
    cJSON *root = cJSON_Parse(j);
    const cJSON *m = first_summary(root);
    double ttft = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "ttft_s"), "mean")->valuedouble;
    double e2e = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "e2e_s"), "mean")->valuedouble;
    /* The prefill step on paper: 900 prompt tokens, each attending to itself and those
     * before it: 900 x 901 / 2 pairs. */
    wp_perf_batch_t b = {.prefill_tokens = 900, .prefill_attn = 900.0 * 901.0 / 2.0};
    double prefill = wp_perf_step_time(&w.perf, &b);
    double lat = 2 * (0.001 + 0.002);
    assert_true(fabs(ttft - (prefill + lat)) < 1e-9 * 1000);
    /* Then 19 decode steps of one sequence whose context grows from 901 to 919. */
    double decode = 0;
    for (int k = 0; k < 19; k++) {
        wp_perf_batch_t d = {.decode_seqs = 1, .decode_ctx = 901 + k};
        decode += wp_perf_step_time(&w.perf, &d);
    }
    assert_true(fabs(e2e - (prefill + decode + lat)) < 1e-6);
    assert_int_equal(st.steps, 20);
    cJSON_Delete(root);
    free(j);
}

/* load.max_concurrency 1 with arrivals far faster than service: the client sends one
 * request at a time, so no request ever queues in the engine (every TTFT is the idle
 * one) and the run lasts the sum of the requests' times. */
static void test_des_client_cap_serialises(void **state)
{
    (void)state;
    world_t w;
    world_init(&w, 2);
    wp_workload_spec_t spec = shared_prefix(5, 2, 1000, 10);
    wp_err_t err;
    assert_int_equal(wp_workload_spec_set(&spec, "load.max_concurrency", "1", &err), WP_OK);
    wp_des_stats_t st;
    char *j = run_json(&w, &spec, "round-robin", &st);
    cJSON *root = cJSON_Parse(j);
    const cJSON *m = first_summary(root);
    const cJSON *ttft = cJSON_GetObjectItem(m, "ttft_s");
    double e2e_mean = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "e2e_s"), "mean")->valuedouble;
    assert_int_equal(st.completed, 10);
    assert_true(cJSON_GetObjectItem(ttft, "p99")->valuedouble <
                1.5 * cJSON_GetObjectItem(ttft, "p50")->valuedouble);
    assert_true(st.end_s >= 10 * e2e_mean * 0.99);
    cJSON_Delete(root);
    free(j);
    /* Without the cap the same arrivals overlap: the run is much shorter. */
    spec = shared_prefix(5, 2, 1000, 10);
    wp_des_stats_t open;
    j = run_json(&w, &spec, "round-robin", &open);
    assert_true(open.end_s < 0.5 * st.end_s);
    free(j);
}

/* Summary metrics of a sequential two-stage run (one request per stage, one engine). */
static void run_sequential(world_t *w, const char *interval, double *span, double *e2e_mean,
                           double *ttft_max)
{
    wp_err_t err;
    wp_workload_spec_t spec = shared_prefix(2, 1, 1, 1);
    spec.load.num_requests = 0;
    assert_int_equal(wp_workload_spec_set(&spec, "load.type", "stages", &err), WP_OK);
    spec.load.has_rate = false;
    assert_int_equal(wp_workload_spec_set(&spec, "load.stages",
                                          "[{rate: 1, duration: 1}, {rate: 1, duration: 1}]", &err),
                     WP_OK);
    assert_int_equal(wp_workload_spec_set(&spec, "load.sequential", "true", &err), WP_OK);
    assert_int_equal(wp_workload_spec_set(&spec, "load.interval", interval, &err), WP_OK);
    wp_des_config_t cfg = w->cfg;
    assert_int_equal(wp_sched_config_set_policy(&cfg.sched, "round-robin", &err), WP_OK);
    wp_workload_t *wl = wp_workload_new(&spec, NULL, &err);
    if (wl == NULL)
        fail_msg("%s", err.msg);
    assert_int_equal(wp_workload_total(wl), 2);
    wp_report_t *rep;
    assert_int_equal(wp_report_create(&rep, WP_REPORT_MODE_SIMULATE, "{}", NULL, NULL, &err),
                     WP_OK);
    wp_report_stage_t stages[2] = {{1, 1}, {1, 1}};
    wp_report_run_t *run;
    assert_int_equal(wp_report_run_add(rep, "round-robin", stages, 2, &run, &err), WP_OK);
    wp_des_stats_t st;
    assert_int_equal(wp_des_run(&cfg, wl, run, NULL, NULL, &st, &err), WP_OK);
    assert_int_equal(st.completed, 2);
    wp_buf_t b;
    wp_buf_init(&b, 0);
    assert_int_equal(wp_report_write_json(rep, &b, false, &err), WP_OK);
    cJSON *root = cJSON_Parse(b.data);
    const cJSON *m = first_summary(root);
    *span = 2.0 / cJSON_GetObjectItem(m, "requests_per_s")->valuedouble;
    *e2e_mean = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "e2e_s"), "mean")->valuedouble;
    *ttft_max = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "ttft_s"), "p99")->valuedouble;
    cJSON_Delete(root);
    wp_buf_free(&b);
    wp_report_free(rep);
    wp_workload_free(wl);
}

/* load.sequential: the second stage's request is sent only after the first stage's one
 * ended, plus the interval. On one engine each runs alone, so the run's span (first send
 * to last answer) is both requests' E2E plus the second one's offset into its stage, and
 * the interval adds to it exactly; neither request ever queues behind the other. */
static void test_des_sequential_stages_drain(void **state)
{
    (void)state;
    world_t w;
    world_init(&w, 1);
    double span0, e2e0, ttft0, span5, e2e5, ttft5;
    run_sequential(&w, "0", &span0, &e2e0, &ttft0);
    run_sequential(&w, "5", &span5, &e2e5, &ttft5);
    assert_true(span0 >= 2 * e2e0 - 1e-9);
    assert_true(fabs(span5 - span0 - 5.0) < 1e-6);
    assert_true(fabs(e2e5 - e2e0) < 1e-9);
    wp_perf_batch_t b = {.prefill_tokens = 900, .prefill_attn = 900.0 * 901.0 / 2.0};
    double idle = wp_perf_step_time(&w.perf, &b) + 2 * (0.001 + 0.002);
    assert_true(fabs(ttft0 - idle) < 1e-6); /* the idle engine's TTFT, for both */
}

/* P/D: one prefill and one decode engine. A 900-token prompt over the threshold is
 * prefilled on the prefill engine (one prefill step), its KV pulled (900 tokens of KV over
 * the link), and decoded on the decode engine; one under the threshold goes straight to
 * decode. TTFT on paper: client->gateway, gateway->prefill, the prefill step, prefill->
 * gateway, gateway->decode, the pull, the decode engine's first step (a decode step of
 * context 900), and back. */
static void test_des_pd_on_paper(void **state)
{
    (void)state;
    world_t w;
    world_init(&w, 1);
    world_pd(&w, 1, 1);
    wp_workload_spec_t spec = shared_prefix(1, 1, 1, 1);
    wp_des_stats_t st;
    char *j = run_json(&w, &spec, "round-robin", &st);
    assert_int_equal(st.disaggregated, 1);
    assert_int_equal(st.completed, 1);
    double bytes = 900.0 * w.perf.kv_bytes_token;
    assert_float_equal(st.kv_bytes_moved, bytes, 1e-3);
    cJSON *root = cJSON_Parse(j);
    const cJSON *m = first_summary(root);
    double ttft = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "ttft_s"), "mean")->valuedouble;
    wp_perf_batch_t pf = {.prefill_tokens = 900, .prefill_attn = 900.0 * 901.0 / 2.0};
    wp_perf_batch_t first = {.decode_seqs = 1, .decode_ctx = 900};
    double expect = 0.001 + 0.002 + wp_perf_step_time(&w.perf, &pf) + 0.002 + 0.002 + bytes / 1e9 +
                    1e-4 + wp_perf_step_time(&w.perf, &first) + 0.002 + 0.001;
    assert_float_equal(ttft, expect, 1e-6);
    cJSON_Delete(root);
    free(j);
    /* Under the threshold: decode-only. */
    w.cfg.pd_threshold = 5000;
    j = run_json(&w, &spec, "round-robin", &st);
    assert_int_equal(st.disaggregated, 0);
    assert_int_equal(st.completed, 1);
    free(j);
}

/* P/D: a prefill engine whose max_model_len is below the prompt cannot take the prefill: it
 * answers 400, and the client gets that answer, as the gateway passes a prefill 4xx on
 * (gateway/pd.c; sched/pd.h's prefill outcome). Nothing is decoded, counted as
 * disaggregated or moved, and outlier detection takes a 400 as no fault. */
static void test_des_pd_prefill_400_goes_to_the_client(void **state)
{
    (void)state;
    world_t w;
    world_init(&w, 1);
    world_pd(&w, 1, 1);
    w.cfg.pools[0].engine.max_model_len = 500; /* the 900-token prompt does not fit */
    w.cfg.outlier.consecutive_failures = 1;
    wp_workload_spec_t spec = shared_prefix(1, 2, 1, 2);
    wp_des_stats_t st;
    char *j = run_json(&w, &spec, "round-robin", &st);
    assert_int_equal(st.completed, 0);
    assert_int_equal(st.failed, 2);
    assert_int_equal(st.disaggregated, 0);
    assert_float_equal(st.kv_bytes_moved, 0.0, 0.0);
    assert_int_equal(st.picks[0], 0); /* the prefill pick is the decider's, not counted */
    assert_int_equal(st.picks[1], 0); /* no decode */
    cJSON *root = cJSON_Parse(j);
    assert_int_equal(cJSON_GetObjectItem(first_summary(root), "failed")->valueint, 2);
    cJSON_Delete(root);
    free(j);
}

/* P/D with round-robin over two prefill and two decode engines: requests one at a time
 * alternate in both pools (the decider's look-ahead pick moves no cursor). */
static void test_des_pd_round_robin_spreads_both_pools(void **state)
{
    (void)state;
    world_t w;
    world_init(&w, 1);
    world_pd(&w, 2, 2);
    wp_workload_spec_t spec = shared_prefix(4, 1, 0.5, 4); /* 2 s apart: one at a time */
    wp_des_stats_t st;
    char *j = run_json(&w, &spec, "round-robin", &st);
    assert_int_equal(st.completed, 4);
    assert_int_equal(st.disaggregated, 4);
    assert_int_equal(st.picks[2], 2);
    assert_int_equal(st.picks[3], 2);
    free(j);
}

/* The summary's mean E2E and the count of http_4xx failures of a run's JSON report. */
static void summary_e2e_4xx(const char *json, double *e2e_mean, int *n_4xx)
{
    cJSON *root = cJSON_Parse(json);
    const cJSON *m = first_summary(root);
    *e2e_mean = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "e2e_s"), "mean")->valuedouble;
    *n_4xx = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "failures"), "http_4xx")->valueint;
    cJSON_Delete(root);
}

/* The gateway's admission in virtual time, on one engine with an in-flight limit of 1 and
 * six requests sent within 6 ms, each taking about S alone: without flow control the five
 * that find the engine at its limit get 429; with it they wait and run one after another
 * (the run lasts more than 5 S); a queue timeout of 1.5 S lets the second through (it waits
 * S) and sheds the four behind it; a queue of 2 takes the second and third and sheds the
 * other three at once. */
static void test_des_flow_control(void **state)
{
    (void)state;
    world_t w;
    world_init(&w, 1);
    w.cfg.max_in_flight = 1;
    wp_workload_spec_t spec = shared_prefix(3, 2, 1000, 6);
    wp_des_stats_t st;
    double s_one, e2e;
    int n_4xx;
    char *j = run_json(&w, &spec, "round-robin", &st);
    summary_e2e_4xx(j, &s_one, &n_4xx);
    free(j);
    assert_int_equal(st.completed, 1);
    assert_int_equal(st.failed, 5);
    assert_int_equal(st.shed, 5);
    assert_int_equal(n_4xx, 5);
    assert_int_equal(st.queued, 0);

    w.cfg.admit.queue = true;
    j = run_json(&w, &spec, "round-robin", &st);
    summary_e2e_4xx(j, &e2e, &n_4xx);
    free(j);
    assert_int_equal(st.completed, 6);
    assert_int_equal(st.queued, 5);
    assert_int_equal(st.shed, 0);
    assert_true(st.end_s > 5 * s_one); /* one at a time (the later ones hit the cache) */
    assert_true(e2e > 3 * s_one);      /* the k-th waited for the k - 1 before it */

    w.cfg.admit.queue_timeout_s = 1.5 * s_one;
    j = run_json(&w, &spec, "round-robin", &st);
    summary_e2e_4xx(j, &e2e, &n_4xx);
    free(j);
    assert_int_equal(st.completed, 2);
    assert_int_equal(st.shed, 4);
    assert_int_equal(n_4xx, 4);

    w.cfg.admit.queue_timeout_s = 30.0;
    w.cfg.admit.max_queue = 2;
    j = run_json(&w, &spec, "round-robin", &st);
    summary_e2e_4xx(j, &e2e, &n_4xx);
    free(j);
    assert_int_equal(st.completed, 3);
    assert_int_equal(st.shed, 3);
    assert_int_equal(st.queued, 2);
    assert_int_equal(st.completed + st.failed, st.requests); /* each counted once */
}

/* P/D under flow control with an in-flight limit of 1 on two prefill engines and one decode
 * engine, four requests at once: the first two are prefilled apart, the third finds both
 * prefill engines at their limit and goes straight to decode, the fourth waits at the
 * gateway; the first two, prefilled, find the decode engine at its limit and wait again
 * with their KV held. When the third ends, the fourth (first in the queue) is prefilled
 * apart too (and waits again after it) while the first goes on to decode. All four
 * complete, none is shed. */
static void test_des_pd_flow_control_requeues_decode(void **state)
{
    (void)state;
    world_t w;
    world_init(&w, 1);
    world_pd(&w, 2, 1);
    w.cfg.max_in_flight = 1;
    w.cfg.admit.queue = true;
    wp_workload_spec_t spec = shared_prefix(4, 1, 1000, 4);
    wp_des_stats_t st;
    free(run_json(&w, &spec, "round-robin", &st));
    assert_int_equal(st.completed, 4);
    assert_int_equal(st.shed, 0);
    assert_int_equal(st.disaggregated, 3);
    assert_int_equal(st.queued, 3); /* the fourth, the first two (the fourth waits twice) */
}

/* Decision-log events counted by kind and endpoint (the decision callback). */
typedef struct tally_s {
    int retries, ejects, picks_on[4];
} tally_t;

static void tally(void *ud, double t, const wp_sched_decision_t *d)
{
    tally_t *k = ud;
    k->retries += d->kind == WP_SCHED_DECISION_RETRY;
    k->ejects += d->kind == WP_SCHED_DECISION_EJECT;
    if (d->kind == WP_SCHED_DECISION_PICK && d->endpoint != NULL)
        k->picks_on[d->endpoint[strlen(d->endpoint) - 1] - '0']++;
}

/* An engine that answers every request with 500: its requests are retried on another
 * engine (none fails at the client), outlier detection ejects it after two failures in a
 * row and it gets no pick after that; with no retries its requests fail at the client. */
static void test_des_failing_engine_retried_and_ejected(void **state)
{
    (void)state;
    world_t w;
    world_init(&w, 3);
    wp_err_t err;
    wp_fault_t f;
    assert_int_equal(wp_fault_parse_spec("500", &f, &err), WP_OK);
    assert_int_equal(wp_fault_set_add(&w.cfg.faults, &f, &err), WP_OK);
    w.cfg.fault_replicas = 1u << 1;
    w.cfg.outlier = (wp_sched_outlier_cfg_t){2, 600, 600, 50};
    tally_t k = {0};
    w.cfg.decision = tally;
    w.cfg.decision_ud = &k;
    wp_workload_spec_t spec = shared_prefix(6, 5, 20, 90);
    wp_des_stats_t st;
    free(run_json(&w, &spec, "round-robin", &st));
    assert_int_equal(st.completed, 90);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.faults_injected, 2);
    assert_int_equal(k.retries, 2);
    assert_int_equal(k.ejects, 1);
    assert_int_equal(k.picks_on[1], 2); /* the two that failed, then never again */

    w.cfg.retries = 0;
    w.cfg.outlier.consecutive_failures = 0; /* off: it keeps its share */
    k = (tally_t){0};
    free(run_json(&w, &spec, "round-robin", &st));
    assert_int_equal(st.failed, 30);
    assert_int_equal(st.faults_injected, 30);
    assert_int_equal(k.retries, 0);
    assert_int_equal(k.picks_on[1], 30);
}

/* The order in which a run's picks and ends happened (events run in time order). */
typedef struct order_s {
    char what[64]; /* 'p' a pick, 'e' an end */
    int who[64];   /* the request picked (r<n>), or the ends so far */
    double t[64];  /* a pick's time */
    int n;
} order_t;

static void note_pick(void *ud, double t, const wp_sched_decision_t *d)
{
    order_t *o = ud;
    if (d->kind != WP_SCHED_DECISION_PICK || o->n == 64)
        return;
    o->what[o->n] = 'p';
    o->who[o->n] = atoi(d->request + 1);
    o->t[o->n++] = t;
}

static void note_end(void *ud, size_t done, size_t total)
{
    order_t *o = ud;
    (void)total;
    if (o->n == 64)
        return;
    o->what[o->n] = 'e';
    o->who[o->n++] = (int)done;
}

/* load.warmup 4, num_requests 8, concurrency 2 (answers of different lengths, so requests
 * end one at a time): 12 requests run, the report holds the 8 measured ones and counts the
 * 4 warm-ups apart; no measured request is picked before
 * every warm-up ended, both measured slots are filled the moment the last one ends (a
 * client latency before their picks), and never more than 2 are in flight. */
static void test_des_warmup_then_measured(void **state)
{
    (void)state;
    world_t w;
    world_init(&w, 2);
    order_t o = {0};
    w.cfg.decision = note_pick;
    w.cfg.decision_ud = &o;
    wp_err_t err;
    wp_workload_spec_t spec = wp_workload_spec_default();
    const char *keys[][2] = {{"type", "random"},
                             {"input_len", "300"},
                             {"output_len", "{dist: uniform, min: 5, max: 60}"},
                             {"load.type", "concurrency"},
                             {"load.concurrency", "2"},
                             {"load.num_requests", "8"},
                             {"load.warmup", "4"}};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        assert_int_equal(wp_workload_spec_set(&spec, keys[i][0], keys[i][1], &err), WP_OK);
    wp_des_config_t cfg = w.cfg;
    assert_int_equal(wp_sched_config_set_policy(&cfg.sched, "round-robin", &err), WP_OK);
    wp_workload_t *wl = wp_workload_new(&spec, NULL, &err);
    assert_non_null(wl);
    assert_int_equal(wp_workload_total(wl), 12);
    wp_report_t *rep;
    assert_int_equal(wp_report_create(&rep, WP_REPORT_MODE_SIMULATE, "{}", NULL, NULL, &err),
                     WP_OK);
    wp_report_stage_t stage = {NAN, NAN};
    wp_report_run_t *run;
    assert_int_equal(wp_report_run_add(rep, "round-robin", &stage, 1, &run, &err), WP_OK);
    wp_des_stats_t st;
    assert_int_equal(wp_des_run(&cfg, wl, run, note_end, &o, &st, &err), WP_OK);
    assert_int_equal(st.requests, 12);
    assert_int_equal(st.completed, 12);
    wp_report_metrics_t m;
    assert_int_equal(wp_report_run_metrics(run, WP_REPORT_SUMMARY, &m, &err), WP_OK);
    assert_int_equal(m.requests, 8);
    assert_int_equal(m.completed, 8);
    wp_report_warmup_t warm = wp_report_run_warmup(run);
    assert_int_equal(warm.requests, 4);
    assert_int_equal(warm.failed, 0);
    assert_int_equal(o.n, 24);
    int ends = 0, picks = 0, measured_at_barrier = 0;
    for (int i = 0; i < o.n; i++) {
        if (o.what[i] == 'e') {
            ends = o.who[i];
            continue;
        }
        picks++;
        assert_true(picks - ends <= 2); /* the concurrency, warm-up or not */
        if (o.who[i] <= 4)
            continue;
        assert_true(ends >= 4); /* every warm-up ended first */
        assert_true(o.t[i] >= warm.end_s + cfg.client_latency_s - 1e-9);
        measured_at_barrier += fabs(o.t[i] - (warm.end_s + cfg.client_latency_s)) < 1e-9;
    }
    assert_int_equal(picks, 12);
    assert_int_equal(measured_at_barrier, 2); /* r5 and r6, sent when the last warm-up ended */
    assert_int_equal(wp_report_validate(rep, &err), WP_OK);
    wp_report_free(rep);
    wp_workload_free(wl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_des_heap_orders_by_time_then_insertion),
        cmocka_unit_test(test_des_same_seed_same_bytes),
        cmocka_unit_test(test_des_conserves_requests),
        cmocka_unit_test(test_des_single_request_ttft_on_paper),
        cmocka_unit_test(test_des_client_cap_serialises),
        cmocka_unit_test(test_des_sequential_stages_drain),
        cmocka_unit_test(test_des_pd_on_paper),
        cmocka_unit_test(test_des_pd_prefill_400_goes_to_the_client),
        cmocka_unit_test(test_des_pd_round_robin_spreads_both_pools),
        cmocka_unit_test(test_des_flow_control),
        cmocka_unit_test(test_des_pd_flow_control_requeues_decode),
        cmocka_unit_test(test_des_failing_engine_retried_and_ejected),
        cmocka_unit_test(test_des_warmup_then_measured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
