/*
 * gateway/checks: the periodic GETs that tell the gateway what each endpoint of the current
 * generation is doing. Every tick each endpoint with no scrape in flight gets GET /metrics;
 * every health interval, GET /health; now and then (while the config names no models),
 * GET /v1/models to learn the served model names. The three signals the scorers need
 * (waiting, running, KV usage) are read under the metric names of the endpoint's engine
 * (docs/reference.md §2), summed over data-parallel engines (KV usage: the largest), and
 * handed to the generation's scheduler; what the checks learned is kept in ep->probe.
 *
 * Health: an endpoint starts out of the pool and joins at its first good answer; two
 * failed checks in a row (connect error, timeout, non-2xx) take it out again, and it is
 * logged each time it changes state. The verdict is kept once, in the generation's outlier
 * state (wp_sched_outlier_ep_t.healthy), and pushed to the scheduler by wp__gw_pool_sync.
 * Only the current generation is checked (pool.c cancels a retired one's checks).
 */
#include "gateway/internal.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>

#include "api/prom.h"
#include "base/log.h"
#include "base/str.h"

#define FAILURES_TO_EJECT 2
#define MODELS_INTERVAL_MS 5000
#define CHECK_TIMEOUT_MS 2000
#define SCRAPE_BODY_MAX (8u << 20)

typedef struct engine_names_s {
    const char *waiting, *running, *kv, *kv_old;
} engine_names_t;

static const engine_names_t engine_names[] = {
    [WP_TOPO_ENGINE_VLLM] = {"vllm:num_requests_waiting", "vllm:num_requests_running",
                             "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"},
    [WP_TOPO_ENGINE_SGLANG] = {"sglang:num_queue_reqs", "sglang:num_running_reqs",
                               "sglang:token_usage", NULL},
    [WP_TOPO_ENGINE_TRTLLM] = {"trtllm_num_requests_waiting", "trtllm_num_requests_running",
                               "trtllm_kv_cache_utilization", NULL},
    [WP_TOPO_ENGINE_LLAMACPP] = {"llamacpp:requests_deferred", "llamacpp:requests_processing",
                                 "llamacpp:kv_cache_usage_ratio", NULL},
};

typedef struct scrape_acc_s {
    const engine_names_t *names;
    double waiting, running, kv;
    double cache_queries, cache_hits; /* vLLM's prefix-cache counters, when exported */
    double kv_blocks;                 /* vllm:cache_config_info's num_gpu_blocks, 0 when absent */
    int seen;
} scrape_acc_t;

static void on_sample(void *ud, wp_str_t name, wp_str_t labels, double v)
{
    scrape_acc_t *a = ud;
    if (v != v) /* NaN */
        return;
    if (wp_str_eq_cstr(name, a->names->waiting)) {
        a->waiting += v;
        a->seen |= 1;
    } else if (wp_str_eq_cstr(name, a->names->running)) {
        a->running += v;
        a->seen |= 2;
    } else if (wp_str_eq_cstr(name, a->names->kv) ||
               (a->names->kv_old && wp_str_eq_cstr(name, a->names->kv_old))) {
        if (v > a->kv)
            a->kv = v;
        a->seen |= 4;
    } else if (wp_str_eq_cstr(name, "vllm:cache_config_info")) {
        char blocks[32];
        double b;
        if (wp_api_prom_label(labels, "num_gpu_blocks", blocks, sizeof(blocks)) &&
            wp_parse_double(blocks, strlen(blocks), &b) == WP_OK && b > 0 && b < 4e9)
            a->kv_blocks = b;
    } else if (wp_str_eq_cstr(name, "vllm:prefix_cache_queries_total")) {
        a->cache_queries += v;
    } else if (wp_str_eq_cstr(name, "vllm:prefix_cache_hits_total")) {
        a->cache_hits += v;
    }
}

/* One check's outcome. Scrape and health failures are counted apart: an endpoint is in
 * the pool while neither has failed FAILURES_TO_EJECT times in a row, and joins only
 * when both last succeeded (so a server whose /health answers but whose /metrics lacks
 * the series does not flap in and out). */
static void mark(wp_gateway_t *gw, gw_endpoint_t *ep, gw_check_kind_t kind, bool ok,
                 const char *why)
{
    gw_probe_t *pr = &ep->probe;
    bool *healthy = &wp_sched_outlier_ep(ep->pool->outlier, ep->index)->healthy;
    if (ok) {
        pr->failures[kind] = 0;
        if (!*healthy && !gw->stopping && pr->failures[GW_CHECK_SCRAPE] == 0 &&
            pr->failures[GW_CHECK_HEALTH] == 0) {
            *healthy = true;
            wp__gw_pool_sync(gw, ep->pool);
            wp_log(WP_LOG_INFO, "endpoint joined the pool", "endpoint=%s", ep->cfg.name);
        }
        return;
    }
    wp_strlcpy(pr->last_error, why, sizeof(pr->last_error));
    if (++pr->failures[kind] < FAILURES_TO_EJECT || !*healthy)
        return;
    *healthy = false;
    wp__gw_pool_sync(gw, ep->pool);
    /* Whatever it held may be gone (a restart empties the cache): forget its prefixes. */
    wp_sched_index_clear_endpoint(wp_sched_index(ep->pool->sched), ep->index);
    char q[256];
    wp_log(WP_LOG_WARN, "endpoint left the pool", "endpoint=%s reason=%s", ep->cfg.name,
           wp_log_quote(q, sizeof(q), why));
}

/* ---- one GET with its body gathered; the three checks share it ---- */

static void check_on_head(void *ud, int status, const wp_http_headers_t *h)
{
    gw_check_t *c = ud;
    c->status = status;
    wp_buf_reset(&c->body);
}

static void check_on_body(void *ud, const char *data, size_t len)
{
    gw_check_t *c = ud;
    if (c->kind != GW_CHECK_HEALTH)
        wp_buf_append(&c->body, data, len);
}

static void learn_models(wp_gateway_t *gw, const wp_buf_t *body)
{
    cJSON *root = cJSON_ParseWithLength(body->data, body->len);
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(root, "data"))
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
        if (cJSON_IsString(id))
            wp__gw_model_learn(gw, id->valuestring);
    }
    cJSON_Delete(root);
}

static void apply_scrape(wp_gateway_t *gw, gw_endpoint_t *ep, const wp_buf_t *body)
{
    scrape_acc_t a = {.names = &engine_names[ep->cfg.engine]};
    wp_err_t err;
    if (wp_api_prom_parse(body->data, body->len, on_sample, &a, &err) != WP_OK) {
        mark(gw, ep, GW_CHECK_SCRAPE, false, err.msg);
        return;
    }
    if (a.seen != 7) {
        mark(gw, ep, GW_CHECK_SCRAPE, false,
             "metrics lack the waiting, running or KV usage series");
        return;
    }
    gw_probe_t *pr = &ep->probe;
    pr->waiting = a.waiting;
    pr->running = a.running;
    pr->kv_usage = a.kv > 1.0 ? 1.0 : a.kv;
    pr->cache_queries = a.cache_queries;
    pr->cache_hits = a.cache_hits;
    pr->metrics_seen = true;
    wp_sched_endpoint_set_metrics(ep->pool->sched, ep->index, wp__gw_now(gw), pr->waiting,
                                  pr->running, pr->kv_usage);
    if (a.kv_blocks > 0)
        wp_sched_endpoint_set_capacity(ep->pool->sched, ep->index, (uint32_t)a.kv_blocks);
    mark(gw, ep, GW_CHECK_SCRAPE, true, NULL);
}

static void check_on_done(void *ud, wp_status_t st, const char *why)
{
    gw_check_t *c = ud;
    c->call = NULL;
    if (c->gw->stopping)
        return;
    if (st != WP_OK || c->status < 200 || c->status > 299) {
        char msg[300];
        if (st != WP_OK)
            wp_strlcpy(msg, why ? why : "request failed", sizeof(msg));
        else
            snprintf(msg, sizeof(msg), "%s answered HTTP %d",
                     c->kind == GW_CHECK_SCRAPE   ? "/metrics"
                     : c->kind == GW_CHECK_HEALTH ? "/health"
                                                  : "/v1/models",
                     c->status);
        if (c->kind != GW_CHECK_MODELS)
            mark(c->gw, c->ep, c->kind, false, msg);
        return;
    }
    if (c->kind == GW_CHECK_SCRAPE)
        apply_scrape(c->gw, c->ep, &c->body);
    else if (c->kind == GW_CHECK_MODELS)
        learn_models(c->gw, &c->body);
    else
        mark(c->gw, c->ep, c->kind, true, NULL);
}

static void check_start(gw_check_t *c, const char *path)
{
    uint64_t now = uv_now(c->gw->loop);
    if (c->call != NULL) {
        if (now - c->started_ms < CHECK_TIMEOUT_MS)
            return;
        wp_http_call_cancel(c->call); /* hung: counts as a failed check */
        c->call = NULL;
        if (c->kind != GW_CHECK_MODELS)
            mark(c->gw, c->ep, c->kind, false, "no answer within the check timeout");
    }
    c->started_ms = now;
    c->status = 0;
    char full[256];
    snprintf(full, sizeof(full), "%s%s", c->ep->cfg.base_path, path);
    static const wp_http_call_cbs_t cbs = {check_on_head, check_on_body, check_on_done};
    c->call = wp_http_call_start(wp__gw_ep_upstream(c->ep), "GET", full, NULL, NULL, 0, &cbs, c);
}

void wp__gw_checks_init(wp_gateway_t *gw, gw_endpoint_t *ep)
{
    ep->probe.failures[GW_CHECK_SCRAPE] = ep->probe.failures[GW_CHECK_HEALTH] = 1; /* both first */
    wp_sched_outlier_ep(ep->pool->outlier, ep->index)->healthy = false;
    for (int k = 0; k < GW_CHECK_KINDS; k++) {
        ep->checks[k] = (gw_check_t){.gw = gw, .ep = ep, .kind = (gw_check_kind_t)k};
        wp_buf_init(&ep->checks[k].body, SCRAPE_BODY_MAX);
    }
}

void wp__gw_checks_cancel(gw_endpoint_t *ep)
{
    for (int k = 0; k < GW_CHECK_KINDS; k++) {
        if (ep->checks[k].call != NULL)
            wp_http_call_cancel(ep->checks[k].call);
        ep->checks[k].call = NULL;
    }
}

void wp__gw_checks_free(gw_endpoint_t *ep)
{
    wp__gw_checks_cancel(ep);
    for (int k = 0; k < GW_CHECK_KINDS; k++)
        wp_buf_free(&ep->checks[k].body);
}

void wp__gw_checks_soon(wp_gateway_t *gw)
{
    gw->last_health_ms = 0;
}

void wp__gw_checks_tick(wp_gateway_t *gw)
{
    uint64_t now = uv_now(gw->loop);
    bool health = now - gw->last_health_ms >= gw->cfg.health_interval_ms || gw->last_health_ms == 0;
    bool models = gw->cfg.n_models == 0 &&
                  (now - gw->last_models_ms >= MODELS_INTERVAL_MS || gw->last_models_ms == 0);
    if (health)
        gw->last_health_ms = now ? now : 1;
    if (models)
        gw->last_models_ms = now ? now : 1;
    for (int i = 0; i < gw->pool->n_eps; i++) {
        gw_endpoint_t *ep = &gw->pool->eps[i];
        check_start(&ep->checks[GW_CHECK_SCRAPE], "/metrics");
        if (health)
            check_start(&ep->checks[GW_CHECK_HEALTH], "/health");
        if (models)
            check_start(&ep->checks[GW_CHECK_MODELS], "/v1/models");
    }
}
