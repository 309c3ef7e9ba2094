/* Tests for workload: spec parsing and flags, determinism, shared-prefix and multi-turn
 * text structure (checked with wp_tok), arrivals (poisson, constant, stages, closed loop),
 * length distributions, and the report JSON. */
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

typedef struct copy_s {
    wp_workload_req_t r;
    char *text;
} copy_t;

/* Runs the whole generator; returns n copies (caller frees with free_all). */
static copy_t *run_all(const wp_workload_spec_t *spec, const wp_workload_trace_t *trace, size_t *n)
{
    wp_err_t err = {{0}};
    wp_workload_t *w = wp_workload_new(spec, trace, &err);
    if (w == NULL)
        fail_msg("wp_workload_new: %s", err.msg);
    assert_int_equal(wp_workload_validate(w, &err), WP_OK);
    size_t total = wp_workload_total(w);
    copy_t *all = calloc(total + 1, sizeof(*all));
    assert_non_null(all);
    size_t k = 0;
    while (wp_workload_next(w, &all[k].r) == WP_OK) {
        assert_true(k < total);
        assert_int_equal(all[k].r.index, k);
        assert_int_equal(strlen(all[k].r.prompt), all[k].r.prompt_len);
        all[k].text = strdup(all[k].r.prompt);
        assert_non_null(all[k].text);
        k++;
    }
    assert_int_equal(k, total);
    wp_workload_req_t r;
    assert_int_equal(wp_workload_next(w, &r), WP_ENOTFOUND);
    assert_int_equal(wp_workload_validate(w, &err), WP_OK);
    wp_workload_free(w);
    *n = k;
    return all;
}

static void free_all(copy_t *all, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(all[i].text);
    free(all);
}

static wp_workload_spec_t parse_ok(const char *yaml)
{
    wp_workload_spec_t s;
    wp_err_t err = {{0}};
    if (wp_workload_parse(yaml, strlen(yaml), "w.yaml", &s, &err) != WP_OK)
        fail_msg("parse: %s", err.msg);
    assert_int_equal(wp_workload_spec_validate(&s, &err), WP_OK);
    return s;
}

static void expect_error(const char *yaml, const char *needle)
{
    wp_workload_spec_t s;
    wp_err_t err = {{0}};
    assert_int_not_equal(wp_workload_parse(yaml, strlen(yaml), "w.yaml", &s, &err), WP_OK);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, needle);
}

/* Number of leading equal tokens of a and b under wp_tok. */
static size_t common_tokens(const char *a, const char *b, size_t cap)
{
    int32_t *x = malloc(cap * sizeof(*x)), *y = malloc(cap * sizeof(*y));
    assert_true(x && y);
    size_t na = wp_tok_encode(a, strlen(a), 151936, x, cap);
    size_t nb = wp_tok_encode(b, strlen(b), 151936, y, cap);
    size_t n = na < nb ? na : nb, k = 0;
    n = n < cap ? n : cap;
    while (k < n && x[k] == y[k])
        k++;
    free(x);
    free(y);
    return k;
}

static void assert_same_runs(const copy_t *a, const copy_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(a[i].text, b[i].text);
        assert_true(a[i].r.arrival_s == b[i].r.arrival_s);
        assert_int_equal(a[i].r.max_tokens, b[i].r.max_tokens);
        assert_int_equal(a[i].r.prompt_tokens, b[i].r.prompt_tokens);
        assert_int_equal(a[i].r.group, b[i].r.group);
        assert_int_equal(a[i].r.session, b[i].r.session);
    }
}

static void test_workload_determinism(void **state)
{
    (void)state;
    const char *yamls[] = {
        "type: shared_prefix\nseed: 7\nnum_groups: 4\nnum_prompts_per_group: 5\n"
        "load: {type: poisson, rate: 10, num_requests: 45}\n",
        "type: multi_turn\nseed: 7\nnum_sessions: 3\nturns_per_session: 4\n"
        "output_len: {dist: uniform, min: 5, max: 30}\nload: {type: constant, rate: 2}\n",
        "type: random\nseed: 7\ninput_len: {dist: lognormal, mean: 300, std: 200, max: 2000}\n"
        "output_len: {dist: normal, mean: 50, std: 10}\nload:\n  type: stages\n"
        "  stages: [{rate: 5, duration: 4}, {rate: 20, duration: 2}]\n",
    };
    for (size_t y = 0; y < 3; y++) {
        wp_workload_spec_t s = parse_ok(yamls[y]);
        size_t na, nb, nc;
        copy_t *a = run_all(&s, NULL, &na);
        copy_t *b = run_all(&s, NULL, &nb);
        assert_int_equal(na, nb);
        assert_true(na > 10);
        assert_same_runs(a, b, na);
        s.seed = 8; /* another seed: another sequence */
        copy_t *c = run_all(&s, NULL, &nc);
        size_t same = 0;
        for (size_t i = 0; i < na && i < nc; i++)
            same += strcmp(a[i].text, c[i].text) == 0;
        assert_int_equal(same, 0);
        free_all(a, na);
        free_all(b, nb);
        free_all(c, nc);
    }
}

static void test_workload_shared_prefix(void **state)
{
    (void)state;
    wp_workload_spec_t s = parse_ok("type: shared_prefix\nnum_groups: 3\nnum_prompts_per_group: 4\n"
                                    "system_prompt_len: 300\nquestion_len: 40\noutput_len: 20\n");
    size_t n;
    copy_t *all = run_all(&s, NULL, &n);
    assert_int_equal(n, 12);
    int seen[3][4] = {{0}};
    size_t in_order = 0;
    for (size_t i = 0; i < n; i++) {
        const wp_workload_req_t *r = &all[i].r;
        assert_int_equal(wp_tok_count(all[i].text, strlen(all[i].text)), 340);
        assert_int_equal(r->prompt_tokens, 340);
        assert_int_equal(r->prefix_tokens, 300);
        assert_int_equal(r->max_tokens, 20);
        assert_true(r->arrival_s >= 0);
        assert_true(r->group >= 0 && r->group < 3);
        in_order += i > 0 && all[i - 1].r.group <= r->group;
        for (size_t j = 0; j < i; j++) {
            size_t k = common_tokens(all[i].text, all[j].text, 400);
            if (all[j].r.group == r->group)
                assert_int_equal(k, 300); /* the system prompt exactly, then unique questions */
            else
                assert_true(k < 16);
        }
    }
    /* every (group, prompt) once: count prompts per group via distinct texts */
    for (size_t i = 0; i < n; i++)
        seen[all[i].r.group][0]++;
    for (int g = 0; g < 3; g++)
        assert_int_equal(seen[g][0], 4);
    assert_true(in_order < n - 1); /* shuffled, not group by group */
    free_all(all, n);
}

static void test_workload_shared_prefix_passes(void **state)
{
    (void)state;
    wp_workload_spec_t s =
        parse_ok("num_groups: 2\nnum_prompts_per_group: 2\n"
                 "load: {type: concurrency, concurrency: 4, num_requests: 10}\n");
    size_t n;
    copy_t *all = run_all(&s, NULL, &n);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++) {
        assert_true(all[i].r.arrival_s == -1);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(all[i].text, all[j].text); /* new questions each pass */
    }
    free_all(all, n);
}

static void test_workload_multi_turn(void **state)
{
    (void)state;
    wp_workload_spec_t s = parse_ok("type: multi_turn\nnum_sessions: 3\nturns_per_session: 4\n"
                                    "system_prompt_len: 64\nuser_turn_len: 10\n"
                                    "output_len: {dist: uniform, min: 5, max: 9}\n");
    size_t n;
    copy_t *all = run_all(&s, NULL, &n);
    assert_int_equal(n, 12);
    for (size_t i = 0; i < n; i++) {
        const wp_workload_req_t *r = &all[i].r;
        assert_int_equal(r->session, (int64_t)(i % 3));
        assert_int_equal(r->turn, (int)(i / 3));
        assert_int_equal(wp_tok_count(all[i].text, strlen(all[i].text)), r->prompt_tokens);
        assert_int_equal(r->prompt_tokens, r->prefix_tokens + 10);
        assert_true(r->max_tokens >= 5 && r->max_tokens <= 9);
        if (r->turn == 0) {
            assert_int_equal(r->prefix_tokens, 64);
            continue;
        }
        /* turn t = turn t-1's prompt + its answer (max_tokens long) + a new user turn */
        const copy_t *prev = &all[i - 3];
        assert_int_equal(r->prefix_tokens, prev->r.prompt_tokens + prev->r.max_tokens);
        assert_memory_equal(all[i].text, prev->text, strlen(prev->text));
        assert_int_equal(common_tokens(all[i].text, prev->text, 400), prev->r.prompt_tokens);
    }
    assert_true(common_tokens(all[0].text, all[1].text, 100) < 16); /* sessions differ */
    free_all(all, n);
}

static void test_workload_poisson_rate(void **state)
{
    (void)state;
    wp_workload_spec_t s = parse_ok("type: random\ninput_len: 4\noutput_len: 1\n"
                                    "load: {type: poisson, rate: 5, duration: 2000}\n");
    wp_err_t err;
    wp_workload_t *w = wp_workload_new(&s, NULL, &err);
    assert_non_null(w);
    size_t n = wp_workload_total(w);
    /* 10000 expected, sd 100: 5 % is 5 sd */
    assert_true(n > 9500 && n < 10500);
    wp_workload_req_t r;
    double prev = 0, sum = 0, sum2 = 0;
    while (wp_workload_next(w, &r) == WP_OK) {
        assert_true(r.arrival_s >= prev && r.arrival_s < 2000);
        double gap = r.arrival_s - prev;
        sum += gap;
        sum2 += gap * gap;
        prev = r.arrival_s;
        assert_int_equal(r.prompt_tokens, 4);
    }
    double mean = sum / (double)n, sd = sqrt(sum2 / (double)n - mean * mean);
    assert_true(fabs(mean - 0.2) < 0.01);
    assert_true(fabs(sd / mean - 1.0) < 0.05); /* exponential gaps: cv = 1 */
    const wp_workload_stage_t *st;
    assert_int_equal(wp_workload_stages(w, &st), 1);
    assert_true(st[0].rate == 5 && st[0].duration == 2000);
    wp_workload_free(w);
}

static void test_workload_constant_and_count(void **state)
{
    (void)state;
    wp_workload_spec_t s =
        parse_ok("type: random\nload: {type: constant, rate: 4, duration: 10}\n");
    size_t n;
    copy_t *all = run_all(&s, NULL, &n);
    assert_int_equal(n, 40);
    for (size_t i = 0; i < n; i++)
        assert_true(fabs(all[i].r.arrival_s - 0.25 * (double)i) < 1e-9);
    free_all(all, n);
    /* no duration, no num_requests: the natural size (random: 100) */
    s = parse_ok("type: random\nload: {type: constant, rate: 1000}\n");
    all = run_all(&s, NULL, &n);
    assert_int_equal(n, 100);
    free_all(all, n);
}

static void test_workload_stages(void **state)
{
    (void)state;
    wp_workload_spec_t s =
        parse_ok("type: random\ninput_len: 8\nload:\n  type: stages\n"
                 "  stages: [{rate: 3, duration: 200}, {rate: 10, duration: 100},"
                 " {rate: 1, duration: 50}]\n");
    size_t n;
    copy_t *all = run_all(&s, NULL, &n);
    size_t per[3] = {0};
    for (size_t i = 0; i < n; i++) {
        double t = all[i].r.arrival_s;
        size_t k = all[i].r.stage;
        assert_true(k < 3);
        per[k]++;
        double lo = k == 0 ? 0 : k == 1 ? 200 : 300, hi = lo + (k == 0 ? 200 : k == 1 ? 100 : 50);
        assert_true(t >= lo && t < hi);
        assert_true(i == 0 || all[i - 1].r.stage <= k);
    }
    assert_true(per[0] > 520 && per[0] < 680);  /* 600 +- 3 sd */
    assert_true(per[1] > 900 && per[1] < 1100); /* 1000 */
    assert_true(per[2] > 28 && per[2] < 72);    /* 50 */
    free_all(all, n);
    wp_err_t err;
    wp_workload_t *w = wp_workload_new(&s, NULL, &err);
    const wp_workload_stage_t *st;
    assert_int_equal(wp_workload_stages(w, &st), 3);
    assert_true(st[1].rate == 10 && st[1].duration == 100);
    wp_workload_free(w);
}

/* inference-perf's sequential stages: exactly floor(rate x duration) requests per stage,
 * nominal stage starts that follow the previous stage's arrivals, in order. */
static void test_workload_sequential_exact_counts(void **state)
{
    (void)state;
    wp_workload_spec_t s =
        parse_ok("type: random\ninput_len: 8\nload:\n  type: stages\n  sequential: true\n"
                 "  interval: 1.5\n"
                 "  stages: [{rate: 3, duration: 20}, {rate: 60, duration: 2.5}, "
                 "{rate: 7.5, duration: 2}]\n");
    size_t n;
    copy_t *all = run_all(&s, NULL, &n);
    size_t per[3] = {0};
    double start[3] = {-1, -1, -1}, last = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = all[i].r.stage;
        assert_true(k < 3);
        per[k]++;
        if (start[k] < 0)
            start[k] = all[i].r.stage_start_s;
        assert_true(all[i].r.stage_start_s == start[k]); /* one start per stage */
        assert_true(all[i].r.arrival_s >= all[i].r.stage_start_s);
        assert_true(all[i].r.arrival_s >= last); /* in order across stages */
        last = all[i].r.arrival_s;
    }
    assert_int_equal(per[0], 60);
    assert_int_equal(per[1], 150);
    assert_int_equal(per[2], 15); /* floor(7.5 x 2) */
    assert_true(start[0] == 0);
    assert_true(start[1] >= 20 && start[2] >= start[1] + 2.5);
    free_all(all, n);

    expect_error("load: {rate: 2, duration: 5, interval: 1}\n", "sequential");
    wp_err_t err = {{0}};
    wp_workload_spec_t c = parse_ok("load: {type: concurrency, concurrency: 2, num_requests: 4}\n");
    c.load.sequential = true;
    assert_int_not_equal(wp_workload_spec_validate(&c, &err), WP_OK);
    assert_non_null(strstr(err.msg, "load.sequential"));
}

/* fixed_prompts: the same groups x prompts texts come back in the same order in every
 * pass, and every stage starts again from the first. */
static void test_workload_fixed_prompts_repeat(void **state)
{
    (void)state;
    wp_workload_spec_t s =
        parse_ok("num_groups: 2\nnum_prompts_per_group: 3\nfixed_prompts: true\n"
                 "load:\n  type: stages\n  sequential: true\n"
                 "  stages: [{rate: 10, duration: 1}, {rate: 4, duration: 1}]\n");
    size_t n;
    copy_t *all = run_all(&s, NULL, &n);
    assert_int_equal(n, 14);
    for (size_t i = 0; i < 6; i++)
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(all[i].text, all[j].text); /* 6 distinct prompts */
    for (size_t i = 6; i < 10; i++)
        assert_string_equal(all[i].text, all[i - 6].text); /* the second pass repeats */
    for (size_t i = 10; i < 14; i++) {
        assert_int_equal(all[i].r.stage, 1);
        assert_string_equal(all[i].text, all[i - 10].text); /* stage 1 starts over */
    }
    free_all(all, n);
}

static void test_workload_distributions(void **state)
{
    (void)state;
    const char *yaml =
        "type: random\nload: {type: concurrency, concurrency: 2, num_requests: 4000}\n"
        "input_len: {dist: normal, mean: 100, std: 50, min: 60, max: 120}\n"
        "output_len: {dist: uniform, min: 10, max: 20}\n";
    wp_workload_spec_t s = parse_ok(yaml);
    wp_err_t err;
    wp_workload_t *w = wp_workload_new(&s, NULL, &err);
    assert_non_null(w);
    wp_workload_req_t r;
    int out_seen[21] = {0};
    while (wp_workload_next(w, &r) == WP_OK) {
        assert_true(r.prompt_tokens >= 60 && r.prompt_tokens <= 120);
        assert_true(r.max_tokens >= 10 && r.max_tokens <= 20);
        out_seen[r.max_tokens]++;
        if (r.index < 200)
            assert_int_equal(wp_tok_count(r.prompt, r.prompt_len), r.prompt_tokens);
    }
    for (int v = 10; v <= 20; v++)
        assert_true(out_seen[v] > 250); /* about 364 each */
    wp_workload_free(w);

    s = parse_ok("type: random\nload: {type: constant, rate: 100, num_requests: 20000}\n"
                 "input_len: {dist: lognormal, mean: 400, std: 300}\n");
    w = wp_workload_new(&s, NULL, &err);
    double sum = 0;
    size_t n = 0;
    while (wp_workload_next(w, &r) == WP_OK) {
        sum += (double)r.prompt_tokens;
        n++;
        assert_true(r.prompt_tokens >= 1);
    }
    assert_true(fabs(sum / (double)n - 400) < 20);
    wp_workload_free(w);
}

static void test_workload_yaml_full(void **state)
{
    (void)state;
    wp_workload_spec_t s = parse_ok("# benchmark\ntype: shared_prefix\nseed: 42\nnum_groups: 20\n"
                                    "num_prompts_per_group: 5\nsystem_prompt_len: 2000\n"
                                    "question_len: 100\noutput_len: 300\napi: chat\n"
                                    "load:\n  type: poisson\n  stages:\n    - rate: 3\n"
                                    "      duration: 20\n    - {rate: 10, duration: 20}\n");
    assert_int_equal(s.type, WP_WORKLOAD_SHARED_PREFIX);
    assert_int_equal(s.seed, 42);
    assert_int_equal(s.num_groups, 20);
    assert_int_equal(s.system_prompt_len, 2000);
    assert_int_equal(s.output_len.kind, WP_WORKLOAD_DIST_FIXED);
    assert_true(s.output_len.mean == 300);
    assert_int_equal(s.api, WP_WORKLOAD_API_CHAT);
    assert_int_equal(s.load.n_stages, 2);
    assert_true(s.load.stages[1].rate == 10 && s.load.stages[1].duration == 20);
    s = parse_ok("type: trace\nformat: mooncake\npath: ../data/t.jsonl\nspeed: 2.5\n");
    assert_string_equal(s.trace_path, "../data/t.jsonl");
    assert_true(s.trace_speed == 2.5);
    wp_workload_spec_t d = wp_workload_spec_default();
    assert_int_equal(d.type, WP_WORKLOAD_SHARED_PREFIX);
    wp_err_t err;
    assert_int_equal(wp_workload_spec_validate(&d, &err), WP_OK);
}

static void test_workload_yaml_errors(void **state)
{
    (void)state;
    expect_error("type: random\nnum_groups: 3\n",
                 "w.yaml:2:1: num_groups: unknown key; allowed here: type, seed, api, load, "
                 "input_len, output_len");
    expect_error("type: chat\n", "w.yaml:1:7: type: \"chat\" is not one of: shared_prefix");
    expect_error("num_groups: ten\n", "w.yaml:1:13: num_groups: expected an integer");
    expect_error("question_len: 0\n", "question_len: 0 is out of range [1, 1000000]");
    expect_error("load:\n  type: stages\n  stages: []\n",
                 "w.yaml:3:11: load.stages: expected 1 to");
    expect_error("load:\n  type: stages\n", "w.yaml:1:1: load.stages: a stages load needs");
    expect_error("load:\n  stages:\n    - {rate: 0, duration: 5}\n",
                 "w.yaml:3:14: load.stages[0].rate: 0 is out of range (0, 1e+06]");
    expect_error("load:\n  stages:\n    - {rate: 2}\n",
                 "load.stages[0]: missing required key \"duration\"");
    expect_error("load: {rate: 2, duration: 5, stages: [{rate: 1, duration: 1}]}\n",
                 "load.stages: give rate and duration, or stages, not both");
    expect_error("load: {rate: 2, duration: 5, num_requests: 9}\n",
                 "load.num_requests: give duration or num_requests, not both");
    expect_error("load: {type: concurrency}\n", "load.concurrency: missing");
    expect_error("load: {type: trace}\n", "w.yaml:1:8: load.type: trace arrivals need type: trace");
    expect_error("type: trace\npath: t.jsonl\nload: {type: poisson, rate: 1}\n",
                 "w.yaml:3:8: load.type: a trace workload");
    expect_error("type: trace\n", "path: missing");
    expect_error("load: {rate: 1000, duration: 1000000}\n", "more than the 3600000 allowed");
    expect_error("type: random\ninput_len: {dist: uniform, max: 9}\n",
                 "w.yaml:2:12: input_len: uniform needs min and max");
    expect_error("type: random\ninput_len: {dist: normal, mean: 10, std: 1, min: 20, max: 30}\n",
                 "input_len: normal mean is outside [min, max]");
    expect_error("type: random\ninput_len: {dist: gamma}\n", "\"gamma\" is not one of");
    expect_error("type: random\ninput_len: \"100\"\n", "input_len: expected a number of tokens");
    expect_error("", "w.yaml:1:1: empty file");
    expect_error("a: [\n", "w.yaml:2:1: invalid YAML");
    expect_error("seed: 1\n---\nseed: 2\n", "a second YAML document");
    expect_error("load:\n  warmup: -1\n",
                 "w.yaml:2:11: load.warmup: -1 is out of range [0, 4000000]");
    expect_error("load:\n  warmup: some\n", "w.yaml:2:11: load.warmup: expected an integer");
    expect_error("load: {warmup: 4000001}\n", "load.warmup: 4000001 is out of range");
    expect_error("load: {num_requests: 3000000, warmup: 2000000}\n",
                 "w.yaml:1:31: load.warmup: 2000000 warm-up and 3000000 measured requests are "
                 "more than the 4000000 allowed");
}

static void test_workload_spec_set(void **state)
{
    (void)state;
    wp_workload_spec_t s = wp_workload_spec_default();
    wp_err_t err;
    assert_int_equal(wp_workload_spec_set(&s, "type", "random", &err), WP_OK);
    assert_int_equal(wp_workload_spec_set(&s, "input_len", "{dist: uniform, min: 5, max: 9}", &err),
                     WP_OK);
    assert_int_equal(s.input_len.kind, WP_WORKLOAD_DIST_UNIFORM);
    assert_int_equal(wp_workload_spec_set(&s, "load.type", "stages", &err), WP_OK);
    assert_int_equal(wp_workload_spec_set(&s, "load.stages",
                                          "[{rate: 3, duration: 20}, {rate: 9, duration: 5}]",
                                          &err),
                     WP_OK);
    assert_int_equal(s.load.n_stages, 2);
    assert_int_equal(wp_workload_spec_set(&s, "seed", "99", &err), WP_OK);
    assert_int_equal(s.seed, 99);
    assert_int_equal(wp_workload_spec_validate(&s, &err), WP_OK);
    /* a wrong value leaves the spec as it was and names the key, without a position */
    wp_workload_spec_t before = s;
    assert_int_equal(wp_workload_spec_set(&s, "load.rate", "fast", &err), WP_EINVAL);
    assert_string_equal(err.msg, "load.rate: expected a number, got \"fast\"");
    assert_memory_equal(&before, &s, sizeof(s));
    assert_int_equal(wp_workload_spec_set(&s, "num_groups", "3", &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "num_groups: unknown key"));
    assert_int_equal(wp_workload_spec_set(&s, "seed", "1\nload: 2", &err), WP_EINVAL);
    assert_int_equal(wp_workload_spec_set(&s, "Seed!", "1", &err), WP_EINVAL);
    /* rate + stages only fails when validated as a whole */
    assert_int_equal(wp_workload_spec_set(&s, "load.rate", "3", &err), WP_OK);
    assert_int_equal(wp_workload_spec_validate(&s, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "load: stages take no rate"));
    /* load.warmup (--num-warmups): default 0; warm-up + measured within the limit */
    s = wp_workload_spec_default();
    assert_int_equal(s.load.warmup, 0);
    assert_int_equal(wp_workload_spec_set(&s, "load.warmup", "16", &err), WP_OK);
    assert_int_equal(s.load.warmup, 16);
    assert_int_equal(wp_workload_spec_validate(&s, &err), WP_OK);
    assert_int_equal(wp_workload_spec_set(&s, "load.warmup", "x", &err), WP_EINVAL);
    assert_string_equal(err.msg, "load.warmup: expected an integer, got \"x\"");
    assert_int_equal(wp_workload_spec_set(&s, "load.num_requests", "3999990", &err), WP_OK);
    assert_int_equal(wp_workload_spec_validate(&s, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "load.warmup: 16 warm-up and 3999990 measured"));
}

static void test_workload_json(void **state)
{
    (void)state;
    wp_buf_t b;
    wp_buf_init(&b, 4096);
    wp_workload_spec_t s = wp_workload_spec_default();
    assert_int_equal(wp_workload_spec_json(&s, &b), WP_OK);
    assert_string_equal(b.data, "{\"type\":\"shared_prefix\",\"seed\":1,\"api\":\"completions\","
                                "\"num_groups\":10,\"num_prompts_per_group\":10,"
                                "\"system_prompt_len\":100,\"question_len\":50,\"output_len\":50,"
                                "\"load\":{\"type\":\"poisson\",\"rate\":5}}");
    wp_buf_reset(&b);
    s = parse_ok("type: random\ninput_len: {dist: normal, mean: 10, std: 2, max: 20}\n"
                 "load: {type: stages, stages: [{rate: 1, duration: 2}]}\n");
    assert_int_equal(wp_workload_spec_json(&s, &b), WP_OK);
    assert_string_equal(b.data,
                        "{\"type\":\"random\",\"seed\":1,\"api\":\"completions\",\"input_len\":"
                        "{\"dist\":\"normal\",\"mean\":10,\"std\":2,\"min\":1,\"max\":20},"
                        "\"output_len\":50,\"load\":{\"type\":\"stages\",\"stages\":[{\"rate\":1,"
                        "\"duration\":2}]}}");
    wp_buf_reset(&b); /* load.warmup when set (none: not written, as before the key) */
    s = parse_ok("type: random\nload: {type: concurrency, concurrency: 2, num_requests: 8, "
                 "warmup: 4}\n");
    assert_int_equal(wp_workload_spec_json(&s, &b), WP_OK);
    assert_non_null(strstr(b.data, "\"load\":{\"type\":\"concurrency\",\"num_requests\":8,"
                                   "\"concurrency\":2,\"warmup\":4}"));
    wp_buf_free(&b);
}

static void test_workload_text(void **state)
{
    (void)state;
    wp_workload_spec_t s = wp_workload_spec_default();
    wp_err_t err;
    wp_workload_t *w = wp_workload_new(&s, NULL, &err);
    wp_buf_t a, b;
    wp_buf_init(&a, WP_BUF_DEFAULT_MAX);
    wp_buf_init(&b, WP_BUF_DEFAULT_MAX);
    /* longer than the corpus: wraps, still exact; a shorter text of a key is its prefix */
    size_t sizes[] = {0, 1, 15, 16, 17, 511, 70000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        wp_buf_reset(&a);
        assert_int_equal(wp_workload_text(w, 12345, sizes[i], &a), WP_OK);
        assert_int_equal(wp_tok_count(a.data ? a.data : "", a.len), sizes[i]);
    }
    wp_buf_reset(&b);
    assert_int_equal(wp_workload_text(w, 12345, 600, &b), WP_OK);
    assert_memory_equal(a.data, b.data, b.len);
    wp_buf_free(&a);
    wp_buf_free(&b);
    wp_workload_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workload_determinism),
        cmocka_unit_test(test_workload_shared_prefix),
        cmocka_unit_test(test_workload_shared_prefix_passes),
        cmocka_unit_test(test_workload_multi_turn),
        cmocka_unit_test(test_workload_poisson_rate),
        cmocka_unit_test(test_workload_constant_and_count),
        cmocka_unit_test(test_workload_stages),
        cmocka_unit_test(test_workload_sequential_exact_counts),
        cmocka_unit_test(test_workload_fixed_prompts_repeat),
        cmocka_unit_test(test_workload_distributions),
        cmocka_unit_test(test_workload_yaml_full),
        cmocka_unit_test(test_workload_yaml_errors),
        cmocka_unit_test(test_workload_spec_set),
        cmocka_unit_test(test_workload_json),
        cmocka_unit_test(test_workload_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
