/* Tests for sched: configuration and its errors, endpoints, filters, the pick pipeline end to
 * end (prefix routing, salt isolation, load against prefix, stale metrics, ties, policies),
 * and the scheduler's invariants after randomized operations. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sched/sched.h"

static void assert_valid(const wp_sched_t *s)
{
    wp_err_t err = {{0}};
    if (wp_sched_validate(s, &err) != WP_OK)
        fail_msg("validate: %s", err.msg);
}

/* A scheduler with n endpoints named ep0..; cfg NULL = default config. */
static wp_sched_t *make(const wp_sched_config_t *cfg, int n)
{
    wp_sched_config_t def;
    wp_sched_config_default(&def);
    wp_err_t err;
    wp_sched_t *s = wp_sched_new(cfg ? cfg : &def, &err);
    if (!s)
        fail_msg("new: %s", err.msg);
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "ep%d", i);
        assert_int_equal(wp_sched_endpoint_add(s, name, WP_SCHED_ROLE_BOTH), i);
    }
    return s;
}

/* Slots of a request's chain buffer: more than any prompt here has blocks. */
#define CHAIN 16

/* A request whose picks hash text into chain (CHAIN slots, the caller's, alive as long as a
 * pick made with it is dispatched); NULL: no room, the picks hash nothing. */
static wp_sched_request_t req_for(const char *text, const char *salt, uint64_t *chain)
{
    return (wp_sched_request_t){.model = "qwen3-32b",
                                .cache_salt = salt,
                                .prompt = text,
                                .prompt_len = text ? strlen(text) : 0,
                                .session_ep = -1,
                                .hash_buf = chain,
                                .hash_cap = chain ? CHAIN : 0};
}

/* Deterministic prompt text: `blocks` blocks of 64 characters, block i made from seed + i. */
static void make_text(char *buf, int blocks, int seed)
{
    for (int b = 0; b < blocks; b++)
        for (int c = 0; c < 64; c++)
            buf[b * 64 + c] = (char)('a' + (seed * 7 + b * 13 + c) % 26);
    buf[blocks * 64] = 0;
}

static int pick_ep(wp_sched_t *s, double now, const wp_sched_request_t *r, wp_rng_t *rng,
                   wp_sched_pick_t *p)
{
    wp_err_t err;
    wp_status_t st = wp_sched_pick(s, now, r, rng, p, &err);
    if (st != WP_OK)
        fail_msg("pick: %s", err.msg);
    return p->endpoint;
}

static void test_sched_config_default(void **state)
{
    wp_sched_config_t c;
    wp_sched_config_default(&c);
    assert_string_equal(c.policy, "topology");
    assert_string_equal(c.picker, "max-score");
    assert_int_equal(c.n_scorers, 2);
    assert_string_equal(c.scorers[0].type, "prefix-aware");
    assert_float_equal(c.scorers[0].weight, 100, 0);
    assert_string_equal(c.scorers[1].type, "load-aware");
    assert_float_equal(c.scorers[1].weight, 50, 0);
    assert_int_equal(c.block_chars, 64);
    assert_int_equal(c.max_blocks, 256);
    assert_int_equal(c.lru_capacity, 31250);
    assert_float_equal(c.load_threshold, 128, 0);
    assert_float_equal(c.stale_after_s, 2.0, 0);
    assert_int_equal(wp_sched_config_validate(&c, NULL), WP_OK);
}

static void test_sched_config_unknown_names(void **state)
{
    wp_sched_config_t c;
    wp_sched_config_default(&c);
    wp_err_t err;
    assert_int_equal(wp_sched_config_set_policy(&c, "fastest", &err), WP_EINVAL);
    assert_string_equal(err.msg,
                        "unknown scheduling policy 'fastest' (valid: topology, "
                        "round-robin, random, least-request, load-aware, prefix-aware, "
                        "queue, kv-cache-utilization, llm-d, llm-d-precise, sglang-cache-aware, "
                        "dynamo-kv)");
    assert_string_equal(c.policy, "topology"); /* unchanged */
    assert_int_equal(wp_sched_config_add_scorer(&c, "magic", 1, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "'magic'"));
    assert_non_null(strstr(err.msg, "session-affinity"));
    assert_int_equal(c.n_scorers, 2);
    assert_int_equal(wp_sched_config_set_picker(&c, "best", &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "max-score, weighted-random"));
    assert_int_equal(wp_sched_config_add_scorer(&c, "queue", -1, &err), WP_EINVAL);
    assert_int_equal(wp_sched_config_set_policy(&c, "round-robin", &err), WP_OK);
    assert_int_equal(wp_sched_config_set_picker(&c, "weighted-random", &err), WP_OK);
    assert_int_equal(wp_sched_config_add_scorer(&c, "queue", 5, &err), WP_OK);
    assert_int_equal(c.n_scorers, 3);

    /* A config filled by hand is checked by wp_sched_new. */
    wp_sched_config_default(&c);
    snprintf(c.scorers[1].type, sizeof(c.scorers[1].type), "load-awre");
    assert_null(wp_sched_new(&c, &err));
    assert_non_null(strstr(err.msg, "unknown scorer type 'load-awre'"));
    wp_sched_config_default(&c);
    c.max_blocks = 0;
    assert_int_equal(wp_sched_config_validate(&c, &err), WP_EINVAL);
    c.max_blocks = 300; /* any horizon: the caller's buffers hold the chain */
    assert_int_equal(wp_sched_config_validate(&c, &err), WP_OK);
    wp_sched_config_default(&c);
    c.n_scorers = 0;
    assert_int_equal(wp_sched_config_validate(&c, &err), WP_EINVAL);
    wp_sched_config_default(&c);
    c.load_threshold = 0;
    assert_int_equal(wp_sched_config_validate(&c, &err), WP_EINVAL);
    wp_sched_config_default(&c);
    for (int i = 2; i < WP_SCHED_MAX_SCORERS; i++)
        assert_int_equal(wp_sched_config_add_scorer(&c, "queue", 1, &err), WP_OK);
    assert_int_equal(wp_sched_config_add_scorer(&c, "queue", 1, &err), WP_ELIMIT);
}

static void test_sched_endpoints(void **state)
{
    wp_sched_t *s = make(NULL, 0);
    assert_int_equal(wp_sched_endpoint_add(s, "a", WP_SCHED_ROLE_PREFILL), 0);
    assert_int_equal(wp_sched_endpoint_add(s, "a", WP_SCHED_ROLE_BOTH), WP_EINVAL);
    assert_int_equal(wp_sched_endpoint_add(s, "", WP_SCHED_ROLE_BOTH), WP_EINVAL);
    assert_int_equal(wp_sched_endpoint_add(s, NULL, WP_SCHED_ROLE_BOTH), WP_EINVAL);
    for (int i = 1; i < WP_SCHED_MAX_ENDPOINTS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "e%d", i);
        assert_int_equal(wp_sched_endpoint_add(s, name, WP_SCHED_ROLE_BOTH), i);
    }
    assert_int_equal(wp_sched_endpoint_add(s, "one-too-many", WP_SCHED_ROLE_BOTH), WP_ELIMIT);
    assert_int_equal(wp_sched_endpoint_count(s), WP_SCHED_MAX_ENDPOINTS);
    assert_string_equal(wp_sched_endpoint_name(s, 7), "e7");
    assert_null(wp_sched_endpoint_name(s, WP_SCHED_MAX_ENDPOINTS));
    assert_int_equal(wp_sched_endpoint_find(s, "e9"), 9);
    assert_int_equal(wp_sched_endpoint_find(s, "zz"), -1);
    assert_int_equal(wp_sched_endpoint_set_healthy(s, WP_SCHED_MAX_ENDPOINTS + 44, false),
                     WP_EINVAL);
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 0, 0, -1, 0, 0), WP_EINVAL);
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 0, 0, 0, 0, 1.5), WP_EINVAL);
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 0, 0, 0, 0, INFINITY), WP_EINVAL);
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 0, 0, NAN, 0, 0), WP_EINVAL);
    /* KV usage NaN: the engine exports none (llama.cpp); accepted as unknown. */
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 0, 0, 3, 4, NAN), WP_OK);
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 0, 0, 3, 4, 0.5), WP_OK);
    /* never below 0: counted as an accounting error (test_sched_accounting.c) */
    assert_int_equal(wp_sched_on_complete(s, &(wp_sched_pick_t){.endpoint = 0}), WP_ELIMIT);
    assert_int_equal(wp_sched_endpoint_in_flight(s, 0), 0);
    assert_int_equal(wp_sched_on_complete(s, &(wp_sched_pick_t){.endpoint = -1}), WP_EINVAL);
    assert_valid(s);
    wp_sched_free(s);
}

static void test_sched_not_found_and_filters(void **state)
{
    wp_rng_t rng;
    wp_rng_seed(&rng, 1);
    wp_sched_pick_t p;
    wp_err_t err;
    wp_sched_request_t r = req_for("hello", NULL, NULL);
    wp_sched_t *s = make(NULL, 0);
    assert_int_equal(wp_sched_pick(s, 0, &r, &rng, &p, &err), WP_ENOTFOUND);
    assert_int_equal(wp_sched_endpoint_add(s, "p0", WP_SCHED_ROLE_PREFILL), 0);
    assert_int_equal(wp_sched_endpoint_add(s, "d0", WP_SCHED_ROLE_DECODE), 1);
    assert_int_equal(wp_sched_endpoint_add(s, "b0", WP_SCHED_ROLE_BOTH), 2);
    r.role = WP_SCHED_ROLE_DECODE;
    for (int i = 0; i < 200; i++) /* decode or both, never prefill */
        assert_int_not_equal(pick_ep(s, 0, &r, &rng, &p), 0);
    assert_int_equal(p.n_candidates, 2);
    wp_sched_endpoint_set_healthy(s, 1, false);
    for (int i = 0; i < 50; i++) /* unhealthy never picked */
        assert_int_equal(pick_ep(s, 0, &r, &rng, &p), 2);
    wp_sched_endpoint_set_healthy(s, 2, false);
    assert_int_equal(wp_sched_pick(s, 0, &r, &rng, &p, &err), WP_ENOTFOUND);
    assert_string_equal(err.msg, "no eligible endpoint for model 'qwen3-32b' (3 endpoints, 1 "
                                 "healthy, role decode)");
    r.role = WP_SCHED_ROLE_BOTH;
    assert_int_equal(pick_ep(s, 0, &r, &rng, &p), 0);
    /* Excluded endpoints (a retry's already-tried ones) are filtered out too. */
    wp_sched_endpoint_set_healthy(s, 1, true);
    wp_sched_endpoint_set_healthy(s, 2, true);
    uint64_t tried[WP_SCHED_EXCLUDE_WORDS] = {(1u << 0) | (1u << 2)};
    r.exclude = tried;
    for (int i = 0; i < 20; i++)
        assert_int_equal(pick_ep(s, 0, &r, &rng, &p), 1);
    tried[0] |= 1u << 1;
    assert_int_equal(wp_sched_pick(s, 0, &r, &rng, &p, &err), WP_ENOTFOUND);
    r.exclude = NULL;
    /* Bad requests. */
    assert_int_equal(wp_sched_pick(s, 0, &r, NULL, &p, &err), WP_EINVAL);
    r.model = NULL;
    assert_int_equal(wp_sched_pick(s, 0, &r, &rng, &p, &err), WP_EINVAL);
    r = req_for(NULL, NULL, NULL);
    r.prompt_len = 5;
    assert_int_equal(wp_sched_pick(s, 0, &r, &rng, &p, &err), WP_EINVAL);
    r = req_for("hello", NULL, NULL);
    r.hash_cap = 4; /* room promised, no buffer */
    assert_int_equal(wp_sched_pick(s, 0, &r, &rng, &p, &err), WP_EINVAL);
    wp_sched_free(s);
}

static void test_sched_prefix_routes_to_same_endpoint(void **state)
{
    wp_rng_t rng;
    wp_rng_seed(&rng, 9);
    wp_sched_t *s = make(NULL, 4);
    char text[10 * 64 + 1], other[10 * 64 + 1];
    make_text(text, 10, 1);
    uint64_t chain[CHAIN], other_chain[CHAIN];
    wp_sched_request_t r = req_for(text, NULL, chain);
    wp_sched_pick_t p;
    int first = pick_ep(s, 0, &r, &rng, &p);
    assert_int_equal(p.n_blocks, 10);
    assert_int_equal(p.matched_blocks, 0);
    assert_int_equal(wp_sched_on_dispatch(s, &p), WP_OK);
    assert_int_equal(wp_sched_endpoint_in_flight(s, first), 1);
    /* first: 100 × 1 + 50 × 0.5 = 125 (waiting 0 counts as in flight 1 → 0.49609375,
     * so 124.8); the others: 0 + 50 × 0.5 = 25. */
    for (int i = 0; i < 20; i++) {
        assert_int_equal(pick_ep(s, 0, &r, &rng, &p), first);
        assert_float_equal(p.prefix_ratio, 1.0, 0);
        assert_float_equal(p.total, 100 + 50 * 0.49609375, 1e-9);
        assert_string_equal(p.scores[0].name, "prefix-aware");
        assert_float_equal(p.scores[0].weighted, 100, 1e-9);
        assert_string_equal(p.scores[1].name, "load-aware");
    }
    /* Same first 6 blocks, different tail: still routed there, ratio 0.6. */
    memcpy(other, text, sizeof(text));
    other[6 * 64 + 3] ^= 1;
    r = req_for(other, NULL, other_chain);
    assert_int_equal(pick_ep(s, 0, &r, &rng, &p), first);
    assert_int_equal(p.matched_blocks, 6);
    assert_float_equal(p.prefix_ratio, 0.6, 1e-12);
    /* The same text under another cache_salt matches nothing anywhere. */
    r = req_for(text, "tenant-b", other_chain);
    pick_ep(s, 0, &r, &rng, &p);
    assert_int_equal(p.matched_blocks, 0);
    assert_float_equal(p.scores[0].raw, 0.0, 0);
    assert_valid(s);
    wp_sched_free(s);
}

/* prefill-queue alone: a dispatched request counts its uncached prompt tokens as pending
 * on its endpoint until on_prefill_done; the next prompt goes where less is pending. */
static void test_sched_pending_prefill_moves_traffic(void **state)
{
    wp_rng_t rng;
    wp_rng_seed(&rng, 3);
    wp_sched_config_t cfg;
    wp_sched_config_default(&cfg);
    cfg.n_scorers = 0;
    wp_err_t err;
    assert_int_equal(wp_sched_config_add_scorer(&cfg, "prefill-queue", 1, &err), WP_OK);
    wp_sched_t *s = make(&cfg, 2);
    char a[10 * 64 + 1], b[10 * 64 + 1];
    make_text(a, 10, 1);
    make_text(b, 10, 2);
    uint64_t ca[CHAIN], cb[CHAIN];
    wp_sched_request_t ra = req_for(a, NULL, ca), rb = req_for(b, NULL, cb);
    wp_sched_pick_t pa, pb;
    int first = pick_ep(s, 0, &ra, &rng, &pa);
    assert_float_equal(pa.prefill_tokens, 640.0 / 4.0, 1e-9); /* 640 chars, nothing cached */
    assert_int_equal(wp_sched_on_dispatch(s, &pa), WP_OK);
    /* b costs 160 on either, plus 160 pending on `first`: the other one wins, every time. */
    for (int i = 0; i < 10; i++)
        assert_int_equal(pick_ep(s, 0, &rb, &rng, &pb), 1 - first);
    /* Once a's first token is back nothing is pending: ties again, both get picked. */
    assert_int_equal(wp_sched_on_prefill_done(s, &pa), WP_OK);
    assert_int_equal(wp_sched_on_prefill_done(s, &pa), WP_ELIMIT); /* twice: an error */
    int seen[2] = {0, 0};
    for (int i = 0; i < 40; i++)
        seen[pick_ep(s, 0, &rb, &rng, &pb)]++;
    assert_true(seen[0] > 5 && seen[1] > 5);
    assert_valid(s);
    wp_sched_free(s);
}

static void test_sched_load_moves_traffic_off_a_queue(void **state)
{
    /* Two endpoints, a 10-block request; A (0) holds its first 2 blocks (ratio 0.2).
     *   both idle:        A = 100 × 0.2 + 50 × 0.5 = 45;  B = 0 + 50 × 0.5 = 25 → A.
     *   A waiting 200:    A = 20 + 50 × 0 = 20;            B = 25            → B.
     * Load-aware scores at most 0.5, so with weights 100/50 it can outweigh a prefix lead
     * of less than 0.25 only:
     *   A holds all 10:   A = 100 + 0 = 100 > B = 25 → A, however long A's queue. */
    wp_rng_t rng;
    wp_rng_seed(&rng, 3);
    wp_sched_t *s = make(NULL, 2);
    char text[10 * 64 + 1];
    make_text(text, 10, 2);
    uint64_t h[10], chain[CHAIN];
    wp_sched_request_t r = req_for(text, NULL, chain);
    assert_int_equal(wp_sched_hash_chain(r.model, NULL, text, r.prompt_len, 64, 256, h), 10);
    assert_int_equal(wp_sched_index_insert(wp_sched_index(s), 0, h, 2), WP_OK);
    wp_sched_pick_t p;
    wp_sched_endpoint_set_metrics(s, 0, 1.0, 0, 0, 0.1);
    wp_sched_endpoint_set_metrics(s, 1, 1.0, 0, 0, 0.1);
    assert_int_equal(pick_ep(s, 1.0, &r, &rng, &p), 0);
    assert_float_equal(p.total, 45, 1e-9);
    wp_sched_endpoint_set_metrics(s, 0, 1.0, 200, 0, 0.1);
    assert_int_equal(pick_ep(s, 1.0, &r, &rng, &p), 1);
    assert_float_equal(p.total, 25, 1e-9);
    assert_float_equal(p.prefix_ratio, 0, 0);
    assert_int_equal(wp_sched_index_insert(wp_sched_index(s), 0, h, 10), WP_OK);
    assert_int_equal(pick_ep(s, 1.0, &r, &rng, &p), 0);
    assert_float_equal(p.total, 100, 1e-9);
    wp_sched_free(s);
}

static void test_sched_stale_metrics_use_in_flight(void **state)
{
    /* A and B reported empty servers; the gateway then sends A 128 requests. A's load is
     * its in-flight count (plus nothing more from a scrape that saw less), fresh or stale,
     * so idle B wins; with nothing in flight anywhere, A and B tie. A scrape that sees
     * requests beyond the gateway's own (another client's) adds them. */
    wp_rng_t rng;
    wp_rng_seed(&rng, 4);
    wp_sched_config_t c;
    wp_sched_config_default(&c);
    wp_err_t err;
    assert_int_equal(wp_sched_config_set_policy(&c, "load-aware", &err), WP_OK);
    c.load_threshold = 1000; /* 128 and 200 both below it */
    wp_sched_t *s = make(&c, 2);
    wp_sched_request_t r = req_for("", NULL, NULL);
    wp_sched_pick_t p = {.endpoint = 0};
    wp_sched_endpoint_set_metrics(s, 0, 0.0, 0, 0, 0);
    wp_sched_endpoint_set_metrics(s, 1, 4.5, 0, 0, 0);
    int hits0 = 0;
    for (int i = 0; i < 100; i++) /* fresh at t = 1, nothing anywhere: a tie */
        hits0 += pick_ep(s, 1.0, &r, &rng, &p) == 0;
    assert_in_range(hits0, 25, 75);
    p.endpoint = 0;
    for (int i = 0; i < 128; i++)
        assert_int_equal(wp_sched_on_dispatch(s, &p), WP_OK);
    for (int i = 0; i < 20; i++) /* fresh: the in-flight count counts at once */
        assert_int_equal(pick_ep(s, 1.0, &r, &rng, &p), 1);
    for (int i = 0; i < 20; i++) /* stale: the in-flight count alone */
        assert_int_equal(pick_ep(s, 5.0, &r, &rng, &p), 1);
    assert_float_equal(p.scores[0].raw, 0.5, 0);
    /* B's scrape shows 200 requests from elsewhere: A (128) wins now. */
    wp_sched_endpoint_set_metrics(s, 1, 5.0, 100, 100, 0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(pick_ep(s, 5.0, &r, &rng, &p), 0);
    wp_sched_free(s);
}

static void test_sched_ties_uniform(void **state)
{
    wp_rng_t rng;
    wp_rng_seed(&rng, 5);
    wp_sched_t *s = make(NULL, 4);
    wp_sched_request_t r = req_for("short prompt", NULL, NULL);
    wp_sched_pick_t p;
    int hits[4] = {0};
    for (int i = 0; i < 4000; i++)
        hits[pick_ep(s, 0, &r, &rng, &p)]++;
    for (int i = 0; i < 4; i++)
        assert_in_range(hits[i], 800, 1200);
    wp_sched_free(s);
}

/* Two threads, each with its own scheduler over the same 4 endpoints, sharing one turn, pick
 * as fast as they can: the compare-and-swap loses races and chooses again, and every turn is
 * taken once, so the 4 endpoints get exactly a quarter of all picks each. */
#define TURN_PICKS 200000
typedef struct {
    wp_sched_t *s;
    pthread_barrier_t *go;
    int hits[4];
} turn_worker_t;

static void *turn_worker(void *arg)
{
    turn_worker_t *w = arg;
    wp_rng_t rng;
    wp_rng_seed(&rng, 1);
    wp_sched_request_t r = req_for("x", NULL, NULL);
    wp_sched_pick_t p;
    wp_err_t err;
    pthread_barrier_wait(w->go); /* both start together */
    for (int i = 0; i < TURN_PICKS; i++) {
        if (wp_sched_pick(w->s, 0, &r, &rng, &p, &err) != WP_OK)
            return NULL;
        w->hits[p.endpoint]++;
    }
    return w;
}

static void test_sched_shared_turn_across_threads(void **state)
{
    (void)state;
    wp_sched_config_t c;
    wp_sched_config_default(&c);
    assert_int_equal(wp_sched_config_set_policy(&c, "round-robin", NULL), WP_OK);
    _Atomic uint32_t turns[WP_SCHED_ROLE_DECODE + 1];
    for (int k = 0; k <= WP_SCHED_ROLE_DECODE; k++)
        atomic_init(&turns[k], 0);
    pthread_barrier_t go;
    assert_int_equal(pthread_barrier_init(&go, NULL, 2), 0);
    turn_worker_t w[2] = {{.s = make(&c, 4), .go = &go}, {.s = make(&c, 4), .go = &go}};
    pthread_t t[2];
    for (int k = 0; k < 2; k++) {
        wp_sched_share_turns(w[k].s, turns);
        assert_int_equal(pthread_create(&t[k], NULL, turn_worker, &w[k]), 0);
    }
    for (int k = 0; k < 2; k++) {
        void *ok = NULL;
        assert_int_equal(pthread_join(t[k], &ok), 0);
        assert_non_null(ok);
        wp_sched_free(w[k].s);
    }
    pthread_barrier_destroy(&go);
    for (int e = 0; e < 4; e++)
        assert_int_equal(w[0].hits[e] + w[1].hits[e], 2 * TURN_PICKS / 4);
}

static void test_sched_round_robin_and_single_scorer(void **state)
{
    wp_rng_t rng;
    wp_rng_seed(&rng, 6);
    wp_sched_config_t c;
    wp_sched_config_default(&c);
    assert_int_equal(wp_sched_config_set_policy(&c, "round-robin", NULL), WP_OK);
    wp_sched_t *s = make(&c, 3);
    wp_sched_request_t r = req_for("x", NULL, NULL);
    wp_sched_pick_t p;
    wp_sched_endpoint_set_healthy(s, 1, false);
    const int want[] = {0, 2, 0, 2, 0};
    for (int i = 0; i < 5; i++)
        assert_int_equal(pick_ep(s, 0, &r, &rng, &p), want[i]);
    assert_int_equal(p.n_scores, 0);
    wp_sched_free(s);

    /* Two schedulers over one pool sharing one turn (two workers' schedulers on two
     * threads): the picks go round exactly whichever makes each; a dry pick moves nothing;
     * unshared, each is back to its own turn, where it left it. */
    _Atomic uint32_t turns[WP_SCHED_ROLE_DECODE + 1];
    for (int k = 0; k <= WP_SCHED_ROLE_DECODE; k++)
        atomic_init(&turns[k], 0);
    wp_sched_t *a = make(&c, 4), *b = make(&c, 4);
    wp_sched_share_turns(a, turns);
    wp_sched_share_turns(b, turns);
    const int who[] = {0, 0, 1, 0, 1, 1, 1, 0, 0};
    for (int i = 0; i < 9; i++)
        assert_int_equal(pick_ep(who[i] ? b : a, 0, &r, &rng, &p), i % 4);
    assert_int_equal(atomic_load(&turns[WP_SCHED_ROLE_BOTH]), 1);
    wp_sched_request_t dry = r;
    dry.dry = true;
    assert_int_equal(pick_ep(b, 0, &dry, &rng, &p), 1);
    assert_int_equal(atomic_load(&turns[WP_SCHED_ROLE_BOTH]), 1);
    assert_int_equal(pick_ep(a, 0, &r, &rng, &p), 1);
    wp_sched_share_turns(a, NULL);
    assert_int_equal(pick_ep(a, 0, &r, &rng, &p), 0); /* its own turn never moved */
    assert_int_equal(pick_ep(b, 0, &r, &rng, &p), 2);
    wp_sched_free(a);
    wp_sched_free(b);

    assert_int_equal(wp_sched_config_set_policy(&c, "least-request", NULL), WP_OK);
    s = make(&c, 3);
    p = (wp_sched_pick_t){.endpoint = 0};
    wp_sched_on_dispatch(s, &p);
    p.endpoint = 2;
    wp_sched_on_dispatch(s, &p);
    for (int i = 0; i < 10; i++)
        assert_int_equal(pick_ep(s, 0, &r, &rng, &p), 1);
    assert_int_equal(p.n_scores, 1);
    assert_string_equal(p.scores[0].name, "least-request");
    assert_float_equal(p.total, 1.0, 0);
    wp_sched_free(s);
}

/* P/D with round-robin: prefill endpoints 0 and 1, decode endpoints 2 and 3. A request
 * makes a dry decode pick (the decider's look-ahead), a prefill pick, then its decode pick;
 * each role has its own cursor and the dry pick moves none, so both pools alternate. (With
 * one shared cursor moved by every pick, every prefill went to 0 and every decode to 2.) */
static void test_sched_round_robin_per_role_and_dry(void **state)
{
    wp_rng_t rng;
    wp_rng_seed(&rng, 6);
    wp_sched_config_t c;
    wp_sched_config_default(&c);
    assert_int_equal(wp_sched_config_set_policy(&c, "round-robin", NULL), WP_OK);
    wp_err_t err;
    wp_sched_t *s = wp_sched_new(&c, &err);
    assert_non_null(s);
    assert_int_equal(wp_sched_endpoint_add(s, "p0", WP_SCHED_ROLE_PREFILL), 0);
    assert_int_equal(wp_sched_endpoint_add(s, "p1", WP_SCHED_ROLE_PREFILL), 1);
    assert_int_equal(wp_sched_endpoint_add(s, "d0", WP_SCHED_ROLE_DECODE), 2);
    assert_int_equal(wp_sched_endpoint_add(s, "d1", WP_SCHED_ROLE_DECODE), 3);
    wp_sched_request_t dry = req_for("x", NULL, NULL), pf = req_for("x", NULL, NULL),
                       dec = req_for("x", NULL, NULL);
    dry.role = dec.role = WP_SCHED_ROLE_DECODE;
    dry.dry = true;
    pf.role = WP_SCHED_ROLE_PREFILL;
    wp_sched_pick_t p;
    const int want_pf[] = {0, 1, 0, 1}, want_dec[] = {2, 3, 2, 3};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pick_ep(s, 0, &dry, &rng, &p), want_dec[i]); /* what it would get */
        assert_int_equal(pick_ep(s, 0, &pf, &rng, &p), want_pf[i]);
        assert_int_equal(pick_ep(s, 0, &dec, &rng, &p), want_dec[i]); /* and does get */
    }
    assert_valid(s);
    wp_sched_free(s);
}

static void test_sched_session_affinity(void **state)
{
    wp_rng_t rng;
    wp_rng_seed(&rng, 7);
    wp_sched_config_t c;
    wp_sched_config_default(&c);
    c.n_scorers = 0;
    assert_int_equal(wp_sched_config_add_scorer(&c, "session-affinity", 100, NULL), WP_OK);
    assert_int_equal(wp_sched_config_add_scorer(&c, "least-request", 10, NULL), WP_OK);
    wp_sched_t *s = make(&c, 3);
    wp_sched_pick_t p = {.endpoint = 2};
    wp_sched_on_dispatch(s, &p); /* 2 is the busiest, but the session's home */
    wp_sched_request_t r = req_for("x", NULL, NULL);
    r.session_ep = 2;
    assert_int_equal(pick_ep(s, 0, &r, &rng, &p), 2);
    assert_float_equal(p.total, 100, 0);
    r.session_ep = -1;
    assert_int_not_equal(pick_ep(s, 0, &r, &rng, &p), 2);
    assert_true(wp_sched_uses_scorer(s, "session-affinity"));
    assert_false(wp_sched_uses_scorer(s, "prefix-aware"));
    assert_false(wp_sched_uses_scorer(s, NULL));
    wp_sched_free(s);
}

/* Completes the latest of the live picks on ep (there is one: ep has requests in flight)
 * and drops it from the list. */
static void complete_one(wp_sched_t *s, wp_sched_pick_t *live, int *n_live, int ep)
{
    for (int i = *n_live - 1; i >= 0; i--) {
        if (live[i].endpoint != ep)
            continue;
        assert_int_equal(wp_sched_on_complete(s, &live[i]), WP_OK);
        live[i] = live[--*n_live];
        return;
    }
    fail_msg("endpoint %d has requests in flight but no live pick", ep);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The active blocks of ep worked out from the live picks alone: their distinct hashes
 * (these prompts have no blocks past their hashes). */
static uint64_t distinct_live(const wp_sched_pick_t *live, int n_live, int ep)
{
    static uint64_t all[3000 * 12];
    size_t n = 0;
    for (int i = 0; i < n_live; i++)
        for (uint32_t b = 0; live[i].endpoint == ep && b < live[i].n_blocks; b++)
            all[n++] = live[i].block_hashes[b];
    qsort(all, n, sizeof(all[0]), cmp_u64);
    uint64_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        distinct += i == 0 || all[i] != all[i - 1];
    return distinct;
}

/* Runs a fixed random workload; returns a checksum of the endpoints picked. Every
 * completion names one of the requests in flight on its endpoint. */
static uint64_t random_workload(uint64_t seed, bool check, const char *policy)
{
    enum { STEPS = 3000 };
    wp_sched_config_t c;
    wp_sched_config_default(&c);
    assert_int_equal(wp_sched_config_set_policy(&c, policy, NULL), WP_OK);
    bool active = strcmp(policy, "dynamo-kv") == 0; /* the one policy that keeps them */
    c.lru_capacity = 40;
    wp_sched_t *s = make(&c, 8);
    wp_rng_t rng;
    wp_rng_seed(&rng, seed);
    char text[12 * 64 + 1];
    uint64_t sum = 0;
    wp_sched_pick_t *live = malloc(STEPS * sizeof(*live));
    uint64_t(*chains)[CHAIN] = malloc(STEPS * sizeof(*chains)); /* step i's request's */
    assert_non_null(live);
    assert_non_null(chains);
    int n_live = 0;
    for (int step = 0; step < STEPS; step++) {
        int ep = (int)wp_rng_below(&rng, 8);
        double now = step * 0.01;
        switch (wp_rng_below(&rng, 10)) {
        case 0:
            wp_sched_endpoint_set_healthy(s, ep, wp_rng_below(&rng, 4) != 0);
            break;
        case 1:
            wp_sched_endpoint_set_metrics(s, ep, now, (double)wp_rng_below(&rng, 200), 3,
                                          wp_rng_double(&rng));
            break;
        case 2:
            if (wp_sched_endpoint_in_flight(s, ep) > 0)
                complete_one(s, live, &n_live, ep);
            break;
        default: {
            make_text(text, 1 + (int)wp_rng_below(&rng, 12), (int)wp_rng_below(&rng, 6));
            wp_sched_request_t r = req_for(text, wp_rng_below(&rng, 3) ? NULL : "t1", chains[step]);
            wp_sched_pick_t p;
            wp_err_t err;
            if (wp_sched_pick(s, now, &r, &rng, &p, &err) != WP_OK)
                break;
            sum = sum * 31 + (uint64_t)p.endpoint;
            if (check) {
                double total = 0;
                for (int k = 0; k < p.n_scores; k++)
                    total += p.scores[k].weighted;
                assert_float_equal(total, p.total, 1e-9);
                assert_true(p.prefix_ratio >= 0 && p.prefix_ratio <= 1);
            }
            assert_int_equal(wp_sched_on_dispatch(s, &p), WP_OK);
            live[n_live++] = p;
        }
        }
        if (check && step % 50 == 0) {
            assert_valid(s);
            for (int e = 0; e < 8; e++)
                assert_int_equal(wp_sched_endpoint_active_blocks(s, e),
                                 active ? distinct_live(live, n_live, e) : 0);
        }
    }
    assert_valid(s);
    while (n_live > 0) /* everything ends: nothing stays active */
        complete_one(s, live, &n_live, live[n_live - 1].endpoint);
    for (int e = 0; e < 8; e++)
        assert_int_equal(wp_sched_endpoint_active_blocks(s, e), 0);
    assert_valid(s);
    free(live);
    free(chains);
    wp_sched_free(s);
    return sum;
}

static void test_sched_validate_after_random_operations(void **state)
{
    /* Deterministic: the same seed gives the same picks; another seed differs. */
    const char *policies[] = {"topology", "dynamo-kv"};
    for (int i = 0; i < 2; i++) {
        uint64_t a = random_workload(11, true, policies[i]);
        assert_true(a == random_workload(11, false, policies[i]));
        assert_true(a != random_workload(12, false, policies[i]));
    }
}

/* In-flight limits drop an endpoint at its limit; wp_sched_room tells saturation (limit,
 * waiting queue, KV usage, and sends since the scrape) from an empty pool. */
static void test_sched_limit_and_room(void **state)
{
    (void)state;
    wp_rng_t rng;
    wp_rng_seed(&rng, 5);
    wp_sched_pick_t p = {0}; /* dispatched by hand below: no prefill tokens */
    wp_err_t err;
    wp_sched_request_t r = req_for("hello", NULL, NULL);
    wp_sched_t *s = make(NULL, 2);
    const wp_sched_saturation_t th = {.queue_depth = 5, .kv_usage = 0.8};
    int healthy = -1;
    assert_int_equal(wp_sched_room(s, 0, WP_SCHED_ROLE_BOTH, &th, &healthy), 2);
    assert_int_equal(healthy, 2);
    assert_int_equal(wp_sched_endpoint_set_limit(s, 2, 1), WP_EINVAL);
    assert_int_equal(wp_sched_endpoint_set_limit(s, 0, 1), WP_OK);
    /* ep0 takes one request, then only ep1 is a candidate. */
    p.endpoint = 0;
    p.n_blocks = 0;
    assert_int_equal(wp_sched_on_dispatch(s, &p), WP_OK);
    for (int i = 0; i < 30; i++)
        assert_int_equal(pick_ep(s, 0, &r, &rng, &p), 1);
    assert_int_equal(wp_sched_room(s, 0, WP_SCHED_ROLE_BOTH, &th, NULL), 1);
    /* ep1 is saturated by its scraped queue; the pool is then full, not empty. */
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 1, 0, 5, 10, 0.1), WP_OK);
    assert_int_equal(wp_sched_room(s, 0, WP_SCHED_ROLE_BOTH, &th, &healthy), 0);
    assert_int_equal(healthy, 2);
    /* A picked endpoint at its limit still is not one: the pick fails. */
    wp_sched_endpoint_set_limit(s, 1, 0);
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 1, 0, 4, 10, 0.79), WP_OK);
    assert_int_equal(wp_sched_room(s, 0, WP_SCHED_ROLE_BOTH, &th, NULL), 1);
    /* KV usage at the threshold saturates; a stale scrape counts as room. */
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 1, 0, 0, 10, 0.8), WP_OK);
    assert_int_equal(wp_sched_room(s, 0, WP_SCHED_ROLE_BOTH, &th, NULL), 0);
    assert_int_equal(wp_sched_room(s, 100, WP_SCHED_ROLE_BOTH, &th, NULL), 1);
    /* KV usage unknown (NaN): the KV threshold does not apply. */
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 1, 0, 0, 10, NAN), WP_OK);
    assert_int_equal(wp_sched_room(s, 0, WP_SCHED_ROLE_BOTH, &th, NULL), 1);
    const wp_sched_saturation_t off = {0, 0};
    assert_int_equal(wp_sched_room(s, 0, WP_SCHED_ROLE_BOTH, &off, NULL), 1);
    /* Sends since the scrape count at once: 10 running + 5 more in flight = 5 waiting. */
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 1, 0, 0, 10, 0.1), WP_OK);
    for (int i = 0; i < 14; i++) {
        p.endpoint = 1;
        assert_int_equal(wp_sched_on_dispatch(s, &p), WP_OK);
    }
    assert_int_equal(wp_sched_room(s, 0, WP_SCHED_ROLE_BOTH, &th, NULL), 1);
    assert_int_equal(wp_sched_on_dispatch(s, &p), WP_OK);
    assert_int_equal(wp_sched_room(s, 0, WP_SCHED_ROLE_BOTH, &th, NULL), 0);
    /* A count set outright (a reload's new scheduler) is what the limit sees. */
    assert_int_equal(wp_sched_endpoint_set_in_flight(s, 0, 1), WP_OK);
    assert_int_equal(wp_sched_endpoint_in_flight(s, 0), 1);
    assert_int_equal(wp_sched_endpoint_set_in_flight(s, 9, 1), WP_EINVAL);
    /* The limited endpoint frees its slot: room again. */
    assert_int_equal(wp_sched_on_complete(s, &(wp_sched_pick_t){.endpoint = 0}), WP_OK);
    assert_int_equal(wp_sched_room(s, 0, WP_SCHED_ROLE_BOTH, &th, NULL), 1);
    /* Unhealthy endpoints are neither room nor healthy; roles are respected. */
    wp_sched_endpoint_set_healthy(s, 0, false);
    wp_sched_endpoint_set_healthy(s, 1, false);
    assert_int_equal(wp_sched_room(s, 0, WP_SCHED_ROLE_BOTH, &th, &healthy), 0);
    assert_int_equal(healthy, 0);
    assert_int_equal(wp_sched_endpoint_add(s, "p0", WP_SCHED_ROLE_PREFILL), 2);
    assert_int_equal(wp_sched_room(s, 0, WP_SCHED_ROLE_DECODE, &th, &healthy), 0);
    assert_int_equal(healthy, 0);
    assert_int_equal(wp_sched_room(s, 0, WP_SCHED_ROLE_PREFILL, &th, &healthy), 1);
    assert_int_equal(wp_sched_pick(s, 0, &r, &rng, &p, &err), WP_OK);
    assert_valid(s);
    wp_sched_free(s);
}

/* The load-aware score of endpoint 0 of s (one endpoint, default scorers) after a pick. */
static double load_score(wp_sched_t *s, double now)
{
    wp_rng_t rng;
    wp_rng_seed(&rng, 1);
    wp_sched_request_t r = req_for("x", NULL, NULL);
    wp_sched_pick_t p;
    pick_ep(s, now, &r, &rng, &p);
    for (int i = 0; i < p.n_scores; i++)
        if (strcmp(p.scores[i].name, "load-aware") == 0)
            return p.scores[i].raw;
    fail_msg("no load-aware score");
    return -1;
}

/* A live scrape's answer comes after it was sent: a request of ours that ends on the way is
 * still in the scraped running count. With wp_sched_endpoint_scrape_sent, the most requests
 * in flight at once from the send to the answer is subtracted, so it is not counted twice
 * (once in the scrape, once as a phantom); one that starts on the way is not either, nor one
 * that starts and ends on the way (a short request with a slow scrape). */
static void test_sched_scrape_in_flight_on_the_way(void **state)
{
    (void)state;
    wp_sched_t *s = make(NULL, 1);
    static wp_sched_pick_t mine; /* zeroed: no blocks, no prefill */
    mine.endpoint = 0;
    /* Ours ends while the scrape is on its way; the engine still counted it running. */
    assert_int_equal(wp_sched_on_dispatch(s, &mine), WP_OK);
    assert_int_equal(wp_sched_endpoint_scrape_sent(s, 0), WP_OK);
    assert_int_equal(wp_sched_on_complete(s, &mine), WP_OK);
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 0, 1.0, 0, 1, 0.1), WP_OK);
    assert_float_equal(load_score(s, 1.0), 0.5, 1e-12); /* idle: nothing phantom */
    /* Without the sent mark the same answer leaves a phantom request for a scrape interval. */
    assert_int_equal(wp_sched_on_dispatch(s, &mine), WP_OK);
    assert_int_equal(wp_sched_on_complete(s, &mine), WP_OK);
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 0, 2.0, 0, 1, 0.1), WP_OK);
    assert_true(load_score(s, 2.0) < 0.5);
    /* Ours starts while the scrape is on its way and the engine counts it: one, not two. */
    assert_int_equal(wp_sched_endpoint_scrape_sent(s, 0), WP_OK);
    assert_int_equal(wp_sched_on_dispatch(s, &mine), WP_OK);
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 0, 3.0, 0, 1, 0.1), WP_OK);
    double one = load_score(s, 3.0);
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 0, 3.0, 0, 0, 0.1), WP_OK);
    assert_float_equal(load_score(s, 3.0), one, 1e-12); /* the same as the engine not counting it */
    assert_int_equal(wp_sched_on_complete(s, &mine), WP_OK);
    /* Ours starts and ends while the scrape is on its way, and the engine counted it. */
    assert_int_equal(wp_sched_endpoint_scrape_sent(s, 0), WP_OK);
    assert_int_equal(wp_sched_on_dispatch(s, &mine), WP_OK);
    assert_int_equal(wp_sched_on_complete(s, &mine), WP_OK);
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 0, 4.0, 0, 1, 0.1), WP_OK);
    assert_float_equal(load_score(s, 4.0), 0.5, 1e-12); /* idle, as the simulator sees it */
    wp_sched_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sched_scrape_in_flight_on_the_way),
        cmocka_unit_test(test_sched_config_default),
        cmocka_unit_test(test_sched_config_unknown_names),
        cmocka_unit_test(test_sched_endpoints),
        cmocka_unit_test(test_sched_not_found_and_filters),
        cmocka_unit_test(test_sched_prefix_routes_to_same_endpoint),
        cmocka_unit_test(test_sched_load_moves_traffic_off_a_queue),
        cmocka_unit_test(test_sched_pending_prefill_moves_traffic),
        cmocka_unit_test(test_sched_stale_metrics_use_in_flight),
        cmocka_unit_test(test_sched_ties_uniform),
        cmocka_unit_test(test_sched_round_robin_and_single_scorer),
        cmocka_unit_test(test_sched_shared_turn_across_threads),
        cmocka_unit_test(test_sched_round_robin_per_role_and_dry),
        cmocka_unit_test(test_sched_session_affinity),
        cmocka_unit_test(test_sched_validate_after_random_operations),
        cmocka_unit_test(test_sched_limit_and_room),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
