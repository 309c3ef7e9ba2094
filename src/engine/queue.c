/*
 * engine/queue: the waiting queue as a binary min-heap of request slots, and the
 * running list.
 *
 * The heap key is (prio, arrival, order). With first-come-first-served scheduling prio
 * and arrival are 0 and order is the add sequence number, so the heap is a FIFO; a
 * preempted request gets an order below every other (front_order counts down), which
 * puts it back at the front. With priority scheduling the key is the request's own
 * priority and arrival, with order breaking ties. Each request records its heap
 * position so an aborted waiting request leaves in O(log n).
 */
#include "engine/engine_int.h"

#include <string.h>

bool wp__queue_before(const wp__req_t *a, const wp__req_t *b)
{
    if (a->prio != b->prio) {
        return a->prio < b->prio;
    }
    if (a->arrival != b->arrival) {
        return a->arrival < b->arrival;
    }
    return a->order < b->order;
}

static void place(wp_engine_t *e, int32_t pos, int32_t slot)
{
    e->heap[pos] = slot;
    e->reqs[slot].heap_pos = pos;
}

static void sift_up(wp_engine_t *e, int32_t pos)
{
    int32_t slot = e->heap[pos];
    while (pos > 0) {
        int32_t parent = (pos - 1) / 2;
        if (!wp__queue_before(&e->reqs[slot], &e->reqs[e->heap[parent]])) {
            break;
        }
        place(e, pos, e->heap[parent]);
        pos = parent;
    }
    place(e, pos, slot);
}

static void sift_down(wp_engine_t *e, int32_t pos)
{
    int32_t slot = e->heap[pos];
    for (;;) {
        int32_t child = 2 * pos + 1;
        if (child >= e->n_waiting) {
            break;
        }
        if (child + 1 < e->n_waiting &&
            wp__queue_before(&e->reqs[e->heap[child + 1]], &e->reqs[e->heap[child]])) {
            child++;
        }
        if (!wp__queue_before(&e->reqs[e->heap[child]], &e->reqs[slot])) {
            break;
        }
        place(e, pos, e->heap[child]);
        pos = child;
    }
    place(e, pos, slot);
}

void wp__queue_push(wp_engine_t *e, int32_t slot)
{
    /* wp_engine_add keeps cap_heap >= live requests, so there is room. */
    e->reqs[slot].state = REQ_WAITING;
    place(e, e->n_waiting++, slot);
    sift_up(e, e->n_waiting - 1);
}

int32_t wp__queue_top(const wp_engine_t *e)
{
    return e->n_waiting > 0 ? e->heap[0] : -1;
}

void wp__queue_remove(wp_engine_t *e, int32_t slot)
{
    int32_t pos = e->reqs[slot].heap_pos;
    int32_t last = e->heap[--e->n_waiting];
    e->reqs[slot].heap_pos = -1;
    if (pos == e->n_waiting) {
        return;
    }
    place(e, pos, last);
    sift_down(e, pos);
    sift_up(e, e->reqs[last].heap_pos);
}

wp_status_t wp__queue_check(const wp_engine_t *e, wp_err_t *err)
{
    for (int32_t i = 0; i < e->n_waiting; i++) {
        const wp__req_t *r = &e->reqs[e->heap[i]];
        if (r->state != REQ_WAITING || r->heap_pos != i) {
            return wp_err_set(err, WP_EINVAL, "queue: entry %d (request %llu) misplaced", (int)i,
                              (unsigned long long)r->id);
        }
        if (i > 0 && wp__queue_before(r, &e->reqs[e->heap[(i - 1) / 2]])) {
            return wp_err_set(err, WP_EINVAL, "queue: heap order broken at %d", (int)i);
        }
    }
    return WP_OK;
}

void wp__running_remove_at(wp_engine_t *e, int32_t pos)
{
    memmove(&e->running[pos], &e->running[pos + 1],
            (size_t)(e->n_running - pos - 1) * sizeof(int32_t));
    e->n_running--;
}

int32_t wp__running_find(const wp_engine_t *e, int32_t slot)
{
    for (int32_t i = e->n_running - 1; i >= 0; i--) {
        if (e->running[i] == slot) {
            return i;
        }
    }
    return -1;
}
