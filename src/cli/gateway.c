/*
 * cli/gateway: `wellpath gateway -f FILE` — the gateway alone, in front of the
 * endpoints the topology file lists.
 *
 * Signals: SIGTERM or SIGINT drains (wp_gateway_drain: stop accepting, let in-flight
 * requests finish, at most --drain-timeout ms) and exits 0, or 1 when requests had to be
 * cut; a second SIGTERM/SIGINT exits at once. SIGHUP re-reads FILE and applies it with
 * wp_gateway_reload; a file that does not load or apply leaves the running config as it
 * is and logs one line saying why (the key and line, from the topology parser). With an
 * admin token (gateway.adminToken or WELLPATH_ADMIN_TOKEN), POST /admin/reload and POST
 * /admin/drain do the same as SIGHUP and SIGTERM.
 *
 * Discovery (gateway.discoveryFile, cli/discovery.h): the file's endpoints join the
 * topology's. A change to it is applied as a reload of the endpoints alone: the topology as
 * last loaded, with the file's new endpoints. A discovery file that cannot be read or parsed
 * keeps the endpoints last read from it (at start: none, and the gateway waits for the file)
 * and logs why; a SIGHUP reads both files again.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/str.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/discovery.h"
#include "cli/dnsdisc.h"

static const char usage_text[] =
    "usage: wellpath gateway -f FILE [--listen HOST:PORT] [--log-level LEVEL] [--log-json]\n"
    "\n"
    "Runs the inference-aware gateway in front of the endpoints listed under\n"
    "`endpoints:` in the topology FILE (url, engine vllm|sglang|trtllm|llamacpp, role).\n"
    "  -f, --file FILE        topology file (required)\n"
    "      --listen HOST:PORT override gateway.listen (port 0: any free port)\n"
    "      --log-level LEVEL  debug|info|warn|error (default info)\n"
    "      --log-json         structured logs as JSON lines instead of logfmt\n"
    "      --drain-timeout MS on SIGTERM, how long in-flight requests may run (default 30000)\n"
    "      --workers N        override gateway.workers: event loops on the listen address (1..64)\n"
    "Signals: SIGTERM/SIGINT drain then exit (twice: exit at once); SIGHUP reloads FILE.\n"
    "gateway.discoveryFile in FILE names a file of more endpoints, watched and applied as\n"
    "it changes.\n";

typedef struct gw_run_s {
    wp_gateway_t *gw;
    wp_cli_signals_t sig;
    uv_signal_t sighup;
    const char *file, *listen;
    int64_t drain_timeout_ms; /* -1: from the config */
    int workers;              /* 0: from the config */
    bool draining;
    int exit_code;
    wp_topology_t topo;       /* FILE as last loaded (its endpoints owned) */
    wp_topology_t found;      /* the discovery file's endpoints as last read (owned) */
    wp_buf_t found_bytes;     /* ... and its bytes */
    wp_cli_discovery_t watch; /* the discovery file's directory */
    wp_cli_dnsdisc_t dns;     /* the endpoints named by DNS (discover: dns, srv) */
    bool file_ok;             /* the discovery file's last read succeeded */
    uint64_t file_reads, file_failures;
    char file_error[200]; /* the last failed read's words */
} gw_run_t;

static void push_sources(gw_run_t *r);

/* A copy of t's endpoints into out (empty). */
static wp_status_t copy_endpoints(const wp_topology_t *t, wp_topology_t *out, wp_err_t *err)
{
    out->endpoints = NULL;
    out->n_endpoints = 0;
    return wp_topology_add_endpoints(out, t, "endpoints", err);
}

/* The discovery file at path into found and bytes (empty), to apply: its endpoints, or when it
 * cannot be read, a copy of those last applied (the log says so; at start: none). *changed:
 * they differ from those last applied. A text that does not parse: its error. The counts and
 * the last error (/metrics, /status) are kept in r. */
static wp_status_t read_discovery(gw_run_t *r, const char *path, wp_topology_t *found,
                                  wp_buf_t *bytes, bool *changed, wp_err_t *err)
{
    *changed = false;
    found->endpoints = NULL;
    found->n_endpoints = 0;
    wp_buf_init(bytes, 0);
    if (path[0] == '\0') {
        *changed = r->found.n_endpoints > 0;
        return WP_OK;
    }
    wp_status_t st = wp_cli_discovery_read(path, bytes, found, err);
    r->file_reads++;
    r->file_ok = st == WP_OK;
    if (st != WP_OK) {
        r->file_failures++;
        wp_strlcpy(r->file_error, err->msg, sizeof(r->file_error));
    } else {
        r->file_error[0] = '\0';
    }
    if (st == WP_ENOTFOUND || st == WP_EIO) {
        wp_log(WP_LOG_WARN, "discovery file unreadable: keeping the endpoints last read from it",
               "file=%s endpoints=%zu reason=\"%s\"", path, r->found.n_endpoints, err->msg);
        wp_buf_free(bytes);
        if (wp_buf_append(bytes, r->found_bytes.data ? r->found_bytes.data : "",
                          r->found_bytes.len) != WP_OK)
            return wp_err_set(err, WP_ENOMEM, "out of memory");
        return copy_endpoints(&r->found, found, err);
    }
    if (st != WP_OK)
        return st;
    *changed = r->found_bytes.len != bytes->len ||
               (bytes->len > 0 && memcmp(r->found_bytes.data, bytes->data, bytes->len) != 0) ||
               r->found_bytes.data == NULL;
    if (!*changed)
        wp_log(WP_LOG_INFO, "discovery file read: unchanged", "file=%s endpoints=%zu", path,
               r->found.n_endpoints);
    return WP_OK;
}

static void on_dns_looked(void *ud, bool changed);

/* Whether t names endpoints that come and go (a discovery file, names followed in DNS): then
 * it may start with none. */
static bool discovers(const wp_topology_t *t)
{
    bool any = t->gateway.discovery_file[0] != '\0';
    for (size_t i = 0; i < t->n_endpoints && !any; i++)
        any = t->endpoints[i].discover != WP_TOPO_DISCOVER_NONE;
    return any;
}

/* topo with the discovered endpoints (found, the discovery file's; the addresses of the
 * names followed in DNS, which this syncs) and the command line over it, as a gateway
 * config. */
static wp_status_t build_config(gw_run_t *r, const wp_topology_t *t, const wp_topology_t *found,
                                wp_gateway_config_t *gc, bool *log_json, wp_err_t *err)
{
    wp_topology_t listed = *t, topo = *t;
    listed.endpoints = NULL;
    listed.n_endpoints = 0;
    wp_status_t st = wp_topology_add_endpoints(&listed, t, r->file, err);
    if (st == WP_OK)
        st = wp_topology_add_endpoints(&listed, found, t->gateway.discovery_file, err);
    if (st == WP_OK)
        st = wp_cli_dnsdisc_sync(&r->dns, uv_default_loop(), &listed, on_dns_looked, r, err);
    topo.endpoints = NULL;
    topo.n_endpoints = 0;
    if (st == WP_OK)
        st = wp_cli_dnsdisc_expand(&r->dns, &listed, &topo, err);
    *log_json = topo.gateway.log_format == WP_TOPO_LOG_JSON;
    if (st == WP_OK)
        st = wp_cli_gateway_config(&topo, gc, err);
    if (st == WP_OK && r->listen != NULL)
        st = wp_cli_listen(r->listen, gc, err);
    if (st == WP_OK && gc->n_endpoints == 0 && !discovers(&listed))
        st = wp_err_set(err, WP_EINVAL,
                        "%s: no `endpoints:` listed (nor gateway.discoveryFile); use `wellpath up` "
                        "for a simulated pool",
                        r->file);
    if (r->drain_timeout_ms >= 0)
        gc->drain_timeout_ms = (uint64_t)r->drain_timeout_ms;
    if (r->workers > 0)
        gc->workers = r->workers;
    wp_topology_free(&topo);
    wp_topology_free(&listed);
    return st;
}

static void run_free(gw_run_t *r)
{
    wp_topology_free(&r->topo);
    wp_topology_free(&r->found);
    wp_buf_free(&r->found_bytes);
}

static void stop_now(gw_run_t *r, int code)
{
    r->exit_code = code;
    wp_gateway_free(r->gw);
    r->gw = NULL;
    wp_cli_signals_close(&r->sig);
    uv_close((uv_handle_t *)&r->sighup, NULL);
    wp_cli_discovery_close(&r->watch);
    wp_cli_dnsdisc_close(&r->dns);
}

static void on_drained(void *ud, int cut)
{
    stop_now(ud, cut > 0 ? 1 : 0);
}

static void begin_drain(gw_run_t *r)
{
    r->draining = true;
    wp_gateway_drain(r->gw, on_drained, r);
}

static void on_signal(void *ud, int signum)
{
    gw_run_t *r = ud;
    if (r->gw == NULL)
        return;
    if (r->draining) {
        wp_log(WP_LOG_WARN, "second signal: stopping now", "signal=%d", signum);
        stop_now(r, 1);
        return;
    }
    wp_log(WP_LOG_INFO, "stopping", "signal=%d", signum);
    begin_drain(r);
}

static void on_discovery_changed(void *ud);

/* Applies topo and found (the DNS names' addresses with them); on failure the running config
 * stays and the log says why, naming `file`. */
static wp_status_t apply(gw_run_t *r, const wp_topology_t *topo, const wp_topology_t *found,
                         const char *file, wp_err_t *err)
{
    static wp_gateway_config_t gc; /* large: not on the stack */
    bool log_json;
    if (build_config(r, topo, found, &gc, &log_json, err) != WP_OK ||
        wp_gateway_reload(r->gw, &gc, err) != WP_OK) {
        wp_cli_log_reload_failed(file, err->msg);
        return WP_EINVAL;
    }
    wp_cli_dnsdisc_applied(&r->dns);
    return WP_OK;
}

/* What was applied becomes the state the next change starts from; the old state goes. */
static void commit(gw_run_t *r, wp_topology_t *topo, wp_topology_t *found, wp_buf_t *bytes)
{
    if (topo != NULL) {
        wp_topology_t t = r->topo;
        r->topo = *topo;
        *topo = t;
    }
    wp_topology_t f = r->found;
    r->found = *found;
    *found = f;
    wp_buf_t b = r->found_bytes;
    r->found_bytes = *bytes;
    *bytes = b;
}

/* Re-reads FILE and the discovery file and applies them; on failure the running config
 * stays and the log says why. */
static wp_status_t reload(void *ud, wp_err_t *err)
{
    gw_run_t *r = ud;
    bool changed;
    if (r->gw == NULL || r->draining)
        return wp_err_set(err, WP_EINVAL, "the gateway is shutting down");
    wp_log(WP_LOG_INFO, "reloading", "file=%s", r->file);
    wp_topology_t topo, found = {0};
    wp_buf_t bytes = {0};
    wp_status_t st = wp_cli_load_topology(r->file, &topo, err);
    if (st != WP_OK) {
        wp_cli_log_reload_failed(r->file, err->msg);
        return WP_EINVAL;
    }
    const char *file = r->file;
    st = read_discovery(r, topo.gateway.discovery_file, &found, &bytes, &changed, err);
    if (st != WP_OK)
        file = topo.gateway.discovery_file;
    if (st != WP_OK)
        wp_cli_log_reload_failed(file, err->msg);
    else
        st = apply(r, &topo, &found, file, err);
    if (st == WP_OK) {
        commit(r, &topo, &found, &bytes);
        wp_err_t werr;
        if (wp_cli_discovery_watch(&r->watch, uv_default_loop(), r->topo.gateway.discovery_file,
                                   on_discovery_changed, r, &werr) != WP_OK)
            wp_log(WP_LOG_WARN, "discovery file: not watched", "reason=\"%s\"", werr.msg);
    }
    wp_topology_free(&topo);
    wp_topology_free(&found);
    wp_buf_free(&bytes);
    push_sources(r);
    return st == WP_OK ? WP_OK : WP_EINVAL;
}

/* The gateway's view of where its endpoints come from (/metrics, /status). */
static void push_sources(gw_run_t *r)
{
    static wp_gateway_source_t s[WP_GATEWAY_MAX_SOURCES];
    int n = 0;
    if (r->gw == NULL)
        return;
    if (r->topo.gateway.discovery_file[0] != '\0') {
        s[n] = (wp_gateway_source_t){.ok = r->file_ok,
                                     .endpoints = (uint32_t)r->found.n_endpoints,
                                     .lookups = r->file_reads,
                                     .failures = r->file_failures};
        wp_strlcpy(s[n].name, r->topo.gateway.discovery_file, sizeof(s[n].name));
        wp_strlcpy(s[n].kind, "file", sizeof(s[n].kind));
        wp_strlcpy(s[n].error, r->file_error, sizeof(s[n].error));
        n++;
    }
    for (int i = 0; i < r->dns.n_names && n < WP_GATEWAY_MAX_SOURCES; i++) {
        const wp_cli_dns_name_t *nm = &r->dns.names[i];
        if (nm->host[0] == '\0' || !nm->listed)
            continue;
        s[n] = (wp_gateway_source_t){.ok = nm->ok,
                                     .endpoints = (uint32_t)nm->n,
                                     .lookups = nm->lookups,
                                     .failures = nm->failures};
        wp_strlcpy(s[n].name, nm->host, sizeof(s[n].name));
        wp_strlcpy(s[n].kind, nm->srv ? "srv" : "dns", sizeof(s[n].kind));
        wp_strlcpy(s[n].error, nm->error, sizeof(s[n].error));
        n++;
    }
    wp_gateway_set_sources(r->gw, s, n);
}

/* A lookup of a name followed in DNS ended; addresses not yet applied replace its
 * endpoints (a failed apply is tried again at the name's next lookup). */
static void on_dns_looked(void *ud, bool unapplied)
{
    gw_run_t *r = ud;
    wp_err_t err;
    if (r->gw == NULL || r->draining)
        return;
    if (unapplied)
        apply(r, &r->topo, &r->found, "DNS", &err);
    push_sources(r);
}

/* The discovery file's directory changed: its endpoints, if they changed, replace those
 * last read (the rest of the running config as FILE was last loaded). */
static void on_discovery_changed(void *ud)
{
    gw_run_t *r = ud;
    wp_err_t err;
    bool changed;
    const char *path = r->topo.gateway.discovery_file;
    if (r->gw == NULL || r->draining)
        return;
    wp_topology_t found;
    wp_buf_t bytes;
    wp_status_t st = read_discovery(r, path, &found, &bytes, &changed, &err);
    if (st != WP_OK)
        wp_cli_log_reload_failed(path, err.msg);
    if (st == WP_OK && changed) {
        wp_log(WP_LOG_INFO, "discovery file changed: applying its endpoints",
               "file=%s endpoints=%zu", path, found.n_endpoints);
        /* Applied, it becomes the last good set; refused, the last good set stays (and the
         * same bytes are tried again at the next change, differing from those applied). */
        if (apply(r, &r->topo, &found, path, &err) == WP_OK)
            commit(r, NULL, &found, &bytes);
    }
    wp_topology_free(&found);
    wp_buf_free(&bytes);
    push_sources(r);
}

static void on_sighup(uv_signal_t *h, int signum)
{
    wp_err_t err;
    reload(h->data, &err);
}

static void admin_drain(void *ud)
{
    gw_run_t *r = ud;
    if (r->gw != NULL && !r->draining)
        begin_drain(r);
}

enum { O_FILE = 'f', O_HELP = 'h', O_LISTEN = 256, O_LOG, O_JSON, O_DRAIN, O_WORKERS };

static const wp_cli_opt_t opts[] = {
    {"file", 'f', true, O_FILE},         {"listen", 0, true, O_LISTEN},
    {"log-level", 0, true, O_LOG},       {"log-json", 0, false, O_JSON},
    {"drain-timeout", 0, true, O_DRAIN}, {"help", 'h', false, O_HELP},
    {"workers", 0, true, O_WORKERS},
};

int wp_cli_gateway(int argc, char **argv)
{
    static gw_run_t run;
    run = (gw_run_t){.drain_timeout_ms = -1};
    wp_log_level_t level = WP_LOG_INFO;
    bool json = false;
    wp_cli_args_t args;
    wp_err_t err;
    const char *v;
    int c;
    wp_cli_args_init(&args, argc, argv);
    if (wp_cli_args_add(&args, opts, sizeof(opts) / sizeof(opts[0]), &err) != WP_OK)
        return wp_cli_fail("gateway", err.msg);
    while ((c = wp_cli_args_next(&args, &v, &err)) > 0) {
        switch (c) {
        case O_FILE:
            run.file = v;
            break;
        case O_LISTEN:
            run.listen = v;
            break;
        case O_DRAIN:
            if (!wp_cli_drain_timeout("gateway", v, &run.drain_timeout_ms))
                return 2;
            break;
        case O_WORKERS: {
            int64_t n;
            if (wp_parse_i64(v, strlen(v), &n) != WP_OK || n < 1 || n > WP_GATEWAY_MAX_WORKERS) {
                char msg[160];
                snprintf(msg, sizeof(msg), "--workers: expected an integer in 1..%d, got '%.40s'",
                         WP_GATEWAY_MAX_WORKERS, v);
                return wp_cli_fail("gateway", msg);
            }
            run.workers = (int)n;
            break;
        }
        case O_JSON:
            json = true;
            break;
        case O_LOG:
            if (!wp_cli_log_level("gateway", v, &level))
                return 2;
            break;
        case O_HELP:
            fputs(usage_text, stdout);
            return 0;
        }
    }
    if (c < 0)
        return wp_cli_fail("gateway", err.msg);
    if (run.file == NULL)
        return wp_cli_fail("gateway",
                           "-f FILE is required (a topology file with an `endpoints:` list)");
    static wp_gateway_config_t gc;
    bool log_json = false, changed;
    wp_log_setup(level, json);
    wp_topology_t found;
    wp_buf_t bytes;
    wp_status_t st = wp_cli_load_topology(run.file, &run.topo, &err);
    if (st == WP_OK)
        st = read_discovery(&run, run.topo.gateway.discovery_file, &found, &bytes, &changed, &err);
    if (st == WP_OK) {
        commit(&run, NULL, &found, &bytes);
        wp_topology_free(&found);
        wp_buf_free(&bytes);
        st = build_config(&run, &run.topo, &run.found, &gc, &log_json, &err);
    }
    if (st != WP_OK) {
        run_free(&run);
        return wp_cli_fail("gateway", err.msg);
    }
    wp_log_setup(level, json || log_json);
    uv_loop_t *loop = uv_default_loop();
    run.gw = wp_gateway_new(loop, &gc, &err);
    if (run.gw == NULL) {
        run_free(&run);
        return wp_cli_fail("gateway", err.msg);
    }
    /* Signals are caught before the gateway listens: a SIGTERM sent as soon as the
     * "listening" line appears drains like any other. */
    wp_cli_signals_start(loop, &run.sig, on_signal, &run);
    uv_signal_init(loop, &run.sighup);
    run.sighup.data = &run;
    uv_signal_start(&run.sighup, on_sighup, SIGHUP);
    if (wp_gateway_start(run.gw, &err) != WP_OK) {
        stop_now(&run, 2);
        uv_run(loop, UV_RUN_DEFAULT);
        run_free(&run);
        return wp_cli_fail("gateway", err.msg);
    }
    wp_gateway_set_admin(run.gw, &(wp_gateway_admin_t){reload, admin_drain, &run});
    push_sources(&run);
    if (run.topo.gateway.discovery_file[0] != '\0' &&
        wp_cli_discovery_watch(&run.watch, loop, run.topo.gateway.discovery_file,
                               on_discovery_changed, &run, &err) != WP_OK) {
        stop_now(&run, 2);
        uv_run(loop, UV_RUN_DEFAULT);
        run_free(&run);
        return wp_cli_fail("gateway", err.msg);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    run_free(&run);
    return run.exit_code;
}
