/*
 * cli/up: `wellpath up [-f topology.yaml]` — the embedded default (or the file's
 * topology) live on this machine: a `wellpath sim` child process serving the
 * simulated replicas, and the gateway in this process in front of them.
 *
 * Sequence: spawn the child with its settings as flags (the rows of cli/simopts.h: every
 * vllm.* and simulation.* key, faults and admin token included, applies to every replica
 * of every pool); read its stdout
 * until the "ready ... ports=" line; start the gateway with one endpoint per port; once every
 * endpoint has joined the pool, print where to point a client. SIGINT or SIGTERM
 * drains the gateway (wp_gateway_drain: in-flight requests finish, at most
 * --drain-timeout ms), then stops the child; a second signal stops everything at once.
 * If the child dies, everything stops with an error. SIGHUP (or POST /admin/reload with
 * the admin token) re-reads FILE and applies what the gateway owns (scheduler, weights,
 * limits, timeouts, flow control, logging) to the running pool; a change to the simulated
 * pool itself (model, GPU, replicas, TP, engine settings) needs a restart and is refused
 * with a line that says so, keeping the running config. POST /admin/drain is SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/str.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/simopts.h"
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
    "      --log-json         logs as JSON lines\n"
    "      --drain-timeout MS on SIGTERM, how long in-flight requests may run (default 30000)\n";

typedef struct up_opts_s {
    const char *file, *listen, *policy;
    int base_port;            /* -1: from the file */
    int64_t drain_timeout_ms; /* -1: the default */
} up_opts_t;

struct up_s;

/* One simulated pool: a `wellpath sim` child and the endpoints it serves. Path 1 has one
 * pool; P/D has a prefill pool and a decode pool. */
typedef struct up_pool_s {
    struct up_s *u;
    wp_child_t *child;
    wp_sim_config_t sc;
    wp_sched_role_t role;
    const char *prefix; /* endpoint names: prefix-0, prefix-1, ... */
    char ports[4096];   /* from the child's ready line */
    /* ... and, with KV events, each replica's publisher and replay addresses */
    char kv_events[8192], kv_replay[8192];
    bool ready;
} up_pool_t;

typedef struct up_s {
    uv_loop_t *loop;
    up_pool_t pools[2];
    int n_pools;
    uv_timer_t ready_timer;
    wp_cli_signals_t sig;
    uv_signal_t sighup;
    up_opts_t opts;
    wp_gateway_config_t gc;
    wp_gateway_t *gw; /* gws[0] */
    /* gateway.replicas: gateways over the one pool, each its own scheduler; ports from the
     * listen port on (+ i), or any free ones; share_routes: they share their routing */
    wp_gateway_t *gws[16];
    int n_gw, want_gw, drained_gw, cut_gw;
    bool share_routes;
    int replicas;       /* over all pools */
    char transport[16]; /* nixl.transport: the simulated KV link of a P/D pair */
    int ready_ticks;
    bool kv_events; /* the scheduler reads KV events: the sims publish them */
    bool announced, stopping, draining, log_json;
    int exit_code;
} up_t;

/* The simulated servers' KV events when the scheduler reads them: vLLM's config, each
 * replica on free loopback ports, replay on. */
#define KV_EVENTS_CONFIG                                                                           \
    "{\"enable_kv_cache_events\":true,\"publisher\":\"zmq\",\"endpoint\":\"tcp://"                 \
    "127.0.0.1:0\",\"replay_endpoint\":\"tcp://127.0.0.1:0\"}"

static void stop(up_t *u, int code)
{
    if (u->stopping)
        return;
    u->stopping = true;
    u->exit_code = code;
    for (int i = 0; i < u->n_gw; i++)
        wp_gateway_free(u->gws[i]);
    u->n_gw = 0;
    u->gw = NULL;
    for (int i = 0; i < u->n_pools; i++) {
        if (u->pools[i].child != NULL)
            wp_child_free(u->pools[i].child); /* SIGTERM to a live child */
        u->pools[i].child = NULL;
    }
    uv_timer_stop(&u->ready_timer);
    uv_close((uv_handle_t *)&u->ready_timer, NULL);
    wp_cli_signals_close(&u->sig);
    uv_close((uv_handle_t *)&u->sighup, NULL);
}

/* Each replica drains; the last one to finish stops everything. */
static void on_drained(void *ud, int cut)
{
    up_t *u = ud;
    u->cut_gw += cut;
    if (++u->drained_gw == u->n_gw)
        stop(u, u->cut_gw > 0 ? 1 : 0);
}

static void drain_all(up_t *u)
{
    u->draining = true;
    for (int i = 0; i < u->n_gw; i++)
        wp_gateway_drain(u->gws[i], on_drained, u);
}

static void on_signal(void *ud, int signum)
{
    up_t *u = ud;
    if (u->draining || u->gw == NULL) {
        wp_log(WP_LOG_INFO, "stopping now", "signal=%d", signum);
        stop(u, u->draining ? 1 : 0);
        return;
    }
    wp_log(WP_LOG_INFO, "stopping", "signal=%d", signum);
    drain_all(u);
}

static void admin_drain(void *ud)
{
    up_t *u = ud;
    if (u->gw != NULL && !u->draining)
        drain_all(u);
}

static void on_child_exit(void *ud, int64_t status, int term_signal)
{
    up_t *u = ((up_pool_t *)ud)->u;
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
    int ready = u->replicas;
    for (int i = 0; i < u->n_gw; i++) {
        int r = wp_gateway_ready_endpoints(u->gws[i]);
        ready = r < ready ? r : ready;
    }
    if (ready < u->replicas && ++u->ready_ticks < 1500)
        return;
    u->announced = true;
    uv_timer_stop(t);
    printf("wellpath up: ready gateway=http://%s:%d/v1 replicas=%d/%d model=%s", u->gc.listen_host,
           wp_gateway_port(u->gw), ready, u->replicas, u->gc.models[0]);
    for (int i = 0; u->n_gw > 1 && i < u->n_gw; i++)
        printf("%shttp://%s:%d/v1", i ? "," : " gateways=", u->gc.listen_host,
               wp_gateway_port(u->gws[i]));
    printf("\n");
    printf("  try: curl http://%s:%d/v1/completions -H 'Content-Type: application/json' "
           "-d '{\"model\":\"%s\",\"prompt\":\"Hello\",\"max_tokens\":16}'\n",
           u->gc.listen_host, wp_gateway_port(u->gw), u->gc.models[0]);
    fflush(stdout);
}

/* The i-th comma-separated item of list into out ("" when there is none). */
static void nth_item(const char *list, int i, char *out, size_t cap)
{
    out[0] = '\0';
    for (; i > 0 && list; i--) {
        list = strchr(list, ',');
        list = list ? list + 1 : NULL;
    }
    if (list)
        snprintf(out, cap, "%.*s", (int)strcspn(list, ","), list);
}

/* A key's value (up to a space) in the child's ready line, into out ("" when absent). */
static void ready_value(const char *line, const char *key, char *out, size_t cap)
{
    const char *v = strstr(line, key);
    out[0] = '\0';
    if (v)
        snprintf(out, cap, "%.*s", (int)strcspn(v + strlen(key), " "), v + strlen(key));
}

/* Adds one endpoint per port of a pool's ready line; in wide-EP groups each port is rank
 * i % ranks of group <prefix>-g<i / ranks>, which the gateway's endpoint says. With KV
 * events, each endpoint subscribes to its replica's publisher. */
static void add_endpoints(up_t *u, const up_pool_t *pool)
{
    const char *p = pool->ports;
    int ranks = wp_sim_ranks(&pool->sc);
    for (int i = 0; *p && u->gc.n_endpoints < WP_GATEWAY_MAX_ENDPOINTS; i++) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        int64_t port;
        if (wp_parse_i64(p, n, &port) != WP_OK)
            break;
        wp_gateway_endpoint_cfg_t *ep = &u->gc.endpoints[u->gc.n_endpoints++];
        memset(ep, 0, sizeof(*ep));
        snprintf(ep->name, sizeof(ep->name), "%s-%d", pool->prefix, i);
        wp_strlcpy(ep->host, "127.0.0.1", sizeof(ep->host));
        ep->port = (int)port;
        ep->role = pool->role;
        if (ranks > 1) {
            ep->has_dp_rank = true;
            ep->dp_rank = i % ranks;
            snprintf(ep->group, sizeof(ep->group), "%s-g%d", pool->prefix, i / ranks);
        }
        nth_item(pool->kv_events, i, ep->kv_events, sizeof(ep->kv_events));
        nth_item(pool->kv_replay, i, ep->kv_replay, sizeof(ep->kv_replay));
        p += n + (comma ? 1 : 0);
    }
}

static wp_status_t reload(void *ud, wp_err_t *err);

/* Every pool is up: the gateway starts in front of all of them. */
static void start_gateway(up_t *u)
{
    for (int i = 0; i < u->n_pools; i++)
        add_endpoints(u, &u->pools[i]);
    wp_err_t err;
    for (int i = 0; i < u->want_gw; i++) {
        wp_gateway_config_t *gc = malloc(sizeof(*gc)); /* large: not on the stack */
        if (gc == NULL) {
            fprintf(stderr, "wellpath up: out of memory\n");
            stop(u, 1);
            return;
        }
        *gc = u->gc;
        if (gc->listen_port != 0)
            gc->listen_port += i;
        gc->seed += (uint64_t)i; /* replicas break ties apart, as separate processes would */
        if (u->want_gw > 1 && u->share_routes)
            snprintf(gc->routes_listen, sizeof(gc->routes_listen), "tcp://127.0.0.1:0");
        wp_gateway_t *gw = wp_gateway_new(u->loop, gc, &err);
        free(gc);
        if (gw == NULL || wp_gateway_start(gw, &err) != WP_OK) {
            if (gw != NULL)
                u->gws[u->n_gw++] = gw;
            fprintf(stderr, "wellpath up: %s\n", err.msg);
            stop(u, 1);
            return;
        }
        u->gws[u->n_gw++] = gw;
        wp_gateway_set_admin(gw, &(wp_gateway_admin_t){reload, admin_drain, u});
    }
    u->gw = u->gws[0];
    for (int i = 0; u->share_routes && i < u->n_gw; i++)
        for (int j = 0; j < u->n_gw; j++)
            if (i != j && wp_gateway_add_route_peer(
                              u->gws[i], wp_gateway_routes_endpoint(u->gws[j]), &err) != WP_OK)
                wp_log(WP_LOG_ERROR, "routes not shared", "error=\"%s\"", err.msg);
    uv_timer_start(&u->ready_timer, on_ready_tick, 20, 20);
}

/* Before the ready line: wait for it; after: pass the child's output on. */
static void on_child_line(void *ud, const char *line)
{
    up_pool_t *pool = ud;
    up_t *u = pool->u;
    if (u->gw != NULL || u->stopping || pool->ready) {
        printf("%s\n", line);
        return;
    }
    const char *ports = strstr(line, "ports=");
    if (ports == NULL) {
        fprintf(stderr, "wellpath up: unexpected output from the simulator: %s\n", line);
        stop(u, 1);
        return;
    }
    ready_value(line, " ports=", pool->ports, sizeof(pool->ports));
    ready_value(line, " kv_events=", pool->kv_events, sizeof(pool->kv_events));
    ready_value(line, " kv_events_replay=", pool->kv_replay, sizeof(pool->kv_replay));
    pool->ready = true;
    for (int i = 0; i < u->n_pools; i++) {
        if (!u->pools[i].ready)
            return;
    }
    start_gateway(u);
}

/* The child's argv: `wellpath sim` with the pool's settings as flags (every row of
 * cli/simopts.h with a topology key), its P/D role and the log level. */
static wp_status_t child_args(const up_pool_t *pool, const char *transport, const char *log_level,
                              wp_cli_argv_t *av, wp_err_t *err)
{
    wp_status_t st = wp_cli_argv_push(av, err, "sim");
    if (st == WP_OK && pool->role != WP_SCHED_ROLE_BOTH)
        st = wp_cli_argv_push(av, err, "--role=%s",
                              pool->role == WP_SCHED_ROLE_PREFILL ? "prefill" : "decode");
    if (st == WP_OK && pool->role != WP_SCHED_ROLE_BOTH)
        st = wp_cli_argv_push(av, err, "--kv-transport=%s", transport);
    if (st == WP_OK && pool->u->kv_events)
        st = wp_cli_argv_push(av, err, "--kv-events-config=%s", KV_EVENTS_CONFIG);
    if (st == WP_OK)
        st = wp_cli_simopt_to_argv(&pool->sc, av, err);
    if (st == WP_OK)
        st = wp_cli_argv_push(av, err, "--log-level=%s", log_level);
    return st;
}

/* One pool per role: Path 1 runs one pool of vllm.replicas; a topology with prefill and
 * decode sections runs a prefill pool and a decode pool, each with its own replicas and
 * TP, on consecutive ports. */
static void make_pools(up_t *u, const wp_topology_t *topo, const wp_sim_config_t *sc)
{
    u->n_pools = 0;
    u->replicas = 0;
    const wp_topology_pool_t *pd[2] = {&topo->prefill, &topo->decode};
    bool split = topo->prefill.present && topo->decode.present;
    for (int i = 0; i < (split ? 2 : 1); i++) {
        up_pool_t *pool = &u->pools[u->n_pools++];
        pool->u = u;
        pool->sc = *sc;
        pool->role = !split   ? WP_SCHED_ROLE_BOTH
                     : i == 0 ? WP_SCHED_ROLE_PREFILL
                              : WP_SCHED_ROLE_DECODE;
        pool->prefix = !split ? "sim" : i == 0 ? "prefill" : "decode";
        if (split) {
            pool->sc.replicas = pd[i]->replicas;
            pool->sc.tensor_parallel = pd[i]->tensor_parallel;
        }
        if (sc->port != 0)
            pool->sc.port = sc->port + u->replicas;
        u->replicas += pool->sc.replicas * wp_sim_ranks(&pool->sc);
    }
}

/* Whether the scheduler's policy reads the servers' KV events. */
static bool reads_kv_events(const wp_sched_config_t *cfg)
{
    wp_err_t err;
    wp_sched_t *s = wp_sched_new(cfg, &err);
    bool reads = s != NULL && wp_sched_reads_kv_events(s);
    wp_sched_free(s);
    return reads;
}

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
        st = wp_cli_listen(o->listen, &u->gc, err);
    if (st == WP_OK && o->policy != NULL)
        st = wp_sched_config_set_policy(&u->gc.sched, o->policy, err);
    if (o->base_port >= 0)
        sc->port = o->base_port;
    if (o->drain_timeout_ms >= 0)
        u->gc.drain_timeout_ms = (uint64_t)o->drain_timeout_ms;
    const wp_model_spec_t *m = st == WP_OK ? wp_model_find(topo.model) : NULL;
    if (st == WP_OK && m == NULL)
        st = wp_err_set(err, WP_EINVAL, "model '%s' is not in the catalog", topo.model);
    if (st == WP_OK) {
        wp_strlcpy(u->gc.models[0], m->hf_id, sizeof(u->gc.models[0]));
        wp_strlcpy(u->gc.models[1], m->name, sizeof(u->gc.models[1]));
        u->gc.n_models = 2;
        u->want_gw = topo.gateway.replicas;
        u->share_routes = topo.gateway.share_routes;
        u->kv_events = reads_kv_events(&u->gc.sched);
        if (u->kv_events) /* the servers' hash seed, as vLLM's servers take it */
            setenv("PYTHONHASHSEED", u->gc.kv_hash_seed, 1);
        make_pools(u, &topo, sc);
        wp_strlcpy(u->transport, topo.nixl.present ? topo.nixl.transport : "rdma",
                   sizeof(u->transport));
        if (topo.gateway.log_format == WP_TOPO_LOG_JSON)
            u->log_json = true;
    }
    wp_topology_free(&topo);
    return st;
}

/* The simulated pools a config describes are the running ones. */
static bool same_pools(const up_t *a, const up_t *b)
{
    if (a->n_pools != b->n_pools || strcmp(a->transport, b->transport) != 0)
        return false;
    for (int i = 0; i < a->n_pools; i++)
        if (memcmp(&a->pools[i].sc, &b->pools[i].sc, sizeof(a->pools[i].sc)) != 0 ||
            a->pools[i].role != b->pools[i].role)
            return false;
    return true;
}

/* SIGHUP, POST /admin/reload: the gateway's part of FILE, over the running pools. */
static wp_status_t reload(void *ud, wp_err_t *err)
{
    up_t *u = ud;
    static up_t next; /* large: not on the stack */
    wp_sim_config_t sc;
    if (u->gw == NULL || u->draining)
        return wp_err_set(err, WP_EINVAL, "not running (starting or shutting down)");
    if (u->opts.file == NULL)
        return wp_err_set(err, WP_EINVAL, "no -f FILE to re-read (the embedded default runs)");
    next = (up_t){0};
    wp_status_t st = configure(&next, &u->opts, &sc, err);
    if (st == WP_OK && !same_pools(u, &next))
        st = wp_err_set(err, WP_EINVAL,
                        "%s: the simulated pool changed (model, gpu, replicas, TP, expertParallel "
                        "or engine settings); restart `wellpath up` to apply that",
                        u->opts.file);
    if (st == WP_OK) {
        for (int i = 0; i < u->n_pools; i++)
            add_endpoints(&next, &u->pools[i]);
        for (int i = 0; st == WP_OK && i < u->n_gw; i++) {
            wp_gateway_config_t *gc = malloc(sizeof(*gc));
            if (gc == NULL)
                return wp_err_set(err, WP_ENOMEM, "out of memory");
            *gc = next.gc;
            if (gc->listen_port != 0)
                gc->listen_port += i;
            st = wp_gateway_reload(u->gws[i], gc, err);
            free(gc);
        }
    }
    if (st != WP_OK) {
        wp_cli_log_reload_failed(u->opts.file, err->msg);
        return st;
    }
    u->gc = next.gc;
    return WP_OK;
}

static void on_sighup(uv_signal_t *h, int signum)
{
    wp_err_t err;
    reload(h->data, &err);
}

enum { O_FILE = 'f', O_HELP = 'h', O_LISTEN = 256, O_LOG, O_JSON, O_POLICY, O_BASE, O_DRAIN };

static const wp_cli_opt_t opts[] = {
    {"file", 'f', true, O_FILE},         {"listen", 0, true, O_LISTEN},
    {"log-level", 0, true, O_LOG},       {"log-json", 0, false, O_JSON},
    {"policy", 0, true, O_POLICY},       {"base-port", 0, true, O_BASE},
    {"drain-timeout", 0, true, O_DRAIN}, {"help", 'h', false, O_HELP},
};

int wp_cli_up(int argc, char **argv)
{
    up_opts_t o = {.base_port = -1, .drain_timeout_ms = -1};
    int64_t port;
    wp_log_level_t level = WP_LOG_INFO;
    const char *level_name = "info", *v;
    bool json = false;
    wp_cli_args_t args;
    wp_err_t err;
    int c;
    wp_cli_args_init(&args, argc, argv);
    if (wp_cli_args_add(&args, opts, sizeof(opts) / sizeof(opts[0]), &err) != WP_OK)
        return wp_cli_fail("up", err.msg);
    while ((c = wp_cli_args_next(&args, &v, &err)) > 0) {
        switch (c) {
        case O_FILE:
            o.file = v;
            break;
        case O_LISTEN:
            o.listen = v;
            break;
        case O_POLICY:
            o.policy = v;
            break;
        case O_BASE:
            if (wp_parse_i64(v, strlen(v), &port) != WP_OK || port < 0 || port > 65535)
                return wp_cli_fail("up", "--base-port: expected a port number 0..65535");
            o.base_port = (int)port;
            break;
        case O_DRAIN:
            if (!wp_cli_drain_timeout("up", v, &o.drain_timeout_ms))
                return 2;
            break;
        case O_JSON:
            json = true;
            break;
        case O_LOG:
            if (!wp_cli_log_level("up", v, &level))
                return 2;
            level_name = v;
            break;
        case O_HELP:
            fputs(usage_text, stdout);
            return 0;
        }
    }
    if (c < 0)
        return wp_cli_fail("up", err.msg);
    wp_log_setup(level, json);
    static up_t u;
    wp_sim_config_t sc;
    u.opts = o;
    if (configure(&u, &o, &sc, &err) != WP_OK)
        return wp_cli_fail("up", err.msg);
    wp_log_setup(level, json || u.log_json);
    u.loop = uv_default_loop();
    uv_timer_init(u.loop, &u.ready_timer);
    u.ready_timer.data = &u;
    wp_cli_signals_start(u.loop, &u.sig, on_signal, &u);
    uv_signal_init(u.loop, &u.sighup);
    u.sighup.data = &u;
    uv_signal_start(&u.sighup, on_sighup, SIGHUP);
    for (int i = 0; i < u.n_pools; i++) {
        up_pool_t *pool = &u.pools[i];
        wp_cli_argv_t av;
        wp_cli_argv_init(&av);
        if (child_args(pool, u.transport, level_name, &av, &err) == WP_OK)
            pool->child =
                wp_child_spawn_self(u.loop, av.v, on_child_line, on_child_exit, pool, &err);
        wp_cli_argv_free(&av); /* the child has its own copy */
        if (pool->child == NULL) {
            stop(&u, 2);
            uv_run(u.loop, UV_RUN_DEFAULT);
            return wp_cli_fail("up", err.msg);
        }
    }
    uv_run(u.loop, UV_RUN_DEFAULT);
    uv_loop_close(u.loop);
    return u.exit_code;
}
