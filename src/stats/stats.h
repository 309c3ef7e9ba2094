/*
 * stats: latency histograms and percentiles, pure (no I/O, no clock, no globals).
 *
 * Two tools:
 * - wp_stats_hist_t, a Prometheus-style histogram over fixed upper bounds ("le"), with
 *   sum and count, its text exposition (the _bucket/_sum/_count lines; the caller writes
 *   # HELP and # TYPE once per family) and histogram_quantile as Prometheus computes it.
 *   vLLM's bucket sets are exported (WP_STATS_BUCKETS_TTFT, _ITL, _E2E).
 * - wp_stats_samples_t, raw samples in a capped array for reports: count, mean, min, max
 *   and quantile(q) with linear interpolation between closest ranks (numpy's default).
 *
 * Invariants (checked by wp_stats_hist_validate / wp_stats_samples_validate):
 * - hist: 1 <= nbounds <= WP_STATS_HIST_MAX_BOUNDS; bounds finite and strictly
 *   increasing; buckets[i] counts observations v with bounds[i-1] < v <= bounds[i] and
 *   buckets[nbounds] those above the last bound (+Inf); count == sum of buckets.
 * - samples: n <= cap <= limit; min/max/sum describe the n values; `sorted` is true only
 *   when v[0..n) is in ascending order.
 *
 * Memory: each struct owns its arrays (one malloc each), released by its _free function;
 * the caller owns the struct itself. Bounds passed to wp_stats_hist_init are copied.
 * Counts are stored per bucket and made cumulative on output.
 */
#ifndef WP_STATS_STATS_H
#define WP_STATS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define WP_STATS_HIST_MAX_BOUNDS 256

/* vLLM's bucket upper bounds, in seconds (docs/reference.md §2). */
#define WP_STATS_BUCKETS_TTFT_N 22
#define WP_STATS_BUCKETS_ITL_N 19
#define WP_STATS_BUCKETS_E2E_N 21
extern const double WP_STATS_BUCKETS_TTFT[WP_STATS_BUCKETS_TTFT_N];
extern const double WP_STATS_BUCKETS_ITL[WP_STATS_BUCKETS_ITL_N];
/* Also used by vLLM for queue, prefill and decode time. */
extern const double WP_STATS_BUCKETS_E2E[WP_STATS_BUCKETS_E2E_N];

typedef struct wp_stats_hist_s {
    double *bounds;    /* nbounds finite upper bounds, ascending (owned copy) */
    uint64_t *buckets; /* nbounds + 1 per-bucket counts; last is (bounds[n-1], +Inf) */
    size_t nbounds;
    uint64_t count;
    double sum;
} wp_stats_hist_t;

/* Copies bounds. WP_EINVAL when n is 0 or above the max, or bounds are not finite and
 * strictly increasing; WP_ENOMEM. On failure *h is left empty (safe to free). */
wp_status_t wp_stats_hist_init(wp_stats_hist_t *h, const double *bounds, size_t n, wp_err_t *err);
void wp_stats_hist_free(wp_stats_hist_t *h);
/* Zeroes counts and sum, keeps the bounds. */
void wp_stats_hist_reset(wp_stats_hist_t *h);
/* Counts v in the first bucket whose bound is >= v. NaN is ignored (not counted). */
void wp_stats_hist_observe(wp_stats_hist_t *h, double v);
/* Adds src's counts into dst; WP_EINVAL unless both have the same bounds. */
wp_status_t wp_stats_hist_merge(wp_stats_hist_t *dst, const wp_stats_hist_t *src);
/* Observations <= bounds[i]; i == nbounds means +Inf (== count). */
uint64_t wp_stats_hist_cumulative(const wp_stats_hist_t *h, size_t i);
/* Prometheus histogram_quantile: the bucket holding rank q*count, linear inside it (from
 * 0 for the first bucket when its bound is positive). Returns the last finite bound when
 * the rank falls in +Inf, NaN when empty or q is NaN, -Inf for q < 0, +Inf for q > 1. */
double wp_stats_hist_quantile(const wp_stats_hist_t *h, double q);
/* Appends name_bucket{labels,le="..."} lines (cumulative, ending with le="+Inf"),
 * name_sum{labels} and name_count{labels}. labels is "" or already formatted
 * `a="x",b="y"` (escaped by the caller). Numbers as wp_stats_fmt_double prints them.
 * WP_ELIMIT when out's cap is reached (out may then hold a partial write). */
wp_status_t wp_stats_hist_write_prom(const wp_stats_hist_t *h, wp_buf_t *out, const char *name,
                                     const char *labels);
wp_status_t wp_stats_hist_validate(const wp_stats_hist_t *h, wp_err_t *err);

/* Formats v the way Prometheus' Python client (and so vLLM) prints sample values and le
 * labels: the shortest text that reads back as v; integral values keep ".0" ("1.0",
 * "2560.0"); exponent form below 1e-4 and from 1e6 up ("1e-05", "1.5e+06"); "+Inf",
 * "-Inf", "NaN". Returns the length; cap >= WP_STATS_FMT_MAX always suffices. */
#define WP_STATS_FMT_MAX 32
size_t wp_stats_fmt_double(char *dst, size_t cap, double v);

typedef struct wp_stats_samples_s {
    double *v;
    size_t n;
    size_t cap;
    size_t limit; /* at most this many samples; further adds fail with WP_ELIMIT */
    double sum;
    double min;
    double max;
    bool sorted;
} wp_stats_samples_t;

#define WP_STATS_SAMPLES_DEFAULT_LIMIT ((size_t)1 << 24)

/* Appends x to a caller-owned growable array (*v of *n values, room for *cap; capacity
 * doubles from 64). WP_ENOMEM leaves it as it was. For per-request series (the gaps
 * between tokens) that a report reads whole. */
wp_status_t wp_stats_append(double **v, size_t *n, size_t *cap, double x);

/* limit 0 means WP_STATS_SAMPLES_DEFAULT_LIMIT. Allocates nothing until the first add. */
void wp_stats_samples_init(wp_stats_samples_t *s, size_t limit);
void wp_stats_samples_free(wp_stats_samples_t *s);
/* WP_EINVAL for NaN or infinite v (not stored), WP_ELIMIT when full, WP_ENOMEM. */
wp_status_t wp_stats_samples_add(wp_stats_samples_t *s, double v);
size_t wp_stats_samples_count(const wp_stats_samples_t *s);
/* NaN when empty. */
double wp_stats_samples_mean(const wp_stats_samples_t *s);
double wp_stats_samples_min(const wp_stats_samples_t *s);
double wp_stats_samples_max(const wp_stats_samples_t *s);
/* Sorted x[0..n): h = (n-1)*q, x[floor h] + (h - floor h)*(x[floor h + 1] - x[floor h]).
 * q is clamped to [0,1]; NaN when empty or q is NaN. Sorts in place on first use. */
double wp_stats_samples_quantile(wp_stats_samples_t *s, double q);
/* The same quantiles over the union of k sets, as if their values were pooled in one set,
 * without copying them: each set is sorted in place, then merged up to the highest rank
 * needed. qs[0..nq) ascending; out[i] gets the quantile qs[i] (NaN when every set is
 * empty). WP_ENOMEM when the merge's heap of k entries cannot be allocated. */
wp_status_t wp_stats_samples_union_quantiles(wp_stats_samples_t *sets, size_t k, const double *qs,
                                             size_t nq, double *out);
wp_status_t wp_stats_samples_validate(const wp_stats_samples_t *s, wp_err_t *err);

#endif
