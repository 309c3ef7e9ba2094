/*
 * report: per-request benchmark results turned into the bench/simulate report (pure core).
 *
 * A wp_report_t holds one run per scheduling policy; a run holds the stages it was driven
 * through ({rate, duration_s} as configured) and one record per finished request, added
 * with wp_report_add. A warm-up request (load.warmup, sent before the measured run) is
 * only counted: how many, how many failed, and when the last one ended; it is in no
 * metric. From the records it computes the metrics M of docs/reference.md §9 per stage and
 * for the whole run, and writes them as JSON (the `--json` shape of issue 3, byte-identical
 * for identical inputs), as a plain-text table for stdout, and as one self-contained HTML
 * page (inline CSS and SVG, no scripts, no external assets).
 *
 * Definitions (also in metrics.c):
 * - Latency metrics (TTFT, ITL, TPOT, E2E) and token counts use completed requests only.
 *   ITL pools every inter-token gap of every completed request (the mean counts gaps past
 *   the sample cap too; percentiles use the kept samples); TPOT is
 *   (E2E - TTFT) / (output_tokens - 1) for completed requests with >= 2 output tokens.
 * - Rates divide by the measured span of the scope: from the earliest start to the latest
 *   end (start + E2E) of all its requests, failed ones included. A stage's configured
 *   duration is reported beside it but not used. Rates are null when the span is <= 0.
 * - requests_per_s counts completed requests; total tokens = prompt + output tokens.
 * - cache_hit_rate = sum(cached_tokens) / sum(prompt_tokens) over completed requests.
 * - goodput_requests_per_s: completed requests meeting every SLO set, per second. A request
 *   meets the ITL SLO when the mean of its own gaps is <= the bound (no gaps: met), the TPOT
 *   SLO likewise (fewer than 2 output tokens: met). With no SLO set it equals requests_per_s.
 * - Undefined numbers (no samples, no prompt tokens) are NaN in structs and null in JSON.
 *
 * Invariants (wp_report_validate): every record's stage < the run's stage count and its
 * outcome is valid; cached <= prompt tokens; times finite and >= 0; ITL samples held by a
 * run <= its limit and equal to the per-stage totals.
 *
 * Memory: the caller owns the wp_report_t (wp_report_create / wp_report_free); the report
 * owns its runs, their records and samples, the policy names and the workload JSON (all
 * copied). Run pointers stay valid until wp_report_free. Records and ITL samples are capped
 * (wp_report_limits_t); ITL gaps past the cap (or on allocation failure) are dropped and
 * counted. Metrics and writers
 * sort stored samples in place (hence non-const); do not call them concurrently with adds.
 */
#ifndef WP_REPORT_REPORT_H
#define WP_REPORT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

struct cJSON;

typedef struct wp_report_s wp_report_t;
typedef struct wp_report_run_s wp_report_run_t;

/* How a request ended. WP_REPORT_OK is a completed request; the others are failure kinds. */
typedef enum {
    WP_REPORT_OK = 0,
    WP_REPORT_HTTP_4XX,
    WP_REPORT_HTTP_5XX,
    WP_REPORT_CONNECT,
    WP_REPORT_TIMEOUT,
    WP_REPORT_STREAM_ERROR,
    WP_REPORT_BAD_RESPONSE,
    WP_REPORT_ABORTED,
    WP_REPORT_OUTCOME_COUNT
} wp_report_outcome_t;

/* "ok", "http_4xx", "http_5xx", "connect", "timeout", "stream_error", "bad_response",
 * "aborted"; "?" for an out-of-range value. */
const char *wp_report_outcome_name(wp_report_outcome_t o);

typedef enum { WP_REPORT_MODE_BENCH = 0, WP_REPORT_MODE_SIMULATE } wp_report_mode_t;

/* One stage as configured. NaN rate (closed-loop, trace) or duration is written as null. */
typedef struct wp_report_stage_s {
    double rate;       /* requests per second */
    double duration_s; /* configured length */
} wp_report_stage_t;

/* One finished request. Times are seconds; start_s counts from the run's start. */
typedef struct wp_report_result_s {
    size_t stage;                /* index into the run's stages */
    bool warmup;                 /* a warm-up request: counted apart, in no metric */
    wp_report_outcome_t outcome; /* WP_REPORT_OK or a failure kind */
    double start_s;              /* when the request was sent */
    double ttft_s;               /* first token; required when OK, NaN allowed on failure */
    double e2e_s;                /* start to last byte (or to the failure); required */
    uint32_t prompt_tokens;      /* usage.prompt_tokens */
    uint32_t output_tokens;      /* usage.completion_tokens */
    uint32_t cached_tokens;      /* usage.prompt_tokens_details.cached_tokens, <= prompt */
    const double *itl_s;         /* n_itl gaps between streamed tokens (borrowed, copied) */
    size_t n_itl;
} wp_report_result_t;

/* Service-level objectives in seconds; INFINITY means "not set". */
typedef struct wp_report_slo_s {
    double ttft_s;
    double itl_s; /* bound on a request's mean ITL */
    double tpot_s;
    double e2e_s;
} wp_report_slo_t;

/* 0 means the default. */
typedef struct wp_report_limits_s {
    size_t max_requests;    /* records per run; default WP_REPORT_DEFAULT_MAX_REQUESTS */
    size_t max_itl_samples; /* ITL gaps per run; default WP_REPORT_DEFAULT_MAX_ITL_SAMPLES */
} wp_report_limits_t;

#define WP_REPORT_DEFAULT_MAX_REQUESTS ((size_t)1 << 22)
/* 64M gaps (512 MiB at most, allocated as they come): the ladder at twice its length
 * (34M gaps) keeps every one, so every stage's percentiles see all its gaps. */
#define WP_REPORT_DEFAULT_MAX_ITL_SAMPLES ((size_t)1 << 26)
#define WP_REPORT_MAX_RUNS 64
#define WP_REPORT_MAX_STAGES 1024
#define WP_REPORT_MAX_POLICY_LEN 128
/* Stage argument meaning "the whole run". */
#define WP_REPORT_SUMMARY ((size_t)-1)

typedef struct wp_report_dist_s {
    double mean, p50, p90, p95, p99; /* NaN when there are no samples */
} wp_report_dist_t;

typedef struct wp_report_metrics_s {
    uint64_t requests;
    uint64_t completed;
    uint64_t failed;
    uint64_t failures[WP_REPORT_OUTCOME_COUNT]; /* per kind; failures[WP_REPORT_OK] is 0 */
    wp_report_dist_t ttft_s, itl_s, tpot_s, e2e_s;
    /* Each completed stream's largest gap between tokens, over the streams (a starved
     * stream shows here when the ITL percentiles, over all gaps, hide it), and the largest
     * of them. NaN without gaps. */
    wp_report_dist_t max_itl_s;
    double max_itl_max_s;
    double span_s; /* measured span the rates divide by */
    double requests_per_s;
    double output_tokens_per_s;
    double total_tokens_per_s;
    double cache_hit_rate;
    double goodput_requests_per_s;
    double server_cache_hit_rate; /* NaN unless set by wp_report_run_set_server_hit_rate */
    uint64_t good;                /* completed requests meeting every SLO */
    uint64_t prompt_tokens, output_tokens, cached_tokens; /* completed requests */
} wp_report_metrics_t;

/* Every objective INFINITY. */
void wp_report_slo_none(wp_report_slo_t *slo);
/* "ttft=0.2,itl=0.05": keys ttft, itl, tpot, e2e; values in seconds, or with an "s" or "ms"
 * suffix; finite and > 0; each key at most once. WP_EINVAL with the item's position
 * otherwise; *out is written only on success. */
wp_status_t wp_report_slo_parse(const char *spec, wp_report_slo_t *out, wp_err_t *err);
bool wp_report_slo_is_set(const wp_report_slo_t *slo);

/* workload_json: the workload spec as JSON text (copied; NULL means {}); WP_EINVAL when it
 * does not parse. slo and limits may be NULL (none, defaults). */
wp_status_t wp_report_create(wp_report_t **out, wp_report_mode_t mode, const char *workload_json,
                             const wp_report_slo_t *slo, const wp_report_limits_t *limits,
                             wp_err_t *err);
void wp_report_free(wp_report_t *r);

/* Adds a run for `policy` (copied, 1..WP_REPORT_MAX_POLICY_LEN bytes) with its stages
 * (copied, 1..WP_REPORT_MAX_STAGES). *out is owned by r. */
wp_status_t wp_report_run_add(wp_report_t *r, const char *policy, const wp_report_stage_t *stages,
                              size_t n_stages, wp_report_run_t **out, wp_err_t *err);
size_t wp_report_run_count(const wp_report_t *r);
wp_report_run_t *wp_report_run_get(wp_report_t *r, size_t i);
const char *wp_report_run_policy(const wp_report_run_t *run);
size_t wp_report_run_stage_count(const wp_report_run_t *run);
/* ITL gaps dropped because the run's ITL cap was reached. */
uint64_t wp_report_run_itl_dropped(const wp_report_run_t *run);

/* The run's warm-up requests (added with warmup set): how many, how many failed, and when
 * the last one ended (seconds from the run's start; NaN when none). */
typedef struct wp_report_warmup_s {
    uint64_t requests, failed;
    double end_s;
} wp_report_warmup_t;
wp_report_warmup_t wp_report_run_warmup(const wp_report_run_t *run);

/* Records one finished request (a warm-up one: counts it, see above). WP_EINVAL (nothing
 * recorded) for a bad stage or outcome, negative or non-finite times, an OK result without
 * a TTFT or with E2E < TTFT, a bad ITL gap, or cached > prompt tokens; WP_ELIMIT when the
 * run holds max_requests records; WP_ENOMEM. */
wp_status_t wp_report_add(wp_report_run_t *run, const wp_report_result_t *res, wp_err_t *err);

/* Server-side prefix-cache hit rate in [0,1] (from the servers' counters before/after) for
 * a stage or WP_REPORT_SUMMARY. WP_EINVAL for a bad stage or rate. */
wp_status_t wp_report_run_set_server_hit_rate(wp_report_run_t *run, size_t stage, double rate,
                                              wp_err_t *err);

/* Metrics for a stage, or WP_REPORT_SUMMARY for the whole run. WP_EINVAL for a bad stage,
 * WP_ENOMEM. */
wp_status_t wp_report_run_metrics(wp_report_run_t *run, size_t stage, wp_report_metrics_t *m,
                                  wp_err_t *err);

/* The whole report as a new cJSON tree (caller frees with cJSON_Delete): {"tool",
 * "mode","workload","runs":[{"policy","warmup","warmup_failed","warmup_end_s","summary":M,
 * "stages":[{"rate","duration_s","metrics":M}]}]}; M's keys in the order of issue 3, then
 * "failures" after "failed" and "server_cache_hit_rate" last. NULL on allocation
 * failure. */
struct cJSON *wp_report_to_json(wp_report_t *r, wp_err_t *err);
/* Appends the JSON text (tab-indented when pretty, else one line) to out. */
wp_status_t wp_report_write_json(wp_report_t *r, wp_buf_t *out, bool pretty, wp_err_t *err);
/* Appends the stdout table: one row per policy, then one row per policy and stage (and,
 * when a run had a warm-up, a line per run that says so). */
wp_status_t wp_report_write_table(wp_report_t *r, wp_buf_t *out, wp_err_t *err);
/* Appends a self-contained HTML page: TTFT CDF per policy, output throughput and TTFT p90
 * per stage (grouped bars, one colour per policy), the tables and the workload. */
wp_status_t wp_report_write_html(wp_report_t *r, wp_buf_t *out, wp_err_t *err);

wp_status_t wp_report_validate(const wp_report_t *r, wp_err_t *err);

#endif
