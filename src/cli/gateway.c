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
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/str.h"
#include "cli/args.h"
#include "cli/cli.h"

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
    "Signals: SIGTERM/SIGINT drain then exit (twice: exit at once); SIGHUP reloads FILE.\n";

typedef struct gw_run_s {
    wp_gateway_t *gw;
    wp_cli_signals_t sig;
    uv_signal_t sighup;
    const char *file, *listen;
    int64_t drain_timeout_ms; /* -1: from the config */
    bool draining;
    int exit_code;
} gw_run_t;

/* FILE (and the command line over it) as a gateway config. */
static wp_status_t build_config(const gw_run_t *r, wp_gateway_config_t *gc, bool *log_json,
                                wp_err_t *err)
{
    wp_topology_t topo;
    wp_status_t st = wp_cli_load_topology(r->file, &topo, err);
    if (st != WP_OK)
        return st;
    *log_json = topo.gateway.log_format == WP_TOPO_LOG_JSON;
    st = wp_cli_gateway_config(&topo, gc, err);
    if (st == WP_OK && r->listen != NULL)
        st = wp_cli_listen(r->listen, gc, err);
    if (st == WP_OK && gc->n_endpoints == 0)
        st = wp_err_set(err, WP_EINVAL,
                        "%s: no `endpoints:` listed; use `wellpath up` for a simulated pool",
                        r->file);
    if (r->drain_timeout_ms >= 0)
        gc->drain_timeout_ms = (uint64_t)r->drain_timeout_ms;
    wp_topology_free(&topo);
    return st;
}

static void stop_now(gw_run_t *r, int code)
{
    r->exit_code = code;
    wp_gateway_free(r->gw);
    r->gw = NULL;
    wp_cli_signals_close(&r->sig);
    uv_close((uv_handle_t *)&r->sighup, NULL);
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

/* Re-reads FILE and applies it; on failure the running config stays and the log says why. */
static wp_status_t reload(void *ud, wp_err_t *err)
{
    gw_run_t *r = ud;
    static wp_gateway_config_t gc; /* large: not on the stack */
    bool log_json;
    if (r->gw == NULL || r->draining)
        return wp_err_set(err, WP_EINVAL, "the gateway is shutting down");
    wp_log(WP_LOG_INFO, "reloading", "file=%s", r->file);
    if (build_config(r, &gc, &log_json, err) != WP_OK ||
        wp_gateway_reload(r->gw, &gc, err) != WP_OK) {
        wp_cli_log_reload_failed(r->file, err->msg);
        return WP_EINVAL;
    }
    return WP_OK;
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

enum { O_FILE = 'f', O_HELP = 'h', O_LISTEN = 256, O_LOG, O_JSON, O_DRAIN };

static const wp_cli_opt_t opts[] = {
    {"file", 'f', true, O_FILE},         {"listen", 0, true, O_LISTEN},
    {"log-level", 0, true, O_LOG},       {"log-json", 0, false, O_JSON},
    {"drain-timeout", 0, true, O_DRAIN}, {"help", 'h', false, O_HELP},
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
    bool log_json = false;
    wp_log_setup(level, json);
    if (build_config(&run, &gc, &log_json, &err) != WP_OK)
        return wp_cli_fail("gateway", err.msg);
    wp_log_setup(level, json || log_json);
    uv_loop_t *loop = uv_default_loop();
    run.gw = wp_gateway_new(loop, &gc, &err);
    if (run.gw == NULL)
        return wp_cli_fail("gateway", err.msg);
    /* Signals are caught before the gateway listens: a SIGTERM sent as soon as the
     * "listening" line appears drains like any other. */
    wp_cli_signals_start(loop, &run.sig, on_signal, &run);
    uv_signal_init(loop, &run.sighup);
    run.sighup.data = &run;
    uv_signal_start(&run.sighup, on_sighup, SIGHUP);
    if (wp_gateway_start(run.gw, &err) != WP_OK) {
        stop_now(&run, 2);
        uv_run(loop, UV_RUN_DEFAULT);
        return wp_cli_fail("gateway", err.msg);
    }
    wp_gateway_set_admin(run.gw, &(wp_gateway_admin_t){reload, admin_drain, &run});
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return run.exit_code;
}
