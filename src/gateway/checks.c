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
 * Health: an endpoint starts out of the pool and joins at its first good answer;
 * unhealthy_after (2) failed checks in a row (connect error, a wait past check_timeout_ms;
 * non-2xx for /health) take it out again, and it is logged each time it changes state. A /health
 * answer of 503 is a server draining (shutting down, a preemption notice: sched/drain): out at once
 * (notice.c). The verdict is kept once, in the generation's outlier state
 * (wp_sched_outlier_ep_t.healthy), and pushed to the scheduler by wp__gw_pool_sync. Only the
 * current generation is checked (pool.c cancels a retired one's checks).
 *
 * The GETs run on the checks' own thread (prober.c), which also reads a scrape's text: this
 * file decides and applies on the gateway's loop, and matches each result to its check by the
 * check's ticket (a slot in gw->probing and a sequence number); a result whose check was
 * cancelled or timed out finds its slot empty or reused and is dropped.
 */
#include "gateway/internal.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/engines.h"
#include "base/log.h"
#include "gateway/prober.h"
#include "base/str.h"
#include "sched/drain.h"

#define MODELS_INTERVAL_MS 5000
#define SCRAPE_BODY_MAX (8u << 20)

/* One check's outcome. Scrape and health failures are counted apart: an endpoint is in
 * the pool while neither has failed unhealthy_after times in a row, and joins only
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
            if (gw_logs_state(gw))
                wp_log(WP_LOG_INFO, "endpoint joined the pool", "endpoint=%s", ep->cfg.name);
        }
        return;
    }
    wp_strlcpy(pr->last_error, why, sizeof(pr->last_error));
    if (++pr->failures[kind] < gw->cfg.unhealthy_after || !*healthy)
        return;
    *healthy = false;
    wp__gw_pool_sync(gw, ep->pool);
    /* Whatever it held may be gone (a restart empties the cache): forget its prefixes. */
    wp_sched_index_clear_endpoint(wp_sched_index(ep->pool->sched), ep->index);
    char q[256];
    if (gw_logs_state(gw))
        wp_log(WP_LOG_WARN, "endpoint left the pool", "endpoint=%s reason=%s", ep->cfg.name,
               wp_log_quote(q, sizeof(q), why));
}

static void learn_models(wp_gateway_t *gw, const char *body, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
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
    if (!gw_logs_state(ep->checks[0].gw))
        return;
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
    ep->probe.noted = 0;
    metrics_note(ep, w, true);
    mark(gw, ep, GW_CHECK_SCRAPE, true, NULL);
}

/* A 2xx scrape, as the checks' thread read it (res->reading). */
static void apply_scrape(wp_gateway_t *gw, gw_endpoint_t *ep, const wp_gw_probe_result_t *res)
{
    const wp_api_engine_t *e = wp_api_engine(ep->cfg.engine);
    const wp_api_engine_reading_t r = res->reading;
    char what[300];
    if (res->read_st != WP_OK) {
        snprintf(what, sizeof(what), " is not Prometheus text (%.120s)", res->read_err);
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
    /* The note depends on the engine and the series seen alone: written when they change. */
    unsigned noted = ((unsigned)ep->cfg.engine << 8 | r.seen) + 1;
    if (pr->noted == noted) {
        /* as last time */
    } else if (!pr->kv_known || !pr->cache_known) {
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
    pr->noted = noted;
    mark(gw, ep, GW_CHECK_SCRAPE, true, NULL);
}

/* ---- tickets: which check a result is for ---- */

/* The check's GET is no longer awaited: its slot is free, its result will be dropped. */
static void forget(gw_check_t *c)
{
    if (c->ticket == 0)
        return;
    wp_gateway_t *gw = c->gw;
    int slot = (int)(c->ticket & (GW_PROBE_SLOTS - 1));
    gw->probing[slot] = NULL;
    gw->probe_free[gw->n_probe_free++] = slot;
    c->ticket = 0;
}

/* A ticket for c's next GET (c->ticket), in a free slot; false when none is free. */
static bool take_ticket(gw_check_t *c)
{
    wp_gateway_t *gw = c->gw;
    if (gw->n_probe_free == 0)
        return false;
    int slot = gw->probe_free[--gw->n_probe_free];
    gw->probing[slot] = c;
    c->ticket = ++gw->probe_seq * GW_PROBE_SLOTS + (uint64_t)slot;
    return true;
}

void wp__gw_checks_apply(wp_gateway_t *gw, gw_endpoint_t *ep, gw_check_kind_t kind,
                         const wp_gw_probe_result_t *res)
{
    if (res->st == WP_OK && kind == GW_CHECK_SCRAPE && (res->status < 200 || res->status > 299)) {
        char what[64];
        snprintf(what, sizeof(what), " answered HTTP %d", res->status);
        metrics_unavailable(gw, ep, what);
        return;
    }
    if (kind == GW_CHECK_HEALTH) { /* sched/drain: a 503 is out at once */
        wp_sched_health_t h = wp_sched_health_verdict(res->st == WP_OK, res->status);
        if (h == WP_SCHED_HEALTH_DRAINING)
            wp__gw_notice_draining(gw, ep);
        else if (h == WP_SCHED_HEALTH_OK)
            wp__gw_notice_clear(gw, ep);
    }
    if (res->st != WP_OK || res->status < 200 || res->status > 299) {
        char msg[300];
        if (res->st != WP_OK)
            wp_strlcpy(msg, res->why[0] ? res->why : "request failed", sizeof(msg));
        else
            snprintf(msg, sizeof(msg), "%s answered HTTP %d",
                     kind == GW_CHECK_SCRAPE   ? "/metrics"
                     : kind == GW_CHECK_HEALTH ? "/health"
                                               : "/v1/models",
                     res->status);
        if (kind != GW_CHECK_MODELS)
            mark(gw, ep, kind, false, msg);
        return;
    }
    if (kind == GW_CHECK_SCRAPE)
        apply_scrape(gw, ep, res);
    else if (kind == GW_CHECK_MODELS)
        learn_models(gw, res->body ? res->body : "", res->body_len);
    else
        mark(gw, ep, kind, true, NULL);
}

/* c's result, applied here and by the other workers. */
static void checked(gw_check_t *c, const wp_gw_probe_result_t *res)
{
    wp__gw_workers_check(c->gw, c->ep, c->kind, res);
    wp__gw_checks_apply(c->gw, c->ep, c->kind, res);
}

/* What a check's GET found, on the gateway's loop. */
static void on_result(void *ud, const wp_gw_probe_result_t *res)
{
    wp_gateway_t *gw = ud;
    gw_check_t *c = gw->probing[res->ticket & (GW_PROBE_SLOTS - 1)];
    if (c == NULL || c->ticket != res->ticket || gw->stopping)
        return; /* cancelled or timed out since */
    forget(c);
    checked(c, res);
}

static void check_start(gw_check_t *c, const char *path)
{
    wp_gateway_t *gw = c->gw;
    uint64_t now = uv_now(gw->loop);
    if (c->ticket != 0) {
        if (now - c->started_ms < gw->cfg.check_timeout_ms)
            return;
        forget(c); /* hung: counts as a failed check */
        wp_gw_probe_result_t hung = {.st = WP_ETIMEDOUT};
        wp_strlcpy(hung.why, "no answer within the check timeout", sizeof(hung.why));
        checked(c, &hung);
    }
    if (!take_ticket(c))
        return;
    const gw_endpoint_t *ep = c->ep;
    wp_gw_probe_t probe = {.ticket = c->ticket,
                           .port = ep->cfg.port,
                           .engine =
                               c->kind == GW_CHECK_SCRAPE ? wp_api_engine(ep->cfg.engine) : NULL,
                           .rank = ep->cfg.has_dp_rank ? ep->cfg.dp_rank : -1,
                           .keep_body = c->kind == GW_CHECK_MODELS,
                           .timeout_ms = gw->cfg.check_timeout_ms};
    wp_strlcpy(probe.host, ep->cfg.host, sizeof(probe.host));
    snprintf(probe.path, sizeof(probe.path), "%s%s", ep->cfg.base_path, path);
    if (wp_gw_prober_submit(gw->prober, &probe) != WP_OK) {
        forget(c);
        return;
    }
    c->started_ms = now;
    if (c->kind == GW_CHECK_SCRAPE) {
        wp_sched_endpoint_scrape_sent(ep->pool->sched, ep->index);
        wp__gw_workers_scrape_sent(gw, ep);
    }
}

wp_status_t wp__gw_checks_open(wp_gateway_t *gw, wp_err_t *err)
{
    for (int i = 0; i < GW_PROBE_SLOTS; i++)
        gw->probe_free[i] = GW_PROBE_SLOTS - 1 - i;
    gw->n_probe_free = GW_PROBE_SLOTS;
    gw->prober = wp_gw_prober_new(gw->loop, SCRAPE_BODY_MAX, on_result, gw, err);
    return gw->prober != NULL ? WP_OK : WP_EIO;
}

void wp__gw_checks_close(wp_gateway_t *gw, void (*closed)(void *ud), void *ud)
{
    wp_gw_prober_t *p = gw->prober;
    gw->prober = NULL;
    if (p != NULL)
        wp_gw_prober_free(p, closed, ud);
    else if (closed != NULL)
        closed(ud);
}

void wp__gw_checks_init(wp_gateway_t *gw, gw_endpoint_t *ep)
{
    ep->probe.failures[GW_CHECK_SCRAPE] = ep->probe.failures[GW_CHECK_HEALTH] = 1; /* both first */
    wp_sched_outlier_ep(ep->pool->outlier, ep->index)->healthy = false;
    for (int k = 0; k < GW_CHECK_KINDS; k++)
        ep->checks[k] = (gw_check_t){.gw = gw, .ep = ep, .kind = (gw_check_kind_t)k};
}

void wp__gw_checks_cancel(gw_endpoint_t *ep)
{
    for (int k = 0; k < GW_CHECK_KINDS; k++)
        forget(&ep->checks[k]);
}

void wp__gw_checks_health_now(wp_gateway_t *gw, gw_endpoint_t *ep)
{
    if (wp__gw_workers_health_now(gw, ep)) /* worker 0 checks */
        return;
    if (ep->checks[GW_CHECK_HEALTH].ticket == 0)
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
    if (n == 0 || gw->prober == NULL) /* the other workers: worker 0 checks */
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
