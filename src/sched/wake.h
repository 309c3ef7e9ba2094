/*
 * sched/wake: scale-to-zero of one pool, as a state machine the gateway shell
 * (gateway/wake.c) drives with real events and carries out.
 *
 * States: AWAKE (requests go on to admission), ASLEEP (the shell put every endpoint to
 * sleep: POST /sleep), WAKING (the shell sent POST /wake_up and waits for an answer).
 * A request that arrives while the pool cannot serve it -- asleep, waking, or with no
 * healthy endpoint at all (replicas 0, or none answering yet) -- is held in a bounded
 * queue (max_queue) for at most wake_timeout_s; the held count is the pool's demand, the
 * number an autoscaler scales on. Held requests are released once the pool is AWAKE and
 * `ready` (a healthy endpoint); they then go through admission as if they had just come.
 *
 * Idle: no request in flight or held since idle_after_s. An idle, ready, awake pool with
 * scale-to-zero on goes to sleep. A failed wake-up falls back to ASLEEP; the next tick
 * with requests held wakes again.
 *
 * Several workers (gateway.workers): one machine leads, worker 0's. It hears what the others
 * hold and when they last saw a request (wp_sched_wake_elsewhere) and counts their requests in
 * flight in its tick's `in_flight`, so it sleeps a pool idle on every worker and wakes one
 * that any worker holds requests for. Each other worker keeps a follower: it holds arrivals
 * by the leader's state, copied at each change (wp_sched_wake_follow), asks the leader to wake
 * (a HOLD_WAKE verdict of wp_sched_wake_follower_arrive is its cue), and releases what it
 * holds once the state is AWAKE and the pool ready (wp_sched_wake_follower_release); it never
 * changes the state or the counters itself.
 *
 * Invariants: held <= max_queue (each worker's own); the leader's state is AWAKE whenever
 * cfg.enabled is false (then no request is ever held: every arrival passes, as without this
 * module).
 * Pure: time comes in as `now` (seconds); no I/O, no clock, no globals. The struct is the
 * caller's (embedded, no allocation).
 */
#ifndef WP_SCHED_WAKE_H
#define WP_SCHED_WAKE_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    WP_SCHED_WAKE_AWAKE,
    WP_SCHED_WAKE_ASLEEP,
    WP_SCHED_WAKE_WAKING
} wp_sched_wake_state_t;

/* What an arrival gets. */
typedef enum {
    WP_SCHED_WAKE_PASS,      /* go on to admission now */
    WP_SCHED_WAKE_HOLD,      /* held until the pool is ready */
    WP_SCHED_WAKE_HOLD_WAKE, /* held; the shell sends POST /wake_up to every endpoint */
    WP_SCHED_WAKE_FULL       /* the hold queue is full: 503 with Retry-After */
} wp_sched_wake_verdict_t;

/* What a tick asks of the shell. */
typedef enum {
    WP_SCHED_WAKE_NOTHING,
    WP_SCHED_WAKE_SLEEP,  /* POST /sleep?level=N to every endpoint */
    WP_SCHED_WAKE_WAKE,   /* POST /wake_up to every endpoint */
    WP_SCHED_WAKE_RELEASE /* dispatch every held request */
} wp_sched_wake_action_t;

typedef struct wp_sched_wake_cfg_s {
    bool enabled;          /* sleep an idle pool (holding and demand work without it too) */
    bool hold;             /* hold requests while nothing can serve them (else they pass) */
    double idle_after_s;   /* > 0 */
    double wake_timeout_s; /* a held request waits at most this long */
    uint32_t max_queue;    /* held requests at most (>= 1) */
    int level;             /* vLLM sleep level, 1 or 2 */
} wp_sched_wake_cfg_t;

typedef struct wp_sched_wake_s {
    wp_sched_wake_cfg_t cfg;
    wp_sched_wake_state_t state;
    double last_busy;   /* the last time a request was in flight, held or arrived */
    double state_since; /* when the state was entered */
    uint32_t held;
    uint32_t held_elsewhere; /* the leader: requests the other workers hold */
    double asleep_s;         /* seconds spent ASLEEP or WAKING, the current stretch excluded */
    uint64_t sleeps, wakes, wake_failures, sleep_refusals;
} wp_sched_wake_t;

void wp_sched_wake_init(wp_sched_wake_t *w, const wp_sched_wake_cfg_t *cfg, double now);
/* A new configuration (reload): turning it off wakes nothing but lets arrivals pass; turning
 * it on starts the idle time at now. */
void wp_sched_wake_configure(wp_sched_wake_t *w, const wp_sched_wake_cfg_t *cfg, double now);
/* A request arrives; ready: the pool has a healthy endpoint. HOLD and HOLD_WAKE count it
 * in held (the shell calls wp_sched_wake_leave when it leaves the hold). */
wp_sched_wake_verdict_t wp_sched_wake_arrive(wp_sched_wake_t *w, double now, bool ready);
/* A held request left the hold (released, timed out, client gone). */
void wp_sched_wake_leave(wp_sched_wake_t *w);
/* Whether a request held at held_at has waited past the timeout. */
bool wp_sched_wake_expired(const wp_sched_wake_t *w, double held_at, double now);
/* Each tick: in_flight = requests accepted and not yet answered (held ones excluded).
 * SLEEP and WAKE move the state (ASLEEP, WAKING) before returning. */
wp_sched_wake_action_t wp_sched_wake_tick(wp_sched_wake_t *w, double now, uint64_t in_flight,
                                          bool ready);
/* An endpoint answered POST /wake_up: ok true (2xx) makes the pool AWAKE; false while
 * WAKING falls back to ASLEEP (woken again at the next tick with requests held). */
void wp_sched_wake_woke(wp_sched_wake_t *w, double now, bool ok);
/* Every endpoint refused POST /sleep (a server without sleep mode: vLLM needs
 * --enable-sleep-mode and VLLM_SERVER_DEV_MODE=1): an ASLEEP pool is AWAKE again, and the
 * idle time starts over. */
void wp_sched_wake_sleep_refused(wp_sched_wake_t *w, double now);
/* The leader: the other workers hold `held` requests and last saw one at last_busy. */
void wp_sched_wake_elsewhere(wp_sched_wake_t *w, uint32_t held, double last_busy);
/* A follower's arrival: as wp_sched_wake_arrive, but the state and counters stay the leader's
 * (HOLD_WAKE: ask the leader to wake the pool). */
wp_sched_wake_verdict_t wp_sched_wake_follower_arrive(wp_sched_wake_t *w, double now, bool ready);
/* A follower takes the leader's state and counters (its own config, held and idle time stay). */
void wp_sched_wake_follow(wp_sched_wake_t *w, const wp_sched_wake_t *leader);
/* A follower's tick: true when what it holds may go now (AWAKE and ready). */
bool wp_sched_wake_follower_release(const wp_sched_wake_t *w, bool ready);
/* Seconds the pool has slept so far (the current stretch included). */
double wp_sched_wake_asleep_seconds(const wp_sched_wake_t *w, double now);
const char *wp_sched_wake_state_name(wp_sched_wake_state_t s);

#endif
