/* Tests for the engine's P/D flags: `hold` (a remote prefill keeps its blocks until
 * wp_engine_release) and `kv_ready` (a remote decode whose prompt KV arrived: its first step
 * is a decode step, its cached tokens are the whole prompt), plus a seeded randomized run of
 * both validated after every step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "base/rng.h"
#include "engine/engine.h"

static wp_perf_t perf;

static int setup_perf(void **state)
{
    (void)state;
    wp_err_t err;
    return wp_perf_init(&perf, wp_model_find("sim-tiny"), wp_gpu_find("h100"), 1, NULL, &err);
}

static wp_engine_t *make(int32_t num_blocks)
{
    wp_engine_config_t c;
    wp_engine_config_default(&c, &perf);
    c.num_blocks = num_blocks;
    c.max_model_len = 4096;
    wp_engine_t *e = NULL;
    wp_err_t err = {{0}};
    if (wp_engine_new(&c, &e, &err) != WP_OK) {
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

static void add(wp_engine_t *e, uint64_t id, const int32_t *t, int n, int max_tokens, bool hold,
                bool kv_ready)
{
    wp_engine_req_t r = {.id = id,
                         .tokens = t,
                         .n_tokens = n,
                         .max_tokens = max_tokens,
                         .hold = hold,
                         .kv_ready = kv_ready};
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

static const wp_engine_event_t *find_event(const wp_engine_step_t *s, uint64_t id,
                                           wp_engine_event_type_t type)
{
    for (size_t i = 0; i < s->n_events; i++) {
        if (s->events[i].id == id && s->events[i].type == type) {
            return &s->events[i];
        }
    }
    return NULL;
}

static void step(wp_engine_t *e, double now, wp_engine_step_t *s)
{
    assert_int_equal(wp_engine_step(e, now, s), WP_OK);
    check(e);
}

static void test_engine_hold_keeps_blocks_until_release(void **state)
{
    (void)state;
    wp_engine_t *e = make(100);
    int32_t t[40], u[64];
    fill(t, 40, 1000);
    fill(u, 64, 5000);
    add(e, 1, t, 40, 1, true, false);
    wp_engine_step_t s;
    step(e, 0.0, &s);
    /* One prefill step of 40 tokens makes the only output token and finishes. */
    assert_non_null(find_event(&s, 1, WP_ENGINE_EV_FIRST_TOKEN));
    assert_non_null(find_event(&s, 1, WP_ENGINE_EV_FINISHED));
    assert_false(wp_engine_busy(e));
    wp_engine_stats_t st;
    wp_engine_stats(e, &st);
    /* 40 + 1 - 1 = 40 token slots = 3 blocks of 16, all still referenced. */
    assert_int_equal(st.num_held, 1);
    assert_int_equal(st.held_blocks, 3);
    assert_true(fabs(st.kv_usage - 0.03) < 1e-12);
    assert_int_equal(st.num_cached_blocks, 0);
    assert_int_equal(st.finished[WP_ENGINE_FINISH_LENGTH], 1);
    wp_engine_req_info_t info;
    assert_int_equal(wp_engine_req_info(e, 1, &info), WP_OK);
    assert_int_equal(info.state, WP_ENGINE_REQ_HELD);
    assert_int_equal(info.num_blocks, 3);
    int32_t blocks[8];
    assert_int_equal(wp_engine_req_blocks(e, 1, blocks, 8), 3);
    assert_int_equal(blocks[0], 0); /* the pool hands out block 0 first */
    assert_int_equal(blocks[1], 1);
    assert_int_equal(blocks[2], 2);
    assert_int_equal(wp_engine_req_blocks(e, 1, blocks, 1), 3); /* count beyond cap */
    assert_int_equal(wp_engine_req_blocks(e, 99, blocks, 8), -1);
    /* Other work runs around it for several steps; the held blocks stay. */
    add(e, 2, u, 64, 4, false, false);
    for (int i = 1; wp_engine_busy(e); i++) {
        step(e, (double)i, &s);
        wp_engine_stats(e, &st);
        assert_int_equal(st.held_blocks, 3);
        assert_int_equal(wp_engine_req_info(e, 1, &info), WP_OK);
        assert_int_equal(info.state, WP_ENGINE_REQ_HELD);
    }
    /* The held prompt is in the prefix cache meanwhile: (40 - 1) / 16 = 2 blocks = 32. */
    add(e, 3, t, 40, 1, false, false);
    step(e, 10.0, &s);
    assert_int_equal(find_event(&s, 3, WP_ENGINE_EV_FIRST_TOKEN)->cached_tokens, 32);
    /* Releasing a request that is not held yet is refused. */
    add(e, 4, u, 64, 3, true, false);
    assert_int_equal(wp_engine_release(e, 4), WP_EINVAL);
    assert_int_equal(wp_engine_abort(e, 4), WP_OK);
    assert_int_equal(wp_engine_release(e, 1), WP_OK);
    check(e);
    wp_engine_stats(e, &st);
    assert_int_equal(st.num_held, 0);
    assert_int_equal(st.held_blocks, 0);
    assert_true(st.kv_usage == 0.0);
    /* Two full blocks of t and four of u stay cached; block 3 of t was partial: freed. */
    assert_int_equal(st.num_cached_blocks, 2 + 4);
    assert_int_equal(wp_engine_release(e, 1), WP_ENOTFOUND);
    assert_int_equal(wp_engine_req_info(e, 1, &info), WP_ENOTFOUND);
    wp_engine_free(e);
}

static void test_engine_hold_abort_releases(void **state)
{
    (void)state;
    wp_engine_t *e = make(50);
    int32_t t[20];
    fill(t, 20, 7);
    add(e, 9, t, 20, 2, true, false);
    wp_engine_step_t s;
    for (double now = 0.0; wp_engine_busy(e); now += 1.0) {
        step(e, now, &s);
    }
    wp_engine_stats_t st;
    wp_engine_stats(e, &st);
    /* 20 + 2 - 1 = 21 slots: 2 blocks. */
    assert_int_equal(st.held_blocks, 2);
    assert_int_equal(wp_engine_abort(e, 9), WP_OK);
    check(e);
    wp_engine_stats(e, &st);
    assert_int_equal(st.num_held, 0);
    assert_int_equal(st.finished[WP_ENGINE_FINISH_ABORT], 0); /* it had finished already */
    /* The id may be reused once released. */
    add(e, 9, t, 20, 1, false, false);
    wp_engine_free(e);
}

static void test_engine_kv_ready_first_step_is_decode(void **state)
{
    (void)state;
    enum { N = 1024 }; /* long enough that a prefill is compute bound on sim-tiny */
    static int32_t t[N];
    fill(t, N, 300);
    /* Local: the first step prefills all N tokens (4.57 ms vs 3.40 ms for the decode). */
    wp_engine_t *local = make(100);
    add(local, 1, t, N, 3, false, false);
    wp_engine_step_t s;
    step(local, 0.0, &s);
    wp_perf_batch_t prefill = {.prefill_tokens = N, .prefill_attn = (double)N * (N + 1) / 2.0};
    assert_int_equal(s.batch.prefill_tokens, N);
    assert_true(s.batch.prefill_attn == prefill.prefill_attn);
    assert_true(s.duration_s == wp_perf_step_time(&perf, &prefill));
    assert_int_equal(find_event(&s, 1, WP_ENGINE_EV_FIRST_TOKEN)->cached_tokens, 0);
    wp_engine_free(local);
    /* Remote KV: one token (the last of the prompt) over a context of N, as a decode. */
    wp_engine_t *e = make(100);
    add(e, 1, t, N, 3, false, true);
    step(e, 0.0, &s);
    wp_perf_batch_t decode = {.decode_seqs = 1, .decode_ctx = N};
    assert_int_equal(s.batch.prefill_tokens, 0);
    assert_int_equal(s.batch.decode_seqs, 1);
    assert_int_equal(s.batch.decode_ctx, N);
    assert_true(s.duration_s == wp_perf_step_time(&perf, &decode));
    assert_true(s.duration_s < wp_perf_step_time(&perf, &prefill));
    const wp_engine_event_t *ev = find_event(&s, 1, WP_ENGINE_EV_FIRST_TOKEN);
    assert_non_null(ev);
    assert_int_equal(ev->cached_tokens, N);
    wp_engine_req_info_t info;
    assert_int_equal(wp_engine_req_info(e, 1, &info), WP_OK);
    assert_int_equal(info.num_blocks, N / 16);
    assert_int_equal(info.computed_tokens, N);
    /* The next steps are ordinary decodes: context N + 1 (a new block), then N + 2. */
    step(e, 1.0, &s);
    assert_int_equal(s.batch.decode_ctx, N + 1);
    step(e, 2.0, &s);
    assert_non_null(find_event(&s, 1, WP_ENGINE_EV_FINISHED));
    /* The pulled prompt now serves the local prefix cache: (N - 1) / 16 = 63 blocks = 1008. */
    add(e, 2, t, N, 1, false, false);
    step(e, 3.0, &s);
    assert_int_equal(find_event(&s, 2, WP_ENGINE_EV_FIRST_TOKEN)->cached_tokens, 1008);
    wp_engine_stats_t st;
    wp_engine_stats(e, &st);
    assert_int_equal(st.prompt_tokens_total, 2 * N);
    wp_engine_free(e);
}

static void test_engine_kv_ready_needs_blocks(void **state)
{
    (void)state;
    /* 6 blocks: a held 40-token prompt takes 3; a kv_ready 64-token prompt needs 4 and waits
     * until the held one is released. */
    wp_engine_t *e = make(6);
    int32_t t[40], u[64];
    fill(t, 40, 1);
    fill(u, 64, 900);
    add(e, 1, t, 40, 1, true, false);
    wp_engine_step_t s;
    step(e, 0.0, &s);
    add(e, 2, u, 64, 1, false, true);
    step(e, 1.0, &s);
    assert_int_equal(s.n_scheduled, 0);
    wp_engine_stats_t st;
    wp_engine_stats(e, &st);
    assert_int_equal(st.num_waiting, 1);
    assert_int_equal(wp_engine_release(e, 1), WP_OK);
    step(e, 2.0, &s);
    assert_int_equal(s.batch.decode_seqs, 1);
    assert_int_equal(find_event(&s, 2, WP_ENGINE_EV_FIRST_TOKEN)->cached_tokens, 64);
    assert_non_null(find_event(&s, 2, WP_ENGINE_EV_FINISHED));
    check(e);
    wp_engine_free(e);
}

/* Random adds with random flags, random releases of held requests, validated every step. */
static void test_engine_pd_randomized(void **state)
{
    (void)state;
    wp_rng_t rng;
    wp_rng_seed(&rng, 42);
    wp_engine_t *e = make(64);
    static int32_t toks[512];
    fill(toks, 512, 11);
    uint64_t next = 1, held[256];
    int n_held = 0;
    double now = 0.0;
    for (int it = 0; it < 2000; it++) {
        if (wp_rng_below(&rng, 3) == 0) {
            int n = 1 + (int)wp_rng_below(&rng, 200);
            int off = (int)wp_rng_below(&rng, 4) * 32;
            wp_engine_req_t r = {.id = next,
                                 .tokens = toks + off,
                                 .n_tokens = n,
                                 .max_tokens = 1 + (int)wp_rng_below(&rng, 8),
                                 .hold = wp_rng_below(&rng, 2) == 0,
                                 .kv_ready = wp_rng_below(&rng, 2) == 0};
            if (wp_engine_add(e, &r, NULL) == WP_OK && r.hold && n_held < 256) {
                held[n_held++] = next;
            }
            next++;
        }
        if (n_held > 0 && wp_rng_below(&rng, 4) == 0) {
            int k = (int)wp_rng_below(&rng, (uint64_t)n_held);
            wp_status_t st = wp_engine_release(e, held[k]);
            assert_true(st == WP_OK || st == WP_EINVAL);
            if (st == WP_OK) {
                held[k] = held[--n_held];
            }
        }
        wp_engine_step_t s;
        step(e, now, &s);
        now += s.duration_s;
    }
    for (int k = 0; k < n_held; k++) {
        wp_engine_abort(e, held[k]);
    }
    check(e);
    wp_engine_stats_t st;
    wp_engine_stats(e, &st);
    assert_int_equal(st.num_held, 0);
    wp_engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_hold_keeps_blocks_until_release),
        cmocka_unit_test(test_engine_hold_abort_releases),
        cmocka_unit_test(test_engine_kv_ready_first_step_is_decode),
        cmocka_unit_test(test_engine_kv_ready_needs_blocks),
        cmocka_unit_test(test_engine_pd_randomized),
    };
    return cmocka_run_group_tests(tests, setup_perf, NULL);
}
