/* Tests for sched/outlier: ejection after N faults in a row, the back-off doubling to its
 * maximum, probation when the time is up, recovery on a success, re-ejection on a fault on
 * probation, the max_ejection_percent cap (at least one), off (consecutive_failures 0)
 * ending everything, the back-off starting over after max_ejection_s well, and what apply()
 * pushes into a scheduler (pool membership; in-flight limit 1 on probation only while
 * another endpoint serves fully). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sched/outlier.h"

#define NONE WP_SCHED_OUTLIER_NONE
#define EJECTED WP_SCHED_OUTLIER_EJECTED
#define PROBATION WP_SCHED_OUTLIER_PROBATION
#define RECOVERED WP_SCHED_OUTLIER_RECOVERED

static wp_sched_outlier_t *make(int n, int failures, double base, double max, int pct)
{
    wp_sched_outlier_cfg_t cfg = {failures, base, max, pct};
    wp_err_t err;
    wp_sched_outlier_t *o = wp_sched_outlier_new(n, &cfg, &err);
    if (o == NULL)
        fail_msg("new: %s", err.msg);
    return o;
}

/* One step of a script: a note (fault or success) or a tick on endpoint ep at time t, and
 * what it must answer. */
typedef enum { FAULT, OK, TICK } op_t;

typedef struct step_s {
    op_t op;
    int ep;
    double t;
    wp_sched_outlier_event_t want;
    double for_s; /* with EJECTED */
} step_t;

static void run_script(wp_sched_outlier_t *o, const step_t *steps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const step_t *st = &steps[i];
        double for_s = -1;
        wp_sched_outlier_event_t ev =
            st->op == TICK ? wp_sched_outlier_tick(o, st->ep, st->t)
                           : wp_sched_outlier_note(o, st->ep, st->op == FAULT, st->t, &for_s);
        if (ev != st->want)
            fail_msg("step %zu (%s on %d at %g): got %s, want %s", i,
                     st->op == TICK    ? "tick"
                     : st->op == FAULT ? "fault"
                                       : "success",
                     st->ep, st->t, wp_sched_outlier_event_name(ev),
                     wp_sched_outlier_event_name(st->want));
        if (ev == EJECTED) {
            assert_float_equal(for_s, st->for_s, 1e-9);
            const wp_sched_outlier_ep_t *e = wp_sched_outlier_get(o, st->ep);
            assert_true(e->ejected);
            assert_false(e->probation);
            assert_float_equal(e->ejected_until, st->t + st->for_s, 1e-9);
        } else if (st->op != TICK) {
            assert_float_equal(for_s, -1, 0); /* written only with EJECTED */
        }
        if (ev == PROBATION) {
            const wp_sched_outlier_ep_t *e = wp_sched_outlier_get(o, st->ep);
            assert_false(e->ejected);
            assert_true(e->probation);
        }
        if (ev == RECOVERED) {
            const wp_sched_outlier_ep_t *e = wp_sched_outlier_get(o, st->ep);
            assert_false(e->ejected);
            assert_false(e->probation);
            assert_float_equal(e->recovered_at, st->t, 0);
            assert_int_equal(e->consecutive_failures, 0);
        }
    }
}

#define RUN(o, steps) run_script(o, steps, sizeof(steps) / sizeof(steps[0]))

static void test_outlier_defaults_and_bounds(void **state)
{
    wp_sched_outlier_cfg_t c;
    wp_sched_outlier_cfg_default(&c);
    assert_int_equal(c.consecutive_failures, 5);
    assert_float_equal(c.base_ejection_s, 30, 0);
    assert_float_equal(c.max_ejection_s, 300, 0);
    assert_int_equal(c.max_ejection_percent, 50);
    wp_err_t err;
    assert_null(wp_sched_outlier_new(-1, &c, &err));
    assert_non_null(strstr(err.msg, "-1"));
    assert_null(wp_sched_outlier_new(WP_SCHED_MAX_ENDPOINTS + 1, &c, &err));
    wp_sched_outlier_t *o = wp_sched_outlier_new(0, &c, &err);
    assert_non_null(o);
    assert_null(wp_sched_outlier_get(o, 0));
    assert_int_equal(wp_sched_outlier_note(o, 0, true, 0, NULL), NONE);
    assert_int_equal(wp_sched_outlier_tick(o, 0, 0), NONE);
    wp_sched_outlier_free(o);
    o = wp_sched_outlier_new(3, &c, &err);
    assert_non_null(o);
    for (int i = 0; i < 3; i++) {
        const wp_sched_outlier_ep_t *e = wp_sched_outlier_get(o, i);
        assert_ptr_equal(e, wp_sched_outlier_ep(o, i));
        assert_true(e->healthy);
        assert_false(e->ejected);
        assert_false(e->probation);
        assert_int_equal(e->consecutive_failures, 0);
        assert_int_equal(e->ejections, 0);
    }
    assert_null(wp_sched_outlier_get(o, -1));
    assert_null(wp_sched_outlier_ep(o, 3));
    assert_int_equal(wp_sched_outlier_note(o, 3, true, 0, NULL), NONE);
    assert_int_equal(wp_sched_outlier_note(o, -1, true, 0, NULL), NONE);
    assert_int_equal(wp_sched_outlier_tick(o, 3, 0), NONE);
    wp_sched_outlier_free(o);
    wp_sched_outlier_free(NULL);

    assert_string_equal(wp_sched_outlier_event_name(NONE), "none");
    assert_string_equal(wp_sched_outlier_event_name(EJECTED), "ejected");
    assert_string_equal(wp_sched_outlier_event_name(PROBATION), "probation");
    assert_string_equal(wp_sched_outlier_event_name(RECOVERED), "recovered");
    assert_string_equal(wp_sched_outlier_event_name((wp_sched_outlier_event_t)4), "unknown");
}

/* N = 3: two faults and a success start the count over; the third in a row ejects; faults
 * while ejected change nothing; the time up (not before) is probation; a success recovers. */
static void test_outlier_eject_probation_recover(void **state)
{
    wp_sched_outlier_t *o = make(4, 3, 10, 40, 50);
    const step_t steps[] = {
        {FAULT, 0, 1, NONE, 0},      {FAULT, 0, 2, NONE, 0}, {OK, 0, 3, NONE, 0},
        {FAULT, 0, 4, NONE, 0},      {FAULT, 0, 5, NONE, 0}, {FAULT, 0, 6, EJECTED, 10},
        {FAULT, 0, 7, NONE, 0},      {OK, 0, 7.5, NONE, 0},  {TICK, 0, 15.999, NONE, 0},
        {TICK, 0, 16, PROBATION, 0}, {TICK, 0, 17, NONE, 0}, {OK, 0, 18, RECOVERED, 0},
        {OK, 0, 19, NONE, 0},        {TICK, 0, 20, NONE, 0}, {FAULT, 1, 20, NONE, 0},
    };
    RUN(o, steps);
    const wp_sched_outlier_ep_t *e = wp_sched_outlier_get(o, 0);
    assert_int_equal(e->ejections, 1);
    assert_int_equal(e->ejections_total, 1);
    assert_int_equal(wp_sched_outlier_get(o, 1)->consecutive_failures, 1);
    /* for_s may be NULL */
    for (int i = 0; i < 3; i++)
        wp_sched_outlier_note(o, 2, true, 30, NULL);
    assert_true(wp_sched_outlier_get(o, 2)->ejected);
    wp_sched_outlier_free(o);
}

/* A fault on probation ejects again at once (one fault, not N), for twice as long each time,
 * up to the maximum: 10, 20, 40, 40, 40. */
static void test_outlier_backoff_doubles_to_max(void **state)
{
    wp_sched_outlier_t *o = make(2, 3, 10, 40, 50);
    const step_t steps[] = {
        {FAULT, 0, 0, NONE, 0},      {FAULT, 0, 0, NONE, 0},       {FAULT, 0, 0, EJECTED, 10},
        {TICK, 0, 10, PROBATION, 0}, {FAULT, 0, 11, EJECTED, 20},  {TICK, 0, 30, NONE, 0},
        {TICK, 0, 31, PROBATION, 0}, {FAULT, 0, 31, EJECTED, 40},  {TICK, 0, 71, PROBATION, 0},
        {FAULT, 0, 72, EJECTED, 40}, {TICK, 0, 112, PROBATION, 0}, {FAULT, 0, 112, EJECTED, 40},
    };
    RUN(o, steps);
    assert_int_equal(wp_sched_outlier_get(o, 0)->ejections, 5);
    assert_int_equal(wp_sched_outlier_get(o, 0)->ejections_total, 5);
    wp_sched_outlier_free(o);

    /* A base above the maximum is cut to it. */
    o = make(1, 1, 100, 40, 100);
    const step_t cut[] = {{FAULT, 0, 0, EJECTED, 40}};
    RUN(o, cut);
    wp_sched_outlier_free(o);
}

/* After a recovery the back-off exponent stays while the endpoint has been well less than
 * max_ejection_s, and starts over once it has been well that long. */
static void test_outlier_backoff_resets_when_well(void **state)
{
    wp_sched_outlier_t *o = make(2, 1, 10, 40, 50);
    const step_t steps[] = {
        {FAULT, 0, 0, EJECTED, 10},
        {TICK, 0, 10, PROBATION, 0},
        {FAULT, 0, 10, EJECTED, 20},
        {TICK, 0, 30, PROBATION, 0},
        {OK, 0, 30, RECOVERED, 0},
        {TICK, 0, 69.5, NONE, 0},
        /* well 39.5 s < 40: the exponent (2) stays */
        {FAULT, 0, 69.5, EJECTED, 40},
        {TICK, 0, 109.5, PROBATION, 0},
        {OK, 0, 110, RECOVERED, 0},
        /* well 40 s: starts over */
        {TICK, 0, 150, NONE, 0},
        {FAULT, 0, 151, EJECTED, 10},
    };
    RUN(o, steps);
    assert_int_equal(wp_sched_outlier_get(o, 0)->ejections, 1);
    assert_int_equal(wp_sched_outlier_get(o, 0)->ejections_total, 4);
    wp_sched_outlier_free(o);
}

/* At most max_ejection_percent of the endpoints out at once, at least one when above 0. */
typedef struct cap_case_s {
    int n, pct;
    int max_out; /* endpoints that may be ejected at once */
} cap_case_t;

static void test_outlier_max_ejection_percent(void **state)
{
    const cap_case_t cases[] = {
        {4, 50, 2},  {4, 10, 1},  {4, 0, 0},   {1, 50, 1}, {1, 100, 1},
        {10, 30, 3}, {3, 100, 3}, {10, 99, 9}, {2, 49, 1}, {5, 1, 1},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const cap_case_t *k = &cases[c];
        wp_sched_outlier_t *o = make(k->n, 2, 10, 40, k->pct);
        int out = 0;
        for (int i = 0; i < k->n; i++) {
            wp_sched_outlier_note(o, i, true, 0, NULL);
            double for_s = 0;
            wp_sched_outlier_event_t ev = wp_sched_outlier_note(o, i, true, 0, &for_s);
            assert_int_equal(ev, i < k->max_out ? EJECTED : NONE);
            out += ev == EJECTED;
        }
        if (out != k->max_out)
            fail_msg("n %d pct %d: %d out, want %d", k->n, k->pct, out, k->max_out);
        wp_sched_outlier_free(o);
    }

    /* One held back by the cap is ejected by its next fault once a place is free. */
    wp_sched_outlier_t *o = make(4, 2, 10, 40, 50);
    const step_t steps[] = {
        {FAULT, 0, 0, NONE, 0},
        {FAULT, 0, 0, EJECTED, 10},
        {FAULT, 1, 0, NONE, 0},
        {FAULT, 1, 0, EJECTED, 10},
        {FAULT, 2, 0, NONE, 0},
        {FAULT, 2, 0, NONE, 0},
        {FAULT, 2, 5, NONE, 0},
        {TICK, 0, 10, PROBATION, 0},
        {FAULT, 2, 11, EJECTED, 10},
        /* 0 is on probation: its fault cannot eject it while 1 and 2 are out */
        {FAULT, 0, 12, NONE, 0},
        {TICK, 1, 12, PROBATION, 0},
        {FAULT, 0, 13, EJECTED, 20},
    };
    RUN(o, steps);
    assert_int_equal(wp_sched_outlier_get(o, 2)->consecutive_failures, 4);
    wp_sched_outlier_free(o);
}

/* consecutive_failures 0 turns it off: notes never eject, and a tick ends every ejection
 * and probation and clears the counts. */
static void test_outlier_off(void **state)
{
    wp_sched_outlier_t *o = make(3, 1, 10, 40, 100);
    const step_t on[] = {
        {FAULT, 0, 0, EJECTED, 10},
        {FAULT, 1, 0, EJECTED, 10},
        {TICK, 1, 10, PROBATION, 0},
        {FAULT, 2, 10, EJECTED, 10},
    };
    RUN(o, on);
    wp_sched_outlier_cfg_t off = {0, 10, 40, 100};
    wp_sched_outlier_configure(o, &off);
    const step_t steps[] = {
        {FAULT, 2, 11, NONE, 0}, {OK, 1, 11, NONE, 0}, /* probation is not left by a note when off
                                                        */
        {TICK, 0, 11, NONE, 0},  {TICK, 1, 11, NONE, 0}, {TICK, 2, 11, NONE, 0},
    };
    RUN(o, steps);
    for (int i = 0; i < 3; i++) {
        const wp_sched_outlier_ep_t *e = wp_sched_outlier_get(o, i);
        assert_false(e->ejected);
        assert_false(e->probation);
        assert_int_equal(e->consecutive_failures, 0);
        assert_int_equal(e->ejections, 0);
        assert_true(e->healthy);
    }
    for (int k = 0; k < 20; k++)
        assert_int_equal(wp_sched_outlier_note(o, 0, true, 2 + k, NULL), NONE);
    assert_false(wp_sched_outlier_get(o, 0)->ejected);

    /* Turned on again: counting starts from scratch, the back-off at its base. */
    wp_sched_outlier_cfg_t again = {2, 10, 40, 100};
    wp_sched_outlier_configure(o, &again);
    wp_sched_outlier_tick(o, 0, 30);
    const step_t back[] = {{FAULT, 0, 30, NONE, 0}, {FAULT, 0, 31, EJECTED, 10}};
    RUN(o, back);
    wp_sched_outlier_free(o);
}

/* ---- apply ---- */

static wp_sched_t *make_sched(int n)
{
    wp_sched_config_t cfg;
    wp_sched_config_default(&cfg);
    wp_err_t err;
    if (wp_sched_config_set_policy(&cfg, "round-robin", &err) != WP_OK)
        fail_msg("policy: %s", err.msg);
    wp_sched_t *s = wp_sched_new(&cfg, &err);
    if (s == NULL)
        fail_msg("new: %s", err.msg);
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "ep%d", i);
        assert_int_equal(wp_sched_endpoint_add(s, name, WP_SCHED_ROLE_BOTH), i);
    }
    return s;
}

/* Which endpoints a run of round-robin picks reaches (bit i = endpoint i). */
static unsigned reached(wp_sched_t *s, int picks)
{
    wp_rng_t rng;
    wp_rng_seed(&rng, 1);
    wp_sched_request_t r = {.model = "m", .session_ep = -1};
    wp_sched_pick_t pk;
    unsigned bits = 0;
    for (int i = 0; i < picks; i++)
        if (wp_sched_pick(s, 0, &r, &rng, &pk, NULL) == WP_OK)
            bits |= 1u << pk.endpoint;
    return bits;
}

static int room(const wp_sched_t *s, int *healthy)
{
    const wp_sched_saturation_t limits_only = {0, 0};
    return wp_sched_room(s, 0, WP_SCHED_ROLE_BOTH, &limits_only, healthy);
}

/* A table of endpoint states -> what the scheduler sees: in the pool, and its limit (seen
 * as room with one request in flight on every endpoint). */
typedef struct apply_case_s {
    const char *name;
    bool unhealthy[3], ejected[3], probation[3];
    uint32_t max_in_flight;
    unsigned pool;    /* bit i: endpoint i is in the pool */
    unsigned limited; /* bit i: its limit is 1 */
} apply_case_t;

static void test_outlier_apply(void **state)
{
    const apply_case_t cases[] = {
        {"all well", {0}, {0}, {0}, 8, 7, 0},
        {"one ejected", {0}, {0, 1, 0}, {0}, 8, 5, 0},
        {"one unhealthy", {0, 0, 1}, {0}, {0}, 8, 3, 0},
        {"one on probation, others serve", {0}, {0}, {1, 0, 0}, 8, 7, 1},
        {"probation, one other serves", {0, 1, 0}, {0, 0, 0}, {1, 0, 0}, 8, 5, 1},
        {"probation, the other ejected", {0}, {0, 1, 1}, {1, 0, 0}, 8, 1, 0},
        {"probation, the others unhealthy", {0, 1, 1}, {0}, {1, 0, 0}, 8, 1, 0},
        {"all on probation", {0}, {0}, {1, 1, 1}, 8, 7, 0},
        {"two on probation, one serves", {0}, {0}, {1, 1, 0}, 8, 7, 3},
        {"probation, one other on probation and one ejected", {0}, {0, 0, 1}, {1, 1, 0}, 8, 3, 0},
        {"no limit configured, probation", {0}, {0}, {0, 1, 0}, 0, 7, 2},
        {"unhealthy on probation", {1, 0, 0}, {0}, {1, 0, 0}, 8, 6, 0},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const apply_case_t *k = &cases[c];
        wp_sched_outlier_t *o = make(3, 5, 30, 300, 100);
        wp_sched_t *s = make_sched(3);
        for (int i = 0; i < 3; i++) {
            wp_sched_outlier_ep_t *e = wp_sched_outlier_ep(o, i);
            e->healthy = !k->unhealthy[i];
            e->ejected = k->ejected[i];
            e->probation = k->probation[i];
        }
        wp_sched_outlier_apply(o, s, k->max_in_flight);
        int healthy = 0;
        int n_room = room(s, &healthy);
        assert_int_equal(healthy, __builtin_popcount(k->pool));
        assert_int_equal(n_room, healthy); /* nothing in flight yet */
        if (reached(s, 6) != k->pool)
            fail_msg("case '%s': picks reach %#x, want %#x", k->name, reached(s, 6), k->pool);
        /* One request in flight everywhere: an endpoint limited to 1 has no room left. */
        for (int i = 0; i < 3; i++)
            assert_int_equal(wp_sched_endpoint_set_in_flight(s, i, 1), WP_OK);
        n_room = room(s, &healthy);
        unsigned want_room = k->pool & ~k->limited;
        if (n_room != __builtin_popcount(want_room))
            fail_msg("case '%s': room %d with one in flight each, want %d", k->name, n_room,
                     __builtin_popcount(want_room));
        if (reached(s, 6) != want_room)
            fail_msg("case '%s': picks with one in flight reach %#x, want %#x", k->name,
                     reached(s, 6), want_room);
        /* At max_in_flight everywhere (when there is one): none has room. */
        if (k->max_in_flight > 0) {
            for (int i = 0; i < 3; i++)
                wp_sched_endpoint_set_in_flight(s, i, k->max_in_flight);
            assert_int_equal(room(s, &healthy), 0);
        }
        wp_sched_free(s);
        wp_sched_outlier_free(o);
    }
}

/* The life of an endpoint through apply: ejected (out of the pool), probation with a limit
 * of 1 while the other serves, recovered (back with the full limit). */
static void test_outlier_apply_through_a_life(void **state)
{
    wp_sched_outlier_t *o = make(2, 2, 10, 40, 50);
    wp_sched_t *s = make_sched(2);
    int healthy;
    wp_sched_outlier_apply(o, s, 4);
    assert_int_equal(reached(s, 4), 3);
    wp_sched_outlier_note(o, 1, true, 0, NULL);
    assert_int_equal(wp_sched_outlier_note(o, 1, true, 0, NULL), EJECTED);
    wp_sched_outlier_apply(o, s, 4);
    assert_int_equal(reached(s, 4), 1);
    assert_int_equal(room(s, &healthy), 1);
    assert_int_equal(healthy, 1);
    assert_int_equal(wp_sched_outlier_tick(o, 1, 10), PROBATION);
    wp_sched_outlier_apply(o, s, 4);
    assert_int_equal(reached(s, 4), 3);
    assert_int_equal(wp_sched_endpoint_set_in_flight(s, 1, 1), WP_OK);
    assert_int_equal(reached(s, 4), 1); /* the probe is out: no second one */
    /* The other goes unhealthy: the probation limit is lifted (it would only turn clients
     * away). */
    wp_sched_outlier_ep(o, 0)->healthy = false;
    wp_sched_outlier_apply(o, s, 4);
    assert_int_equal(reached(s, 4), 2);
    wp_sched_outlier_ep(o, 0)->healthy = true;
    wp_sched_outlier_apply(o, s, 4);
    assert_int_equal(reached(s, 4), 1);
    assert_int_equal(wp_sched_outlier_note(o, 1, false, 11, NULL), RECOVERED);
    wp_sched_outlier_apply(o, s, 4);
    assert_int_equal(reached(s, 4), 3);
    assert_int_equal(wp_sched_endpoint_set_in_flight(s, 1, 4), WP_OK);
    assert_int_equal(reached(s, 4), 1);
    wp_sched_free(s);
    wp_sched_outlier_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outlier_defaults_and_bounds),
        cmocka_unit_test(test_outlier_eject_probation_recover),
        cmocka_unit_test(test_outlier_backoff_doubles_to_max),
        cmocka_unit_test(test_outlier_backoff_resets_when_well),
        cmocka_unit_test(test_outlier_max_ejection_percent),
        cmocka_unit_test(test_outlier_off),
        cmocka_unit_test(test_outlier_apply),
        cmocka_unit_test(test_outlier_apply_through_a_life),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
