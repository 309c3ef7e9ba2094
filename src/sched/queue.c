/*
 * sched/queue: see queue.h. The items sit unordered in one array that grows (doubling) up
 * to the capacity; each keeps its fair-queueing tag. "First in order" is the smallest
 * (priority, tag, seq) found by a scan; removal moves the last item into the hole. The
 * virtual clock only moves forward, to the tag of each item popped for service (evictions,
 * expiries and removals do not move it: they were not served).
 */
#include "sched/queue.h"

#include <stdlib.h>

typedef struct slot_s {
    wp_sched_queue_item_t item;
    uint64_t tag;
} slot_t;

struct wp_sched_queue_s {
    slot_t *slots;
    uint32_t n, cap_alloc, capacity;
    uint64_t vclock, next_seq;
};

wp_sched_queue_t *wp_sched_queue_new(uint32_t capacity, wp_err_t *err)
{
    if (capacity < 1 || capacity > WP_SCHED_QUEUE_MAX) {
        wp_err_set(err, WP_EINVAL, "queue capacity %u out of range 1..%d", capacity,
                   WP_SCHED_QUEUE_MAX);
        return NULL;
    }
    wp_sched_queue_t *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        wp_err_set(err, WP_ENOMEM, "queue: out of memory");
        return NULL;
    }
    q->capacity = capacity;
    return q;
}

void wp_sched_queue_free(wp_sched_queue_t *q)
{
    if (q == NULL)
        return;
    free(q->slots);
    free(q);
}

uint32_t wp_sched_queue_len(const wp_sched_queue_t *q)
{
    return q->n;
}

/* a before b in service order */
static bool before(const slot_t *a, const slot_t *b)
{
    if (a->item.priority != b->item.priority)
        return a->item.priority < b->item.priority;
    if (a->tag != b->tag)
        return a->tag < b->tag;
    return a->item.id < b->item.id;
}

/* The index of the first (last == false) or last item in order; n must be > 0. */
static uint32_t extreme(const wp_sched_queue_t *q, bool last)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < q->n; i++) {
        bool b =
            last ? before(&q->slots[best], &q->slots[i]) : before(&q->slots[i], &q->slots[best]);
        if (b)
            best = i;
    }
    return best;
}

static wp_sched_queue_item_t take(wp_sched_queue_t *q, uint32_t i)
{
    wp_sched_queue_item_t it = q->slots[i].item;
    q->slots[i] = q->slots[--q->n];
    return it;
}

static uint64_t flow_tag(const wp_sched_queue_t *q, uint64_t flow)
{
    uint64_t t = q->vclock;
    for (uint32_t i = 0; i < q->n; i++)
        if (q->slots[i].item.flow == flow && q->slots[i].tag > t)
            t = q->slots[i].tag;
    return t + 1;
}

static wp_status_t grow(wp_sched_queue_t *q)
{
    if (q->n < q->cap_alloc)
        return WP_OK;
    uint32_t want = q->cap_alloc ? q->cap_alloc * 2 : 16;
    if (want > WP_SCHED_QUEUE_MAX)
        want = WP_SCHED_QUEUE_MAX;
    slot_t *s = realloc(q->slots, (size_t)want * sizeof(*s));
    if (s == NULL)
        return WP_ENOMEM;
    q->slots = s;
    q->cap_alloc = want;
    return WP_OK;
}

wp_status_t wp_sched_queue_push(wp_sched_queue_t *q, wp_sched_queue_item_t *item,
                                wp_sched_queue_item_t *evicted, bool *has_evicted)
{
    *has_evicted = false;
    if (q->n >= q->capacity) {
        if (!wp_sched_queue_evict_worse(q, item->priority, evicted))
            return WP_ELIMIT;
        *has_evicted = true;
    }
    if (grow(q) != WP_OK) /* never after an eviction: that left a free slot */
        return WP_ENOMEM;
    item->id = ++q->next_seq;
    q->slots[q->n].item = *item;
    q->slots[q->n].tag = flow_tag(q, item->flow);
    q->n++;
    return WP_OK;
}

bool wp_sched_queue_evict_worse(wp_sched_queue_t *q, int64_t priority, wp_sched_queue_item_t *out)
{
    if (q->n == 0)
        return false;
    uint32_t worst = extreme(q, true);
    if (q->slots[worst].item.priority <= priority)
        return false;
    *out = take(q, worst);
    return true;
}

bool wp_sched_queue_pop(wp_sched_queue_t *q, wp_sched_queue_item_t *out)
{
    if (q->n == 0)
        return false;
    uint32_t i = extreme(q, false);
    if (q->slots[i].tag > q->vclock)
        q->vclock = q->slots[i].tag;
    *out = take(q, i);
    return true;
}

bool wp_sched_queue_pop_expired(wp_sched_queue_t *q, double now, wp_sched_queue_item_t *out)
{
    for (uint32_t i = 0; i < q->n; i++) {
        if (q->slots[i].item.deadline <= now) {
            *out = take(q, i);
            return true;
        }
    }
    return false;
}

bool wp_sched_queue_span(const wp_sched_queue_t *q, int64_t *first, int64_t *last)
{
    if (q->n == 0)
        return false;
    int64_t lo = q->slots[0].item.priority, hi = lo;
    for (uint32_t i = 1; i < q->n; i++) {
        int64_t p = q->slots[i].item.priority;
        lo = p < lo ? p : lo;
        hi = p > hi ? p : hi;
    }
    *first = lo;
    *last = hi;
    return true;
}

bool wp_sched_queue_remove(wp_sched_queue_t *q, uint64_t id)
{
    for (uint32_t i = 0; i < q->n; i++) {
        if (q->slots[i].item.id == id) {
            take(q, i);
            return true;
        }
    }
    return false;
}
