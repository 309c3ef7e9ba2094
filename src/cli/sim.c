/*
 * cli/sim: `wellpath sim` — N simulated vLLM-compatible servers in one process, on
 * consecutive ports. When every replica listens it prints one line on stdout,
 *   wellpath sim: ready model=NAME ports=8100,8101,... kv_ports=P0,P1,...
 *     [kv_events=tcp://H:P,... kv_events_replay=tcp://H:P,...]  (with --kv-events-config)
 * which `wellpath up` (and tests) read to learn the ports; kv_ports are the P/D side
 * channels (protocol in sim/sim.h). Fault injection (--fault, --fault-replicas,
 * --admin-token or WELLPATH_ADMIN_TOKEN) is described in sim/sim.h and fault/fault.h.
 * The simulator's options, their ranges and help are the table in cli/simopts.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <signal.h>

#include "base/log.h"
#include "base/str.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "os/limits.h"

/* Open files a sim process asks for: a socket per client connection, many thousands. */
#define OPEN_FILES_WANTED 65536
#include "cli/simopts.h"

static void usage(FILE *out)
{
    fputs(
        "usage: wellpath sim [options]\n"
        "\n"
        "Simulated vLLM-compatible model servers (OpenAI API, /metrics, /health, /tokenize).\n"
        "  -f, --file FILE              take model, gpu, vllm.* and simulation.* from a topology\n"
        "                               file (the keys marked \"file:\" below); flags win\n",
        out);
    wp_cli_simopt_usage(out);
    fputs("      --log-level LEVEL        debug|info|warn|error\n", out);
}

typedef struct sim_run_s {
    wp_sim_t *sim;
    wp_cli_signals_t sig;
    int shutdown_timeout_s;
    bool draining, stopped;
    uv_timer_t drain_timer; /* while draining: polls for the end */
    uint64_t deadline_ms;
} sim_run_t;

static void stop(sim_run_t *r)
{
    if (r->stopped)
        return;
    r->stopped = true;
    if (r->draining)
        uv_close((uv_handle_t *)&r->drain_timer, NULL);
    wp_sim_free(r->sim);
    wp_cli_signals_close(&r->sig);
}

static void on_drain_tick(uv_timer_t *t)
{
    sim_run_t *r = t->data;
    if (wp_sim_idle(r->sim) || uv_now(t->loop) >= r->deadline_ms) {
        wp_log(WP_LOG_INFO, "sim: drained, stopping", "idle=%s",
               wp_sim_idle(r->sim) ? "true" : "false");
        stop(r);
    }
}

/* SIGTERM with --shutdown-timeout: drain as vLLM does (sim/notice.c), then stop; any other
 * signal, or a second one, stops at once. */
static void on_signal(void *ud, int signum)
{
    sim_run_t *r = ud;
    if (signum == SIGTERM && r->shutdown_timeout_s > 0 && !r->draining && !r->stopped) {
        uv_loop_t *loop = r->sig.sigterm.loop;
        r->draining = true;
        r->deadline_ms = uv_now(loop) + (uint64_t)r->shutdown_timeout_s * 1000;
        uv_timer_init(loop, &r->drain_timer);
        r->drain_timer.data = r;
        uv_timer_start(&r->drain_timer, on_drain_tick, 20, 20);
        int n = wp_sim_drain(r->sim, (int64_t)r->shutdown_timeout_s * 1000);
        wp_log(WP_LOG_WARN, "sim: SIGTERM, draining", "replicas=%d shutdown_timeout_s=%d", n,
               r->shutdown_timeout_s);
        return;
    }
    if (r->draining)
        uv_timer_stop(&r->drain_timer);
    stop(r);
}

enum { O_FILE = 'f', O_HELP = 'h', O_LOG = 256, O_ROW = 512 /* + the simopts row */ };

static const wp_cli_opt_t opts[] = {
    {"file", 'f', true, O_FILE},
    {"log-level", 0, true, O_LOG},
    {"help", 'h', false, O_HELP},
};

/* The topology file's settings into sc (the file, if more than one is given, the last). */
static wp_status_t read_file(const char *path, wp_sim_config_t *sc, wp_err_t *err)
{
    wp_topology_t t;
    wp_status_t st = wp_cli_load_topology(path, &t, err);
    if (st != WP_OK)
        return st;
    st = wp_cli_sim_config(&t, sc, err);
    wp_topology_free(&t);
    return st;
}

int wp_cli_sim(int argc, char **argv)
{
    wp_sim_config_t sc;
    wp_sim_config_default(&sc);
    wp_err_t err;
    wp_cli_args_t args;
    wp_cli_opt_t row_opts[WP_CLI_SIMOPT_MAX];
    const char *v;
    int c;
    wp_cli_args_init(&args, argc, argv);
    if (wp_cli_args_add(&args, opts, sizeof(opts) / sizeof(opts[0]), &err) != WP_OK ||
        wp_cli_simopt_add_options(&args, row_opts, O_ROW, &err) != WP_OK)
        return wp_cli_fail("sim", err.msg);
    /* A topology file first, then the flags over it, whatever their order. */
    while ((c = wp_cli_args_next(&args, &v, &err)) > 0)
        if (c == O_FILE && read_file(v, &sc, &err) != WP_OK)
            return wp_cli_fail("sim", err.msg);
    if (c < 0)
        return wp_cli_fail("sim", err.msg);
    wp_cli_args_rewind(&args);
    /* The environment over the file, the flags over both. */
    const wp_cli_simopt_t *token = wp_cli_simopt_find("admin-token");
    const wp_cli_simopt_t *fault = wp_cli_simopt_find("fault");
    const wp_cli_simopt_t *fault_replicas = wp_cli_simopt_find("fault-replicas");
    const char *env_token = wp_cli_env_admin_token();
    if (env_token != NULL &&
        wp_cli_simopt_apply(token, &sc, "WELLPATH_ADMIN_TOKEN", env_token, &err) != WP_OK)
        return wp_cli_fail("sim", err.msg);
    bool flag_faults = false, flag_replicas = false;
    while ((c = wp_cli_args_next(&args, &v, &err)) > 0) {
        if (c == O_HELP) {
            usage(stdout);
            return 0;
        }
        if (c == O_LOG) {
            wp_log_level_t level;
            if (!wp_cli_log_level("sim", v, &level))
                return 2;
            wp_log_setup(level, false);
            continue;
        }
        if (c < O_ROW)
            continue; /* --file: read above */
        const wp_cli_simopt_t *o = wp_cli_simopt_at((size_t)(c - O_ROW));
        if (o == fault && !flag_faults) { /* --fault flags replace the file's faults */
            sc.faults.n = 0;
            flag_faults = true;
        }
        flag_replicas |= o == fault_replicas;
        if (wp_cli_simopt_apply(o, &sc, NULL, v, &err) != WP_OK)
            return wp_cli_fail("sim", err.msg);
    }
    if (c < 0)
        return wp_cli_fail("sim", err.msg);
    int servers = sc.replicas * wp_sim_ranks(&sc);
    if (flag_replicas && servers < 64 && (sc.fault_replicas >> servers) != 0) {
        snprintf(err.msg, sizeof(err.msg),
                 "--fault-replicas: replica %d does not exist (replicas 0..%d)",
                 63 - __builtin_clzll(sc.fault_replicas), servers - 1);
        return wp_cli_fail("sim", err.msg);
    }
    if (getenv("WELLPATH_PARENT_DEATH") != NULL)
        prctl(PR_SET_PDEATHSIG, SIGTERM);
    uv_loop_t *loop = uv_default_loop();
    wp_os_nofile_raise(OPEN_FILES_WANTED); /* a server for many clients at once */
    sim_run_t run = {.shutdown_timeout_s = sc.shutdown_timeout_s};
    run.sim = wp_sim_new(loop, &sc, &err);
    if (run.sim == NULL)
        return wp_cli_fail("sim", err.msg);
    if (wp_sim_start(run.sim, &err) != WP_OK) {
        wp_sim_free(run.sim);
        uv_run(loop, UV_RUN_DEFAULT);
        return wp_cli_fail("sim", err.msg);
    }
    /* Caught from before the ready line on: a SIGTERM right after it stops cleanly. */
    wp_cli_signals_start(loop, &run.sig, on_signal, &run);
    printf("wellpath sim: ready model=%s ports=", wp_sim_served_name(run.sim));
    for (int i = 0; i < wp_sim_replicas(run.sim); i++)
        printf("%s%d", i ? "," : "", wp_sim_port(run.sim, i));
    printf(" kv_ports=");
    for (int i = 0; i < wp_sim_replicas(run.sim); i++)
        printf("%s%d", i ? "," : "", wp_sim_kv_port(run.sim, i));
    if (wp_sim_kv_events_endpoint(run.sim, 0, false)[0]) {
        printf(" kv_events=");
        for (int i = 0; i < wp_sim_replicas(run.sim); i++)
            printf("%s%s", i ? "," : "", wp_sim_kv_events_endpoint(run.sim, i, false));
        printf(" kv_events_replay=");
        for (int i = 0; i < wp_sim_replicas(run.sim); i++)
            printf("%s%s", i ? "," : "", wp_sim_kv_events_endpoint(run.sim, i, true));
    }
    printf("\n");
    fflush(stdout);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return 0;
}
