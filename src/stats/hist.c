/*
 * stats/hist: the Prometheus-style histogram and its text exposition.
 *
 * Counts are kept per bucket (observe touches one counter, found by binary search over
 * the bounds) and summed into cumulative counts only when written or queried, which
 * happens far less often than observing. The quantile follows Prometheus'
 * bucketQuantile: find the first bucket whose cumulative count reaches q*count and
 * interpolate linearly between its lower and upper bound; the first bucket starts at 0.
 * Number formatting lives in fmt.c so gauges and counters elsewhere print the same way.
 */
#include "stats/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const double WP_STATS_BUCKETS_TTFT[WP_STATS_BUCKETS_TTFT_N] = {
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,   0.75,
    1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
const double WP_STATS_BUCKETS_ITL[WP_STATS_BUCKETS_ITL_N] = {
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
    0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
const double WP_STATS_BUCKETS_E2E[WP_STATS_BUCKETS_E2E_N] = {
    0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,   15.0,  20.0,
    30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};

static wp_status_t check_bounds(const double *b, size_t n, wp_err_t *err)
{
    if (n == 0 || n > WP_STATS_HIST_MAX_BOUNDS)
        return wp_err_set(err, WP_EINVAL, "histogram: %zu bounds, expected 1..%d", n,
                          WP_STATS_HIST_MAX_BOUNDS);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(b[i]))
            return wp_err_set(err, WP_EINVAL, "histogram: bound %zu is not finite", i);
        if (i > 0 && !(b[i] > b[i - 1]))
            return wp_err_set(err, WP_EINVAL,
                              "histogram: bound %zu (%g) is not above bound %zu (%g)", i, b[i],
                              i - 1, b[i - 1]);
    }
    return WP_OK;
}

wp_status_t wp_stats_hist_init(wp_stats_hist_t *h, const double *bounds, size_t n, wp_err_t *err)
{
    memset(h, 0, sizeof(*h));
    wp_status_t st = check_bounds(bounds, n, err);
    if (st != WP_OK)
        return st;
    h->bounds = malloc(n * sizeof(double));
    h->buckets = calloc(n + 1, sizeof(uint64_t));
    if (h->bounds == NULL || h->buckets == NULL) {
        wp_stats_hist_free(h);
        return wp_err_set(err, WP_ENOMEM, "histogram: out of memory");
    }
    memcpy(h->bounds, bounds, n * sizeof(double));
    h->nbounds = n;
    return WP_OK;
}

void wp_stats_hist_free(wp_stats_hist_t *h)
{
    free(h->bounds);
    free(h->buckets);
    memset(h, 0, sizeof(*h));
}

void wp_stats_hist_reset(wp_stats_hist_t *h)
{
    if (h->buckets != NULL)
        memset(h->buckets, 0, (h->nbounds + 1) * sizeof(uint64_t));
    h->count = 0;
    h->sum = 0.0;
}

/* Index of the first bound >= v, or nbounds when v is above them all. */
static size_t bucket_of(const wp_stats_hist_t *h, double v)
{
    size_t lo = 0, hi = h->nbounds;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (h->bounds[mid] >= v)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

void wp_stats_hist_observe(wp_stats_hist_t *h, double v)
{
    if (isnan(v))
        return;
    h->buckets[bucket_of(h, v)]++;
    h->count++;
    h->sum += v;
}

wp_status_t wp_stats_hist_merge(wp_stats_hist_t *dst, const wp_stats_hist_t *src)
{
    if (dst->nbounds != src->nbounds ||
        memcmp(dst->bounds, src->bounds, dst->nbounds * sizeof(double)) != 0)
        return WP_EINVAL;
    for (size_t i = 0; i <= dst->nbounds; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->sum += src->sum;
    return WP_OK;
}

uint64_t wp_stats_hist_cumulative(const wp_stats_hist_t *h, size_t i)
{
    uint64_t c = 0;
    size_t last = i < h->nbounds ? i : h->nbounds;
    for (size_t k = 0; k <= last; k++)
        c += h->buckets[k];
    return c;
}

double wp_stats_hist_quantile(const wp_stats_hist_t *h, double q)
{
    if (isnan(q) || h->count == 0)
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    double rank = q * (double)h->count;
    uint64_t below = 0; /* cumulative count of the buckets before b */
    size_t b = 0;
    while (b < h->nbounds && (double)(below + h->buckets[b]) < rank)
        below += h->buckets[b++];
    if (b == h->nbounds)
        return h->bounds[h->nbounds - 1];
    if (b == 0 && h->bounds[0] <= 0)
        return h->bounds[0];
    double start = b == 0 ? 0.0 : h->bounds[b - 1];
    double end = h->bounds[b];
    if (h->buckets[b] == 0)
        return start;
    return start + (end - start) * ((rank - (double)below) / (double)h->buckets[b]);
}

static wp_status_t write_line(wp_buf_t *out, const char *name, const char *suffix,
                              const char *labels, const char *le, double value)
{
    char num[WP_STATS_FMT_MAX];
    wp_stats_fmt_double(num, sizeof(num), value);
    bool has_labels = labels != NULL && labels[0] != '\0';
    const char *sep = has_labels && le != NULL ? "," : "";
    if (!has_labels && le == NULL)
        return wp_buf_printf(out, "%s%s %s\n", name, suffix, num);
    if (le == NULL)
        return wp_buf_printf(out, "%s%s{%s} %s\n", name, suffix, labels, num);
    return wp_buf_printf(out, "%s%s{%s%sle=\"%s\"} %s\n", name, suffix, has_labels ? labels : "",
                         sep, le, num);
}

wp_status_t wp_stats_hist_write_prom(const wp_stats_hist_t *h, wp_buf_t *out, const char *name,
                                     const char *labels)
{
    char le[WP_STATS_FMT_MAX];
    uint64_t cum = 0;
    wp_status_t st = WP_OK;
    for (size_t i = 0; i <= h->nbounds && st == WP_OK; i++) {
        cum += h->buckets[i];
        if (i < h->nbounds)
            wp_stats_fmt_double(le, sizeof(le), h->bounds[i]);
        else
            memcpy(le, "+Inf", sizeof("+Inf"));
        st = write_line(out, name, "_bucket", labels, le, (double)cum);
    }
    if (st == WP_OK)
        st = write_line(out, name, "_sum", labels, NULL, h->sum);
    if (st == WP_OK)
        st = write_line(out, name, "_count", labels, NULL, (double)h->count);
    return st;
}

wp_status_t wp_stats_hist_validate(const wp_stats_hist_t *h, wp_err_t *err)
{
    if (h->bounds == NULL || h->buckets == NULL)
        return wp_err_set(err, WP_EINVAL, "histogram: not initialised");
    wp_status_t st = check_bounds(h->bounds, h->nbounds, err);
    if (st != WP_OK)
        return st;
    uint64_t total = 0;
    for (size_t i = 0; i <= h->nbounds; i++)
        total += h->buckets[i];
    if (total != h->count)
        return wp_err_set(err, WP_EINVAL, "histogram: buckets hold %llu, count is %llu",
                          (unsigned long long)total, (unsigned long long)h->count);
    return WP_OK;
}
