/*
 * gateway/checks: the periodic GETs that tell the gateway what each endpoint of the current
 * generation is doing. Every tick each endpoint with no scrape in flight gets GET /metrics;
 * every health interval, GET /health; now and then (while the config names no models),
 * GET /v1/models to learn the served model names. The signals the scorers need (waiting,
 * running, KV usage) and the prefix-cache counters are read under the metric names of the
 * endpoint's engine (api/engines, docs/engines.md), on its metrics path, and handed to the
 * generation's scheduler; what the checks learned is kept in ep->probe. An endpoint that is
 * a data-parallel rank reads only its engine's samples (engine="<rank>"): on a port shared
 * by the ranks of a wide-EP group each rank sees its own numbers.
 *
 * Metrics are a help, not a condition: a server that answers /metrics with a non-2xx
 * status (llama-server without --metrics: 501), with text that is not Prometheus, or
 * without the waiting and running series still joins on its health checks alone; the
 * scheduler then sees its metrics as unknown (the gateway's in-flight count stands in)
 * and a WARN line says once what is missing and how to fix it (ep->probe.metrics_warning,
 * also on /status). A missing optional series (KV usage, the cache counters) leaves that
 * signal unknown, with an INFO line. Only a scrape that gets no answer counts as failed.
 *
 * Health: an endpoint starts out of the pool and joins at its first good answer; two
 * failed checks in a row (connect error, timeout; non-2xx for /health) take it out again, and it is
 * logged each time it changes state. A /health answer of 503 is a server draining (shutting
 * down, a preemption notice: sched/drain): out at once (notice.c). The verdict is kept once, in the
 * generation's outlier state (wp_sched_outlier_ep_t.healthy), and pushed to the scheduler by
 * wp__gw_pool_sync. Only the current generation is checked (pool.c cancels a retired one's checks).
 */
#include "gateway/internal.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/engines.h"
#include "base/log.h"
#include "base/str.h"
#include "sched/drain.h"

#define FAILURES_TO_EJECT 2
#define MODELS_INTERVAL_MS 5000
#define CHECK_TIMEOUT_MS 2000
#define SCRAPE_BODY_MAX (8u << 20)

/* One check's outcome. Scrape and health failures are counted apart: an endpoint is in
 * the pool while neither has failed FAILURES_TO_EJECT times in a row, and joins only
 * when both last succeeded. A scrape answered without usable metrics succeeds (the
 * endpoint routes on health alone), so such a server neither stays out nor flaps. */
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

/* Records what the metrics lack (warning, "" when complete) and logs it when it changed:
 * WARN when the load series are missing, INFO when only optional ones are. */
static void metrics_note(gw_endpoint_t *ep, const char *warning, bool load_missing)
{
    gw_probe_t *pr = &ep->probe;
    if (strcmp(pr->metrics_warning, warning) == 0)
        return;
    wp_strlcpy(pr->metrics_warning, warning, sizeof(pr->metrics_warning));
    char q[400];
    if (warning[0] == '\0')
        wp_log(WP_LOG_INFO, "endpoint metrics complete", "endpoint=%s", ep->cfg.name);
    else
        wp_log(load_missing ? WP_LOG_WARN : WP_LOG_INFO,
               load_missing ? "endpoint metrics unavailable: routing on health and in-flight "
                              "counts alone"
                            : "endpoint metrics partial: missing signals are unknown",
               "endpoint=%s engine=%s detail=%s", ep->cfg.name,
               wp_api_engine(ep->cfg.engine)->label, wp_log_quote(q, sizeof(q), warning));
}

/* The server answered, but with no usable load series: it stays in (or joins) the pool
 * on its health checks; its metrics go unknown (stale) in the scheduler. */
static void metrics_unavailable(wp_gateway_t *gw, gw_endpoint_t *ep, const char *what)
{
    const wp_api_engine_t *e = wp_api_engine(ep->cfg.engine);
    char w[300];
    snprintf(w, sizeof(w), "%s%.150s: scoring uses in-flight counts only; %.100s", e->metrics_path,
             what, e->fix);
    ep->probe.metrics_seen = ep->probe.kv_known = ep->probe.cache_known = false;
    metrics_note(ep, w, true);
    mark(gw, ep, GW_CHECK_SCRAPE, true, NULL);
}

static void apply_scrape(wp_gateway_t *gw, gw_endpoint_t *ep, const wp_buf_t *body)
{
    const wp_api_engine_t *e = wp_api_engine(ep->cfg.engine);
    wp_api_engine_reading_t r;
    wp_err_t err;
    char what[300];
    int rank = ep->cfg.has_dp_rank ? ep->cfg.dp_rank : -1; /* its own engine's samples */
    if (wp_api_engine_read(e, rank, body->data, body->len, &r, &err) != WP_OK) {
        snprintf(what, sizeof(what), " is not Prometheus text (%.120s)", err.msg);
        metrics_unavailable(gw, ep, what);
        return;
    }
    char missing[200];
    if ((r.seen & WP_API_ENGINE_SEEN_LOAD) != WP_API_ENGINE_SEEN_LOAD) {
        snprintf(what, sizeof(what), " lacks %.150s (engine: %s)",
                 wp_api_engine_missing(e, r.seen, false, missing, sizeof(missing)), e->label);
        metrics_unavailable(gw, ep, what);
        return;
    }
    gw_probe_t *pr = &ep->probe;
    pr->waiting = r.waiting;
    pr->running = r.running;
    pr->kv_known = (r.seen & WP_API_ENGINE_SEEN_KV) != 0;
    pr->kv_usage = r.kv_usage;
    pr->cache_known = (r.seen & WP_API_ENGINE_SEEN_CACHE) != 0;
    pr->cache_queries = r.cache_queries;
    pr->cache_hits = r.cache_hits;
    pr->metrics_seen = true;
    wp_sched_endpoint_set_metrics(ep->pool->sched, ep->index, wp__gw_now(gw), pr->waiting,
                                  pr->running, pr->kv_known ? pr->kv_usage : NAN);
    if (r.kv_blocks > 0)
        wp_sched_endpoint_set_capacity(ep->pool->sched, ep->index, (uint32_t)r.kv_blocks);
    if (!pr->kv_known || !pr->cache_known) {
        char w[300];
        snprintf(w, sizeof(w), "%s lacks %.180s: %s unknown", e->metrics_path,
                 wp_api_engine_missing(e, r.seen, true, missing, sizeof(missing)),
                 !pr->kv_known && !pr->cache_known ? "KV usage and cache hit rate"
                 : !pr->kv_known                   ? "KV usage"
                                                   : "cache hit rate");
        metrics_note(ep, w, false);
    } else {
        metrics_note(ep, "", false);
    }
    mark(gw, ep, GW_CHECK_SCRAPE, true, NULL);
}

static void check_on_done(void *ud, wp_status_t st, const char *why)
{
    gw_check_t *c = ud;
    c->call = NULL;
    if (c->gw->stopping)
        return;
    if (st == WP_OK && c->kind == GW_CHECK_SCRAPE && (c->status < 200 || c->status > 299)) {
        char what[64];
        snprintf(what, sizeof(what), " answered HTTP %d", c->status);
        metrics_unavailable(c->gw, c->ep, what);
        return;
    }
    if (c->kind == GW_CHECK_HEALTH) { /* sched/drain: a 503 is out at once */
        wp_sched_health_t h = wp_sched_health_verdict(st == WP_OK, c->status);
        if (h == WP_SCHED_HEALTH_DRAINING)
            wp__gw_notice_draining(c->gw, c->ep);
        else if (h == WP_SCHED_HEALTH_OK)
            wp__gw_notice_clear(c->gw, c->ep);
    }
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
    if (c->call != NULL && c->kind == GW_CHECK_SCRAPE)
        wp_sched_endpoint_scrape_sent(c->ep->pool->sched, c->ep->index);
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

void wp__gw_checks_health_now(wp_gateway_t *gw, gw_endpoint_t *ep)
{
    (void)gw;
    if (ep->checks[GW_CHECK_HEALTH].call == NULL)
        check_start(&ep->checks[GW_CHECK_HEALTH], "/health");
}

void wp__gw_checks_soon(wp_gateway_t *gw)
{
    gw->last_health_ms = 0;
}

/* Scrapes this tick: every endpoint while that fits the scrape budget, else the budget's
 * share of one interval (at least one), taken in turns. */
static int scrape_quota(const wp_gateway_t *gw, int n)
{
    if (gw->cfg.scrape_budget == 0)
        return n;
    double per_tick = (double)gw->cfg.scrape_budget * (double)gw->cfg.scrape_interval_ms / 1000.0;
    return per_tick >= n ? n : per_tick < 1.0 ? 1 : (int)per_tick;
}

/* Health checks this tick: all at the first tick and when asked (wp__gw_checks_soon),
 * otherwise each endpoint once per health interval, spread evenly over the ticks. */
static int health_quota(wp_gateway_t *gw, int n, uint64_t now)
{
    if (gw->last_health_ms == 0) {
        gw->last_health_ms = now ? now : 1;
        gw->health_credit = 0.0;
        return n;
    }
    double interval = (double)(gw->cfg.health_interval_ms ? gw->cfg.health_interval_ms : 1);
    gw->health_credit += (double)n * (double)gw->cfg.scrape_interval_ms / interval;
    int k = gw->health_credit >= n ? n : (int)gw->health_credit;
    gw->health_credit -= k;
    return k;
}

/* Starts check `kind` at path on k endpoints from *cursor on, in turn. */
static void start_turns(gw_pool_t *pool, int kind, const char *path, int k, int *cursor)
{
    int n = pool->n_eps;
    for (int j = 0; j < k; j++) {
        gw_endpoint_t *ep = &pool->eps[(*cursor + j) % n];
        check_start(&ep->checks[kind], path ? path : wp_api_engine(ep->cfg.engine)->metrics_path);
    }
    *cursor = (*cursor + k) % n;
}

void wp__gw_checks_tick(wp_gateway_t *gw)
{
    uint64_t now = uv_now(gw->loop);
    int n = gw->pool->n_eps;
    if (n == 0)
        return;
    gw->scrape_cursor %= n; /* a reload may have shrunk the pool */
    gw->health_cursor %= n;
    start_turns(gw->pool, GW_CHECK_SCRAPE, NULL, scrape_quota(gw, n), &gw->scrape_cursor);
    start_turns(gw->pool, GW_CHECK_HEALTH, "/health", health_quota(gw, n, now), &gw->health_cursor);
    bool models = gw->cfg.n_models == 0 &&
                  (now - gw->last_models_ms >= MODELS_INTERVAL_MS || gw->last_models_ms == 0);
    if (!models)
        return;
    gw->last_models_ms = now ? now : 1;
    for (int i = 0; i < n; i++)
        check_start(&gw->pool->eps[i].checks[GW_CHECK_MODELS], "/v1/models");
}
