/*
 * bench/run: the orchestration of `wellpath bench` (see bench.h). Each phase (probe,
 * start a deployment, replay, stop it) starts asynchronous work on the loop and turns
 * the loop until that phase's flag is set, so the whole run reads top to bottom.
 */
#include "bench/bench.h"
#include "os/limits.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cJSON.h>

#include "api/prom.h"
#include "base/log.h"
#include "base/str.h"
#include "bench/load.h"
#include "config/addr.h"
#include "config/topology.h"
#include "http/client.h"
#include "os/child.h"
#include "os/file.h"

/* How long to wait before reading the prefix-cache counters after a run (a gateway
 * re-exports what it scraped, every 50 ms by default). */
#define COUNTER_SETTLE_MS 250

typedef struct target_s {
    char host[256];
    uint16_t port;
    int more_ports[WP_BENCH_MAX_PORTS - 1]; /* the deployment's other gateway replicas */
    int n_more_ports;
    char base_path[256];
    char url[600];
} target_t;

typedef struct run_s {
    uv_loop_t *loop;
    const wp_bench_opts_t *opts;
    uv_signal_t sigint;
    bool interrupted;
    wp_bench_load_t *load; /* the replay under way */
    wp_workload_t *wl;
    wp_report_run_t *rrun;
    bool replay_done, warmup_done, wake; /* wake: either of the two */
    wp_status_t replay_status;
    char replay_why[640];
    uint64_t results, bad_results, completed;
    /* the deployment of one policy */
    wp_child_t *child;
    bool child_ready, child_exited;
    char child_url[300];
    char child_gateways[2048]; /* its ready line's gateways= (replicas), "" when one */
} run_t;

/* Turns the loop until *flag; false when nothing is left to wait on. */
static bool turn_until(uv_loop_t *loop, const bool *flag)
{
    while (!*flag) {
        if (uv_run(loop, UV_RUN_ONCE) == 0 && !*flag)
            return false;
    }
    return true;
}

/* ---- one GET ---- */

typedef struct get_s {
    bool done;
    int status;
    wp_status_t st;
    char why[400];
    wp_buf_t body;
} get_t;

static void get_head(void *ud, int status, const wp_http_headers_t *h)
{
    ((get_t *)ud)->status = status;
}

static void get_body(void *ud, const char *data, size_t len)
{
    wp_buf_append(&((get_t *)ud)->body, data, len);
}

static void get_done(void *ud, wp_status_t st, const char *why)
{
    get_t *g = ud;
    g->st = st;
    wp_strlcpy(g->why, why ? why : "", sizeof(g->why));
    g->done = true;
}

static wp_status_t http_get(uv_loop_t *loop, const target_t *t, const char *path, get_t *g,
                            wp_err_t *err)
{
    memset(g, 0, sizeof(*g));
    wp_buf_init(&g->body, 16u << 20);
    wp_http_client_config_t cc;
    wp_http_client_config_default(&cc);
    cc.first_byte_ms = 10000;
    cc.idle_ms = 10000;
    wp_http_upstream_t *up = wp_http_upstream_new(loop, t->host, t->port, &cc, err);
    if (up == NULL)
        return WP_EINVAL;
    char full[600];
    snprintf(full, sizeof(full), "%s%s", t->base_path, path);
    static const wp_http_call_cbs_t cbs = {get_head, get_body, get_done};
    if (wp_http_call_start(up, "GET", full, NULL, NULL, 0, &cbs, g) == NULL)
        get_done(g, WP_ENOMEM, "out of memory");
    turn_until(loop, &g->done);
    wp_http_upstream_free(up);
    if (g->st != WP_OK)
        return wp_err_set(err, WP_EIO, "cannot reach %s%s: %s", t->url, path, g->why);
    if (g->status != 200)
        return wp_err_set(err, WP_EIO, "%s%s answered HTTP %d", t->url, path, g->status);
    return WP_OK;
}

static wp_status_t first_model(uv_loop_t *loop, const target_t *t, char *out, size_t cap,
                               wp_err_t *err)
{
    get_t g;
    wp_status_t st = http_get(loop, t, "/v1/models", &g, err);
    if (st == WP_OK) {
        cJSON *root = cJSON_ParseWithLength(g.body.data ? g.body.data : "", g.body.len);
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(data, 0), "id");
        if (cJSON_IsString(id))
            wp_strlcpy(out, id->valuestring, cap);
        else
            st = wp_err_set(err, WP_EINVAL, "%s/v1/models lists no model; pass --model", t->url);
        cJSON_Delete(root);
    }
    wp_buf_free(&g.body);
    return st;
}

/* ---- server-side prefix-cache counters ---- */

typedef struct counters_s {
    double queries, hits;
    bool seen;
} counters_t;

static void count_sample(void *ud, wp_str_t name, wp_str_t labels, double v)
{
    counters_t *c = ud;
    if (wp_str_eq_cstr(name, "vllm:prefix_cache_queries_total") ||
        wp_str_eq_cstr(name, "wellpath_endpoint_prefix_cache_queries_total")) {
        c->queries += v;
        c->seen = true;
    } else if (wp_str_eq_cstr(name, "vllm:prefix_cache_hits_total") ||
               wp_str_eq_cstr(name, "wellpath_endpoint_prefix_cache_hits_total")) {
        c->hits += v;
    }
}

static counters_t read_counters(uv_loop_t *loop, const target_t *t)
{
    counters_t c = {0};
    get_t g;
    wp_err_t err;
    if (http_get(loop, t, "/metrics", &g, &err) == WP_OK)
        wp_api_prom_parse(g.body.data ? g.body.data : "", g.body.len, count_sample, &c, &err);
    wp_buf_free(&g.body);
    return c;
}

/* Turns the loop for ms milliseconds. */
static void settle_done(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

static void settle(uv_loop_t *loop, uint64_t ms)
{
    bool done = false;
    uv_timer_t t;
    uv_timer_init(loop, &t);
    t.data = &done;
    uv_timer_start(&t, settle_done, ms, 0);
    turn_until(loop, &done);
    done = false;
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

/* ---- the replay ---- */

static wp_status_t source(void *ud, wp_bench_item_t *out, wp_err_t *err)
{
    run_t *r = ud;
    wp_workload_req_t q;
    wp_status_t st = wp_workload_next(r->wl, &q);
    if (st != WP_OK) {
        if (st != WP_ENOTFOUND)
            wp_err_set(err, st, "the workload generator failed");
        return st;
    }
    *out = (wp_bench_item_t){.arrival_s = q.arrival_s,
                             .stage = (int)q.stage,
                             .stage_start_s = q.stage_start_s,
                             .warmup = q.warmup,
                             .prompt = q.prompt,
                             .prompt_len = q.prompt_len,
                             .max_tokens = (int)q.max_tokens};
    return WP_OK;
}

static void sink(void *ud, const wp_bench_result_t *res)
{
    run_t *r = ud;
    wp_err_t err;
    r->results++;
    r->completed += res->r.outcome == WP_REPORT_OK;
    if (wp_report_add(r->rrun, &res->r, &err) != WP_OK && r->bad_results++ == 0)
        fprintf(stderr, "wellpath bench: a result was not recorded: %s\n", err.msg);
    if (res->r.outcome != WP_REPORT_OK && res->r.outcome != WP_REPORT_ABORTED)
        wp_log(WP_LOG_DEBUG, "request failed", "kind=%s status=%d error=\"%s\"",
               wp_report_outcome_name(res->r.outcome), res->http_status, res->error);
}

static void replay_done(void *ud, wp_status_t st, const char *why)
{
    run_t *r = ud;
    r->replay_status = st;
    wp_strlcpy(r->replay_why, why ? why : "", sizeof(r->replay_why));
    r->replay_done = true;
    r->wake = true;
}

/* The load paused after its warm-up: the counters are read then (replay). */
static void warmup_done(void *ud)
{
    run_t *r = ud;
    r->warmup_done = true;
    r->wake = true;
}

static void on_sigint(uv_signal_t *h, int signum)
{
    run_t *r = h->data;
    r->interrupted = true;
    fprintf(stderr, "\nwellpath bench: interrupted; writing what was measured\n");
    if (r->load != NULL)
        wp_bench_load_stop(r->load);
}

static wp_status_t parse_target(const char *url, target_t *t, wp_err_t *err)
{
    wp_err_t e;
    t->n_more_ports = 0;
    if (wp_addr_parse_url(url, t->host, &t->port, t->base_path, &e) != WP_OK)
        return wp_err_set(err, WP_EINVAL, "target: %s", e.msg);
    /* A URL given as .../v1 names the API root: requests add /v1 themselves. */
    size_t n = strlen(t->base_path);
    if (n >= 3 && strcmp(t->base_path + n - 3, "/v1") == 0)
        t->base_path[n - 3] = '\0';
    snprintf(t->url, sizeof(t->url), "http://%s:%u%s", t->host, (unsigned)t->port, t->base_path);
    return WP_OK;
}

/* Turns the loop until the replay ends. A run that pauses after its warm-up (the target
 * has prefix-cache counters) has them read then, after one more scrape, so that the
 * server-side hit rate leaves the warm-up out as the other metrics do; then it resumes. */
static void await_replay(run_t *r, const target_t *t, counters_t *before)
{
    while (!r->replay_done) {
        r->wake = false;
        if (!turn_until(r->loop, &r->wake))
            break;
        if (r->warmup_done && !r->replay_done) {
            r->warmup_done = false;
            settle(r->loop, COUNTER_SETTLE_MS);
            *before = read_counters(r->loop, t);
            wp_bench_load_resume(r->load);
        }
    }
}

/* One replay of the workload against t, recorded as a run labelled `label`. */
static wp_status_t replay(run_t *r, wp_report_t *rep, const target_t *t, const char *label,
                          const wp_workload_trace_t *trace, wp_err_t *err)
{
    const wp_bench_opts_t *o = r->opts;
    wp_bench_load_config_t lc = {.port = t->port,
                                 .n_more_ports = t->n_more_ports,
                                 .api = o->spec.api == WP_WORKLOAD_API_CHAT ? WP_API_CHAT
                                                                            : WP_API_COMPLETIONS,
                                 .concurrency = o->spec.load.concurrency,
                                 .max_concurrency = o->spec.load.max_concurrency,
                                 .sequential = o->spec.load.sequential,
                                 .interval_s = o->spec.load.interval,
                                 .timeout_s = o->timeout_s,
                                 .progress = o->progress,
                                 .label = label};
    wp_strlcpy(lc.host, t->host, sizeof(lc.host));
    wp_strlcpy(lc.base_path, t->base_path, sizeof(lc.base_path));
    memcpy(lc.more_ports, t->more_ports, sizeof(lc.more_ports));
    /* The probe also tells an unreachable target apart before any request is sent. */
    if (first_model(r->loop, t, lc.model, sizeof(lc.model), err) != WP_OK)
        return WP_EIO;
    if (o->model != NULL)
        wp_strlcpy(lc.model, o->model, sizeof(lc.model));
    r->wl = wp_workload_new(&o->spec, trace, err);
    if (r->wl == NULL)
        return WP_EINVAL;
    const wp_workload_stage_t *ws;
    size_t ns = wp_workload_stages(r->wl, &ws);
    wp_report_stage_t stages[WP_WORKLOAD_MAX_STAGES];
    for (size_t i = 0; i < ns; i++)
        stages[i] = (wp_report_stage_t){ws[i].rate > 0 ? ws[i].rate : NAN,
                                        ws[i].duration > 0 ? ws[i].duration : NAN};
    wp_status_t st = wp_report_run_add(rep, label, stages, ns, &r->rrun, err);
    counters_t before = read_counters(r->loop, t);
    if (before.seen && o->spec.load.warmup > 0)
        lc.warmup_done = warmup_done;
    /* A Ctrl-C during the probe or the deployment's start leaves the run empty. */
    if (st == WP_OK && !r->interrupted) {
        r->replay_done = r->warmup_done = false;
        r->load = wp_bench_load_start(r->loop, &lc, source, sink, replay_done, r, err);
        if (r->load == NULL)
            st = WP_EINVAL;
    }
    if (st == WP_OK && r->load != NULL) {
        await_replay(r, t, &before);
        wp_bench_load_free(r->load);
        r->load = NULL;
        if (r->replay_status != WP_OK && r->replay_status != WP_EAGAIN)
            st = wp_err_set(err, WP_EINVAL, "%s", r->replay_why);
    }
    /* A gateway re-exports counters it scraped: let one more scrape happen first. */
    settle(r->loop, COUNTER_SETTLE_MS);
    counters_t after = read_counters(r->loop, t);
    if (before.seen && after.seen && after.queries > before.queries)
        wp_report_run_set_server_hit_rate(
            r->rrun, WP_REPORT_SUMMARY,
            (after.hits - before.hits) / (after.queries - before.queries), NULL);
    wp_workload_free(r->wl);
    r->wl = NULL;
    return st;
}

/* ---- a deployment per policy ---- */

static void child_line(void *ud, const char *line)
{
    run_t *r = ud;
    const char *g = strstr(line, "ready gateway=");
    if (g == NULL || r->child_ready)
        return;
    wp_strlcpy(r->child_url, g + 14, sizeof(r->child_url));
    char *sp = strchr(r->child_url, ' ');
    if (sp != NULL)
        *sp = '\0';
    const char *gs = strstr(line, " gateways=");
    r->child_gateways[0] = '\0';
    if (gs != NULL)
        snprintf(r->child_gateways, sizeof(r->child_gateways), "%.*s", (int)strcspn(gs + 10, " "),
                 gs + 10);
    r->child_ready = true;
}

static void child_exit(void *ud, int64_t status, int term_signal)
{
    run_t *r = ud;
    r->child_exited = true;
    r->child_ready = true; /* wake the waiter */
}

static wp_status_t deploy(run_t *r, const char *policy, target_t *t, wp_err_t *err)
{
    char *args[] = {"up",          "-f",          (char *)r->opts->topology,
                    "--listen",    "127.0.0.1:0", "--base-port",
                    "0",           "--policy",    (char *)policy,
                    "--log-level", "warn",        NULL};
    r->child_ready = r->child_exited = false;
    r->child = wp_child_spawn_self(r->loop, args, child_line, child_exit, r, err);
    if (r->child == NULL)
        return WP_EIO;
    turn_until(r->loop, &r->child_ready);
    if (r->child_exited)
        return wp_err_set(err, WP_EIO, "`wellpath up -f %s --policy %s` exited before it was ready",
                          r->opts->topology, policy);
    wp_status_t st = parse_target(r->child_url, t, err);
    /* The other replicas: each URL of gateways= but the first (the one above). */
    for (const char *p = r->child_gateways; st == WP_OK && *p;) {
        size_t n = strcspn(p, ",");
        char url[300];
        snprintf(url, sizeof(url), "%.*s", (int)n, p);
        target_t other;
        if (parse_target(url, &other, err) == WP_OK && other.port != t->port &&
            t->n_more_ports < WP_BENCH_MAX_PORTS - 1)
            t->more_ports[t->n_more_ports++] = other.port;
        p += n + (p[n] == ',');
    }
    return st;
}

static void undeploy(run_t *r)
{
    if (r->child == NULL)
        return;
    wp_child_kill(r->child, SIGTERM);
    if (!r->child_exited)
        turn_until(r->loop, &r->child_exited);
    wp_child_free(r->child);
    r->child = NULL;
}

/* ---- output ---- */

static int write_file(const char *path, const wp_buf_t *b, const char *cmd)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(b->data, 1, b->len, f) != b->len) {
        fprintf(stderr, "wellpath %s: cannot write %s: %s\n", cmd, path, strerror(errno));
        if (f)
            fclose(f);
        return 1;
    }
    return fclose(f) == 0 ? 0 : 1;
}

int wp_bench_write_report(wp_report_t *rep, const char *json_path, const char *html_path,
                          const char *cmd)
{
    wp_err_t err;
    wp_buf_t b;
    wp_buf_init(&b, 0);
    int rc = 0;
    if (wp_report_write_table(rep, &b, &err) == WP_OK)
        fwrite(b.data, 1, b.len, stdout);
    fflush(stdout);
    if (json_path != NULL) {
        wp_buf_reset(&b);
        rc |=
            wp_report_write_json(rep, &b, true, &err) == WP_OK ? write_file(json_path, &b, cmd) : 1;
    }
    if (html_path != NULL) {
        wp_buf_reset(&b);
        rc |= wp_report_write_html(rep, &b, &err) == WP_OK ? write_file(html_path, &b, cmd) : 1;
    }
    wp_buf_free(&b);
    return rc;
}

wp_status_t wp_bench_read_trace(const wp_workload_spec_t *spec, const char *workload_file,
                                wp_workload_trace_t *trace, wp_err_t *err)
{
    char path[2048];
    const char *p = spec->trace_path, *slash = workload_file ? strrchr(workload_file, '/') : NULL;
    if (p[0] != '/' && slash != NULL)
        snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - workload_file), workload_file, p);
    else
        wp_strlcpy(path, p, sizeof(path));
    wp_buf_t b;
    wp_status_t st = wp_os_read_file(path, "trace file", WP_WORKLOAD_TRACE_MAX_BYTES, &b, err);
    if (st == WP_OK)
        st = wp_workload_trace_parse(b.data, b.len, path, trace, err);
    wp_buf_free(&b);
    return st;
}

static wp_status_t run_all(run_t *r, wp_report_t *rep, const wp_workload_trace_t *trace,
                           wp_err_t *err)
{
    const wp_bench_opts_t *o = r->opts;
    target_t t;
    if (o->target != NULL) {
        wp_status_t st = parse_target(o->target, &t, err);
        return st == WP_OK ? replay(r, rep, &t, "target", trace, err) : st;
    }
    for (int i = 0; i < o->n_policies && !r->interrupted; i++) {
        wp_status_t st = deploy(r, o->policies[i], &t, err);
        if (st == WP_OK)
            st = replay(r, rep, &t, o->policies[i], trace, err);
        undeploy(r);
        /* A Ctrl-C on a terminal stops the child too: not a failure of its own. */
        if (st != WP_OK && !r->interrupted)
            return st;
    }
    return WP_OK;
}

int wp_bench_run(const wp_bench_opts_t *o)
{
    wp_err_t err;
    wp_workload_trace_t trace = {0};
    target_t t;
    if ((o->target != NULL && parse_target(o->target, &t, &err) != WP_OK) ||
        wp_workload_spec_validate(&o->spec, &err) != WP_OK ||
        (o->spec.type == WP_WORKLOAD_TRACE &&
         wp_bench_read_trace(&o->spec, o->workload_file, &trace, &err) != WP_OK)) {
        fprintf(stderr, "wellpath bench: %s\n", err.msg);
        return 2;
    }
    wp_buf_t wj;
    wp_buf_init(&wj, 0);
    wp_workload_spec_json(&o->spec, &wj);
    wp_report_t *rep = NULL;
    if (wp_report_create(&rep, WP_REPORT_MODE_BENCH, wj.data, &o->slo, NULL, &err) != WP_OK) {
        fprintf(stderr, "wellpath bench: %s\n", err.msg);
        wp_buf_free(&wj);
        wp_workload_trace_free(&trace);
        return 2;
    }
    wp_buf_free(&wj);
    static run_t r;
    memset(&r, 0, sizeof(r));
    r.loop = uv_default_loop();
    wp_os_nofile_raise(65536); /* a connection per request in flight */
    r.opts = o;
    uv_signal_init(r.loop, &r.sigint);
    r.sigint.data = &r;
    uv_signal_start(&r.sigint, on_sigint, SIGINT);
    wp_status_t st = run_all(&r, rep, &trace, &err);
    uv_close((uv_handle_t *)&r.sigint, NULL);
    uv_run(r.loop, UV_RUN_DEFAULT);
    int rc = 0;
    if (st != WP_OK) {
        fprintf(stderr, "wellpath bench: %s\n", err.msg);
        rc = 1;
    }
    if (wp_report_run_count(rep) > 0)
        rc |= wp_bench_write_report(rep, o->json_path, o->html_path, "bench");
    if (rc == 0 && !r.interrupted && r.results > 0 && r.completed == 0) {
        fprintf(stderr, "wellpath bench: every request failed (see the failures in the report)\n");
        rc = 1;
    }
    wp_report_free(rep);
    wp_workload_trace_free(&trace);
    uv_loop_close(r.loop);
    return rc ? rc : r.interrupted ? 130 : 0;
}
