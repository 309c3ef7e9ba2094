/* Tests for the generator's load.warmup (the key's errors, flag and JSON are in
 * test_workload.c): the first `warmup` requests are marked warm-ups, on top of the
 * measured count; closed loop with the prompts of a longer workload; open loop with the
 * measured arrivals at the offsets they would have without a warm-up (Poisson and
 * constant, a duration that does not cut the warm-up, sequential stages); a trace's first
 * entries (and a trace too short for its warm-up); fixed prompts starting over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload/workload.h"

#define MAX_REQS 256

typedef struct gen_s {
    wp_workload_req_t r[MAX_REQS];
    char *text[MAX_REQS];
    size_t n;
    const wp_workload_stage_t *stages;
    size_t n_stages;
} gen_t;

static wp_workload_spec_t parse_ok(const char *yaml)
{
    wp_workload_spec_t s;
    wp_err_t err = {{0}};
    if (wp_workload_parse(yaml, strlen(yaml), "w.yaml", &s, &err) != WP_OK)
        fail_msg("parse: %s", err.msg);
    return s;
}

/* Every request of the workload into g (texts copied; free with gen_free). */
static void generate(const wp_workload_spec_t *spec, const wp_workload_trace_t *trace, gen_t *g)
{
    wp_err_t err = {{0}};
    wp_workload_t *w = wp_workload_new(spec, trace, &err);
    if (w == NULL)
        fail_msg("wp_workload_new: %s", err.msg);
    memset(g, 0, sizeof(*g));
    while (g->n < MAX_REQS && wp_workload_next(w, &g->r[g->n]) == WP_OK) {
        g->text[g->n] = strdup(g->r[g->n].prompt);
        g->r[g->n].prompt = g->text[g->n];
        g->n++;
    }
    assert_int_equal(g->n, wp_workload_total(w));
    assert_int_equal(wp_workload_validate(w, &err), WP_OK);
    static wp_workload_stage_t stages[WP_WORKLOAD_MAX_STAGES];
    const wp_workload_stage_t *st;
    g->n_stages = wp_workload_stages(w, &st);
    memcpy(stages, st, g->n_stages * sizeof(*st));
    g->stages = stages;
    wp_workload_free(w);
}

static void generate_yaml(const char *yaml, const wp_workload_trace_t *trace, gen_t *g)
{
    wp_workload_spec_t s = parse_ok(yaml);
    generate(&s, trace, g);
}

static void gen_free(gen_t *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->text[i]);
}

/* The first `warm` requests are warm-ups (stage 0, no stage offset), the rest not. */
static void assert_marked(const gen_t *g, size_t warm)
{
    for (size_t i = 0; i < g->n; i++) {
        assert_int_equal(g->r[i].warmup, i < warm);
        if (i < warm) {
            assert_int_equal(g->r[i].stage, 0);
            assert_true(g->r[i].stage_start_s == 0);
        }
        assert_true(i == 0 || g->r[i].arrival_s >= g->r[i - 1].arrival_s);
    }
}

/* Closed loop: 4 warm-ups then 8 measured, 12 in all, with the prompts of a 12-request
 * workload without a warm-up. */
static void test_workload_warmup_closed_loop(void **state)
{
    (void)state;
    static gen_t g, plain;
    wp_workload_spec_t warm =
        parse_ok("type: random\ninput_len: {dist: uniform, min: 10, max: 90}\n"
                 "load: {type: concurrency, concurrency: 2, "
                 "num_requests: 8, warmup: 4}\n");
    wp_workload_spec_t cold = warm;
    cold.load.warmup = 0;
    cold.load.num_requests = 12;
    generate(&warm, NULL, &g);
    generate(&cold, NULL, &plain);
    assert_int_equal(g.n, 12);
    assert_marked(&g, 4);
    for (size_t i = 0; i < g.n; i++) {
        assert_true(g.r[i].arrival_s < 0);
        assert_string_equal(g.text[i], plain.text[i]);
        assert_int_equal(g.r[i].max_tokens, plain.r[i].max_tokens);
    }
    assert_int_equal(g.n_stages, 1);
    gen_free(&g);
    gen_free(&plain);
}

/* Open loop: the warm-up arrives at the first stage's rate from 0, and the measured
 * requests' offsets from their nominal start (stage_start_s, where the warm-up's stream
 * ended) are the arrivals of the same load without a warm-up. */
static void test_workload_warmup_open_loop_offsets(void **state)
{
    (void)state;
    static gen_t g, plain;
    const char *loads[][2] = {
        {"load: {type: poisson, rate: 10, num_requests: 20, warmup: 5}\n",
         "load: {type: poisson, rate: 10, num_requests: 20}\n"},
        {"load: {type: constant, rate: 4, duration: 2, warmup: 3}\n",
         "load: {type: constant, rate: 4, duration: 2}\n"},
        {"load: {type: stages, stages: [{rate: 20, duration: 1}, {rate: 40, duration: 1}], "
         "warmup: 6}\n",
         "load: {type: stages, stages: [{rate: 20, duration: 1}, {rate: 40, duration: 1}]}\n"},
    };
    size_t warm[] = {5, 3, 6};
    for (size_t k = 0; k < 3; k++) {
        char a[256], b[256];
        snprintf(a, sizeof(a), "type: random\n%s", loads[k][0]);
        snprintf(b, sizeof(b), "type: random\n%s", loads[k][1]);
        generate_yaml(a, NULL, &g);
        generate_yaml(b, NULL, &plain);
        assert_int_equal(g.n, warm[k] + plain.n);
        assert_marked(&g, warm[k]);
        double nominal = g.r[warm[k]].stage_start_s;
        assert_true(nominal >= g.r[warm[k] - 1].arrival_s);
        for (size_t i = 0; i < plain.n; i++) {
            const wp_workload_req_t *m = &g.r[warm[k] + i];
            assert_int_equal(m->stage, plain.r[i].stage);
            if (fabs((m->arrival_s - nominal) - plain.r[i].arrival_s) > 1e-9)
                fail_msg("load %zu, request %zu: offset %.12g, without a warm-up %.12g", k, i,
                         m->arrival_s - nominal, plain.r[i].arrival_s);
        }
        assert_int_equal(g.n_stages, plain.n_stages);
        for (size_t s = 0; s < g.n_stages; s++)
            assert_true(g.stages[s].rate == plain.stages[s].rate &&
                        g.stages[s].duration == plain.stages[s].duration);
        gen_free(&g);
        gen_free(&plain);
    }
    /* constant: the warm-up at 0, 0.25, 0.5 (uncut by the 0.5 s duration), the measured
     * run's first slot right after */
    generate_yaml("type: random\nload: {type: constant, rate: 4, duration: 0.5, warmup: 3}\n", NULL,
                  &g);
    assert_int_equal(g.n, 5);
    double want[] = {0, 0.25, 0.5, 0.75, 1.0};
    for (size_t i = 0; i < g.n; i++)
        assert_true(fabs(g.r[i].arrival_s - want[i]) < 1e-12);
    assert_true(g.r[3].stage_start_s == 0.75);
    gen_free(&g);
}

/* Sequential stages: the warm-up before the first stage, whose nominal start is where the
 * warm-up ended; every stage still has exactly rate x duration requests. */
static void test_workload_warmup_sequential(void **state)
{
    (void)state;
    static gen_t g;
    generate_yaml("type: random\nload: {type: stages, sequential: true, interval: 1, warmup: 2,"
                  " stages: [{rate: 5, duration: 2}, {rate: 10, duration: 1}]}\n",
                  NULL, &g);
    assert_int_equal(g.n, 2 + 10 + 10);
    assert_marked(&g, 2);
    assert_true(g.r[2].stage_start_s == g.r[1].arrival_s);
    size_t per[2] = {0};
    for (size_t i = 2; i < g.n; i++)
        per[g.r[i].stage]++;
    assert_int_equal(per[0], 10);
    assert_int_equal(per[1], 10);
    gen_free(&g);
}

/* A trace: the first entries are the warm-up; the stage spans the measured ones only. */
static void test_workload_warmup_trace(void **state)
{
    (void)state;
    static gen_t g;
    wp_err_t err;
    wp_workload_trace_t t;
    const char *jsonl =
        "{\"timestamp\": 0, \"input_length\": 10, \"output_length\": 2, \"hash_ids\": [1]}\n"
        "{\"timestamp\": 1000, \"input_length\": 20, \"output_length\": 2, \"hash_ids\": [2]}\n"
        "{\"timestamp\": 1500, \"input_length\": 30, \"output_length\": 2, \"hash_ids\": [3]}\n"
        "{\"timestamp\": 3500, \"input_length\": 40, \"output_length\": 2, \"hash_ids\": [4]}\n"
        "{\"timestamp\": 5500, \"input_length\": 50, \"output_length\": 2, \"hash_ids\": [5]}\n";
    assert_int_equal(wp_workload_trace_parse(jsonl, strlen(jsonl), "t.jsonl", &t, &err), WP_OK);
    generate_yaml("type: trace\npath: t.jsonl\nload: {warmup: 2}\n", &t, &g);
    assert_int_equal(g.n, 5);
    assert_marked(&g, 2);
    assert_int_equal(g.r[2].prompt_tokens, 30);
    assert_true(g.r[2].stage_start_s == 1.0); /* the last warm-up's arrival */
    assert_true(g.stages[0].duration == 4.5 && g.stages[0].rate == 3 / 4.5);
    gen_free(&g);
    /* num_requests counts the measured entries; a warm-up must leave one to measure */
    generate_yaml("type: trace\npath: t.jsonl\nload: {warmup: 1, num_requests: 2}\n", &t, &g);
    assert_int_equal(g.n, 3);
    assert_marked(&g, 1);
    gen_free(&g);
    wp_workload_spec_t all = parse_ok("type: trace\npath: t.jsonl\nload: {warmup: 5}\n");
    assert_null(wp_workload_new(&all, &t, &err));
    assert_string_equal(err.msg, "load.warmup: 5 warm-up requests leave none of the trace's 5 "
                                 "entries to measure");
    wp_workload_trace_free(&t);
}

/* fixed_prompts: the warm-up, then the measured run, start from the first prompt. */
static void test_workload_warmup_fixed_prompts(void **state)
{
    (void)state;
    static gen_t g;
    generate_yaml("num_groups: 2\nnum_prompts_per_group: 2\nfixed_prompts: true\n"
                  "load: {type: concurrency, concurrency: 1, num_requests: 4, warmup: 3}\n",
                  NULL, &g);
    assert_int_equal(g.n, 7);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(g.text[3 + i], g.text[i]);
    gen_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workload_warmup_closed_loop),
        cmocka_unit_test(test_workload_warmup_open_loop_offsets),
        cmocka_unit_test(test_workload_warmup_sequential),
        cmocka_unit_test(test_workload_warmup_trace),
        cmocka_unit_test(test_workload_warmup_fixed_prompts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
