/*
 * sched/admit: see admit.h.
 *
 * The queue holds items whose ud is the ticket; a ticket knows its id in the queue, so a
 * request that goes away is taken out by id. The queue array is allocated the first time
 * flow control is on, so a gateway that never queues holds none.
 */
#include "sched/admit.h"

#include <stdint.h>
#include <stdlib.h>

struct wp_sched_admit_s {
    wp_sched_admit_cfg_t cfg;
    wp_sched_queue_t *queue; /* NULL until the queue is first on */
    uint64_t shed[WP_SCHED_SHED_KINDS];
    uint64_t waited;
    wp_sched_admit_others_t others; /* what the other queues hold */
    bool busy, again;               /* a drain runs or is held back / one was asked for meanwhile */
};

static const char *const shed_names[WP_SCHED_SHED_KINDS] = {
    [WP_SCHED_SHED_QUEUE_FULL] = "queue_full", [WP_SCHED_SHED_QUEUE_TIMEOUT] = "queue_timeout",
    [WP_SCHED_SHED_EVICTED] = "evicted",       [WP_SCHED_SHED_IN_FLIGHT_LIMIT] = "in_flight_limit",
    [WP_SCHED_SHED_NO_MEMORY] = "no_memory",
};

const char *wp_sched_shed_name(wp_sched_shed_t why)
{
    return why < WP_SCHED_SHED_KINDS ? shed_names[why] : "unknown";
}

void wp_sched_admit_cfg_default(wp_sched_admit_cfg_t *cfg)
{
    *cfg = (wp_sched_admit_cfg_t){
        .queue = false, .max_queue = 1024, .queue_timeout_s = 30.0, .saturation = {5, 0.8}};
}

static wp_status_t check(const wp_sched_admit_cfg_t *cfg, wp_err_t *err)
{
    if (cfg->max_queue < 1 || cfg->max_queue > WP_SCHED_QUEUE_MAX)
        return wp_err_set(err, WP_EINVAL, "flow control: maxQueue %u is out of range 1..%d",
                          cfg->max_queue, WP_SCHED_QUEUE_MAX);
    if (!(cfg->queue_timeout_s > 0))
        return wp_err_set(err, WP_EINVAL, "flow control: the queue timeout must be > 0");
    return WP_OK;
}

wp_status_t wp_sched_admit_configure(wp_sched_admit_t *a, const wp_sched_admit_cfg_t *cfg,
                                     wp_err_t *err)
{
    wp_status_t st = check(cfg, err);
    if (st != WP_OK)
        return st;
    /* The queue's own bound is the largest: max_queue counts every queue's tickets, and is
     * kept here (enqueue). */
    if (cfg->queue && a->queue == NULL) {
        a->queue = wp_sched_queue_new(WP_SCHED_QUEUE_MAX, err);
        if (a->queue == NULL)
            return WP_ENOMEM;
    }
    a->cfg = *cfg;
    return WP_OK;
}

wp_sched_admit_t *wp_sched_admit_new(const wp_sched_admit_cfg_t *cfg, wp_err_t *err)
{
    wp_sched_admit_t *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        wp_err_set(err, WP_ENOMEM, "out of memory");
        return NULL;
    }
    a->others = WP_SCHED_ADMIT_NO_OTHERS;
    if (wp_sched_admit_configure(a, cfg, err) != WP_OK) {
        free(a);
        return NULL;
    }
    return a;
}

void wp_sched_admit_free(wp_sched_admit_t *a)
{
    if (a == NULL)
        return;
    wp_sched_queue_free(a->queue);
    free(a);
}

const wp_sched_admit_cfg_t *wp_sched_admit_cfg(const wp_sched_admit_t *a)
{
    return &a->cfg;
}

static wp_sched_admit_result_t verdict(wp_sched_admit_verdict_t v)
{
    return (wp_sched_admit_result_t){.verdict = v};
}

static wp_sched_admit_result_t shed(wp_sched_admit_t *a, wp_sched_shed_t why)
{
    a->shed[why]++;
    return (wp_sched_admit_result_t){.verdict = WP_SCHED_ADMIT_SHED, .shed = why};
}

static wp_sched_ticket_t *evicted(wp_sched_admit_t *a, wp_sched_queue_item_t *it)
{
    wp_sched_ticket_t *t = it->ud;
    t->queued = false;
    a->shed[WP_SCHED_SHED_EVICTED]++;
    return t;
}

/* Every queue together is full (with one queue: this one): t takes the worst one's place,
 * here or elsewhere, when it outranks it; false when it outranks nobody. */
static bool make_place(wp_sched_admit_t *a, const wp_sched_ticket_t *t, wp_sched_admit_result_t *r)
{
    int64_t best, mine = INT64_MIN;
    wp_sched_queue_span(a->queue, &best, &mine);
    if (mine >= a->others.worst) {
        wp_sched_queue_item_t ev;
        if (!wp_sched_queue_evict_worse(a->queue, t->priority, &ev))
            return false;
        r->evicted = evicted(a, &ev);
        return true;
    }
    if (t->priority >= a->others.worst)
        return false;
    r->evict_elsewhere = true;
    r->evict_below = t->priority;
    return true;
}

/* Into the queue with its first deadline, or shed. */
static wp_sched_admit_result_t enqueue(wp_sched_admit_t *a, double now, wp_sched_ticket_t *t)
{
    wp_sched_admit_result_t r = verdict(WP_SCHED_ADMIT_QUEUED);
    uint64_t total = (uint64_t)wp_sched_queue_len(a->queue) + a->others.queued;
    if (total >= a->cfg.max_queue && !make_place(a, t, &r))
        return shed(a, WP_SCHED_SHED_QUEUE_FULL);
    bool first = t->deadline == 0;
    double deadline = first ? now + a->cfg.queue_timeout_s : t->deadline;
    wp_sched_queue_item_t it = {.priority = t->priority,
                                .flow = t->flow,
                                .deadline = deadline,
                                .ud = t},
                          ev;
    /* This queue alone at WP_SCHED_QUEUE_MAX (the others' count was stale): push evicts here. */
    bool full = false;
    wp_status_t st = wp_sched_queue_push(a->queue, &it, &ev, &full);
    if (st != WP_OK)
        return shed(a, st == WP_ENOMEM ? WP_SCHED_SHED_NO_MEMORY : WP_SCHED_SHED_QUEUE_FULL);
    if (full) {
        r.evicted = evicted(a, &ev);
        r.evict_elsewhere = false;
    }
    t->deadline = deadline;
    t->queued = true;
    t->queued_at = now;
    t->id = it.id;
    a->waited += first;
    return r;
}

wp_sched_admit_result_t wp_sched_admit_arrive(wp_sched_admit_t *a, const wp_sched_t *s, double now,
                                              wp_sched_role_t role, wp_sched_ticket_t *t)
{
    if (!a->cfg.queue || a->queue == NULL)
        return verdict(WP_SCHED_ADMIT_SEND);
    int healthy = 0;
    int room = wp_sched_room(s, now, role, &a->cfg.saturation, &healthy);
    if (wp_sched_queue_len(a->queue) == 0 &&
        ((room > 0 && t->priority <= a->others.best) || healthy == 0))
        return verdict(WP_SCHED_ADMIT_SEND); /* no endpoint at all: the pick answers 503 */
    return enqueue(a, now, t);
}

wp_sched_admit_result_t wp_sched_admit_no_room(wp_sched_admit_t *a, const wp_sched_t *s, double now,
                                               wp_sched_role_t role, wp_sched_ticket_t *t)
{
    int healthy = 0;
    const wp_sched_saturation_t limits_only = {0, 0};
    wp_sched_room(s, now, role, &limits_only, &healthy);
    if (healthy == 0)
        return verdict(WP_SCHED_ADMIT_UNAVAILABLE);
    if (!a->cfg.queue || a->queue == NULL)
        return shed(a, WP_SCHED_SHED_IN_FLIGHT_LIMIT);
    return enqueue(a, now, t);
}

uint32_t wp_sched_admit_pass(const wp_sched_admit_t *a)
{
    return a->queue != NULL ? wp_sched_queue_len(a->queue) : 0;
}

wp_sched_ticket_t *wp_sched_admit_next(wp_sched_admit_t *a, const wp_sched_t *s, double now,
                                       wp_sched_role_t role)
{
    if (a->queue == NULL || wp_sched_queue_len(a->queue) == 0)
        return NULL;
    int healthy = 0;
    int room = wp_sched_room(s, now, role, &a->cfg.saturation, &healthy);
    int64_t first = 0, last = 0;
    if (healthy > 0 &&
        (room == 0 || (wp_sched_queue_span(a->queue, &first, &last) && first > a->others.best)))
        return NULL; /* no room, or a better ticket waits in another queue */
    wp_sched_queue_item_t it;
    if (!wp_sched_queue_pop(a->queue, &it))
        return NULL;
    wp_sched_ticket_t *t = it.ud;
    t->queued = false;
    return t;
}

static void drain_pass(wp_sched_admit_t *a, const wp_sched_t *s, double now, wp_sched_role_t role,
                       wp_sched_admit_send_fn send, void *ud)
{
    for (uint32_t left = wp_sched_admit_pass(a); left > 0; left--) {
        wp_sched_ticket_t *t = wp_sched_admit_next(a, s, now, role);
        if (t == NULL)
            return;
        send(ud, t);
    }
}

void wp_sched_admit_drain(wp_sched_admit_t *a, const wp_sched_t *s, double now,
                          wp_sched_role_t role, wp_sched_admit_send_fn send, void *ud)
{
    if (a->busy) {
        a->again = true;
        return;
    }
    a->busy = true;
    do {
        a->again = false;
        drain_pass(a, s, now, role, send, ud);
    } while (a->again);
    a->busy = false;
}

bool wp_sched_admit_hold(wp_sched_admit_t *a)
{
    bool was = a->busy;
    a->busy = true;
    return was;
}

void wp_sched_admit_unhold(wp_sched_admit_t *a, bool was)
{
    a->busy = was;
}

wp_sched_ticket_t *wp_sched_admit_expired(wp_sched_admit_t *a, double now)
{
    wp_sched_queue_item_t it;
    if (a->queue == NULL || !wp_sched_queue_pop_expired(a->queue, now, &it))
        return NULL;
    wp_sched_ticket_t *t = it.ud;
    t->queued = false;
    a->shed[WP_SCHED_SHED_QUEUE_TIMEOUT]++;
    return t;
}

void wp_sched_admit_forget(wp_sched_admit_t *a, wp_sched_ticket_t *t)
{
    if (t->queued && a->queue != NULL)
        wp_sched_queue_remove(a->queue, t->id);
    t->queued = false;
}

uint32_t wp_sched_admit_queued(const wp_sched_admit_t *a)
{
    return a->queue != NULL ? wp_sched_queue_len(a->queue) : 0;
}

wp_sched_admit_others_t wp_sched_admit_mine(const wp_sched_admit_t *a)
{
    wp_sched_admit_others_t o = WP_SCHED_ADMIT_NO_OTHERS;
    if (a->queue != NULL && wp_sched_queue_span(a->queue, &o.best, &o.worst))
        o.queued = wp_sched_queue_len(a->queue);
    return o;
}

void wp_sched_admit_set_others(wp_sched_admit_t *a, wp_sched_admit_others_t others)
{
    a->others = others;
}

wp_sched_ticket_t *wp_sched_admit_evict_worse(wp_sched_admit_t *a, int64_t priority)
{
    wp_sched_queue_item_t ev;
    if (a->queue == NULL ||
        (uint64_t)wp_sched_queue_len(a->queue) + a->others.queued <= a->cfg.max_queue ||
        !wp_sched_queue_evict_worse(a->queue, priority, &ev))
        return NULL;
    return evicted(a, &ev);
}

uint64_t wp_sched_admit_shed_count(const wp_sched_admit_t *a, wp_sched_shed_t why)
{
    return why < WP_SCHED_SHED_KINDS ? a->shed[why] : 0;
}

uint64_t wp_sched_admit_waited_count(const wp_sched_admit_t *a)
{
    return a->waited;
}
