/* Tests for sched/scorer_rank_balance ("rank-balance", wide-EP) and what it reads: the
 * endpoints' groups and their prompt tokens in flight, kept by dispatch, completion,
 * set_load and adopt. The formula is checked on a hand-built context (as test_scorers
 * does), the picks through wp_sched_pick with a topology list of scorers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sched/sched_internal.h"

static void assert_valid(const wp_sched_t *s)
{
    wp_err_t err = {{0}};
    if (wp_sched_validate(s, &err) != WP_OK)
        fail_msg("validate: %s", err.msg);
}

/* A topology scheduler with the scorers types[i] weighted weights[i], and n endpoints. */
static wp_sched_t *make(const char *const *types, const double *weights, int n_scorers, int n)
{
    wp_sched_config_t cfg;
    wp_sched_config_default(&cfg);
    cfg.n_scorers = 0;
    wp_err_t err;
    for (int k = 0; k < n_scorers; k++)
        assert_int_equal(wp_sched_config_add_scorer(&cfg, types[k], weights[k], &err), WP_OK);
    wp_sched_t *s = wp_sched_new(&cfg, &err);
    if (!s)
        fail_msg("new: %s", err.msg);
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "rank-%d", i);
        assert_int_equal(wp_sched_endpoint_add(s, name, WP_SCHED_ROLE_BOTH), i);
    }
    return s;
}

static double tokens(const wp_sched_t *s, int ep)
{
    return wp_sched_endpoint_load(s, ep).tokens_in_flight;
}

/* ---- bookkeeping ---- */

static void test_rank_balance_tokens_in_flight(void **state)
{
    const char *t[] = {"rank-balance"};
    const double w[] = {1};
    wp_sched_t *s = make(t, w, 1, 2);
    wp_sched_pick_t a = {.endpoint = 0, .prompt_tokens = 100};
    wp_sched_pick_t b = {.endpoint = 0, .prompt_tokens = 50};
    wp_sched_pick_t c = {.endpoint = 1, .prompt_tokens = 7};
    assert_int_equal(wp_sched_on_dispatch(s, &a), WP_OK);
    assert_int_equal(wp_sched_on_dispatch(s, &b), WP_OK);
    assert_int_equal(wp_sched_on_dispatch(s, &c), WP_OK);
    assert_float_equal(tokens(s, 0), 150, 0);
    assert_float_equal(tokens(s, 1), 7, 0);
    assert_valid(s);
    assert_int_equal(wp_sched_on_complete(s, &a), WP_OK);
    assert_float_equal(tokens(s, 0), 50, 0);
    assert_int_equal(wp_sched_on_complete(s, &b), WP_OK);
    assert_float_equal(tokens(s, 0), 0, 0);
    /* a completion with nothing in flight is an accounting error and changes nothing */
    assert_int_equal(wp_sched_on_complete(s, &a), WP_ELIMIT);
    assert_float_equal(tokens(s, 0), 0, 0);
    /* a pick whose prompt_tokens is not a count adds and takes nothing */
    wp_sched_pick_t bad = {.endpoint = 1, .prompt_tokens = NAN};
    assert_int_equal(wp_sched_on_dispatch(s, &bad), WP_OK);
    assert_float_equal(tokens(s, 1), 7, 0);
    assert_int_equal(wp_sched_on_complete(s, &bad), WP_OK);
    assert_float_equal(tokens(s, 1), 7, 0);
    /* with nothing left in flight the count is 0, whatever the picks said */
    wp_sched_pick_t more = {.endpoint = 1, .prompt_tokens = 9};
    assert_int_equal(wp_sched_on_complete(s, &more), WP_OK);
    assert_float_equal(tokens(s, 1), 0, 0);
    assert_int_equal(wp_sched_on_dispatch(s, &c), WP_OK);
    assert_int_equal(wp_sched_endpoint_set_in_flight(s, 1, 0), WP_OK);
    assert_float_equal(tokens(s, 1), 0, 0);
    assert_valid(s);
    wp_sched_free(s);
}

/* A reload: the new scheduler's endpoint takes the old one's tokens in flight over, and the
 * requests begun before complete there down to 0; the group is the new config's. */
static void test_rank_balance_tokens_adopted(void **state)
{
    const char *t[] = {"rank-balance"};
    const double w[] = {1};
    wp_sched_t *old = make(t, w, 1, 2), *neu = make(t, w, 1, 2);
    wp_sched_pick_t a = {.endpoint = 1, .prompt_tokens = 300};
    wp_sched_pick_t b = {.endpoint = 1, .prompt_tokens = 20};
    assert_int_equal(wp_sched_on_dispatch(old, &a), WP_OK);
    assert_int_equal(wp_sched_on_dispatch(old, &b), WP_OK);
    assert_int_equal(wp_sched_endpoint_set_group(old, 1, 4), WP_OK);
    assert_int_equal(wp_sched_endpoint_adopt(neu, 0, old, 1), WP_OK);
    assert_float_equal(tokens(neu, 0), 320, 0);
    assert_float_equal(tokens(old, 1), 320, 0); /* src is read only */
    assert_int_equal(wp_sched_endpoint_group(neu, 0), -1);
    assert_valid(neu);
    a.endpoint = b.endpoint = 0;
    assert_int_equal(wp_sched_on_complete(neu, &a), WP_OK);
    assert_float_equal(tokens(neu, 0), 20, 0);
    assert_int_equal(wp_sched_on_complete(neu, &b), WP_OK);
    assert_float_equal(tokens(neu, 0), 0, 0);
    /* set_load carries tokens too (gateway/pool.c passes an old generation's changes on) */
    wp_sched_load_t l = wp_sched_endpoint_load(old, 1);
    assert_int_equal(wp_sched_endpoint_set_load(neu, 1, &l), WP_OK);
    assert_float_equal(tokens(neu, 1), 320, 0);
    assert_valid(neu);
    wp_sched_free(old);
    wp_sched_free(neu);
}

static void test_rank_balance_group_setter(void **state)
{
    const char *t[] = {"rank-balance"};
    const double w[] = {1};
    wp_sched_t *s = make(t, w, 1, 2);
    assert_int_equal(wp_sched_endpoint_group(s, 0), -1); /* none by default */
    assert_int_equal(wp_sched_endpoint_set_group(s, 0, 0), WP_OK);
    assert_int_equal(wp_sched_endpoint_group(s, 0), 0);
    assert_int_equal(wp_sched_endpoint_set_group(s, 1, WP_SCHED_MAX_ENDPOINTS - 1), WP_OK);
    assert_int_equal(wp_sched_endpoint_set_group(s, 1, WP_SCHED_MAX_ENDPOINTS), WP_EINVAL);
    assert_int_equal(wp_sched_endpoint_set_group(s, 1, -2), WP_EINVAL);
    assert_int_equal(wp_sched_endpoint_set_group(s, 2, 0), WP_EINVAL);
    assert_int_equal(wp_sched_endpoint_group(s, 1), WP_SCHED_MAX_ENDPOINTS - 1);
    assert_int_equal(wp_sched_endpoint_group(s, 2), -1);
    assert_int_equal(wp_sched_endpoint_set_group(s, 0, -1), WP_OK);
    assert_int_equal(wp_sched_endpoint_group(s, 0), -1);
    assert_valid(s);
    wp_sched_free(s);
}

/* It is registered, and in no default list. */
static void test_rank_balance_registered_not_default(void **state)
{
    wp_sched_config_t cfg;
    wp_sched_config_default(&cfg);
    for (int k = 0; k < cfg.n_scorers; k++)
        assert_string_not_equal(cfg.scorers[k].type, "rank-balance");
    wp_err_t err;
    assert_int_equal(wp_sched_config_add_scorer(&cfg, "rank-balance", 50, &err), WP_OK);
    wp_sched_t *s = wp_sched_new(&cfg, &err);
    assert_non_null(s);
    assert_true(wp_sched_uses_scorer(s, "rank-balance"));
    wp_sched_free(s);
    wp_sched_config_default(&cfg);
    s = wp_sched_new(&cfg, &err);
    assert_false(wp_sched_uses_scorer(s, "rank-balance"));
    wp_sched_free(s);
}

/* ---- the formula, on a hand-built context ---- */

#define N 8

typedef struct fixture_s {
    wp_sched_config_t cfg;
    wp__sched_ep_t eps[N];
    int cand[N];
    uint32_t matched[N];
    wp_sched_request_t req;
    wp__sched_ctx_t ctx;
    double out[N];
} fixture_t;

/* n candidates 0..n-1, groups[i] and tokens tok[i] each. */
static void fixture_init(fixture_t *f, int n, const int *groups, const double *tok)
{
    memset(f, 0, sizeof(*f));
    wp_sched_config_default(&f->cfg);
    for (int i = 0; i < n; i++) {
        f->eps[i] = (wp__sched_ep_t){.healthy = true, .group = groups[i]};
        f->eps[i].tokens_in_flight = tok[i];
        f->eps[i].in_flight = tok[i] > 0;
        f->cand[i] = i;
    }
    f->req = (wp_sched_request_t){.model = "m", .session_ep = -1};
    f->ctx = (wp__sched_ctx_t){.cfg = &f->cfg,
                               .eps = f->eps,
                               .req = &f->req,
                               .n = n,
                               .cand = f->cand,
                               .matched = f->matched};
}

static void score(fixture_t *f)
{
    for (int i = 0; i < N; i++)
        f->out[i] = -1; /* every candidate must be written */
    wp__sched_scorer_rank_balance.score(&f->ctx, f->out);
}

static void test_rank_balance_score_within_group(void **state)
{
    fixture_t f;
    const int g[] = {0, 0, 0, 0};
    const double t[] = {0, 100, 200, 50};
    fixture_init(&f, 4, g, t);
    score(&f);
    assert_float_equal(f.out[0], 1.0, 1e-12);  /* the lightest */
    assert_float_equal(f.out[1], 0.5, 1e-12);  /* (200 − 100) / 200 */
    assert_float_equal(f.out[2], 0.0, 1e-12);  /* the heaviest */
    assert_float_equal(f.out[3], 0.75, 1e-12); /* (200 − 50) / 200 */
    /* equal: 1 for all (idle ranks included) */
    const double same[] = {30, 30, 30, 30};
    fixture_init(&f, 4, g, same);
    score(&f);
    for (int i = 0; i < 4; i++)
        assert_float_equal(f.out[i], 1.0, 0);
    /* only candidates count: without the heaviest (2), 100 is the highest */
    fixture_init(&f, 4, g, t);
    const int cand[] = {0, 1, 3};
    memcpy(f.cand, cand, sizeof(cand));
    f.ctx.n = 3;
    score(&f);
    assert_float_equal(f.out[0], 1.0, 1e-12);
    assert_float_equal(f.out[1], 0.0, 1e-12);
    assert_float_equal(f.out[2], 0.5, 1e-12); /* endpoint 3: (100 − 50) / 100 */
}

/* An endpoint in no group scores 0, however light; a deployment without groups gets 0
 * everywhere (the scorer adds nothing). */
static void test_rank_balance_no_group_scores_zero(void **state)
{
    fixture_t f;
    const int g[] = {-1, 0, 0, -1};
    const double t[] = {0, 10, 20, 500};
    fixture_init(&f, 4, g, t);
    score(&f);
    assert_float_equal(f.out[0], 0.0, 0);
    assert_float_equal(f.out[1], 1.0, 0);
    assert_float_equal(f.out[2], 0.0, 0);
    assert_float_equal(f.out[3], 0.0, 0);
    const int none[] = {-1, -1, -1};
    fixture_init(&f, 3, none, t);
    score(&f);
    for (int i = 0; i < 3; i++)
        assert_float_equal(f.out[i], 0.0, 0);
}

/* Each group is scaled on its own: a heavy group's lightest rank scores 1 as a light one's. */
static void test_rank_balance_two_groups_independent(void **state)
{
    fixture_t f;
    const int g[] = {0, 7, 0, 7, 7, -1, 0};
    const double t[] = {1000, 10, 3000, 10, 40, 0, 2000};
    fixture_init(&f, 7, g, t);
    score(&f);
    assert_float_equal(f.out[0], 1.0, 1e-12); /* group 0: 1000..3000 */
    assert_float_equal(f.out[2], 0.0, 1e-12);
    assert_float_equal(f.out[6], 0.5, 1e-12);
    assert_float_equal(f.out[1], 1.0, 1e-12); /* group 7: 10..40 */
    assert_float_equal(f.out[3], 1.0, 1e-12);
    assert_float_equal(f.out[4], 0.0, 1e-12);
    assert_float_equal(f.out[5], 0.0, 0); /* no group */
    /* a group of one rank: 1 (nothing to balance against) */
    const int lone[] = {3, 0, 0};
    const double lt[] = {900, 1, 2};
    fixture_init(&f, 3, lone, lt);
    score(&f);
    assert_float_equal(f.out[0], 1.0, 0);
}

/* ---- picks ---- */

/* `blocks` blocks of 64 characters made from seed. */
static void make_text(char *buf, int blocks, int seed)
{
    for (int b = 0; b < blocks; b++)
        for (int c = 0; c < 64; c++)
            buf[b * 64 + c] = (char)('a' + (seed * 7 + b * 13 + c) % 26);
    buf[blocks * 64] = 0;
}

#define CHAIN 8

static wp_sched_pick_t pick_for(wp_sched_t *s, const char *text, uint64_t *chain, uint64_t seed)
{
    wp_sched_request_t r = {.model = "m",
                            .prompt = text,
                            .prompt_len = strlen(text),
                            .session_ep = -1,
                            .hash_buf = chain,
                            .hash_cap = CHAIN};
    wp_rng_t rng;
    wp_rng_seed(&rng, seed);
    wp_sched_pick_t p;
    wp_err_t err;
    if (wp_sched_pick(s, 0, &r, &rng, &p, &err) != WP_OK)
        fail_msg("pick: %s", err.msg);
    return p;
}

/* Two ranks of one group, one request in flight on each (in-flight counts tie), a prompt
 * neither holds (prefix scores tie): the rank with fewer tokens in flight wins, every time. */
static void test_rank_balance_pick_prefers_lighter_rank(void **state)
{
    const char *t[] = {"prefix-aware", "load-aware", "rank-balance"};
    const double w[] = {100, 50, 50};
    wp_sched_t *s = make(t, w, 3, 2);
    assert_int_equal(wp_sched_endpoint_set_group(s, 0, 0), WP_OK);
    assert_int_equal(wp_sched_endpoint_set_group(s, 1, 0), WP_OK);
    wp_sched_pick_t heavy = {.endpoint = 0, .prompt_tokens = 4000};
    wp_sched_pick_t light = {.endpoint = 1, .prompt_tokens = 100};
    assert_int_equal(wp_sched_on_dispatch(s, &heavy), WP_OK);
    assert_int_equal(wp_sched_on_dispatch(s, &light), WP_OK);
    char text[4 * 64 + 1];
    make_text(text, 4, 9);
    uint64_t chain[CHAIN];
    for (uint64_t seed = 1; seed <= 32; seed++) {
        wp_sched_pick_t p = pick_for(s, text, chain, seed);
        assert_int_equal(p.endpoint, 1);
        assert_string_equal(p.scores[2].name, "rank-balance");
        assert_float_equal(p.scores[2].raw, 1.0, 0);
    }
    /* ungrouped, the same endpoints tie, and the rng spreads the picks over both */
    assert_int_equal(wp_sched_endpoint_set_group(s, 0, -1), WP_OK);
    assert_int_equal(wp_sched_endpoint_set_group(s, 1, -1), WP_OK);
    int won[2] = {0, 0};
    for (uint64_t seed = 1; seed <= 64; seed++) {
        wp_sched_pick_t p = pick_for(s, text, chain, seed);
        assert_float_equal(p.scores[2].raw, 0.0, 0);
        won[p.endpoint]++;
    }
    assert_true(won[0] > 0 && won[1] > 0);
    assert_valid(s);
    wp_sched_free(s);
}

/* The heavier rank holds the prompt's prefix: with prefix-aware weighed above rank-balance it
 * still gets the prompt; with the weights the other way round the lighter rank does. */
static void test_rank_balance_prefix_wins_when_weights_say(void **state)
{
    char text[6 * 64 + 1];
    make_text(text, 6, 4);
    uint64_t held[CHAIN], chain[CHAIN];
    const char *t[] = {"prefix-aware", "rank-balance"};
    const double prefix_first[] = {100, 50}, balance_first[] = {10, 50};
    const double *weights[] = {prefix_first, balance_first};
    const int want[] = {0, 1};
    for (int k = 0; k < 2; k++) {
        wp_sched_t *s = make(t, weights[k], 2, 2);
        assert_int_equal(wp_sched_endpoint_set_group(s, 0, 3), WP_OK);
        assert_int_equal(wp_sched_endpoint_set_group(s, 1, 3), WP_OK);
        wp_sched_pick_t first = pick_for(s, text, held, 1);
        first.endpoint = 0; /* rank 0 serves the prompt, and holds it in flight */
        first.prompt_tokens = 5000;
        assert_int_equal(wp_sched_on_dispatch(s, &first), WP_OK);
        wp_sched_pick_t p = pick_for(s, text, chain, 2);
        assert_int_equal(p.endpoint, want[k]);
        if (want[k] == 0)
            assert_float_equal(p.prefix_ratio, 1.0, 0);
        assert_valid(s);
        wp_sched_free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank_balance_tokens_in_flight),
        cmocka_unit_test(test_rank_balance_tokens_adopted),
        cmocka_unit_test(test_rank_balance_group_setter),
        cmocka_unit_test(test_rank_balance_registered_not_default),
        cmocka_unit_test(test_rank_balance_score_within_group),
        cmocka_unit_test(test_rank_balance_no_group_scores_zero),
        cmocka_unit_test(test_rank_balance_two_groups_independent),
        cmocka_unit_test(test_rank_balance_pick_prefers_lighter_rank),
        cmocka_unit_test(test_rank_balance_prefix_wins_when_weights_say),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
