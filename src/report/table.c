/*
 * report/table: the plain-text table for stdout, and the column list it shares with the
 * HTML page.
 *
 * A column is a header, a kind (how to print) and the offset of its field inside
 * wp_report_metrics_t, so both tables print the same columns from one list. Numbers are
 * right-aligned in columns at least as wide as their header; the policy column is as wide
 * as the longest policy name. The first block has one row per run (its summary), the
 * second one row per run and stage, with the stage's configured rate. A run that had a
 * warm-up gets a line above them that says how many warm-up requests it sent.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "report/report_int.h"

#define COL(h, k, f)                                                                               \
    {                                                                                              \
        h, WP__REPORT_COL_##k, offsetof(wp_report_metrics_t, f)                                    \
    }

const wp__report_col_t WP__REPORT_COLS[] = {
    COL("requests", COUNT, requests),
    COL("failed", COUNT, failed),
    COL("hit rate", PCT, cache_hit_rate),
    COL("srv hit", PCT, server_cache_hit_rate),
    COL("TTFT p50 ms", MS, ttft_s.p50),
    COL("TTFT p95 ms", MS, ttft_s.p95),
    COL("ITL p50 ms", MS, itl_s.p50),
    COL("TPOT p50 ms", MS, tpot_s.p50),
    COL("E2E p95 ms", MS, e2e_s.p95),
    COL("req/s", RATE, requests_per_s),
    COL("out tok/s", TOKS, output_tokens_per_s),
    COL("goodput/s", RATE, goodput_requests_per_s),
};
const size_t WP__REPORT_NCOLS = sizeof(WP__REPORT_COLS) / sizeof(WP__REPORT_COLS[0]);

#define MIN_WIDTH 8

void wp__report_cell(char *dst, size_t cap, const wp__report_col_t *c, const wp_report_metrics_t *m)
{
    const char *field = (const char *)m + c->off;
    if (c->kind == WP__REPORT_COL_COUNT) {
        uint64_t n;
        memcpy(&n, field, sizeof(n));
        snprintf(dst, cap, "%llu", (unsigned long long)n);
        return;
    }
    double v;
    memcpy(&v, field, sizeof(v));
    if (!isfinite(v))
        snprintf(dst, cap, "-");
    else if (c->kind == WP__REPORT_COL_PCT)
        snprintf(dst, cap, "%.1f%%", v * 100.0);
    else if (c->kind == WP__REPORT_COL_MS)
        snprintf(dst, cap, "%.1f", v * 1000.0);
    else if (c->kind == WP__REPORT_COL_RATE)
        snprintf(dst, cap, "%.2f", v);
    else
        snprintf(dst, cap, "%.0f", v);
}

static size_t slo_put(char *dst, size_t cap, size_t at, const char *name, double bound)
{
    if (!isfinite(bound) || at >= cap)
        return at;
    int n = snprintf(dst + at, cap - at, "%s%s<=%gs", at ? ", " : "", name, bound);
    return n < 0 ? at : at + (size_t)n;
}

void wp__report_slo_text(char *dst, size_t cap, const wp_report_slo_t *slo)
{
    size_t at = 0;
    dst[0] = '\0';
    at = slo_put(dst, cap, at, "ttft", slo->ttft_s);
    at = slo_put(dst, cap, at, "itl", slo->itl_s);
    at = slo_put(dst, cap, at, "tpot", slo->tpot_s);
    at = slo_put(dst, cap, at, "e2e", slo->e2e_s);
    if (at == 0)
        snprintf(dst, cap, "none");
}

bool wp__report_warmup_text(char *dst, size_t cap, const wp_report_run_t *run)
{
    const wp_report_warmup_t *w = &run->warmup;
    dst[0] = '\0';
    if (w->requests == 0)
        return false;
    snprintf(dst, cap,
             "%llu warm-up request%s (%llu failed) before the measured run, the last ended at "
             "%.3f s; in no metric",
             (unsigned long long)w->requests, w->requests == 1 ? "" : "s",
             (unsigned long long)w->failed, w->end_s);
    return true;
}

/* A line per run that had a warm-up. */
static wp_status_t put_warmup_lines(const wp_report_t *r, wp_buf_t *out)
{
    wp_status_t st = WP_OK;
    for (size_t i = 0; i < r->n_runs && st == WP_OK; i++) {
        char text[200];
        if (wp__report_warmup_text(text, sizeof(text), r->runs[i]))
            st = wp_buf_printf(out, "warm-up %s: %s\n", r->runs[i]->policy, text);
    }
    return st;
}

static int col_width(const wp__report_col_t *c)
{
    size_t n = strlen(c->head);
    return (int)(n > MIN_WIDTH ? n : MIN_WIDTH);
}

static int policy_width(const wp_report_t *r)
{
    size_t w = strlen("policy");
    for (size_t i = 0; i < r->n_runs; i++)
        if (strlen(r->runs[i]->policy) > w)
            w = strlen(r->runs[i]->policy);
    return (int)w;
}

static wp_status_t put_cols_head(wp_buf_t *out)
{
    wp_status_t st = WP_OK;
    for (size_t c = 0; c < WP__REPORT_NCOLS && st == WP_OK; c++)
        st = wp_buf_printf(out, "  %*s", col_width(&WP__REPORT_COLS[c]), WP__REPORT_COLS[c].head);
    return st == WP_OK ? wp_buf_puts(out, "\n") : st;
}

static wp_status_t put_cols(wp_buf_t *out, const wp_report_metrics_t *m)
{
    wp_status_t st = WP_OK;
    for (size_t c = 0; c < WP__REPORT_NCOLS && st == WP_OK; c++) {
        char cell[48];
        wp__report_cell(cell, sizeof(cell), &WP__REPORT_COLS[c], m);
        st = wp_buf_printf(out, "  %*s", col_width(&WP__REPORT_COLS[c]), cell);
    }
    return st == WP_OK ? wp_buf_puts(out, "\n") : st;
}

static wp_status_t put_summary_rows(wp_report_t *r, wp_buf_t *out, int pw, wp_err_t *err)
{
    wp_status_t st = wp_buf_printf(out, "%-*s", pw, "policy");
    if (st == WP_OK)
        st = put_cols_head(out);
    for (size_t i = 0; i < r->n_runs && st == WP_OK; i++) {
        wp_report_metrics_t m;
        st = wp_report_run_metrics(r->runs[i], WP_REPORT_SUMMARY, &m, err);
        if (st == WP_OK)
            st = wp_buf_printf(out, "%-*s", pw, r->runs[i]->policy);
        if (st == WP_OK)
            st = put_cols(out, &m);
    }
    return st;
}

static wp_status_t put_stage_row(wp_buf_t *out, wp_report_run_t *run, size_t s, int pw,
                                 wp_err_t *err)
{
    wp_report_metrics_t m;
    wp_status_t st = wp_report_run_metrics(run, s, &m, err);
    if (st != WP_OK)
        return st;
    char rate[32];
    if (isfinite(run->stages[s].rate))
        snprintf(rate, sizeof(rate), "%.2f", run->stages[s].rate);
    else
        snprintf(rate, sizeof(rate), "-");
    st = wp_buf_printf(out, "%-*s  %5zu  %8s", pw, run->policy, s + 1, rate);
    return st == WP_OK ? put_cols(out, &m) : st;
}

static wp_status_t put_stage_rows(wp_report_t *r, wp_buf_t *out, int pw, wp_err_t *err)
{
    wp_status_t st =
        wp_buf_printf(out, "\nper stage\n%-*s  %5s  %8s", pw, "policy", "stage", "rate");
    if (st == WP_OK)
        st = put_cols_head(out);
    for (size_t i = 0; i < r->n_runs && st == WP_OK; i++)
        for (size_t s = 0; s < r->runs[i]->n_stages && st == WP_OK; s++)
            st = put_stage_row(out, r->runs[i], s, pw, err);
    return st;
}

wp_status_t wp_report_write_table(wp_report_t *r, wp_buf_t *out, wp_err_t *err)
{
    char slo[160];
    wp__report_slo_text(slo, sizeof(slo), &r->slo);
    int pw = policy_width(r);
    wp_status_t st = wp_buf_printf(out, "wellpath %s: %zu run(s), goodput SLO: %s\n",
                                   wp__report_mode_name(r->mode), r->n_runs, slo);
    if (st == WP_OK)
        st = put_warmup_lines(r, out);
    if (st == WP_OK)
        st = put_summary_rows(r, out, pw, err);
    if (st == WP_OK)
        st = put_stage_rows(r, out, pw, err);
    if (st == WP_ELIMIT)
        return wp_err_set(err, st, "report: table does not fit the output buffer");
    return st;
}
