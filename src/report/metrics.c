/*
 * report/metrics: the metrics M of docs/reference.md §9 for one stage or a whole run.
 *
 * One pass over the run's records picks those in scope (one stage, or all): it counts
 * outcomes, sums tokens of completed requests, tracks the earliest start and latest end
 * (start + E2E, failures included) for the measured span, counts requests meeting every
 * SLO, and fills temporary sample sets for TTFT, TPOT, E2E and each stream's largest gap. ITL comes
 * from the run's per-stage sample sets: a stage's own set (sorted in place), or for the whole run
 * the only stage's set, or else the union of all of them (wp_stats_samples_union_quantiles: each
 * sorted in place and merged, nothing copied). Percentiles are wp_stats_samples_quantile (numpy's
 * linear method); means are arithmetic means. The ITL mean is the pooled mean of every gap (each
 * request's mean times its gap count, summed), so it stays exact when the sample cap dropped gaps;
 * its percentiles use the kept ones. Rates divide by the span; with a span <= 0 they are NaN. See
 * report.h for the exact definitions of TPOT, the ITL SLO and goodput.
 */
#include <math.h>
#include <string.h>

#include "report/report_int.h"

typedef struct {
    wp_stats_samples_t ttft, tpot, e2e, max_itl;
    double first_start, last_end;
    double gap_sum; /* every ITL gap of the scope's completed requests, kept or not */
    uint64_t gaps;
} scope_acc_t;

static void dist_of(wp_stats_samples_t *s, wp_report_dist_t *d)
{
    d->mean = wp_stats_samples_mean(s);
    d->p50 = wp_stats_samples_quantile(s, 0.50);
    d->p90 = wp_stats_samples_quantile(s, 0.90);
    d->p95 = wp_stats_samples_quantile(s, 0.95);
    d->p99 = wp_stats_samples_quantile(s, 0.99);
}

static double tpot_of(const wp__report_rec_t *rec)
{
    if (rec->output_tokens < 2)
        return NAN;
    return (rec->e2e_s - rec->ttft_s) / (double)(rec->output_tokens - 1);
}

/* A bound of INFINITY always holds; a NaN value (not applicable) meets its bound. */
static bool within(double v, double bound)
{
    return isnan(v) || v <= bound;
}

static bool meets_slo(const wp_report_slo_t *slo, const wp__report_rec_t *rec)
{
    return within(rec->ttft_s, slo->ttft_s) && within(rec->mean_itl_s, slo->itl_s) &&
           within(tpot_of(rec), slo->tpot_s) && within(rec->e2e_s, slo->e2e_s);
}

/* Adds a completed request's latencies; only allocation can fail. */
static wp_status_t add_completed(scope_acc_t *acc, wp_report_metrics_t *m,
                                 const wp__report_rec_t *rec, const wp_report_slo_t *slo)
{
    m->completed++;
    if (rec->n_gaps > 0) {
        acc->gap_sum += rec->mean_itl_s * rec->n_gaps;
        acc->gaps += rec->n_gaps;
    }
    m->prompt_tokens += rec->prompt_tokens;
    m->output_tokens += rec->output_tokens;
    m->cached_tokens += rec->cached_tokens;
    if (meets_slo(slo, rec))
        m->good++;
    double tpot = tpot_of(rec);
    if (wp_stats_samples_add(&acc->ttft, rec->ttft_s) != WP_OK ||
        wp_stats_samples_add(&acc->e2e, rec->e2e_s) != WP_OK)
        return WP_ENOMEM;
    if (!isnan(tpot) && wp_stats_samples_add(&acc->tpot, tpot) != WP_OK)
        return WP_ENOMEM;
    if (!isnan(rec->max_itl_s)) {
        if (wp_stats_samples_add(&acc->max_itl, rec->max_itl_s) != WP_OK)
            return WP_ENOMEM;
        m->max_itl_max_s = isnan(m->max_itl_max_s) || rec->max_itl_s > m->max_itl_max_s
                               ? rec->max_itl_s
                               : m->max_itl_max_s;
    }
    return WP_OK;
}

static wp_status_t scan_records(const wp_report_run_t *run, size_t stage, scope_acc_t *acc,
                                wp_report_metrics_t *m)
{
    const wp_report_slo_t *slo = &run->owner->slo;
    for (size_t i = 0; i < run->n_recs; i++) {
        const wp__report_rec_t *rec = &run->recs[i];
        if (stage != WP_REPORT_SUMMARY && rec->stage != stage)
            continue;
        m->requests++;
        if (rec->start_s < acc->first_start)
            acc->first_start = rec->start_s;
        if (rec->start_s + rec->e2e_s > acc->last_end)
            acc->last_end = rec->start_s + rec->e2e_s;
        if (rec->outcome != WP_REPORT_OK) {
            m->failed++;
            m->failures[rec->outcome]++;
            continue;
        }
        if (add_completed(acc, m, rec, slo) != WP_OK)
            return WP_ENOMEM;
    }
    return WP_OK;
}

/* ITL distribution of the scope: a stage's set, or for the whole run the union of the
 * stages' sets, merged in place (its mean is replaced by the pooled one). */
static wp_status_t itl_dist(wp_report_run_t *run, size_t stage, wp_report_dist_t *d)
{
    if (stage != WP_REPORT_SUMMARY || run->n_stages == 1) {
        dist_of(&run->itl[stage == WP_REPORT_SUMMARY ? 0 : stage], d);
        return WP_OK;
    }
    /* the quantiles dist_of reports */
    static const double qs[4] = {0.50, 0.90, 0.95, 0.99};
    double v[4];
    if (wp_stats_samples_union_quantiles(run->itl, run->n_stages, qs, 4, v) != WP_OK)
        return WP_ENOMEM;
    double sum = 0;
    size_t n = 0;
    for (size_t s = 0; s < run->n_stages; s++) {
        sum += run->itl[s].sum;
        n += run->itl[s].n;
    }
    *d = (wp_report_dist_t){
        .mean = n ? sum / (double)n : NAN, .p50 = v[0], .p90 = v[1], .p95 = v[2], .p99 = v[3]};
    return WP_OK;
}

static double per_s(double x, double span)
{
    return span > 0 ? x / span : NAN;
}

static void rates(wp_report_metrics_t *m, const scope_acc_t *acc)
{
    m->span_s = m->requests ? acc->last_end - acc->first_start : 0;
    m->requests_per_s = per_s((double)m->completed, m->span_s);
    m->output_tokens_per_s = per_s((double)m->output_tokens, m->span_s);
    m->total_tokens_per_s = per_s((double)(m->prompt_tokens + m->output_tokens), m->span_s);
    m->goodput_requests_per_s = per_s((double)m->good, m->span_s);
    m->cache_hit_rate =
        m->prompt_tokens ? (double)m->cached_tokens / (double)m->prompt_tokens : NAN;
}

wp_status_t wp_report_run_metrics(wp_report_run_t *run, size_t stage, wp_report_metrics_t *m,
                                  wp_err_t *err)
{
    if (stage != WP_REPORT_SUMMARY && stage >= run->n_stages)
        return wp_err_set(err, WP_EINVAL, "report: stage %zu out of range (run has %zu)", stage,
                          run->n_stages);
    memset(m, 0, sizeof(*m));
    m->max_itl_max_s = NAN;
    size_t limit = run->owner->limits.max_requests;
    scope_acc_t acc = {.first_start = INFINITY, .last_end = -INFINITY};
    wp_stats_samples_init(&acc.ttft, limit);
    wp_stats_samples_init(&acc.tpot, limit);
    wp_stats_samples_init(&acc.e2e, limit);
    wp_stats_samples_init(&acc.max_itl, limit);
    wp_status_t st = scan_records(run, stage, &acc, m);
    if (st == WP_OK)
        st = itl_dist(run, stage, &m->itl_s);
    if (st == WP_OK) {
        dist_of(&acc.ttft, &m->ttft_s);
        dist_of(&acc.tpot, &m->tpot_s);
        dist_of(&acc.e2e, &m->e2e_s);
        dist_of(&acc.max_itl, &m->max_itl_s);
        if (acc.gaps > 0) /* exact even when gaps past the sample cap were dropped */
            m->itl_s.mean = acc.gap_sum / (double)acc.gaps;
        rates(m, &acc);
        m->server_cache_hit_rate =
            run->server_hit[stage == WP_REPORT_SUMMARY ? run->n_stages : stage];
    }
    wp_stats_samples_free(&acc.ttft);
    wp_stats_samples_free(&acc.tpot);
    wp_stats_samples_free(&acc.e2e);
    wp_stats_samples_free(&acc.max_itl);
    if (st != WP_OK)
        return wp_err_set(err, st, "report: out of memory computing metrics");
    return WP_OK;
}
