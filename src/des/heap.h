/*
 * des/heap: the event queue of the discrete-event simulator, a binary min-heap of events
 * ordered by time, ties broken by the order of insertion (a sequence number), so a run
 * is reproducible to the byte. The heap owns its array; events are plain values.
 */
#ifndef WP_DES_HEAP_H
#define WP_DES_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct wp_des_event_s {
    double t;
    uint64_t seq;
    int type;
    int index; /* an engine, or -1 */
    void *ptr; /* a request, or NULL */
} wp_des_event_t;

typedef struct wp_des_heap_s {
    wp_des_event_t *v;
    size_t n, cap;
    uint64_t next_seq;
} wp_des_heap_t;

void wp_des_heap_init(wp_des_heap_t *h);
void wp_des_heap_free(wp_des_heap_t *h);
wp_status_t wp_des_heap_push(wp_des_heap_t *h, double t, int type, int index, void *ptr);
/* Removes the earliest event into *out; false when empty. */
int wp_des_heap_pop(wp_des_heap_t *h, wp_des_event_t *out);

#endif
