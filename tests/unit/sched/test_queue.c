/* Tests for sched/queue: priority order, fair turns between flows, FIFO within a flow,
 * eviction by a higher priority when full, deadlines, removal by id, bounds. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sched/queue.h"

static wp_sched_queue_t *make(uint32_t cap)
{
    wp_err_t err;
    wp_sched_queue_t *q = wp_sched_queue_new(cap, &err);
    if (q == NULL)
        fail_msg("new: %s", err.msg);
    return q;
}

/* Pushes an item whose ud is the integer tag `label`; returns its id. */
static uint64_t push(wp_sched_queue_t *q, int64_t prio, uint64_t flow, double deadline, int label)
{
    wp_sched_queue_item_t it = {
        .priority = prio, .flow = flow, .deadline = deadline, .ud = (void *)(intptr_t)label};
    wp_sched_queue_item_t ev;
    bool has_ev;
    assert_int_equal(wp_sched_queue_push(q, &it, &ev, &has_ev), WP_OK);
    assert_false(has_ev);
    return it.id;
}

static int pop(wp_sched_queue_t *q)
{
    wp_sched_queue_item_t it;
    if (!wp_sched_queue_pop(q, &it))
        return -1;
    return (int)(intptr_t)it.ud;
}

static void test_queue_priority_then_fifo(void **state)
{
    (void)state;
    wp_sched_queue_t *q = make(16);
    push(q, 5, 0, INFINITY, 1);
    push(q, 0, 0, INFINITY, 2);
    push(q, 5, 0, INFINITY, 3);
    push(q, -1, 0, INFINITY, 4);
    push(q, 0, 0, INFINITY, 5);
    assert_int_equal(wp_sched_queue_len(q), 5);
    int want[] = {4, 2, 5, 1, 3};
    for (int i = 0; i < 5; i++)
        assert_int_equal(pop(q), want[i]);
    assert_int_equal(pop(q), -1);
    wp_sched_queue_free(q);
}

/* Flow A queues 6 items, then flow B 2 and flow C 1: they alternate, each FIFO. */
static void test_queue_flows_take_turns(void **state)
{
    (void)state;
    wp_sched_queue_t *q = make(64);
    for (int i = 0; i < 6; i++)
        push(q, 0, 0xA, INFINITY, 10 + i);
    push(q, 0, 0xB, INFINITY, 20);
    push(q, 0, 0xB, INFINITY, 21);
    push(q, 0, 0xC, INFINITY, 30);
    int want[] = {10, 20, 30, 11, 21, 12, 13, 14, 15};
    for (int i = 0; i < 9; i++)
        assert_int_equal(pop(q), want[i]);
    /* A flow that comes back after the clock moved on starts at the clock, not behind. */
    push(q, 0, 0xA, INFINITY, 16);
    push(q, 0, 0xA, INFINITY, 17);
    push(q, 0, 0xB, INFINITY, 22);
    assert_int_equal(pop(q), 16);
    assert_int_equal(pop(q), 22);
    assert_int_equal(pop(q), 17);
    /* Priority still comes before turns. */
    push(q, 1, 0xA, INFINITY, 40);
    push(q, 0, 0xB, INFINITY, 41);
    push(q, 0, 0xB, INFINITY, 42);
    assert_int_equal(pop(q), 41);
    assert_int_equal(pop(q), 42);
    assert_int_equal(pop(q), 40);
    wp_sched_queue_free(q);
}

static void test_queue_full_evicts_lower_priority(void **state)
{
    (void)state;
    wp_sched_queue_t *q = make(3);
    push(q, 0, 0, INFINITY, 1);
    push(q, 5, 0, INFINITY, 2);
    push(q, 5, 0, INFINITY, 3);
    wp_sched_queue_item_t it = {.priority = 5, .deadline = INFINITY, .ud = (void *)4}, ev;
    bool has_ev = true;
    /* Equal priority does not outrank: refused, nothing changes. */
    assert_int_equal(wp_sched_queue_push(q, &it, &ev, &has_ev), WP_ELIMIT);
    assert_false(has_ev);
    assert_int_equal(wp_sched_queue_len(q), 3);
    /* A higher priority (lower value) evicts the last in order: the later priority-5 one. */
    it.priority = 1;
    assert_int_equal(wp_sched_queue_push(q, &it, &ev, &has_ev), WP_OK);
    assert_true(has_ev);
    assert_int_equal((int)(intptr_t)ev.ud, 3);
    assert_int_equal(wp_sched_queue_len(q), 3);
    assert_int_equal(pop(q), 1);
    assert_int_equal(pop(q), 4);
    assert_int_equal(pop(q), 2);
    /* evict_worse takes the last in order only when it is worse than the priority given;
     * span gives the first and last priorities. */
    push(q, 2, 0, INFINITY, 5);
    push(q, 7, 0, INFINITY, 6);
    int64_t first = 0, last = 0;
    assert_true(wp_sched_queue_span(q, &first, &last));
    assert_true(first == 2 && last == 7);
    assert_false(wp_sched_queue_evict_worse(q, 7, &ev));
    assert_true(wp_sched_queue_evict_worse(q, 6, &ev));
    assert_int_equal((int)(intptr_t)ev.ud, 6);
    assert_true(wp_sched_queue_span(q, &first, &last));
    assert_true(first == 2 && last == 2);
    wp_sched_queue_free(q);
}

static void test_queue_deadlines_and_remove(void **state)
{
    (void)state;
    wp_sched_queue_t *q = make(8);
    push(q, 0, 0, 10.0, 1);
    uint64_t id2 = push(q, 0, 0, 5.0, 2);
    push(q, 0, 0, INFINITY, 3);
    uint64_t id4 = push(q, 0, 0, 5.0, 4);
    wp_sched_queue_item_t it;
    assert_false(wp_sched_queue_pop_expired(q, 4.9, &it));
    assert_true(wp_sched_queue_remove(q, id4));
    assert_false(wp_sched_queue_remove(q, id4)); /* not twice */
    assert_true(wp_sched_queue_pop_expired(q, 5.0, &it));
    assert_int_equal(it.id, id2);
    assert_false(wp_sched_queue_pop_expired(q, 5.0, &it));
    assert_true(wp_sched_queue_pop_expired(q, 1e9, &it));
    assert_int_equal((int)(intptr_t)it.ud, 1);
    assert_false(wp_sched_queue_pop_expired(q, 1e9, &it)); /* +inf never expires */
    assert_int_equal(pop(q), 3);
    assert_false(wp_sched_queue_remove(q, 12345));
    wp_sched_queue_free(q);
}

static void test_queue_bounds(void **state)
{
    (void)state;
    wp_err_t err;
    assert_null(wp_sched_queue_new(0, &err));
    assert_non_null(strstr(err.msg, "out of range"));
    assert_null(wp_sched_queue_new(WP_SCHED_QUEUE_MAX + 1, &err));
    /* Grows past its first allocation up to the capacity, and keeps every item. */
    wp_sched_queue_t *q = make(1000);
    for (int i = 0; i < 1000; i++)
        push(q, i % 3, (uint64_t)(i % 7), INFINITY, i);
    wp_sched_queue_item_t it = {.priority = 9}, ev;
    bool has_ev;
    assert_int_equal(wp_sched_queue_push(q, &it, &ev, &has_ev), WP_ELIMIT);
    int64_t last_prio = -1;
    for (int i = 0; i < 1000; i++) {
        assert_true(wp_sched_queue_pop(q, &it));
        assert_true(it.priority >= last_prio);
        last_prio = it.priority;
    }
    assert_int_equal(wp_sched_queue_len(q), 0);
    wp_sched_queue_free(q);
    wp_sched_queue_free(NULL);
}

/* Random pushes, pops, expiries and removals: every item leaves exactly once; pops between
 * pushes come out by priority, and within one (priority, flow) first in first out. */
static void test_queue_random_operations(void **state)
{
    (void)state;
    enum { N = 4000 };
    static int left[N + 1]; /* ids are 1..N in push order: 1 while queued */
    static int64_t prio_of[N + 1];
    static uint64_t flow_of[N + 1];
    uint64_t rng = 42;
    wp_sched_queue_t *q = make(64);
    int pushed = 0, gone = 0;
    uint64_t last_in[4][3] = {{0}}; /* last id popped per (priority, flow) */
    while (gone < N) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        int op = (int)(rng >> 60) % 4;
        if (pushed < N && (op < 2 || wp_sched_queue_len(q) == 0)) {
            wp_sched_queue_item_t it = {.priority = (int64_t)(rng >> 33) % 4,
                                        .flow = (rng >> 40) % 3,
                                        .deadline = (double)((rng >> 20) % 1000)},
                                  ev;
            bool has_ev;
            wp_status_t st = wp_sched_queue_push(q, &it, &ev, &has_ev);
            if (st == WP_ELIMIT) {
                pushed++; /* refused: counts as gone, never queued */
                gone++;
                continue;
            }
            assert_int_equal(st, WP_OK);
            assert_int_equal(it.id, (uint64_t)++pushed);
            left[it.id] = 1;
            prio_of[it.id] = it.priority;
            flow_of[it.id] = it.flow;
            if (has_ev) {
                assert_int_equal(left[ev.id], 1);
                assert_true(ev.priority > it.priority);
                left[ev.id] = 0;
                gone++;
            }
        } else if (op == 2) {
            wp_sched_queue_item_t it;
            int64_t prev = INT64_MIN;
            int k = (int)(rng >> 50) % 5;
            while (k-- > 0 && wp_sched_queue_pop(q, &it)) {
                assert_int_equal(left[it.id], 1);
                assert_true(it.priority >= prev);
                prev = it.priority;
                assert_true(it.id > last_in[prio_of[it.id]][flow_of[it.id]]);
                last_in[prio_of[it.id]][flow_of[it.id]] = it.id;
                left[it.id] = 0;
                gone++;
            }
        } else {
            wp_sched_queue_item_t it;
            if (wp_sched_queue_pop_expired(q, (double)((rng >> 24) % 1000), &it)) {
                assert_int_equal(left[it.id], 1);
                left[it.id] = 0;
                gone++;
            } else if (pushed > 0) {
                uint64_t id = 1 + (rng >> 30) % (uint64_t)pushed;
                bool was = left[id] == 1;
                assert_int_equal(wp_sched_queue_remove(q, id), was);
                if (was) {
                    left[id] = 0;
                    gone++;
                }
            }
        }
        uint32_t queued = 0;
        for (int i = 1; i <= pushed; i++)
            queued += (uint32_t)left[i];
        assert_int_equal(wp_sched_queue_len(q), queued);
    }
    assert_int_equal(wp_sched_queue_len(q), 0);
    wp_sched_queue_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_priority_then_fifo),
        cmocka_unit_test(test_queue_flows_take_turns),
        cmocka_unit_test(test_queue_full_evicts_lower_priority),
        cmocka_unit_test(test_queue_deadlines_and_remove),
        cmocka_unit_test(test_queue_bounds),
        cmocka_unit_test(test_queue_random_operations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
