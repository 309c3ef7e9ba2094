/*
 * cli/up: `wellpath up [-f topology.yaml]` — the embedded default (or the file's
 * topology) live on this machine: a `wellpath sim` child process serving the
 * simulated replicas, and the gateway in this process in front of them.
 *
 * Sequence: spawn the child with its settings as flags; read its stdout until the
 * "ready ... ports=" line; start the gateway with one endpoint per port; once every
 * endpoint has joined the pool, print where to point a client. SIGINT or SIGTERM
 * stops the gateway and the child; if the child dies, everything stops with an error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/str.h"
#include "cli/cli.h"
#include "model/model.h"
#include "os/child.h"

static const char usage_text[] =
    "usage: wellpath up [-f FILE] [--listen HOST:PORT] [--log-level LEVEL] [--log-json]\n"
    "\n"
    "Starts a simulated model-server pool and the gateway in front of it, from a topology\n"
    "file; without one, the embedded default (Path 1: four simulated Qwen3-8B replicas,\n"
    "prefix-aware 100 + load-aware 50). Ctrl-C stops all of it.\n"
    "  -f, --file FILE        topology file\n"
    "      --listen HOST:PORT gateway address (default from the file, else 127.0.0.1:8000)\n"
    "      --policy NAME      override inferenceScheduler.policy (topology, round-robin, random,\n"
    "                         llm-d, sglang-cache-aware, dynamo-kv, ...: docs/policies.md)\n"
    "      --base-port P      first simulated replica's port (0: any free ports)\n"
    "      --log-level LEVEL  debug|info|warn|error (default info)\n"
    "      --log-json         logs as JSON lines\n";

typedef struct up_s {
    uv_loop_t *loop;
    wp_child_t *child;
    uv_timer_t ready_timer;
    wp_cli_signals_t sig;
    wp_gateway_config_t gc;
    wp_gateway_t *gw;
    int replicas;
    int ready_ticks;
    bool announced, stopping, log_json;
    int exit_code;
} up_t;

static void stop(up_t *u, int code)
{
    if (u->stopping)
        return;
    u->stopping = true;
    u->exit_code = code;
    if (u->gw != NULL)
        wp_gateway_free(u->gw);
    u->gw = NULL;
    if (u->child != NULL)
        wp_child_free(u->child); /* SIGTERM to a live child */
    u->child = NULL;
    uv_timer_stop(&u->ready_timer);
    uv_close((uv_handle_t *)&u->ready_timer, NULL);
    wp_cli_signals_close(&u->sig);
}

static void on_signal(void *ud, int signum)
{
    wp_log(WP_LOG_INFO, "stopping", "signal=%d", signum);
    stop(ud, 0);
}

static void on_child_exit(void *ud, int64_t status, int term_signal)
{
    up_t *u = ud;
    if (!u->stopping) {
        wp_log(WP_LOG_ERROR, "the simulated pool exited", "status=%lld signal=%d",
               (long long)status, term_signal);
        stop(u, 1);
    }
}

static void on_ready_tick(uv_timer_t *t)
{
    up_t *u = t->data;
    if (u->announced || u->gw == NULL)
        return;
    int ready = wp_gateway_ready_endpoints(u->gw);
    if (ready < u->replicas && ++u->ready_ticks < 1500)
        return;
    u->announced = true;
    uv_timer_stop(t);
    printf("wellpath up: ready gateway=http://%s:%d/v1 replicas=%d/%d model=%s\n",
           u->gc.listen_host, wp_gateway_port(u->gw), ready, u->replicas, u->gc.models[0]);
    printf("  try: curl http://%s:%d/v1/completions -H 'Content-Type: application/json' "
           "-d '{\"model\":\"%s\",\"prompt\":\"Hello\",\"max_tokens\":16}'\n",
           u->gc.listen_host, wp_gateway_port(u->gw), u->gc.models[0]);
    fflush(stdout);
}

/* Adds one endpoint per port of the ready line, then starts the gateway. */
static void start_gateway(up_t *u, const char *ports)
{
    const char *p = ports;
    while (*p && u->gc.n_endpoints < WP_GATEWAY_MAX_ENDPOINTS) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        int64_t port;
        if (wp_parse_i64(p, n, &port) != WP_OK)
            break;
        wp_gateway_endpoint_cfg_t *ep = &u->gc.endpoints[u->gc.n_endpoints];
        memset(ep, 0, sizeof(*ep));
        snprintf(ep->name, sizeof(ep->name), "sim-%d", u->gc.n_endpoints);
        wp_strlcpy(ep->host, "127.0.0.1", sizeof(ep->host));
        ep->port = (int)port;
        u->gc.n_endpoints++;
        p += n + (comma ? 1 : 0);
    }
    wp_err_t err;
    u->gw = wp_gateway_new(u->loop, &u->gc, &err);
    if (u->gw == NULL || wp_gateway_start(u->gw, &err) != WP_OK) {
        fprintf(stderr, "wellpath up: %s\n", err.msg);
        stop(u, 1);
        return;
    }
    uv_timer_start(&u->ready_timer, on_ready_tick, 20, 20);
}

/* Before the ready line: wait for it; after: pass the child's output on. */
static void on_child_line(void *ud, const char *line)
{
    up_t *u = ud;
    if (u->gw != NULL || u->stopping) {
        printf("%s\n", line);
        return;
    }
    const char *ports = strstr(line, "ports=");
    if (ports == NULL) {
        fprintf(stderr, "wellpath up: unexpected output from the simulator: %s\n", line);
        stop(u, 1);
        return;
    }
    start_gateway(u, ports + 6);
}

/* The child's argv: `wellpath sim` with the topology's simulation settings as flags. */
static char **child_args(const wp_sim_config_t *sc, const char *log_level, char store[][32])
{
    static char *argv[40];
    int n = 0, k = 0;
#define ARG(s) (argv[n++] = (char *)(s))
#define NUM(flag, fmt, v) (ARG(flag), snprintf(store[k], 32, fmt, v), ARG(store[k++]))
    ARG("sim");
    ARG("--model");
    ARG(sc->model);
    ARG("--gpu");
    ARG(sc->gpu);
    NUM("--tp", "%d", sc->tensor_parallel);
    NUM("--replicas", "%d", sc->replicas);
    NUM("--port", "%d", sc->port);
    NUM("--time-scale", "%.17g", sc->time_scale);
    NUM("--seed", "%llu", (unsigned long long)sc->seed);
    if (sc->max_num_seqs)
        NUM("--max-num-seqs", "%d", sc->max_num_seqs);
    if (sc->max_num_batched_tokens)
        NUM("--max-num-batched-tokens", "%d", sc->max_num_batched_tokens);
    if (sc->max_model_len)
        NUM("--max-model-len", "%d", sc->max_model_len);
    if (sc->block_size)
        NUM("--block-size", "%d", sc->block_size);
    if (sc->gpu_memory_utilization > 0)
        NUM("--gpu-memory-utilization", "%.17g", sc->gpu_memory_utilization);
    if (!sc->prefix_caching)
        ARG("--no-prefix-caching");
    ARG("--log-level");
    ARG(log_level);
    argv[n] = NULL;
#undef ARG
#undef NUM
    return argv;
}

typedef struct up_opts_s {
    const char *file, *listen, *policy;
    int base_port; /* -1: from the file */
} up_opts_t;

static wp_status_t configure(up_t *u, const up_opts_t *o, wp_sim_config_t *sc, wp_err_t *err)
{
    const char *file = o->file;
    wp_topology_t topo;
    wp_status_t st = wp_cli_load_topology(file, &topo, err);
    if (st != WP_OK)
        return st;
    st = wp_cli_gateway_config(&topo, &u->gc, err);
    if (st == WP_OK)
        st = wp_cli_sim_config(&topo, sc, err);
    if (st == WP_OK && topo.n_endpoints > 0)
        st = wp_err_set(err, WP_EINVAL,
                        "%s lists `endpoints:`; use `wellpath gateway -f` for real servers", file);
    if (st == WP_OK && o->listen != NULL)
        st = wp_cli_parse_listen(o->listen, u->gc.listen_host, sizeof(u->gc.listen_host),
                                 &u->gc.listen_port, err);
    if (st == WP_OK && o->policy != NULL)
        st = wp_sched_config_set_policy(&u->gc.sched, o->policy, err);
    if (o->base_port >= 0)
        sc->port = o->base_port;
    const wp_model_spec_t *m = st == WP_OK ? wp_model_find(topo.model) : NULL;
    if (st == WP_OK && m == NULL)
        st = wp_err_set(err, WP_EINVAL, "model '%s' is not in the catalog", topo.model);
    if (st == WP_OK) {
        wp_strlcpy(u->gc.models[0], m->hf_id, sizeof(u->gc.models[0]));
        wp_strlcpy(u->gc.models[1], m->name, sizeof(u->gc.models[1]));
        u->gc.n_models = 2;
        u->replicas = sc->replicas;
        if (topo.gateway.log_format == WP_TOPO_LOG_JSON)
            u->log_json = true;
    }
    wp_topology_free(&topo);
    return st;
}

int wp_cli_up(int argc, char **argv)
{
    static const struct option opts[] = {{"file", required_argument, NULL, 'f'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"log-level", required_argument, NULL, 'v'},
                                         {"log-json", no_argument, NULL, 'j'},
                                         {"policy", required_argument, NULL, 'p'},
                                         {"base-port", required_argument, NULL, 'b'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    up_opts_t o = {.base_port = -1};
    int64_t port;
    wp_log_level_t level = WP_LOG_INFO;
    const char *level_name = "info";
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            o.file = optarg;
            break;
        case 'l':
            o.listen = optarg;
            break;
        case 'p':
            o.policy = optarg;
            break;
        case 'b':
            if (wp_parse_i64(optarg, strlen(optarg), &port) != WP_OK || port < 0 || port > 65535)
                return wp_cli_fail("up", "--base-port: expected a port number 0..65535");
            o.base_port = (int)port;
            break;
        case 'j':
            json = true;
            break;
        case 'v':
            if (!wp_cli_log_level("up", optarg, &level))
                return 2;
            level_name = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            fputs(usage_text, stderr);
            return 2;
        }
    }
    if (optind < argc)
        return wp_cli_fail("up", "unexpected argument; see --help");
    wp_log_setup(level, json);
    static up_t u;
    wp_sim_config_t sc;
    wp_err_t err;
    if (configure(&u, &o, &sc, &err) != WP_OK)
        return wp_cli_fail("up", err.msg);
    wp_log_setup(level, json || u.log_json);
    u.loop = uv_default_loop();
    static char store[16][32];
    u.child = wp_child_spawn_self(u.loop, child_args(&sc, level_name, store), on_child_line,
                                  on_child_exit, &u, &err);
    if (u.child == NULL)
        return wp_cli_fail("up", err.msg);
    uv_timer_init(u.loop, &u.ready_timer);
    u.ready_timer.data = &u;
    wp_cli_signals_start(u.loop, &u.sig, on_signal, &u);
    uv_run(u.loop, UV_RUN_DEFAULT);
    uv_loop_close(u.loop);
    return u.exit_code;
}
