/*
 * plan/html: the plan as one self-contained HTML page (no script, no outside resource):
 * the facts, the guide's tree, the ranking with each verdict.
 */
#include "plan/plan.h"

#include <math.h>
#include <stdio.h>

static void cell(wp_buf_t *b, const char *text)
{
    wp_buf_puts(b, "<td>");
    wp_buf_html_escape(b, text);
    wp_buf_puts(b, "</td>");
}

static void num(wp_buf_t *b, const char *fmt, double x)
{
    char s[64];
    snprintf(s, sizeof(s), fmt, x);
    cell(b, isfinite(x) ? s : "-");
}

static void row(wp_buf_t *b, size_t rank, const wp_plan_result_t *r)
{
    wp_buf_printf(b, "<tr%s><td>%zu</td>", rank == 1 ? " class=best" : "", rank);
    cell(b, r->cand.label);
    cell(b, wp_plan_path_name(r->cand.path));
    num(b, "%.0f", r->gpus);
    num(b, "%.3g", r->offered_rps);
    num(b, "%.4f", r->goodput_per_gpu);
    num(b, "%.1f", r->output_tps / (r->gpus ? r->gpus : 1));
    num(b, "%.3f", r->ttft_p90);
    num(b, "%.1f", r->itl_p50 * 1e3);
    cell(b, r->verdict);
    wp_buf_puts(b, "</tr>\n");
}

void wp_plan_write_html(const wp_plan_facts_t *f, const wp_plan_decision_t *d,
                        const wp_plan_result_t *r, size_t n, wp_buf_t *b)
{
    wp_buf_puts(b, "<!doctype html><html><head><meta charset=utf-8><title>wellpath plan</title>"
                   "<style>body{font:14px sans-serif;margin:2em}td,th{padding:2px 8px;"
                   "border-bottom:1px solid #ddd;text-align:left}.best{background:#e8f5e9}"
                   "</style></head><body>\n<h1>wellpath plan: ");
    wp_buf_html_escape(b, f->model->name);
    wp_buf_printf(b, " on %d x ", f->gpus);
    wp_buf_html_escape(b, f->gpu->name);
    wp_buf_printf(b,
                  "</h1>\n<p>%zu requests; ISL p50 %.0f, p90 %.0f tokens; OSL p50 %.0f; "
                  "prefix reuse %.0f %%</p>\n<h2>The guide's decision tree</h2><ul>\n",
                  f->requests, f->isl_p50, f->isl_p90, f->osl_p50, 100 * f->prefix_reuse);
    for (int i = 0; i < d->n_why; i++) {
        wp_buf_puts(b, "<li>");
        wp_buf_html_escape(b, d->why[i]);
        wp_buf_puts(b, "</li>\n");
    }
    wp_buf_puts(b, "</ul><p>=&gt; ");
    wp_buf_html_escape(b, wp_plan_path_name(d->path));
    wp_buf_puts(b, "</p>\n<h2>Candidates, best first</h2><table><tr><th>rank</th><th>candidate"
                   "</th><th>path</th><th>GPUs</th><th>rate req/s</th><th>goodput/GPU</th>"
                   "<th>out tok/s/GPU</th><th>TTFT p90 s</th><th>ITL p50 ms</th><th>verdict</th>"
                   "</tr>\n");
    for (size_t i = 0; i < n; i++)
        row(b, i + 1, &r[i]);
    wp_buf_puts(b, "</table></body></html>\n");
}
