/* Tests for the sched scorers: each formula on hand-computed numbers, the stale-metrics
 * fallbacks, clamping, and the prefix hash chain. Scorers are called through their tables
 * with a hand-built context, the way the pick pipeline calls them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>

#include "base/hash.h"
#include "sched/sched_internal.h"

#define N 3

typedef struct fixture_s {
    wp_sched_config_t cfg;
    wp__sched_ep_t eps[N];
    int cand[N];
    uint32_t matched[WP_SCHED_MAX_ENDPOINTS];
    wp_sched_request_t req;
    wp__sched_ctx_t ctx;
    double out[N];
} fixture_t;

static void fixture_init(fixture_t *f, double now)
{
    memset(f, 0, sizeof(*f));
    wp_sched_config_default(&f->cfg);
    for (int i = 0; i < N; i++) {
        f->eps[i].healthy = true;
        f->cand[i] = i;
    }
    f->req = (wp_sched_request_t){.model = "m", .session_ep = -1};
    f->ctx = (wp__sched_ctx_t){.cfg = &f->cfg,
                               .eps = f->eps,
                               .req = &f->req,
                               .now = now,
                               .n = N,
                               .cand = f->cand,
                               .matched = f->matched};
}

static void set_metrics(fixture_t *f, int ep, double at, double waiting, double kv)
{
    f->eps[ep].has_metrics = true;
    f->eps[ep].has_kv = true;
    f->eps[ep].scraped_at = at;
    f->eps[ep].waiting = waiting;
    f->eps[ep].kv_usage = kv;
}

static void test_scorers_load_aware_formula(void **state)
{
    fixture_t f;
    fixture_init(&f, 10.0);
    set_metrics(&f, 0, 10.0, 0, 0);
    set_metrics(&f, 1, 10.0, 64, 0);  /* 0.5 × (1 − 64/128) = 0.25 */
    set_metrics(&f, 2, 10.0, 200, 0); /* min(200,128)/128 = 1 → 0 */
    wp__sched_scorer_load.score(&f.ctx, f.out);
    assert_float_equal(f.out[0], 0.5, 1e-12);
    assert_float_equal(f.out[1], 0.25, 1e-12);
    assert_float_equal(f.out[2], 0.0, 1e-12);
    set_metrics(&f, 0, 10.0, 1, 0); /* 0.5 × 127/128 = 0.49609375 */
    wp__sched_scorer_load.score(&f.ctx, f.out);
    assert_float_equal(f.out[0], 0.49609375, 1e-12);
    f.cfg.load_threshold = 16; /* q = 64 ≥ T → 0 */
    wp__sched_scorer_load.score(&f.ctx, f.out);
    assert_float_equal(f.out[1], 0.0, 1e-12);
}

/* load-aware counts what runs as well as what waits: q = in_flight + max(0, waiting +
 * running − in_flight at the scrape) with fresh metrics. Two slots busy and nothing
 * queued is not idle. */
static void test_scorers_load_aware_counts_running(void **state)
{
    fixture_t f;
    fixture_init(&f, 10.0);
    set_metrics(&f, 0, 10.0, 0, 0); /* idle: q = 0 → 0.5 */
    set_metrics(&f, 1, 10.0, 0, 0); /* 2 running (another client's), none waiting: q = 2 */
    f.eps[1].running = 2;
    set_metrics(&f, 2, 10.0, 3, 0); /* 3 waiting + 1 running, 4 ours at the scrape: 0 more; */
    f.eps[2].running = 1;           /* 6 in flight now → q = 6 */
    f.eps[2].in_flight_at_scrape = 4;
    f.eps[2].in_flight = 6;
    wp__sched_scorer_load.score(&f.ctx, f.out);
    assert_float_equal(f.out[0], 0.5, 1e-12);
    assert_float_equal(f.out[1], 0.5 * (1.0 - 2.0 / 128.0), 1e-12);
    assert_float_equal(f.out[2], 0.5 * (1.0 - 6.0 / 128.0), 1e-12);
    assert_true(f.out[0] > f.out[1] && f.out[1] > f.out[2]);
    /* Others' requests add to ours: 1 ours at the scrape of 4 seen, 1 in flight now → 4. */
    f.eps[2].in_flight_at_scrape = 1;
    f.eps[2].in_flight = 1;
    assert_float_equal(wp__sched_ep_load(&f.ctx, 2), 4.0, 1e-12);
    /* A scrape stale about our own requests adds nothing: 1 running (ours) at the scrape,
     * finished since → 0. */
    f.eps[2].waiting = 0;
    f.eps[2].in_flight = 0;
    assert_float_equal(wp__sched_ep_load(&f.ctx, 2), 0.0, 1e-12);
    assert_float_equal(wp__sched_ep_load(&f.ctx, 1), 2.0, 1e-12);
    /* Stale metrics: the in-flight count alone. */
    f.ctx.now = 20.0;
    assert_float_equal(wp__sched_ep_load(&f.ctx, 1), 0.0, 1e-12);
    /* queue keeps the reference's waiting-queue count (llm-d's queue-scorer). */
    f.ctx.now = 10.0;
    assert_float_equal(wp__sched_ep_queue(&f.ctx, 1), 0.0, 1e-12);
}

/* An engine without a KV usage series (has_kv false): kv-cache-utilization is neutral. */
static void test_scorers_kv_unknown_is_neutral(void **state)
{
    fixture_t f;
    fixture_init(&f, 1.0);
    set_metrics(&f, 0, 1.0, 0, 0.0);
    set_metrics(&f, 1, 1.0, 0, 0.0);
    f.eps[1].has_kv = false;
    set_metrics(&f, 2, 1.0, 0, 0.9);
    wp__sched_scorer_kv.score(&f.ctx, f.out);
    assert_float_equal(f.out[0], 1.0, 1e-12);
    assert_float_equal(f.out[1], 0.5, 1e-12);
    assert_float_equal(f.out[2], 0.1, 1e-12);
}

static void test_scorers_stale_metrics_fall_back_to_in_flight(void **state)
{
    fixture_t f;
    fixture_init(&f, 10.0);
    set_metrics(&f, 0, 8.0, 100, 0.9); /* exactly 2 s old: still fresh */
    set_metrics(&f, 1, 7.5, 100, 0.9); /* 2.5 s old: stale */
    f.eps[1].in_flight = 32;           /* → q = 32: 0.5 × (1 − 32/128) = 0.375 */
    f.eps[2].in_flight = 0;            /* never scraped, nothing in flight → 0.5 */
    wp__sched_scorer_load.score(&f.ctx, f.out);
    assert_float_equal(f.out[0], 0.5 * (1.0 - 100.0 / 128.0), 1e-12);
    assert_float_equal(f.out[1], 0.375, 1e-12);
    assert_float_equal(f.out[2], 0.5, 1e-12);
    /* kv: fresh → 1 − 0.9; stale or never scraped → neutral 0.5. */
    wp__sched_scorer_kv.score(&f.ctx, f.out);
    assert_float_equal(f.out[0], 0.1, 1e-12);
    assert_float_equal(f.out[1], 0.5, 1e-12);
    assert_float_equal(f.out[2], 0.5, 1e-12);
    /* queue: q = 100 (fresh), 32 (in flight), 0 → (100−q)/100. */
    wp__sched_scorer_queue.score(&f.ctx, f.out);
    assert_float_equal(f.out[0], 0.0, 1e-12);
    assert_float_equal(f.out[1], 0.68, 1e-12);
    assert_float_equal(f.out[2], 1.0, 1e-12);
}

static void test_scorers_queue_formula(void **state)
{
    fixture_t f;
    fixture_init(&f, 0.0);
    set_metrics(&f, 0, 0.0, 10, 0);
    set_metrics(&f, 1, 0.0, 20, 0);
    set_metrics(&f, 2, 0.0, 50, 0); /* min 10, max 50: (50−q)/40 */
    wp__sched_scorer_queue.score(&f.ctx, f.out);
    assert_float_equal(f.out[0], 1.0, 1e-12);
    assert_float_equal(f.out[1], 0.75, 1e-12);
    assert_float_equal(f.out[2], 0.0, 1e-12);
    for (int i = 0; i < N; i++)
        set_metrics(&f, i, 0.0, 7, 0);
    wp__sched_scorer_queue.score(&f.ctx, f.out);
    for (int i = 0; i < N; i++)
        assert_float_equal(f.out[i], 1.0, 1e-12);
}

static void test_scorers_kv_formula(void **state)
{
    fixture_t f;
    fixture_init(&f, 1.0);
    set_metrics(&f, 0, 1.0, 0, 0.0);
    set_metrics(&f, 1, 1.0, 0, 0.3);
    set_metrics(&f, 2, 1.0, 0, 1.0);
    wp__sched_scorer_kv.score(&f.ctx, f.out);
    assert_float_equal(f.out[0], 1.0, 1e-12);
    assert_float_equal(f.out[1], 0.7, 1e-12);
    assert_float_equal(f.out[2], 0.0, 1e-12);
}

/* cache-headroom: 1 − blocks(e) / max blocks, from the prefix index. Endpoint 0 holds 40
 * blocks, 1 holds 10, 2 none: 1 − 40/40 = 0, 1 − 10/40 = 0.75, 1. */
static void test_scorers_cache_headroom_formula(void **state)
{
    fixture_t f;
    fixture_init(&f, 0.0);
    wp_sched_index_t *ix = wp_sched_index_new(1000, NULL);
    assert_non_null(ix);
    f.ctx.index = ix;
    wp__sched_scorer_headroom.score(&f.ctx, f.out);
    for (int i = 0; i < N; i++)
        assert_float_equal(f.out[i], 1.0, 1e-12); /* nothing cached anywhere: all equal */
    uint64_t h[40];
    for (int i = 0; i < 40; i++)
        h[i] = 1000 + (uint64_t)i;
    assert_int_equal(wp_sched_index_insert(ix, 0, h, 40), WP_OK);
    assert_int_equal(wp_sched_index_insert(ix, 1, h, 10), WP_OK);
    wp__sched_scorer_headroom.score(&f.ctx, f.out);
    assert_float_equal(f.out[0], 0.0, 1e-12);
    assert_float_equal(f.out[1], 0.75, 1e-12);
    assert_float_equal(f.out[2], 1.0, 1e-12);
    wp_sched_index_free(ix);
}

/* prefill-queue: cost = pending prefill + uncached prompt tokens (prompt less 16 tokens per
 * held 64-character block); score = (max − cost) / (max − min). A 1000-token prompt:
 * endpoint 0 holds 50 blocks (800 tokens: 200 uncached) but has 1500 pending → 1700;
 * endpoint 1 holds none, 0 pending → 1000; endpoint 2 holds none, 400 pending → 1400.
 * Scores: (1700 − 1700)/700 = 0, (1700 − 1000)/700 = 1, (1700 − 1400)/700 = 3/7. */
static void test_scorers_prefill_queue_formula(void **state)
{
    fixture_t f;
    fixture_init(&f, 0.0);
    f.ctx.prompt_tokens = 1000;
    f.matched[0] = 50;
    f.eps[0].pending_prefill = 1500;
    f.eps[2].pending_prefill = 400;
    wp__sched_scorer_prefill.score(&f.ctx, f.out);
    assert_float_equal(f.out[0], 0.0, 1e-12);
    assert_float_equal(f.out[1], 1.0, 1e-12);
    assert_float_equal(f.out[2], 3.0 / 7.0, 1e-12);
    f.eps[0].pending_prefill = 0; /* now 200 vs 1000 vs 1400: the holder wins */
    wp__sched_scorer_prefill.score(&f.ctx, f.out);
    assert_float_equal(f.out[0], 1.0, 1e-12);
    assert_float_equal(f.out[1], 400.0 / 1200.0, 1e-12);
    assert_float_equal(f.out[2], 0.0, 1e-12);
}

static void test_scorers_least_request_formula(void **state)
{
    fixture_t f;
    fixture_init(&f, 0.0);
    f.eps[0].in_flight = 2;
    f.eps[1].in_flight = 5;
    f.eps[2].in_flight = 6; /* (6 − n)/4 */
    wp__sched_scorer_least_request.score(&f.ctx, f.out);
    assert_float_equal(f.out[0], 1.0, 1e-12);
    assert_float_equal(f.out[1], 0.25, 1e-12);
    assert_float_equal(f.out[2], 0.0, 1e-12);
    f.eps[0].in_flight = f.eps[1].in_flight = f.eps[2].in_flight = 3;
    wp__sched_scorer_least_request.score(&f.ctx, f.out);
    assert_float_equal(f.out[1], 1.0, 1e-12);
}

static void test_scorers_prefix_and_session(void **state)
{
    fixture_t f;
    fixture_init(&f, 0.0);
    f.ctx.n_blocks = 4;
    f.matched[0] = 3;
    f.matched[2] = 4;
    wp__sched_scorer_prefix.score(&f.ctx, f.out);
    assert_float_equal(f.out[0], 0.75, 1e-12);
    assert_float_equal(f.out[1], 0.0, 1e-12);
    assert_float_equal(f.out[2], 1.0, 1e-12);
    f.ctx.n_blocks = 0;
    wp__sched_scorer_prefix.score(&f.ctx, f.out);
    assert_float_equal(f.out[2], 0.0, 1e-12);

    wp__sched_scorer_session.score(&f.ctx, f.out);
    assert_float_equal(f.out[0] + f.out[1] + f.out[2], 0.0, 0);
    f.req.session_ep = 1;
    wp__sched_scorer_session.score(&f.ctx, f.out);
    assert_float_equal(f.out[0], 0.0, 0);
    assert_float_equal(f.out[1], 1.0, 0);
    assert_float_equal(f.out[2], 0.0, 0);
}

static void test_scorers_clamp(void **state)
{
    assert_float_equal(wp__sched_clamp01(-0.5), 0.0, 0);
    assert_float_equal(wp__sched_clamp01(1.5), 1.0, 0);
    assert_float_equal(wp__sched_clamp01(0.25), 0.25, 0);
    assert_float_equal(wp__sched_clamp01(NAN), 0.0, 0);
}

static void test_scorers_hash_chain(void **state)
{
    char text[200];
    for (int i = 0; i < 200; i++)
        text[i] = (char)('a' + i % 26);
    uint64_t h[8];
    /* 200 characters = 3 full blocks of 64; the last 8 characters are ignored. */
    assert_int_equal(wp_sched_hash_chain("m", "salt", text, 200, 64, 256, h), 3);
    uint64_t seed = wp_hash64("m\0salt", 6, 0);
    uint64_t h0 = wp_hash64(text, 64, seed);
    assert_true(h[0] == h0);
    assert_true(h[1] == wp_hash64(text + 64, 64, h0));
    assert_true(h[2] == wp_hash64(text + 128, 64, h[1]));
    /* NULL salt hashes like the empty salt: seed over "m\0". */
    assert_int_equal(wp_sched_hash_chain("m", NULL, text, 200, 64, 256, h), 3);
    assert_true(h[0] == wp_hash64(text, 64, wp_hash64("m\0", 2, 0)));
    /* The cap and the short prompt. */
    assert_int_equal(wp_sched_hash_chain("m", NULL, text, 200, 64, 2, h), 2);
    assert_int_equal(wp_sched_hash_chain("m", NULL, text, 63, 64, 256, h), 0);
    assert_int_equal(wp_sched_hash_chain("m", NULL, NULL, 0, 64, 256, h), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scorers_load_aware_formula),
        cmocka_unit_test(test_scorers_stale_metrics_fall_back_to_in_flight),
        cmocka_unit_test(test_scorers_queue_formula),
        cmocka_unit_test(test_scorers_load_aware_counts_running),
        cmocka_unit_test(test_scorers_kv_unknown_is_neutral),
        cmocka_unit_test(test_scorers_kv_formula),
        cmocka_unit_test(test_scorers_least_request_formula),
        cmocka_unit_test(test_scorers_prefix_and_session),
        cmocka_unit_test(test_scorers_clamp),
        cmocka_unit_test(test_scorers_cache_headroom_formula),
        cmocka_unit_test(test_scorers_prefill_queue_formula),
        cmocka_unit_test(test_scorers_hash_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
