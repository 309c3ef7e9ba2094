/* Tests for engine: prefix reuse, admission limits, chunked prefill, preemption, abort,
 * priority, errors, and a seeded randomized run validated after every step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "engine/engine.h"
#include "engine/engine_int.h"

static wp_perf_t perf;

static int setup_perf(void **state)
{
    (void)state;
    wp_err_t err;
    return wp_perf_init(&perf, wp_model_find("sim-tiny"), wp_gpu_find("h100"), 1, NULL, &err);
}

static wp_engine_config_t small_config(int32_t num_blocks)
{
    wp_engine_config_t c;
    wp_engine_config_default(&c, &perf);
    c.num_blocks = num_blocks;
    c.max_model_len = 4096;
    return c;
}

static wp_engine_t *make(const wp_engine_config_t *c)
{
    wp_engine_t *e = NULL;
    wp_err_t err = {{0}};
    if (wp_engine_new(c, &e, &err) != WP_OK) {
        fail_msg("engine_new: %s", err.msg);
    }
    return e;
}

static void fill(int32_t *t, int n, int32_t base)
{
    for (int i = 0; i < n; i++) {
        t[i] = base + i;
    }
}

static void add(wp_engine_t *e, uint64_t id, const int32_t *t, int n, int max_tokens)
{
    wp_engine_req_t r = {.id = id, .tokens = t, .n_tokens = n, .max_tokens = max_tokens};
    wp_err_t err = {{0}};
    if (wp_engine_add(e, &r, &err) != WP_OK) {
        fail_msg("add %llu: %s", (unsigned long long)id, err.msg);
    }
}

static void check(const wp_engine_t *e)
{
    wp_err_t err = {{0}};
    if (wp_engine_validate(e, &err) != WP_OK) {
        fail_msg("validate: %s", err.msg);
    }
}

/* Steps until idle; returns the FIRST_TOKEN event's cached tokens of `id` (or -1). */
static int run_idle(wp_engine_t *e, uint64_t id, int *steps)
{
    int cached = -1, n = 0;
    double now = 0.0;
    while (wp_engine_busy(e)) {
        wp_engine_step_t s;
        assert_int_equal(wp_engine_step(e, now, &s), WP_OK);
        check(e);
        now += s.duration_s;
        n++;
        for (size_t i = 0; i < s.n_events; i++) {
            if (s.events[i].type == WP_ENGINE_EV_FIRST_TOKEN && s.events[i].id == id) {
                cached = s.events[i].cached_tokens;
            }
        }
        assert_true(n < 100000);
    }
    if (steps != NULL) {
        *steps = n;
    }
    return cached;
}

static void test_engine_prefix_reuse(void **state)
{
    (void)state;
    wp_engine_config_t c = small_config(1000);
    wp_engine_t *e = make(&c);
    int32_t t[200];
    fill(t, 200, 1000);
    add(e, 1, t, 100, 1);
    assert_int_equal(run_idle(e, 1, NULL), 0);
    wp_engine_stats_t st;
    wp_engine_stats(e, &st);
    assert_int_equal(st.num_cached_blocks, 6); /* full blocks stay cached; the 7th is freed */
    assert_true(st.kv_usage == 0.0);
    /* Same 100-token prompt: (100 - 1) / 16 = 6 whole blocks = 96 cached tokens. */
    add(e, 2, t, 100, 1);
    assert_int_equal(run_idle(e, 2, NULL), 96);
    /* A 96-token prompt recomputes its last token: 95 / 16 = 5 blocks = 80. */
    add(e, 3, t, 96, 1);
    assert_int_equal(run_idle(e, 3, NULL), 80);
    /* Shares only 40 tokens: 2 blocks = 32. */
    int32_t u[100];
    memcpy(u, t, sizeof(u));
    u[40] = -5;
    add(e, 4, u, 100, 1);
    assert_int_equal(run_idle(e, 4, NULL), 32);
    /* Salted: nothing. */
    wp_engine_req_t r = {.id = 5, .tokens = t, .n_tokens = 100, .max_tokens = 1, .salt = 77};
    assert_int_equal(wp_engine_add(e, &r, NULL), WP_OK);
    assert_int_equal(run_idle(e, 5, NULL), 0);
    wp_engine_stats(e, &st);
    assert_int_equal(st.prefix_queries, 100 + 100 + 96 + 100 + 100);
    assert_int_equal(st.prefix_hits, 96 + 80 + 32);
    assert_int_equal(st.prompt_tokens_total, 496);
    assert_int_equal(st.generation_tokens_total, 5);
    assert_int_equal(st.finished[WP_ENGINE_FINISH_LENGTH], 5);
    wp_engine_free(e);
}

static void test_engine_no_prefix_caching(void **state)
{
    (void)state;
    wp_engine_config_t c = small_config(100);
    c.enable_prefix_caching = false;
    wp_engine_t *e = make(&c);
    int32_t t[64];
    fill(t, 64, 0);
    add(e, 1, t, 64, 2);
    run_idle(e, 1, NULL);
    add(e, 2, t, 64, 2);
    assert_int_equal(run_idle(e, 2, NULL), 0);
    wp_engine_stats_t st;
    wp_engine_stats(e, &st);
    assert_int_equal(st.num_cached_blocks, 0);
    assert_int_equal(st.prefix_queries, 0);
    wp_engine_free(e);
}

static void test_engine_admission_limits(void **state)
{
    (void)state;
    wp_engine_config_t c = small_config(1000);
    c.max_num_seqs = 2;
    wp_engine_t *e = make(&c);
    int32_t t[64];
    fill(t, 64, 0);
    for (uint64_t id = 1; id <= 5; id++) {
        t[0] = (int32_t)id; /* distinct prompts */
        add(e, id, t, 10, 3);
    }
    wp_engine_step_t s;
    assert_int_equal(wp_engine_step(e, 0.0, &s), WP_OK);
    wp_engine_stats_t st;
    wp_engine_stats(e, &st);
    assert_int_equal(st.num_running, 2);
    assert_int_equal(st.num_waiting, 3);
    assert_int_equal(s.n_scheduled, 2);
    assert_int_equal(s.batch.prefill_tokens, 20);
    assert_int_equal(s.n_events, 2); /* two first tokens */
    check(e);
    wp_engine_free(e);

    /* Token budget 100, prompts of 60: the second gets a 40-token chunk, the third waits. */
    c = small_config(1000);
    c.max_num_batched_tokens = 100;
    e = make(&c);
    for (uint64_t id = 1; id <= 3; id++) {
        t[0] = (int32_t)id;
        add(e, id, t, 60, 3);
    }
    assert_int_equal(wp_engine_step(e, 0.0, &s), WP_OK);
    assert_int_equal(s.batch.prefill_tokens, 100);
    wp_engine_req_info_t info;
    assert_int_equal(wp_engine_req_info(e, 2, &info), WP_OK);
    assert_int_equal(info.state, WP_ENGINE_REQ_RUNNING);
    assert_int_equal(info.computed_tokens, 40);
    assert_int_equal(info.output_tokens, 0);
    assert_int_equal(wp_engine_req_info(e, 3, &info), WP_OK);
    assert_int_equal(info.state, WP_ENGINE_REQ_WAITING);
    /* Next step: the decode of 1 (1 token), the last 20 of 2, then all 60 of 3 (79 left). */
    assert_int_equal(wp_engine_step(e, 1.0, &s), WP_OK);
    assert_int_equal(s.batch.decode_seqs, 1);
    assert_int_equal(s.batch.prefill_tokens, 80);
    assert_int_equal(s.n_events, 3);
    assert_int_equal(wp_engine_req_info(e, 3, &info), WP_OK);
    assert_int_equal(info.computed_tokens, 60);
    assert_int_equal(info.output_tokens, 1);
    assert_true(info.first_scheduled == 1.0);
    check(e);
    wp_engine_free(e);
}

/* A 1000-token prompt with a 256-token budget: first token at step ceil(1000/256) = 4. */
static void test_engine_chunked_prefill(void **state)
{
    (void)state;
    wp_engine_config_t c = small_config(1000);
    c.max_num_batched_tokens = 256;
    wp_engine_t *e = make(&c);
    int32_t *t = malloc(1000 * sizeof(int32_t));
    assert_non_null(t);
    fill(t, 1000, 3);
    add(e, 9, t, 1000, 2);
    const int64_t chunks[] = {256, 256, 256, 232};
    double prev_attn_per_tok = 0.0;
    for (int i = 0; i < 4; i++) {
        wp_engine_step_t s;
        assert_int_equal(wp_engine_step(e, i, &s), WP_OK);
        assert_int_equal(s.batch.prefill_tokens, chunks[i]);
        /* Chunk i attends to the 256*i tokens before it plus its own causal triangle. */
        double n = (double)chunks[i];
        assert_true(s.batch.prefill_attn == n * 256.0 * i + n * (n + 1) / 2.0);
        assert_true(s.batch.prefill_attn / n > prev_attn_per_tok);
        prev_attn_per_tok = s.batch.prefill_attn / n;
        assert_true(s.duration_s > 0.0);
        assert_int_equal(s.n_events, i == 3 ? 1 : 0);
        check(e);
    }
    wp_engine_step_t s;
    assert_int_equal(wp_engine_step(e, 4.0, &s), WP_OK);
    assert_int_equal(s.batch.decode_seqs, 1);
    assert_int_equal(s.batch.decode_ctx, 1001);
    assert_int_equal(s.n_events, 2);
    assert_int_equal(s.events[0].type, WP_ENGINE_EV_TOKEN);
    assert_int_equal(s.events[1].type, WP_ENGINE_EV_FINISHED);
    assert_int_equal(s.events[1].finish, WP_ENGINE_FINISH_LENGTH);
    assert_string_equal(wp_engine_finish_str(s.events[1].finish), "length");
    assert_false(wp_engine_busy(e));
    assert_int_equal(wp_engine_step(e, 5.0, &s), WP_OK);
    assert_true(s.duration_s == 0.0);
    assert_int_equal(s.n_events, 0);
    free(t);
    wp_engine_free(e);
}

typedef struct track_s {
    int first, tokens, finished, next_index;
} track_t;

/* Checks the event stream of a request: FIRST_TOKEN once, indices 0, 1, 2, ... in
 * order, FINISHED right after the last. */
static void track(track_t *tr, const wp_engine_event_t *ev, int max_tokens)
{
    assert_int_equal(tr->finished, 0);
    switch (ev->type) {
    case WP_ENGINE_EV_FIRST_TOKEN:
        assert_int_equal(tr->first, 0);
        assert_int_equal(ev->token_index, 0);
        tr->first = 1;
        tr->tokens++;
        tr->next_index = 1;
        break;
    case WP_ENGINE_EV_TOKEN:
        assert_int_equal(tr->first, 1);
        assert_int_equal(ev->token_index, tr->next_index);
        tr->next_index++;
        tr->tokens++;
        break;
    case WP_ENGINE_EV_FINISHED:
        assert_int_equal(tr->tokens, max_tokens);
        assert_int_equal(ev->token_index, max_tokens - 1);
        tr->finished = 1;
        break;
    }
}

/* vLLM v1 caches full blocks of generated tokens too: a request preempted after it wrote
 * output blocks finds them (and its prompt's) in the cache when it is admitted again, and
 * recomputes only what was evicted. 12 blocks of 4 tokens, two requests growing to 7 blocks
 * each: the newer is preempted once; when it comes back, more than its prompt is already
 * computed. */
static void test_engine_preempted_request_reuses_its_output_blocks(void **state)
{
    (void)state;
    wp_engine_config_t c = small_config(12);
    c.block_size = 4;
    wp_engine_t *e = make(&c);
    int32_t a[8], b[8];
    fill(a, 8, 0);
    fill(b, 8, 500);
    add(e, 1, a, 8, 20);
    add(e, 2, b, 8, 20);
    int known_on_return = -1, prefill_on_return = -1;
    double now = 0.0;
    for (int step = 0; wp_engine_busy(e); step++) {
        wp_engine_req_info_t before, after;
        bool waiting = wp_engine_req_info(e, 2, &before) == WP_OK &&
                       before.state == WP_ENGINE_REQ_WAITING && before.preemptions == 1;
        wp_engine_step_t s;
        assert_int_equal(wp_engine_step(e, now, &s), WP_OK);
        check(e);
        now += s.duration_s;
        if (waiting && prefill_on_return < 0 && wp_engine_req_info(e, 2, &after) == WP_OK &&
            after.state == WP_ENGINE_REQ_RUNNING) {
            known_on_return = before.prompt_tokens + before.output_tokens;
            prefill_on_return = (int)s.batch.prefill_tokens; /* request 1 is done by now */
        }
        assert_true(step < 1000);
    }
    assert_true(known_on_return >= 8 + 8); /* it had filled output blocks */
    /* Without output blocks in the cache it would recompute everything past its prompt
     * (known - 8 = 17 here); with them, only its tail: the block request 1 evicted first
     * (a preempted request's blocks are freed tail first, so its tail goes first, as in
     * vLLM) plus the last token. */
    assert_true(prefill_on_return >= 1 && prefill_on_return <= 8);
    assert_true(prefill_on_return < known_on_return - 8);
    wp_engine_stats_t st;
    wp_engine_stats(e, &st);
    assert_int_equal(st.num_preemptions_total, 1);
    assert_int_equal(st.generation_tokens_total, 40);
    wp_engine_free(e);
}

/* 10 blocks of 4 tokens; two requests that each grow to 8 blocks cannot both run to
 * the end: the newer one is preempted, recomputed later, and both complete. */
static void test_engine_preemption(void **state)
{
    (void)state;
    wp_engine_config_t c = small_config(10);
    c.block_size = 4;
    wp_engine_t *e = make(&c);
    int32_t a[12], b[12];
    fill(a, 12, 0);
    fill(b, 12, 500);
    add(e, 1, a, 12, 20);
    add(e, 2, b, 12, 20);
    track_t tr[3] = {{0}};
    int preempted_steps = 0;
    double now = 0.0;
    for (int step = 0; wp_engine_busy(e); step++) {
        wp_engine_step_t s;
        assert_int_equal(wp_engine_step(e, now, &s), WP_OK);
        check(e);
        now += s.duration_s;
        preempted_steps += s.n_preempted > 0;
        for (size_t i = 0; i < s.n_events; i++) {
            track(&tr[s.events[i].id], &s.events[i], 20);
        }
        wp_engine_req_info_t info;
        if (s.n_preempted > 0) {
            assert_int_equal(wp_engine_req_info(e, 2, &info), WP_OK);
            assert_int_equal(info.state, WP_ENGINE_REQ_WAITING);
            assert_int_equal(info.num_blocks, 0);
            assert_int_equal(info.preemptions, 1);
        }
        assert_true(step < 1000);
    }
    assert_true(preempted_steps >= 1);
    assert_int_equal(tr[1].finished, 1);
    assert_int_equal(tr[2].finished, 1);
    wp_engine_stats_t st;
    wp_engine_stats(e, &st);
    assert_true(st.num_preemptions_total >= 1);
    assert_int_equal(st.generation_tokens_total, 40);
    assert_int_equal(st.finished[WP_ENGINE_FINISH_LENGTH], 2);
    wp_engine_free(e);
}

static void test_engine_abort(void **state)
{
    (void)state;
    wp_engine_config_t c = small_config(100);
    c.enable_prefix_caching = false;
    c.max_num_seqs = 1;
    wp_engine_t *e = make(&c);
    int32_t t[50];
    fill(t, 50, 0);
    add(e, 1, t, 50, 100);
    add(e, 2, t, 50, 100);
    wp_engine_step_t s;
    assert_int_equal(wp_engine_step(e, 0.0, &s), WP_OK);
    wp_engine_stats_t st;
    wp_engine_stats(e, &st);
    assert_true(st.kv_usage == 4.0 / 100.0); /* 50 tokens in 4 blocks of 16 */
    assert_int_equal(wp_engine_abort(e, 1), WP_OK);
    check(e);
    wp_engine_stats(e, &st);
    assert_true(st.kv_usage == 0.0);
    assert_int_equal(st.num_running, 0);
    assert_int_equal(st.finished[WP_ENGINE_FINISH_ABORT], 1);
    wp_engine_req_info_t info;
    assert_int_equal(wp_engine_req_info(e, 1, &info), WP_ENOTFOUND);
    assert_int_equal(wp_engine_abort(e, 1), WP_ENOTFOUND);
    assert_int_equal(wp_engine_abort(e, 2), WP_OK); /* a waiting one */
    assert_false(wp_engine_busy(e));
    check(e);
    add(e, 1, t, 50, 1); /* the id may be reused */
    run_idle(e, 1, NULL);
    assert_string_equal(wp_engine_finish_str(WP_ENGINE_FINISH_ABORT), "abort");
    wp_engine_free(e);
}

static void test_engine_priority(void **state)
{
    (void)state;
    wp_engine_config_t c = small_config(100);
    c.priority_scheduling = true;
    c.max_num_seqs = 1;
    wp_engine_t *e = make(&c);
    int32_t t[20];
    fill(t, 20, 0);
    wp_engine_req_t r = {.id = 1, .tokens = t, .n_tokens = 20, .max_tokens = 1, .priority = 5};
    assert_int_equal(wp_engine_add(e, &r, NULL), WP_OK);
    r = (wp_engine_req_t){
        .id = 2, .tokens = t, .n_tokens = 20, .max_tokens = 1, .priority = 0, .arrival = 1.0};
    assert_int_equal(wp_engine_add(e, &r, NULL), WP_OK);
    r.id = 3;
    r.arrival = 0.5; /* same priority, earlier arrival: before 2 */
    assert_int_equal(wp_engine_add(e, &r, NULL), WP_OK);
    const uint64_t order[] = {3, 2, 1};
    for (int i = 0; i < 3; i++) {
        wp_engine_step_t s;
        assert_int_equal(wp_engine_step(e, i, &s), WP_OK);
        assert_int_equal(s.n_events, 2);
        assert_int_equal(s.events[0].id, order[i]);
        check(e);
    }
    wp_engine_free(e);
}

/* With priority scheduling the lowest-priority running request is the victim, even when
 * it sits before the request that needs the block (it is un-scheduled and its budget
 * returned); the high-priority request is never preempted. */
static void test_engine_priority_preemption(void **state)
{
    (void)state;
    wp_engine_config_t c = small_config(9);
    c.block_size = 4;
    c.priority_scheduling = true;
    wp_engine_t *e = make(&c);
    int32_t a[14], b[12];
    fill(a, 14, 0);
    fill(b, 12, 500);
    /* 14 + 12 tokens: the two cross block boundaries on different steps, so the high one
     * (second in the running list) is the first to find the pool empty. */
    wp_engine_req_t low = {.id = 1, .tokens = a, .n_tokens = 14, .max_tokens = 20, .priority = 5};
    assert_int_equal(wp_engine_add(e, &low, NULL), WP_OK);
    track_t tr[3] = {{0}};
    wp_engine_step_t s;
    assert_int_equal(wp_engine_step(e, 0.0, &s), WP_OK);
    assert_int_equal(s.n_events, 1);
    track(&tr[1], &s.events[0], 20);
    wp_engine_req_t high = {.id = 2, .tokens = b, .n_tokens = 12, .max_tokens = 20, .arrival = 1};
    assert_int_equal(wp_engine_add(e, &high, NULL), WP_OK);
    int finish_order[2], n_finished = 0, preemptions = 0;
    for (int step = 1; wp_engine_busy(e); step++) {
        assert_int_equal(wp_engine_step(e, step, &s), WP_OK);
        check(e);
        preemptions += s.n_preempted;
        for (size_t i = 0; i < s.n_events; i++) {
            track(&tr[s.events[i].id], &s.events[i], 20);
            if (s.events[i].type == WP_ENGINE_EV_FINISHED) {
                finish_order[n_finished++] = (int)s.events[i].id;
            }
        }
        wp_engine_req_info_t info;
        if (wp_engine_req_info(e, 2, &info) == WP_OK) {
            assert_int_equal(info.preemptions, 0);
        }
        assert_true(step < 1000);
    }
    assert_true(preemptions >= 1);
    assert_int_equal(n_finished, 2);
    assert_int_equal(finish_order[0], 2);
    assert_int_equal(finish_order[1], 1);
    wp_engine_free(e);
}

static void test_engine_add_errors(void **state)
{
    (void)state;
    wp_engine_config_t c = small_config(10);
    c.max_model_len = 200;
    wp_engine_t *e = make(&c);
    int32_t t[300];
    fill(t, 300, 0);
    wp_err_t err = {{0}};
    wp_engine_req_t r = {.id = 1, .tokens = t, .n_tokens = 150, .max_tokens = 100};
    assert_int_equal(wp_engine_add(e, &r, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "maximum context length is 200 tokens"));
    assert_non_null(strstr(err.msg, "250 tokens (150 in the prompt, 100 in the completion)"));
    r.n_tokens = 150;
    r.max_tokens = 20; /* 169 slots = 11 blocks > 10 */
    assert_int_equal(wp_engine_add(e, &r, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "pool has 10"));
    r.max_tokens = 0;
    assert_int_equal(wp_engine_add(e, &r, &err), WP_EINVAL);
    r.max_tokens = 1;
    r.n_tokens = 0;
    assert_int_equal(wp_engine_add(e, &r, &err), WP_EINVAL);
    r.n_tokens = 100;
    assert_int_equal(wp_engine_add(e, &r, &err), WP_OK);
    assert_int_equal(wp_engine_add(e, &r, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "already"));
    check(e);
    wp_engine_step_t s;
    assert_int_equal(wp_engine_step(e, NAN, &s), WP_EINVAL);
    wp_engine_free(e);

    wp_engine_t *bad = NULL;
    c.perf = NULL;
    assert_int_equal(wp_engine_new(&c, &bad, &err), WP_EINVAL);
    c.perf = &perf;
    c.block_size = 0;
    assert_int_equal(wp_engine_new(&c, &bad, &err), WP_EINVAL);
    assert_null(bad);
}

static void test_engine_config_default(void **state)
{
    (void)state;
    wp_perf_t p;
    wp_err_t err;
    assert_int_equal(
        wp_perf_init(&p, wp_model_find("qwen3-32b"), wp_gpu_find("h100"), 2, NULL, &err), WP_OK);
    wp_engine_config_t c;
    wp_engine_config_default(&c, &p);
    assert_int_equal(c.block_size, 16);
    assert_int_equal(c.num_blocks, wp_perf_kv_capacity_tokens(&p) / 16);
    assert_int_equal(c.max_num_seqs, 1024); /* vLLM's OpenAI-server default on an H100 */
    assert_int_equal(c.max_num_batched_tokens, 8192);
    assert_int_equal(c.max_model_len, 32768);
    assert_true(c.enable_prefix_caching);
    assert_false(c.priority_scheduling);
    wp_engine_t *e = make(&c);
    wp_engine_stats_t st;
    wp_engine_stats(e, &st);
    assert_int_equal(st.num_blocks, 18169); /* 290,704 tokens: docs/models.md, "KV capacity" */
    check(e);
    wp_engine_free(e);
    /* An A100 (80 GB, but excluded by name in vLLM) gets the small-GPU batch defaults. */
    wp_perf_t a;
    assert_int_equal(
        wp_perf_init(&a, wp_model_find("qwen3-8b"), wp_gpu_find("a100"), 1, NULL, &err), WP_OK);
    wp_engine_config_default(&c, &a);
    assert_int_equal(c.max_num_seqs, 256);
    assert_int_equal(c.max_num_batched_tokens, 2048);
}

/* Many requests in groups sharing prefixes, random lengths, random aborts, a pool small
 * enough to force eviction and preemption; validate() after every step. */
/* A consumer of KV events: the set of hashes the engine holds, as the events tell it. */
typedef struct {
    uint64_t h[4096];
    int n;
} mirror_t;

static int mirror_find(const mirror_t *m, uint64_t h)
{
    for (int i = 0; i < m->n; i++) {
        if (m->h[i] == h) {
            return i;
        }
    }
    return -1;
}

static void mirror_apply(mirror_t *m, const wp_engine_step_t *s)
{
    assert_int_equal(s->kv_events_lost, 0);
    for (size_t i = 0; i < s->n_kv_events; i++) {
        const wp_engine_kv_event_t *ev = &s->kv_events[i];
        int at = mirror_find(m, ev->hash);
        if (ev->type == WP_ENGINE_KV_STORED) {
            assert_int_equal(at, -1); /* never stored twice */
            assert_true(ev->has_parent == (ev->block > 0));
            assert_true(m->n < 4096);
            m->h[m->n++] = ev->hash;
        } else {
            assert_true(at >= 0); /* only what was stored is removed */
            m->h[at] = m->h[--m->n];
        }
    }
}

/* The events' view equals the pool: every hashed block, and nothing else. */
static void mirror_check(const mirror_t *m, const wp_engine_t *e)
{
    int hashed = 0;
    for (int32_t b = 0; b < e->kv.num_blocks; b++) {
        if (e->kv.hashed[b]) {
            hashed++;
            assert_true(mirror_find(m, e->kv.hash[b]) >= 0);
        }
    }
    assert_int_equal(hashed, m->n);
}

static void test_engine_randomized(void **state)
{
    (void)state;
    enum { N = 400 };
    wp_engine_config_t c = small_config(300);
    c.max_num_seqs = 32;
    c.max_num_batched_tokens = 512;
    c.kv_events = true;
    wp_engine_t *e = make(&c);
    static mirror_t mirror;
    mirror.n = 0;
    uint64_t removed = 0;
    wp_rng_t rng;
    wp_rng_seed(&rng, 12345);
    static track_t tr[N];
    static int maxt[N];
    static int aborted[N];
    memset(tr, 0, sizeof(tr));
    int32_t *t = malloc(2048 * sizeof(int32_t));
    assert_non_null(t);
    int added = 0, steps = 0, preempted = 0;
    double now = 0.0;
    while (added < N || wp_engine_busy(e)) {
        for (int k = (int)wp_rng_below(&rng, 4); k > 0 && added < N; k--) {
            int group = (int)wp_rng_below(&rng, 8);
            int shared = 64 + group * 40, n = shared + (int)wp_rng_below(&rng, 300) + 1;
            fill(t, shared, group * 10000);
            fill(t + shared, n - shared, (int32_t)(added * 1000 + 500000));
            maxt[added] = 1 + (int)wp_rng_below(&rng, 120);
            wp_engine_req_t r = {.id = (uint64_t)added,
                                 .tokens = t,
                                 .n_tokens = n,
                                 .max_tokens = maxt[added],
                                 .salt = group == 7 ? 99 : 0,
                                 .arrival = now};
            wp_err_t err = {{0}};
            if (wp_engine_add(e, &r, &err) != WP_OK) {
                fail_msg("add: %s", err.msg);
            }
            added++;
        }
        if (wp_rng_below(&rng, 20) == 0 && added > 0) {
            int victim = (int)wp_rng_below(&rng, (uint64_t)added);
            if (!tr[victim].finished && !aborted[victim] &&
                wp_engine_abort(e, (uint64_t)victim) == WP_OK) {
                aborted[victim] = 1;
            }
        }
        wp_engine_step_t s;
        assert_int_equal(wp_engine_step(e, now, &s), WP_OK);
        check(e);
        for (size_t i = 0; i < s.n_kv_events; i++) {
            removed += s.kv_events[i].type == WP_ENGINE_KV_REMOVED;
        }
        mirror_apply(&mirror, &s);
        mirror_check(&mirror, e);
        assert_true(s.batch.prefill_tokens + s.batch.decode_seqs <= 512);
        preempted += s.n_preempted;
        now += s.duration_s > 0 ? s.duration_s : 0.01;
        for (size_t i = 0; i < s.n_events; i++) {
            track(&tr[s.events[i].id], &s.events[i], maxt[s.events[i].id]);
        }
        steps++;
        assert_true(steps < 200000);
    }
    wp_engine_stats_t st;
    wp_engine_stats(e, &st);
    uint64_t gen = 0, done = 0, ab = 0;
    for (int i = 0; i < N; i++) {
        assert_true(tr[i].finished != aborted[i]);
        gen += (uint64_t)tr[i].tokens;
        done += (uint64_t)tr[i].finished;
        ab += (uint64_t)aborted[i];
    }
    assert_int_equal(st.generation_tokens_total, gen);
    assert_int_equal(st.finished[WP_ENGINE_FINISH_LENGTH], done);
    assert_int_equal(st.finished[WP_ENGINE_FINISH_ABORT], ab);
    assert_int_equal(st.num_preemptions_total, (uint64_t)preempted);
    assert_true(st.prefix_hits > 0);
    assert_true(st.kv_usage == 0.0);
    assert_true(removed > 0); /* the pool was small enough to evict */
    print_message("randomized: %d steps, %d preemptions, hits %llu/%llu tokens\n", steps, preempted,
                  (unsigned long long)st.prefix_hits, (unsigned long long)st.prefix_queries);
    free(t);
    wp_engine_free(e);
}

/* Caller-given block hashes name the blocks in the cache and in the events, whatever the
 * tokens: two prompts with the same hashes share their blocks. */
static void test_engine_caller_hashes(void **state)
{
    (void)state;
    wp_engine_config_t c = small_config(64);
    c.kv_events = true;
    wp_engine_t *e = make(&c);
    int32_t t[40];
    fill(t, 40, 1000);
    uint64_t hashes[2] = {0xaaaa, 0xbbbb};
    wp_engine_req_t r = {
        .id = 1, .tokens = t, .n_tokens = 40, .max_tokens = 1, .block_hashes = hashes};
    wp_err_t err = {{0}};
    assert_int_equal(wp_engine_add(e, &r, &err), WP_OK);
    wp_engine_step_t s;
    assert_int_equal(wp_engine_step(e, 0.0, &s), WP_OK);
    assert_int_equal(s.n_kv_events, 2);
    assert_int_equal(s.kv_events[0].type, WP_ENGINE_KV_STORED);
    assert_int_equal(s.kv_events[0].hash, 0xaaaa);
    assert_false(s.kv_events[0].has_parent);
    assert_int_equal(s.kv_events[1].hash, 0xbbbb);
    assert_true(s.kv_events[1].has_parent);
    assert_int_equal(s.kv_events[1].parent, 0xaaaa);
    assert_int_equal(s.kv_events[1].block, 1);
    assert_int_equal(s.kv_events[1].id, 1);
    run_idle(e, 1, NULL);
    fill(t, 40, 7); /* other tokens, the same hashes */
    r.id = 2;
    assert_int_equal(wp_engine_add(e, &r, &err), WP_OK);
    assert_int_equal(run_idle(e, 2, NULL), 32);
    /* The engine's own chain is what wp_engine_hash_prompt gives. */
    uint64_t own[2];
    assert_int_equal(wp_engine_hash_prompt(t, 40, c.block_size, 0, own, 2), 2);
    r = (wp_engine_req_t){.id = 3, .tokens = t, .n_tokens = 40, .max_tokens = 1};
    assert_int_equal(wp_engine_add(e, &r, &err), WP_OK);
    assert_int_equal(wp_engine_step(e, 1.0, &s), WP_OK);
    assert_int_equal(s.n_kv_events, 2);
    assert_int_equal(s.kv_events[0].hash, own[0]);
    assert_int_equal(s.kv_events[1].hash, own[1]);
    wp_engine_free(e);
}

/* The CPU offload tier on paper: a GPU pool of 10 blocks, a tier of 64. A's 4 prompt blocks
 * are evicted by B's and C's into the tier; A again finds them there: cached (loaded, not
 * computed), the step pays the load at the host link's rate, and the KV events say where each
 * block went. */
static void test_engine_cpu_tier(void **state)
{
    (void)state;
    wp_engine_config_t c = small_config(10);
    c.cpu_offload_blocks = 64;
    c.host_bw = 1e9;
    c.kv_events = true;
    c.max_num_seqs = 1;
    wp_engine_t *e = make(&c);
    int32_t a[65], b[130], d[130];
    fill(a, 65, 100);
    fill(b, 130, 5000);
    fill(d, 130, 9000);
    static mirror_t gpu, cpu;
    gpu.n = cpu.n = 0;
    uint64_t want[4];
    assert_int_equal(wp_engine_hash_prompt(a, 65, c.block_size, 0, want, 4), 4);
    const int32_t *prompts[3] = {a, b, d};
    int lens[3] = {65, 130, 130};
    double load_s = 0.0;
    int cached_a2 = -1;
    for (int k = 0; k < 4; k++) {
        int which = k < 3 ? k : 0;
        add(e, (uint64_t)k + 1, prompts[which], lens[which], 1);
        double now = 0.0;
        while (wp_engine_busy(e)) {
            wp_engine_step_t s;
            assert_int_equal(wp_engine_step(e, now, &s), WP_OK);
            check(e);
            load_s += s.load_s;
            now += s.duration_s;
            for (size_t i = 0; i < s.n_kv_events; i++) {
                const wp_engine_kv_event_t *ev = &s.kv_events[i];
                mirror_t *m = ev->cpu ? &cpu : &gpu;
                int at = mirror_find(m, ev->hash);
                if (ev->type == WP_ENGINE_KV_STORED) {
                    assert_int_equal(at, -1);
                    m->h[m->n++] = ev->hash;
                } else {
                    assert_true(at >= 0);
                    m->h[at] = m->h[--m->n];
                }
            }
            for (size_t i = 0; i < s.n_events; i++)
                if (k == 3 && s.events[i].type == WP_ENGINE_EV_FIRST_TOKEN)
                    cached_a2 = s.events[i].cached_tokens;
        }
    }
    /* A's blocks went to the tier and came back: 4 blocks of 16 tokens loaded. */
    assert_int_equal(cached_a2, 64);
    for (int j = 0; j < 4; j++) {
        assert_true(mirror_find(&cpu, want[j]) >= 0); /* the tier keeps its copy */
        assert_true(mirror_find(&gpu, want[j]) >= 0); /* and the GPU holds it again */
    }
    wp_engine_stats_t st;
    wp_engine_stats(e, &st);
    assert_int_equal(st.cpu_hits, 64);
    assert_true(st.cpu_queries >= 65);
    assert_int_equal(st.cpu_blocks, 64);
    assert_int_equal(st.cpu_blocks_used, cpu.n);
    double bytes = 64.0 * perf.kv_bytes_token_gpu;
    assert_true(fabs(st.cpu_loaded_bytes - bytes) < 1e-6 * bytes);
    assert_true(fabs(load_s - bytes / 1e9) < 1e-9 + 1e-6 * load_s);
    wp_engine_free(e);
}

/* The tier's LRU on paper: put, touch, drop the oldest. */
static void test_engine_tier_lru(void **state)
{
    (void)state;
    wp__tier_t t;
    wp_err_t err;
    assert_int_equal(wp__tier_init(&t, 3), WP_OK);
    bool dropped;
    uint64_t gone = 0;
    wp__tier_put(&t, 1, &dropped, &gone);
    wp__tier_put(&t, 2, &dropped, &gone);
    wp__tier_put(&t, 3, &dropped, &gone);
    assert_false(dropped);
    wp__tier_put(&t, 1, &dropped, &gone); /* touched: 2 is the oldest now */
    assert_false(dropped);
    wp__tier_put(&t, 4, &dropped, &gone);
    assert_true(dropped);
    assert_int_equal(gone, 2);
    assert_false(wp__tier_has(&t, 2));
    assert_true(wp__tier_has(&t, 1) && wp__tier_has(&t, 3) && wp__tier_has(&t, 4));
    assert_int_equal(wp__tier_validate(&t, &err), WP_OK);
    wp__tier_free(&t);
    assert_int_equal(wp__tier_init(&t, 0), WP_OK); /* no tier: holds nothing */
    wp__tier_put(&t, 9, &dropped, NULL);
    assert_false(wp__tier_has(&t, 9));
    wp__tier_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_prefix_reuse),
        cmocka_unit_test(test_engine_no_prefix_caching),
        cmocka_unit_test(test_engine_admission_limits),
        cmocka_unit_test(test_engine_chunked_prefill),
        cmocka_unit_test(test_engine_preemption),
        cmocka_unit_test(test_engine_preempted_request_reuses_its_output_blocks),
        cmocka_unit_test(test_engine_abort),
        cmocka_unit_test(test_engine_priority),
        cmocka_unit_test(test_engine_priority_preemption),
        cmocka_unit_test(test_engine_add_errors),
        cmocka_unit_test(test_engine_config_default),
        cmocka_unit_test(test_engine_randomized),
        cmocka_unit_test(test_engine_caller_hashes),
        cmocka_unit_test(test_engine_cpu_tier),
        cmocka_unit_test(test_engine_tier_lru),
    };
    return cmocka_run_group_tests(tests, setup_perf, NULL);
}
