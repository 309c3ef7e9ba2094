/* Tests for workload/arrivals, the client's pacing: each case is a config and a script of
 * calls (offer an item, its send time came, a request ended, a slot freed) with the
 * answers expected, the invariants checked after every call. Cases: open loop, closed
 * loop, the cap (first come, first served; closed loops too), sequential stages with an
 * interval, the first stage at its nominal start, a stage kept open by an item waiting at
 * the cap; the warm-up's barrier in a closed loop (no measured item sent before the last
 * warm-up ended, the concurrency kept after it), in an open loop (offsets into the
 * measured run) and before sequential stages at the cap; then the line's ring past its
 * first growth, handing items back, and validate catching a broken state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>

#include "workload/arrivals.h"

enum { OFFER, DUE, ENDED, FREE, END_OF_SCRIPT };

typedef struct step_s {
    int op;
    /* OFFER: the item and now; ENDED: now */
    double arrival, stage_start, now;
    size_t stage;
    bool warmup;
    int id;         /* OFFER, DUE: the item; ENDED, FREE: the item handed back */
    bool yes;       /* OFFER: timed (false: held); DUE: send; ENDED: a stage starts; FREE: taken */
    double at;      /* OFFER, ENDED: the send time */
    size_t waiting; /* after the call */
} step_t;

typedef struct case_s {
    const char *name;
    wp_workload_pacer_config_t cfg;
    step_t steps[32];
} case_t;

/* O: offer item i (arrival, stage, stage start) at now -> timed at t (y) or held (OW: a
 * warm-up item); D: item i due -> sent (y) or in line; E: a request ended at now -> item
 * i's phase starts at t (y); F: a slot frees -> item i takes it (y). w: items in line
 * after the call. */
#define OFFER_STEP(arr, st, start, nw, i, y, t, w, warm)                                           \
    {                                                                                              \
        .op = OFFER, .arrival = (arr), .stage = (st), .stage_start = (start), .now = (nw),         \
        .id = (i), .yes = (y), .at = (t), .waiting = (w), .warmup = (warm)                         \
    }
#define O(arr, st, start, nw, i, y, t, w) OFFER_STEP(arr, st, start, nw, i, y, t, w, false)
#define OW(arr, st, start, nw, i, y, t, w) OFFER_STEP(arr, st, start, nw, i, y, t, w, true)
#define D(i, y, w)                                                                                 \
    {                                                                                              \
        .op = DUE, .id = (i), .yes = (y), .waiting = (w)                                           \
    }
#define E(nw, y, i, t, w)                                                                          \
    {                                                                                              \
        .op = ENDED, .now = (nw), .yes = (y), .id = (i), .at = (t), .waiting = (w)                 \
    }
#define F(y, i, w)                                                                                 \
    {                                                                                              \
        .op = FREE, .yes = (y), .id = (i), .waiting = (w)                                          \
    }
#define CL (-1.0) /* a closed-loop item's arrival */

static const case_t cases[] = {
    {"open loop: due at the arrival times, no limit",
     {1, 0, false, 0},
     {O(0.5, 0, 0, 0, 1, true, 0.5, 0),
      O(1.0, 0, 0, 0.5, 2, true, 1.0, 0),
      D(1, true, 0),
      O(1.0, 0, 0, 1.0, 3, true, 1.0, 0),
      D(2, true, 0),
      D(3, true, 0),
      E(2.0, false, 0, 0, 0),
      F(false, 0, 0),
      F(false, 0, 0),
      F(false, 0, 0),
      {.op = END_OF_SCRIPT}}},
    {"closed loop: due now, for one of `concurrency` slots",
     {2, 0, false, 0},
     {O(CL, 0, 0, 0, 1, true, 0, 0),
      D(1, true, 0),
      O(CL, 0, 0, 0, 2, true, 0, 0),
      D(2, true, 0),
      O(CL, 0, 0, 0.25, 3, true, 0.25, 0),
      D(3, false, 1),
      F(true, 3, 0),
      F(false, 0, 0),
      O(CL, 0, 0, 3.0, 4, true, 3.0, 0),
      D(4, true, 0),
      {.op = END_OF_SCRIPT}}},
    {"the cap: due items wait first come, first served",
     {1, 2, false, 0},
     {O(0.0, 0, 0, 0, 1, true, 0.0, 0),
      D(1, true, 0),
      O(0.1, 0, 0, 0, 2, true, 0.1, 0),
      D(2, true, 0),
      O(0.2, 0, 0, 0.1, 3, true, 0.2, 0),
      D(3, false, 1),
      O(0.3, 0, 0, 0.2, 4, true, 0.3, 1),
      D(4, false, 2),
      F(true, 3, 1),
      F(true, 4, 0),
      F(false, 0, 0),
      O(5.0, 0, 0, 0.4, 5, true, 5.0, 0),
      D(5, true, 0),
      F(false, 0, 0),
      F(false, 0, 0),
      {.op = END_OF_SCRIPT}}},
    {"the cap bounds a closed loop: min(concurrency, cap) slots",
     {4, 2, false, 0},
     {O(CL, 0, 0, 0, 1, true, 0, 0),
      D(1, true, 0),
      O(CL, 0, 0, 0, 2, true, 0, 0),
      D(2, true, 0),
      O(CL, 0, 0, 0, 3, true, 0, 0),
      D(3, false, 1),
      O(CL, 0, 0, 0, 4, true, 0, 1),
      D(4, false, 2),
      F(true, 3, 1),
      {.op = END_OF_SCRIPT}}},
    {"sequential: the next stage waits for the last end, plus the interval",
     {1, 0, true, 2.0},
     {O(0.0, 0, 0.0, 0, 1, true, 0.0, 0),
      D(1, true, 0),
      O(0.5, 0, 0.0, 0, 2, true, 0.5, 0),
      D(2, true, 0),
      O(1.25, 1, 1.0, 0.5, 3, false, 0, 0), /* held: stage 0 has 2 left */
      E(3.0, false, 0, 0, 0),
      F(false, 0, 0),
      E(3.5, true, 3, 5.75, 0), /* 3.5 + 2 + 0.25 */
      F(false, 0, 0),
      D(3, true, 0),
      O(1.5, 1, 1.0, 5.75, 4, true, 6.0, 0),
      D(4, true, 0),
      E(7.0, false, 0, 0, 0),
      F(false, 0, 0),
      O(3.0, 2, 3.0, 7.0, 5, false, 0, 0),
      E(8.0, true, 5, 10.0, 0), /* 8 + 2 + 0 */
      F(false, 0, 0),
      {.op = END_OF_SCRIPT}}},
    {"sequential: the first stage at its nominal start; a stage drained before the next "
     "item counts from its last end",
     {1, 0, true, 1.0},
     {O(4.25, 0, 4.0, 0, 1, true, 4.25, 0),
      D(1, true, 0),
      E(6.5, false, 0, 0, 0),
      F(false, 0, 0),
      O(5.5, 1, 5.0, 6.5, 2, true, 8.0, 0), /* 6.5 + 1 + 0.5 */
      D(2, true, 0),
      {.op = END_OF_SCRIPT}}},
    {"sequential with the cap: an item waiting at the cap keeps its stage open",
     {1, 1, true, 0.0},
     {O(0.0, 0, 0.0, 0, 1, true, 0.0, 0),
      D(1, true, 0),
      O(0.25, 0, 0.0, 0, 2, true, 0.25, 0),
      D(2, false, 1),
      O(1.0, 1, 1.0, 0.25, 3, false, 0, 1),
      E(2.0, false, 0, 0, 1),
      F(true, 2, 0),
      E(3.0, true, 3, 3.0, 0),
      F(false, 0, 0),
      D(3, true, 0),
      {.op = END_OF_SCRIPT}}},
    {"warm-up, closed loop: no measured item before the last warm-up ended, then the "
     "concurrency kept",
     {2, 0, false, 0},
     {OW(CL, 0, 0, 0, 1, true, 0, 0),
      D(1, true, 0),
      OW(CL, 0, 0, 0, 2, true, 0, 0),
      D(2, true, 0),
      E(1.0, false, 0, 0, 0),
      F(false, 0, 0),
      OW(CL, 0, 0, 1.0, 3, true, 1.0, 0),
      D(3, true, 0),
      E(1.5, false, 0, 0, 0),
      F(false, 0, 0),
      OW(CL, 0, 0, 1.5, 4, true, 1.5, 0),
      D(4, true, 0),
      O(CL, 0, 0, 1.5, 5, false, 0, 0), /* held: two warm-ups in flight */
      E(2.0, false, 0, 0, 0),
      F(false, 0, 0),
      E(2.5, true, 5, 2.5, 0), /* the last warm-up ended: the measured run starts */
      F(false, 0, 0),
      D(5, true, 0),
      O(CL, 0, 0, 2.5, 6, true, 2.5, 0),
      D(6, true, 0),
      O(CL, 0, 0, 2.5, 7, true, 2.5, 0),
      D(7, false, 1), /* two in flight: the third waits */
      E(3.0, false, 0, 0, 1),
      F(true, 7, 0),
      {.op = END_OF_SCRIPT}}},
    {"warm-up, open loop: the measured run starts at the last warm-up's end, its items at "
     "their offsets from its nominal start, whatever their stage",
     {1, 0, false, 0},
     {OW(0.5, 0, 0, 0, 1, true, 0.5, 0),
      D(1, true, 0),
      OW(1.0, 0, 0, 0.5, 2, true, 1.0, 0),
      D(2, true, 0),
      O(1.25, 0, 1.0, 1.0, 3, false, 0, 0), /* held: the warm-up is in flight */
      E(3.0, false, 0, 0, 0),
      F(false, 0, 0),
      E(4.0, true, 3, 4.25, 0), /* 4 + (1.25 - 1) */
      F(false, 0, 0),
      D(3, true, 0),
      O(2.0, 1, 1.5, 4.25, 4, true, 5.0, 0), /* 4 + (2 - 1): one phase, not its stage's */
      D(4, true, 0),
      {.op = END_OF_SCRIPT}}},
    {"warm-up before sequential stages at the cap: no interval after the warm-up, the "
     "interval between stages",
     {1, 1, true, 2.0},
     {OW(0.0, 0, 0, 0, 1, true, 0.0, 0),
      D(1, true, 0),
      OW(0.25, 0, 0, 0, 2, true, 0.25, 0),
      D(2, false, 1),
      O(0.75, 0, 0.25, 0.25, 3, false, 0, 1), /* held: the warm-up's 2 not ended */
      E(1.0, false, 0, 0, 1),
      F(true, 2, 0),
      E(2.0, true, 3, 2.5, 0), /* 2 + (0.75 - 0.25) */
      F(false, 0, 0),
      D(3, true, 0),
      O(1.0, 0, 0.25, 2.5, 4, true, 2.75, 0),
      D(4, false, 1),
      O(3.0, 1, 2.0, 2.5, 5, false, 0, 1), /* the next stage: held */
      E(3.0, false, 0, 0, 1),
      F(true, 4, 0),
      E(4.0, true, 5, 7.0, 0), /* 4 + 2 + (3 - 2) */
      F(false, 0, 0),
      D(5, true, 0),
      {.op = END_OF_SCRIPT}}},
};

static void *ud_of(int id)
{
    return (void *)(intptr_t)id;
}

static void run_case(const case_t *c)
{
    wp_workload_pacer_t p;
    wp_workload_pacer_init(&p, &c->cfg);
    for (const step_t *s = c->steps; s->op != END_OF_SCRIPT; s++) {
        int k = (int)(s - c->steps);
        bool yes = false;
        void *ud = NULL;
        double at = -99;
        switch (s->op) {
        case OFFER: {
            wp_workload_pacer_item_t it = {s->arrival, s->stage, s->stage_start, s->warmup};
            yes = wp_workload_pacer_offer(&p, &it, ud_of(s->id), s->now, &at);
            if (yes && at != s->at)
                fail_msg("%s: step %d: send at %g, expected %g", c->name, k, at, s->at);
            break;
        }
        case DUE:
            assert_int_equal(wp_workload_pacer_due(&p, ud_of(s->id), &yes), WP_OK);
            break;
        case ENDED:
            yes = wp_workload_pacer_ended(&p, s->now, &ud, &at);
            if (yes && (ud != ud_of(s->id) || at != s->at))
                fail_msg("%s: step %d: item %d at %g, expected %d at %g", c->name, k,
                         (int)(intptr_t)ud, at, s->id, s->at);
            break;
        case FREE:
            yes = wp_workload_pacer_free_slot(&p, &ud);
            if (yes && ud != ud_of(s->id))
                fail_msg("%s: step %d: item %d took the slot, expected %d", c->name, k,
                         (int)(intptr_t)ud, s->id);
            break;
        }
        if (yes != s->yes)
            fail_msg("%s: step %d: answered %s, expected %s", c->name, k, yes ? "yes" : "no",
                     s->yes ? "yes" : "no");
        if (wp_workload_pacer_waiting(&p) != s->waiting)
            fail_msg("%s: step %d: %zu waiting, expected %zu", c->name, k,
                     wp_workload_pacer_waiting(&p), s->waiting);
        if (!wp_workload_pacer_validate(&p))
            fail_msg("%s: step %d: invariants broken", c->name, k);
    }
    wp_workload_pacer_free(&p);
}

static void test_arrivals_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i]);
}

/* The line past its first array (16) and wrapped around: still first come, first served. */
static void test_arrivals_line_grows_in_order(void **state)
{
    (void)state;
    wp_workload_pacer_t p;
    wp_workload_pacer_init(&p, &(wp_workload_pacer_config_t){1, 1, false, 0});
    bool send = false;
    assert_int_equal(wp_workload_pacer_due(&p, ud_of(1000), &send), WP_OK);
    assert_true(send);
    int next_in = 1, next_out = 1;
    for (int round = 0; round < 5; round++) {
        for (int k = 0; k < 7 + round * 9; k++) { /* 7, 16, 25, ... due while at the cap */
            assert_int_equal(wp_workload_pacer_due(&p, ud_of(next_in++), &send), WP_OK);
            assert_false(send);
        }
        for (int k = 0; k < 5; k++) { /* a few slots free: the oldest take them */
            void *ud = NULL;
            assert_true(wp_workload_pacer_free_slot(&p, &ud));
            assert_ptr_equal(ud, ud_of(next_out++));
        }
        assert_true(wp_workload_pacer_validate(&p));
    }
    assert_int_equal(wp_workload_pacer_waiting(&p), (size_t)(next_in - next_out));
    void *ud = NULL;
    while (wp_workload_pacer_free_slot(&p, &ud))
        assert_ptr_equal(ud, ud_of(next_out++));
    assert_int_equal(next_out, next_in);
    assert_int_equal(wp_workload_pacer_waiting(&p), 0);
    wp_workload_pacer_free(&p);
}

/* A run that stops hands back what the pacer keeps: the held item, then the line. */
static void test_arrivals_take_hands_back(void **state)
{
    (void)state;
    wp_workload_pacer_t p;
    wp_workload_pacer_init(&p, &(wp_workload_pacer_config_t){1, 1, true, 0.5});
    double at;
    bool send;
    wp_workload_pacer_item_t a = {0.0, 0, 0.0, false}, b = {0.25, 0, 0.0, false},
                             c = {2.0, 1, 2.0, false};
    assert_true(wp_workload_pacer_offer(&p, &a, ud_of(1), 0, &at));
    assert_int_equal(wp_workload_pacer_due(&p, ud_of(1), &send), WP_OK);
    assert_true(wp_workload_pacer_offer(&p, &b, ud_of(2), 0, &at));
    assert_int_equal(wp_workload_pacer_due(&p, ud_of(2), &send), WP_OK);
    assert_false(send);
    assert_false(wp_workload_pacer_offer(&p, &c, ud_of(3), 0.25, &at));
    void *ud = NULL;
    assert_true(wp_workload_pacer_take(&p, &ud));
    assert_ptr_equal(ud, ud_of(3));
    assert_true(wp_workload_pacer_take(&p, &ud));
    assert_ptr_equal(ud, ud_of(2));
    assert_false(wp_workload_pacer_take(&p, &ud));
    assert_true(wp_workload_pacer_validate(&p));
    wp_workload_pacer_free(&p);
    wp_workload_pacer_t zero = {0}; /* freeing a pacer never set up is fine */
    assert_false(wp_workload_pacer_take(&zero, &ud));
    wp_workload_pacer_free(&zero);
}

static void test_arrivals_validate_catches(void **state)
{
    (void)state;
    wp_workload_pacer_t p;
    wp_workload_pacer_init(&p, &(wp_workload_pacer_config_t){1, 2, false, 0});
    assert_true(wp_workload_pacer_validate(&p));
    bool send;
    assert_int_equal(wp_workload_pacer_due(&p, ud_of(1), &send), WP_OK);
    assert_int_equal(wp_workload_pacer_due(&p, ud_of(2), &send), WP_OK);
    assert_int_equal(wp_workload_pacer_due(&p, ud_of(3), &send), WP_OK);
    assert_true(wp_workload_pacer_validate(&p));
    p.in_flight = 1; /* someone waits while a slot is free */
    assert_false(wp_workload_pacer_validate(&p));
    p.in_flight = 2;
    p.holding = true; /* held with no phase before it */
    assert_false(wp_workload_pacer_validate(&p));
    wp_workload_pacer_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arrivals_table),
        cmocka_unit_test(test_arrivals_line_grows_in_order),
        cmocka_unit_test(test_arrivals_take_hands_back),
        cmocka_unit_test(test_arrivals_validate_catches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
