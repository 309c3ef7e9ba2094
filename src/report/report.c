/*
 * report/report: the report's containers — runs, request records, ITL samples — the SLO
 * parser and the invariant check.
 *
 * wp_report_add checks a result completely before touching the run, so a rejected result
 * leaves no trace. A completed request's gaps go into its stage's sample set while the
 * run's ITL total stays under the cap; gaps past the cap (or that fail to allocate) are
 * counted as dropped, but the
 * request's mean ITL (used by goodput) is always computed from all of its gaps. Failed
 * requests keep their record (for counts, failure kinds and the measured span) but
 * contribute no latency samples. Records grow by doubling up to max_requests.
 */
#include "report/report_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"

static const char *const outcome_names[WP_REPORT_OUTCOME_COUNT] = {
    "ok", "http_4xx", "http_5xx", "connect", "timeout", "stream_error", "bad_response", "aborted",
};

const char *wp_report_outcome_name(wp_report_outcome_t o)
{
    if ((int)o < 0 || o >= WP_REPORT_OUTCOME_COUNT)
        return "?";
    return outcome_names[o];
}

const char *wp__report_mode_name(wp_report_mode_t mode)
{
    return mode == WP_REPORT_MODE_SIMULATE ? "simulate" : "bench";
}

/* ---- SLO ---------------------------------------------------------------------------- */

void wp_report_slo_none(wp_report_slo_t *slo)
{
    slo->ttft_s = INFINITY;
    slo->itl_s = INFINITY;
    slo->tpot_s = INFINITY;
    slo->e2e_s = INFINITY;
}

bool wp_report_slo_is_set(const wp_report_slo_t *slo)
{
    return isfinite(slo->ttft_s) || isfinite(slo->itl_s) || isfinite(slo->tpot_s) ||
           isfinite(slo->e2e_s);
}

static double *slo_field(wp_report_slo_t *slo, wp_str_t key)
{
    if (wp_str_eq_cstr(key, "ttft"))
        return &slo->ttft_s;
    if (wp_str_eq_cstr(key, "itl"))
        return &slo->itl_s;
    if (wp_str_eq_cstr(key, "tpot"))
        return &slo->tpot_s;
    if (wp_str_eq_cstr(key, "e2e"))
        return &slo->e2e_s;
    return NULL;
}

/* Parses "0.2", "0.2s" or "200ms" into seconds. */
static wp_status_t slo_value(wp_str_t v, double *out)
{
    double scale = 1.0;
    if (v.n > 2 && v.p[v.n - 2] == 'm' && v.p[v.n - 1] == 's') {
        scale = 1e-3;
        v.n -= 2;
    } else if (v.n > 1 && v.p[v.n - 1] == 's') {
        v.n -= 1;
    }
    double d;
    if (v.n == 0 || wp_parse_double(v.p, v.n, &d) != WP_OK)
        return WP_EINVAL;
    *out = d * scale;
    return WP_OK;
}

/* One "key=value" item starting at byte `at` of the spec. */
static wp_status_t slo_item(wp_report_slo_t *slo, wp_str_t item, size_t at, wp_err_t *err)
{
    const char *eq = memchr(item.p, '=', item.n);
    if (item.n == 0)
        return wp_err_set(err, WP_EINVAL, "SLO spec: empty item at byte %zu", at);
    if (eq == NULL)
        return wp_err_set(err, WP_EINVAL, "SLO spec: item '%.*s' at byte %zu: expected key=value",
                          (int)item.n, item.p, at);
    wp_str_t key = {item.p, (size_t)(eq - item.p)};
    wp_str_t val = {eq + 1, item.n - key.n - 1};
    double *f = slo_field(slo, key);
    if (f == NULL)
        return wp_err_set(err, WP_EINVAL,
                          "SLO spec: unknown key '%.*s' at byte %zu (expected ttft, itl, tpot "
                          "or e2e)",
                          (int)key.n, key.p, at);
    if (isfinite(*f))
        return wp_err_set(err, WP_EINVAL, "SLO spec: key '%.*s' given twice (byte %zu)", (int)key.n,
                          key.p, at);
    double d;
    if (slo_value(val, &d) != WP_OK || !isfinite(d) || d <= 0)
        return wp_err_set(err, WP_EINVAL,
                          "SLO spec: key '%.*s' at byte %zu: '%.*s' is not a positive number of "
                          "seconds (e.g. 0.2, 0.2s, 200ms)",
                          (int)key.n, key.p, at, (int)val.n, val.p);
    *f = d;
    return WP_OK;
}

wp_status_t wp_report_slo_parse(const char *spec, wp_report_slo_t *out, wp_err_t *err)
{
    if (spec == NULL || spec[0] == '\0')
        return wp_err_set(err, WP_EINVAL, "SLO spec is empty (expected e.g. ttft=0.2,itl=0.05)");
    wp_report_slo_t slo;
    wp_report_slo_none(&slo);
    size_t n = strlen(spec);
    size_t at = 0;
    while (at <= n) {
        const char *comma = memchr(spec + at, ',', n - at);
        size_t end = comma ? (size_t)(comma - spec) : n;
        wp_status_t st = slo_item(&slo, (wp_str_t){spec + at, end - at}, at, err);
        if (st != WP_OK)
            return st;
        at = end + 1;
    }
    *out = slo;
    return WP_OK;
}

/* ---- report and runs ------------------------------------------------------------------ */

wp_status_t wp_report_create(wp_report_t **out, wp_report_mode_t mode, const char *workload_json,
                             const wp_report_slo_t *slo, const wp_report_limits_t *limits,
                             wp_err_t *err)
{
    *out = NULL;
    if (mode != WP_REPORT_MODE_BENCH && mode != WP_REPORT_MODE_SIMULATE)
        return wp_err_set(err, WP_EINVAL, "report: unknown mode %d", (int)mode);
    cJSON *wl = workload_json ? cJSON_Parse(workload_json) : cJSON_CreateObject();
    if (wl == NULL)
        return workload_json ? wp_err_set(err, WP_EINVAL, "report: workload is not valid JSON")
                             : wp_err_set(err, WP_ENOMEM, "report: out of memory");
    wp_report_t *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        cJSON_Delete(wl);
        return wp_err_set(err, WP_ENOMEM, "report: out of memory");
    }
    r->mode = mode;
    r->workload = wl;
    if (slo != NULL)
        r->slo = *slo;
    else
        wp_report_slo_none(&r->slo);
    if (limits != NULL)
        r->limits = *limits;
    if (r->limits.max_requests == 0)
        r->limits.max_requests = WP_REPORT_DEFAULT_MAX_REQUESTS;
    if (r->limits.max_itl_samples == 0)
        r->limits.max_itl_samples = WP_REPORT_DEFAULT_MAX_ITL_SAMPLES;
    *out = r;
    return WP_OK;
}

static void run_free(wp_report_run_t *run)
{
    if (run == NULL)
        return;
    if (run->itl != NULL)
        for (size_t i = 0; i < run->n_stages; i++)
            wp_stats_samples_free(&run->itl[i]);
    free(run->itl);
    free(run->server_hit);
    free(run->recs);
    free(run->stages);
    free(run->policy);
    free(run);
}

void wp_report_free(wp_report_t *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_runs; i++)
        run_free(r->runs[i]);
    free(r->runs);
    cJSON_Delete(r->workload);
    free(r);
}

static wp_report_run_t *run_new(const wp_report_t *r, const char *policy,
                                const wp_report_stage_t *stages, size_t n_stages)
{
    wp_report_run_t *run = calloc(1, sizeof(*run));
    if (run == NULL)
        return NULL;
    run->owner = r;
    run->n_stages = n_stages;
    run->policy = strdup(policy);
    run->stages = malloc(n_stages * sizeof(*stages));
    run->itl = malloc(n_stages * sizeof(*run->itl));
    run->server_hit = malloc((n_stages + 1) * sizeof(double));
    if (!run->policy || !run->stages || !run->itl || !run->server_hit) {
        free(run->itl);
        run->itl = NULL;
        run_free(run);
        return NULL;
    }
    memcpy(run->stages, stages, n_stages * sizeof(*stages));
    for (size_t i = 0; i < n_stages; i++)
        wp_stats_samples_init(&run->itl[i], r->limits.max_itl_samples);
    for (size_t i = 0; i <= n_stages; i++)
        run->server_hit[i] = NAN;
    run->warmup.end_s = NAN;
    return run;
}

wp_status_t wp_report_run_add(wp_report_t *r, const char *policy, const wp_report_stage_t *stages,
                              size_t n_stages, wp_report_run_t **out, wp_err_t *err)
{
    *out = NULL;
    if (policy == NULL || policy[0] == '\0' || strlen(policy) > WP_REPORT_MAX_POLICY_LEN)
        return wp_err_set(err, WP_EINVAL, "report: policy name must be 1 to %d bytes",
                          WP_REPORT_MAX_POLICY_LEN);
    if (stages == NULL || n_stages == 0 || n_stages > WP_REPORT_MAX_STAGES)
        return wp_err_set(err, WP_EINVAL, "report: run '%s' needs 1 to %d stages", policy,
                          WP_REPORT_MAX_STAGES);
    if (r->n_runs >= WP_REPORT_MAX_RUNS)
        return wp_err_set(err, WP_ELIMIT, "report: more than %d runs", WP_REPORT_MAX_RUNS);
    wp_report_run_t **runs = realloc(r->runs, (r->n_runs + 1) * sizeof(*runs));
    if (runs == NULL)
        return wp_err_set(err, WP_ENOMEM, "report: out of memory");
    r->runs = runs;
    wp_report_run_t *run = run_new(r, policy, stages, n_stages);
    if (run == NULL)
        return wp_err_set(err, WP_ENOMEM, "report: out of memory");
    r->runs[r->n_runs++] = run;
    *out = run;
    return WP_OK;
}

size_t wp_report_run_count(const wp_report_t *r)
{
    return r->n_runs;
}

wp_report_run_t *wp_report_run_get(wp_report_t *r, size_t i)
{
    return i < r->n_runs ? r->runs[i] : NULL;
}

const char *wp_report_run_policy(const wp_report_run_t *run)
{
    return run->policy;
}

size_t wp_report_run_stage_count(const wp_report_run_t *run)
{
    return run->n_stages;
}

uint64_t wp_report_run_itl_dropped(const wp_report_run_t *run)
{
    return run->itl_dropped;
}

wp_report_warmup_t wp_report_run_warmup(const wp_report_run_t *run)
{
    return run->warmup;
}

/* ---- adding results ------------------------------------------------------------------- */

static bool time_ok(double t)
{
    return isfinite(t) && t >= 0;
}

static wp_status_t check_result(const wp_report_run_t *run, const wp_report_result_t *res,
                                wp_err_t *err)
{
    if (res->stage >= run->n_stages)
        return wp_err_set(err, WP_EINVAL, "report: stage %zu out of range (run has %zu)",
                          res->stage, run->n_stages);
    if ((int)res->outcome < 0 || res->outcome >= WP_REPORT_OUTCOME_COUNT)
        return wp_err_set(err, WP_EINVAL, "report: unknown outcome %d", (int)res->outcome);
    if (!time_ok(res->start_s) || !time_ok(res->e2e_s))
        return wp_err_set(err, WP_EINVAL, "report: start and e2e must be finite and >= 0");
    if (res->cached_tokens > res->prompt_tokens)
        return wp_err_set(err, WP_EINVAL, "report: cached tokens %u > prompt tokens %u",
                          res->cached_tokens, res->prompt_tokens);
    if (res->outcome != WP_REPORT_OK)
        return WP_OK;
    if (!time_ok(res->ttft_s) || res->e2e_s < res->ttft_s)
        return wp_err_set(err, WP_EINVAL, "report: a completed request needs 0 <= ttft <= e2e");
    if (res->n_itl > 0 && res->itl_s == NULL)
        return wp_err_set(err, WP_EINVAL, "report: %zu ITL gaps but no array", res->n_itl);
    for (size_t i = 0; i < res->n_itl; i++)
        if (!time_ok(res->itl_s[i]))
            return wp_err_set(err, WP_EINVAL, "report: ITL gap %zu is not finite and >= 0", i);
    return WP_OK;
}

static wp_status_t grow_recs(wp_report_run_t *run, wp_err_t *err)
{
    size_t max = run->owner->limits.max_requests;
    if (run->n_recs >= max)
        return wp_err_set(err, WP_ELIMIT, "report: run '%s' holds %zu requests (the cap)",
                          run->policy, max);
    if (run->n_recs < run->cap_recs)
        return WP_OK;
    size_t cap = run->cap_recs ? run->cap_recs * 2 : 256;
    if (cap > max)
        cap = max;
    wp__report_rec_t *p = realloc(run->recs, cap * sizeof(*p));
    if (p == NULL)
        return wp_err_set(err, WP_ENOMEM, "report: out of memory");
    run->recs = p;
    run->cap_recs = cap;
    return WP_OK;
}

/* Stores the gaps while the run's cap (and memory) allow; the rest are counted as dropped. */
static void store_gaps(wp_report_run_t *run, const wp_report_result_t *res)
{
    wp_stats_samples_t *s = &run->itl[res->stage];
    size_t room = run->owner->limits.max_itl_samples - run->itl_total;
    size_t keep = res->n_itl < room ? res->n_itl : room;
    size_t i = 0;
    while (i < keep && wp_stats_samples_add(s, res->itl_s[i]) == WP_OK)
        i++;
    run->itl_total += i;
    run->itl_dropped += res->n_itl - i;
}

/* The largest of v[0..n); NaN when n is 0. */
static double max_of(const double *v, size_t n)
{
    double m = NAN;
    for (size_t i = 0; i < n; i++)
        m = i == 0 || v[i] > m ? v[i] : m;
    return m;
}

static double mean_of(const double *v, size_t n)
{
    if (n == 0)
        return NAN;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    return sum / (double)n;
}

wp_status_t wp_report_add(wp_report_run_t *run, const wp_report_result_t *res, wp_err_t *err)
{
    wp_status_t st = check_result(run, res, err);
    if (st == WP_OK && res->warmup) {
        double end = res->start_s + res->e2e_s;
        run->warmup.requests++;
        run->warmup.failed += res->outcome != WP_REPORT_OK;
        run->warmup.end_s = fmax(run->warmup.end_s, end); /* NaN: none before */
        return WP_OK;
    }
    if (st == WP_OK)
        st = grow_recs(run, err);
    if (st != WP_OK)
        return st;
    bool ok = res->outcome == WP_REPORT_OK;
    if (ok)
        store_gaps(run, res);
    run->recs[run->n_recs++] = (wp__report_rec_t){
        .start_s = res->start_s,
        .ttft_s = ok ? res->ttft_s : NAN,
        .e2e_s = res->e2e_s,
        .mean_itl_s = ok ? mean_of(res->itl_s, res->n_itl) : NAN,
        .max_itl_s = ok ? max_of(res->itl_s, res->n_itl) : NAN,
        .n_gaps = ok ? (uint32_t)res->n_itl : 0,
        .stage = (uint32_t)res->stage,
        .prompt_tokens = res->prompt_tokens,
        .output_tokens = res->output_tokens,
        .cached_tokens = res->cached_tokens,
        .outcome = (uint8_t)res->outcome,
    };
    return WP_OK;
}

wp_status_t wp_report_run_set_server_hit_rate(wp_report_run_t *run, size_t stage, double rate,
                                              wp_err_t *err)
{
    if (stage != WP_REPORT_SUMMARY && stage >= run->n_stages)
        return wp_err_set(err, WP_EINVAL, "report: stage %zu out of range", stage);
    if (!(rate >= 0 && rate <= 1))
        return wp_err_set(err, WP_EINVAL, "report: server hit rate %g not in [0,1]", rate);
    run->server_hit[stage == WP_REPORT_SUMMARY ? run->n_stages : stage] = rate;
    return WP_OK;
}

/* ---- invariants ------------------------------------------------------------------------ */

static wp_status_t validate_rec(const wp_report_run_t *run, size_t i, wp_err_t *err)
{
    const wp__report_rec_t *rec = &run->recs[i];
    if (rec->stage >= run->n_stages || rec->outcome >= WP_REPORT_OUTCOME_COUNT)
        return wp_err_set(err, WP_EINVAL, "run '%s' record %zu: bad stage or outcome", run->policy,
                          i);
    if (rec->cached_tokens > rec->prompt_tokens || !time_ok(rec->start_s) || !time_ok(rec->e2e_s))
        return wp_err_set(err, WP_EINVAL, "run '%s' record %zu: bad tokens or times", run->policy,
                          i);
    if (rec->outcome == WP_REPORT_OK && !(rec->ttft_s >= 0 && rec->ttft_s <= rec->e2e_s))
        return wp_err_set(err, WP_EINVAL, "run '%s' record %zu: ttft outside [0, e2e]", run->policy,
                          i);
    return WP_OK;
}

static wp_status_t validate_run(const wp_report_t *r, const wp_report_run_t *run, wp_err_t *err)
{
    if (run->owner != r || run->n_stages == 0 || run->n_recs > run->cap_recs ||
        run->n_recs > r->limits.max_requests)
        return wp_err_set(err, WP_EINVAL, "run '%s': bad owner, stages or record count",
                          run->policy);
    size_t itl = 0;
    for (size_t s = 0; s < run->n_stages; s++) {
        wp_status_t st = wp_stats_samples_validate(&run->itl[s], err);
        if (st != WP_OK)
            return st;
        itl += run->itl[s].n;
    }
    if (itl != run->itl_total || itl > r->limits.max_itl_samples)
        return wp_err_set(err, WP_EINVAL, "run '%s': ITL total %zu != %zu stored or over cap",
                          run->policy, run->itl_total, itl);
    const wp_report_warmup_t *w = &run->warmup;
    if (w->failed > w->requests || (w->requests > 0) != time_ok(w->end_s))
        return wp_err_set(err, WP_EINVAL, "run '%s': warm-up counts or end time broken",
                          run->policy);
    for (size_t i = 0; i < run->n_recs; i++) {
        wp_status_t st = validate_rec(run, i, err);
        if (st != WP_OK)
            return st;
    }
    return WP_OK;
}

wp_status_t wp_report_validate(const wp_report_t *r, wp_err_t *err)
{
    if (r->workload == NULL || r->n_runs > WP_REPORT_MAX_RUNS)
        return wp_err_set(err, WP_EINVAL, "report: no workload or too many runs");
    for (size_t i = 0; i < r->n_runs; i++) {
        wp_status_t st = validate_run(r, r->runs[i], err);
        if (st != WP_OK)
            return st;
    }
    return WP_OK;
}
