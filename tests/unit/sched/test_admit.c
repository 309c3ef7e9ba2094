/* Tests for sched/admit: the config and its errors; a table of arrivals (room, nobody
 * waiting -> send; saturated by the in-flight limit, by a fresh queue depth or KV usage ->
 * queued; nothing healthy -> send; queue off -> send) and of no_room answers; queue off:
 * send, then the pick finds no room, shed in_flight_limit; a full queue sheds queue_full
 * or evicts the last one queued; deadlines set once and kept on a requeue; expired() and
 * queue_timeout; next() in priority and fair order only while there is room, bounded by
 * pass(); forget(); a reload (queue turned off keeps the queued draining, bounds changed,
 * bad bounds refused with a message); the counters; two queues, each yielding to a
 * better ticket in the other and sharing one bound. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sched/admit.h"

#define SEND WP_SCHED_ADMIT_SEND
#define QUEUED WP_SCHED_ADMIT_QUEUED
#define SHED WP_SCHED_ADMIT_SHED
#define UNAVAILABLE WP_SCHED_ADMIT_UNAVAILABLE
#define BOTH WP_SCHED_ROLE_BOTH
#define PREFILL WP_SCHED_ROLE_PREFILL
#define DECODE WP_SCHED_ROLE_DECODE

/* A scheduler (round-robin, stale_after_s 2) with n endpoints ep0.. of one role. */
static wp_sched_t *make_sched(int n, wp_sched_role_t role)
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
        assert_int_equal(wp_sched_endpoint_add(s, name, role), i);
    }
    return s;
}

/* Flow control on or off, the default saturation (queue depth 5, KV 0.8). */
static wp_sched_admit_t *make_admit(bool queue, uint32_t max_queue, double timeout)
{
    wp_sched_admit_cfg_t cfg;
    wp_sched_admit_cfg_default(&cfg);
    cfg.queue = queue;
    cfg.max_queue = max_queue;
    cfg.queue_timeout_s = timeout;
    wp_err_t err;
    wp_sched_admit_t *a = wp_sched_admit_new(&cfg, &err);
    if (a == NULL)
        fail_msg("new: %s", err.msg);
    return a;
}

/* Endpoint ep at an in-flight limit of 1 (full: one in flight) or free of it. */
static void set_full(wp_sched_t *s, int ep, bool full)
{
    assert_int_equal(wp_sched_endpoint_set_limit(s, ep, 1), WP_OK);
    assert_int_equal(wp_sched_endpoint_set_in_flight(s, ep, full ? 1 : 0), WP_OK);
}

static void assert_counts(const wp_sched_admit_t *a, uint64_t full, uint64_t timeout,
                          uint64_t evicted, uint64_t limit, uint64_t waited)
{
    assert_int_equal(wp_sched_admit_shed_count(a, WP_SCHED_SHED_QUEUE_FULL), full);
    assert_int_equal(wp_sched_admit_shed_count(a, WP_SCHED_SHED_QUEUE_TIMEOUT), timeout);
    assert_int_equal(wp_sched_admit_shed_count(a, WP_SCHED_SHED_EVICTED), evicted);
    assert_int_equal(wp_sched_admit_shed_count(a, WP_SCHED_SHED_IN_FLIGHT_LIMIT), limit);
    assert_int_equal(wp_sched_admit_shed_count(a, WP_SCHED_SHED_NO_MEMORY), 0);
    assert_int_equal(wp_sched_admit_shed_count(a, WP_SCHED_SHED_KINDS), 0);
    assert_int_equal(wp_sched_admit_waited_count(a), waited);
}

/* ---- config ---- */

typedef struct cfg_case_s {
    uint32_t max_queue;
    double timeout;
    const char *msg; /* NULL: valid */
} cfg_case_t;

static const cfg_case_t cfg_cases[] = {
    {1, 30, NULL},
    {WP_SCHED_QUEUE_MAX, 0.001, NULL},
    {0, 30, "flow control: maxQueue 0 is out of range 1..16384"},
    {WP_SCHED_QUEUE_MAX + 1, 30, "flow control: maxQueue 16385 is out of range 1..16384"},
    {UINT32_MAX, 30, "flow control: maxQueue 4294967295 is out of range 1..16384"},
    {10, 0, "flow control: the queue timeout must be > 0"},
    {10, -1, "flow control: the queue timeout must be > 0"},
    {10, NAN, "flow control: the queue timeout must be > 0"},
};

static void test_admit_config(void **state)
{
    wp_sched_admit_cfg_t c;
    wp_sched_admit_cfg_default(&c);
    assert_false(c.queue);
    assert_int_equal(c.max_queue, 1024);
    assert_float_equal(c.queue_timeout_s, 30, 0);
    assert_float_equal(c.saturation.queue_depth, 5, 0);
    assert_float_equal(c.saturation.kv_usage, 0.8, 0);

    for (size_t i = 0; i < sizeof(cfg_cases) / sizeof(cfg_cases[0]); i++) {
        const cfg_case_t *k = &cfg_cases[i];
        for (int queue = 0; queue <= 1; queue++) {
            wp_sched_admit_cfg_default(&c);
            c.queue = queue;
            c.max_queue = k->max_queue;
            c.queue_timeout_s = k->timeout;
            wp_err_t err = {{0}};
            wp_sched_admit_t *a = wp_sched_admit_new(&c, &err);
            if (k->msg == NULL) {
                assert_non_null(a);
                assert_int_equal(wp_sched_admit_cfg(a)->max_queue, k->max_queue);
                assert_int_equal(wp_sched_admit_cfg(a)->queue, queue);
                wp_sched_admit_free(a);
                continue;
            }
            assert_null(a);
            assert_string_equal(err.msg, k->msg);
            /* the same on a reload, which leaves the config as it was */
            a = make_admit(true, 8, 5);
            memset(&err, 0, sizeof(err));
            assert_int_equal(wp_sched_admit_configure(a, &c, &err), WP_EINVAL);
            assert_string_equal(err.msg, k->msg);
            assert_true(wp_sched_admit_cfg(a)->queue);
            assert_int_equal(wp_sched_admit_cfg(a)->max_queue, 8);
            assert_float_equal(wp_sched_admit_cfg(a)->queue_timeout_s, 5, 0);
            wp_sched_admit_free(a);
        }
    }
    wp_sched_admit_free(NULL);

    const char *names[] = {"queue_full", "queue_timeout", "evicted", "in_flight_limit",
                           "no_memory"};
    for (int k = 0; k < WP_SCHED_SHED_KINDS; k++)
        assert_string_equal(wp_sched_shed_name(k), names[k]);
    assert_string_equal(wp_sched_shed_name(WP_SCHED_SHED_KINDS), "unknown");
}

/* ---- arrive ---- */

typedef struct arrive_case_s {
    const char *name;
    bool queue;
    uint32_t limit, in_flight;
    double age; /* of the metrics at now; < 0: none */
    double waiting, running, kv;
    bool down;
    wp_sched_role_t ep_role, role;
    bool waits;   /* someone is already queued */
    bool sat_off; /* saturation thresholds 0: the in-flight limit alone */
    wp_sched_admit_verdict_t want;
} arrive_case_t;

#define Q true
#define NOQ false

static const arrive_case_t arrive_cases[] = {
    {"room, nobody waiting", Q, 0, 0, -1, 0, 0, 0, 0, BOTH, BOTH, 0, 0, SEND},
    {"no limit, many in flight", Q, 0, 100, -1, 0, 0, 0, 0, BOTH, BOTH, 0, 0, SEND},
    {"at the in-flight limit", Q, 2, 2, -1, 0, 0, 0, 0, BOTH, BOTH, 0, 0, QUEUED},
    {"past the in-flight limit", Q, 2, 3, -1, 0, 0, 0, 0, BOTH, BOTH, 0, 0, QUEUED},
    {"below the in-flight limit", Q, 2, 1, -1, 0, 0, 0, 0, BOTH, BOTH, 0, 0, SEND},
    {"fresh queue depth 5", Q, 0, 0, 0, 5, 0, 0, 0, BOTH, BOTH, 0, 0, QUEUED},
    {"fresh queue depth 4", Q, 0, 0, 0, 4, 0, 0, 0, BOTH, BOTH, 0, 0, SEND},
    {"queue depth 5, 2 s old: still fresh", Q, 0, 0, 2, 5, 0, 0, 0, BOTH, BOTH, 0, 0, QUEUED},
    {"queue depth 50, stale", Q, 0, 0, 2.5, 50, 0, 0, 0, BOTH, BOTH, 0, 0, SEND},
    {"5 sent since the scrape count", Q, 0, 6, 1, 0, 1, 0, 0, BOTH, BOTH, 0, 0, QUEUED},
    {"4 sent since the scrape", Q, 0, 5, 1, 0, 1, 0, 0, BOTH, BOTH, 0, 0, SEND},
    {"fresh KV 0.8", Q, 0, 0, 0, 0, 0, 0.8, 0, BOTH, BOTH, 0, 0, QUEUED},
    {"fresh KV 0.79", Q, 0, 0, 0, 0, 0, 0.79, 0, BOTH, BOTH, 0, 0, SEND},
    {"KV 0.95, stale", Q, 0, 0, 3, 0, 0, 0.95, 0, BOTH, BOTH, 0, 0, SEND},
    {"thresholds off: depth 50, KV 1", Q, 0, 0, 0, 50, 0, 1, 0, BOTH, BOTH, 0, 1, SEND},
    {"thresholds off: the limit still counts", Q, 1, 1, 0, 0, 0, 0, 0, BOTH, BOTH, 0, 1, QUEUED},
    {"nothing healthy", Q, 0, 0, -1, 0, 0, 0, 1, BOTH, BOTH, 0, 0, SEND},
    {"nothing healthy, at its limit", Q, 1, 1, -1, 0, 0, 0, 1, BOTH, BOTH, 0, 0, SEND},
    {"no endpoint of the role (full prefill one)", Q, 1, 1, -1, 0, 0, 0, 0, PREFILL, DECODE, 0, 0,
     SEND},
    {"decode endpoint full, decode request", Q, 1, 1, -1, 0, 0, 0, 0, DECODE, DECODE, 0, 0, QUEUED},
    {"endpoint of both roles full, prefill request", Q, 1, 1, -1, 0, 0, 0, 0, BOTH, PREFILL, 0, 0,
     QUEUED},
    {"queue off, at the limit", NOQ, 1, 1, -1, 0, 0, 0, 0, BOTH, BOTH, 0, 0, SEND},
    {"queue off, queue depth 50", NOQ, 0, 0, 0, 50, 0, 0.99, 0, BOTH, BOTH, 0, 0, SEND},
    {"room, but someone waits", Q, 0, 0, -1, 0, 0, 0, 0, BOTH, BOTH, 1, 0, QUEUED},
    {"saturated and someone waits", Q, 1, 1, -1, 0, 0, 0, 0, BOTH, BOTH, 1, 0, QUEUED},
    /* Nothing healthy but someone waits: it queues behind them (admit.h); the next drain
     * hands them all out to their 503s in order. */
    {"nothing healthy, someone waits", Q, 0, 0, -1, 0, 0, 0, 1, BOTH, BOTH, 1, 0, QUEUED},
};

static void test_admit_arrive_table(void **state)
{
    const double now = 100;
    for (size_t i = 0; i < sizeof(arrive_cases) / sizeof(arrive_cases[0]); i++) {
        const arrive_case_t *k = &arrive_cases[i];
        wp_sched_t *s = make_sched(1, k->ep_role);
        wp_sched_admit_t *a = make_admit(k->queue, 16, 30);
        if (k->sat_off) {
            wp_sched_admit_cfg_t c = *wp_sched_admit_cfg(a);
            c.saturation = (wp_sched_saturation_t){0, 0};
            assert_int_equal(wp_sched_admit_configure(a, &c, NULL), WP_OK);
        }
        wp_sched_ticket_t waiter = {0}, t = {.priority = 0, .flow = 7};
        uint32_t queued = 0;
        if (k->waits) {
            set_full(s, 0, true);
            assert_int_equal(wp_sched_admit_arrive(a, s, now - 1, k->role, &waiter).verdict,
                             QUEUED);
            queued = 1;
        }
        assert_int_equal(wp_sched_endpoint_set_limit(s, 0, k->limit), WP_OK);
        assert_int_equal(wp_sched_endpoint_set_in_flight(s, 0, k->in_flight), WP_OK);
        if (k->age >= 0)
            assert_int_equal(
                wp_sched_endpoint_set_metrics(s, 0, now - k->age, k->waiting, k->running, k->kv),
                WP_OK);
        assert_int_equal(wp_sched_endpoint_set_healthy(s, 0, !k->down), WP_OK);

        wp_sched_admit_result_t r = wp_sched_admit_arrive(a, s, now, k->role, &t);
        if (r.verdict != k->want)
            fail_msg("case '%s': verdict %d, want %d", k->name, r.verdict, k->want);
        assert_null(r.evicted);
        bool q = k->want == QUEUED;
        assert_int_equal(t.queued, q);
        assert_float_equal(t.deadline, q ? now + 30 : 0, 0);
        if (q)
            assert_float_equal(t.queued_at, now, 0);
        assert_int_equal(wp_sched_admit_queued(a), queued + q);
        assert_int_equal(wp_sched_admit_pass(a), queued + q);
        assert_counts(a, 0, 0, 0, 0, queued + q);
        wp_sched_admit_free(a);
        wp_sched_free(s);
    }
}

/* ---- no_room ---- */

typedef struct no_room_case_s {
    const char *name;
    bool queue, down;
    wp_sched_role_t ep_role, role;
    wp_sched_admit_verdict_t want;
} no_room_case_t;

static void test_admit_no_room_table(void **state)
{
    const no_room_case_t cases[] = {
        {"queue on, endpoint at its limit", Q, 0, BOTH, BOTH, QUEUED},
        {"queue off, endpoint at its limit", NOQ, 0, BOTH, BOTH, SHED},
        {"queue on, nothing healthy", Q, 1, BOTH, BOTH, UNAVAILABLE},
        {"queue off, nothing healthy", NOQ, 1, BOTH, BOTH, UNAVAILABLE},
        {"queue on, no endpoint of the role", Q, 0, DECODE, PREFILL, UNAVAILABLE},
        {"queue off, no endpoint of the role", NOQ, 0, PREFILL, DECODE, UNAVAILABLE},
        {"queue off, decode endpoint full", NOQ, 0, DECODE, DECODE, SHED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const no_room_case_t *k = &cases[i];
        wp_sched_t *s = make_sched(1, k->ep_role);
        wp_sched_admit_t *a = make_admit(k->queue, 16, 30);
        set_full(s, 0, true);
        assert_int_equal(wp_sched_endpoint_set_healthy(s, 0, !k->down), WP_OK);
        wp_sched_ticket_t t = {0};
        wp_sched_admit_result_t r = wp_sched_admit_no_room(a, s, 50, k->role, &t);
        if (r.verdict != k->want)
            fail_msg("case '%s': verdict %d, want %d", k->name, r.verdict, k->want);
        assert_null(r.evicted);
        if (k->want == SHED)
            assert_int_equal(r.shed, WP_SCHED_SHED_IN_FLIGHT_LIMIT);
        assert_int_equal(t.queued, k->want == QUEUED);
        assert_float_equal(t.deadline, k->want == QUEUED ? 80 : 0, 0);
        assert_counts(a, 0, 0, 0, k->want == SHED, k->want == QUEUED);
        wp_sched_admit_free(a);
        wp_sched_free(s);
    }
}

/* Queue off: requests are sent on while saturated; the pick that finds every endpoint at
 * its limit sheds in_flight_limit. The same with the queue on waits instead. */
static void test_admit_queue_off_sheds_in_flight_limit(void **state)
{
    for (int queue = 0; queue <= 1; queue++) {
        wp_sched_t *s = make_sched(2, BOTH);
        wp_sched_admit_t *a = make_admit(queue, 16, 30);
        for (int e = 0; e < 2; e++)
            assert_int_equal(wp_sched_endpoint_set_limit(s, e, 1), WP_OK);
        wp_rng_t rng;
        wp_rng_seed(&rng, 1);
        wp_sched_request_t req = {.model = "m", .session_ep = -1};
        wp_sched_pick_t pk;
        wp_sched_ticket_t t[3] = {{0}};
        for (int i = 0; i < 2; i++) {
            assert_int_equal(wp_sched_admit_arrive(a, s, 1, BOTH, &t[i]).verdict, SEND);
            assert_int_equal(wp_sched_pick(s, 1, &req, &rng, &pk, NULL), WP_OK);
            assert_int_equal(wp_sched_on_dispatch(s, &pk), WP_OK);
        }
        wp_sched_admit_result_t r = wp_sched_admit_arrive(a, s, 2, BOTH, &t[2]);
        if (!queue) {
            assert_int_equal(r.verdict, SEND);
            assert_int_equal(wp_sched_pick(s, 2, &req, &rng, &pk, NULL), WP_ENOTFOUND);
            r = wp_sched_admit_no_room(a, s, 2, BOTH, &t[2]);
            assert_int_equal(r.verdict, SHED);
            assert_int_equal(r.shed, WP_SCHED_SHED_IN_FLIGHT_LIMIT);
            assert_false(t[2].queued);
            assert_int_equal(wp_sched_admit_queued(a), 0);
            assert_counts(a, 0, 0, 0, 1, 0);
            /* nothing is ever queued, so there is nothing to drain or expire */
            assert_int_equal(wp_sched_admit_pass(a), 0);
            assert_null(wp_sched_admit_next(a, s, 3, BOTH));
            assert_null(wp_sched_admit_expired(a, 1000));
        } else {
            assert_int_equal(r.verdict, QUEUED);
            assert_null(wp_sched_admit_next(a, s, 3, BOTH));
            assert_int_equal(wp_sched_on_complete(s, &(wp_sched_pick_t){.endpoint = 1}), WP_OK);
            assert_ptr_equal(wp_sched_admit_next(a, s, 3, BOTH), &t[2]);
            assert_false(t[2].queued);
            assert_int_equal(wp_sched_pick(s, 3, &req, &rng, &pk, NULL), WP_OK);
            assert_int_equal(pk.endpoint, 1);
            assert_counts(a, 0, 0, 0, 0, 1);
        }
        wp_sched_admit_free(a);
        wp_sched_free(s);
    }
}

/* ---- a full queue ---- */

typedef struct full_step_s {
    int64_t priority;
    wp_sched_admit_verdict_t want;
    int evicted; /* the ticket displaced, -1 none */
} full_step_t;

/* max_queue 2, saturated: the third sheds queue_full unless it outranks the last one in
 * order (strictly lower priority value), which is then evicted. */
static void test_admit_full_queue(void **state)
{
    const full_step_t steps[] = {
        {5, QUEUED, -1}, /* 0 */
        {5, QUEUED, -1}, /* 1 */
        {5, SHED, -1},   /* 2: equal priority does not outrank */
        {0, QUEUED, 1},  /* 3: the last in order of 0, 1 is 1 */
        {10, SHED, -1},  /* 4 */
        {0, QUEUED, 0},  /* 5: queue 3, 0: 0 is last */
        {0, SHED, -1},   /* 6 */
        {-1, QUEUED, 5}, /* 7: 3 and 5 at 0, 5 came later */
        {-1, QUEUED, 3}, /* 8 */
        {-2, QUEUED, 8}, /* 9 */
    };
    const size_t n = sizeof(steps) / sizeof(steps[0]);
    wp_sched_t *s = make_sched(1, BOTH);
    set_full(s, 0, true);
    wp_sched_admit_t *a = make_admit(true, 2, 30);
    wp_sched_ticket_t t[10] = {{0}};
    uint64_t full = 0, evicted = 0, waited = 0;
    for (size_t i = 0; i < n; i++) {
        t[i].priority = steps[i].priority;
        t[i].ud = &t[i];
        wp_sched_admit_result_t r = wp_sched_admit_arrive(a, s, (double)i, BOTH, &t[i]);
        if (r.verdict != steps[i].want)
            fail_msg("step %zu: verdict %d, want %d", i, r.verdict, steps[i].want);
        if (r.verdict == SHED) {
            assert_int_equal(r.shed, WP_SCHED_SHED_QUEUE_FULL);
            assert_false(t[i].queued);
            assert_float_equal(t[i].deadline, 0, 0);
            full++;
        } else {
            assert_true(t[i].queued);
            waited++;
        }
        if (steps[i].evicted < 0) {
            assert_null(r.evicted);
        } else {
            if (r.evicted != &t[steps[i].evicted])
                fail_msg("step %zu: evicted %td, want %d", i,
                         r.evicted ? r.evicted - t : (ptrdiff_t)-1, steps[i].evicted);
            assert_false(r.evicted->queued);
            assert_ptr_equal(r.evicted->ud, r.evicted);
            evicted++;
        }
        assert_int_equal(wp_sched_admit_queued(a), i == 0 ? 1 : 2);
        assert_counts(a, full, 0, evicted, 0, waited);
    }
    /* What is left: 9 then 7. */
    set_full(s, 0, false);
    assert_ptr_equal(wp_sched_admit_next(a, s, 20, BOTH), &t[9]);
    assert_ptr_equal(wp_sched_admit_next(a, s, 20, BOTH), &t[7]);
    assert_null(wp_sched_admit_next(a, s, 20, BOTH));
    /* A requeue into a full queue sheds too (7 comes back while 9 and a new one wait). */
    set_full(s, 0, true);
    wp_sched_ticket_t u = {.priority = -5};
    assert_int_equal(wp_sched_admit_no_room(a, s, 21, BOTH, &t[9]).verdict, QUEUED);
    assert_int_equal(wp_sched_admit_arrive(a, s, 21, BOTH, &u).verdict, QUEUED);
    wp_sched_admit_result_t r = wp_sched_admit_no_room(a, s, 22, BOTH, &t[7]);
    assert_int_equal(r.verdict, SHED);
    assert_int_equal(r.shed, WP_SCHED_SHED_QUEUE_FULL);
    assert_false(t[7].queued);
    assert_counts(a, full + 1, 0, evicted, 0, waited + 1);
    wp_sched_admit_free(a);
    wp_sched_free(s);
}

/* ---- deadlines ---- */

/* Set when first queued, kept when it waits again; queued_at follows each wait. */
static void test_admit_deadline_kept_on_requeue(void **state)
{
    wp_sched_t *s = make_sched(1, BOTH);
    wp_sched_admit_t *a = make_admit(true, 8, 10);
    wp_sched_ticket_t t = {0};
    set_full(s, 0, true);
    assert_int_equal(wp_sched_admit_arrive(a, s, 100, BOTH, &t).verdict, QUEUED);
    assert_float_equal(t.deadline, 110, 0);
    assert_float_equal(t.queued_at, 100, 0);
    set_full(s, 0, false);
    assert_ptr_equal(wp_sched_admit_next(a, s, 105, BOTH), &t);
    assert_false(t.queued);
    assert_float_equal(t.deadline, 110, 0);
    set_full(s, 0, true);
    assert_int_equal(wp_sched_admit_no_room(a, s, 106, BOTH, &t).verdict, QUEUED);
    assert_true(t.queued);
    assert_float_equal(t.deadline, 110, 0);
    assert_float_equal(t.queued_at, 106, 0);
    assert_counts(a, 0, 0, 0, 0, 1); /* waited once */
    assert_null(wp_sched_admit_expired(a, 109.999));
    assert_ptr_equal(wp_sched_admit_expired(a, 110), &t);
    assert_false(t.queued);
    assert_null(wp_sched_admit_expired(a, 110));
    assert_counts(a, 0, 1, 0, 0, 1);

    /* Back after its deadline: it waits again, and the next expiry sheds it. */
    wp_sched_ticket_t late = {0};
    assert_int_equal(wp_sched_admit_arrive(a, s, 200, BOTH, &late).verdict, QUEUED);
    set_full(s, 0, false);
    assert_ptr_equal(wp_sched_admit_next(a, s, 201, BOTH), &late);
    set_full(s, 0, true);
    assert_int_equal(wp_sched_admit_no_room(a, s, 215, BOTH, &late).verdict, QUEUED);
    assert_float_equal(late.deadline, 210, 0);
    assert_ptr_equal(wp_sched_admit_expired(a, 215), &late);
    assert_counts(a, 0, 2, 0, 0, 2);

    /* A reload's new timeout applies to new waits only. */
    wp_sched_ticket_t old = {0}, fresh = {0};
    assert_int_equal(wp_sched_admit_arrive(a, s, 300, BOTH, &old).verdict, QUEUED);
    wp_sched_admit_cfg_t c = *wp_sched_admit_cfg(a);
    c.queue_timeout_s = 100;
    assert_int_equal(wp_sched_admit_configure(a, &c, NULL), WP_OK);
    assert_int_equal(wp_sched_admit_arrive(a, s, 301, BOTH, &fresh).verdict, QUEUED);
    assert_float_equal(old.deadline, 310, 0);
    assert_float_equal(fresh.deadline, 401, 0);
    assert_ptr_equal(wp_sched_admit_expired(a, 310), &old);
    assert_null(wp_sched_admit_expired(a, 400.5));
    assert_ptr_equal(wp_sched_admit_expired(a, 401), &fresh);
    wp_sched_admit_free(a);
    wp_sched_free(s);
}

/* expired(): tickets whose deadline is at or before now, one a call, each counted as shed
 * (queue_timeout); as time passes they go in deadline order, whatever their priority. */
static void test_admit_expired(void **state)
{
    wp_sched_t *s = make_sched(1, BOTH);
    wp_sched_admit_t *a = make_admit(true, 8, 10);
    set_full(s, 0, true);
    wp_sched_ticket_t t[5] = {{0}};
    const int64_t prio[5] = {9, 0, 5, -3, 2};
    for (int i = 0; i < 5; i++) {
        t[i].priority = prio[i];
        t[i].flow = (uint64_t)i % 2;
        assert_int_equal(wp_sched_admit_arrive(a, s, i, BOTH, &t[i]).verdict, QUEUED);
    }
    assert_null(wp_sched_admit_expired(a, 9.99));
    for (int i = 0; i < 5; i++) {
        double now = 10 + i + 0.5;
        assert_ptr_equal(wp_sched_admit_expired(a, now), &t[i]);
        assert_false(t[i].queued);
        assert_null(wp_sched_admit_expired(a, now));
        assert_int_equal(wp_sched_admit_queued(a), 4 - i);
        assert_counts(a, 0, 1 + i, 0, 0, 5);
    }

    /* Many due at once: all come out, each once, none that is not due. (New requests: a
     * ticket's deadline is its request's, set once.) */
    for (int i = 0; i < 5; i++) {
        t[i] = (wp_sched_ticket_t){.priority = prio[i]};
        assert_int_equal(wp_sched_admit_arrive(a, s, 100 + i, BOTH, &t[i]).verdict, QUEUED);
    }
    bool seen[5] = {0};
    for (int k = 0; k < 3; k++) {
        wp_sched_ticket_t *x = wp_sched_admit_expired(a, 112);
        assert_non_null(x);
        assert_true(x->deadline <= 112);
        assert_false(seen[x - t]);
        seen[x - t] = true;
    }
    assert_null(wp_sched_admit_expired(a, 112));
    assert_true(seen[0] && seen[1] && seen[2]);
    assert_int_equal(wp_sched_admit_queued(a), 2);
    assert_counts(a, 0, 8, 0, 0, 10);
    wp_sched_admit_free(a);
    wp_sched_free(s);
}

/* ---- next ---- */

/* Handed out in the queue's order (priority, then fair turns between flows, then arrival),
 * and only while some endpoint of the role has room; with nothing healthy, handed out (the
 * pick answers 503). */
static void test_admit_next_order_and_room(void **state)
{
    wp_sched_t *s = make_sched(1, BOTH);
    wp_sched_admit_t *a = make_admit(true, 16, 30);
    set_full(s, 0, true);
    enum { A1, A2, A3, B1, C1, N };
    wp_sched_ticket_t t[N] = {
        [A1] = {.flow = 0xA},
        [A2] = {.flow = 0xA},
        [A3] = {.flow = 0xA},
        [B1] = {.flow = 0xB},
        [C1] = {.flow = 0xC, .priority = -1},
    };
    for (int i = 0; i < N; i++)
        assert_int_equal(wp_sched_admit_arrive(a, s, i, BOTH, &t[i]).verdict, QUEUED);
    assert_int_equal(wp_sched_admit_pass(a), N);
    assert_null(wp_sched_admit_next(a, s, 10, BOTH)); /* no room */
    assert_int_equal(wp_sched_admit_queued(a), N);

    set_full(s, 0, false);
    const int order[N] = {C1, A1, B1, A2, A3};
    for (int i = 0; i < N; i++) {
        wp_sched_ticket_t *x = wp_sched_admit_next(a, s, 10, BOTH);
        if (x != &t[order[i]])
            fail_msg("next #%d: ticket %td, want %d", i, x ? x - t : (ptrdiff_t)-1, order[i]);
        assert_false(x->queued);
    }
    assert_null(wp_sched_admit_next(a, s, 10, BOTH));
    assert_int_equal(wp_sched_admit_pass(a), 0);

    /* Room comes and goes: one handed out, the endpoint fills, the next waits. */
    set_full(s, 0, true);
    for (int i = 0; i < 3; i++) {
        t[i] = (wp_sched_ticket_t){0};
        assert_int_equal(wp_sched_admit_arrive(a, s, 20, BOTH, &t[i]).verdict, QUEUED);
    }
    set_full(s, 0, false);
    assert_ptr_equal(wp_sched_admit_next(a, s, 21, BOTH), &t[0]);
    set_full(s, 0, true);
    assert_null(wp_sched_admit_next(a, s, 21, BOTH));
    /* Saturated by fresh metrics (queue depth 5), then the metrics go stale. */
    assert_int_equal(wp_sched_endpoint_set_limit(s, 0, 0), WP_OK);
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 0, 22, 5, 0, 0), WP_OK);
    assert_null(wp_sched_admit_next(a, s, 22, BOTH));
    assert_null(wp_sched_admit_next(a, s, 24, BOTH));
    assert_ptr_equal(wp_sched_admit_next(a, s, 24.01, BOTH), &t[1]);
    /* Nothing healthy: handed out. */
    assert_int_equal(wp_sched_endpoint_set_metrics(s, 0, 30, 5, 0, 0), WP_OK);
    assert_null(wp_sched_admit_next(a, s, 30, BOTH));
    assert_int_equal(wp_sched_endpoint_set_healthy(s, 0, false), WP_OK);
    assert_ptr_equal(wp_sched_admit_next(a, s, 30, BOTH), &t[2]);
    assert_null(wp_sched_admit_next(a, s, 30, BOTH)); /* empty */
    assert_counts(a, 0, 0, 0, 0, N + 3);
    wp_sched_admit_free(a);
    wp_sched_free(s);
}

/* The room looked at is the role's: a full decode endpoint holds decode tickets back while
 * a free prefill endpoint does not count. */
static void test_admit_next_room_by_role(void **state)
{
    wp_sched_t *s = make_sched(0, BOTH);
    assert_int_equal(wp_sched_endpoint_add(s, "p", PREFILL), 0);
    assert_int_equal(wp_sched_endpoint_add(s, "d", DECODE), 1);
    wp_sched_admit_t *a = make_admit(true, 16, 30);
    set_full(s, 1, true);
    wp_sched_ticket_t t = {0};
    assert_int_equal(wp_sched_admit_arrive(a, s, 0, PREFILL, &t).verdict, SEND);
    assert_int_equal(wp_sched_admit_arrive(a, s, 0, DECODE, &t).verdict, QUEUED);
    assert_null(wp_sched_admit_next(a, s, 1, DECODE));
    assert_ptr_equal(wp_sched_admit_next(a, s, 1, PREFILL), &t);
    wp_sched_admit_free(a);
    wp_sched_free(s);
}

/* pass(): how many next() may hand out in one drain. A drain whose picks all find no room
 * after all hands each ticket out once and leaves them all queued, deadlines kept. */
static void test_admit_pass_bound(void **state)
{
    wp_sched_t *s = make_sched(1, BOTH);
    wp_sched_admit_t *a = make_admit(true, 16, 30);
    set_full(s, 0, true);
    wp_sched_ticket_t t[3] = {{0}};
    for (int i = 0; i < 3; i++)
        assert_int_equal(wp_sched_admit_arrive(a, s, i, BOTH, &t[i]).verdict, QUEUED);
    set_full(s, 0, false);
    uint32_t pass = wp_sched_admit_pass(a);
    assert_int_equal(pass, 3);
    int handed[3] = {0};
    for (uint32_t left = pass; left > 0; left--) {
        wp_sched_ticket_t *x = wp_sched_admit_next(a, s, 5, BOTH);
        assert_non_null(x);
        handed[x - t]++;
        assert_int_equal(wp_sched_admit_no_room(a, s, 5, BOTH, x).verdict, QUEUED);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(handed[i], 1);
        assert_true(t[i].queued);
        assert_float_equal(t[i].deadline, 30 + i, 0);
    }
    assert_int_equal(wp_sched_admit_queued(a), 3);
    assert_counts(a, 0, 0, 0, 0, 3);
    wp_sched_admit_free(a);
    wp_sched_free(s);
}

/* A pass is bounded by the tickets queued when it began (admit.h): a ticket that comes
 * straight back through no_room and still comes first is handed out again within the pass,
 * and the pass ends after pass() hand-outs, leaving the other for the next event. */
static void test_admit_pass_requeued_outranking_ticket(void **state)
{
    wp_sched_t *s = make_sched(1, BOTH);
    wp_sched_admit_t *a = make_admit(true, 16, 30);
    set_full(s, 0, true);
    wp_sched_ticket_t t[2] = {{.priority = 0}, {.priority = 5}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(wp_sched_admit_arrive(a, s, i, BOTH, &t[i]).verdict, QUEUED);
    set_full(s, 0, false);
    uint32_t pass = wp_sched_admit_pass(a);
    assert_int_equal(pass, 2);
    wp_sched_ticket_t *got[2];
    for (uint32_t i = 0; i < pass; i++) {
        got[i] = wp_sched_admit_next(a, s, 5, BOTH);
        assert_non_null(got[i]);
        assert_int_equal(wp_sched_admit_no_room(a, s, 5, BOTH, got[i]).verdict, QUEUED);
    }
    assert_ptr_equal(got[0], &t[0]);
    assert_ptr_equal(got[1], &t[0]); /* it still comes first */
    assert_true(t[1].queued);        /* waits for the next event */
    wp_sched_admit_free(a);
    wp_sched_free(s);
}

/* ---- several queues (gateway.workers) ---- */

/* Tells each admission what the other holds, as the workers do. */
static void publish(wp_sched_admit_t *a, wp_sched_admit_t *b)
{
    wp_sched_admit_set_others(a, wp_sched_admit_mine(b));
    wp_sched_admit_set_others(b, wp_sched_admit_mine(a));
}

/* Two queues over one view of the pool (one endpoint, in-flight limit 1): a ticket goes
 * before no better one in the other queue, on arrival and on drain; ties go either way;
 * with nothing healthy every queue hands out (to its 503). */
static void test_admit_queues_yield_to_better_elsewhere(void **state)
{
    (void)state;
    wp_sched_t *s = make_sched(1, BOTH);
    wp_sched_admit_t *a = make_admit(true, 16, 30), *b = make_admit(true, 16, 30);
    assert_int_equal(wp_sched_admit_mine(a).queued, 0);
    assert_true(wp_sched_admit_mine(a).best == INT64_MAX);
    set_full(s, 0, true);
    wp_sched_ticket_t lo[2] = {{.priority = 10}, {.priority = 10}}, hi = {.priority = 0};
    for (int i = 0; i < 2; i++)
        assert_int_equal(wp_sched_admit_arrive(a, s, 0, BOTH, &lo[i]).verdict, QUEUED);
    assert_int_equal(wp_sched_admit_arrive(b, s, 0, BOTH, &hi).verdict, QUEUED);
    publish(a, b);
    wp_sched_admit_others_t ma = wp_sched_admit_mine(a);
    assert_true(ma.best == 10 && ma.worst == 10 && ma.queued == 2);

    /* A slot frees: a's first ticket waits for b's better one. */
    set_full(s, 0, false);
    assert_null(wp_sched_admit_next(a, s, 1, BOTH));
    /* An arrival on a with nothing queued there waits too, unless it is as good. */
    wp_sched_admit_t *c = make_admit(true, 16, 30);
    wp_sched_admit_set_others(c, (wp_sched_admit_others_t){.best = 0, .worst = 0, .queued = 1});
    wp_sched_ticket_t mid = {.priority = 5}, top_class = {.priority = 0};
    assert_int_equal(wp_sched_admit_arrive(c, s, 1, BOTH, &mid).verdict, QUEUED);
    wp_sched_admit_forget(c, &mid);
    assert_int_equal(wp_sched_admit_arrive(c, s, 1, BOTH, &top_class).verdict, SEND);
    wp_sched_admit_free(c);

    assert_ptr_equal(wp_sched_admit_next(b, s, 1, BOTH), &hi);
    publish(a, b); /* b is empty now: a's turn */
    assert_int_equal(wp_sched_admit_queued(b), 0);
    assert_ptr_equal(wp_sched_admit_next(a, s, 1, BOTH), &lo[0]);

    /* Nothing healthy: handed out whatever the others hold (each pick answers 503). */
    wp_sched_admit_set_others(a,
                              (wp_sched_admit_others_t){.best = -100, .worst = -100, .queued = 1});
    assert_int_equal(wp_sched_endpoint_set_healthy(s, 0, false), WP_OK);
    assert_ptr_equal(wp_sched_admit_next(a, s, 1, BOTH), &lo[1]);
    wp_sched_admit_free(a);
    wp_sched_admit_free(b);
    wp_sched_free(s);
}

/* max_queue bounds two queues together: a newcomer takes the place of the worst of either,
 * evicting here when the worst is here, else queued with word to evict there; outranking
 * nobody, it is shed. */
static void test_admit_queues_share_the_bound(void **state)
{
    (void)state;
    wp_sched_t *s = make_sched(1, BOTH);
    set_full(s, 0, true);
    wp_sched_admit_t *a = make_admit(true, 3, 30), *b = make_admit(true, 3, 30);
    wp_sched_ticket_t t10 = {.priority = 10}, t20 = {.priority = 20}, t5 = {.priority = 5};
    assert_int_equal(wp_sched_admit_arrive(a, s, 0, BOTH, &t10).verdict, QUEUED);
    assert_int_equal(wp_sched_admit_arrive(a, s, 0, BOTH, &t20).verdict, QUEUED);
    publish(a, b);
    assert_int_equal(wp_sched_admit_arrive(b, s, 0, BOTH, &t5).verdict, QUEUED);
    publish(a, b); /* 3 queued: full */

    /* On b, priority 30 outranks nobody: shed. */
    wp_sched_ticket_t t30 = {.priority = 30};
    wp_sched_admit_result_t r = wp_sched_admit_arrive(b, s, 1, BOTH, &t30);
    assert_int_equal(r.verdict, SHED);
    assert_int_equal(r.shed, WP_SCHED_SHED_QUEUE_FULL);
    /* On b, priority 0: the worst (20) is a's. Queued on b; a evicts its 20 when told. */
    wp_sched_ticket_t t0 = {.priority = 0};
    r = wp_sched_admit_arrive(b, s, 1, BOTH, &t0);
    assert_int_equal(r.verdict, QUEUED);
    assert_null(r.evicted);
    assert_true(r.evict_elsewhere);
    assert_true(r.evict_below == 0);
    publish(a, b); /* a looks before it evicts: 4 queued, one over */
    assert_ptr_equal(wp_sched_admit_evict_worse(a, r.evict_below), &t20);
    assert_false(t20.queued);
    /* Back at the bound: no more evictions (a second word to evict, one sent meanwhile). */
    assert_null(wp_sched_admit_evict_worse(a, 0));
    assert_int_equal(wp_sched_admit_shed_count(a, WP_SCHED_SHED_EVICTED), 1);
    publish(a, b);
    /* On a, priority 7: the worst is a's own 10: evicted here at once. */
    wp_sched_ticket_t t7 = {.priority = 7};
    r = wp_sched_admit_arrive(a, s, 2, BOTH, &t7);
    assert_int_equal(r.verdict, QUEUED);
    assert_ptr_equal(r.evicted, &t10);
    assert_false(r.evict_elsewhere);
    publish(a, b);
    assert_int_equal(wp_sched_admit_queued(a) + wp_sched_admit_queued(b), 3);
    wp_sched_admit_free(a);
    wp_sched_admit_free(b);
    wp_sched_free(s);
}

/* ---- forget ---- */

static void test_admit_forget(void **state)
{
    wp_sched_t *s = make_sched(1, BOTH);
    wp_sched_admit_t *a = make_admit(true, 16, 30);
    set_full(s, 0, true);
    wp_sched_ticket_t t[4] = {{0}};
    for (int i = 0; i < 3; i++)
        assert_int_equal(wp_sched_admit_arrive(a, s, i, BOTH, &t[i]).verdict, QUEUED);
    wp_sched_admit_forget(a, &t[1]);
    assert_false(t[1].queued);
    assert_int_equal(wp_sched_admit_queued(a), 2);
    wp_sched_admit_forget(a, &t[1]); /* not queued: no-op */
    wp_sched_admit_forget(a, &t[3]); /* never queued */
    assert_int_equal(wp_sched_admit_queued(a), 2);
    /* A forgotten ticket never comes back, neither from expired nor from next (deadlines
     * 30, 31, 32). */
    assert_ptr_equal(wp_sched_admit_expired(a, 31.5), &t[0]);
    assert_null(wp_sched_admit_expired(a, 31.5));
    set_full(s, 0, false);
    assert_ptr_equal(wp_sched_admit_next(a, s, 31.5, BOTH), &t[2]);
    wp_sched_admit_forget(a, &t[2]); /* handed out already: no-op */
    assert_false(t[2].queued);
    assert_null(wp_sched_admit_next(a, s, 31.5, BOTH));
    assert_int_equal(wp_sched_admit_queued(a), 0);
    assert_counts(a, 0, 1, 0, 0, 3); /* forgetting sheds nothing */
    wp_sched_admit_free(a);

    /* With the queue never on: a no-op. */
    a = make_admit(false, 16, 30);
    wp_sched_admit_forget(a, &t[3]);
    assert_int_equal(wp_sched_admit_queued(a), 0);
    wp_sched_admit_free(a);
    wp_sched_free(s);
}

/* ---- reload ---- */

static void test_admit_reload(void **state)
{
    wp_sched_t *s = make_sched(1, BOTH);
    set_full(s, 0, true);

    /* Off at first: no queue at all; turned on, it queues. */
    wp_sched_admit_t *a = make_admit(false, 4, 30);
    wp_sched_ticket_t t[8] = {{0}};
    assert_int_equal(wp_sched_admit_arrive(a, s, 0, BOTH, &t[0]).verdict, SEND);
    assert_int_equal(wp_sched_admit_pass(a), 0);
    assert_null(wp_sched_admit_expired(a, 1e9));
    wp_sched_admit_cfg_t c = *wp_sched_admit_cfg(a);
    c.queue = true;
    wp_err_t err;
    assert_int_equal(wp_sched_admit_configure(a, &c, &err), WP_OK);
    assert_true(wp_sched_admit_cfg(a)->queue);
    for (int i = 0; i < 3; i++)
        assert_int_equal(wp_sched_admit_arrive(a, s, 1, BOTH, &t[i]).verdict, QUEUED);

    /* Turned off: nothing joins, what waits stays and drains (or expires). */
    c.queue = false;
    assert_int_equal(wp_sched_admit_configure(a, &c, &err), WP_OK);
    assert_false(wp_sched_admit_cfg(a)->queue);
    assert_int_equal(wp_sched_admit_queued(a), 3);
    assert_int_equal(wp_sched_admit_arrive(a, s, 2, BOTH, &t[3]).verdict, SEND);
    wp_sched_admit_result_t r = wp_sched_admit_no_room(a, s, 2, BOTH, &t[3]);
    assert_int_equal(r.verdict, SHED);
    assert_int_equal(r.shed, WP_SCHED_SHED_IN_FLIGHT_LIMIT);
    assert_false(t[3].queued);
    assert_int_equal(wp_sched_admit_queued(a), 3);
    assert_int_equal(wp_sched_admit_pass(a), 3);
    assert_null(wp_sched_admit_next(a, s, 3, BOTH)); /* still no room */
    set_full(s, 0, false);
    assert_ptr_equal(wp_sched_admit_next(a, s, 3, BOTH), &t[0]);
    assert_ptr_equal(wp_sched_admit_next(a, s, 3, BOTH), &t[1]);
    assert_ptr_equal(wp_sched_admit_expired(a, 31), &t[2]);
    assert_int_equal(wp_sched_admit_queued(a), 0);
    assert_counts(a, 0, 1, 0, 1, 3);

    /* On again with a smaller bound: those queued stay, new ones meet the bound. */
    c.queue = true;
    assert_int_equal(wp_sched_admit_configure(a, &c, &err), WP_OK);
    set_full(s, 0, true);
    for (int i = 0; i < 8; i++)
        t[i] = (wp_sched_ticket_t){0}; /* new requests */
    for (int i = 0; i < 4; i++) {
        t[i].priority = 5;
        assert_int_equal(wp_sched_admit_arrive(a, s, 40, BOTH, &t[i]).verdict, QUEUED);
    }
    c.max_queue = 2;
    assert_int_equal(wp_sched_admit_configure(a, &c, &err), WP_OK);
    assert_int_equal(wp_sched_admit_queued(a), 4);
    t[4].priority = 5;
    r = wp_sched_admit_arrive(a, s, 41, BOTH, &t[4]);
    assert_int_equal(r.verdict, SHED);
    assert_int_equal(r.shed, WP_SCHED_SHED_QUEUE_FULL);
    t[5].priority = 0;
    r = wp_sched_admit_arrive(a, s, 41, BOTH, &t[5]);
    assert_int_equal(r.verdict, QUEUED);
    assert_ptr_equal(r.evicted, &t[3]);
    assert_int_equal(wp_sched_admit_queued(a), 4);
    /* A larger bound: room again. */
    c.max_queue = 5;
    assert_int_equal(wp_sched_admit_configure(a, &c, &err), WP_OK);
    t[6].priority = 9;
    assert_int_equal(wp_sched_admit_arrive(a, s, 42, BOTH, &t[6]).verdict, QUEUED);
    t[7].priority = 9;
    assert_int_equal(wp_sched_admit_arrive(a, s, 42, BOTH, &t[7]).verdict, SHED);
    assert_int_equal(wp_sched_admit_queued(a), 5);
    assert_counts(a, 2, 1, 1, 1, 9);

    /* A bad reload changes nothing. */
    wp_sched_admit_cfg_t bad = c;
    bad.max_queue = 0;
    assert_int_equal(wp_sched_admit_configure(a, &bad, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "maxQueue 0"));
    bad = c;
    bad.queue_timeout_s = -1;
    assert_int_equal(wp_sched_admit_configure(a, &bad, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "timeout"));
    assert_int_equal(wp_sched_admit_cfg(a)->max_queue, 5);
    assert_float_equal(wp_sched_admit_cfg(a)->queue_timeout_s, 30, 0);
    assert_int_equal(wp_sched_admit_queued(a), 5);
    assert_int_equal(wp_sched_admit_arrive(a, s, 43, BOTH, &t[7]).verdict, SHED);
    wp_sched_admit_free(a); /* tickets still queued are the caller's: nothing to free */
    wp_sched_free(s);
}

/* What a drain's send function sees: the tickets in order; it may ask for a drain itself
 * (as answering a request does in the shells). */
typedef struct sent_s {
    wp_sched_admit_t *a;
    wp_sched_t *s;
    wp_sched_ticket_t *got[8];
    int n, nested;
} sent_t;

static void record_send(void *ud, wp_sched_ticket_t *t)
{
    sent_t *x = ud;
    x->got[x->n++] = t;
    if (x->nested-- > 0) /* runs nothing now: the running drain goes round once more */
        wp_sched_admit_drain(x->a, x->s, 5, BOTH, record_send, x);
}

/* A drain hands out every ticket that may go, in order; one asked for from inside it does
 * not nest (the pass goes round once more); while held, drains only take note. */
static void test_admit_drain_never_nests(void **state)
{
    wp_sched_t *s = make_sched(1, BOTH);
    wp_sched_admit_t *a = make_admit(true, 16, 30);
    set_full(s, 0, true);
    wp_sched_ticket_t t[3] = {{.priority = 2}, {.priority = 0}, {.priority = 1}};
    for (int i = 0; i < 3; i++)
        assert_int_equal(wp_sched_admit_arrive(a, s, i, BOTH, &t[i]).verdict, QUEUED);
    sent_t x = {.a = a, .s = s, .nested = 1};
    wp_sched_admit_drain(a, s, 5, BOTH, record_send, &x);
    assert_int_equal(x.n, 0); /* no room */
    set_full(s, 0, false);
    bool was = wp_sched_admit_hold(a);
    assert_false(was);
    wp_sched_admit_drain(a, s, 5, BOTH, record_send, &x);
    assert_int_equal(x.n, 0); /* held: noted only */
    wp_sched_admit_unhold(a, was);
    wp_sched_admit_drain(a, s, 5, BOTH, record_send, &x);
    assert_int_equal(x.n, 3);
    assert_ptr_equal(x.got[0], &t[1]);
    assert_ptr_equal(x.got[1], &t[2]);
    assert_ptr_equal(x.got[2], &t[0]);
    assert_int_equal(wp_sched_admit_queued(a), 0);
    wp_sched_admit_free(a);
    wp_sched_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admit_config),
        cmocka_unit_test(test_admit_arrive_table),
        cmocka_unit_test(test_admit_no_room_table),
        cmocka_unit_test(test_admit_queue_off_sheds_in_flight_limit),
        cmocka_unit_test(test_admit_full_queue),
        cmocka_unit_test(test_admit_deadline_kept_on_requeue),
        cmocka_unit_test(test_admit_expired),
        cmocka_unit_test(test_admit_next_order_and_room),
        cmocka_unit_test(test_admit_next_room_by_role),
        cmocka_unit_test(test_admit_pass_bound),
        cmocka_unit_test(test_admit_pass_requeued_outranking_ticket),
        cmocka_unit_test(test_admit_drain_never_nests),
        cmocka_unit_test(test_admit_queues_yield_to_better_elsewhere),
        cmocka_unit_test(test_admit_queues_share_the_bound),
        cmocka_unit_test(test_admit_forget),
        cmocka_unit_test(test_admit_reload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
