/*
 * cli/common: what the subcommands share (see cli.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/str.h"
#include "cli/cli.h"
#include "cli/simopts.h"
#include "config/addr.h"
#include "os/file.h"

int wp_cli_fail(const char *cmd, const char *msg)
{
    fprintf(stderr, "wellpath %s: %s\n", cmd, msg);
    return 2;
}

bool wp_cli_log_level(const char *cmd, const char *arg, wp_log_level_t *out)
{
    bool ok;
    *out = wp_log_level_parse(arg, &ok);
    if (!ok)
        wp_cli_fail(cmd, "--log-level: expected debug, info, warn or error");
    return ok;
}

const char *wp_cli_env_admin_token(void)
{
    const char *t = getenv("WELLPATH_ADMIN_TOKEN");
    return t != NULL && t[0] != '\0' ? t : NULL;
}

void wp_cli_log_reload_failed(const char *file, const char *why)
{
    char q[600];
    wp_log(WP_LOG_ERROR, "reload failed, keeping the running config", "file=%s reason=%s", file,
           wp_log_quote(q, sizeof(q), why));
}

bool wp_cli_drain_timeout(const char *cmd, const char *arg, int64_t *out_ms)
{
    if (wp_parse_i64(arg, strlen(arg), out_ms) == WP_OK && *out_ms >= 0 && *out_ms <= 86400000)
        return true;
    wp_cli_fail(cmd, "--drain-timeout: expected milliseconds 0..86400000");
    return false;
}

wp_status_t wp_cli_load_topology(const char *path, wp_topology_t *t, wp_err_t *err)
{
    if (path == NULL) {
        const char *y = wp_topology_default_yaml();
        return wp_topology_parse(y, strlen(y), "(embedded default)", t, err);
    }
    wp_buf_t b;
    wp_status_t st = wp_os_read_file(path, "topology file", WP_TOPO_MAX_INPUT, &b, err);
    if (st != WP_OK) {
        wp_buf_free(&b);
        return st;
    }
    st = wp_topology_parse(b.data ? b.data : "", b.len, path, t, err);
    wp_buf_free(&b);
    return st;
}

/* A listening address from the topology or --listen into the gateway's config. */
static wp_status_t set_listen(wp_gateway_config_t *gc, const char *host, uint16_t port,
                              const char *what, wp_err_t *err)
{
    if (!wp_strlcpy(gc->listen_host, host, sizeof(gc->listen_host)))
        return wp_err_set(err, WP_EINVAL, "%s: host \"%s\" is longer than %zu bytes", what, host,
                          sizeof(gc->listen_host) - 1);
    gc->listen_port = port;
    return WP_OK;
}

wp_status_t wp_cli_listen(const char *s, wp_gateway_config_t *gc, wp_err_t *err)
{
    char host[WP_ADDR_HOST_MAX];
    uint16_t port;
    wp_err_t why;
    if (wp_addr_parse_hostport(s, WP_ADDR_PORT0_OK, host, &port, &why) != WP_OK)
        return wp_err_set(err, WP_EINVAL, "--listen: %s", why.msg);
    return set_listen(gc, host, port, "--listen", err);
}

static wp_status_t sched_config(const wp_topology_scheduler_t *ts, wp_sched_config_t *sc,
                                wp_err_t *err)
{
    wp_sched_config_default(sc);
    sc->n_scorers = 0;
    wp_status_t st = wp_sched_config_set_policy(sc, ts->policy, err);
    if (st == WP_OK)
        st = wp_sched_config_set_picker(sc, ts->picker, err);
    for (size_t i = 0; st == WP_OK && i < ts->n_scorers; i++) {
        st = wp_sched_config_add_scorer(sc, ts->scorers[i].type, ts->scorers[i].weight, err);
        if (st != WP_OK) {
            char msg[WP_ERR_MAX + 64];
            snprintf(msg, sizeof(msg), "inferenceScheduler.scorers (line %d): %s",
                     ts->scorers[i].line, err->msg);
            wp_strlcpy(err->msg, msg, sizeof(err->msg));
        }
    }
    sc->block_chars = (uint32_t)ts->prefix_block_chars;
    sc->lru_capacity = (uint32_t)ts->prefix_lru_blocks;
    sc->stale_after_s = ts->stale_after_ms / 1000.0;
    return st != WP_OK ? st : wp_sched_config_validate(sc, err);
}

static wp_sched_role_t role_of(wp_topology_role_t r)
{
    return r == WP_TOPO_ROLE_PREFILL  ? WP_SCHED_ROLE_PREFILL
           : r == WP_TOPO_ROLE_DECODE ? WP_SCHED_ROLE_DECODE
                                      : WP_SCHED_ROLE_BOTH;
}

/* An endpoint's KV-event addresses: its own, else inferenceScheduler.kvEvents's ports on its
 * host, offset by its data-parallel rank as vLLM offsets them. */
static wp_status_t kv_events_addr(const wp_topology_t *t, const wp_topology_endpoint_t *e,
                                  wp_gateway_endpoint_cfg_t *ep, wp_err_t *err)
{
    const wp_topology_kv_events_t *k = &t->scheduler.kv_events;
    int rank = e->has_data_parallel_rank ? e->data_parallel_rank : 0;
    bool v6 = strchr(e->host, ':') != NULL;
    const char *lb = v6 ? "[" : "", *rb = v6 ? "]" : "";
    if (e->kv_events[0])
        wp_strlcpy(ep->kv_events, e->kv_events, sizeof(ep->kv_events));
    else if (k->port > 0)
        snprintf(ep->kv_events, sizeof(ep->kv_events), "tcp://%s%.200s%s:%d", lb, e->host, rb,
                 k->port + rank);
    if (e->kv_events_replay[0])
        wp_strlcpy(ep->kv_replay, e->kv_events_replay, sizeof(ep->kv_replay));
    else if (k->replay_port > 0 && !e->kv_events[0])
        snprintf(ep->kv_replay, sizeof(ep->kv_replay), "tcp://%s%.200s%s:%d", lb, e->host, rb,
                 k->replay_port + rank);
    wp_strlcpy(ep->kv_topic, k->topic, sizeof(ep->kv_topic));
    if ((ep->kv_events[0] && strncmp(ep->kv_events, "tcp://", 6) != 0) ||
        (ep->kv_replay[0] && strncmp(ep->kv_replay, "tcp://", 6) != 0))
        return wp_err_set(err, WP_EINVAL,
                          "endpoints (line %d): kvEvents '%s': expected tcp://host:port", e->line,
                          e->kv_events[0] ? e->kv_events : e->kv_events_replay);
    return WP_OK;
}

wp_status_t wp_cli_gateway_config(const wp_topology_t *t, wp_gateway_config_t *gc, wp_err_t *err)
{
    wp_gateway_config_default(gc);
    const wp_topology_gateway_t *g = &t->gateway;
    wp_status_t st = set_listen(gc, g->listen_host, g->listen_port, "gateway.listen", err);
    if (st != WP_OK)
        return st;
    gc->server.max_body_bytes = (size_t)g->max_body_bytes;
    gc->server.max_header_bytes = (size_t)g->max_header_bytes;
    gc->server.max_connections = g->max_connections;
    gc->client.connect_timeout_ms = (uint64_t)g->connect_timeout_ms;
    gc->client.first_byte_ms =
        (uint64_t)(g->first_byte_timeout_ms ? g->first_byte_timeout_ms : g->request_timeout_ms);
    gc->first_token_ms = (uint64_t)g->first_token_timeout_ms;
    gc->client.idle_ms =
        (uint64_t)(g->idle_timeout_ms ? g->idle_timeout_ms : g->request_timeout_ms);
    gc->retries = g->retries;
    gc->drain_timeout_ms = (uint64_t)g->drain_timeout_ms;
    gc->workers = g->workers;
    gc->max_in_flight = (uint32_t)g->max_in_flight_per_endpoint;
    gc->flow = (wp_gateway_flow_cfg_t){
        .enabled = g->flow.enabled,
        .max_queue = (uint32_t)g->flow.max_queue,
        .queue_timeout_ms = (uint64_t)g->flow.queue_timeout_ms,
        .saturation = {g->flow.queue_depth_threshold, g->flow.kv_cache_threshold}};
    gc->outlier =
        (wp_gateway_outlier_cfg_t){.consecutive_failures = g->outlier.consecutive_failures,
                                   .base_ejection_ms = (uint64_t)g->outlier.base_ejection_ms,
                                   .max_ejection_ms = (uint64_t)g->outlier.max_ejection_ms,
                                   .max_ejection_percent = g->outlier.max_ejection_percent};
    gc->scale_to_zero =
        (wp_gateway_s2z_cfg_t){.enabled = g->scale_to_zero.enabled,
                               .idle_after_ms = (uint64_t)g->scale_to_zero.idle_after_ms,
                               .wake_timeout_ms = (uint64_t)g->scale_to_zero.wake_timeout_ms,
                               .max_queue = (uint32_t)g->scale_to_zero.max_queue,
                               .level = g->scale_to_zero.level};
    if (!wp_strlcpy(gc->decision_log, g->decision_log, sizeof(gc->decision_log)))
        return wp_err_set(err, WP_EINVAL, "gateway.decisionLog: longer than %zu bytes",
                          sizeof(gc->decision_log) - 1);
    const char *env_token = wp_cli_env_admin_token(); /* a token need not be written down */
    bool from_env = env_token != NULL;
    if (!wp_strlcpy(gc->admin_token, from_env ? env_token : g->admin_token,
                    sizeof(gc->admin_token)))
        return wp_err_set(err, WP_EINVAL, "%s: the admin token is longer than %zu bytes",
                          from_env ? "WELLPATH_ADMIN_TOKEN" : "gateway.adminToken",
                          sizeof(gc->admin_token) - 1);
    gc->pd_threshold = t->scheduler.pd_threshold;
    gc->log_prompts = g->log_prompts;
    gc->guide_metrics = g->guide_metrics;
    gc->seed = t->simulation.seed;
    gc->scrape_interval_ms = (uint64_t)t->scheduler.scrape_interval_ms;
    gc->scrape_budget = (uint32_t)t->scheduler.scrape_budget;
    gc->health_interval_ms = (uint64_t)t->scheduler.health_interval_ms;
    gc->check_timeout_ms = (uint64_t)t->scheduler.check_timeout_ms;
    gc->unhealthy_after = t->scheduler.unhealthy_after;
    st = sched_config(&t->scheduler, &gc->sched, err);
    if (st != WP_OK)
        return st;
    for (size_t i = 0; i < t->n_endpoints; i++) {
        const wp_topology_endpoint_t *e = &t->endpoints[i];
        wp_gateway_endpoint_cfg_t *ep = &gc->endpoints[gc->n_endpoints++];
        wp_strlcpy(ep->name, e->name, sizeof(ep->name));
        wp_strlcpy(ep->host, e->host, sizeof(ep->host));
        ep->port = e->port;
        wp_strlcpy(ep->base_path, e->base_path, sizeof(ep->base_path));
        ep->engine = e->engine;
        ep->role = role_of(e->role);
        ep->has_dp_rank = e->has_data_parallel_rank;
        ep->dp_rank = e->data_parallel_rank;
        wp_strlcpy(ep->group, e->group, sizeof(ep->group));
        st = kv_events_addr(t, e, ep, err);
        if (st != WP_OK)
            return st;
    }
    wp_strlcpy(gc->routes_listen, g->routes_listen, sizeof(gc->routes_listen));
    for (const char *p = g->routes_peers; *p;) {
        size_t n = strcspn(p, ",");
        if (gc->n_route_peers == WP_GATEWAY_MAX_ROUTE_PEERS || n == 0 ||
            n >= sizeof(gc->route_peers[0]) || strncmp(p, "tcp://", 6) != 0)
            return wp_err_set(err, WP_EINVAL,
                              "gateway.routesPeers: expected up to %d tcp://host:port addresses, "
                              "comma-separated, at '%.60s'",
                              WP_GATEWAY_MAX_ROUTE_PEERS, p);
        snprintf(gc->route_peers[gc->n_route_peers++], sizeof(gc->route_peers[0]), "%.*s", (int)n,
                 p);
        p += n + (p[n] == ',');
    }
    wp_strlcpy(gc->tokenizer, t->scheduler.tokenizer, sizeof(gc->tokenizer));
    wp_strlcpy(gc->kv_hash_seed, t->scheduler.kv_hash_seed, sizeof(gc->kv_hash_seed));
    gc->kv_block_size = t->scheduler.kv_block_size;
    return WP_OK;
}

wp_status_t wp_cli_sim_config(const wp_topology_t *t, wp_sim_config_t *sc, wp_err_t *err)
{
    wp_sim_config_default(sc);
    return wp_cli_simopt_from_topology(t, sc, err);
}

static void on_uv_signal(uv_signal_t *h, int signum)
{
    wp_cli_signals_t *s = h->data;
    s->on_signal(s->ud, signum);
}

void wp_cli_signals_start(uv_loop_t *loop, wp_cli_signals_t *s, void (*fn)(void *, int), void *ud)
{
    s->on_signal = fn;
    s->ud = ud;
    uv_signal_init(loop, &s->sigint);
    uv_signal_init(loop, &s->sigterm);
    s->sigint.data = s;
    s->sigterm.data = s;
    uv_signal_start(&s->sigint, on_uv_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_uv_signal, SIGTERM);
}

void wp_cli_signals_close(wp_cli_signals_t *s)
{
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
}

wp_status_t wp_cli_number(const char *flag, const char *v, double lo, double hi, double *out,
                          wp_err_t *err)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end != '\0' || !(x >= lo && x <= hi))
        return wp_err_set(err, WP_EINVAL, "--%s: expected a number in [%g, %g], got '%s'", flag, lo,
                          hi, v);
    *out = x;
    return WP_OK;
}
