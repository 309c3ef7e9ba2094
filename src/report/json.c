/*
 * report/json: the report as JSON, through cJSON.
 *
 * cJSON keeps object members in insertion order, so the key order is the order of the
 * calls below and never depends on data; numbers print as cJSON prints doubles (integral
 * values without a fraction, others with up to 17 significant digits), so identical
 * inputs give byte-identical text. NaN becomes null explicitly. A builder carries an
 * "ok" flag so that one allocation failure anywhere makes the whole tree fail without a
 * check after every call.
 */
#include <math.h>
#include <stdlib.h>

#include "report/report_int.h"

typedef struct {
    bool ok;
} jb_t;

static cJSON *jb_add(jb_t *b, cJSON *obj, const char *key, cJSON *item)
{
    if (item == NULL || !cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        b->ok = false;
        return NULL;
    }
    return item;
}

static void jb_num(jb_t *b, cJSON *obj, const char *key, double v)
{
    jb_add(b, obj, key, isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull());
}

static cJSON *jb_obj(jb_t *b, cJSON *parent, const char *key)
{
    return jb_add(b, parent, key, cJSON_CreateObject());
}

static void put_dist(jb_t *b, cJSON *m, const char *key, const wp_report_dist_t *d)
{
    cJSON *o = jb_obj(b, m, key);
    if (o == NULL)
        return;
    jb_num(b, o, "mean", d->mean);
    jb_num(b, o, "p50", d->p50);
    jb_num(b, o, "p90", d->p90);
    jb_num(b, o, "p95", d->p95);
    jb_num(b, o, "p99", d->p99);
}

static void put_failures(jb_t *b, cJSON *m, const wp_report_metrics_t *mm)
{
    cJSON *f = jb_obj(b, m, "failures");
    for (int k = WP_REPORT_OK + 1; f != NULL && k < WP_REPORT_OUTCOME_COUNT; k++)
        jb_num(b, f, wp_report_outcome_name((wp_report_outcome_t)k), (double)mm->failures[k]);
}

static void put_metrics(jb_t *b, cJSON *parent, const char *key, const wp_report_metrics_t *mm)
{
    cJSON *m = jb_obj(b, parent, key);
    if (m == NULL)
        return;
    jb_num(b, m, "requests", (double)mm->requests);
    jb_num(b, m, "completed", (double)mm->completed);
    jb_num(b, m, "failed", (double)mm->failed);
    put_failures(b, m, mm);
    put_dist(b, m, "ttft_s", &mm->ttft_s);
    put_dist(b, m, "itl_s", &mm->itl_s);
    put_dist(b, m, "tpot_s", &mm->tpot_s);
    put_dist(b, m, "e2e_s", &mm->e2e_s);
    put_dist(b, m, "max_itl_s", &mm->max_itl_s);
    jb_num(b, m, "max_itl_max_s", mm->max_itl_max_s);
    jb_num(b, m, "requests_per_s", mm->requests_per_s);
    jb_num(b, m, "output_tokens_per_s", mm->output_tokens_per_s);
    jb_num(b, m, "total_tokens_per_s", mm->total_tokens_per_s);
    jb_num(b, m, "cache_hit_rate", mm->cache_hit_rate);
    jb_num(b, m, "goodput_requests_per_s", mm->goodput_requests_per_s);
    jb_num(b, m, "server_cache_hit_rate", mm->server_cache_hit_rate);
}

static wp_status_t put_stage(jb_t *b, cJSON *stages, wp_report_run_t *run, size_t s, wp_err_t *err)
{
    wp_report_metrics_t m;
    wp_status_t st = wp_report_run_metrics(run, s, &m, err);
    if (st != WP_OK)
        return st;
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || !cJSON_AddItemToArray(stages, o)) {
        cJSON_Delete(o);
        b->ok = false;
        return WP_OK;
    }
    jb_num(b, o, "rate", run->stages[s].rate);
    jb_num(b, o, "duration_s", run->stages[s].duration_s);
    put_metrics(b, o, "metrics", &m);
    return WP_OK;
}

static wp_status_t put_run(jb_t *b, cJSON *runs, wp_report_run_t *run, wp_err_t *err)
{
    wp_report_metrics_t m;
    wp_status_t st = wp_report_run_metrics(run, WP_REPORT_SUMMARY, &m, err);
    if (st != WP_OK)
        return st;
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || !cJSON_AddItemToArray(runs, o)) {
        cJSON_Delete(o);
        b->ok = false;
        return WP_OK;
    }
    jb_add(b, o, "policy", cJSON_CreateString(run->policy));
    jb_num(b, o, "warmup", (double)run->warmup.requests);
    jb_num(b, o, "warmup_failed", (double)run->warmup.failed);
    jb_num(b, o, "warmup_end_s", run->warmup.end_s);
    put_metrics(b, o, "summary", &m);
    cJSON *c = run->has_cost ? jb_obj(b, o, "cost") : NULL;
    if (c != NULL) {
        jb_num(b, c, "gpu_hours", run->cost.gpu_hours);
        jb_num(b, c, "price_per_gpu_hour", run->cost.price_per_gpu_hour);
        jb_num(b, c, "cost", run->cost.cost);
        jb_num(b, c, "cost_per_mtok", run->cost.cost_per_mtok);
        jb_num(b, c, "idle_share", run->cost.idle_share);
        jb_num(b, c, "attainment", run->cost.attainment);
    }
    cJSON *stages = jb_add(b, o, "stages", cJSON_CreateArray());
    for (size_t s = 0; stages != NULL && s < run->n_stages && st == WP_OK; s++)
        st = put_stage(b, stages, run, s, err);
    return st;
}

cJSON *wp_report_to_json(wp_report_t *r, wp_err_t *err)
{
    jb_t b = {.ok = true};
    cJSON *root = cJSON_CreateObject();
    if (root == NULL) {
        wp_err_set(err, WP_ENOMEM, "report: out of memory building JSON");
        return NULL;
    }
    jb_add(&b, root, "tool", cJSON_CreateString("wellpath"));
    jb_add(&b, root, "mode", cJSON_CreateString(wp__report_mode_name(r->mode)));
    jb_add(&b, root, "workload", cJSON_Duplicate(r->workload, true));
    cJSON *runs = jb_add(&b, root, "runs", cJSON_CreateArray());
    wp_status_t st = WP_OK;
    for (size_t i = 0; runs != NULL && i < r->n_runs && st == WP_OK; i++)
        st = put_run(&b, runs, r->runs[i], err);
    if (st != WP_OK || !b.ok) {
        cJSON_Delete(root);
        if (st == WP_OK)
            wp_err_set(err, WP_ENOMEM, "report: out of memory building JSON");
        return NULL;
    }
    return root;
}

wp_status_t wp_report_write_json(wp_report_t *r, wp_buf_t *out, bool pretty, wp_err_t *err)
{
    cJSON *root = wp_report_to_json(r, err);
    if (root == NULL)
        return WP_ENOMEM;
    char *text = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (text == NULL)
        return wp_err_set(err, WP_ENOMEM, "report: out of memory printing JSON");
    wp_status_t st = wp_buf_puts(out, text);
    if (st == WP_OK && pretty)
        st = wp_buf_puts(out, "\n");
    free(text);
    if (st != WP_OK)
        return wp_err_set(err, st, "report: JSON does not fit the output buffer");
    return WP_OK;
}
