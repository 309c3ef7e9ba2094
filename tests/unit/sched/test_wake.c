/* Tests for sched/wake: the scale-to-zero state machine -- sleep after the idle time only
 * when nothing is in flight or held and an endpoint is ready; arrivals pass, hold, or hold
 * and wake; the bounded hold; release once awake and ready; a failed wake-up retried;
 * timeouts; time asleep; off = every arrival passes; a leader and a follower (two workers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sched/wake.h"

static wp_sched_wake_cfg_t cfg(void)
{
    return (wp_sched_wake_cfg_t){.enabled = true,
                                 .hold = true,
                                 .idle_after_s = 10,
                                 .wake_timeout_s = 5,
                                 .max_queue = 2,
                                 .level = 1};
}

static void test_wake_idle_sleep(void **state)
{
    (void)state;
    wp_sched_wake_t w;
    wp_sched_wake_cfg_t c = cfg();
    wp_sched_wake_init(&w, &c, 0);
    assert_int_equal(wp_sched_wake_tick(&w, 9.9, 0, true), WP_SCHED_WAKE_NOTHING);
    /* busy at 9.9: the idle time starts over */
    assert_int_equal(wp_sched_wake_tick(&w, 9.9, 1, true), WP_SCHED_WAKE_NOTHING);
    assert_int_equal(wp_sched_wake_tick(&w, 15, 0, true), WP_SCHED_WAKE_NOTHING);
    /* not ready: nothing to sleep */
    assert_int_equal(wp_sched_wake_tick(&w, 20, 0, false), WP_SCHED_WAKE_NOTHING);
    assert_int_equal(wp_sched_wake_tick(&w, 20, 0, true), WP_SCHED_WAKE_SLEEP);
    assert_int_equal(w.state, WP_SCHED_WAKE_ASLEEP);
    assert_int_equal(w.sleeps, 1);
    assert_int_equal(wp_sched_wake_tick(&w, 30, 0, true), WP_SCHED_WAKE_NOTHING);
    assert_true(wp_sched_wake_asleep_seconds(&w, 30) == 10);
}

static void test_wake_arrival_wakes(void **state)
{
    (void)state;
    wp_sched_wake_t w;
    wp_sched_wake_cfg_t c = cfg();
    wp_sched_wake_init(&w, &c, 0);
    assert_int_equal(wp_sched_wake_arrive(&w, 1, true), WP_SCHED_WAKE_PASS);
    assert_int_equal(wp_sched_wake_tick(&w, 11, 0, true), WP_SCHED_WAKE_SLEEP);
    assert_int_equal(wp_sched_wake_arrive(&w, 20, true), WP_SCHED_WAKE_HOLD_WAKE);
    assert_int_equal(w.state, WP_SCHED_WAKE_WAKING);
    assert_int_equal(wp_sched_wake_arrive(&w, 20.1, true), WP_SCHED_WAKE_HOLD);
    assert_int_equal(wp_sched_wake_arrive(&w, 20.2, true), WP_SCHED_WAKE_FULL);
    assert_int_equal(w.held, 2);
    assert_int_equal(wp_sched_wake_tick(&w, 20.3, 0, true), WP_SCHED_WAKE_NOTHING);
    wp_sched_wake_woke(&w, 21, true);
    assert_int_equal(w.state, WP_SCHED_WAKE_AWAKE);
    assert_true(wp_sched_wake_asleep_seconds(&w, 100) == 10); /* 11 .. 21 */
    assert_int_equal(wp_sched_wake_tick(&w, 21.05, 0, true), WP_SCHED_WAKE_RELEASE);
    wp_sched_wake_leave(&w);
    wp_sched_wake_leave(&w);
    assert_int_equal(w.held, 0);
    assert_int_equal(wp_sched_wake_arrive(&w, 22, true), WP_SCHED_WAKE_PASS);
    /* a second answer to the wake-up changes nothing */
    wp_sched_wake_woke(&w, 22, true);
    wp_sched_wake_woke(&w, 22, false);
    assert_int_equal(w.state, WP_SCHED_WAKE_AWAKE);
    assert_int_equal(w.wakes, 1);
}

static void test_wake_failed_retried(void **state)
{
    (void)state;
    wp_sched_wake_t w;
    wp_sched_wake_cfg_t c = cfg();
    wp_sched_wake_init(&w, &c, 0);
    assert_int_equal(wp_sched_wake_tick(&w, 10, 0, true), WP_SCHED_WAKE_SLEEP);
    assert_int_equal(wp_sched_wake_arrive(&w, 12, true), WP_SCHED_WAKE_HOLD_WAKE);
    wp_sched_wake_woke(&w, 12.5, false);
    assert_int_equal(w.state, WP_SCHED_WAKE_ASLEEP);
    assert_int_equal(w.wake_failures, 1);
    assert_int_equal(wp_sched_wake_tick(&w, 13, 0, true), WP_SCHED_WAKE_WAKE);
    assert_int_equal(w.state, WP_SCHED_WAKE_WAKING);
    assert_int_equal(w.wakes, 2);
    /* the held request times out after 5 s */
    assert_false(wp_sched_wake_expired(&w, 12, 16.9));
    assert_true(wp_sched_wake_expired(&w, 12, 17));
    wp_sched_wake_leave(&w);
    wp_sched_wake_woke(&w, 18, true);
    /* awake, nothing held: no release; idle again after 10 s */
    assert_int_equal(wp_sched_wake_tick(&w, 18.1, 0, true), WP_SCHED_WAKE_NOTHING);
    assert_int_equal(wp_sched_wake_tick(&w, 28, 0, true), WP_SCHED_WAKE_SLEEP);
}

static void test_wake_no_endpoint(void **state)
{
    (void)state;
    /* replicas 0: awake but never ready -- held, never woken, released once ready */
    wp_sched_wake_t w;
    wp_sched_wake_cfg_t c = cfg();
    wp_sched_wake_init(&w, &c, 0);
    assert_int_equal(wp_sched_wake_arrive(&w, 1, false), WP_SCHED_WAKE_HOLD);
    assert_int_equal(wp_sched_wake_tick(&w, 2, 0, false), WP_SCHED_WAKE_NOTHING);
    assert_int_equal(wp_sched_wake_tick(&w, 100, 0, false), WP_SCHED_WAKE_NOTHING);
    assert_int_equal(w.state, WP_SCHED_WAKE_AWAKE);
    /* an arrival behind a held one is held too (order kept) */
    assert_int_equal(wp_sched_wake_arrive(&w, 3, true), WP_SCHED_WAKE_HOLD);
    assert_int_equal(wp_sched_wake_tick(&w, 3.1, 0, true), WP_SCHED_WAKE_RELEASE);
}

static void test_wake_sleep_refused(void **state)
{
    (void)state;
    /* servers without sleep mode: the pool is awake again, and tries again only after
     * another idle stretch */
    wp_sched_wake_t w;
    wp_sched_wake_cfg_t c = cfg();
    wp_sched_wake_init(&w, &c, 0);
    assert_int_equal(wp_sched_wake_tick(&w, 10, 0, true), WP_SCHED_WAKE_SLEEP);
    wp_sched_wake_sleep_refused(&w, 10.2);
    assert_int_equal(w.state, WP_SCHED_WAKE_AWAKE);
    assert_int_equal(w.sleep_refusals, 1);
    assert_int_equal(wp_sched_wake_arrive(&w, 11, true), WP_SCHED_WAKE_PASS);
    assert_int_equal(wp_sched_wake_tick(&w, 20.9, 0, true), WP_SCHED_WAKE_NOTHING);
    assert_int_equal(wp_sched_wake_tick(&w, 21, 0, true), WP_SCHED_WAKE_SLEEP);
    /* a refusal once awake changes nothing but the count */
    wp_sched_wake_woke(&w, 22, true);
    wp_sched_wake_sleep_refused(&w, 23);
    assert_int_equal(w.state, WP_SCHED_WAKE_AWAKE);
}

static void test_wake_off(void **state)
{
    (void)state;
    wp_sched_wake_t w;
    wp_sched_wake_cfg_t c = cfg();
    c.enabled = c.hold = false;
    wp_sched_wake_init(&w, &c, 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(wp_sched_wake_arrive(&w, i, i % 2), WP_SCHED_WAKE_PASS);
    assert_int_equal(wp_sched_wake_tick(&w, 1000, 0, true), WP_SCHED_WAKE_NOTHING);
    assert_int_equal(w.held, 0);
    assert_string_equal(wp_sched_wake_state_name(WP_SCHED_WAKE_WAKING), "waking");
    /* turned off while asleep: woken at the next tick */
    c.enabled = c.hold = true;
    wp_sched_wake_configure(&w, &c, 1995); /* on: the idle time starts now */
    assert_int_equal(wp_sched_wake_tick(&w, 2000, 0, true), WP_SCHED_WAKE_NOTHING);
    assert_int_equal(wp_sched_wake_tick(&w, 2005, 0, true), WP_SCHED_WAKE_SLEEP);
    c.enabled = c.hold = false;
    wp_sched_wake_configure(&w, &c, 2005);
    assert_int_equal(wp_sched_wake_tick(&w, 2006, 0, true), WP_SCHED_WAKE_WAKE);
}

/* Two workers: the leader sleeps only when no worker saw a request for the idle time, wakes
 * for requests the follower holds, and the follower holds by the leader's state and releases
 * once it is awake. */
static void test_wake_leader_and_follower(void **state)
{
    (void)state;
    wp_sched_wake_t lead, fol;
    wp_sched_wake_cfg_t c = cfg();
    wp_sched_wake_init(&lead, &c, 0);
    wp_sched_wake_init(&fol, &c, 0);
    /* The follower saw a request at 8: the leader is not idle at 12. */
    assert_int_equal(wp_sched_wake_follower_arrive(&fol, 8, true), WP_SCHED_WAKE_PASS);
    wp_sched_wake_elsewhere(&lead, 0, fol.last_busy);
    assert_int_equal(wp_sched_wake_tick(&lead, 12, 0, true), WP_SCHED_WAKE_NOTHING);
    /* Requests in flight on the follower count in the leader's in_flight. */
    assert_int_equal(wp_sched_wake_tick(&lead, 19, 1, true), WP_SCHED_WAKE_NOTHING);
    assert_int_equal(wp_sched_wake_tick(&lead, 29, 0, true), WP_SCHED_WAKE_SLEEP);
    wp_sched_wake_follow(&fol, &lead);
    assert_int_equal(fol.state, WP_SCHED_WAKE_ASLEEP);
    assert_int_equal(fol.sleeps, 1);
    /* An arrival on the follower: held, and its cue to ask the leader to wake; the state and
     * the counters stay the leader's. */
    assert_int_equal(wp_sched_wake_follower_arrive(&fol, 40, true), WP_SCHED_WAKE_HOLD_WAKE);
    assert_int_equal(fol.state, WP_SCHED_WAKE_ASLEEP);
    assert_int_equal(fol.wakes, 0);
    assert_false(wp_sched_wake_follower_release(&fol, true));
    wp_sched_wake_elsewhere(&lead, fol.held, fol.last_busy);
    assert_int_equal(wp_sched_wake_tick(&lead, 40, 0, true), WP_SCHED_WAKE_WAKE);
    assert_int_equal(lead.wakes, 1);
    wp_sched_wake_woke(&lead, 41, true);
    wp_sched_wake_follow(&fol, &lead);
    assert_int_equal(fol.held, 1);  /* its own */
    assert_int_equal(fol.wakes, 1); /* the leader's */
    assert_false(wp_sched_wake_follower_release(&fol, false));
    assert_true(wp_sched_wake_follower_release(&fol, true));
    wp_sched_wake_leave(&fol);
    /* While the follower holds requests the leader is busy, awake: no sleep. */
    wp_sched_wake_elsewhere(&lead, 1, 41);
    assert_int_equal(wp_sched_wake_tick(&lead, 60, 0, true), WP_SCHED_WAKE_NOTHING);
    assert_float_equal(wp_sched_wake_asleep_seconds(&lead, 60), 12, 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wake_idle_sleep),          cmocka_unit_test(test_wake_arrival_wakes),
        cmocka_unit_test(test_wake_failed_retried),      cmocka_unit_test(test_wake_no_endpoint),
        cmocka_unit_test(test_wake_sleep_refused),       cmocka_unit_test(test_wake_off),
        cmocka_unit_test(test_wake_leader_and_follower),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
