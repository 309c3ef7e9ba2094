/*
 * cli/gateway: `wellpath gateway -f FILE` — the gateway alone, in front of the
 * endpoints the topology file lists.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "cli/cli.h"

static const char usage_text[] =
    "usage: wellpath gateway -f FILE [--listen HOST:PORT] [--log-level LEVEL] [--log-json]\n"
    "\n"
    "Runs the inference-aware gateway in front of the endpoints listed under\n"
    "`endpoints:` in the topology FILE (url, engine vllm|sglang|trtllm|llamacpp, role).\n"
    "  -f, --file FILE        topology file (required)\n"
    "      --listen HOST:PORT override gateway.listen (port 0: any free port)\n"
    "      --log-level LEVEL  debug|info|warn|error (default info)\n"
    "      --log-json         structured logs as JSON lines instead of logfmt\n";

typedef struct gw_run_s {
    wp_gateway_t *gw;
    wp_cli_signals_t sig;
} gw_run_t;

static void on_signal(void *ud, int signum)
{
    gw_run_t *r = ud;
    wp_log(WP_LOG_INFO, "stopping", "signal=%d", signum);
    wp_gateway_free(r->gw);
    wp_cli_signals_close(&r->sig);
}

int wp_cli_gateway(int argc, char **argv)
{
    static const struct option opts[] = {{"file", required_argument, NULL, 'f'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"log-level", required_argument, NULL, 'v'},
                                         {"log-json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *file = NULL, *listen = NULL;
    wp_log_level_t level = WP_LOG_INFO;
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            file = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'v':
            if (!wp_cli_log_level("gateway", optarg, &level))
                return 2;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            fputs(usage_text, stderr);
            return 2;
        }
    }
    if (file == NULL)
        return wp_cli_fail("gateway",
                           "-f FILE is required (a topology file with an `endpoints:` list)");
    wp_topology_t topo;
    wp_err_t err;
    if (wp_cli_load_topology(file, &topo, &err) != WP_OK)
        return wp_cli_fail("gateway", err.msg);
    wp_log_setup(level, json || topo.gateway.log_format == WP_TOPO_LOG_JSON);
    static wp_gateway_config_t gc;
    wp_status_t st = wp_cli_gateway_config(&topo, &gc, &err);
    if (st == WP_OK && listen != NULL)
        st = wp_cli_parse_listen(listen, gc.listen_host, sizeof(gc.listen_host), &gc.listen_port,
                                 &err);
    if (st == WP_OK && gc.n_endpoints == 0)
        st = wp_err_set(&err, WP_EINVAL,
                        "%s: no `endpoints:` listed; use `wellpath up` for a simulated pool", file);
    wp_topology_free(&topo);
    if (st != WP_OK)
        return wp_cli_fail("gateway", err.msg);
    uv_loop_t *loop = uv_default_loop();
    gw_run_t run = {0};
    run.gw = wp_gateway_new(loop, &gc, &err);
    if (run.gw == NULL)
        return wp_cli_fail("gateway", err.msg);
    if (wp_gateway_start(run.gw, &err) != WP_OK) {
        wp_gateway_free(run.gw);
        uv_run(loop, UV_RUN_DEFAULT);
        return wp_cli_fail("gateway", err.msg);
    }
    wp_cli_signals_start(loop, &run.sig, on_signal, &run);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return 0;
}
