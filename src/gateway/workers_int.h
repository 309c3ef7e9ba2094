/*
 * gateway/workers_int: what workers.c (the workers, their messages, their threads) and
 * workers_ask.c (requests that wait for the other workers: /metrics and /status summed, the
 * admin API relayed to worker 0) share. Not a public interface; see workers.c for the design.
 */
#ifndef WP_GATEWAY_WORKERS_INT_H
#define WP_GATEWAY_WORKERS_INT_H

#include <stdatomic.h>

#include "gateway/internal.h"
#include "gateway/mailbox.h"

typedef enum {
    HUB_LOAD,        /* a request's event on endpoint `name` (a: gw_load_t), to all */
    HUB_SCRAPE_SENT, /* worker 0 sent `name` a scrape, to all */
    HUB_CHECK,       /* worker 0's check result (a: gw_check_kind_t; payload), to all */
    HUB_OUTLIER,     /* a proxied request's verdict on `name` (a: fault), to all */
    HUB_HEALTH_NOW,  /* to worker 0: check `name`'s health now */
    HUB_RELOAD,      /* worker 0's new config (payload), to all */
    HUB_SOURCES,     /* worker 0's discovery sources (payload, a of them), to all */
    HUB_DRAIN,       /* worker 0 drains: so does the receiver */
    HUB_DRAINED,     /* to worker 0: the sender has drained (a: connections cut) */
    HUB_SNAP_ASK,    /* the sender's gather (ref) asks for the receiver's counters */
    HUB_SNAP,        /* ... and gets them (payload: a snap_t) */
    HUB_ADMIN,       /* to worker 0: run admin op a (relay ref) */
    HUB_ADMIN_DONE,  /* its answer: a = HTTP status, payload = the message */
    HUB_QUEUE,       /* the sender's best queued priority got worse: the receiver may go */
    HUB_EVICT,       /* evict a queued request of a priority value above `priority` */
    HUB_ROUTE,       /* worker 0 learned a peer replica's route to `name` (payload: chain) */
    HUB_WAKE,        /* to worker 0: the sender holds requests for a sleeping pool */
    HUB_WAKE_STATE,  /* worker 0's scale-to-zero state (payload: its wp_sched_wake_t) */
} hub_kind_t;

typedef struct hub_msg_s {
    hub_kind_t kind;
    int from;
    int a;
    int index; /* the endpoint's index in the sender's current generation (the receiver's
                  too, while both run the same config: found at once), -1: none */
    char name[64];
    /* HUB_LOAD: the pick's numbers (payload: its block chain, n_blocks hashes) */
    uint32_t n_blocks;
    double prompt_tokens, prefill_tokens;
    int64_t priority; /* HUB_EVICT */
    void *payload;    /* owned (freed by drop_msg) */
    void *ref;        /* the sender's, sent back as it came */
} hub_msg_t;

/* One worker's counters, for another's /metrics or /status. */
typedef struct snap_s {
    gw_tally_t tally;
    int n;
    char (*names)[64];
    gw_ep_counts_t *counts;
} snap_t;

struct hub_worker_s;

/* A request waiting for the other workers: /metrics or /status for their counters, or an
 * admin reload relayed to worker 0. */
typedef enum { ASK_METRICS, ASK_STATUS, ASK_RELOAD } ask_t;

typedef struct pending_s {
    struct pending_s *next;
    struct hub_worker_s *w;
    wp_http_req_t *req; /* NULL once the client went away */
    ask_t ask;
    int waiting;
    snap_t *snaps[WP_GATEWAY_MAX_WORKERS];
    int n_snaps;
} pending_t;

typedef struct hub_worker_s {
    struct gw_hub_s *hub;
    int index;
    wp_gateway_t *gw;
    uv_loop_t own_loop; /* workers 1..N-1 */
    uv_loop_t *loop;
    uv_thread_t thread;
    bool running; /* its thread is started (workers 1..N-1) */
    wp_gw_mailbox_t box;
    bool box_ok;
    wp_gw_outbox_t *out; /* out[j]: to worker j (not to itself); on its loop */
    bool out_ok;
    pending_t *pending;
    /* What its flow-control queue holds (wp_sched_admit_others_t's fields): written by its
     * own loop, read by the others' (flow.c; sched/admit.h, "Several queues"). Sequentially
     * consistent: a worker that publishes and then reads the others, as each does, sees what
     * another published before it read (no lost "look again"). On a cache line of their own. */
    _Alignas(64) _Atomic int64_t q_best;
    _Atomic int64_t q_worst;
    _Atomic uint32_t q_len;
    /* Scale-to-zero (wake.c), workers 1..N-1 for worker 0: requests held and in flight, and
     * when it last saw one (ms of the loops' clock). On the next cache line. */
    _Alignas(64) _Atomic uint64_t s2z_in_flight;
    _Atomic uint64_t s2z_last_ms;
    _Atomic uint32_t s2z_held;
    char s2z_pad[64 - 2 * sizeof(uint64_t) - sizeof(uint32_t)];
    wp_status_t start_st;
    char start_err[sizeof(((wp_err_t *)0)->msg)];
} hub_worker_t;

typedef struct gw_hub_s {
    int n;
    hub_worker_t *w;
    wp_gateway_config_t *cfg; /* the others' start config */
    uv_sem_t ready;
    /* worker 0's drain: the caller's callback once every worker has drained */
    wp_gateway_drained_fn on_drained;
    void *drained_ud;
    int drain_left, drain_cut;
    int closing; /* worker 0's handles still closing at the end: the hub goes with the last */
    /* The pool's policy turn (round-robin's), one per role, for every worker's scheduler of
     * every generation: a pick claims it with a compare-and-swap. On a cache line of its own. */
    _Alignas(64) _Atomic uint32_t turns[WP_SCHED_ROLE_DECODE + 1];
} gw_hub_t;

/* workers.c */
hub_worker_t *wp__gw_hub_me(const wp_gateway_t *gw);
/* Sends m (its payload with it) to worker `to`; false (m dropped) when out of memory. */
bool wp__gw_hub_post(hub_worker_t *w, int to, hub_msg_t *m);
/* Sends a copy of m, with a copy of its payload (len bytes), to every other worker; returns
 * how many it reached. */
int wp__gw_hub_broadcast(hub_worker_t *w, const hub_msg_t *m, size_t len);
/* The current generation's endpoint of that name (at index when it is there), or NULL. */
gw_endpoint_t *wp__gw_hub_find(wp_gateway_t *gw, const char *name, int index);
void wp__gw_hub_snap_free(snap_t *s);

/* workers_ask.c: the messages of waiting requests, handled on their receiver's loop */
void wp__gw_hub_snap_answer(hub_worker_t *w, const hub_msg_t *m); /* HUB_SNAP_ASK */
void wp__gw_hub_snap_take(hub_msg_t *m);                          /* HUB_SNAP */
void wp__gw_hub_admin_run(hub_worker_t *w, const hub_msg_t *m);   /* HUB_ADMIN */
void wp__gw_hub_admin_done(hub_msg_t *m);                         /* HUB_ADMIN_DONE */
/* The worker stops: its waiting requests get 503. */
void wp__gw_hub_pending_end(hub_worker_t *w);

#endif
