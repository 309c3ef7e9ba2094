/*
 * sched/queue: the gateway's flow-control queue, where requests wait while every endpoint
 * is saturated (wp_sched_room returns 0).
 *
 * Order: lower priority value first (vLLM's convention: `priority` 0 runs before 10);
 * within one priority, flows (fairness keys, e.g. tenants) take turns; within one flow,
 * first come first served. Turns come from start-time fair queueing: an item's tag is one
 * more than the larger of the queue's virtual clock (the tag last popped) and the highest
 * tag its flow has queued, so a flow that queued 100 items and one that queued 1 alternate
 * instead of the second waiting behind all 100. Ties are broken by arrival (a sequence
 * number), so the order is a pure function of the calls.
 *
 * Bounds: at most `capacity` items. A push into a full queue evicts the last item in order
 * when the new one has a strictly lower priority value (it outranks it), and is refused
 * (WP_ELIMIT) otherwise. Items carry a deadline; pop_expired hands out, one at a time,
 * those whose deadline has passed. Every item has an id (its sequence number) by which it
 * can be removed (the client went away).
 *
 * Pure: no clock (`now` is an argument), no I/O, no global state. The queue owns its
 * array; items carry an opaque pointer that it never touches. Operations are O(n) scans
 * over at most `capacity` items: about 1 µs a push at the gateway's default of 1024, 16 µs
 * at the cap of 16384 (each item is a client connection waiting with its body), cheap next
 * to a model call.
 */
#ifndef WP_SCHED_QUEUE_H
#define WP_SCHED_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

#define WP_SCHED_QUEUE_MAX 16384

typedef struct wp_sched_queue_item_s {
    int64_t priority; /* lower first */
    uint64_t flow;    /* fairness key (a hash of the tenant's id); 0 = the default flow */
    double deadline;  /* in the caller's time unit; +inf = never */
    void *ud;         /* the caller's */
    uint64_t id;      /* set by push */
} wp_sched_queue_item_t;

typedef struct wp_sched_queue_s wp_sched_queue_t;

/* capacity: 1..WP_SCHED_QUEUE_MAX. NULL with err on a bad capacity or no memory. */
wp_sched_queue_t *wp_sched_queue_new(uint32_t capacity, wp_err_t *err);
void wp_sched_queue_free(wp_sched_queue_t *q);
uint32_t wp_sched_queue_len(const wp_sched_queue_t *q);

/* Adds item (its id is written back into *item). When the queue is full and item outranks
 * the last item in order, that one is removed into *evicted and *has_evicted set; when it
 * does not, WP_ELIMIT and nothing changes. WP_ENOMEM when the array could not grow. */
wp_status_t wp_sched_queue_push(wp_sched_queue_t *q, wp_sched_queue_item_t *item,
                                wp_sched_queue_item_t *evicted, bool *has_evicted);
/* The first item in order, removed into *out; false when empty. */
bool wp_sched_queue_pop(wp_sched_queue_t *q, wp_sched_queue_item_t *out);
/* An item whose deadline is before or at now, removed into *out; false when none. */
bool wp_sched_queue_pop_expired(wp_sched_queue_t *q, double now, wp_sched_queue_item_t *out);
/* The priorities of the first and the last item in order (the lowest and the highest value
 * queued); false when empty. */
bool wp_sched_queue_span(const wp_sched_queue_t *q, int64_t *first, int64_t *last);
/* Removes the last item in order into *out when its priority value is above `priority` (the
 * one a newcomer of that priority outranks); false when there is none. */
bool wp_sched_queue_evict_worse(wp_sched_queue_t *q, int64_t priority, wp_sched_queue_item_t *out);
/* Removes the item with that id; false when it is not queued. */
bool wp_sched_queue_remove(wp_sched_queue_t *q, uint64_t id);

#endif
