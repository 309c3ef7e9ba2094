/*
 * gateway/gateway: life cycle and routes. Every request enters through on_request:
 * the two completion paths go to proxy.c, the rest (/health, /metrics, /v1/models,
 * and the status page / with its JSON /status from status.c, /admin/) are answered here.
 * Anything else gets a JSON 404 (or 405 for a wrong method).
 *
 * The tick (every scrape interval) drives the rest in order: retired generations freed
 * (pool.c), ejections ended (outlier.c), queued requests shed or dispatched (flow.c), the
 * checks started (checks.c). The served models are kept here: the config's, or those the
 * endpoints' /v1/models name (learned by checks.c).
 *
 * Drain (SIGTERM): the server stops listening and closes idle connections; completion
 * requests that still arrive get 503 + Connection: close; a 20 ms timer watches for the
 * last client connection to go (or the deadline) and tells the caller. Reload (SIGHUP):
 * a new generation (sched + endpoints, pool.c) is built from the new config and
 * swapped in; requests in flight keep the generation they started on.
 */
#include "gateway/internal.h"

#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/openai.h"
#include "base/hash.h"
#include "base/log.h"
#include "os/limits.h"
#include "base/str.h"

void wp_gateway_config_default(wp_gateway_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    wp_strlcpy(cfg->listen_host, "127.0.0.1", sizeof(cfg->listen_host));
    cfg->listen_port = 8000;
    wp_http_server_config_default(&cfg->server);
    wp_http_client_config_default(&cfg->client);
    wp_sched_config_default(&cfg->sched);
    cfg->scrape_interval_ms = 50;
    cfg->health_interval_ms = 1000;
    cfg->check_timeout_ms = 2000;
    cfg->unhealthy_after = 2;
    cfg->scrape_budget = 2000;
    cfg->retries = 2;
    cfg->first_token_ms = 120000;
    cfg->pd_threshold = 512;
    snprintf(cfg->kv_hash_seed, sizeof(cfg->kv_hash_seed), "0");
    cfg->kv_block_size = 16;
    cfg->log_requests = true;
    cfg->seed = 1;
    cfg->workers = 1;
    cfg->drain_timeout_ms = 30000;
    cfg->flow = (wp_gateway_flow_cfg_t){
        .max_queue = 1024, .queue_timeout_ms = 30000, .saturation = {5, 0.8}};
    cfg->scale_to_zero = (wp_gateway_s2z_cfg_t){
        .idle_after_ms = 300000, .wake_timeout_ms = 60000, .max_queue = 256, .level = 1};
    cfg->outlier = (wp_gateway_outlier_cfg_t){.consecutive_failures = 5,
                                              .base_ejection_ms = 30000,
                                              .max_ejection_ms = 300000,
                                              .max_ejection_percent = 50};
}

double wp__gw_now(const wp_gateway_t *gw)
{
    return (double)uv_now(gw->loop) / 1000.0;
}

/* ---- the served models: from the config, else learned from the endpoints (checks.c) ---- */

bool wp__gw_model_known(const wp_gateway_t *gw, const char *model)
{
    for (int i = 0; i < gw->n_models; i++) {
        if (strcmp(gw->models[i], model) == 0)
            return true;
    }
    return false;
}

void wp__gw_model_learn(wp_gateway_t *gw, const char *model)
{
    if (wp__gw_model_known(gw, model) || gw->n_models >= WP_GATEWAY_MAX_MODELS)
        return;
    wp_strlcpy(gw->models[gw->n_models++], model, sizeof(gw->models[0]));
    if (gw_logs_state(gw))
        wp_log(WP_LOG_INFO, "model learned", "model=%s", model);
}

static void models_from_config(wp_gateway_t *gw, const wp_gateway_config_t *cfg)
{
    gw->n_models = 0;
    for (int i = 0; i < cfg->n_models; i++)
        wp_strlcpy(gw->models[gw->n_models++], cfg->models[i], sizeof(gw->models[0]));
}

static void answer_models(wp_gateway_t *gw, wp_http_req_t *req)
{
    wp_buf_t b;
    wp_buf_init(&b, 0);
    wp_buf_puts(&b, "{\"object\":\"list\",\"data\":[");
    for (int i = 0; i < gw->n_models; i++) {
        wp_buf_printf(&b, "%s{\"id\":\"", i ? "," : "");
        wp_buf_json_escape(&b, gw->models[i], strlen(gw->models[i]));
        wp_buf_puts(&b, "\",\"object\":\"model\",\"created\":0,\"owned_by\":\"wellpath\"}");
    }
    wp_buf_puts(&b, "]}");
    wp_http_res_send(req, 200, "application/json", b.data, b.len, NULL);
    wp_buf_free(&b);
}

static void answer_health(wp_gateway_t *gw, wp_http_req_t *req)
{
    int ready = wp__gw_ready_count(gw);
    bool down = gw->stopping || gw->draining;
    if (ready > 0 && !down) {
        wp_http_res_send(req, 200, NULL, "", 0, NULL);
        return;
    }
    wp_http_res_error(req, 503, down ? "the gateway is shutting down" : "no endpoint is ready",
                      NULL);
}

void wp__gw_answer_counters(wp_gateway_t *gw, wp_http_req_t *req, bool status)
{
    wp_buf_t b;
    wp_buf_init(&b, 0);
    if (status) {
        wp__gw_status_write_json(gw, &b);
        wp_http_res_send(req, 200, "application/json", b.data, b.len,
                         "Cache-Control: no-store\r\n");
    } else {
        wp__gw_metrics_write(gw, &b);
        wp_http_res_send(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len, NULL);
    }
    wp_buf_free(&b);
}

/* GET /metrics (status false) or /status: with several workers, once the others' counters
 * came (workers_ask.c). */
static void answer_counters(wp_gateway_t *gw, wp_http_req_t *req, bool status)
{
    if (!wp__gw_workers_summed(gw, req, status))
        wp__gw_answer_counters(gw, req, status);
}

static void answer_status_page(wp_http_req_t *req)
{
    const char *html;
    size_t len;
    wp__gw_status_page(&html, &len);
    wp_http_res_send(req, 200, "text/html; charset=utf-8", html, len, NULL);
}

void wp_gateway_set_sources(wp_gateway_t *gw, const wp_gateway_source_t *s, int n)
{
    gw->n_sources = n < WP_GATEWAY_MAX_SOURCES ? n : WP_GATEWAY_MAX_SOURCES;
    if (gw->n_sources > 0 && gw->sources != s)
        memcpy(gw->sources, s, (size_t)gw->n_sources * sizeof(*s));
    wp__gw_workers_sources(gw);
}

/* ---- admin API: off without a token; every call needs it as a bearer token ---- */

void wp_gateway_set_admin(wp_gateway_t *gw, const wp_gateway_admin_t *admin)
{
    gw->admin = admin != NULL ? *admin : (wp_gateway_admin_t){0};
}

static void admin_send(wp_http_req_t *req, int status, const char *msg, const char *extra);

void wp__gw_admin_answer(wp_http_req_t *req, int status, const char *msg)
{
    admin_send(req, status, msg, NULL);
}

static void admin_send(wp_http_req_t *req, int status, const char *msg, const char *extra)
{
    wp_buf_t b;
    wp_buf_init(&b, 0);
    if (status < 300) {
        wp_buf_puts(&b, "{\"status\":\"");
        wp_buf_json_escape(&b, msg, strlen(msg));
        wp_buf_puts(&b, "\"}");
    } else {
        wp_api_write_error(&b, status, msg, NULL);
    }
    wp_http_res_send(req, status, "application/json", b.data, b.len, extra);
    wp_buf_free(&b);
}

static void answer_admin(wp_gateway_t *gw, wp_http_req_t *req, bool post)
{
    if (gw->cfg.admin_token[0] == '\0') {
        wp__gw_count_unrouted(gw, 404);
        wp_http_res_error(req, 404, "no route: the admin API is off (no admin token)", NULL);
        return;
    }
    if (!wp_http_bearer_ok(&req->headers, gw->cfg.admin_token)) {
        wp_log(WP_LOG_WARN, "admin: refused", "path=%.*s", (int)req->path.n, req->path.p);
        admin_send(req, 401, "admin API: missing or wrong bearer token",
                   "WWW-Authenticate: Bearer realm=\"wellpath-admin\"\r\n");
        return;
    }
    bool reload = wp_str_eq_cstr(req->path, "/admin/reload");
    bool drain = wp_str_eq_cstr(req->path, "/admin/drain");
    if (!reload && !drain) {
        admin_send(req, 404, "no such admin path (POST /admin/reload, POST /admin/drain)", NULL);
        return;
    }
    if (!post) {
        admin_send(req, 405, "use POST for this path", "Allow: POST\r\n");
        return;
    }
    if (wp__gw_workers_admin(gw, req, drain))
        return;            /* worker 0 answers */
    if (gw->worker != 0) { /* a drain: worker 0 starts it */
        admin_send(req, 202, "draining", "Connection: close\r\n");
        return;
    }
    if ((reload && gw->admin.reload == NULL) || (drain && gw->admin.drain == NULL)) {
        admin_send(req, 501, "not available for this command", NULL);
        return;
    }
    if (drain) {
        wp_log(WP_LOG_INFO, "admin: drain", "in_flight=%llu",
               (unsigned long long)gw->tally.in_flight);
        admin_send(req, 202, "draining", "Connection: close\r\n");
        gw->admin.drain(gw->admin.ud);
        return;
    }
    wp_err_t err = {{0}};
    if (gw->admin.reload(gw->admin.ud, &err) != WP_OK) {
        admin_send(req, 400, err.msg, NULL); /* the running config is kept */
        return;
    }
    admin_send(req, 200, "reloaded", NULL);
}

static void on_request(wp_http_req_t *req, void *ctx)
{
    wp_gateway_t *gw = ctx;
    wp_api_kind_t kind;
    bool get = req->method == HTTP_GET, post = req->method == HTTP_POST;
    if (wp_api_kind_from_path(req->path.p, req->path.n, &kind)) {
        if (gw->draining) {
            wp__gw_count_unrouted(gw, 503);
            wp_http_res_error(req, 503, "the gateway is shutting down", NULL);
            return;
        }
        if (!post) {
            wp_http_res_error(req, 405, "use POST for this path", NULL);
            return;
        }
        wp__gw_proxy_start(gw, req, kind);
        return;
    }
    if (req->path.n >= 7 && memcmp(req->path.p, "/admin/", 7) == 0)
        answer_admin(gw, req, post);
    else if (wp_str_eq_cstr(req->path, "/health") && get)
        answer_health(gw, req);
    else if (wp_str_eq_cstr(req->path, "/metrics") && get)
        answer_counters(gw, req, false);
    else if (wp_str_eq_cstr(req->path, "/v1/models") && get)
        answer_models(gw, req);
    else if (wp_str_eq_cstr(req->path, "/status") && get)
        answer_counters(gw, req, true);
    else if (wp_str_eq_cstr(req->path, "/") && get)
        answer_status_page(req);
    else {
        char msg[300];
        snprintf(msg, sizeof(msg), "no route for %s %.200s", req->method_name, req->path.p);
        wp__gw_count_unrouted(gw, 404);
        wp_http_res_error(req, 404, msg, NULL);
    }
}

/* Every scrape interval: free retired generations nobody holds, end ejections whose time
 * is up, shed requests queued too long (and dispatch what now fits), start the checks. */
static void on_scrape_timer(uv_timer_t *t)
{
    wp_gateway_t *gw = t->data;
    wp__gw_pools_collect(gw, false);
    wp__gw_outlier_tick(gw);
    wp__gw_flow_tick(gw);
    wp__gw_wake_tick(gw);
    wp__gw_checks_tick(gw);
}

wp_sched_outlier_cfg_t wp_gateway_outlier_cfg(const wp_gateway_outlier_cfg_t *c)
{
    return (wp_sched_outlier_cfg_t){.consecutive_failures = c->consecutive_failures,
                                    .base_ejection_s = (double)c->base_ejection_ms / 1000.0,
                                    .max_ejection_s = (double)c->max_ejection_ms / 1000.0,
                                    .max_ejection_percent = c->max_ejection_percent};
}

wp_sched_admit_cfg_t wp_gateway_admit_cfg(const wp_gateway_flow_cfg_t *f)
{
    return (wp_sched_admit_cfg_t){.queue = f->enabled,
                                  .max_queue = f->max_queue,
                                  .queue_timeout_s = (double)f->queue_timeout_ms / 1000.0,
                                  .saturation = f->saturation};
}

/* What cfg cannot be (docs/topology.md); err names it. workers: the running number. */
static wp_status_t config_check(const wp_gateway_config_t *cfg, int workers, wp_err_t *err)
{
    if (cfg->check_timeout_ms < 1 || cfg->unhealthy_after < 1)
        return wp_err_set(err, WP_EINVAL,
                          "checks: checkTimeoutMs and unhealthyAfter must be at least 1 (got %llu, "
                          "%d)",
                          (unsigned long long)cfg->check_timeout_ms, cfg->unhealthy_after);
    if (workers < 1 || workers > WP_GATEWAY_MAX_WORKERS)
        return wp_err_set(err, WP_EINVAL, "gateway.workers: %d is out of range (1..%d)", workers,
                          WP_GATEWAY_MAX_WORKERS);
    return WP_OK;
}

static wp_gateway_t *gw_new(uv_loop_t *loop, const wp_gateway_config_t *cfg, struct gw_hub_s *hub,
                            int worker, wp_err_t *err)
{
    if (config_check(cfg, cfg->workers, err) != WP_OK)
        return NULL;
    wp_gateway_t *gw = calloc(1, sizeof(*gw));
    if (gw == NULL) {
        wp_err_set(err, WP_ENOMEM, "out of memory");
        return NULL;
    }
    gw->loop = loop;
    gw->cfg = *cfg;
    gw->hub = hub;
    gw->worker = worker;
    wp_rng_seed(&gw->rng, cfg->seed); /* each worker's tie-breaks as one loop's would be */
    gw->id_base = uv_hrtime() ^ ((uint64_t)uv_os_getpid() << 40) ^ wp_hash_mix((uint64_t)worker);
    models_from_config(gw, cfg);
    gw->start_ms = uv_now(loop);
    gw_pool_t *pool = NULL;
    if (wp__gw_flow_configure(gw, err) != WP_OK || wp__gw_wake_configure(gw, err) != WP_OK ||
        wp__gw_prompt_open(gw, err) != WP_OK || wp__gw_routes_open(gw, err) != WP_OK ||
        wp__gw_decisions_open(gw, err) != WP_OK ||
        (worker == 0 && wp__gw_checks_open(gw, err) != WP_OK) ||
        (pool = wp__gw_pool_new(gw, cfg, NULL, err)) == NULL) {
        wp__gw_checks_close(gw, NULL, NULL);
        wp__gw_routes_close(gw);
        wp__gw_kvev_close(gw);
        wp__gw_prompt_close(gw);
        wp__gw_decisions_close(gw);
        wp__gw_flow_free(gw);
        wp__gw_wake_free(gw);
        free(gw);
        return NULL;
    }
    wp__gw_pool_use(gw, pool);
    wp__gw_metrics_init(gw);
    uv_timer_init(gw->loop, &gw->scrape_timer);
    uv_timer_init(gw->loop, &gw->drain_timer);
    gw->scrape_timer.data = gw->drain_timer.data = gw;
    gw->handles_open = 3; /* the two timers and the checks' thread (closed at once if none) */
    return gw;
}

wp_gateway_t *wp_gateway_new(uv_loop_t *loop, const wp_gateway_config_t *cfg, wp_err_t *err)
{
    return gw_new(loop, cfg, NULL, 0, err);
}

wp_gateway_t *wp__gw_new_worker(uv_loop_t *loop, const wp_gateway_config_t *cfg,
                                struct gw_hub_s *hub, int worker, wp_err_t *err)
{
    return gw_new(loop, cfg, hub, worker, err);
}

/* Each client connection may hold one upstream connection: the open-file limit is raised to
 * twice gateway.maxConnections and a margin (listeners, scrapes, checks, KV-event sockets,
 * files), or said plainly at start when it cannot be. */
static void raise_open_files(const wp_gateway_t *gw)
{
    uint64_t want = 2 * (uint64_t)gw->cfg.server.max_connections + 1024;
    uint64_t have = wp_os_nofile_raise(want);
    if (have >= want) {
        wp_log(WP_LOG_INFO, "open files", "limit=%llu needed=%llu", (unsigned long long)have,
               (unsigned long long)want);
        return;
    }
    wp_log(WP_LOG_WARN,
           "open-file limit below what gateway.maxConnections needs: connections past it will "
           "be refused; raise the limit (ulimit -n, systemd LimitNOFILE=, the container's "
           "nofile ulimit) or lower gateway.maxConnections",
           "limit=%llu needed=%llu max_connections=%d", (unsigned long long)have,
           (unsigned long long)want, gw->cfg.server.max_connections);
}

wp_status_t wp_gateway_start(wp_gateway_t *gw, wp_err_t *err)
{
    raise_open_files(gw);
    if (gw->cfg.workers > 1)
        gw->cfg.server.reuse_port = true; /* the other workers bind the same address */
    gw->server = wp_http_server_new(gw->loop, &gw->cfg.server, on_request, gw);
    if (gw->server == NULL)
        return wp_err_set(err, WP_ENOMEM, "out of memory");
    wp_status_t st =
        wp_http_server_listen(gw->server, gw->cfg.listen_host, gw->cfg.listen_port, err);
    if (st != WP_OK)
        return st;
    gw->port = wp_http_server_port(gw->server);
    uv_timer_start(&gw->scrape_timer, on_scrape_timer, 0, gw->cfg.scrape_interval_ms);
    if (gw->worker == 0)
        wp_log(WP_LOG_INFO, "gateway listening", "addr=%s:%d endpoints=%d policy=%s workers=%d",
               gw->cfg.listen_host, gw->port, gw->pool->n_eps, gw->cfg.sched.policy,
               gw->cfg.workers);
    return wp__gw_workers_start(gw, err);
}

int wp_gateway_port(const wp_gateway_t *gw)
{
    return gw->port;
}

int wp_gateway_ready_endpoints(const wp_gateway_t *gw)
{
    return wp__gw_ready_count(gw);
}

/* ---- drain ---- */

static void on_drain_timer(uv_timer_t *t)
{
    wp_gateway_t *gw = t->data;
    int left = wp_http_server_connections(gw->server);
    bool late = uv_now(gw->loop) >= gw->drain_deadline_ms;
    if (left > 0 && !late)
        return;
    uv_timer_stop(t);
    if (left > 0)
        wp_log(WP_LOG_WARN, "drain timeout: cutting what is left", "connections=%d in_flight=%llu",
               left, (unsigned long long)gw->tally.in_flight);
    else
        wp_log(WP_LOG_INFO, "drained", "connections=0");
    wp_gateway_drained_fn fn = gw->on_drained;
    gw->on_drained = NULL;
    if (fn != NULL)
        fn(gw->drained_ud, left); /* may free gw */
}

void wp_gateway_drain(wp_gateway_t *gw, wp_gateway_drained_fn fn, void *ud)
{
    if (gw->draining || gw->stopping || wp__gw_workers_drain(gw, fn, ud))
        return;
    wp__gw_drain_local(gw, fn, ud);
}

void wp__gw_drain_local(wp_gateway_t *gw, wp_gateway_drained_fn fn, void *ud)
{
    if (gw->draining || gw->stopping)
        return;
    gw->draining = true;
    gw->on_drained = fn;
    gw->drained_ud = ud;
    gw->drain_deadline_ms = uv_now(gw->loop) + gw->cfg.drain_timeout_ms;
    if (gw->server != NULL)
        wp_http_server_drain(gw->server);
    wp_log(WP_LOG_INFO, "draining", "in_flight=%llu connections=%d timeout_ms=%llu",
           (unsigned long long)gw->tally.in_flight,
           gw->server ? wp_http_server_connections(gw->server) : 0,
           (unsigned long long)gw->cfg.drain_timeout_ms);
    if (gw->server == NULL) {
        uv_timer_start(&gw->drain_timer, on_drain_timer, 0, 0);
        return;
    }
    uv_timer_start(&gw->drain_timer, on_drain_timer, 0, 20);
}

/* ---- reload ---- */

wp_status_t wp_gateway_reload(wp_gateway_t *gw, const wp_gateway_config_t *cfg, wp_err_t *err)
{
    if (gw->draining || gw->stopping)
        return wp_err_set(err, WP_EINVAL, "the gateway is shutting down");
    if (config_check(cfg, gw->cfg.workers, err) != WP_OK) /* the running number of workers */
        return WP_EINVAL;
    if (cfg->workers != gw->cfg.workers)
        wp_log(WP_LOG_WARN, "reload: gateway.workers needs a restart, kept", "workers=%d wanted=%d",
               gw->cfg.workers, cfg->workers);
    gw_pool_t *pool = wp__gw_pool_new(gw, cfg, gw->pool, err);
    if (pool == NULL)
        return WP_EINVAL;
    if (strcmp(cfg->listen_host, gw->cfg.listen_host) != 0 ||
        (cfg->listen_port != gw->cfg.listen_port && cfg->listen_port != 0))
        wp_log(WP_LOG_WARN, "reload: the listen address needs a restart, kept",
               "addr=%s:%d wanted=%s:%d", gw->cfg.listen_host, gw->port, cfg->listen_host,
               cfg->listen_port);
    char host[sizeof(gw->cfg.listen_host)];
    int port = gw->cfg.listen_port;
    wp_strlcpy(host, gw->cfg.listen_host, sizeof(host));
    int workers = gw->cfg.workers;
    gw->cfg = *cfg;
    gw->cfg.workers = workers;
    wp_strlcpy(gw->cfg.listen_host, host, sizeof(gw->cfg.listen_host));
    gw->cfg.listen_port = port;
    if (cfg->n_models > 0)
        models_from_config(gw, cfg);
    if (gw->server != NULL)
        wp_http_server_set_limits(gw->server, &gw->cfg.server);
    wp__gw_pool_use(gw, pool);
    wp__gw_pool_sync(gw, gw->pool); /* limits as the new config says */
    wp_err_t ferr;
    if (wp__gw_flow_configure(gw, &ferr) != WP_OK)
        wp_log(WP_LOG_WARN, "reload: flow control kept as it was", "why=\"%s\"", ferr.msg);
    if (wp__gw_wake_configure(gw, &ferr) != WP_OK)
        wp_log(WP_LOG_WARN, "reload: scale-to-zero kept as it was", "why=\"%s\"", ferr.msg);
    if (wp__gw_decisions_open(gw, &ferr) != WP_OK)
        wp_log(WP_LOG_WARN, "reload: no decision log", "why=\"%s\"", ferr.msg);
    if (gw_logs_state(gw))
        wp__gw_decision(gw, &(wp_sched_decision_t){.kind = WP_SCHED_DECISION_RELOAD,
                                                   .generation = gw->reloads + 1});
    wp__gw_flow_drain(gw);
    wp__gw_checks_soon(gw); /* new endpoints are checked at the next tick */
    gw->reloads++;
    if (gw->server != NULL) {
        uv_timer_stop(&gw->scrape_timer);
        uv_timer_start(&gw->scrape_timer, on_scrape_timer, 0, gw->cfg.scrape_interval_ms);
    }
    if (gw_logs_state(gw))
        wp_log(WP_LOG_INFO, "reloaded", "endpoints=%d policy=%s", gw->pool->n_eps,
               gw->cfg.sched.policy);
    wp__gw_workers_reload(gw, cfg);
    return WP_OK;
}

/* ---- free ---- */

static void free_all(wp_gateway_t *gw)
{
    wp__gw_metrics_free(gw);
    wp__gw_flow_free(gw);
    wp__gw_wake_free(gw);
    wp__gw_decisions_close(gw);
    wp__gw_prompt_close(gw);
    free(gw);
}

static void on_closed(void *ud)
{
    wp_gateway_t *gw = ud;
    if (--gw->handles_open == 0)
        free_all(gw);
}

static void on_timer_closed(uv_handle_t *h)
{
    on_closed(h->data);
}

void wp_gateway_free(wp_gateway_t *gw)
{
    gw->stopping = true;
    gw->on_drained = NULL;
    if (gw->server != NULL)
        wp_http_server_close(gw->server); /* aborts in-flight requests: they cancel their calls */
    wp__gw_wake_cancel(gw);
    wp__gw_pools_free(gw);
    wp__gw_checks_close(gw, on_closed, gw);
    wp__gw_routes_close(gw);
    wp__gw_kvev_close(gw);
    wp__gw_workers_stop(gw); /* worker 0: the others stop and are joined */
    uv_close((uv_handle_t *)&gw->scrape_timer, on_timer_closed);
    uv_close((uv_handle_t *)&gw->drain_timer, on_timer_closed);
}
