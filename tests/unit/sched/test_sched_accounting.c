/* Tests for sched's bookkeeping across events and reloads: accounting errors (a completion
 * or a prefill-done the counts say cannot be is refused and counted, never hidden by a
 * floor at zero), and wp_sched_endpoint_adopt (a new scheduler takes over an endpoint's
 * in-flight and pending-prefill counts and its prefix-index blocks from an old one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sched/sched.h"

static void assert_valid(const wp_sched_t *s)
{
    wp_err_t err = {{0}};
    if (wp_sched_validate(s, &err) != WP_OK)
        fail_msg("validate: %s", err.msg);
}

/* A scheduler whose endpoints are named by names[0..n), with that policy (NULL: the
 * default). dynamo-kv is the one that keeps active blocks. */
static wp_sched_t *make(const char *const *names, int n, const char *policy, uint32_t lru)
{
    wp_sched_config_t cfg;
    wp_sched_config_default(&cfg);
    wp_err_t err;
    if (policy)
        assert_int_equal(wp_sched_config_set_policy(&cfg, policy, &err), WP_OK);
    if (lru)
        cfg.lru_capacity = lru;
    wp_sched_t *s = wp_sched_new(&cfg, &err);
    if (!s)
        fail_msg("new: %s", err.msg);
    for (int i = 0; i < n; i++)
        assert_int_equal(wp_sched_endpoint_add(s, names[i], WP_SCHED_ROLE_BOTH), i);
    return s;
}

/* `blocks` blocks of 64 characters made from seed. */
static void make_text(char *buf, int blocks, int seed)
{
    for (int b = 0; b < blocks; b++)
        for (int c = 0; c < 64; c++)
            buf[b * 64 + c] = (char)('a' + (seed * 7 + b * 13 + c) % 26);
    buf[blocks * 64] = 0;
}

/* Slots of a request's chain buffer: more than any prompt here has blocks. */
#define CHAIN 8

/* The pick of text; its chain goes into the caller's chain (CHAIN slots), which must live as
 * long as the pick is dispatched. */
static wp_sched_pick_t pick_for(wp_sched_t *s, const char *text, uint64_t *chain)
{
    wp_sched_request_t r = {.model = "m",
                            .prompt = text,
                            .prompt_len = strlen(text),
                            .session_ep = -1,
                            .hash_buf = chain,
                            .hash_cap = CHAIN};
    wp_rng_t rng;
    wp_rng_seed(&rng, 1);
    wp_sched_pick_t p;
    wp_err_t err;
    if (wp_sched_pick(s, 0, &r, &rng, &p, &err) != WP_OK)
        fail_msg("pick: %s", err.msg);
    return p;
}

static void test_sched_accounting_double_completion_counted(void **state)
{
    const char *names[] = {"a", "b"};
    wp_sched_t *s = make(names, 2, NULL, 0);
    wp_sched_pick_t p = {.endpoint = 1, .prefill_tokens = 100};
    assert_int_equal(wp_sched_on_dispatch(s, &p), WP_OK);
    assert_int_equal(wp_sched_on_prefill_done(s, &p), WP_OK);
    assert_int_equal(wp_sched_on_complete(s, &p), WP_OK);
    assert_int_equal(wp_sched_accounting_errors(s, 1, WP_SCHED_ACCT_COMPLETE), 0);
    /* The same request ends again: refused, counted, the count stays at 0. */
    assert_int_equal(wp_sched_on_complete(s, &p), WP_ELIMIT);
    assert_int_equal(wp_sched_on_complete(s, &p), WP_ELIMIT);
    assert_int_equal(wp_sched_endpoint_in_flight(s, 1), 0);
    assert_int_equal(wp_sched_accounting_errors(s, 1, WP_SCHED_ACCT_COMPLETE), 2);
    assert_int_equal(wp_sched_accounting_errors(s, 0, WP_SCHED_ACCT_COMPLETE), 0);
    /* A completion on an endpoint that never had a request. */
    assert_int_equal(wp_sched_on_complete(s, &(wp_sched_pick_t){.endpoint = 0}), WP_ELIMIT);
    assert_int_equal(wp_sched_accounting_errors(s, 0, WP_SCHED_ACCT_COMPLETE), 1);
    /* Out of range: not an accounting error, a bad argument. */
    assert_int_equal(wp_sched_on_complete(s, &(wp_sched_pick_t){.endpoint = 2}), WP_EINVAL);
    assert_int_equal(wp_sched_on_complete(s, NULL), WP_EINVAL);
    assert_int_equal(wp_sched_accounting_errors(s, 2, WP_SCHED_ACCT_COMPLETE), 0);
    assert_int_equal(wp_sched_accounting_errors(s, 0, WP_SCHED_ACCT_KINDS), 0);
    assert_string_equal(wp_sched_acct_name(WP_SCHED_ACCT_COMPLETE), "complete");
    assert_string_equal(wp_sched_acct_name(WP_SCHED_ACCT_PREFILL), "prefill");
    assert_null(wp_sched_acct_name(WP_SCHED_ACCT_KINDS));
    assert_valid(s);
    wp_sched_free(s);
}

/* A prefill-done with no prefill pending is counted, even for a fully cached prompt
 * (0 tokens), which a floor on the token sum alone could never notice. */
static void test_sched_accounting_prefill_underflow_counted(void **state)
{
    const char *names[] = {"a"};
    wp_sched_t *s = make(names, 1, NULL, 0);
    wp_sched_pick_t cached = {.endpoint = 0, .prefill_tokens = 0};
    assert_int_equal(wp_sched_on_prefill_done(s, &cached), WP_ELIMIT);
    assert_int_equal(wp_sched_accounting_errors(s, 0, WP_SCHED_ACCT_PREFILL), 1);
    wp_sched_pick_t p1 = {.endpoint = 0, .prefill_tokens = 300};
    wp_sched_pick_t p2 = {.endpoint = 0, .prefill_tokens = 0.25};
    assert_int_equal(wp_sched_on_dispatch(s, &p1), WP_OK);
    assert_int_equal(wp_sched_on_dispatch(s, &p2), WP_OK);
    assert_int_equal(wp_sched_on_prefill_done(s, &p1), WP_OK);
    assert_int_equal(wp_sched_on_prefill_done(s, &p2), WP_OK);
    assert_int_equal(wp_sched_on_prefill_done(s, &p2), WP_ELIMIT);
    assert_int_equal(wp_sched_accounting_errors(s, 0, WP_SCHED_ACCT_PREFILL), 2);
    assert_int_equal(wp_sched_accounting_errors(s, 0, WP_SCHED_ACCT_COMPLETE), 0);
    assert_valid(s);
    wp_sched_free(s);
}

/* After a reload the surviving endpoint keeps its prefix blocks, so a prompt it served goes
 * back to it with its full prefix matched; in-flight, pending prefill and active blocks
 * come along, and the requests begun before complete in the new scheduler without an
 * accounting error. */
/* A reload keeps the last scrape as it was taken: a request in flight then, that ended
 * before the reload, is not counted again on top of the scraped count (the default
 * topology policy's load-aware scores the same in both schedulers). */
static void test_sched_adopt_keeps_the_scrape(void **state)
{
    (void)state;
    const char *names[] = {"a", "b"};
    wp_sched_t *old = make(names, 2, NULL, 0), *neu = make(names, 2, NULL, 0);
    char text[8 * 64 + 1];
    make_text(text, 8, 5);
    uint64_t cp[CHAIN], cq[CHAIN];
    wp_sched_pick_t p = pick_for(old, text, cp);
    p.endpoint = 1;
    assert_int_equal(wp_sched_on_dispatch(old, &p), WP_OK);
    assert_int_equal(wp_sched_endpoint_scrape_sent(old, 1), WP_OK);
    /* the scrape saw that request running, and 3 waiting from other clients */
    assert_int_equal(wp_sched_endpoint_set_metrics(old, 1, 10.0, 3, 1, 0.5), WP_OK);
    assert_int_equal(wp_sched_on_prefill_done(old, &p), WP_OK);
    assert_int_equal(wp_sched_on_complete(old, &p), WP_OK); /* ended before the reload */
    assert_int_equal(wp_sched_endpoint_adopt(neu, 0, old, 0), WP_OK);
    assert_int_equal(wp_sched_endpoint_adopt(neu, 1, old, 1), WP_OK);
    assert_valid(neu);
    wp_sched_pick_t a = pick_for(old, text, cp), b = pick_for(neu, text, cq);
    assert_int_equal(a.n_scores, b.n_scores);
    for (int k = 0; k < a.n_scores; k++)
        assert_float_equal(a.scores[k].raw, b.scores[k].raw, 0);
    assert_int_equal(a.endpoint, b.endpoint);
    wp_sched_free(old);
    wp_sched_free(neu);
}

static void test_sched_adopt_keeps_prefix_and_counts(void **state)
{
    const char *old_names[] = {"a", "b", "c"};
    const char *new_names[] = {"c", "b", "d"};            /* b moves from 1 to 1, c from 2 to 0 */
    wp_sched_t *old = make(old_names, 3, "dynamo-kv", 0); /* it keeps active blocks */
    char text[8 * 64 + 1];
    make_text(text, 8, 3);
    uint64_t cp[CHAIN], cq[CHAIN];
    wp_sched_pick_t p = pick_for(old, text, cp);
    p.endpoint = 2; /* send it to c */
    assert_int_equal(wp_sched_on_dispatch(old, &p), WP_OK);
    assert_int_equal(wp_sched_on_dispatch(old, &p), WP_OK);
    assert_int_equal(wp_sched_on_prefill_done(old, &p), WP_OK);

    wp_sched_t *neu = make(new_names, 3, "dynamo-kv", 0);
    assert_int_equal(wp_sched_endpoint_adopt(neu, 0, old, 2), WP_OK);
    assert_int_equal(wp_sched_endpoint_adopt(neu, 1, old, 1), WP_OK);
    assert_valid(neu);
    assert_valid(old);
    assert_int_equal(wp_sched_index_endpoint_blocks(wp_sched_index(neu), 0), 8);
    assert_int_equal(wp_sched_index_endpoint_blocks(wp_sched_index(old), 2), 8); /* src kept */
    assert_int_equal(wp_sched_index_endpoint_blocks(wp_sched_index(neu), 1), 0);
    assert_int_equal(wp_sched_endpoint_in_flight(neu, 0), 2);
    assert_int_equal(wp_sched_endpoint_active_blocks(neu, 0), 8); /* the same 8, twice */
    assert_int_equal(wp_sched_endpoint_active_blocks(neu, 1), 0);
    wp_sched_pick_t q = pick_for(neu, text, cq);
    assert_int_equal(q.matched_blocks, q.endpoint == 0 ? 8 : 0); /* c's prefix came along */
    q.endpoint = 0; /* the old generation's two requests, ending on c's heir */
    /* One request was still prefilling: its prefill-done and both completions are owed. */
    assert_int_equal(wp_sched_on_prefill_done(neu, &q), WP_OK);
    assert_int_equal(wp_sched_on_complete(neu, &q), WP_OK);
    assert_int_equal(wp_sched_endpoint_active_blocks(neu, 0), 8);
    assert_int_equal(wp_sched_on_complete(neu, &q), WP_OK);
    assert_int_equal(wp_sched_endpoint_active_blocks(neu, 0), 0);
    assert_int_equal(wp_sched_accounting_errors(neu, 0, WP_SCHED_ACCT_PREFILL), 0);
    assert_int_equal(wp_sched_accounting_errors(neu, 0, WP_SCHED_ACCT_COMPLETE), 0);
    assert_int_equal(wp_sched_on_prefill_done(neu, &q), WP_ELIMIT);

    assert_int_equal(wp_sched_endpoint_adopt(neu, 3, old, 0), WP_EINVAL);
    assert_int_equal(wp_sched_endpoint_adopt(neu, 0, old, 3), WP_EINVAL);
    assert_int_equal(wp_sched_endpoint_adopt(neu, 0, neu, 1), WP_EINVAL);
    assert_valid(neu);
    wp_sched_free(old);
    wp_sched_free(neu);
}

/* A reload's heir follows the requests of the older generation as gateway/pool.c drives it:
 * one sent there after the reload joins the heir's active set (its counts come by
 * set_load) and leaves it when it ends; one begun before leaves the copy adopt made. */
static void test_sched_hold_follows_older_generation(void **state)
{
    const char *names[] = {"a"};
    wp_sched_t *old = make(names, 1, "dynamo-kv", 0), *neu = make(names, 1, "dynamo-kv", 0);
    char t1[6 * 64 + 1], t2[6 * 64 + 1];
    make_text(t1, 6, 1);
    make_text(t2, 6, 2);
    uint64_t c1[CHAIN], c2[CHAIN];
    wp_sched_pick_t p1 = pick_for(old, t1, c1);
    assert_int_equal(wp_sched_on_dispatch(old, &p1), WP_OK);
    assert_int_equal(wp_sched_endpoint_adopt(neu, 0, old, 0), WP_OK);
    assert_int_equal(wp_sched_endpoint_active_blocks(neu, 0), 6);
    wp_sched_pick_t p2 = pick_for(old, t2, c2);
    assert_int_equal(wp_sched_on_dispatch(old, &p2), WP_OK);
    wp_sched_load_t l = wp_sched_endpoint_load(old, 0);
    assert_int_equal(wp_sched_endpoint_set_load(neu, 0, &l), WP_OK);
    assert_int_equal(wp_sched_endpoint_hold(neu, 0, &p2, true), WP_OK);
    assert_int_equal(wp_sched_endpoint_active_blocks(neu, 0), 12);
    assert_int_equal(wp_sched_endpoint_in_flight(neu, 0), 2); /* hold moves no count */
    assert_int_equal(wp_sched_on_complete(old, &p1), WP_OK);
    assert_int_equal(wp_sched_endpoint_hold(neu, 0, &p1, false), WP_OK);
    assert_int_equal(wp_sched_endpoint_active_blocks(neu, 0), 6);
    assert_int_equal(wp_sched_endpoint_active_blocks(old, 0), 6);
    assert_int_equal(wp_sched_on_complete(old, &p2), WP_OK);
    assert_int_equal(wp_sched_endpoint_hold(neu, 0, &p2, false), WP_OK);
    assert_int_equal(wp_sched_endpoint_active_blocks(neu, 0), 0);
    l = wp_sched_endpoint_load(old, 0);
    assert_int_equal(wp_sched_endpoint_set_load(neu, 0, &l), WP_OK);
    assert_int_equal(wp_sched_endpoint_hold(neu, 1, &p2, true), WP_EINVAL);
    assert_int_equal(wp_sched_endpoint_hold(neu, 0, NULL, true), WP_EINVAL);
    assert_valid(old);
    assert_valid(neu);
    wp_sched_free(old);
    wp_sched_free(neu);
}

static void test_sched_load_get_and_set(void **state)
{
    const char *names[] = {"a"};
    wp_sched_t *s = make(names, 1, NULL, 0);
    wp_sched_pick_t p = {.endpoint = 0, .prefill_tokens = 40};
    assert_int_equal(wp_sched_on_dispatch(s, &p), WP_OK);
    wp_sched_load_t l = wp_sched_endpoint_load(s, 0);
    assert_int_equal(l.in_flight, 1);
    assert_int_equal(l.prefilling, 1);
    assert_float_equal(l.pending_prefill, 40, 0);
    l = wp_sched_endpoint_load(s, 1);
    assert_int_equal(l.in_flight + l.prefilling, 0);
    l = (wp_sched_load_t){3, 2, 70, 900};
    assert_int_equal(wp_sched_endpoint_set_load(s, 0, &l), WP_OK);
    assert_int_equal(wp_sched_endpoint_in_flight(s, 0), 3);
    assert_float_equal(wp_sched_endpoint_load(s, 0).tokens_in_flight, 900, 0);
    l = (wp_sched_load_t){3, 0, 70, 900}; /* tokens with nothing prefilling */
    assert_int_equal(wp_sched_endpoint_set_load(s, 0, &l), WP_EINVAL);
    l = (wp_sched_load_t){0, 0, 0, 900}; /* tokens in flight with nothing in flight */
    assert_int_equal(wp_sched_endpoint_set_load(s, 0, &l), WP_EINVAL);
    l = (wp_sched_load_t){3, 1, 10, -1};
    assert_int_equal(wp_sched_endpoint_set_load(s, 0, &l), WP_EINVAL);
    l = (wp_sched_load_t){3, 1, -1, 0};
    assert_int_equal(wp_sched_endpoint_set_load(s, 0, &l), WP_EINVAL);
    assert_int_equal(wp_sched_endpoint_set_load(s, 1, &l), WP_EINVAL);
    assert_int_equal(wp_sched_endpoint_load(s, 0).prefilling, 2);
    assert_valid(s);
    wp_sched_free(s);
}

/* A smaller LRU in the new scheduler keeps the most recent blocks, in the same order. */
static void test_sched_adopt_smaller_lru_keeps_most_recent(void **state)
{
    const char *names[] = {"a"};
    wp_sched_t *old = make(names, 1, "prefix-aware", 100);
    char t1[4 * 64 + 1], t2[4 * 64 + 1];
    make_text(t1, 4, 1);
    make_text(t2, 4, 2);
    uint64_t c1[CHAIN], c2[CHAIN], scratch[CHAIN];
    wp_sched_pick_t p1 = pick_for(old, t1, c1), p2 = pick_for(old, t2, c2);
    assert_int_equal(wp_sched_on_dispatch(old, &p1), WP_OK);
    assert_int_equal(wp_sched_on_dispatch(old, &p2), WP_OK); /* t2 is the most recent */
    wp_sched_t *neu = make(names, 1, "prefix-aware", 4);
    assert_int_equal(wp_sched_endpoint_adopt(neu, 0, old, 0), WP_OK);
    assert_valid(neu);
    assert_int_equal(wp_sched_index_endpoint_blocks(wp_sched_index(neu), 0), 4);
    assert_int_equal(pick_for(neu, t2, scratch).matched_blocks, 4);
    assert_int_equal(pick_for(neu, t1, scratch).matched_blocks, 0);
    wp_sched_free(old);
    wp_sched_free(neu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sched_accounting_double_completion_counted),
        cmocka_unit_test(test_sched_accounting_prefill_underflow_counted),
        cmocka_unit_test(test_sched_adopt_keeps_prefix_and_counts),
        cmocka_unit_test(test_sched_adopt_keeps_the_scrape),
        cmocka_unit_test(test_sched_adopt_smaller_lru_keeps_most_recent),
        cmocka_unit_test(test_sched_hold_follows_older_generation),
        cmocka_unit_test(test_sched_load_get_and_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
