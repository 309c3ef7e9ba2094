/*
 * sched/admit: admission and the waiting room in front of the scheduler, decided once for
 * the live gateway (gateway/flow.c) and the virtual-time simulator (des/).
 *
 * A request that arrives is sent on at once while some endpoint of its role has room
 * (wp_sched_room with the configured saturation thresholds) and nobody is waiting; with
 * flow control on it otherwise waits in the queue (sched/queue.h: priority, then fair
 * turns between fairness keys, then arrival); with it off it is sent on, and a pick that
 * then finds every endpoint at its in-flight limit is shed. No healthy endpoint of the
 * role at all and nobody waiting: it is sent on, and the pick answers 503 (UNAVAILABLE);
 * with others waiting it takes its place behind them, and the next drain hands them all
 * out in order (next() does so while nothing is healthy), each to its 503.
 *
 *   arrive ---room, nobody waiting---> SEND
 *      \----saturated, queue on------> QUEUED --next (room)--> SEND
 *                                           \---expired------> SHED queue_timeout
 *   full queue: SHED queue_full, unless it outranks the last one queued (that one is
 *   shed instead: evicted).
 *   a pick with no candidate (every endpoint at its limit): no_room -> QUEUED again
 *   (queue on; it keeps its first deadline), SHED in_flight_limit (queue off), or
 *   UNAVAILABLE (nothing healthy).
 *
 * A request's place in all this is its ticket, which the caller owns (inside its request)
 * and which must stay put while queued; the queue keeps a pointer to it. Deadlines are set
 * when a request is first queued (now + queue_timeout_s) and kept when it waits again
 * (a P/D request whose decode pick found no room after its prefill). Time is an argument,
 * in seconds; no clock, no I/O, no globals. Counters (shed by reason, requests queued)
 * live here so that both shells count alike.
 *
 * A drain (wp_sched_admit_drain) hands tickets to the caller's send function in passes:
 * each pass at most wp_sched_admit_pass() tickets, as many as were queued when it began, so
 * a ticket that comes straight back (its pick found no room after all) cannot spin it; the
 * rest wait for the next event. (Such a ticket may be handed out again within the pass when
 * it still comes first.) A drain asked for while one runs (from inside send, or while the
 * caller holds drains back to answer requests first) only makes the running one, or the
 * caller's next, go round once more: a drain never runs inside another.
 *
 * Several queues (gateway.workers: one per worker) behave as one: each owner publishes what
 * its queue holds (wp_sched_admit_mine: best and worst priority, length) and tells its
 * admission what the others hold (wp_sched_admit_set_others).
 *   - Order: a ticket goes before no better one queued elsewhere. An arrival is sent at once
 *     only when its priority value is at most the others' best, and a drain hands out its
 *     first ticket only while that holds, so priority classes are served in order across the
 *     queues (within a class, each queue keeps its own fair turns and arrival order).
 *   - Bound: max_queue counts the tickets of every queue. When they are that many, a
 *     newcomer that outranks the worst of them takes its place: here, when the worst is here
 *     (.evicted); when it is in another queue, the newcomer is queued and the result says to
 *     evict there (.evict_elsewhere: the caller asks that queue's owner, who calls
 *     wp_sched_admit_evict_worse, which evicts only while the queues are still over the
 *     bound). Meanwhile the queues hold one more than the bound.
 * What the others hold is as fresh as the caller's last look: two queues deciding in the same
 * instant may each take the last place, or each send a ticket into the same room.
 */
#ifndef WP_SCHED_ADMIT_H
#define WP_SCHED_ADMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "sched/queue.h"
#include "sched/sched.h"

typedef struct wp_sched_admit_cfg_s {
    bool queue;                       /* flow control: wait while saturated */
    uint32_t max_queue;               /* 1..WP_SCHED_QUEUE_MAX */
    double queue_timeout_s;           /* > 0 */
    wp_sched_saturation_t saturation; /* when an endpoint counts as having no room */
} wp_sched_admit_cfg_t;

typedef enum {
    WP_SCHED_ADMIT_SEND,        /* go on to the pick now */
    WP_SCHED_ADMIT_QUEUED,      /* waits; handed back by next() or expired() */
    WP_SCHED_ADMIT_SHED,        /* answer 429 (why: .shed) */
    WP_SCHED_ADMIT_UNAVAILABLE, /* no healthy endpoint of the role: answer 503 */
} wp_sched_admit_verdict_t;

typedef enum {
    WP_SCHED_SHED_QUEUE_FULL,      /* the queue was full and it did not outrank anyone */
    WP_SCHED_SHED_QUEUE_TIMEOUT,   /* it waited queue_timeout_s */
    WP_SCHED_SHED_EVICTED,         /* one of higher priority took its place */
    WP_SCHED_SHED_IN_FLIGHT_LIMIT, /* every endpoint at its limit, and no queue */
    WP_SCHED_SHED_NO_MEMORY,       /* the queue could not grow */
    WP_SCHED_SHED_KINDS
} wp_sched_shed_t;

/* A request's admission state. The caller fills priority, flow and ud; the rest is the
 * module's. */
typedef struct wp_sched_ticket_s {
    int64_t priority; /* lower first (vLLM's convention) */
    uint64_t flow;    /* fairness key, 0 = the default flow */
    void *ud;         /* the caller's request */
    double deadline;  /* set when first queued; 0 before */
    double queued_at; /* when it last joined the queue */
    uint64_t id;      /* in the queue, while queued */
    bool queued;
} wp_sched_ticket_t;

typedef struct wp_sched_admit_result_s {
    wp_sched_admit_verdict_t verdict;
    wp_sched_shed_t shed; /* with SHED */
    /* Non-NULL: this other ticket was displaced from the full queue; answer it 429
     * (evicted). It is no longer queued. */
    wp_sched_ticket_t *evicted;
    /* Queued over the bound of several queues: the queue holding the worst ticket (the
     * others' worst) is to evict one of a priority value above the newcomer's, evict_below. */
    bool evict_elsewhere;
    int64_t evict_below;
} wp_sched_admit_result_t;

/* What a queue holds, as the other queues see it. */
typedef struct wp_sched_admit_others_s {
    int64_t best;    /* the lowest priority value queued; INT64_MAX: none */
    int64_t worst;   /* the highest; INT64_MIN: none */
    uint32_t queued; /* tickets */
} wp_sched_admit_others_t;

#define WP_SCHED_ADMIT_NO_OTHERS ((wp_sched_admit_others_t){INT64_MAX, INT64_MIN, 0})

typedef struct wp_sched_admit_s wp_sched_admit_t;

/* The defaults: queue off, 1024 places, 30 s, saturation at queue depth 5 or KV 0.8 (the
 * reference endpoint picker's saturation detector). */
void wp_sched_admit_cfg_default(wp_sched_admit_cfg_t *cfg);
/* NULL with err on a bad config or no memory. The queue is allocated when first needed. */
wp_sched_admit_t *wp_sched_admit_new(const wp_sched_admit_cfg_t *cfg, wp_err_t *err);
/* A new config (a reload): queued tickets stay and drain as usual; with the queue now off
 * nothing joins it. WP_EINVAL on a bad bound, WP_ENOMEM. */
wp_status_t wp_sched_admit_configure(wp_sched_admit_t *a, const wp_sched_admit_cfg_t *cfg,
                                     wp_err_t *err);
/* Tickets still queued are the caller's: take them out with next() first if they own
 * memory. */
void wp_sched_admit_free(wp_sched_admit_t *a);
const wp_sched_admit_cfg_t *wp_sched_admit_cfg(const wp_sched_admit_t *a);

/* A request arrives for endpoints of `role` (s is read, not changed). */
wp_sched_admit_result_t wp_sched_admit_arrive(wp_sched_admit_t *a, const wp_sched_t *s, double now,
                                              wp_sched_role_t role, wp_sched_ticket_t *t);
/* Its pick found no candidate of `role`: wait again, shed, or unavailable. */
wp_sched_admit_result_t wp_sched_admit_no_room(wp_sched_admit_t *a, const wp_sched_t *s, double now,
                                               wp_sched_role_t role, wp_sched_ticket_t *t);

/* Starts a drain pass: how many tickets next() may hand out in it (those queued now). */
uint32_t wp_sched_admit_pass(const wp_sched_admit_t *a);
/* The next ticket to send, taken out of the queue, while some endpoint of `role` has room
 * (or none is healthy: its pick then answers 503); NULL otherwise or when empty. */
wp_sched_ticket_t *wp_sched_admit_next(wp_sched_admit_t *a, const wp_sched_t *s, double now,
                                       wp_sched_role_t role);
/* Hands the tickets that may go now to send(ud, ticket), each taken out of the queue, in
 * passes while the previous pass handed out any and a drain was asked for meanwhile. */
typedef void (*wp_sched_admit_send_fn)(void *ud, wp_sched_ticket_t *t);
void wp_sched_admit_drain(wp_sched_admit_t *a, const wp_sched_t *s, double now,
                          wp_sched_role_t role, wp_sched_admit_send_fn send, void *ud);
/* Holds drains back (they are noted, not run) until wp_sched_admit_unhold with what hold
 * returned: for answering requests (which asks for a drain) before the caller drains. */
bool wp_sched_admit_hold(wp_sched_admit_t *a);
void wp_sched_admit_unhold(wp_sched_admit_t *a, bool was);
/* A ticket whose deadline is at or before now, taken out of the queue and counted as shed
 * (queue_timeout); NULL when none. */
wp_sched_ticket_t *wp_sched_admit_expired(wp_sched_admit_t *a, double now);
/* The request ends while queued (client gone): take it out. No-op when not queued. */
void wp_sched_admit_forget(wp_sched_admit_t *a, wp_sched_ticket_t *t);

uint32_t wp_sched_admit_queued(const wp_sched_admit_t *a);
/* Several queues: what this one holds; what the others hold (WP_SCHED_ADMIT_NO_OTHERS, the
 * default, with one queue); while every queue together holds more than max_queue, the last
 * ticket in order when its priority value is above `priority`, taken out and counted as shed
 * (evicted), else NULL (sent, gone or outranking it meanwhile). */
wp_sched_admit_others_t wp_sched_admit_mine(const wp_sched_admit_t *a);
void wp_sched_admit_set_others(wp_sched_admit_t *a, wp_sched_admit_others_t others);
wp_sched_ticket_t *wp_sched_admit_evict_worse(wp_sched_admit_t *a, int64_t priority);
/* Requests shed for `why`, and requests that waited (each counted once). */
uint64_t wp_sched_admit_shed_count(const wp_sched_admit_t *a, wp_sched_shed_t why);
uint64_t wp_sched_admit_waited_count(const wp_sched_admit_t *a);
/* "queue_full", "queue_timeout", "evicted", "in_flight_limit", "no_memory". */
const char *wp_sched_shed_name(wp_sched_shed_t why);

#endif
