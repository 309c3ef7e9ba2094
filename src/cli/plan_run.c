/*
 * cli/plan_run: `wellpath plan` after its options. Measure the workload, decide as the
 * guide does, simulate every candidate (jobs at once, each its own workload generator,
 * report and des run: nothing shared but read-only catalogs), rank, print, write.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "bench/bench.h"
#include "cli/desconf.h"
#include "cli/plan_int.h"
#include "report/cost.h"
#include "os/file.h"
#include "plan/manifest.h"
#include "report/report.h"
#include "stats/stats.h"

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Scale-to-zero: how long a pool idles before it scales down (KEDA's default cooldown). */
#define SCALE_TO_ZERO_WINDOW_S 300.0
/* Host memory for CPU KV offload, GiB per GPU of a server: a DGX/HGX H100 node has 2 TiB for
 * its 8 GPUs (docs/cost-levers.md); a quarter of that share, leaving the rest to the OS and
 * the weights' staging. */
#define OFFLOAD_GIB_PER_GPU 64.0

/* ---- the facts ---- */

static wp_status_t measure(plan_t *p, wp_err_t *err)
{
    wp_workload_t *wl = wp_workload_new(&p->run.spec, &p->trace, err);
    wp_plan_reuse_t *reuse = wp_plan_reuse_new();
    if (wl == NULL || reuse == NULL ||
        wp_workload_set_vocab(wl, (uint32_t)p->model->vocab) != WP_OK) {
        wp_workload_free(wl);
        wp_plan_reuse_free(reuse);
        return err->msg[0] ? WP_EINVAL : wp_err_set(err, WP_ENOMEM, "out of memory");
    }
    wp_stats_samples_t isl, osl;
    wp_stats_samples_init(&isl, 0);
    wp_stats_samples_init(&osl, 0);
    double *arrivals = NULL;
    size_t n_arr = 0, cap_arr = 0;
    wp_workload_req_t q;
    while (wp_workload_next(wl, &q) == WP_OK) {
        if (q.arrival_s >= 0)
            wp_stats_append(&arrivals, &n_arr, &cap_arr, q.arrival_s);
        wp_stats_samples_add(&isl, (double)q.prompt_tokens);
        wp_stats_samples_add(&osl, (double)q.max_tokens);
        wp_plan_reuse_add(reuse, q.ids, q.n_ids);
    }
    wp_plan_facts_t *f = &p->facts;
    *f = (wp_plan_facts_t){.model = p->model,
                           .gpu = p->gpu,
                           .gpus = p->gpus,
                           .min_tp = wp_plan_min_tp(p->model, p->gpu),
                           .requests = wp_stats_samples_count(&isl),
                           .isl_p50 = wp_stats_samples_quantile(&isl, 0.5),
                           .isl_p90 = wp_stats_samples_quantile(&isl, 0.9),
                           .osl_p50 = wp_stats_samples_quantile(&osl, 0.5),
                           .prefix_reuse = wp_plan_reuse_ratio(reuse)};
    wp_perf_t perf;
    if (wp_perf_init_shape(&perf, p->model, p->gpu, 1, NULL, NULL) == WP_OK)
        f->weight_gb = perf.weight_bytes / 1e9;
    p->idle_share = wp_plan_idle_share(arrivals, n_arr, SCALE_TO_ZERO_WINDOW_S);
    free(arrivals);
    wp_stats_samples_free(&isl);
    wp_stats_samples_free(&osl);
    wp_plan_reuse_free(reuse);
    wp_workload_free(wl);
    return WP_OK;
}

static void print_decision(const plan_t *p)
{
    const wp_plan_facts_t *f = &p->facts;
    printf("wellpath plan: %s on %d x %s, %zu requests of the workload\n", p->model->name, p->gpus,
           p->gpu->name, f->requests);
    printf("the guide's decision tree:\n");
    for (int i = 0; i < p->decision.n_why; i++)
        printf("  - %s\n", p->decision.why[i]);
    printf("  => %s\n", wp_plan_path_name(p->decision.path));
}

/* ---- one candidate ---- */

static void deploy_of(const plan_t *p, const wp_plan_candidate_t *c, bool prefix_caching,
                      wp_plan_deploy_t *d)
{
    *d = (wp_plan_deploy_t){.name = "wellpath",
                            .namespace_ = "default",
                            .model = p->model,
                            .gpu = p->gpu,
                            .cand = *c,
                            .prefix_caching = prefix_caching,
                            .gpu_memory_utilization = 0.9,
                            .vllm_port = 8000,
                            .gateway_port = 8000,
                            .keda = true,         /* scaling on the gateway's queue */
                            .gateway_api = true}; /* and an InferencePool for Gateway API users */
}

/* The candidate's metrics from one des run of the workload (spec) on its topology text. */
static wp_status_t simulate(const plan_t *p, const wp_workload_spec_t *spec,
                            const wp_plan_deploy_t *d, wp_plan_result_t *r, wp_err_t *err)
{
    wp_buf_t yaml;
    wp_buf_init(&yaml, 0);
    wp_topology_t topo;
    wp_status_t st = wp_plan_topology_yaml(d, NULL, &yaml, err);
    if (st == WP_OK)
        st = wp_topology_parse(yaml.data, yaml.len, "plan.yaml", &topo, err);
    wp_buf_free(&yaml);
    if (st != WP_OK)
        return st;
    wp_des_config_t *dc = malloc(sizeof(*dc));
    wp_cli_engine_models_t *em = malloc(sizeof(*em));
    wp_report_t *rep = NULL;
    wp_workload_t *wl = NULL;
    const wp_model_spec_t *m;
    wp_sim_config_t sc;
    if (dc == NULL || em == NULL)
        st = wp_err_set(err, WP_ENOMEM, "out of memory");
    if (st == WP_OK) {
        wp_des_config_default(dc);
        st = wp_cli_des_configure(&topo, 0, dc, &sc, em, &m, err);
    }
    wp_topology_free(&topo);
    if (st == WP_OK)
        st = wp_report_create(&rep, WP_REPORT_MODE_SIMULATE, NULL, &p->run.slo, NULL, err);
    if (st == WP_OK && (wl = wp_workload_new(spec, &p->trace, err)) == NULL)
        st = WP_EINVAL;
    wp_report_run_t *run = NULL;
    wp_report_stage_t stage = {NAN, NAN};
    if (st == WP_OK)
        st = wp_report_run_add(rep, r->cand.label, &stage, 1, &run, err);
    wp_des_stats_t stats;
    if (st == WP_OK)
        st = wp_des_run(dc, wl, run, NULL, NULL, &stats, err);
    wp_report_metrics_t mt;
    if (st == WP_OK && (st = wp_report_run_metrics(run, WP_REPORT_SUMMARY, &mt, err)) == WP_OK) {
        r->goodput_rps = mt.goodput_requests_per_s;
        r->output_tps = mt.output_tokens_per_s;
        r->ttft_p90 = mt.ttft_s.p90;
        r->itl_p50 = mt.itl_s.p50;
        r->tpot_p90 = mt.tpot_s.p90;
        r->e2e_p90 = mt.e2e_s.p90;
        r->requests = mt.requests;
        r->failed = mt.failed;
        r->attainment = mt.requests ? (double)mt.good / (double)mt.requests : 0.0;
        wp_cost_report_t cr;
        wp_cost_compute(
            &(wp_cost_price_t){0},
            &(wp_cost_usage_t){.up_gpu_s = stats.up_gpu_s, .busy_gpu_s = stats.busy_gpu_s}, &cr);
        r->idle_share = cr.idle_share;
    }
    wp_workload_free(wl);
    wp_report_free(rep);
    free(dc);
    free(em);
    return st;
}

/* The workload at another rate. A fixed number of requests at a higher rate is a shorter
 * burst, which a large batch absorbs: the run keeps the workload's duration instead (more
 * requests at a higher rate), so each rate is held for as long as the workload lasts. */
static void spec_at(const plan_t *p, double rate, wp_workload_spec_t *spec)
{
    *spec = p->run.spec;
    double base_rate = spec->load.rate, base_n = (double)spec->load.num_requests;
    spec->load.rate = rate;
    if (base_n > 0)
        spec->load.num_requests = (int64_t)ceil(base_n * fmax(1.0, rate / base_rate));
}

static bool open_loop(const wp_workload_spec_t *s)
{
    return (s->load.type == WP_WORKLOAD_LOAD_POISSON ||
            s->load.type == WP_WORKLOAD_LOAD_CONSTANT) &&
           s->load.rate > 0;
}

/* Open-loop loads: the highest rate the candidate sustains (plan/sweep), its metrics those
 * of the best sustained run (of the last one when none was). Other loads: one run. */
static wp_status_t sweep(const plan_t *p, const wp_plan_deploy_t *d, wp_plan_result_t *r,
                         wp_err_t *err)
{
    wp_workload_spec_t spec = p->run.spec;
    if (!open_loop(&spec)) {
        r->offered_rps = NAN;
        r->runs = 1;
        return simulate(p, &spec, d, r, err);
    }
    wp_plan_sweep_t sw;
    wp_plan_sweep_init(&sw, spec.load.rate);
    wp_plan_result_t best = *r, last = *r;
    bool any = false;
    double rate;
    while (wp_plan_sweep_next(&sw, &rate)) {
        spec_at(p, rate, &spec);
        wp_status_t st = simulate(p, &spec, d, &last, err);
        if (st != WP_OK)
            return st;
        last.offered_rps = rate;
        last.goodput_rps = rate * last.attainment; /* the rate, not the drain's tail */
        bool ok = wp_plan_sustains(last.attainment, last.failed);
        wp_plan_sweep_report(&sw, ok);
        if (ok && (!any || rate > best.offered_rps)) {
            best = last;
            any = true;
        }
    }
    *r = any ? best : last;
    r->runs = sw.runs;
    return WP_OK;
}

static void run_one(const plan_t *p, wp_plan_result_t *r)
{
    wp_plan_deploy_t d;
    deploy_of(p, &r->cand, true, &d);
    wp_err_t err = {{0}};
    r->gpus = wp_plan_candidate_gpus(&r->cand);
    r->ran = sweep(p, &d, r, &err) == WP_OK;
    if (!r->ran)
        snprintf(r->error, sizeof(r->error), "%.*s", (int)sizeof(r->error) - 1, err.msg);
}

/* ---- every candidate, jobs at once ---- */

typedef struct pool_s {
    plan_t *p;
    pthread_mutex_t mu;
    size_t next, done;
    double t0;
} pool_t;

static void *worker(void *arg)
{
    pool_t *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        size_t i = w->next++;
        pthread_mutex_unlock(&w->mu);
        if (i >= w->p->n)
            return NULL;
        run_one(w->p, &w->p->results[i]);
        pthread_mutex_lock(&w->mu);
        w->done++;
        if (w->p->run.progress)
            fprintf(stderr, "\rplan: %zu/%zu candidates simulated (%.1f s)", w->done, w->p->n,
                    wall_s() - w->t0);
        pthread_mutex_unlock(&w->mu);
    }
}

static void run_all(plan_t *p)
{
    pool_t w = {.p = p, .t0 = wall_s()};
    pthread_mutex_init(&w.mu, NULL);
    int n = p->jobs < (int)p->n ? p->jobs : (int)p->n;
    pthread_t th[256];
    int started = 0;
    for (int i = 0; i < n && i < 256; i++)
        if (pthread_create(&th[i], NULL, worker, &w) == 0)
            started++;
    if (started == 0)
        worker(&w);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&w.mu);
    if (p->run.progress)
        fputc('\n', stderr);
    fprintf(stderr, "plan: %zu candidates simulated in %.1f s on %d threads\n", p->n,
            wall_s() - w.t0, started ? started : 1);
}

/* ---- the answer ---- */

static void print_ranking(const plan_t *p)
{
    printf("\n%-4s %-24s %-4s %4s %9s %11s %13s %9s %8s  %s\n", "rank", "candidate", "path", "GPUs",
           "rate req/s", "goodput/GPU", "out tok/s/GPU", "TTFT p90", "ITL p50", "verdict");
    for (size_t i = 0; i < p->n; i++) {
        const wp_plan_result_t *r = &p->results[i];
        printf("%-4zu %-24s %-4d %4d %9.3g %11.4f %13.1f %8.3fs %6.1fms  %s\n", i + 1,
               r->cand.label, (int)r->cand.path, r->gpus, r->offered_rps, r->goodput_per_gpu,
               r->output_tps / (r->gpus ? r->gpus : 1), r->ttft_p90, r->itl_p50 * 1e3, r->verdict);
    }
}

/* "<goodput>/GPU, <cost>/Mtok" for a lever's line. */
static void figures(const plan_t *p, const wp_plan_result_t *r, char *out, size_t cap)
{
    double per_gpu = r->goodput_rps / (r->gpus ? r->gpus : 1);
    double cost = wp_plan_cost_per_mtok(r->gpus, p->price, r->output_tps);
    if (p->price > 0 && isfinite(cost))
        snprintf(out, cap, "%.3g req/s per GPU, %.4f per million output tokens, TTFT p90 %.3g s",
                 per_gpu, cost, r->ttft_p90);
    else
        snprintf(out, cap, "%.3g req/s per GPU, %.1f output tok/s per GPU, TTFT p90 %.3g s",
                 per_gpu, r->output_tps / (r->gpus ? r->gpus : 1), r->ttft_p90);
}

/* The winner b's workload at its rate (the plan's own when it had none), on deployment d:
 * a lever's variant of the winner. */
static wp_status_t resimulate(const plan_t *p, const wp_plan_result_t *b, const wp_plan_deploy_t *d,
                              wp_plan_result_t *out, wp_err_t *err)
{
    *out = *b;
    wp_workload_spec_t spec;
    double rate = isfinite(b->offered_rps) ? b->offered_rps : p->run.spec.load.rate;
    spec_at(p, rate, &spec);
    if (!isfinite(b->offered_rps))
        spec = p->run.spec;
    wp_status_t st = simulate(p, &spec, d, out, err);
    if (st == WP_OK && isfinite(b->offered_rps))
        out->goodput_rps = rate * out->attainment;
    return st;
}

/* Prefix caching: the winner again at its rate, without it. */
static void lever_prefix(const plan_t *p, const wp_plan_result_t *b)
{
    wp_plan_deploy_t d;
    deploy_of(p, &b->cand, false, &d);
    wp_plan_result_t off;
    wp_err_t err = {{0}};
    if (resimulate(p, b, &d, &off, &err) != WP_OK) {
        printf("  prefix caching: not measured (%s)\n", err.msg);
        return;
    }
    char on_s[160], off_s[160];
    figures(p, b, on_s, sizeof(on_s));
    figures(p, &off, off_s, sizeof(off_s));
    printf("  prefix caching (measured reuse %.0f %%): on %s; off %s, %.0f %% of requests within "
           "the objectives\n",
           100 * p->facts.prefix_reuse, on_s, off_s, 100 * off.attainment);
}

/* CPU KV offload: the winner again with a tier of host memory per server, as much as a GPU
 * node commonly has beside each GPU (OFFLOAD_GIB_PER_GPU; docs/cost-levers.md). */
static void lever_offload(const plan_t *p, const wp_plan_result_t *b)
{
    wp_plan_deploy_t d;
    deploy_of(p, &b->cand, true, &d);
    int gpus = b->cand.pd ? b->cand.decode.tensor_parallel : b->cand.pool.tensor_parallel;
    d.kv_offloading_size = OFFLOAD_GIB_PER_GPU * (gpus > 0 ? gpus : 1);
    wp_plan_result_t on;
    wp_err_t err = {{0}};
    if (resimulate(p, b, &d, &on, &err) != WP_OK) {
        printf("  CPU KV offload: not measured (%s)\n", err.msg);
        return;
    }
    char on_s[160];
    figures(p, &on, on_s, sizeof(on_s));
    printf("  CPU KV offload (vllm.kvOffloadingSize: %g GiB a server): %s, %.0f %% of requests "
           "within the objectives (against %.0f %% without)\n",
           d.kv_offloading_size, on_s, 100 * on.attainment, 100 * b->attainment);
}

/* P/D with TP1 prefill: the best such candidate against the winner. */
static void lever_tp1_prefill(const plan_t *p, const wp_plan_result_t *b)
{
    for (size_t i = 0; i < p->n; i++) {
        const wp_plan_result_t *r = &p->results[i];
        if (!r->cand.pd || r->cand.prefill.tensor_parallel != 1 || r->cand.path != WP_PLAN_PATH_2)
            continue;
        char s[160];
        figures(p, r, s, sizeof(s));
        printf("  P/D with TP1 prefill: best is %s (rank %zu): %s%s\n", r->cand.label, i + 1, s,
               r == b ? ": the plan" : "");
        return;
    }
    printf("  P/D with TP1 prefill: no candidate (the model fits no single GPU)\n");
}

static void print_levers(const plan_t *p)
{
    const wp_plan_result_t *b = &p->results[0];
    char s[160];
    figures(p, b, s, sizeof(s));
    printf("\ncost levers for %s (%s):\n", b->cand.label, s);
    lever_prefix(p, b);
    lever_tp1_prefill(p, b);
    double cost = wp_plan_cost_per_mtok(b->gpus, p->price, b->output_tps);
    bool priced = p->price > 0 && isfinite(cost);
    printf("  scale-to-zero: %.0f %% of the workload's span is gaps over %.0f s between requests"
           "%s",
           100 * p->idle_share, SCALE_TO_ZERO_WINDOW_S,
           p->idle_share > 0 ? "" : ": nothing to save");
    if (p->idle_share > 0 && priced)
        printf(": about %.4f per million output tokens (the first request after each gap waits "
               "for a cold start)",
               cost * (1 - p->idle_share));
    printf("\n");
    if (p->spot > 0 && priced)
        printf("  spot (%.0f %% off): %.2f per hour, %.4f per million output tokens, if the "
               "deployment tolerates losing GPUs\n",
               100 * p->spot, b->gpus * p->price * (1 - p->spot), cost * (1 - p->spot));
    lever_offload(p, b);
    if (priced)
        printf("cost: %d GPUs x %.2f = %.2f per hour; %.4f per million output tokens; idle %.1f %% "
               "of the GPU time (report/cost.h)\n",
               b->gpus, p->price, b->gpus * p->price, cost, 100 * b->idle_share);
}

/* A file of the source tree's deploy/ folder, found from the executable (build/wellpath:
 * ../deploy); an empty buffer when it is not there (the manifests then say what is left
 * out). */
static void read_asset(const char *rel, wp_buf_t *out)
{
    char exe[2048], path[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    wp_buf_init(out, 0);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash != NULL)
        *slash = '\0';
    snprintf(path, sizeof(path), "%s/../deploy/%s", exe, rel);
    wp_err_t err;
    if (access(path, R_OK) != 0 || wp_os_read_file(path, rel, 1 << 24, out, &err) != WP_OK) {
        wp_buf_free(out);
        wp_buf_init(out, 0);
    }
}

/* Writes len bytes of text to path; the error names the option that asked for it. */
static wp_status_t write_file(const char *path, const char *flag, const char *text, size_t len,
                              wp_err_t *err)
{
    FILE *f = fopen(path, "w");
    wp_status_t st = WP_OK;
    if (f == NULL || fwrite(text, 1, len, f) != len)
        st = wp_err_set(err, WP_EIO, "%s: cannot write %s", flag, path);
    if (f != NULL && fclose(f) != 0 && st == WP_OK)
        st = wp_err_set(err, WP_EIO, "%s: cannot write %s", flag, path);
    return st;
}

static wp_status_t write_text(const char *dir, const char *name, const char *text, size_t len,
                              wp_err_t *err)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%.3800s/%.255s", dir, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return wp_err_set(err, WP_EINVAL, "--out: the path of %s is too long", name);
    wp_status_t st = write_file(path, "--out", text, len, err);
    if (st == WP_OK)
        printf("  %s\n", path);
    return st;
}

static wp_status_t mkdir_p(const char *dir, wp_err_t *err)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return wp_err_set(err, WP_EIO, "--out: cannot create %s: %s", dir, strerror(errno));
    return WP_OK;
}

/* DIR/manifests/: the Kubernetes objects of the plan, its gateway's topology in a ConfigMap. */
static wp_status_t write_manifests(const plan_t *p, wp_plan_deploy_t *d, wp_err_t *err)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/manifests", p->out_dir);
    wp_buf_t gw, rules, guide, dash;
    wp_buf_init(&gw, 0);
    read_asset("prometheus/wellpath-rules.yml", &rules);
    read_asset("prometheus/guide-rules.yml", &guide);
    read_asset("grafana/wellpath-dashboard.json", &dash);
    d->prometheus_rules_yaml = rules.data;
    d->guide_rules_yaml = guide.data;
    d->grafana_dashboard_json = dash.data;
    wp_plan_file_t files[WP_PLAN_FILES_MAX];
    memset(files, 0, sizeof(files));
    size_t n = 0;
    wp_status_t st = wp_plan_gateway_yaml(d, &gw, err);
    d->topology_yaml = gw.data;
    if (st == WP_OK)
        st = mkdir_p(dir, err);
    if (st == WP_OK)
        st = wp_plan_render(d, files, WP_PLAN_FILES_MAX, &n, err);
    for (size_t i = 0; st == WP_OK && i < n; i++)
        st = write_text(dir, files[i].name, files[i].text, files[i].len, err);
    if (st == WP_OK)
        st = write_text(p->out_dir, "gateway-topology.yaml", gw.data, gw.len, err);
    char notes[16][WP_PLAN_NOTE_MAX];
    size_t k = st == WP_OK ? wp_plan_notes(d, notes, 16) : 0;
    for (size_t i = 0; i < k; i++)
        printf("  note: %s\n", notes[i]);
    wp_plan_files_free(files, n);
    wp_buf_free(&gw);
    wp_buf_free(&rules);
    wp_buf_free(&guide);
    wp_buf_free(&dash);
    return st;
}

/* DIR/topology.yaml (the plan's simulated deployment, for `wellpath up` and `simulate`),
 * DIR/gateway-topology.yaml and DIR/manifests/ (the Kubernetes deployment). */
static wp_status_t write_files(const plan_t *p, wp_err_t *err)
{
    if (p->out_dir == NULL)
        return WP_OK;
    wp_status_t st = mkdir_p(p->out_dir, err);
    if (st != WP_OK)
        return st;
    wp_plan_deploy_t d;
    deploy_of(p, &p->results[0].cand, true, &d);
    wp_buf_t yaml;
    wp_buf_init(&yaml, 0);
    printf("\nwrote:\n");
    st = wp_plan_topology_yaml(&d, NULL, &yaml, err);
    if (st == WP_OK)
        st = write_text(p->out_dir, "topology.yaml", yaml.data, yaml.len, err);
    wp_buf_free(&yaml);
    if (st == WP_OK)
        st = write_manifests(p, &d, err);
    return st;
}

/* For the check command: -1 for an argument to keep; else how many arguments after it to
 * drop too (plan's own options, and those the check sets itself). */
static int own_option(const char *a)
{
    static const char *const own[] = {
        "--model",         "--gpu",  "--gpus",         "--price-per-gpu-hour",
        "--spot-discount", "--out",  "--jobs",         "--json",
        "--html",          "--rate", "--num-requests", "--slo"};
    if (strcmp(a, "--quiet") == 0)
        return 0;
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
        size_t n = strlen(own[i]);
        if (strncmp(a, own[i], n) == 0 && (a[n] == '\0' || a[n] == '='))
            return a[n] == '=' ? 0 : 1;
    }
    return -1;
}

/* The command that checks the plan: the winner's topology in `wellpath simulate` at the rate
 * it sustained, for the workload's duration. */
static void check_command(const plan_t *p, char *out, size_t cap)
{
    const wp_plan_result_t *b = &p->results[0];
    const wp_report_slo_t *s = &p->run.slo;
    int n = snprintf(out, cap, "wellpath simulate -f %s/topology.yaml",
                     p->out_dir ? p->out_dir : "DIR");
    for (int i = 1; i < p->argc && n > 0 && (size_t)n < cap; i++) { /* argv[0]: "plan" */
        int skip = own_option(p->argv[i]);
        if (skip < 0)
            n += snprintf(out + n, cap - (size_t)n, " %s", p->argv[i]);
        else
            i += skip;
    }
    if (isfinite(b->offered_rps) && p->run.spec.load.rate > 0 && n > 0 && (size_t)n < cap) {
        double k = b->offered_rps / p->run.spec.load.rate;
        long req = p->run.spec.load.num_requests > 0
                       ? (long)ceil((double)p->run.spec.load.num_requests * (k > 1 ? k : 1))
                       : 0;
        n += snprintf(out + n, cap - (size_t)n, " --rate %.6g", b->offered_rps);
        if (req > 0 && n > 0 && (size_t)n < cap)
            n += snprintf(out + n, cap - (size_t)n, " --num-requests %ld", req);
    }
    if (n > 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, " --slo ttft=%g,itl=%g", s->ttft_s, s->itl_s);
}

static cJSON *result_json(const wp_plan_result_t *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "candidate", r->cand.label);
    cJSON_AddNumberToObject(o, "path", (int)r->cand.path);
    cJSON_AddNumberToObject(o, "gpus", r->gpus);
    cJSON_AddBoolToObject(o, "ran", r->ran);
    if (isfinite(r->offered_rps))
        cJSON_AddNumberToObject(o, "sustained_rps", r->offered_rps);
    cJSON_AddNumberToObject(o, "runs", r->runs);
    cJSON_AddNumberToObject(o, "attainment", r->attainment);
    cJSON_AddNumberToObject(o, "goodput_rps", r->goodput_rps);
    cJSON_AddNumberToObject(o, "goodput_per_gpu", r->goodput_per_gpu);
    cJSON_AddNumberToObject(o, "output_tokens_per_s", r->output_tps);
    cJSON_AddNumberToObject(o, "ttft_p90_s", isfinite(r->ttft_p90) ? r->ttft_p90 : -1);
    cJSON_AddNumberToObject(o, "itl_p50_s", isfinite(r->itl_p50) ? r->itl_p50 : -1);
    cJSON_AddStringToObject(o, "verdict", r->verdict);
    return o;
}

static cJSON *plan_json(const plan_t *p, const char *check)
{
    const wp_plan_facts_t *f = &p->facts;
    cJSON *o = cJSON_CreateObject(), *facts = cJSON_AddObjectToObject(o, "facts");
    cJSON_AddStringToObject(facts, "model", p->model->name);
    cJSON_AddStringToObject(facts, "gpu", p->gpu->name);
    cJSON_AddNumberToObject(facts, "gpus", p->gpus);
    cJSON_AddNumberToObject(facts, "requests", (double)f->requests);
    cJSON_AddNumberToObject(facts, "isl_p50", f->isl_p50);
    cJSON_AddNumberToObject(facts, "isl_p90", f->isl_p90);
    cJSON_AddNumberToObject(facts, "osl_p50", f->osl_p50);
    cJSON_AddNumberToObject(facts, "prefix_reuse", f->prefix_reuse);
    cJSON *tree = cJSON_AddObjectToObject(o, "guide");
    cJSON_AddNumberToObject(tree, "path", (int)p->decision.path);
    cJSON *why = cJSON_AddArrayToObject(tree, "why");
    for (int i = 0; i < p->decision.n_why; i++)
        cJSON_AddItemToArray(why, cJSON_CreateString(p->decision.why[i]));
    cJSON *rs = cJSON_AddArrayToObject(o, "candidates");
    for (size_t i = 0; i < p->n; i++)
        cJSON_AddItemToArray(rs, result_json(&p->results[i]));
    cJSON_AddStringToObject(o, "check", check);
    return o;
}

static wp_status_t write_json(const plan_t *p, const char *check, wp_err_t *err)
{
    if (p->run.json_path == NULL)
        return WP_OK;
    cJSON *o = plan_json(p, check);
    char *text = o ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    wp_buf_t b;
    wp_buf_init(&b, 0);
    wp_status_t st = text == NULL ? wp_err_set(err, WP_ENOMEM, "--json: out of memory")
                                  : wp_buf_printf(&b, "%s\n", text);
    if (st == WP_OK)
        st = write_file(p->run.json_path, "--json", b.data, b.len, err);
    wp_buf_free(&b);
    free(text);
    return st;
}

static wp_status_t write_html(const plan_t *p, wp_err_t *err)
{
    if (p->run.html_path == NULL)
        return WP_OK;
    wp_buf_t b;
    wp_buf_init(&b, 0);
    wp_plan_write_html(&p->facts, &p->decision, p->results, p->n, &b);
    wp_status_t st = write_file(p->run.html_path, "--html", b.data, b.len, err);
    wp_buf_free(&b);
    return st;
}

static wp_plan_slo_t slo_of(const wp_report_slo_t *s)
{
    return (wp_plan_slo_t){s->ttft_s, s->itl_s, s->tpot_s, s->e2e_s};
}

/* Without objectives every run "meets" them and the sweep could not tell a queue building
 * up: planning needs a TTFT and an ITL bound (docs/plan.md). */
static void default_slo(plan_t *p)
{
    wp_report_slo_t *s = &p->run.slo;
    if (isinf(s->ttft_s))
        s->ttft_s = 2.0;
    if (isinf(s->itl_s))
        s->itl_s = 0.1;
    printf("objectives: TTFT %g s, mean ITL %g s%s%s (90 %% of requests must meet them)\n",
           s->ttft_s, s->itl_s, isinf(s->tpot_s) ? "" : ", TPOT", isinf(s->e2e_s) ? "" : ", E2E");
}

int wp__plan_run(plan_t *p, wp_err_t *err)
{
    if (p->run.spec.type == WP_WORKLOAD_TRACE &&
        wp_bench_read_trace(&p->run.spec, p->run.workload_file, &p->trace, err) != WP_OK)
        return 2;
    if (measure(p, err) != WP_OK)
        return 2;
    wp_plan_decide(&p->facts, &p->decision);
    print_decision(p);
    default_slo(p);
    wp_plan_candidate_t cands[WP_PLAN_MAX_CANDIDATES];
    p->n = wp_plan_candidates(p->model, p->gpu, p->gpus, cands, WP_PLAN_MAX_CANDIDATES);
    if (p->n == 0) {
        wp_err_set(err, WP_EINVAL, "%s fits no server of up to 8 %s GPUs within %d GPUs",
                   p->model->name, p->gpu->name, p->gpus);
        return 2;
    }
    for (size_t i = 0; i < p->n; i++)
        p->results[i] = (wp_plan_result_t){.cand = cands[i]};
    run_all(p);
    wp_plan_slo_t slo = slo_of(&p->run.slo);
    wp_plan_rank(p->results, p->n, &slo);
    print_ranking(p);
    const wp_plan_result_t *b = &p->results[0];
    printf("\nrecommended: %s, %s on %d GPUs (%s)%s\n", wp_plan_path_name(b->cand.path),
           b->cand.label, b->gpus, b->verdict,
           b->cand.path == p->decision.path ? ", as the guide's tree says"
                                            : ", where the guide's tree says otherwise");
    print_levers(p);
    char check[1024];
    check_command(p, check, sizeof(check));
    printf("\ncheck it: %s\n", check);
    wp_status_t st = write_files(p, err);
    if (st == WP_OK)
        st = write_json(p, check, err);
    if (st == WP_OK)
        st = write_html(p, err);
    wp_workload_trace_free(&p->trace);
    return st == WP_OK ? 0 : 1;
}
