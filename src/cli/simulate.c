/*
 * cli/simulate: `wellpath simulate -f topology.yaml [workload and report options]` — the
 * topology's pool in virtual time (des/), once per policy, with the report `wellpath
 * bench` writes ("mode": "simulate"). The same seed gives a byte-identical JSON report.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/str.h"
#include "cli/cli.h"
#include "cli/cost.h"
#include "cli/desconf.h"
#include "cli/runopts.h"
#include "des/des.h"
#include "bench/bench.h"

static const char usage_text[] =
    "usage: wellpath simulate -f FILE [options]\n"
    "\n"
    "Runs the topology's model-server pool and gateway scheduler in virtual time and reports\n"
    "what `wellpath bench` would measure (TTFT, ITL, TPOT, E2E, throughput, hit rate).\n"
    "  -f, --file FILE         topology file (model, gpu, vllm.*, "
    "inferenceScheduler.*)\n" WP_CLI_RUN_USAGE
    "  --xpyd-gpus N           P/D topology: one run per prefill:decode split of N GPUs, and\n"
    "                          the best split by output tokens/s and by goodput\n"
    "  --latency-ms C,E        one-way network latency client-gateway and gateway-engine\n"
    "                          (default 0.5,0.2)\n"
    "  --decision-log FILE     write the simulated gateway's decisions, one JSON line each\n"
    "                          (the format of gateway.decisionLog), to FILE\n"
    "  --uncertainty           also run each policy with every engine-model constant the\n"
    "                          topology leaves unset at the fast and at the slow end of its\n"
    "                          calibrated range (docs/calibration.md): runs \"P [fast]\" and\n"
    "                          \"P [slow]\", and a band line per metric\n" WP_CLI_COST_USAGE;

enum { O_FILE = 'f', O_HELP = 'h', O_LATENCY = 256, O_XPYD, O_DECISION_LOG, O_UNCERTAINTY };

static const wp_cli_opt_t opts[] = {
    {"file", 'f', true, O_FILE},
    {"latency-ms", 0, true, O_LATENCY},
    {"xpyd-gpus", 0, true, O_XPYD},
    {"decision-log", 0, true, O_DECISION_LOG},
    {"uncertainty", 0, false, O_UNCERTAINTY},
    {"help", 'h', false, O_HELP},
};

typedef struct progress_s {
    const char *policy;
    bool on;
} progress_t;

static void on_progress(void *ud, size_t done, size_t total)
{
    progress_t *p = ud;
    if (!p->on || total == 0)
        return;
    int width = 30, fill = (int)((double)done / (double)total * width);
    char bar[32];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r%-20s [%s] %3.0f%% %zu/%zu", p->policy, bar,
            100.0 * (double)done / (double)total, done, total);
    if (done == total)
        fprintf(stderr, "\n");
}

/* What vLLM logs at start-up ("GPU KV cache size: N tokens"), for each pool's engines (each
 * rank's, in wide-EP groups of `ranks`). */
static void log_engine(const char *pool, const wp_engine_config_t *e, int ranks, const wp_ep_t *ep)
{
    const wp_perf_t *p = e->perf;
    bool wide = ranks > 1;
    char shape[64];
    snprintf(shape, sizeof(shape), wide ? "wide-EP groups of %d ranks" : "tp%d",
             wide ? ranks : p->tp);
    fprintf(stderr,
            "simulate: %sengine %s (%s weights, %g-byte KV) on %s x %s: weights %.1f GB per GPU, "
            "KV cache %lld tokens (%d blocks of %d), max_num_seqs %d, max_num_batched_tokens %d, "
            "max_model_len %d\n",
            pool, p->model->name, wp_precision_name(p->precision), p->params.kv_bytes, p->gpu->name,
            shape, (wide ? ep->weight_bytes_rank : p->weight_bytes / p->tp) / 1e9,
            (long long)e->num_blocks * e->block_size, e->num_blocks, e->block_size, e->max_num_seqs,
            e->max_num_batched_tokens, e->max_model_len);
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static wp_status_t parse_latency(const char *v, wp_des_config_t *dc, wp_err_t *err)
{
    double c, e;
    char tail;
    if (sscanf(v, "%lf,%lf%c", &c, &e, &tail) != 2 || !(c >= 0 && e >= 0 && c < 10000 && e < 10000))
        return wp_err_set(err, WP_EINVAL,
                          "--latency-ms: expected two numbers CLIENT,ENGINE in ms, got '%s'", v);
    dc->client_latency_s = c / 1000.0;
    dc->engine_latency_s = e / 1000.0;
    return WP_OK;
}

/* One policy: a fresh workload generator over the same spec, a run in the report. */
static wp_status_t simulate_one(const wp_des_config_t *dc, const wp_cli_run_t *run,
                                const char *policy, const char *label,
                                const wp_workload_trace_t *trace, wp_report_t *rep,
                                const wp_cli_cost_t *cost, bool spot, wp_err_t *err)
{
    wp_des_config_t c = *dc;
    if (wp_sched_config_set_policy(&c.sched, policy, err) != WP_OK)
        return WP_EINVAL;
    wp_workload_t *wl = wp_workload_new(&run->spec, trace, err);
    if (wl == NULL)
        return WP_EINVAL;
    const wp_workload_stage_t *ws;
    size_t ns = wp_workload_stages(wl, &ws);
    wp_report_stage_t stages[WP_WORKLOAD_MAX_STAGES];
    for (size_t i = 0; i < ns; i++)
        stages[i] = (wp_report_stage_t){ws[i].rate > 0 ? ws[i].rate : NAN,
                                        ws[i].duration > 0 ? ws[i].duration : NAN};
    wp_report_run_t *rr;
    wp_status_t st = wp_report_run_add(rep, label, stages, ns, &rr, err);
    progress_t pg = {label, run->progress};
    wp_des_stats_t stats;
    double t0 = wall_s();
    if (st == WP_OK)
        st = wp_des_run(&c, wl, rr, on_progress, &pg, &stats, err);
    double wall = wall_s() - t0;
    char picks[512] = "";
    int engines = c.n_pools == 2 ? c.pools[0].n + c.pools[1].n : c.n_engines;
    for (int i = 0, k = 0; st == WP_OK && i < engines && i < 64 && k < (int)sizeof(picks) - 24; i++)
        k += snprintf(picks + k, sizeof(picks) - (size_t)k, "%s%llu", i ? "," : "",
                      (unsigned long long)stats.picks[i]);
    char admission[96] = "";
    if (c.admit.queue || c.max_in_flight > 0)
        snprintf(admission, sizeof(admission), ", %llu queued at the gateway, %llu shed",
                 (unsigned long long)stats.queued, (unsigned long long)stats.shed);
    if (st == WP_OK)
        fprintf(stderr,
                "simulate: %s: %llu requests (%llu failed%s), %llu events, %llu engine steps "
                "(mean batch %.1f, %llu preemptions), %.1f s virtual in %.2f s wall (%.2f M "
                "events/s) picks=%s\n",
                label, (unsigned long long)stats.requests, (unsigned long long)stats.failed,
                admission, (unsigned long long)stats.events, (unsigned long long)stats.steps,
                stats.steps ? (double)stats.scheduled / (double)stats.steps : 0.0,
                (unsigned long long)stats.preemptions, stats.end_s, wall,
                (double)stats.events / (wall > 0 ? wall : 1e-9) / 1e6, picks);
    if (st == WP_OK && c.wake.enabled)
        fprintf(stderr,
                "simulate: %s: scale-to-zero: the pool slept %.1f s of %.1f s (%.0f %%): %llu "
                "sleeps, %llu wake-ups of %.2f s, %llu requests held for one\n",
                label, stats.asleep_s, stats.end_s,
                stats.end_s > 0 ? 100.0 * stats.asleep_s / stats.end_s : 0.0,
                (unsigned long long)stats.sleeps, (unsigned long long)stats.wakes, c.wake_s,
                (unsigned long long)stats.held_for_wake);
    if (st == WP_OK && stats.oracle_prompt_tokens > 0)
        fprintf(stderr,
                "simulate: %s: prefix-cache hits %.1f%% of measured prompt tokens; the oracle (one "
                "unbounded cache shared by all engines) %.1f%%%s\n",
                label, 100.0 * (double)stats.cached_tokens / (double)stats.oracle_prompt_tokens,
                100.0 * (double)stats.oracle_hit_tokens / (double)stats.oracle_prompt_tokens,
                stats.oracle_failed ? " (partial: out of memory)" : "");
    if (st == WP_OK)
        st = wp_cli_cost_report(cost, &stats, spot, rr, err);
    wp_workload_free(wl);
    return st;
}

/* end: 0 the calibrated engine model, > 0 its slow end, < 0 its fast end. */
static wp_status_t configure(const char *file, int end, wp_des_config_t *dc, wp_sim_config_t *sc,
                             wp_cli_engine_models_t *em, const wp_model_spec_t **model,
                             wp_cli_cost_t *cost, wp_err_t *err)
{
    wp_topology_t topo;
    wp_status_t st = wp_cli_load_topology(file, &topo, err);
    if (st != WP_OK)
        return st;
    if (cost != NULL) /* the file's price model, under the flags */
        wp_cli_cost_from_topology(cost, &topo.cost);
    st = wp_cli_des_configure(&topo, end, dc, sc, em, model, err);
    wp_topology_free(&topo);
    return st;
}

/* Every prefill:decode split of a fixed GPU budget (at the pools' TP), one run each,
 * labelled xPyD; then the best split by output tokens/s, and by goodput when SLOs are set. */
static wp_status_t sweep_xpyd(const wp_des_config_t *dc, const wp_cli_run_t *run, int gpus,
                              const wp_workload_trace_t *trace, wp_report_t *rep,
                              const wp_cli_cost_t *cost, wp_err_t *err)
{
    if (dc->n_pools != 2)
        return wp_err_set(err, WP_EINVAL,
                          "--xpyd-gpus needs a topology with prefill and decode sections");
    if (dc->pools[0].ranks > 1 || dc->pools[1].ranks > 1)
        return wp_err_set(err, WP_EINVAL,
                          "--xpyd-gpus sizes pools of plain replicas, not wide-EP groups "
                          "(expertParallel)");
    int tp_p = dc->pools[0].engine.perf->tp, tp_d = dc->pools[1].engine.perf->tp;
    char best[32] = "", best_good[32] = "";
    double best_tps = -1, best_gps = -1;
    for (int x = 1; x * tp_p + tp_d <= gpus; x++) {
        wp_des_config_t c = *dc;
        c.pools[0].n = x;
        c.pools[1].n = (gpus - x * tp_p) / tp_d;
        char label[32];
        snprintf(label, sizeof(label), "%dP%dD", x, c.pools[1].n);
        wp_status_t st =
            simulate_one(&c, run, run->policies[0], label, trace, rep, cost, false, err);
        if (st != WP_OK)
            return st;
        wp_report_metrics_t m;
        if (wp_report_run_metrics(wp_report_run_get(rep, wp_report_run_count(rep) - 1),
                                  WP_REPORT_SUMMARY, &m, err) != WP_OK)
            return WP_EINVAL;
        if (m.output_tokens_per_s > best_tps) {
            best_tps = m.output_tokens_per_s;
            snprintf(best, sizeof(best), "%s", label);
        }
        if (m.goodput_requests_per_s > best_gps) {
            best_gps = m.goodput_requests_per_s;
            snprintf(best_good, sizeof(best_good), "%s", label);
        }
    }
    if (best[0] == '\0')
        return wp_err_set(
            err, WP_EINVAL,
            "--xpyd-gpus %d: too few GPUs for one prefill (TP %d) and one decode (TP %d) replica",
            gpus, tp_p, tp_d);
    printf(
        "xpyd: %d GPUs: best by output tokens/s %s (%.0f tok/s); best by goodput %s (%.2f req/s)\n",
        gpus, best, best_tps, best_good, best_gps);
    return WP_OK;
}

/* One band line: the calibrated value and the range the three runs span. */
static void band_line(const char *policy, const char *name, const char *unit, double scale,
                      const double v[3])
{
    double lo = v[0], hi = v[0];
    for (int i = 1; i < 3; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    printf("uncertainty: %s: %s %.4g %s [%.4g, %.4g]\n", policy, name, v[0] * scale, unit,
           lo * scale, hi * scale);
}

/* The policy at the fast and the slow end of the engine model (the runs after the
 * calibrated one in rep), then each metric as a band over the three runs. */
static wp_status_t simulate_band(const wp_des_config_t ends[2], const wp_cli_run_t *run,
                                 const char *policy, const wp_workload_trace_t *trace,
                                 wp_report_t *rep, const wp_cli_cost_t *cost, wp_err_t *err)
{
    static const char *const tag[2] = {"fast", "slow"};
    wp_report_metrics_t m[3];
    for (int e = 0; e < 2; e++) {
        char label[96];
        snprintf(label, sizeof(label), "%s [%s]", policy, tag[e]);
        wp_status_t st = simulate_one(&ends[e], run, policy, label, trace, rep, cost, false, err);
        if (st != WP_OK)
            return st;
    }
    size_t n = wp_report_run_count(rep);
    for (int i = 0; i < 3; i++)
        if (wp_report_run_metrics(wp_report_run_get(rep, n - 3 + (size_t)i), WP_REPORT_SUMMARY,
                                  &m[i], err) != WP_OK)
            return WP_EINVAL;
    double v[3];
#define BAND(name, unit, scale, expr)                                                              \
    for (int i = 0; i < 3; i++)                                                                    \
        v[i] = m[i].expr;                                                                          \
    band_line(policy, name, unit, scale, v)
    BAND("TTFT mean", "ms", 1e3, ttft_s.mean);
    BAND("TTFT p90", "ms", 1e3, ttft_s.p90);
    BAND("TPOT mean", "ms", 1e3, tpot_s.mean);
    BAND("E2E mean", "s", 1, e2e_s.mean);
    BAND("output", "tok/s", 1, output_tokens_per_s);
    BAND("requests", "/s", 1, requests_per_s);
#undef BAND
    return WP_OK;
}

/* One line of the decision log (sched/decision.h) into the file. */
static void write_decision(void *ud, double t, const wp_sched_decision_t *d)
{
    wp_buf_t b;
    wp_buf_init(&b, 64 * 1024);
    wp_sched_decision_write(&b, t, d);
    if (b.len > 0)
        fwrite(b.data, 1, b.len, ud);
    wp_buf_free(&b);
}

int wp_cli_simulate(int argc, char **argv)
{
    static wp_cli_run_t run;
    static wp_des_config_t dc;
    wp_err_t err;
    const char *file = NULL, *latency = NULL, *decision_log = NULL;
    int xpyd_gpus = 0;
    bool uncertainty = false;
    wp_cli_cost_t cost;
    wp_cli_cost_init(&cost);
    wp_des_config_default(&dc);
    wp_cli_args_t args;
    const char *v;
    int c;
    wp_cli_args_init(&args, argc, argv);
    if (wp_cli_args_add(&args, opts, sizeof(opts) / sizeof(opts[0]), &err) != WP_OK ||
        wp_cli_run_add_options(&args, &err) != WP_OK ||
        wp_cli_cost_add_options(&args, &err) != WP_OK ||
        wp_cli_run_init(&run, &args, &err) != WP_OK)
        return wp_cli_fail("simulate", err.msg);
    while ((c = wp_cli_args_next(&args, &v, &err)) > 0) {
        bool handled;
        if (c == O_HELP) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (c == O_FILE)
            file = v;
        else if (c == O_LATENCY)
            latency = v;
        else if (c == O_DECISION_LOG)
            decision_log = v;
        else if (c == O_UNCERTAINTY)
            uncertainty = true;
        else if (c == O_XPYD) {
            int64_t g;
            if (wp_parse_i64(v, strlen(v), &g) != WP_OK || g < 2 || g > 1024)
                return wp_cli_fail("simulate", "--xpyd-gpus: expected a GPU count 2..1024");
            xpyd_gpus = (int)g;
        } else if (wp_cli_cost_option(&cost, c, v, &handled, &err) != WP_OK ||
                   (!handled && wp_cli_run_option(&run, c, v, &handled, &err) != WP_OK))
            return wp_cli_fail("simulate", err.msg);
    }
    if (c < 0)
        return wp_cli_fail("simulate", err.msg);
    if (file == NULL)
        return wp_cli_fail("simulate", "-f FILE is required (the topology to simulate)");
    wp_sim_config_t sc;
    static wp_cli_engine_models_t em[3];
    static wp_des_config_t ends[2]; /* fast, slow */
    const wp_model_spec_t *model;
    if (configure(file, 0, &dc, &sc, &em[0], &model, &cost, &err) != WP_OK ||
        (latency != NULL && parse_latency(latency, &dc, &err) != WP_OK) ||
        wp_workload_spec_validate(&run.spec, &err) != WP_OK)
        return wp_cli_fail("simulate", err.msg);
    if (uncertainty && xpyd_gpus > 0)
        return wp_cli_fail("simulate", "--uncertainty: not with --xpyd-gpus");
    for (int e = 0; uncertainty && e < 2; e++) {
        ends[e] = dc;
        wp_sim_config_t esc;
        if (configure(file, e ? 1 : -1, &ends[e], &esc, &em[1 + e], &model, NULL, &err) != WP_OK ||
            (latency != NULL && parse_latency(latency, &ends[e], &err) != WP_OK))
            return wp_cli_fail("simulate", err.msg);
    }
    if (dc.n_pools == 2) {
        log_engine("prefill ", &dc.pools[0].engine, dc.pools[0].ranks, dc.pools[0].ep);
        log_engine("decode ", &dc.pools[1].engine, dc.pools[1].ranks, dc.pools[1].ep);
    } else {
        log_engine("", &dc.engine, dc.ranks, dc.ep);
    }
    if (run.n_policies == 0)
        snprintf(run.policies[run.n_policies++], sizeof(run.policies[0]), "topology");
    FILE *dlog = NULL;
    if (decision_log != NULL && (run.n_policies > 1 || xpyd_gpus > 0))
        return wp_cli_fail("simulate", "--decision-log: one run at a time (one --policy, and no "
                                       "--xpyd-gpus): every run would start again at t=0 and r1");
    if (decision_log != NULL) {
        if ((dlog = fopen(decision_log, "w")) == NULL)
            return wp_cli_fail("simulate", "--decision-log: cannot open the file for writing");
        dc.decision = write_decision;
        dc.decision_ud = dlog;
    }
    wp_workload_trace_t trace = {0};
    if (run.spec.type == WP_WORKLOAD_TRACE &&
        wp_bench_read_trace(&run.spec, run.workload_file, &trace, &err) != WP_OK)
        return wp_cli_fail("simulate", err.msg);
    wp_buf_t wj;
    wp_buf_init(&wj, 0);
    wp_workload_spec_json(&run.spec, &wj);
    wp_report_t *rep = NULL;
    wp_status_t st = wp_report_create(&rep, WP_REPORT_MODE_SIMULATE, wj.data, &run.slo, NULL, &err);
    wp_buf_free(&wj);
    if (xpyd_gpus > 0)
        st = sweep_xpyd(&dc, &run, xpyd_gpus, &trace, rep, &cost, &err);
    for (int i = 0; xpyd_gpus == 0 && st == WP_OK && i < run.n_policies; i++) {
        st = simulate_one(&dc, &run, run.policies[i], run.policies[i], &trace, rep, &cost, false,
                          &err);
        if (st == WP_OK && wp_cli_cost_spot(&cost)) { /* the same on spot capacity */
            wp_des_config_t sdc = dc;
            sdc.spot = cost.spot;
            char label[WP_REPORT_MAX_POLICY_LEN];
            snprintf(label, sizeof(label), "%s [spot]", run.policies[i]);
            st = simulate_one(&sdc, &run, run.policies[i], label, &trace, rep, &cost, true, &err);
        }
        if (st == WP_OK && uncertainty)
            st = simulate_band(ends, &run, run.policies[i], &trace, rep, &cost, &err);
    }
    int rc = 0;
    if (st != WP_OK) {
        fprintf(stderr, "wellpath simulate: %s\n", err.msg);
        rc = st == WP_EINVAL ? 2 : 1;
    }
    if (rep != NULL && wp_report_run_count(rep) > 0)
        rc |= wp_bench_write_report(rep, run.json_path, run.html_path, "simulate");
    wp_report_free(rep);
    wp_workload_trace_free(&trace);
    if (dlog != NULL && fclose(dlog) != 0) {
        fprintf(stderr, "wellpath simulate: --decision-log: write failed\n");
        rc |= 1;
    }
    return rc;
}
