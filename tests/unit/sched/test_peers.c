/* Tests for the peer policies (llm-d, sglang-cache-aware, dynamo-kv): each decision on
 * hand-built endpoint states, both sides of every threshold, the cost arithmetic worked
 * by hand (docs/policies.md repeats each worked case), dynamo-kv's active blocks (a prefix
 * shared by requests in flight counts once; a completion removes that request's blocks),
 * SGLang's tree size, determinism with a seed, the config checks, and the scheduler's
 * invariants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include <cmocka.h>

#include "sched/sched.h"

#define MODEL "qwen3-32b"
/* Slots of a request's chain buffer: more than any prompt here has blocks. */
#define CHAIN 512

static void assert_valid(const wp_sched_t *s)
{
    wp_err_t err = {{0}};
    if (wp_sched_validate(s, &err) != WP_OK)
        fail_msg("validate: %s", err.msg);
}

static wp_sched_config_t config_for(const char *policy)
{
    wp_sched_config_t c;
    wp_sched_config_default(&c);
    wp_err_t err;
    if (wp_sched_config_set_policy(&c, policy, &err) != WP_OK)
        fail_msg("set_policy: %s", err.msg);
    return c;
}

static wp_sched_t *make(const wp_sched_config_t *cfg, int n)
{
    wp_err_t err;
    wp_sched_t *s = wp_sched_new(cfg, &err);
    if (!s)
        fail_msg("new: %s", err.msg);
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "ep%d", i);
        assert_int_equal(wp_sched_endpoint_add(s, name, WP_SCHED_ROLE_BOTH), i);
    }
    return s;
}

/* `blocks` blocks of 64 characters made from seed, then `tail` more characters. */
static void make_text(char *buf, int blocks, int tail, int seed)
{
    int len = blocks * 64 + tail;
    for (int c = 0; c < len; c++)
        buf[c] = (char)('a' + (seed * 7 + (c / 64) * 13 + c) % 26);
    buf[len] = 0;
}

/* A request for text whose picks hash into chain (CHAIN slots, the caller's: it must outlive
 * the picks dispatched with it). */
static wp_sched_request_t req_for(const char *text, uint64_t *chain)
{
    return (wp_sched_request_t){.model = MODEL,
                                .prompt = text,
                                .prompt_len = strlen(text),
                                .session_ep = -1,
                                .hash_buf = chain,
                                .hash_cap = CHAIN};
}

/* The index learns that ep holds the first `blocks` blocks of text. */
static void teach(wp_sched_t *s, int ep, const char *text, size_t blocks)
{
    uint64_t h[CHAIN];
    size_t n = wp_sched_hash_chain(MODEL, NULL, text, strlen(text), 64, CHAIN, h);
    assert_true(blocks <= n);
    assert_int_equal(wp_sched_index_insert(wp_sched_index(s), ep, h, blocks), WP_OK);
}

/* Puts `count` more requests in flight on ep, without teaching the index anything. */
static void load(wp_sched_t *s, int ep, int count)
{
    wp_sched_pick_t p = {.endpoint = ep, .n_blocks = 0};
    for (int i = 0; i < count; i++)
        assert_int_equal(wp_sched_on_dispatch(s, &p), WP_OK);
}

/* The pick of r with an rng seeded with seed (not dispatched). */
static wp_sched_pick_t pick_of(wp_sched_t *s, double now, const wp_sched_request_t *r,
                               uint64_t seed)
{
    wp_rng_t rng;
    wp_rng_seed(&rng, seed);
    wp_sched_pick_t p;
    wp_err_t err;
    if (wp_sched_pick(s, now, r, &rng, &p, &err) != WP_OK)
        fail_msg("pick: %s", err.msg);
    return p;
}

static int pick_ep(wp_sched_t *s, double now, const wp_sched_request_t *r, uint64_t seed)
{
    return pick_of(s, now, r, seed).endpoint;
}

/* ---- registry and config ---- */

static void test_peers_registered(void **state)
{
    const char *names[] = {"llm-d", "sglang-cache-aware", "dynamo-kv"};
    for (int i = 0; i < 3; i++) {
        wp_sched_config_t c = config_for(names[i]);
        wp_sched_t *s = make(&c, 2);
        assert_valid(s);
        wp_sched_free(s);
    }
    wp_sched_config_t c;
    wp_sched_config_default(&c);
    wp_err_t err;
    assert_int_equal(wp_sched_config_set_policy(&c, "sglang", &err), WP_EINVAL);
    const char *listed[] = {
        "round-robin",       "random", "least-request", "load-aware", "prefix-aware",
        "topology",          "llm-d",  "dynamo-kv",     "queue",      "kv-cache-utilization",
        "sglang-cache-aware"};
    for (size_t i = 0; i < sizeof(listed) / sizeof(listed[0]); i++)
        assert_non_null(strstr(err.msg, listed[i]));
}

static void test_peers_config_defaults_and_checks(void **state)
{
    wp_sched_config_t c;
    wp_sched_config_default(&c);
    assert_float_equal(c.sglang_cache_threshold, 0.5, 0);
    assert_float_equal(c.sglang_balance_abs, 32, 0);
    assert_float_equal(c.sglang_balance_rel, 1.0001, 0);
    assert_float_equal(c.dynamo_overlap_weight, 1.0, 0);
    assert_int_equal(c.sglang_max_tree_chars, 1u << 24);
    wp_err_t err;
    wp_sched_config_t bad = c;
    bad.sglang_cache_threshold = 1.5;
    assert_int_equal(wp_sched_config_validate(&bad, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "cache_threshold"));
    bad = c;
    bad.sglang_balance_abs = -1;
    assert_int_equal(wp_sched_config_validate(&bad, &err), WP_EINVAL);
    bad = c;
    bad.sglang_balance_rel = NAN;
    assert_int_equal(wp_sched_config_validate(&bad, &err), WP_EINVAL);
    bad = c;
    bad.dynamo_overlap_weight = INFINITY;
    assert_int_equal(wp_sched_config_validate(&bad, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "overlap_weight"));
    bad = c;
    bad.sglang_max_tree_chars = 0;
    assert_int_equal(wp_sched_config_validate(&bad, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "max_tree_size"));
    assert_int_equal(wp_sched_config_validate(&c, &err), WP_OK);
}

static void test_peers_set_capacity(void **state)
{
    wp_sched_config_t c = config_for("dynamo-kv");
    wp_sched_t *s = make(&c, 2);
    assert_int_equal(wp_sched_endpoint_set_capacity(s, 1, 19200), WP_OK);
    assert_int_equal(wp_sched_endpoint_set_capacity(s, 2, 1), WP_EINVAL);
    assert_int_equal(wp_sched_endpoint_set_capacity(s, -1, 1), WP_EINVAL);
    assert_valid(s);
    wp_sched_free(s);
}

/* ---- llm-d ---- */

/* llm-d must equal the topology policy configured by hand with the same three scorers at
 * the guide's weights (prefix 3, queue 2, KV 2) and max-score: same winner, same total,
 * same per-scorer values, on a series of states mixing prefix matches, queues, KV usage
 * and stale metrics. */
static void test_peers_llmd_equals_manual_config(void **state)
{
    wp_sched_config_t a = config_for("llm-d");
    wp_sched_config_t m;
    wp_sched_config_default(&m);
    m.n_scorers = 0;
    wp_err_t err;
    assert_int_equal(wp_sched_config_add_scorer(&m, "prefix-aware", 3, &err), WP_OK);
    assert_int_equal(wp_sched_config_add_scorer(&m, "queue", 2, &err), WP_OK);
    assert_int_equal(wp_sched_config_add_scorer(&m, "kv-cache-utilization", 2, &err), WP_OK);
    wp_sched_t *sa = make(&a, 4), *sm = make(&m, 4);
    wp_rng_t ra, rm, world;
    wp_rng_seed(&ra, 7);
    wp_rng_seed(&rm, 7);
    wp_rng_seed(&world, 99);
    char text[64 * 12 + 1];
    uint64_t chain[CHAIN]; /* each pick is dispatched at once and never completed */
    for (int step = 0; step < 300; step++) {
        double now = step * 0.1;
        for (int e = 0; e < 4; e++) {
            if (wp_rng_below(&world, 4) == 0)
                continue; /* leave this one's metrics to go stale */
            double q = (double)wp_rng_below(&world, 20), kv = wp_rng_double(&world);
            assert_int_equal(wp_sched_endpoint_set_metrics(sa, e, now, q, 1, kv), WP_OK);
            assert_int_equal(wp_sched_endpoint_set_metrics(sm, e, now, q, 1, kv), WP_OK);
        }
        make_text(text, 1 + (int)wp_rng_below(&world, 11), 5, (int)wp_rng_below(&world, 6));
        wp_sched_request_t r = req_for(text, chain);
        wp_sched_pick_t pa, pm;
        assert_int_equal(wp_sched_pick(sa, now, &r, &ra, &pa, &err), WP_OK);
        assert_int_equal(wp_sched_pick(sm, now, &r, &rm, &pm, &err), WP_OK);
        assert_int_equal(pa.endpoint, pm.endpoint);
        assert_float_equal(pa.total, pm.total, 1e-12);
        assert_int_equal(pa.n_scores, 3);
        for (int k = 0; k < 3; k++) {
            assert_string_equal(pa.scores[k].name, pm.scores[k].name);
            assert_float_equal(pa.scores[k].raw, pm.scores[k].raw, 1e-12);
        }
        assert_int_equal(wp_sched_on_dispatch(sa, &pa), WP_OK);
        assert_int_equal(wp_sched_on_dispatch(sm, &pm), WP_OK);
    }
    assert_valid(sa);
    assert_valid(sm);
    wp_sched_free(sa);
    wp_sched_free(sm);
}

/* 3:2:2 by hand (prefix, queue, KV): ep0 holds 4 of 4 blocks, waiting 10, KV 0.6 →
 * 3 × 1 + 2 × 0 + 2 × 0.4 = 3.8; ep1 holds none, waiting 0, KV 0.2 → 0 + 2 × 1 + 2 × 0.8
 * = 3.6. ep0 wins (at 1:1:1 it would lose, 1.4 against 1.8). With ep0's KV at 0.9 it is
 * 3.2 and ep1 wins with 3.6; with ep1 waiting 10 too, ep1 is 1.6 and ep0 wins again. */
static void test_peers_llmd_hand_numbers(void **state)
{
    wp_sched_config_t c = config_for("llm-d");
    wp_sched_t *s = make(&c, 2);
    char text[64 * 4 + 1];
    make_text(text, 4, 0, 1);
    teach(s, 0, text, 4);
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 0, 1.0, 10, 4, 0.6), WP_OK);
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 1, 1.0, 0, 4, 0.2), WP_OK);
    uint64_t chain[CHAIN];
    wp_sched_request_t r = req_for(text, chain);
    wp_sched_pick_t p = pick_of(s, 1.0, &r, 1);
    assert_int_equal(p.endpoint, 0);
    assert_float_equal(p.total, 3.8, 1e-12);
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 0, 1.0, 10, 4, 0.9), WP_OK);
    p = pick_of(s, 1.0, &r, 1);
    assert_int_equal(p.endpoint, 1);
    assert_float_equal(p.total, 3.6, 1e-12);
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 1, 1.0, 10, 4, 0.2), WP_OK);
    assert_int_equal(pick_ep(s, 1.0, &r, 1), 0);
    wp_sched_free(s);
}

/* ---- sglang-cache-aware ---- */

/* Three endpoints; ep0 holds the whole prompt. Returns the scheduler with the given
 * in-flight loads on ep0, ep1, ep2. */
static wp_sched_t *sglang_world(const wp_sched_config_t *c, const char *text, int l0, int l1,
                                int l2)
{
    wp_sched_t *s = make(c, 3);
    teach(s, 0, text, 8);
    load(s, 0, l0);
    load(s, 1, l1);
    load(s, 2, l2);
    return s;
}

static void test_peers_sglang_absolute_threshold(void **state)
{
    wp_sched_config_t c = config_for("sglang-cache-aware");
    char text[64 * 8 + 1];
    make_text(text, 8, 0, 3);
    uint64_t chain[CHAIN];
    wp_sched_request_t r = req_for(text, chain);
    /* max − min = 37 − 5 = 32, not > 32: balanced, the full match on ep0 wins. */
    wp_sched_t *s = sglang_world(&c, text, 37, 5, 9);
    for (uint64_t seed = 0; seed < 20; seed++)
        assert_int_equal(pick_ep(s, 0, &r, seed), 0);
    wp_sched_free(s);
    /* 38 − 5 = 33 > 32 and 38 > 1.0001 × 5: imbalanced, the least-loaded ep1 wins. */
    s = sglang_world(&c, text, 38, 5, 9);
    for (uint64_t seed = 0; seed < 20; seed++)
        assert_int_equal(pick_ep(s, 0, &r, seed), 1);
    assert_valid(s);
    wp_sched_free(s);
}

static void test_peers_sglang_relative_threshold(void **state)
{
    wp_sched_config_t c = config_for("sglang-cache-aware");
    c.sglang_balance_rel = 10.0;
    char text[64 * 8 + 1];
    make_text(text, 8, 0, 3);
    uint64_t chain[CHAIN];
    wp_sched_request_t r = req_for(text, chain);
    /* 50 − 5 = 45 > 32, but 50 > 10 × 5 is false: balanced, ep0 by prefix. */
    wp_sched_t *s = sglang_world(&c, text, 50, 5, 9);
    assert_int_equal(pick_ep(s, 0, &r, 1), 0);
    wp_sched_free(s);
    /* 51 > 50: imbalanced, least-loaded ep1. */
    s = sglang_world(&c, text, 51, 5, 9);
    assert_int_equal(pick_ep(s, 0, &r, 1), 1);
    wp_sched_free(s);
}

/* Imbalanced with two endpoints tied at the lowest load: both get picked across seeds. */
static void test_peers_sglang_shortest_queue_ties(void **state)
{
    wp_sched_config_t c = config_for("sglang-cache-aware");
    c.sglang_balance_abs = 2;
    char text[64 * 8 + 1];
    make_text(text, 8, 0, 3);
    uint64_t chain[CHAIN];
    wp_sched_request_t r = req_for(text, chain);
    wp_sched_t *s = sglang_world(&c, text, 10, 1, 1);
    int seen[3] = {0};
    for (uint64_t seed = 0; seed < 64; seed++)
        seen[pick_ep(s, 0, &r, seed)]++;
    assert_int_equal(seen[0], 0);
    assert_true(seen[1] > 0 && seen[2] > 0);
    wp_sched_free(s);
}

/* Match rate = matched / hashed blocks against cache_threshold 0.5 (strictly above).
 * Prompt: 10 blocks. Index: ep0 holds the first 6 (or 5) prompt blocks; ep1 holds 3 blocks
 * of another text; ep2 holds 1 block of another text. Loads equal (balanced). */
static void test_peers_sglang_match_rate_threshold(void **state)
{
    wp_sched_config_t c = config_for("sglang-cache-aware");
    char text[64 * 10 + 1], other[64 * 10 + 1];
    make_text(text, 10, 0, 4);
    make_text(other, 10, 0, 5);
    uint64_t chain[CHAIN];
    wp_sched_request_t r = req_for(text, chain);
    for (int held = 6; held >= 5; held--) {
        wp_sched_t *s = make(&c, 3);
        teach(s, 0, text, (size_t)held);
        teach(s, 1, other, 3);
        teach(s, 2, other, 1);
        /* 6/10 = 0.6 > 0.5: the longest match, ep0. 5/10 = 0.5, not above: the smallest
         * tree, ep2 (1 block, against 3 and 5). */
        int want = held == 6 ? 0 : 2;
        for (uint64_t seed = 0; seed < 10; seed++)
            assert_int_equal(pick_ep(s, 0, &r, seed), want);
        assert_valid(s);
        wp_sched_free(s);
    }
}

/* A prompt with no full block has match rate 0: the smallest tree wins, and a fresh
 * endpoint (empty tree) beats one that has learnt something. */
static void test_peers_sglang_short_prompt_goes_to_smallest_tree(void **state)
{
    wp_sched_config_t c = config_for("sglang-cache-aware");
    char other[64 * 4 + 1];
    make_text(other, 4, 0, 6);
    wp_sched_t *s = make(&c, 2);
    teach(s, 0, other, 4);
    uint64_t chain[CHAIN];
    wp_sched_request_t r = req_for("hello", chain);
    assert_int_equal(pick_ep(s, 0, &r, 3), 1);
    wp_sched_free(s);
}

/* SGLang sizes its trees in characters per worker (max_tree_size), not by the llm-d LRU:
 * with the default 2^24 characters an endpoint's entry holds 262,144 blocks of 64, so
 * 40,000 blocks all stay where llm-d's index keeps its 31,250; a tree of 4 blocks' worth
 * (256 characters) keeps the 4 leading blocks of a 6-block prompt, the least recently
 * used going first. */
static void test_peers_sglang_tree_size(void **state)
{
    enum { MANY = 40000 };
    uint64_t *h = malloc(MANY * sizeof(*h));
    assert_non_null(h);
    for (uint64_t i = 0; i < MANY; i++)
        h[i] = i * 0x9e3779b97f4a7c15ULL + 1;
    const char *names[] = {"sglang-cache-aware", "llm-d"};
    const size_t held[] = {MANY, 31250};
    for (int k = 0; k < 2; k++) {
        wp_sched_config_t c = config_for(names[k]);
        wp_sched_t *s = make(&c, 1);
        assert_int_equal(wp_sched_index_insert(wp_sched_index(s), 0, h, MANY), WP_OK);
        assert_int_equal(wp_sched_index_endpoint_blocks(wp_sched_index(s), 0), held[k]);
        assert_valid(s);
        wp_sched_free(s);
    }
    free(h);
    wp_sched_config_t c = config_for("sglang-cache-aware");
    c.sglang_max_tree_chars = 4 * 64;
    wp_sched_t *s = make(&c, 2);
    char text[64 * 6 + 1];
    make_text(text, 6, 0, 12);
    teach(s, 0, text, 6);
    assert_int_equal(wp_sched_index_endpoint_blocks(wp_sched_index(s), 0), 4);
    uint64_t chain[CHAIN];
    wp_sched_request_t r = req_for(text, chain);
    wp_sched_pick_t p = pick_of(s, 0, &r, 1);
    assert_int_equal(p.endpoint, 0); /* 4 of 6 blocks: 0.67 > 0.5 */
    assert_int_equal(p.matched_blocks, 4);
    assert_valid(s);
    wp_sched_free(s);
}

/* ---- dynamo-kv ---- */

/* Puts one request of `blocks` 16-token blocks in flight on ep: a prompt none of whose
 * blocks are hashed (or cached there), so all of them count as its own; with prefilled,
 * its prefill has ended, so only its blocks count, not its prefill. Returns its pick. */
static wp_sched_pick_t dispatch_blocks(wp_sched_t *s, int ep, int blocks, bool prefilled)
{
    wp_sched_pick_t p = {
        .endpoint = ep, .prefill_tokens = 16.0 * blocks, .prompt_tokens = 16.0 * blocks};
    assert_int_equal(wp_sched_on_dispatch(s, &p), WP_OK);
    if (prefilled)
        assert_int_equal(wp_sched_on_prefill_done(s, &p), WP_OK);
    return p;
}

/* Prompt: 8 full blocks (512 characters = 128 tokens = 8 KV blocks of 16 tokens). ep0 holds
 * all 8 in its prefix index, ep1 none. ep0 runs requests of `active` blocks in all, prefill
 * done, plus one of `pending` blocks still prefilling, none of them sharing a block with
 * the prompt; ep1 runs nothing. By hand, at weight w:
 *   ep0: w × (0 + pending) + (active + pending) + 8 new blocks (none of the prompt's is active)
 *   ep1: w × 8 + 8 new blocks = 8 (w + 1)
 * so the holder wins while its in-flight blocks, active + (w + 1) × pending, stay under the
 * prefill it saves, 8w; at a tie Dynamo prefers the smaller tree (ep1, which holds nothing). */
static void test_peers_dynamo_table(void **state)
{
    static const struct {
        double w;
        int active, pending, want;
    } rows[] = {
        {1, 7, 0, 0},  /* 15 < 16 */
        {1, 8, 0, 1},  /* 16 = 16: tie, ep1's tree is smaller */
        {1, 9, 0, 1},  /* 17 > 16 */
        {2, 15, 0, 0}, /* 23 < 24 */
        {2, 17, 0, 1}, /* 25 > 24 */
        {0, 0, 0, 1},  /* weight 0, idle: 8 = 8, the smaller tree */
        {0, 1, 0, 1},  /* 9 > 8: weight 0 is load only, in blocks */
        {1, 3, 2, 0},  /* 2 + 3 + 2 + 8 = 15 < 16 */
        {1, 3, 3, 1},  /* 3 + 3 + 3 + 8 = 17 > 16 */
    };
    char text[64 * 8 + 1];
    make_text(text, 8, 0, 8);
    uint64_t chain[CHAIN];
    wp_sched_request_t r = req_for(text, chain);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        wp_sched_config_t c = config_for("dynamo-kv");
        c.dynamo_overlap_weight = rows[i].w;
        wp_sched_t *s = make(&c, 2);
        teach(s, 0, text, 8);
        if (rows[i].active > 0)
            dispatch_blocks(s, 0, rows[i].active, true);
        if (rows[i].pending > 0)
            dispatch_blocks(s, 0, rows[i].pending, false);
        for (uint64_t seed = 0; seed < 8; seed++)
            if (pick_ep(s, 1.0, &r, seed) != rows[i].want)
                fail_msg("row %zu (w %g, active %d, pending %d): seed %llu picked ep%d", i,
                         rows[i].w, rows[i].active, rows[i].pending, (unsigned long long)seed,
                         1 - rows[i].want);
        assert_valid(s);
        wp_sched_free(s);
    }
}

/* Scraped metrics play no part: ep0 reports a full KV cache and a long queue, ep1 an empty
 * one, but ep1 runs a 20-block request the router sent and ep0 nothing, so ep0 wins
 * (4-block prompt, nothing cached: ep0 4 + 4 = 8, ep1 4 + 20 + 4 = 28). Completing ep1's
 * request leaves it no blocks (validate checks it), and the tie is then broken at random. */
static void test_peers_dynamo_router_blocks_not_metrics(void **state)
{
    wp_sched_config_t c = config_for("dynamo-kv");
    wp_sched_t *s = make(&c, 2);
    for (int e = 0; e < 2; e++)
        assert_int_equal(wp_sched_endpoint_set_capacity(s, e, 1000), WP_OK);
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 0, 1.0, 30, 8, 1.0), WP_OK);
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 1, 1.0, 0, 0, 0.0), WP_OK);
    wp_sched_pick_t big = dispatch_blocks(s, 1, 20, true);
    assert_int_equal(wp_sched_endpoint_active_blocks(s, 1), 20);
    char text[64 * 4 + 1];
    make_text(text, 4, 0, 9);
    uint64_t chain[CHAIN];
    wp_sched_request_t r = req_for(text, chain);
    assert_int_equal(pick_ep(s, 1.0, &r, 2), 0);
    assert_int_equal(wp_sched_on_complete(s, &big), WP_OK);
    assert_int_equal(wp_sched_endpoint_active_blocks(s, 1), 0);
    assert_valid(s);
    int seen[2] = {0};
    for (uint64_t seed = 0; seed < 64; seed++)
        seen[pick_ep(s, 1.0, &r, seed)]++;
    assert_true(seen[0] > 0 && seen[1] > 0);
    wp_sched_free(s);
}

/* `shared` blocks of one system prompt, then `own` blocks from seed. */
static void make_shared(char *buf, int shared, int own, int seed)
{
    make_text(buf, shared + own, 0, 0);
    char mine[64 * 16 + 1];
    make_text(mine, shared + own, 0, seed);
    memcpy(buf + 64 * shared, mine + 64 * shared, (size_t)own * 64);
}

/* The pick of r on ep alone (every other endpoint excluded), dispatched. */
static wp_sched_pick_t send_to(wp_sched_t *s, int ep, const wp_sched_request_t *r)
{
    uint64_t ex[WP_SCHED_EXCLUDE_WORDS];
    memset(ex, 0xff, sizeof(ex));
    ex[ep / 64] &= ~(1ULL << (ep % 64));
    wp_sched_request_t only = *r;
    only.exclude = ex;
    wp_sched_pick_t p = pick_of(s, 0, &only, 1);
    assert_int_equal(p.endpoint, ep);
    assert_int_equal(wp_sched_on_dispatch(s, &p), WP_OK);
    return p;
}

/* Two requests in flight on ep0 share a 6-block system prompt and have 2 blocks of their
 * own each (8 blocks, 128 tokens): ep0's active blocks are 6 + 2 + 2 = 10, not 16. The
 * second found the system prompt cached, so it owes 2 blocks of prefill (32 tokens), the
 * first all 8 (128): 160 pending, and the second's prefill-done takes exactly its 32.
 * A third request with the same system prompt, both prefills done, by hand at weight 1:
 *   ep0: prefill 2 (6 of 8 cached) + active 10 + new 2 (its own; the 6 shared are active) = 14
 *   ep1: prefill 8 + active 0 + new 8 = 16
 * so ep0 wins; counting each request's blocks apart (16 active) it would cost 20 and lose.
 * When the first ends its own 2 blocks leave and the shared 6 stay (8 active): the second
 * still holds them. Blocks the hashes do not name (a prompt longer than its hashed text)
 * count once per request: 4 hashed blocks of a 10-block prompt are 4 + 6; twice, 4 + 12. */
static void test_peers_dynamo_shared_prefix_counts_once(void **state)
{
    wp_sched_config_t c = config_for("dynamo-kv");
    wp_sched_t *s = make(&c, 2);
    char t1[64 * 8 + 1], t2[64 * 8 + 1], t3[64 * 8 + 1];
    make_shared(t1, 6, 2, 1);
    make_shared(t2, 6, 2, 2);
    make_shared(t3, 6, 2, 3);
    uint64_t c1[CHAIN], c2[CHAIN], c3[CHAIN];
    wp_sched_request_t r1 = req_for(t1, c1), r2 = req_for(t2, c2), r3 = req_for(t3, c3);
    wp_sched_pick_t p1 = send_to(s, 0, &r1);
    wp_sched_pick_t p2 = send_to(s, 0, &r2);
    assert_int_equal(p2.matched_blocks, 6);
    assert_int_equal(wp_sched_endpoint_active_blocks(s, 0), 10);
    assert_float_equal(wp_sched_endpoint_load(s, 0).pending_prefill, 128 + 32, 0);
    assert_int_equal(wp_sched_on_prefill_done(s, &p2), WP_OK);
    assert_float_equal(wp_sched_endpoint_load(s, 0).pending_prefill, 128, 0);
    assert_int_equal(wp_sched_on_prefill_done(s, &p1), WP_OK);
    for (uint64_t seed = 0; seed < 8; seed++)
        assert_int_equal(pick_ep(s, 0, &r3, seed), 0);
    assert_int_equal(wp_sched_on_complete(s, &p1), WP_OK);
    assert_int_equal(wp_sched_endpoint_active_blocks(s, 0), 8);
    assert_int_equal(wp_sched_on_complete(s, &p2), WP_OK);
    assert_int_equal(wp_sched_endpoint_active_blocks(s, 0), 0);
    assert_valid(s);

    uint64_t h[4];
    assert_int_equal(wp_sched_hash_chain(MODEL, NULL, t3, 256, 64, CHAIN, h), 4);
    wp_sched_request_t longer = {
        .model = MODEL, .session_ep = -1, .hashes = h, .n_hashes = 4, .prompt_tokens = 160};
    wp_sched_pick_t a = send_to(s, 1, &longer);
    assert_int_equal(wp_sched_endpoint_active_blocks(s, 1), 4 + 6);
    wp_sched_pick_t b = send_to(s, 1, &longer);
    assert_int_equal(wp_sched_endpoint_active_blocks(s, 1), 4 + 12);
    assert_int_equal(wp_sched_on_complete(s, &a), WP_OK);
    assert_int_equal(wp_sched_endpoint_active_blocks(s, 1), 4 + 6);
    assert_valid(s);
    assert_int_equal(wp_sched_on_complete(s, &b), WP_OK);
    assert_int_equal(wp_sched_endpoint_active_blocks(s, 1), 0);
    /* A completion with nothing in flight: an accounting error, the set stays empty. */
    assert_int_equal(wp_sched_on_complete(s, &b), WP_ELIMIT);
    assert_int_equal(wp_sched_accounting_errors(s, 1, WP_SCHED_ACCT_COMPLETE), 1);
    assert_valid(s);
    wp_sched_free(s);
}

/* ---- all three ---- */

/* Same seed, same sequence of requests and states → the same picks, run after run; the
 * scheduler stays valid throughout. A completion names the latest request in flight on its
 * endpoint; once all have ended, no endpoint has an active block left. */
static void run_sequence(const char *policy, uint64_t seed, int *out, int n)
{
    wp_sched_pick_t *live = malloc((size_t)n * sizeof(*live));
    uint64_t(*chains)[16] = malloc((size_t)n * sizeof(*chains)); /* request i's, 10 blocks */
    assert_non_null(live);
    assert_non_null(chains);
    int n_live = 0;
    wp_sched_config_t c = config_for(policy);
    c.sglang_balance_abs = 3;
    wp_sched_t *s = make(&c, 5);
    for (int e = 0; e < 5; e++)
        assert_int_equal(wp_sched_endpoint_set_capacity(s, e, 500), WP_OK);
    wp_rng_t rng, world;
    wp_rng_seed(&rng, seed);
    wp_rng_seed(&world, seed + 1);
    char text[64 * 9 + 7 + 1];
    wp_err_t err;
    for (int i = 0; i < n; i++) {
        double now = i * 0.05;
        int e = (int)wp_rng_below(&world, 5);
        assert_int_equal(wp_sched_endpoint_set_metrics(s, e, now, (double)wp_rng_below(&world, 8),
                                                       2, wp_rng_double(&world)),
                         WP_OK);
        make_text(text, (int)wp_rng_below(&world, 10), 7, (int)wp_rng_below(&world, 4));
        wp_sched_request_t r = req_for(text, chains[i]);
        r.hash_cap = 16;
        wp_sched_pick_t p;
        assert_int_equal(wp_sched_pick(s, now, &r, &rng, &p, &err), WP_OK);
        out[i] = p.endpoint;
        assert_int_equal(wp_sched_on_dispatch(s, &p), WP_OK);
        live[n_live++] = p;
        int done = (int)wp_rng_below(&world, 5);
        if (wp_rng_below(&world, 3) != 0)
            continue;
        for (int k = n_live - 1; k >= 0; k--) {
            if (live[k].endpoint == done) {
                assert_int_equal(wp_sched_on_complete(s, &live[k]), WP_OK);
                live[k] = live[--n_live];
                break;
            }
        }
    }
    assert_valid(s);
    while (n_live > 0)
        assert_int_equal(wp_sched_on_complete(s, &live[--n_live]), WP_OK);
    for (int e = 0; e < 5; e++)
        assert_int_equal(wp_sched_endpoint_active_blocks(s, e), 0);
    assert_valid(s);
    free(live);
    free(chains);
    wp_sched_free(s);
}

static void test_peers_deterministic(void **state)
{
    const char *names[] = {"llm-d", "sglang-cache-aware", "dynamo-kv"};
    enum { N = 400 };
    static int a[N], b[N], c[N];
    for (int i = 0; i < 3; i++) {
        run_sequence(names[i], 11, a, N);
        run_sequence(names[i], 11, b, N);
        assert_memory_equal(a, b, sizeof(a));
        run_sequence(names[i], 12, c, N);
        int spread[5] = {0};
        for (int k = 0; k < N; k++)
            spread[a[k]]++;
        int used = 0;
        for (int e = 0; e < 5; e++)
            used += spread[e] > 0;
        assert_true(used >= 2); /* no policy herds everything onto one endpoint */
    }
}

/* The horizon: llm-d hashes and matches the first 256 blocks of a prompt (its
 * maxPrefixBlocksToMatch), dynamo-kv and sglang-cache-aware the whole prompt. Prompt: 300
 * blocks of 64 characters (19,200 characters, 4,800 tokens, 300 KV blocks of 16). Nothing
 * is in flight and no metrics are set. By hand:
 *   ep0 holds the prompt's first 256 blocks, ep1 all 300.
 *   llm-d: 256 blocks hashed, both hold all 256: 3 × 1 + 2 × 1 (queues equal) + 2 × 0.5
 *     (KV unknown) = 6 each, a tie broken at random: both win across seeds.
 *   dynamo-kv: 300 hashed. ep0: prefill (4,800 − 256 × 16) / 16 = 44 + decode 300 new = 344;
 *     ep1: prefill 0 + decode 300 = 300: ep1, every seed. (At a 256-block horizon both would
 *     cost 44 + 256 + 44 unhashed = 344, and the tie would go to the smaller tree, ep0.)
 *   ep0 holds the first 140 blocks, ep1 20 blocks of another text (trees 140 and 20).
 *   sglang-cache-aware: match rate 140 / 300 = 0.47, not above 0.5: the smallest tree, ep1.
 *     Given only the chain's first 256 hashes it would see 140 / 256 = 0.55 and take ep0. */
static void test_peers_horizon_whole_prompt_past_256(void **state)
{
    enum { BLOCKS = 300 };
    static char text[64 * BLOCKS + 1], other[64 * 20 + 1];
    make_text(text, BLOCKS, 0, 13);
    make_text(other, 20, 0, 14);
    uint64_t chain[CHAIN];
    wp_sched_request_t r = req_for(text, chain);
    r.prompt_tokens = 16 * BLOCKS;

    wp_sched_config_t c = config_for("llm-d");
    wp_sched_t *s = make(&c, 2);
    assert_int_equal(wp_sched_horizon(s), 256);
    assert_int_equal(wp_sched_chain_blocks(s, strlen(text)), 256);
    teach(s, 0, text, 256);
    teach(s, 1, text, BLOCKS);
    int seen[2] = {0};
    for (uint64_t seed = 0; seed < 32; seed++) {
        wp_sched_pick_t p = pick_of(s, 0, &r, seed);
        assert_int_equal(p.n_blocks, 256);
        assert_int_equal(p.matched_blocks, 256);
        assert_float_equal(p.total, 6.0, 1e-12);
        seen[p.endpoint]++;
    }
    assert_true(seen[0] > 0 && seen[1] > 0);
    uint64_t h[CHAIN]; /* hashed by the caller, all 300: llm-d still takes 256 */
    assert_int_equal(wp_sched_hash_chain(MODEL, NULL, text, strlen(text), 64, CHAIN, h), BLOCKS);
    wp_sched_request_t pre = {.model = MODEL,
                              .session_ep = -1,
                              .hashes = h,
                              .n_hashes = BLOCKS,
                              .prompt_tokens = 16 * BLOCKS};
    assert_int_equal(pick_of(s, 0, &pre, 1).n_blocks, 256);
    wp_sched_free(s);

    c = config_for("dynamo-kv");
    s = make(&c, 2);
    assert_int_equal(wp_sched_horizon(s), SIZE_MAX);
    assert_int_equal(wp_sched_chain_blocks(s, strlen(text)), BLOCKS);
    teach(s, 0, text, 256);
    teach(s, 1, text, BLOCKS);
    for (uint64_t seed = 0; seed < 16; seed++) {
        wp_sched_pick_t p = pick_of(s, 0, &r, seed);
        assert_int_equal(p.endpoint, 1);
        assert_int_equal(p.n_blocks, BLOCKS);
        assert_int_equal(p.matched_blocks, BLOCKS);
        assert_float_equal(p.prefill_tokens, 0, 0);
    }
    wp_sched_pick_t p = pick_of(s, 0, &r, 1);
    assert_int_equal(wp_sched_on_dispatch(s, &p), WP_OK);
    assert_int_equal(wp_sched_endpoint_active_blocks(s, 1), BLOCKS); /* every block hashed */
    assert_int_equal(wp_sched_on_complete(s, &p), WP_OK);
    assert_valid(s);
    wp_sched_free(s);

    c = config_for("sglang-cache-aware");
    s = make(&c, 2);
    assert_int_equal(wp_sched_chain_blocks(s, strlen(text)), BLOCKS);
    teach(s, 0, text, 140);
    teach(s, 1, other, 20);
    uint32_t m[WP_SCHED_MAX_ENDPOINTS];
    assert_int_equal(wp_sched_index_match(wp_sched_index(s), h, BLOCKS, m), 140);
    for (uint64_t seed = 0; seed < 16; seed++) {
        wp_sched_pick_t q = pick_of(s, 0, &r, seed);
        assert_int_equal(q.endpoint, 1);
        assert_int_equal(q.n_blocks, BLOCKS);
    }
    pre.n_hashes = 256;
    assert_int_equal(pick_of(s, 0, &pre, 1).endpoint, 0);
    assert_valid(s);
    wp_sched_free(s);
}

/* Dynamo's router counts a worker's cached blocks from its KV events when it has them, and
 * from its own routing decisions without (--no-kv-events). The index says ep0 holds the
 * 4-block prompt, ep1's events say ep1 does. By hand, weight 1, nothing in flight:
 *   no events: ep0 prefill 0 + new 4 = 4, ep1 prefill 4 + new 4 = 8: ep0;
 *   events:    ep0 prefill 4 + new 4 = 8, ep1 prefill 0 + new 4 = 4: ep1. */
static void test_peers_dynamo_reads_kv_events(void **state)
{
    (void)state;
    wp_sched_config_t c = config_for("dynamo-kv");
    wp_sched_t *s = make(&c, 2);
    assert_true(wp_sched_reads_kv_events(s));
    char text[64 * 4 + 1];
    make_text(text, 4, 0, 5);
    teach(s, 0, text, 4);
    const uint64_t kv[4] = {11, 12, 13, 14};
    assert_int_equal(wp_sched_kv_store(wp_sched_kv(s), 1, WP_SCHED_MEDIUM_GPU, kv, 4), WP_OK);
    uint64_t chain[CHAIN];
    wp_sched_request_t r = req_for(text, chain);
    r.kv_hashes = kv;
    r.n_kv_hashes = 4;
    r.kv_block_tokens = 16;
    r.prompt_tokens = 64;
    for (uint64_t seed = 0; seed < 8; seed++)
        assert_int_equal(pick_ep(s, 0, &r, seed), 0);
    for (int ep = 0; ep < 2; ep++)
        assert_int_equal(wp_sched_endpoint_set_kv_events(s, ep, true), WP_OK);
    for (uint64_t seed = 0; seed < 8; seed++) {
        wp_sched_pick_t p = pick_of(s, 0, &r, seed);
        assert_int_equal(p.endpoint, 1);
        assert_float_equal(p.prefill_tokens, 0, 0);
    }
    wp_sched_free(s);
    c = config_for("llm-d");
    s = make(&c, 2);
    assert_false(wp_sched_reads_kv_events(s)); /* the approximate guide: no events read */
    wp_sched_free(s);
}

/* Which policies read the prompt's token count (the gateway counts it only for them): those
 * that weigh prefill work. */
static void test_peers_reads_prompt_tokens(void **state)
{
    (void)state;
    const struct {
        const char *policy;
        bool reads;
    } rows[] = {{"topology", false},
                {"llm-d", false},
                {"sglang-cache-aware", false},
                {"round-robin", false},
                {"dynamo-kv", true}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        wp_sched_config_t c = config_for(rows[i].policy);
        wp_sched_t *s = make(&c, 2);
        if (wp_sched_reads_prompt_tokens(s) != rows[i].reads)
            fail_msg("%s: reads_prompt_tokens should be %d", rows[i].policy, rows[i].reads);
        wp_sched_free(s);
    }
    /* The default topology with prefill-queue added reads them; at weight 0 it does not. */
    wp_sched_config_t c = config_for("topology");
    wp_err_t err;
    assert_int_equal(wp_sched_config_add_scorer(&c, "prefill-queue", 0.0, &err), WP_OK);
    wp_sched_t *s = make(&c, 2);
    assert_false(wp_sched_reads_prompt_tokens(s));
    wp_sched_free(s);
    c.scorers[c.n_scorers - 1].weight = 50;
    s = make(&c, 2);
    assert_true(wp_sched_reads_prompt_tokens(s));
    wp_sched_free(s);
    c = config_for("topology");
    assert_int_equal(wp_sched_config_add_scorer(&c, "rank-balance", 10, &err), WP_OK);
    s = make(&c, 2);
    assert_true(wp_sched_reads_prompt_tokens(s)); /* it balances tokens in flight */
    wp_sched_free(s);
}

/* Filters still apply: an unhealthy endpoint is never chosen, whatever it scores. */
static void test_peers_respect_filters(void **state)
{
    const char *names[] = {"llm-d", "sglang-cache-aware", "dynamo-kv"};
    char text[64 * 6 + 1];
    make_text(text, 6, 0, 2);
    uint64_t chain[CHAIN];
    wp_sched_request_t r = req_for(text, chain);
    for (int i = 0; i < 3; i++) {
        wp_sched_config_t c = config_for(names[i]);
        wp_sched_t *s = make(&c, 3);
        teach(s, 0, text, 6);
        assert_int_equal(wp_sched_endpoint_set_healthy(s, 0, false), WP_OK);
        for (uint64_t seed = 0; seed < 10; seed++)
            assert_int_not_equal(pick_ep(s, 0, &r, seed), 0);
        wp_sched_free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peers_registered),
        cmocka_unit_test(test_peers_config_defaults_and_checks),
        cmocka_unit_test(test_peers_set_capacity),
        cmocka_unit_test(test_peers_llmd_equals_manual_config),
        cmocka_unit_test(test_peers_llmd_hand_numbers),
        cmocka_unit_test(test_peers_sglang_absolute_threshold),
        cmocka_unit_test(test_peers_sglang_relative_threshold),
        cmocka_unit_test(test_peers_sglang_shortest_queue_ties),
        cmocka_unit_test(test_peers_sglang_match_rate_threshold),
        cmocka_unit_test(test_peers_sglang_short_prompt_goes_to_smallest_tree),
        cmocka_unit_test(test_peers_sglang_tree_size),
        cmocka_unit_test(test_peers_dynamo_table),
        cmocka_unit_test(test_peers_dynamo_router_blocks_not_metrics),
        cmocka_unit_test(test_peers_dynamo_shared_prefix_counts_once),
        cmocka_unit_test(test_peers_dynamo_reads_kv_events),
        cmocka_unit_test(test_peers_reads_prompt_tokens),
        cmocka_unit_test(test_peers_deterministic),
        cmocka_unit_test(test_peers_horizon_whole_prompt_past_256),
        cmocka_unit_test(test_peers_respect_filters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
