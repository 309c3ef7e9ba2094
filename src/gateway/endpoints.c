/*
 * gateway/endpoints: the pool's state. Every scrape tick each endpoint with no scrape
 * in flight gets GET /metrics; every health interval, GET /health; now and then,
 * GET /v1/models to learn the served model names. The three signals the scorers need
 * (waiting, running, KV usage) are read under the metric names of the endpoint's
 * engine (docs/reference.md §2), summed over data-parallel engines (KV usage: the largest).
 *
 * Health: an endpoint starts out of the pool and joins at its first good answer; two
 * failed checks in a row (connect error, timeout, non-2xx) take it out again, and it
 * is logged each time it changes state.
 *
 * Generations: the endpoints live in a gw_pool_t with their scheduler; a reload builds a
 * new one (carrying each surviving endpoint's state over by name) and retires the old,
 * which is freed at a tick once no request holds it (internal.h). An endpoint that stays
 * (same name and address) keeps all it had: health, metrics, counters, its upstream
 * connections (a gw_upstream_t shared by the generations, freed with the last one that
 * holds it) and its scheduler state (in flight, pending prefill, prefix blocks, copied by
 * wp_sched_endpoint_adopt). Requests of a retired generation still run there: the change
 * their events make to the old scheduler's counts is passed on to the current one (heir_sync),
 * so the new counts stay what they would have been without the reload.
 */
#include "gateway/internal.h"

#include <assert.h>
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/prom.h"
#include "base/log.h"
#include "base/str.h"

#define FAILURES_TO_EJECT 2
#define MODELS_INTERVAL_MS 5000
#define CHECK_TIMEOUT_MS 2000
#define SCRAPE_BODY_MAX (8u << 20)

/* An upstream connection pool and the generations' endpoints that use it. */
typedef struct gw_upstream_s {
    wp_http_upstream_t *up; /* owned */
    wp_http_client_config_t cfg;
    int refs;
} gw_upstream_t;

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
    if (ok) {
        ep->failures[kind] = 0;
        if (!ep->healthy && !gw->stopping && ep->failures[GW_CHECK_SCRAPE] == 0 &&
            ep->failures[GW_CHECK_HEALTH] == 0) {
            ep->healthy = true;
            wp__gw_pool_sync(gw, ep->pool);
            wp_log(WP_LOG_INFO, "endpoint joined the pool", "endpoint=%s", ep->cfg.name);
        }
        return;
    }
    wp_strlcpy(ep->last_error, why, sizeof(ep->last_error));
    if (++ep->failures[kind] < FAILURES_TO_EJECT || !ep->healthy)
        return;
    ep->healthy = false;
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
        if (cJSON_IsString(id) && !wp__gw_model_known(gw, id->valuestring) &&
            gw->n_models < WP_GATEWAY_MAX_MODELS) {
            wp_strlcpy(gw->models[gw->n_models++], id->valuestring, sizeof(gw->models[0]));
            wp_log(WP_LOG_INFO, "model learned", "model=%s", id->valuestring);
        }
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
    ep->waiting = a.waiting;
    ep->running = a.running;
    ep->kv_usage = a.kv > 1.0 ? 1.0 : a.kv;
    ep->cache_queries = a.cache_queries;
    ep->cache_hits = a.cache_hits;
    ep->metrics_seen = true;
    wp_sched_endpoint_set_metrics(ep->pool->sched, ep->index, wp__gw_now(gw), ep->waiting,
                                  ep->running, ep->kv_usage);
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

void wp__gw_endpoints_tick(wp_gateway_t *gw)
{
    uint64_t now = uv_now(gw->loop);
    bool health = now - gw->last_health_ms >= gw->cfg.health_interval_ms || gw->last_health_ms == 0;
    bool models = gw->cfg.n_models == 0 &&
                  (now - gw->last_models_ms >= MODELS_INTERVAL_MS || gw->last_models_ms == 0);
    if (health)
        gw->last_health_ms = now ? now : 1;
    if (models)
        gw->last_models_ms = now ? now : 1;
    wp__gw_pools_collect(gw, false);
    wp__gw_outlier_tick(gw);
    wp__gw_flow_tick(gw);
    for (int i = 0; i < gw->pool->n_eps; i++) {
        gw_endpoint_t *ep = &gw->pool->eps[i];
        check_start(&ep->checks[GW_CHECK_SCRAPE], "/metrics");
        if (health)
            check_start(&ep->checks[GW_CHECK_HEALTH], "/health");
        if (models)
            check_start(&ep->checks[GW_CHECK_MODELS], "/v1/models");
    }
}

bool wp__gw_model_known(const wp_gateway_t *gw, const char *model)
{
    for (int i = 0; i < gw->n_models; i++) {
        if (strcmp(gw->models[i], model) == 0)
            return true;
    }
    return false;
}

int wp__gw_ready_count(const wp_gateway_t *gw)
{
    int n = 0;
    for (int i = 0; i < gw->pool->n_eps; i++)
        n += gw->pool->eps[i].healthy && !wp_sched_outlier_get(gw->pool->outlier, i)->ejected;
    return n;
}

/* ---- generations (see gw_pool_t in internal.h) ---- */

static bool same_address(const wp_gateway_endpoint_cfg_t *a, const wp_gateway_endpoint_cfg_t *b)
{
    return strcmp(a->host, b->host) == 0 && a->port == b->port &&
           strcmp(a->base_path, b->base_path) == 0 && a->engine == b->engine && a->role == b->role;
}

static const gw_endpoint_t *find_by_name(const gw_pool_t *pool, const char *name)
{
    for (int i = 0; pool != NULL && i < pool->n_eps; i++) {
        if (strcmp(pool->eps[i].cfg.name, name) == 0)
            return &pool->eps[i];
    }
    return NULL;
}

/* A reloaded endpoint keeps its counters; at the same address, also what the checks
 * learned (health, metrics), so an unchanged endpoint does not leave the pool. */
static void carry_over(wp_gateway_t *gw, gw_pool_t *pool, gw_endpoint_t *ep, const gw_endpoint_t *o)
{
    memcpy(ep->statuses, o->statuses, sizeof(ep->statuses));
    ep->picks = o->picks;
    ep->upstream_errors = o->upstream_errors;
    ep->retries_from = o->retries_from;
    memcpy(ep->ttft_recent, o->ttft_recent, sizeof(ep->ttft_recent));
    ep->ttft_n = o->ttft_n;
    ep->ttft_next = o->ttft_next;
    wp_sched_outlier_ep_t *out = wp_sched_outlier_ep(pool->outlier, ep->index);
    const wp_sched_outlier_ep_t *old = wp_sched_outlier_get(o->pool->outlier, o->index);
    out->ejections_total = old->ejections_total;
    memcpy(ep->acct_errors, o->acct_errors, sizeof(ep->acct_errors));
    if (!same_address(&ep->cfg, &o->cfg))
        return;
    *out = *old; /* healthy is set from ep->healthy by the next sync */
    ep->lineage = o->lineage;
    /* What still runs there counts against its limit and load in the new scheduler too
     * (those requests end through wp__gw_ep_done, which passes that on), and the prompts
     * it was sent are still in its cache. */
    if (wp_sched_endpoint_adopt(pool->sched, ep->index, o->pool->sched, o->index) != WP_OK)
        wp_log(WP_LOG_WARN, "reload: prefix index only partly carried over (out of memory)",
               "endpoint=%s", ep->cfg.name);
    ep->healthy = o->healthy;
    memcpy(ep->failures, o->failures, sizeof(ep->failures));
    ep->waiting = o->waiting;
    ep->running = o->running;
    ep->kv_usage = o->kv_usage;
    ep->cache_queries = o->cache_queries;
    ep->cache_hits = o->cache_hits;
    ep->metrics_seen = o->metrics_seen;
    wp_strlcpy(ep->last_error, o->last_error, sizeof(ep->last_error));
    if (ep->metrics_seen)
        wp_sched_endpoint_set_metrics(pool->sched, ep->index, wp__gw_now(gw), ep->waiting,
                                      ep->running, ep->kv_usage);
}

static void cancel_checks(gw_pool_t *pool)
{
    for (int i = 0; i < pool->n_eps; i++) {
        for (int k = 0; k < GW_CHECK_KINDS; k++) {
            if (pool->eps[i].checks[k].call != NULL)
                wp_http_call_cancel(pool->eps[i].checks[k].call);
            pool->eps[i].checks[k].call = NULL;
        }
    }
}

static bool same_client(const wp_http_client_config_t *a, const wp_http_client_config_t *b)
{
    return a->connect_timeout_ms == b->connect_timeout_ms && a->first_byte_ms == b->first_byte_ms &&
           a->idle_ms == b->idle_ms && a->keepalive_ms == b->keepalive_ms &&
           a->max_idle == b->max_idle && a->max_header_bytes == b->max_header_bytes;
}

/* ep's connection pool: o's (the same endpoint in the generation before) when the address
 * and the client settings are the same, else a new one. */
static wp_status_t upstream_attach(wp_gateway_t *gw, gw_endpoint_t *ep,
                                   const wp_http_client_config_t *client, const gw_endpoint_t *o,
                                   wp_err_t *err)
{
    gw_upstream_t *u = NULL;
    if (o != NULL && o->upstream != NULL && same_address(&ep->cfg, &o->cfg) &&
        same_client(&o->upstream->cfg, client)) {
        u = o->upstream;
        u->refs++;
    } else {
        u = calloc(1, sizeof(*u));
        if (u == NULL)
            return wp_err_set(err, WP_ENOMEM, "out of memory");
        u->up = wp_http_upstream_new(gw->loop, ep->cfg.host, ep->cfg.port, client, err);
        if (u->up == NULL) {
            free(u);
            return WP_EINVAL;
        }
        u->cfg = *client;
        u->refs = 1;
    }
    ep->upstream = u;
    return WP_OK;
}

/* The generation of ep is freed: the last one that used the pool closes it. */
static void upstream_detach(gw_endpoint_t *ep)
{
    gw_upstream_t *u = ep->upstream;
    ep->upstream = NULL;
    if (u == NULL || --u->refs > 0)
        return;
    wp_http_upstream_free(u->up);
    free(u);
}

static void pool_free(gw_pool_t *pool)
{
    cancel_checks(pool);
    for (int i = 0; i < pool->n_eps; i++) {
        for (int k = 0; k < GW_CHECK_KINDS; k++)
            wp_buf_free(&pool->eps[i].checks[k].body);
        upstream_detach(&pool->eps[i]);
    }
    free(pool->eps);
    wp_sched_free(pool->sched);
    wp_sched_outlier_free(pool->outlier);
    free(pool);
}

static wp_status_t endpoint_init(wp_gateway_t *gw, gw_pool_t *pool, const wp_gateway_config_t *cfg,
                                 int i, const gw_endpoint_t *o, wp_err_t *err)
{
    gw_endpoint_t *ep = &pool->eps[i];
    ep->cfg = cfg->endpoints[i];
    ep->pool = pool;
    ep->lineage = ++gw->next_lineage; /* carry_over keeps o's at the same address */
    ep->failures[GW_CHECK_SCRAPE] = ep->failures[GW_CHECK_HEALTH] = 1; /* both must pass first */
    for (int k = 0; k < GW_CHECK_KINDS; k++) {
        ep->checks[k] = (gw_check_t){.gw = gw, .ep = ep, .kind = (gw_check_kind_t)k};
        wp_buf_init(&ep->checks[k].body, SCRAPE_BODY_MAX);
    }
    pool->n_eps++; /* from here on pool_free cleans it up */
    wp_status_t st = upstream_attach(gw, ep, &cfg->client, o, err);
    if (st != WP_OK)
        return st;
    ep->index = wp_sched_endpoint_add(pool->sched, ep->cfg.name, ep->cfg.role);
    if (ep->index < 0)
        return wp_err_set(err, WP_EINVAL, "endpoint '%s': cannot add (duplicate name or too many)",
                          ep->cfg.name);
    pool->has_prefill |= ep->cfg.role == WP_SCHED_ROLE_PREFILL;
    return WP_OK;
}

gw_pool_t *wp__gw_pool_new(wp_gateway_t *gw, const wp_gateway_config_t *cfg, const gw_pool_t *prev,
                           wp_err_t *err)
{
    gw_pool_t *pool = calloc(1, sizeof(*pool));
    if (pool == NULL) {
        wp_err_set(err, WP_ENOMEM, "out of memory");
        return NULL;
    }
    pool->eps = calloc((size_t)(cfg->n_endpoints ? cfg->n_endpoints : 1), sizeof(gw_endpoint_t));
    pool->sched = wp_sched_new(&cfg->sched, err);
    wp_sched_outlier_cfg_t ocfg = wp__gw_outlier_cfg(cfg);
    if (pool->sched != NULL)
        pool->outlier = wp_sched_outlier_new(cfg->n_endpoints, &ocfg, err);
    if (pool->eps == NULL || pool->sched == NULL || pool->outlier == NULL) {
        if (pool->eps == NULL)
            wp_err_set(err, WP_ENOMEM, "out of memory");
        pool_free(pool);
        return NULL;
    }
    for (int i = 0; i < cfg->n_endpoints; i++) {
        const gw_endpoint_t *o = find_by_name(prev, cfg->endpoints[i].name);
        if (endpoint_init(gw, pool, cfg, i, o, err) != WP_OK) {
            pool_free(pool);
            return NULL;
        }
        if (o != NULL)
            carry_over(gw, pool, &pool->eps[i], o);
    }
    /* Once, over every endpoint: health as carried over (a new one is out of the pool
     * until its checks pass), ejection and limits. */
    wp__gw_pool_sync(gw, pool);
    return pool;
}

void wp__gw_pool_ref(gw_pool_t *pool)
{
    pool->refs++;
}

void wp__gw_pool_unref(gw_pool_t *pool)
{
    assert(pool->refs > 0);
    pool->refs--;
}

void wp__gw_pool_use(wp_gateway_t *gw, gw_pool_t *pool)
{
    gw_pool_t *old = gw->pool;
    wp__gw_pool_ref(pool);
    gw->pool = pool;
    if (old == NULL)
        return;
    /* The new generation adopted what the old one counted so far (carry_over): from here
     * on, only the changes are passed on (heir_sync). */
    for (int i = 0; i < old->n_eps; i++)
        old->eps[i].synced = wp_sched_endpoint_load(old->sched, old->eps[i].index);
    cancel_checks(old); /* only the current generation is checked */
    old->next_retired = gw->retired;
    gw->retired = old;
    wp__gw_pool_unref(old);
}

void wp__gw_pools_collect(wp_gateway_t *gw, bool all)
{
    gw_pool_t **link = &gw->retired;
    while (*link != NULL) {
        gw_pool_t *p = *link;
        if (p->refs > 0 && !all) {
            link = &p->next_retired;
            continue;
        }
        *link = p->next_retired;
        pool_free(p);
    }
}

/* The current generation's endpoint whose scheduler counts continue ep's (same lineage),
 * or NULL: ep is current, or was removed, or moved. */
static gw_endpoint_t *heir(wp_gateway_t *gw, const gw_pool_t *pool, const gw_endpoint_t *ep)
{
    if (pool == gw->pool)
        return NULL;
    gw_endpoint_t *cur = (gw_endpoint_t *)find_by_name(gw->pool, ep->cfg.name);
    return cur != NULL && cur->lineage == ep->lineage ? cur : NULL;
}

static void acct_error(wp_gateway_t *gw, gw_endpoint_t *ep, int kind, uint64_t n)
{
    gw_endpoint_t *acct = wp__gw_ep_current(gw, ep);
    acct->acct_errors[kind] += n;
    wp_log(WP_LOG_ERROR, "accounting error: an event with nothing pending", "endpoint=%s kind=%s",
           ep->cfg.name, wp_sched_acct_name((wp_sched_acct_t)kind));
    assert(!"accounting error: a completion or prefill-done with nothing pending");
}

/* n + (now - was), with a result below 0 counted as an accounting error of `kind`. */
static uint32_t shift(wp_gateway_t *gw, gw_endpoint_t *ep, int kind, uint32_t n, uint32_t now,
                      uint32_t was)
{
    int64_t v = (int64_t)n + (int64_t)now - (int64_t)was;
    if (v >= 0)
        return (uint32_t)v;
    acct_error(gw, ep, kind, (uint64_t)-v);
    return 0;
}

/* After each event on ep: takes in the accounting errors pool's scheduler counted since the
 * last look, and, for a retired generation, passes the change of ep's load since the last
 * sync on to its heir. */
static void heir_sync(wp_gateway_t *gw, gw_pool_t *pool, gw_endpoint_t *ep)
{
    for (int k = 0; k < WP_SCHED_ACCT_KINDS; k++) {
        uint64_t n = wp_sched_accounting_errors(pool->sched, ep->index, (wp_sched_acct_t)k);
        if (n > ep->acct_seen[k])
            acct_error(gw, ep, k, n - ep->acct_seen[k]);
        ep->acct_seen[k] = n;
    }
    if (pool == gw->pool)
        return;
    wp_sched_load_t now = wp_sched_endpoint_load(pool->sched, ep->index), was = ep->synced;
    ep->synced = now;
    gw_endpoint_t *h = heir(gw, pool, ep);
    if (h == NULL)
        return;
    wp_sched_load_t l = wp_sched_endpoint_load(gw->pool->sched, h->index);
    l.in_flight = shift(gw, h, WP_SCHED_ACCT_COMPLETE, l.in_flight, now.in_flight, was.in_flight);
    l.prefilling =
        shift(gw, h, WP_SCHED_ACCT_PREFILL, l.prefilling, now.prefilling, was.prefilling);
    l.pending_prefill += now.pending_prefill - was.pending_prefill;
    if (l.prefilling == 0 || l.pending_prefill < 0.5)
        l.pending_prefill = 0.0;
    wp_sched_endpoint_set_load(gw->pool->sched, h->index, &l);
}

void wp__gw_ep_sent(wp_gateway_t *gw, gw_pool_t *pool, gw_endpoint_t *ep,
                    const wp_sched_pick_t *pick)
{
    wp_sched_on_dispatch(pool->sched, pick);
    gw_endpoint_t *h = heir(gw, pool, ep);
    if (h != NULL) /* what it was sent is in its cache, whichever generation sent it */
        wp_sched_index_insert(wp_sched_index(gw->pool->sched), h->index, pick->block_hashes,
                              pick->n_blocks);
    heir_sync(gw, pool, ep);
}

void wp__gw_ep_prefilled(wp_gateway_t *gw, gw_pool_t *pool, gw_endpoint_t *ep,
                         const wp_sched_pick_t *pick)
{
    wp_sched_on_prefill_done(pool->sched, pick);
    heir_sync(gw, pool, ep);
}

void wp__gw_ep_done(wp_gateway_t *gw, gw_pool_t *pool, gw_endpoint_t *ep)
{
    wp_sched_on_complete(pool->sched, ep->index);
    heir_sync(gw, pool, ep);
}

wp_http_upstream_t *wp__gw_ep_upstream(const gw_endpoint_t *ep)
{
    return ep->upstream->up;
}

gw_endpoint_t *wp__gw_ep_current(wp_gateway_t *gw, gw_endpoint_t *ep)
{
    if (ep == NULL || ep->pool == gw->pool)
        return ep;
    gw_endpoint_t *cur = (gw_endpoint_t *)find_by_name(gw->pool, ep->cfg.name);
    return cur != NULL ? cur : ep;
}

void wp__gw_endpoints_free(wp_gateway_t *gw)
{
    wp__gw_pools_collect(gw, true);
    if (gw->pool != NULL)
        pool_free(gw->pool);
    gw->pool = NULL;
}
