/*
 * des: the whole cluster in virtual time. A discrete-event loop drives N engine/ cores
 * and the sched/ core with the requests of a workload/ generator, and records every
 * request in a report/ run, the same record `wellpath bench` makes live.
 *
 * The scheduler sees what the live gateway sees: its own in-flight counts at once, and
 * each engine's waiting / running / KV usage only as of the last scrape (every
 * scrape_interval_s). Requests travel client -> gateway -> engine and tokens back with
 * fixed one-way latencies. An engine steps as the simulator's replicas do: a step is
 * planned at t, its tokens are seen at t + its duration, then the next is planned. No
 * code of sched/ or engine/ knows it runs in a simulation.
 *
 * The gateway's admission is the live one's: an in-flight limit per endpoint (a request
 * that finds every endpoint at it gets 429), and with flow control a waiting room in
 * sched/queue's order while every endpoint is saturated (wp_sched_room with the same
 * thresholds), drained when a request ends or a scrape brings fresh metrics; a request
 * that finds the queue full, or waits longer than the queue timeout, gets 429. A P/D
 * request whose decode pick finds every decode engine at its limit waits again, its
 * prefilled KV held (gateway/flow.c).
 *
 * The client follows the workload's load as `wellpath bench` does, through the same
 * pacing core (workload/arrivals.h): open loop at the arrival times, closed loop, a cap on
 * requests in flight (load.max_concurrency), or inference-perf's sequential stages
 * (load.sequential): a stage's requests keep their offsets into the stage, and the stage
 * starts load.interval seconds after the last request of the previous one ended. With
 * load.warmup the first requests are warm-ups, paced alike and recorded as such (the
 * report leaves them out of its metrics); the measured requests start when the last
 * warm-up ended.
 *
 * Deterministic: no clock, no global state; the same config, seed and workload give the
 * same events in the same order. Ownership: the caller owns config, workload and report
 * run; wp_des_run allocates what it needs and frees it before returning. cfg->engine.perf
 * is borrowed.
 */
#ifndef WP_DES_DES_H
#define WP_DES_DES_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/engine.h"
#include "engine/group.h"
#include "report/report.h"
#include "fault/fault.h"
#include "sched/admit.h"
#include "sched/decision.h"
#include "sched/outlier.h"
#include "sched/queue.h"
#include "sched/sched.h"
#include "sched/wake.h"
#include "workload/workload.h"

#define WP_DES_MAX_ENGINES 1024
#define WP_DES_MAX_GATEWAYS 16

/* P/D: the engines of a prefill pool and of a decode pool (each with its own config). */
typedef struct wp_des_pool_s {
    int n;
    wp_engine_config_t engine; /* perf borrowed */
    wp_sched_role_t role;
    /* Wide-EP: the pool's engines are groups of `ranks` consecutive ones that step in lock
     * step (engine/group.h) for ep's step time; ranks 0 or 1: plain engines. n must be a
     * multiple of ranks; ep borrowed. Each rank is an endpoint of the scheduler, tagged
     * with its group. */
    int ranks;
    const wp_ep_t *ep;
} wp_des_pool_t;

/* Spot capacity (des/spot.c): every engine group is interrupted at random, a Poisson
 * process of interruptions_per_hour per group (0: on-demand, none); the gateway takes it out
 * of the pool at the notice, it restarts empty once the notice ends and its streams are
 * done, and is back restart_s later. */
typedef struct wp_des_spot_s {
    double interruptions_per_hour;
    double notice_s;  /* AWS gives 120 s, GCP 30 s */
    double restart_s; /* down (not billed) until back in the pool */
} wp_des_spot_t;

typedef struct wp_des_config_s {
    int n_engines;
    wp_engine_config_t engine; /* every engine's config (perf borrowed) */
    int ranks;                 /* wide-EP groups of the single pool, as wp_des_pool_t's */
    const wp_ep_t *ep;         /* borrowed */
    /* P/D instead: when n_pools is 2, pools[0] is the prefill pool and pools[1] the decode
     * pool (n_engines and engine are then ignored). A request is disaggregated when its
     * prompt and its uncached part on the decode engine the scheduler would pick both reach
     * pd_threshold tokens: prefilled (max_tokens 1, held) on a prefill engine, its KV pulled
     * over the link (bytes / kv_link_bw + kv_link_latency_s), decoded on a decode engine. */
    wp_des_pool_t pools[2];
    int n_pools;
    int pd_threshold;
    double kv_link_bw; /* bytes/s */
    double kv_link_latency_s;
    wp_sched_config_t sched;
    const char *model;        /* the model name requests carry (prefix hash seed) */
    uint32_t vocab;           /* token ids of the prompts */
    double scrape_interval_s; /* 0.05 */
    double client_latency_s;  /* one way, client <-> gateway */
    double engine_latency_s;  /* one way, gateway <-> engine */
    uint64_t seed;            /* the scheduler's tie-breaking */
    /* The gateway's admission (gateway.maxInFlightPerEndpoint, gateway.flowControl). */
    uint32_t max_in_flight;     /* per endpoint, 0 = none */
    wp_sched_admit_cfg_t admit; /* flow control: queue while saturated (sched/admit.h) */
    /* The decision log (sched/decision.h): called with each decision the simulated
     * gateway takes, at its virtual time; NULL = off. Requests are named "r<n>" (n from 1,
     * in arrival order), engines as the scheduler names them ("engine-0", "prefill-0"). */
    void (*decision)(void *ud, double t, const wp_sched_decision_t *d);
    void *decision_ud;
    /* Failures, as the gateway meets them: engines whose bit is set in fault_replicas
     * (default all; replica k of its pool is bit k, the first 64) draw `faults` for every
     * request as `wellpath sim --fault` does for its replica k with this seed; only the error kinds
     * (429, 500, 503, context-length) are simulated. A failed attempt is retried on another
     * engine (`retries`, default 2) as sched/retry says, and outlier detection
     * (sched/outlier; the gateway's defaults) ejects an engine that keeps failing. */
    wp_fault_set_t faults;
    uint64_t fault_replicas;
    int retries;
    wp_sched_outlier_cfg_t outlier;
    /* Gateway replicas over the one pool (gateway.replicas), 1..WP_DES_MAX_GATEWAYS (0 reads
     * as 1): requests go to them in turn, as a Service spreads clients; each has its own
     * scheduler (its requests in flight, its prefix index), all get every scrape and every
     * engine's KV events. share_routes: each tells the others where it routed a prompt's
     * blocks (wp_sched_learn_route), at once. More than one gateway with flow control
     * (admit.queue) is refused: the waiting room is one gateway's. */
    int gateways;
    bool share_routes;
    /* Scale-to-zero (gateway.scaleToZero, sched/wake.h): an idle pool sleeps, a request that
     * finds it asleep is held while it wakes, which takes wake_s (model/sleep.h). Off when
     * wake.enabled is false. */
    wp_sched_wake_cfg_t wake;
    double wake_s;
    wp_des_spot_t spot;
} wp_des_config_t;

typedef struct wp_des_stats_s {
    uint64_t events;   /* events processed by the loop */
    uint64_t steps;    /* engine steps (a group's step counts once per rank: each steps) */
    uint64_t requests; /* requests issued */
    uint64_t completed, failed;
    double end_s;         /* virtual time at the end */
    uint64_t scheduled;   /* requests run, summed over steps (scheduled / steps = mean batch) */
    uint64_t preemptions; /* summed over engines */
    uint64_t picks[WP_DES_MAX_ENGINES > 64 ? 64 : WP_DES_MAX_ENGINES]; /* first 64 engines */
    uint64_t disaggregated;   /* P/D: requests prefilled on a prefill engine */
    double kv_bytes_moved;    /* P/D: KV pulled from prefill to decode engines */
    uint64_t queued;          /* flow control: requests that waited at the gateway (once each) */
    uint64_t shed;            /* answered 429 by the gateway (queue full, timeout, limit) */
    uint64_t faults_injected; /* engine answers that were injected errors */
    /* The oracle (des/oracle.c): prompt tokens of the measured requests that one unbounded
     * cache shared by all engines would have hit, and their prompt tokens; with the
     * requests' cached tokens against the same prompt tokens, the hit rate beside the best
     * any policy could reach. oracle_failed: out of memory, the figures are partial. */
    uint64_t oracle_hit_tokens, oracle_prompt_tokens, cached_tokens;
    bool oracle_failed;
    /* Scale-to-zero: seconds the pool slept (asleep or waking), times it slept and woke,
     * requests held for a wake-up. */
    double asleep_s;
    uint64_t sleeps, wakes, held_for_wake;
    /* For the cost report (report/cost.h): GPU-seconds the engines were up (billed) and
     * ran steps; with spot, the interruptions, the groups' down time (s), and notices that
     * ended with work still running (des waited for it: see des/spot.c). */
    double up_gpu_s, busy_gpu_s;
    uint64_t interruptions, spot_overruns;
    double down_s;
} wp_des_stats_t;

/* Called now and then with requests finished so far and the total. */
typedef void (*wp_des_progress_fn)(void *ud, size_t done, size_t total);

void wp_des_config_default(wp_des_config_t *cfg);
wp_status_t wp_des_run(const wp_des_config_t *cfg, wp_workload_t *wl, wp_report_run_t *run,
                       wp_des_progress_fn progress, void *ud, wp_des_stats_t *stats, wp_err_t *err);

#endif
