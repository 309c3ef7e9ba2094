/*
 * report/html: one self-contained HTML page (inline CSS, inline SVG, no scripts).
 *
 * The page computes every run's metrics once (summary and stages), then draws three
 * charts and two tables. Charts share one frame: a fixed-size SVG with a plot area, axes
 * whose maximum is rounded up to a "nice" 1-2-5 step, and a legend with one colour per
 * policy (a fixed palette, cycled). The TTFT CDF draws, per policy, the polyline through
 * (TTFT quantile q, q) for q = 0, 1/CDF_POINTS, ..., 1 over that run's completed requests.
 * Throughput and TTFT p90 per stage are grouped bars: one group per stage, one bar per
 * policy, with an SVG <title> giving the exact value on hover. Every caller-supplied
 * string (policy names, workload JSON) is HTML-escaped. Coordinates print with one
 * decimal, so the page is deterministic for identical input.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_int.h"

#define SVG_W 760
#define SVG_H 320
#define PLOT_L 70
#define PLOT_T 30
#define PLOT_W 470
#define PLOT_H 230
#define CDF_POINTS 100

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};
#define NPALETTE (sizeof(palette) / sizeof(palette[0]))

/* metrics[i][s]: run i, stage s; index n_stages is the summary. */
typedef struct {
    wp_report_t *r;
    wp_report_metrics_t **metrics;
    size_t max_stages;
} page_t;

typedef double (*metric_fn)(const wp_report_metrics_t *m);

static wp_status_t esc(wp_buf_t *out, const char *s)
{
    return wp_buf_html_escape(out, s);
}

static const char *color_of(size_t i)
{
    return palette[i % NPALETTE];
}

/* Rounds v up to a multiple of a 1-2-5 step (about five ticks); 1 when v is not > 0. */
static double nice_max(double v, double *step)
{
    if (!(v > 0) || !isfinite(v)) {
        *step = 0.2;
        return 1.0;
    }
    double raw = v / 5.0;
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    *step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
    return ceil(v / *step - 1e-9) * *step;
}

static double px_x(double v, double max)
{
    return PLOT_L + PLOT_W * (v / max);
}

static double px_y(double v, double max)
{
    return PLOT_T + PLOT_H * (1.0 - v / max);
}

static wp_status_t svg_open(wp_buf_t *out, const char *title)
{
    return wp_buf_printf(out,
                         "<h2>%s</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                         "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n",
                         title, SVG_W, SVG_H, SVG_W, SVG_H);
}

/* Frame, y ticks and grid, and axis labels. */
static wp_status_t svg_frame(wp_buf_t *out, double ymax, double ystep, const char *xlabel,
                             const char *ylabel)
{
    wp_status_t st = wp_buf_printf(out,
                                   "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                                   "class=\"frame\"/>\n",
                                   PLOT_L, PLOT_T, PLOT_W, PLOT_H);
    int nticks = (int)lround(ymax / ystep);
    for (int k = 0; st == WP_OK && k <= nticks; k++) {
        double t = k * ystep;
        double y = px_y(t, ymax);
        st = wp_buf_printf(out,
                           "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>"
                           "<text x=\"%d\" y=\"%.1f\" class=\"yt\">%g</text>\n",
                           PLOT_L, y, PLOT_L + PLOT_W, y, PLOT_L - 6, y + 4, t);
    }
    if (st == WP_OK)
        st = wp_buf_printf(out,
                           "<text x=\"%d\" y=\"%d\" class=\"xl\">%s</text>"
                           "<text x=\"16\" y=\"%d\" class=\"yl\" transform=\"rotate(-90 16 %d)\">"
                           "%s</text>\n",
                           PLOT_L + PLOT_W / 2, SVG_H - 6, xlabel, PLOT_T + PLOT_H / 2,
                           PLOT_T + PLOT_H / 2, ylabel);
    return st;
}

static wp_status_t svg_legend(wp_buf_t *out, const wp_report_t *r)
{
    wp_status_t st = WP_OK;
    for (size_t i = 0; i < r->n_runs && st == WP_OK; i++) {
        int y = PLOT_T + 8 + (int)i * 18;
        st = wp_buf_printf(out,
                           "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                           "<text x=\"%d\" y=\"%d\" class=\"lg\">",
                           PLOT_L + PLOT_W + 16, y - 10, color_of(i), PLOT_L + PLOT_W + 34, y);
        if (st == WP_OK)
            st = esc(out, r->runs[i]->policy);
        if (st == WP_OK)
            st = wp_buf_puts(out, "</text>\n");
    }
    return st;
}

/* ---- TTFT CDF --------------------------------------------------------------------------- */

static wp_status_t ttft_samples(const wp_report_run_t *run, wp_stats_samples_t *s)
{
    wp_stats_samples_init(s, run->owner->limits.max_requests);
    for (size_t i = 0; i < run->n_recs; i++)
        if (run->recs[i].outcome == WP_REPORT_OK &&
            wp_stats_samples_add(s, run->recs[i].ttft_s) != WP_OK)
            return WP_ENOMEM;
    return WP_OK;
}

static wp_status_t cdf_line(wp_buf_t *out, wp_report_run_t *run, size_t i, double xmax)
{
    wp_stats_samples_t s;
    wp_status_t st = ttft_samples(run, &s);
    if (st == WP_OK && s.n > 0)
        st = wp_buf_printf(out, "<polyline class=\"cdf\" stroke=\"%s\" points=\"", color_of(i));
    for (int k = 0; st == WP_OK && s.n > 0 && k <= CDF_POINTS; k++) {
        double q = (double)k / CDF_POINTS;
        double x = wp_stats_samples_quantile(&s, q);
        st = wp_buf_printf(out, "%s%.1f,%.1f", k ? " " : "", px_x(x, xmax), px_y(q, 1.0));
    }
    if (st == WP_OK && s.n > 0)
        st = wp_buf_puts(out, "\"/>\n");
    wp_stats_samples_free(&s);
    return st;
}

static wp_status_t chart_cdf(wp_buf_t *out, page_t *pg)
{
    double xmax_raw = 0, xstep;
    for (size_t i = 0; i < pg->r->n_runs; i++) {
        double mx = pg->metrics[i][pg->r->runs[i]->n_stages].ttft_s.p99;
        const wp_report_run_t *run = pg->r->runs[i];
        for (size_t k = 0; k < run->n_recs; k++)
            if (run->recs[k].outcome == WP_REPORT_OK && run->recs[k].ttft_s > mx)
                mx = run->recs[k].ttft_s;
        if (mx > xmax_raw)
            xmax_raw = mx;
    }
    double xmax = nice_max(xmax_raw, &xstep);
    wp_status_t st = svg_open(out, "TTFT CDF per policy");
    if (st == WP_OK)
        st = svg_frame(out, 1.0, 0.25, "TTFT (s)", "fraction of requests");
    int nticks = (int)lround(xmax / xstep);
    for (int k = 0; st == WP_OK && k <= nticks; k++)
        st = wp_buf_printf(out, "<text x=\"%.1f\" y=\"%d\" class=\"xt\">%g</text>\n",
                           px_x(k * xstep, xmax), PLOT_T + PLOT_H + 16, k * xstep);
    for (size_t i = 0; i < pg->r->n_runs && st == WP_OK; i++)
        st = cdf_line(out, pg->r->runs[i], i, xmax);
    if (st == WP_OK)
        st = svg_legend(out, pg->r);
    return st == WP_OK ? wp_buf_puts(out, "</svg>\n") : st;
}

/* ---- grouped bars per stage ------------------------------------------------------------ */

static double get_out_toks(const wp_report_metrics_t *m)
{
    return m->output_tokens_per_s;
}

static double get_ttft_p90(const wp_report_metrics_t *m)
{
    return m->ttft_s.p90;
}

static double bars_max(const page_t *pg, metric_fn get)
{
    double mx = 0;
    for (size_t i = 0; i < pg->r->n_runs; i++)
        for (size_t s = 0; s < pg->r->runs[i]->n_stages; s++) {
            double v = get(&pg->metrics[i][s]);
            if (isfinite(v) && v > mx)
                mx = v;
        }
    return mx;
}

static wp_status_t bar(wp_buf_t *out, const page_t *pg, size_t i, size_t s, double ymax,
                       metric_fn get)
{
    double v = get(&pg->metrics[i][s]);
    if (!isfinite(v))
        return WP_OK;
    double gw = (double)PLOT_W / (double)pg->max_stages;
    double bw = gw * 0.8 / (double)pg->r->n_runs;
    double x = PLOT_L + gw * (double)s + gw * 0.1 + bw * (double)i;
    double y = px_y(v, ymax);
    wp_status_t st = wp_buf_printf(out,
                                   "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                                   "fill=\"%s\"><title>",
                                   x, y, bw, PLOT_T + PLOT_H - y, color_of(i));
    if (st == WP_OK)
        st = esc(out, pg->r->runs[i]->policy);
    if (st == WP_OK)
        st = wp_buf_printf(out, ", stage %zu: %g</title></rect>\n", s + 1, v);
    return st;
}

static wp_status_t stage_labels(wp_buf_t *out, const page_t *pg)
{
    wp_status_t st = WP_OK;
    double gw = (double)PLOT_W / (double)pg->max_stages;
    for (size_t s = 0; s < pg->max_stages && st == WP_OK; s++)
        st = wp_buf_printf(out, "<text x=\"%.1f\" y=\"%d\" class=\"xt\">%zu</text>\n",
                           PLOT_L + gw * ((double)s + 0.5), PLOT_T + PLOT_H + 16, s + 1);
    return st;
}

static wp_status_t chart_bars(wp_buf_t *out, const page_t *pg, const char *title,
                              const char *ylabel, metric_fn get)
{
    double ystep;
    double ymax = nice_max(bars_max(pg, get), &ystep);
    wp_status_t st = svg_open(out, title);
    if (st == WP_OK)
        st = svg_frame(out, ymax, ystep, "stage", ylabel);
    if (st == WP_OK)
        st = stage_labels(out, pg);
    for (size_t i = 0; i < pg->r->n_runs && st == WP_OK; i++)
        for (size_t s = 0; s < pg->r->runs[i]->n_stages && st == WP_OK; s++)
            st = bar(out, pg, i, s, ymax, get);
    if (st == WP_OK)
        st = svg_legend(out, pg->r);
    return st == WP_OK ? wp_buf_puts(out, "</svg>\n") : st;
}

/* ---- tables ------------------------------------------------------------------------------ */

static wp_status_t row_cells(wp_buf_t *out, const wp_report_metrics_t *m)
{
    wp_status_t st = WP_OK;
    for (size_t c = 0; c < WP__REPORT_NCOLS && st == WP_OK; c++) {
        char cell[48];
        wp__report_cell(cell, sizeof(cell), &WP__REPORT_COLS[c], m);
        st = wp_buf_printf(out, "<td>%s</td>", cell);
    }
    return st == WP_OK ? wp_buf_puts(out, "</tr>\n") : st;
}

static wp_status_t table_head(wp_buf_t *out, const char *title, bool stages)
{
    wp_status_t st = wp_buf_printf(out, "<h2>%s</h2>\n<table>\n<tr><th>policy</th>%s", title,
                                   stages ? "<th>stage</th><th>rate</th>" : "");
    for (size_t c = 0; c < WP__REPORT_NCOLS && st == WP_OK; c++)
        st = wp_buf_printf(out, "<th>%s</th>", WP__REPORT_COLS[c].head);
    return st == WP_OK ? wp_buf_puts(out, "</tr>\n") : st;
}

static wp_status_t table_row(wp_buf_t *out, const page_t *pg, size_t i, size_t s)
{
    const wp_report_run_t *run = pg->r->runs[i];
    wp_status_t st = wp_buf_puts(out, "<tr><td class=\"p\">");
    if (st == WP_OK)
        st = esc(out, run->policy);
    if (st == WP_OK)
        st = wp_buf_puts(out, "</td>");
    if (st == WP_OK && s < run->n_stages) {
        double rate = run->stages[s].rate;
        if (isfinite(rate))
            st = wp_buf_printf(out, "<td>%zu</td><td>%.2f</td>", s + 1, rate);
        else
            st = wp_buf_printf(out, "<td>%zu</td><td>-</td>", s + 1);
    }
    return st == WP_OK ? row_cells(out, &pg->metrics[i][s]) : st;
}

static wp_status_t tables(wp_buf_t *out, const page_t *pg)
{
    wp_status_t st = table_head(out, "Summary", false);
    for (size_t i = 0; i < pg->r->n_runs && st == WP_OK; i++)
        st = table_row(out, pg, i, pg->r->runs[i]->n_stages);
    if (st == WP_OK)
        st = wp_buf_puts(out, "</table>\n");
    if (st == WP_OK)
        st = table_head(out, "Per stage", true);
    for (size_t i = 0; i < pg->r->n_runs && st == WP_OK; i++)
        for (size_t s = 0; s < pg->r->runs[i]->n_stages && st == WP_OK; s++)
            st = table_row(out, pg, i, s);
    return st == WP_OK ? wp_buf_puts(out, "</table>\n") : st;
}

/* ---- page ---------------------------------------------------------------------------------- */

static const char css[] =
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;font-size:13px}"
    "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}"
    "td.p,th:first-child{text-align:left}"
    "svg{display:block;margin-bottom:1em}"
    ".frame{fill:none;stroke:#444}.grid{stroke:#ddd}"
    ".cdf{fill:none;stroke-width:2}"
    ".yt{font-size:11px;text-anchor:end}.xt{font-size:11px;text-anchor:middle}"
    ".xl,.yl{font-size:12px;text-anchor:middle}.lg{font-size:12px}"
    "pre{background:#f6f6f6;padding:1em;overflow:auto}";

static wp_status_t page_head(wp_buf_t *out, const wp_report_t *r)
{
    char slo[160];
    wp__report_slo_text(slo, sizeof(slo), &r->slo);
    const char *mode = wp__report_mode_name(r->mode);
    return wp_buf_printf(out,
                         "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                         "<title>wellpath %s report</title>\n<style>%s</style>\n</head>\n"
                         "<body>\n<h1>wellpath %s report</h1>\n"
                         "<p>%zu run(s). Goodput SLO: %s. Rates are over each scope's measured "
                         "span (first start to last end).</p>\n",
                         mode, css, mode, r->n_runs, slo);
}

/* A paragraph per run that had a warm-up. */
static wp_status_t page_warmup(wp_buf_t *out, const wp_report_t *r)
{
    wp_status_t st = WP_OK;
    for (size_t i = 0; i < r->n_runs && st == WP_OK; i++) {
        char text[200];
        if (!wp__report_warmup_text(text, sizeof(text), r->runs[i]))
            continue;
        st = wp_buf_puts(out, "<p>Warm-up, ");
        if (st == WP_OK)
            st = esc(out, r->runs[i]->policy);
        if (st == WP_OK)
            st = wp_buf_printf(out, ": %s.</p>\n", text);
    }
    return st;
}

static wp_status_t page_workload(wp_buf_t *out, const wp_report_t *r)
{
    char *text = cJSON_Print(r->workload);
    if (text == NULL)
        return WP_ENOMEM;
    wp_status_t st = wp_buf_puts(out, "<h2>Workload</h2>\n<pre>");
    if (st == WP_OK)
        st = esc(out, text);
    free(text);
    return st == WP_OK ? wp_buf_puts(out, "</pre>\n</body>\n</html>\n") : st;
}

static void page_free(page_t *pg)
{
    if (pg->metrics != NULL)
        for (size_t i = 0; i < pg->r->n_runs; i++)
            free(pg->metrics[i]);
    free(pg->metrics);
}

static wp_status_t page_init(page_t *pg, wp_report_t *r, wp_err_t *err)
{
    pg->r = r;
    pg->max_stages = 1;
    pg->metrics = calloc(r->n_runs ? r->n_runs : 1, sizeof(*pg->metrics));
    if (pg->metrics == NULL)
        return wp_err_set(err, WP_ENOMEM, "report: out of memory");
    for (size_t i = 0; i < r->n_runs; i++) {
        wp_report_run_t *run = r->runs[i];
        if (run->n_stages > pg->max_stages)
            pg->max_stages = run->n_stages;
        pg->metrics[i] = calloc(run->n_stages + 1, sizeof(wp_report_metrics_t));
        if (pg->metrics[i] == NULL)
            return wp_err_set(err, WP_ENOMEM, "report: out of memory");
        for (size_t s = 0; s <= run->n_stages; s++) {
            size_t scope = s == run->n_stages ? WP_REPORT_SUMMARY : s;
            wp_status_t st = wp_report_run_metrics(run, scope, &pg->metrics[i][s], err);
            if (st != WP_OK)
                return st;
        }
    }
    return WP_OK;
}

wp_status_t wp_report_write_html(wp_report_t *r, wp_buf_t *out, wp_err_t *err)
{
    page_t pg;
    wp_status_t st = page_init(&pg, r, err);
    if (st == WP_OK) {
        st = page_head(out, r);
        if (st == WP_OK)
            st = page_warmup(out, r);
        if (st == WP_OK)
            st = chart_cdf(out, &pg);
        if (st == WP_OK)
            st = chart_bars(out, &pg, "Output throughput per stage", "output tokens/s",
                            get_out_toks);
        if (st == WP_OK)
            st = chart_bars(out, &pg, "TTFT p90 per stage", "TTFT p90 (s)", get_ttft_p90);
        if (st == WP_OK)
            st = tables(out, &pg);
        if (st == WP_OK)
            st = page_workload(out, r);
        if (st != WP_OK)
            wp_err_set(err, st, "report: HTML does not fit the output buffer");
    }
    page_free(&pg);
    return st;
}
