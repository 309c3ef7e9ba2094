/*
 * stats/samples: exact percentiles over raw samples, for benchmark reports.
 *
 * Samples go into a growable array (doubling, capped at `limit`); sum, min and max are
 * kept as they arrive so mean/min/max cost nothing. The first quantile query sorts the
 * array in place and marks it sorted; an add after that clears the mark. The sort is a
 * least-significant-digit radix sort on the values' bits mapped to an order-preserving
 * unsigned key (8 passes of a byte at most, skipping bytes all keys share): a simulated
 * ladder pools 17M inter-token gaps, and qsort with a comparison callback spent more time
 * on them than the simulation did. qsort remains the fallback when the scratch buffer
 * cannot be allocated. The quantile is
 * numpy's default ("linear", Hyndman-Fan type 7): rank h = (n-1)q over the sorted
 * values, interpolated between the two values around it.
 */
#include "stats/stats.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void wp_stats_samples_init(wp_stats_samples_t *s, size_t limit)
{
    memset(s, 0, sizeof(*s));
    s->limit = limit ? limit : WP_STATS_SAMPLES_DEFAULT_LIMIT;
    s->min = INFINITY;
    s->max = -INFINITY;
    s->sorted = true;
}

void wp_stats_samples_free(wp_stats_samples_t *s)
{
    free(s->v);
    wp_stats_samples_init(s, s->limit);
}

static wp_status_t grow(wp_stats_samples_t *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    if (cap > s->limit)
        cap = s->limit;
    double *v = realloc(s->v, cap * sizeof(double));
    if (v == NULL)
        return WP_ENOMEM;
    s->v = v;
    s->cap = cap;
    return WP_OK;
}

wp_status_t wp_stats_samples_add(wp_stats_samples_t *s, double v)
{
    if (!isfinite(v))
        return WP_EINVAL;
    if (s->n == s->limit)
        return WP_ELIMIT;
    if (s->n == s->cap) {
        wp_status_t st = grow(s);
        if (st != WP_OK)
            return st;
    }
    if (s->n > 0 && v < s->v[s->n - 1])
        s->sorted = false;
    s->v[s->n++] = v;
    s->sum += v;
    s->min = v < s->min ? v : s->min;
    s->max = v > s->max ? v : s->max;
    return WP_OK;
}

size_t wp_stats_samples_count(const wp_stats_samples_t *s)
{
    return s->n;
}

double wp_stats_samples_mean(const wp_stats_samples_t *s)
{
    return s->n ? s->sum / (double)s->n : NAN;
}

double wp_stats_samples_min(const wp_stats_samples_t *s)
{
    return s->n ? s->min : NAN;
}

double wp_stats_samples_max(const wp_stats_samples_t *s)
{
    return s->n ? s->max : NAN;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Finite doubles to unsigned keys in the same order: flip every bit of a negative value,
 * only the sign bit of a positive one (-0.0 lands just below +0.0). */
static uint64_t key_of(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    return (u >> 63) ? ~u : u | ((uint64_t)1 << 63);
}

static double value_of(uint64_t k)
{
    uint64_t u = (k >> 63) ? k & ~((uint64_t)1 << 63) : ~k;
    double v;
    memcpy(&v, &u, sizeof(v));
    return v;
}

/* Sorts v[0..n) through keys in a (the values' own storage, reused) and scratch b. */
static void radix_sort(double *v, uint64_t *b, size_t n)
{
    static_assert(sizeof(double) == sizeof(uint64_t), "doubles are 64-bit");
    uint64_t *a = (uint64_t *)(void *)v;
    size_t count[8][256] = {{0}};
    for (size_t i = 0; i < n; i++) {
        a[i] = key_of(v[i]);
        for (int d = 0; d < 8; d++)
            count[d][(a[i] >> (8 * d)) & 0xff]++;
    }
    uint64_t *src = a, *dst = b;
    for (int d = 0; d < 8; d++) {
        if (count[d][(src[0] >> (8 * d)) & 0xff] == n)
            continue; /* every key has this byte: the pass would not move anything */
        size_t at = 0;
        for (int k = 0; k < 256; k++) {
            size_t c = count[d][k];
            count[d][k] = at;
            at += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[d][(src[i] >> (8 * d)) & 0xff]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof(*a));
    for (size_t i = 0; i < n; i++)
        v[i] = value_of(a[i]);
}

static void sort_values(double *v, size_t n)
{
    uint64_t *scratch = n > 64 ? malloc(n * sizeof(*scratch)) : NULL;
    if (scratch == NULL) {
        qsort(v, n, sizeof(double), cmp_double);
        return;
    }
    radix_sort(v, scratch, n);
    free(scratch);
}

static void ensure_sorted(wp_stats_samples_t *s)
{
    if (!s->sorted) {
        sort_values(s->v, s->n);
        s->sorted = true;
    }
}

double wp_stats_samples_quantile(wp_stats_samples_t *s, double q)
{
    if (s->n == 0 || isnan(q))
        return NAN;
    ensure_sorted(s);
    q = q < 0 ? 0 : (q > 1 ? 1 : q);
    double h = (double)(s->n - 1) * q;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= s->n)
        return s->v[s->n - 1];
    return s->v[lo] + (h - (double)lo) * (s->v[lo + 1] - s->v[lo]);
}

/* The merge's heap: the head of each non-empty set, smallest first. */
typedef struct {
    double v;
    size_t set, at;
} head_t;

static void sift_down(head_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && h[l].v < h[m].v)
            m = l;
        if (l + 1 < n && h[l + 1].v < h[m].v)
            m = l + 1;
        if (m == i)
            return;
        head_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

typedef struct {
    head_t *h;
    size_t n;    /* sets not yet exhausted */
    size_t rank; /* the rank of h[0].v in the union */
    double prev; /* the value at rank - 1 */
} merge_t;

/* The value of the union at rank r >= m->rank - 1, walking the merge forward. */
static double union_at(wp_stats_samples_t *sets, merge_t *m, size_t r)
{
    if (r + 1 == m->rank)
        return m->prev;
    while (m->rank < r) {
        head_t *top = &m->h[0];
        m->prev = top->v;
        if (++top->at < sets[top->set].n)
            top->v = sets[top->set].v[top->at];
        else
            m->h[0] = m->h[--m->n];
        sift_down(m->h, m->n, 0);
        m->rank++;
    }
    return m->h[0].v;
}

wp_status_t wp_stats_samples_union_quantiles(wp_stats_samples_t *sets, size_t k, const double *qs,
                                             size_t nq, double *out)
{
    size_t total = 0, n = 0;
    for (size_t i = 0; i < k; i++)
        total += sets[i].n;
    if (total == 0) {
        for (size_t i = 0; i < nq; i++)
            out[i] = NAN;
        return WP_OK;
    }
    head_t *h = malloc(k * sizeof(*h));
    if (h == NULL)
        return WP_ENOMEM;
    for (size_t i = 0; i < k; i++) {
        if (sets[i].n == 0)
            continue;
        ensure_sorted(&sets[i]);
        h[n++] = (head_t){sets[i].v[0], i, 0};
    }
    for (size_t i = n; i-- > 0;)
        sift_down(h, n, i);
    merge_t m = {.h = h, .n = n};
    for (size_t i = 0; i < nq; i++) {
        double q = isnan(qs[i]) ? NAN : (qs[i] < 0 ? 0 : (qs[i] > 1 ? 1 : qs[i]));
        if (isnan(q)) {
            out[i] = NAN;
            continue;
        }
        double hq = (double)(total - 1) * q;
        size_t lo = (size_t)floor(hq);
        double a = union_at(sets, &m, lo);
        if (lo + 1 >= total) {
            out[i] = a;
            continue;
        }
        double b = union_at(sets, &m, lo + 1);
        out[i] = a + (hq - (double)lo) * (b - a);
    }
    free(h);
    return WP_OK;
}

wp_status_t wp_stats_samples_validate(const wp_stats_samples_t *s, wp_err_t *err)
{
    if (s->n > s->cap || s->cap > s->limit)
        return wp_err_set(err, WP_EINVAL, "samples: n %zu, cap %zu, limit %zu out of order", s->n,
                          s->cap, s->limit);
    double sum = 0, abs_sum = 0, lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < s->n; i++) {
        sum += s->v[i];
        abs_sum += fabs(s->v[i]);
        lo = s->v[i] < lo ? s->v[i] : lo;
        hi = s->v[i] > hi ? s->v[i] : hi;
        if (s->sorted && i > 0 && s->v[i] < s->v[i - 1])
            return wp_err_set(err, WP_EINVAL, "samples: marked sorted but v[%zu] < v[%zu]", i,
                              i - 1);
    }
    if (s->n > 0 && (lo != s->min || hi != s->max))
        return wp_err_set(err, WP_EINVAL, "samples: min/max do not match the values");
    double tol = 1e-9 * abs_sum + 1e-300; /* summation order differs after sorting */
    if (fabs(sum - s->sum) > tol)
        return wp_err_set(err, WP_EINVAL, "samples: sum %g does not match the values (%g)", s->sum,
                          sum);
    return WP_OK;
}

wp_status_t wp_stats_append(double **v, size_t *n, size_t *cap, double x)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        double *nv = realloc(*v, c * sizeof(double));
        if (nv == NULL)
            return WP_ENOMEM;
        *v = nv;
        *cap = c;
    }
    (*v)[(*n)++] = x;
    return WP_OK;
}
