/* Tests for sched/pd (the file is not test_pd.c: tests/unit/api/test_pd.c already makes
 * the target test_pd). A table of topologies and prompts: decode only below the threshold
 * on the prompt or on its uncached part at the decode endpoint the scheduler would pick
 * (prefix-aware, so the one holding the prefix); disaggregated otherwise, the prefill pick
 * on a prefill endpoint; no_prefill when no prefill endpoint can take it; decode_only with
 * no decode endpoint. Then: the dry decode pick moves no round-robin cursor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sched/pd.h"
#include "sched/retry.h"

#define BLOCKS 8 /* the prompt: 8 blocks of 64 characters, 16 tokens each */
#define P0 0     /* prefill */
#define D0 1     /* decode */
#define D1 2     /* decode; holds the prefix when a case says so */

static char text[BLOCKS * 64 + 1];

static void make_text(void)
{
    for (int i = 0; i < BLOCKS * 64; i++)
        text[i] = (char)('a' + (i * 7 + i / 64) % 26);
    text[BLOCKS * 64] = 0;
}

static wp_sched_t *make(const char *policy, const char *const *names, const wp_sched_role_t *roles,
                        int n)
{
    wp_sched_config_t cfg;
    wp_sched_config_default(&cfg);
    wp_err_t err;
    if (wp_sched_config_set_policy(&cfg, policy, &err) != WP_OK)
        fail_msg("policy: %s", err.msg);
    wp_sched_t *s = wp_sched_new(&cfg, &err);
    if (s == NULL)
        fail_msg("new: %s", err.msg);
    for (int i = 0; i < n; i++)
        assert_int_equal(wp_sched_endpoint_add(s, names[i], roles[i]), i);
    return s;
}

static wp_sched_t *make_pd(void)
{
    const char *names[] = {"p0", "d0", "d1"};
    const wp_sched_role_t roles[] = {WP_SCHED_ROLE_PREFILL, WP_SCHED_ROLE_DECODE,
                                     WP_SCHED_ROLE_DECODE};
    return make("prefix-aware", names, roles, 3);
}

/* Every request here is a prefix of text, so all picks may share one chain buffer: each
 * writes the same hashes. */
static uint64_t chain[BLOCKS];

static wp_sched_request_t req(size_t chars, size_t tokens)
{
    return (wp_sched_request_t){.model = "m",
                                .prompt = text,
                                .prompt_len = chars,
                                .prompt_tokens = tokens,
                                .session_ep = -1,
                                .hash_buf = chain,
                                .hash_cap = BLOCKS};
}

/* Endpoint ep holds the prompt's first `blocks` blocks (a request of that prefix was sent
 * there and ended). */
static void hold_prefix(wp_sched_t *s, int ep, int blocks)
{
    wp_sched_request_t r = req((size_t)blocks * 64, (size_t)blocks * 16);
    uint64_t ex[WP_SCHED_EXCLUDE_WORDS] = {0};
    for (int i = 0; i < wp_sched_endpoint_count(s); i++)
        if (i != ep)
            ex[i / 64] |= 1ull << (i % 64);
    r.exclude = ex;
    wp_rng_t rng;
    wp_rng_seed(&rng, 99);
    wp_sched_pick_t pk;
    wp_err_t err;
    if (wp_sched_pick(s, 0, &r, &rng, &pk, &err) != WP_OK)
        fail_msg("pick: %s", err.msg);
    assert_int_equal(pk.endpoint, ep);
    assert_int_equal(wp_sched_on_dispatch(s, &pk), WP_OK);
    assert_int_equal(wp_sched_on_prefill_done(s, &pk), WP_OK);
    assert_int_equal(wp_sched_on_complete(s, &pk), WP_OK);
}

typedef struct pd_case_s {
    const char *name;
    size_t tokens;    /* prompt_tokens (the prompt text is always BLOCKS blocks) */
    int held;         /* leading blocks D1 holds */
    double threshold; /* tokens */
    bool down[3];     /* endpoint unhealthy */
    bool full[3];     /* endpoint at its in-flight limit */
    wp_sched_pd_verdict_t want;
} pd_case_t;

#define DECODE WP_SCHED_PD_DECODE_ONLY
#define DISAGG WP_SCHED_PD_DISAGGREGATE
#define NOPRE WP_SCHED_PD_NO_PREFILL

static const pd_case_t cases[] = {
    {"short prompt", 50, 0, 100, {0}, {0}, DECODE},
    {"long prompt, nothing cached", 128, 0, 100, {0}, {0}, DISAGG},
    {"prompt exactly at the threshold", 128, 0, 128, {0}, {0}, DISAGG},
    {"prompt one below the threshold", 127, 0, 128, {0}, {0}, DECODE},
    {"decode endpoint holds it all", 128, 8, 100, {0}, {0}, DECODE},
    {"decode endpoint holds half: 64 uncached", 128, 4, 100, {0}, {0}, DECODE},
    {"half held, uncached exactly at the threshold", 128, 4, 64, {0}, {0}, DISAGG},
    {"half held, uncached one below the threshold", 128, 4, 65, {0}, {0}, DECODE},
    {"7 of 8 held: 16 uncached", 128, 7, 17, {0}, {0}, DECODE},
    {"the holder is down: the other decode endpoint", 128, 8, 100, {0, 0, 1}, {0}, DISAGG},
    {"the holder is full: the other decode endpoint", 128, 8, 100, {0}, {0, 0, 1}, DISAGG},
    {"prefill endpoint down", 128, 0, 100, {1, 0, 0}, {0}, NOPRE},
    {"prefill endpoint full", 128, 0, 100, {0}, {1, 0, 0}, NOPRE},
    {"prefill endpoint down, not worth it anyway", 50, 0, 100, {1, 0, 0}, {0}, DECODE},
    {"no decode endpoint", 128, 0, 100, {0, 1, 1}, {0}, DECODE},
    {"no decode endpoint with room", 128, 0, 100, {0}, {0, 1, 1}, DECODE},
    {"nothing up at all", 128, 0, 100, {1, 1, 1}, {0}, DECODE},
    {"threshold 0: always worth it", 1, 8, 0, {0}, {0}, DISAGG},
};

static void test_pd_table(void **state)
{
    make_text();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const pd_case_t *c = &cases[i];
        wp_sched_t *s = make_pd();
        if (c->held > 0)
            hold_prefix(s, D1, c->held);
        for (int e = 0; e < 3; e++) {
            assert_int_equal(wp_sched_endpoint_set_healthy(s, e, !c->down[e]), WP_OK);
            if (c->full[e]) {
                assert_int_equal(wp_sched_endpoint_set_limit(s, e, 1), WP_OK);
                assert_int_equal(wp_sched_endpoint_set_in_flight(s, e, 1), WP_OK);
            }
        }
        uint32_t in_flight[3];
        for (int e = 0; e < 3; e++)
            in_flight[e] = wp_sched_endpoint_in_flight(s, e);
        wp_sched_request_t r = req(sizeof(text) - 1, c->tokens);
        r.role = WP_SCHED_ROLE_PREFILL; /* ignored */
        wp_rng_t rng;
        wp_rng_seed(&rng, 7 + i);
        wp_sched_pick_t pre;
        memset(&pre, 0xab, sizeof(pre));
        pre.endpoint = -77;
        wp_sched_pd_verdict_t v = wp_sched_pd_decide(s, 10, &r, c->threshold, &rng, &pre);
        if (v != c->want)
            fail_msg("case '%s': got %s, want %s", c->name, wp_sched_pd_name(v),
                     wp_sched_pd_name(c->want));
        if (v == DISAGG) {
            assert_int_equal(pre.endpoint, P0);
            assert_int_equal(pre.n_candidates, 1);
            assert_int_equal(pre.n_blocks, BLOCKS);
            assert_int_equal(pre.matched_blocks, 0);
            assert_float_equal(pre.prefill_tokens, (double)c->tokens, 1e-9);
        } else {
            assert_int_equal(pre.endpoint, -77); /* written only for DISAGGREGATE */
        }
        /* Deciding dispatches nothing. */
        for (int e = 0; e < 3; e++)
            assert_int_equal(wp_sched_endpoint_in_flight(s, e), in_flight[e]);
        assert_int_equal(wp_sched_validate(s, NULL), WP_OK);
        wp_sched_free(s);
    }
}

/* The decode endpoint looked at is the one a decode pick would choose: with the prefix on
 * D1 a real decode pick goes to D1, and the decider saw D1's uncached tokens. */
static void test_pd_looks_at_the_decode_pick(void **state)
{
    make_text();
    wp_sched_t *s = make_pd();
    hold_prefix(s, D1, 6); /* 32 of 128 tokens uncached there, 128 on D0 */
    wp_rng_t rng;
    wp_rng_seed(&rng, 3);
    wp_sched_request_t r = req(sizeof(text) - 1, 128);
    wp_sched_pick_t pre, dec;
    assert_int_equal(wp_sched_pd_decide(s, 0, &r, 33, &rng, &pre), DECODE);
    assert_int_equal(wp_sched_pd_decide(s, 0, &r, 32, &rng, &pre), DISAGG);
    assert_int_equal(pre.endpoint, P0);
    r.role = WP_SCHED_ROLE_DECODE;
    assert_int_equal(wp_sched_pick(s, 0, &r, &rng, &dec, NULL), WP_OK);
    assert_int_equal(dec.endpoint, D1);
    assert_float_equal(dec.prefill_tokens, 32, 1e-9);
    wp_sched_free(s);
}

/* Round-robin over two prefill and two decode endpoints: the decider's dry decode picks
 * leave the decode cursor where it was; its real prefill picks move the prefill cursor; a
 * decode-only verdict moves neither. */
static void test_pd_dry_pick_moves_no_cursor(void **state)
{
    make_text();
    const char *names[] = {"p0", "p1", "d0", "d1"};
    const wp_sched_role_t roles[] = {WP_SCHED_ROLE_PREFILL, WP_SCHED_ROLE_PREFILL,
                                     WP_SCHED_ROLE_DECODE, WP_SCHED_ROLE_DECODE};
    wp_sched_t *s = make("round-robin", names, roles, 4);
    wp_rng_t rng;
    wp_rng_seed(&rng, 5);
    wp_sched_request_t shortr = req(64, 16), longr = req(sizeof(text) - 1, 128);
    wp_sched_pick_t pre, dec;
    for (int i = 0; i < 3; i++)
        assert_int_equal(wp_sched_pd_decide(s, 0, &shortr, 100, &rng, &pre), DECODE);
    const int want_prefill[] = {0, 1, 0, 1, 0};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(wp_sched_pd_decide(s, 0, &longr, 100, &rng, &pre), DISAGG);
        assert_int_equal(pre.endpoint, want_prefill[i]);
    }
    /* Eight dry decode picks later, the real decode picks start at d0 and alternate. */
    longr.role = WP_SCHED_ROLE_DECODE;
    const int want_decode[] = {2, 3, 2};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(wp_sched_pick(s, 0, &longr, &rng, &dec, NULL), WP_OK);
        assert_int_equal(dec.endpoint, want_decode[i]);
    }
    /* The decode cursor now points at d1: a decide leaves it there. */
    assert_int_equal(wp_sched_pd_decide(s, 0, &longr, 100, &rng, &pre), DISAGG);
    assert_int_equal(pre.endpoint, 1);
    assert_int_equal(wp_sched_pick(s, 0, &longr, &rng, &dec, NULL), WP_OK);
    assert_int_equal(dec.endpoint, 3);
    wp_sched_free(s);
}

static void test_pd_names(void **state)
{
    assert_string_equal(wp_sched_pd_name(WP_SCHED_PD_DECODE_ONLY), "decode_only");
    assert_string_equal(wp_sched_pd_name(WP_SCHED_PD_DISAGGREGATE), "disaggregate");
    assert_string_equal(wp_sched_pd_name(WP_SCHED_PD_NO_PREFILL), "no_prefill_endpoint");
    assert_string_equal(wp_sched_pd_name((wp_sched_pd_verdict_t)3), "unknown");
    assert_string_equal(wp_sched_pd_name((wp_sched_pd_verdict_t)-1), "unknown");
}

/* The prefill stage's outcome: a 2xx decodes with its KV, a 4xx goes to the client, the
 * rest falls back; outlier detection hears all but a 429, a fault at >= 500 or the
 * transport. */
static void test_pd_prefill_outcome_table(void **state)
{
    (void)state;
    static const struct {
        int outcome;
        bool ok, to_client, fall_back, judged, fault;
    } rows[] = {
        {200, true, false, false, true, false},
        {400, false, true, false, true, false},
        {404, false, true, false, true, false},
        {429, false, true, false, false, false},
        {500, false, false, true, true, true},
        {503, false, false, true, true, true},
        {302, false, false, true, true, false},
        {WP_SCHED_RETRY_TRANSPORT, false, false, true, true, true},
        {WP_SCHED_RETRY_TIMEOUT, false, false, true, true, true},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        wp_sched_pd_prefill_t o = wp_sched_pd_prefill_outcome(rows[i].outcome);
        if (o.ok != rows[i].ok || o.to_client != rows[i].to_client ||
            o.fall_back != rows[i].fall_back || o.judged != rows[i].judged ||
            o.fault != rows[i].fault)
            fail_msg("outcome %d: ok %d to_client %d fall_back %d judged %d fault %d",
                     rows[i].outcome, o.ok, o.to_client, o.fall_back, o.judged, o.fault);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pd_table),
        cmocka_unit_test(test_pd_prefill_outcome_table),
        cmocka_unit_test(test_pd_looks_at_the_decode_pick),
        cmocka_unit_test(test_pd_dry_pick_moves_no_cursor),
        cmocka_unit_test(test_pd_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
