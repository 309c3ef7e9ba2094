/*
 * des/internal: what the simulator's two files share; not for callers outside src/des.
 *
 *   des.c      the loop, the client (pacing through workload/arrivals, the report) and the
 *              engines (engine/ stepped in virtual time, injected faults)
 *   gateway.c  the simulated gateway: admission, the P/D decision, the pick, retries and
 *              outlier detection through the sched/ cores, as gateway/ calls them live,
 *              and the decision log
 *
 * One des_t lives on wp_des_run's stack for a run; requests (dreq_t) come from its free
 * list and go back to it when they end. Every event carries the request it is about.
 */
#ifndef WP_DES_INTERNAL_H
#define WP_DES_INTERNAL_H

#include "base/rng.h"
#include "des/des.h"
#include "des/heap.h"
#include "fault/fault.h"
#include "sched/admit.h"
#include "sched/outlier.h"
#include "sched/wake.h"
#include "workload/arrivals.h"

enum {
    EV_SEND,
    EV_SEND_QUEUED,
    EV_PICK,
    EV_ADD,
    EV_STEP_END,
    EV_DONE,
    EV_SCRAPE,
    EV_RELEASE,
    EV_FAIL,
    EV_PREFILLED,
    EV_WOKE,
    EV_SPOT /* des/spot.c: a group's interruption, notice end or restart */
};

/* A request's phase: straight to one engine, or P/D prefill then decode. */
enum { PHASE_DIRECT, PHASE_PREFILL, PHASE_DECODE, PHASE_DECODE_LOCAL };

typedef struct dreq_s {
    uint64_t id;
    int gw; /* the gateway replica it goes through (d->scheds) */
    size_t stage;
    bool warmup; /* a warm-up request: paced, not in the report's metrics */
    int ep;
    double sent, first; /* client times */
    double last_token;  /* engine time of the last token */
    double *itl;
    size_t n_itl, cap_itl;
    int32_t *ids;
    int32_t n_ids, max_tokens;
    uint32_t prompt_tokens, output_tokens, cached;
    /* The prompt's block chain as far as the scheduler's horizon, hashed when the request is
     * pulled (owned, kept when the request is reused); its picks point into it. */
    uint64_t *hashes;
    size_t n_hashes, cap_hashes;
    /* With precise-prefix: the prompt's blocks as the engines hash them (wp_engine_hash_prompt,
     * what their KV events name), owned and kept like hashes. */
    uint64_t *kv_hashes;
    size_t n_kv, cap_kv;
    wp_sched_pick_t pick;
    int phase;
    int pf_ep;
    wp_sched_pick_t pf_pick;  /* P/D: the prefill engine's pick */
    wp_sched_ticket_t ticket; /* admission: its place in the gateway's waiting room */
    int attempts;             /* picks made for the current stage (retries: more than 1) */
    uint64_t tried[WP_SCHED_EXCLUDE_WORDS]; /* engines the current stage tried */
    int fail_status;                        /* an injected error's status (EV_FAIL) */
    bool kv_pulled;                         /* P/D: the decode stage pulled the prefilled KV */
    double held_at;                         /* scale-to-zero: when it was held (wake.c) */
    struct dreq_s *next_free;               /* the free list */
} dreq_t;

/* Engines that step together (engine/group.h): a plain engine is a group of one. */
typedef struct dgroup_s {
    wp_group_t *core;
    int first; /* its rank 0 in d->engines */
    int n;
    wp_group_step_t step;
    bool stepping;
} dgroup_t;

typedef struct engine_s {
    wp_engine_t *e; /* its group's engine of its rank */
    const wp_engine_config_t *cfg;
    int group;               /* in d->groups */
    bool faulty;             /* gets cfg->faults */
    wp_rng_t fault_rng;      /* seeded as `wellpath sim` seeds its replica of this index */
    uint64_t fault_requests; /* requests that drew */
} engine_t;

/* oracle.c: the best hit rate a workload allows (one unbounded cache, see oracle.c). */
typedef struct wp__des_oracle_s {
    uint64_t *slots;
    size_t cap, n;
    bool has_zero, failed;
    uint64_t hit_tokens, prompt_tokens; /* measured (not warm-up) requests */
} wp__des_oracle_t;

void wp__des_oracle_add(wp__des_oracle_t *o, const uint64_t *chain, size_t n,
                        uint32_t prompt_tokens, uint32_t block_tokens, bool measured);
void wp__des_oracle_free(wp__des_oracle_t *o);

typedef struct des_s {
    const wp_des_config_t *cfg;
    wp_workload_t *wl;
    wp_report_run_t *run;
    wp_sched_t *sched; /* scheds[0]: hashing, admission and what needs one view */
    wp_sched_t *scheds[WP_DES_MAX_GATEWAYS];
    int n_gw;
    wp_rng_t rng;
    wp_des_heap_t heap;
    engine_t *engines;
    dgroup_t *groups;
    int n_groups;
    wp_des_stats_t *stats;
    size_t total, done, in_flight;
    /* The client's pacing (workload/arrivals): when each request is sent. closed_loop: the
     * requests are closed loop, so the client keeps `concurrency` of them pulled and not
     * ended (pulled counts those). */
    wp_workload_pacer_t pacer;
    bool source_done, closed_loop;
    size_t concurrency, pulled;
    wp_des_progress_fn progress;
    void *ud;
    size_t next_progress;
    dreq_t *free_reqs;
    wp_status_t failure;
    wp_err_t *err;
    bool pd;                     /* two pools: prefill and decode */
    int n;                       /* engines */
    wp_sched_admit_t *admit;     /* admission and flow control's waiting room */
    wp_sched_outlier_t *outlier; /* outlier detection over the engines */
    /* The policy runs precise-prefix: the engines record KV events, applied to the
     * scheduler's KV view at the end of each step; requests carry kv_hashes of blocks of
     * kv_block tokens. */
    bool kv_events;
    int32_t kv_block;
    wp__des_oracle_t oracle;
    /* wake.c: scale-to-zero (sched/wake.h) and the requests held while the pool wakes */
    wp_sched_wake_t wake;
    dreq_t **held;
    size_t n_held, cap_held;
    struct wp__des_spot_s *spot; /* des/spot.c; NULL without spot interruptions */
} des_t;

/* The scheduler of the gateway replica q goes through. */
static inline wp_sched_t *wp__des_sched(const des_t *d, const dreq_t *q)
{
    return d->scheds[q->gw];
}

/* des.c */
void wp__des_push(des_t *d, double t, int type, int index, void *ptr);
/* The request ends at the client at client time t with outcome: recorded, its slot freed,
 * the next one pulled in a closed loop, q released. */
void wp__des_end(des_t *d, dreq_t *q, wp_report_outcome_t outcome, double t);
/* Back to the free list. */
void wp__des_release(des_t *d, dreq_t *q);

/* des.c: plans the next step of engine i's group when it has work and none is running
 * (also after blocks were freed: a release or an abort). */
void wp__des_plan_step(des_t *d, int i, double t);

/* wake.c: scale-to-zero. arrive: true when q goes on; false when held (or, *rejected, to
 * be answered 503: the hold is full). tick (each scrape): timeouts answered with timeout(),
 * sleep, wake, release. woke: EV_WOKE, the pool is awake, the held go on. */
void wp__des_wake_setup(des_t *d);
void wp__des_wake_free(des_t *d);
bool wp__des_wake_arrive(des_t *d, double t, dreq_t *q, bool *rejected);
void wp__des_wake_tick(des_t *d, double t, void (*timeout)(des_t *, double, dreq_t *));
void wp__des_wake_woke(des_t *d, double t);

/* gateway.c */
wp_status_t wp__des_gw_setup(des_t *d, wp_err_t *err);
void wp__des_gw_teardown(des_t *d);
/* EV_PICK: the request reaches the gateway (first, or for its decode stage). */
void wp__des_gw_arrive(des_t *d, double t, dreq_t *q);
/* EV_DONE: the gateway sees q end well on its engine (q->ep, q->pick); the caller then
 * releases q, which the client has already recorded. */
void wp__des_gw_done(des_t *d, double t, dreq_t *q);
/* EV_FAIL: engine ep answered q with q->fail_status before any byte. */
void wp__des_gw_failed(des_t *d, double t, dreq_t *q, int ep);
/* EV_PREFILLED: q's prefill engine answered 200; its decode stage starts. */
void wp__des_gw_prefilled(des_t *d, double t, dreq_t *q);
/* EV_SCRAPE, after the metrics: ejections that end, deadlines that pass, the queue. */
void wp__des_gw_tick(des_t *d, double t);

/* spot.c: checks cfg->spot and schedules the interruptions from t=0 (none at rate 0; at
 * set-up, before any request); EV_SPOT for group gi; a step
 * of group gi of duration_s (busy GPU-seconds); at the end, up GPU-seconds and down time
 * into the stats; free. */
wp_status_t wp__des_spot_start(des_t *d, wp_err_t *err);
void wp__des_spot_event(des_t *d, double t, int gi);
void wp__des_spot_busy(des_t *d, int gi, double duration_s);
void wp__des_spot_finish(des_t *d);
void wp__des_spot_free(des_t *d);

#endif
