/*
 * bench/load: the load generator of `wellpath bench`. It issues streaming completion
 * requests to one OpenAI-compatible target at the times a source gives, measures each
 * from the stream as it arrives (TTFT, every inter-token gap, end to end) and hands one
 * result per request to a sink.
 *
 * The source is pulled one item ahead and paced by workload/arrivals (the pacer des/
 * uses too): an item with arrival_s >= 0 is sent when the run's clock reaches it (open
 * loop); an item with arrival_s < 0 is sent as soon as fewer than `concurrency` requests
 * are in flight (closed loop). With max_concurrency, an item that is due waits until fewer
 * than that many are in flight (first come, first served; it bounds a closed loop too).
 * With sequential stages, a stage's first item waits until every request of the stage
 * before has ended, plus interval_s. Items marked warmup (the workload's first ones) are
 * paced alike and their results say so (the report keeps them out of its metrics); the
 * first measured item waits until every warm-up request has ended, and with warmup_done
 * set the run pauses there until the caller resumes it (to read the target's counters
 * between the warm-up and the measured run). A request counts one output token per content
 * chunk and takes the usage chunk's numbers as the truth for token counts (include_usage
 * is always asked for).
 *
 * Ownership: the caller owns config, source and sink state; the run owns its requests.
 * wp_bench_load_stop may be called at any time (Ctrl-C): no new request starts, the
 * ones in flight are cancelled and reported as aborted, then on_done runs once.
 */
#ifndef WP_BENCH_LOAD_H
#define WP_BENCH_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "api/openai.h"
#include "base/err.h"
#include "report/report.h"

typedef struct wp_bench_item_s {
    double arrival_s; /* from the start of the run; < 0: closed loop */
    int stage;
    double stage_start_s; /* nominal start of its stage (sequential stages shift from it) */
    bool warmup;          /* a warm-up request (the first ones of a workload) */
    const char *prompt;   /* valid until the next pull */
    size_t prompt_len;
    int max_tokens;
} wp_bench_item_t;

/* One finished request: the report's record plus what only the shell knows. */
typedef struct wp_bench_result_s {
    wp_report_result_t r;
    int http_status;
    const char *error; /* "" when ok */
} wp_bench_result_t;

/* Returns WP_OK with the next item, WP_ENOTFOUND at the end, another status on error. */
typedef wp_status_t (*wp_bench_source_fn)(void *ud, wp_bench_item_t *out, wp_err_t *err);
typedef void (*wp_bench_sink_fn)(void *ud, const wp_bench_result_t *r);
/* status WP_OK: the source ran out and every request ended; otherwise why the run stopped. */
typedef void (*wp_bench_done_fn)(void *ud, wp_status_t status, const char *why);

#define WP_BENCH_MAX_PORTS 16

typedef struct wp_bench_load_config_s {
    char host[256];
    int port;
    /* More gateways on the same host (replicas of one deployment): requests go to port and
     * these in turn, as a Service spreads clients over its pods. */
    int more_ports[WP_BENCH_MAX_PORTS - 1];
    int n_more_ports;
    char base_path[256];
    char model[256];
    wp_api_kind_t api;
    int concurrency;     /* closed loop: requests in flight at most */
    int max_concurrency; /* a due request waits while this many are in flight (0: no cap) */
    /* inference-perf's sequential stages: a stage's first request waits until every request
     * of the previous stage ended, plus interval_s; its requests keep their offsets. */
    bool sequential;
    double interval_s;
    double timeout_s;  /* per request: first byte and between chunks */
    bool progress;     /* a live line on stderr */
    const char *label; /* shown in the progress line (policy name) */
    /* Called (with the start's ud) once every warm-up request has ended, before the first
     * measured one is sent; the run waits for wp_bench_load_resume, and the measured run
     * starts then. NULL: it starts at once. */
    void (*warmup_done)(void *ud);
} wp_bench_load_config_t;

typedef struct wp_bench_load_s wp_bench_load_t;

wp_bench_load_t *wp_bench_load_start(uv_loop_t *loop, const wp_bench_load_config_t *cfg,
                                     wp_bench_source_fn source, wp_bench_sink_fn sink,
                                     wp_bench_done_fn done, void *ud, wp_err_t *err);
void wp_bench_load_stop(wp_bench_load_t *l);
/* Starts the measured run of a run paused after its warm-up (warmup_done); nothing when it
 * is not paused (or was stopped). */
void wp_bench_load_resume(wp_bench_load_t *l);
/* Frees the run after on_done has been called (run the loop to let handles close). */
void wp_bench_load_free(wp_bench_load_t *l);

#endif
