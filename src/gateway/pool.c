/*
 * gateway/pool: the generations of the upstream pool (gw_pool_t in internal.h) and what
 * requests do to their schedulers' counts.
 *
 * The endpoints live in a gw_pool_t with their scheduler and outlier state; a reload builds a
 * new one (carrying each surviving endpoint's state over by name) and retires the old,
 * which is freed at a tick once no request holds it. An endpoint that stays (same name and
 * address) keeps all it had: health and what its checks learned (ep->probe), counters
 * (ep->counts), its upstream connections (a gw_upstream_t shared by the generations, freed
 * with the last one that holds it) and its scheduler state (in flight, pending prefill,
 * active and prefix blocks, copied by wp_sched_endpoint_adopt). One that changed address
 * keeps only its counters. Requests of a retired generation still run there: the change
 * their events make to the old scheduler's counts is passed on to the current one
 * (heir_sync; their blocks join and leave its active set with them), so the new counts
 * stay what they would have been without the reload.
 *
 * The checks of the current generation's endpoints are checks.c's; this file starts them
 * (wp__gw_checks_init) and stops them when a generation is retired or freed.
 */
#include "gateway/internal.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

/* An upstream connection pool and the generations' endpoints that use it. */
typedef struct gw_upstream_s {
    wp_http_upstream_t *up; /* owned */
    wp_http_client_config_t cfg;
    int refs;
} gw_upstream_t;

/* The same server (a data-parallel rank counts as the address: another rank is another
 * engine, with its own requests, cache and metrics). */
static bool same_address(const wp_gateway_endpoint_cfg_t *a, const wp_gateway_endpoint_cfg_t *b)
{
    return strcmp(a->host, b->host) == 0 && a->port == b->port &&
           strcmp(a->base_path, b->base_path) == 0 && a->engine == b->engine &&
           a->role == b->role && a->has_dp_rank == b->has_dp_rank &&
           (!a->has_dp_rank || a->dp_rank == b->dp_rank);
}

/* The scheduler's id of endpoint i's wide-EP group: the index of the first endpoint of the
 * config with that group name (below WP_SCHED_MAX_ENDPOINTS), -1 for none. */
static int group_id(const wp_gateway_config_t *cfg, int i)
{
    const char *g = cfg->endpoints[i].group;
    for (int j = 0; g[0] != '\0' && j <= i; j++)
        if (strcmp(cfg->endpoints[j].group, g) == 0)
            return j;
    return -1;
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
 * learned (health, metrics) and its outlier state, so an unchanged endpoint does not leave
 * the pool. */
static void carry_over(wp_gateway_t *gw, gw_pool_t *pool, gw_endpoint_t *ep, const gw_endpoint_t *o)
{
    ep->counts = o->counts;
    wp_sched_outlier_ep_t *out = wp_sched_outlier_ep(pool->outlier, ep->index);
    const wp_sched_outlier_ep_t *old = wp_sched_outlier_get(o->pool->outlier, o->index);
    out->ejections_total = old->ejections_total;
    if (!same_address(&ep->cfg, &o->cfg))
        return;
    *out = *old; /* the health checks' verdict with it */
    ep->lineage = o->lineage;
    /* What still runs there counts against its limit and load in the new scheduler too
     * (those requests end through wp__gw_ep_done, which passes that on), and the prompts
     * it was sent are still in its cache. */
    if (wp_sched_endpoint_adopt(pool->sched, ep->index, o->pool->sched, o->index) != WP_OK)
        wp_log(WP_LOG_WARN, "reload: prefix index only partly carried over (out of memory)",
               "endpoint=%s", ep->cfg.name);
    ep->probe = o->probe; /* the scheduler's copy of its metrics came with the adoption */
    ep->peer_in_flight = o->peer_in_flight; /* ... and the other workers' requests */
    ep->peer_prefilling = o->peer_prefilling;
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
    for (int i = 0; i < pool->n_eps; i++) {
        wp__gw_checks_cancel(&pool->eps[i]);
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
    pool->n_eps++;                    /* from here on pool_free cleans it up */
    wp_status_t st = upstream_attach(gw, ep, &cfg->client, o, err);
    if (st != WP_OK)
        return st;
    ep->index = wp_sched_endpoint_add(pool->sched, ep->cfg.name, ep->cfg.role);
    if (ep->index < 0)
        return wp_err_set(err, WP_EINVAL, "endpoint '%s': cannot add (duplicate name or too many)",
                          ep->cfg.name);
    wp_sched_endpoint_set_group(pool->sched, ep->index, group_id(cfg, i));
    wp_sched_endpoint_set_kv_events(pool->sched, ep->index, ep->cfg.kv_events[0] != '\0');
    pool->has_prefill |= ep->cfg.role == WP_SCHED_ROLE_PREFILL;
    wp__gw_checks_init(gw, ep); /* out of the pool until its checks pass */
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
    if (pool->sched != NULL)
        wp__gw_workers_share_turns(gw, pool);
    wp_sched_outlier_cfg_t ocfg = wp_gateway_outlier_cfg(&cfg->outlier);
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
    wp__gw_kvev_sync(gw);
    if (old == NULL)
        return;
    /* The new generation adopted what the old one counted so far (carry_over): from here
     * on, only the changes are passed on (heir_sync). */
    for (int i = 0; i < old->n_eps; i++) {
        old->eps[i].synced = wp_sched_endpoint_load(old->sched, old->eps[i].index);
        wp__gw_checks_cancel(&old->eps[i]); /* only the current generation is checked */
    }
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
    acct->counts.acct_errors[kind] += n;
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
    l.tokens_in_flight += now.tokens_in_flight - was.tokens_in_flight;
    if (l.in_flight == 0 || l.tokens_in_flight < 0.0)
        l.tokens_in_flight = 0.0;
    wp_sched_endpoint_set_load(gw->pool->sched, h->index, &l);
}

void wp__gw_ep_sent(wp_gateway_t *gw, gw_pool_t *pool, gw_endpoint_t *ep,
                    const wp_sched_pick_t *pick)
{
    wp_sched_on_dispatch(pool->sched, pick);
    wp__gw_routes_publish(gw, ep, pick);
    wp__gw_workers_load(gw, ep, pick, GW_LOAD_SENT);
    heir_sync(gw, pool, ep);
    gw_endpoint_t *h = heir(gw, pool, ep);
    if (h != NULL) { /* what it was sent is in its cache, whichever generation sent it */
        wp_sched_index_insert(wp_sched_index(gw->pool->sched), h->index, pick->block_hashes,
                              pick->n_blocks);
        wp_sched_endpoint_hold(gw->pool->sched, h->index, pick, true);
    }
}

void wp__gw_ep_prefilled(wp_gateway_t *gw, gw_pool_t *pool, gw_endpoint_t *ep,
                         const wp_sched_pick_t *pick)
{
    wp_sched_on_prefill_done(pool->sched, pick);
    wp__gw_workers_load(gw, ep, pick, GW_LOAD_PREFILLED);
    heir_sync(gw, pool, ep);
}

void wp__gw_ep_done(wp_gateway_t *gw, gw_pool_t *pool, gw_endpoint_t *ep,
                    const wp_sched_pick_t *pick)
{
    wp_sched_on_complete(pool->sched, pick);
    wp__gw_workers_load(gw, ep, pick, GW_LOAD_DONE);
    gw_endpoint_t *h = heir(gw, pool, ep);
    if (h != NULL) /* its blocks leave the heir's active set, which took them over */
        wp_sched_endpoint_hold(gw->pool->sched, h->index, pick, false);
    heir_sync(gw, pool, ep);
}

wp_http_upstream_t *wp__gw_ep_upstream(const gw_endpoint_t *ep)
{
    return ep->upstream->up;
}

gw_endpoint_t *wp__gw_ep_heir(wp_gateway_t *gw, gw_endpoint_t *ep)
{
    if (ep == NULL || ep->pool == gw->pool)
        return ep;
    return heir(gw, ep->pool, ep);
}

gw_endpoint_t *wp__gw_ep_current(wp_gateway_t *gw, gw_endpoint_t *ep)
{
    if (ep == NULL || ep->pool == gw->pool)
        return ep;
    gw_endpoint_t *cur = (gw_endpoint_t *)find_by_name(gw->pool, ep->cfg.name);
    return cur != NULL ? cur : ep;
}

int wp__gw_ready_count(const wp_gateway_t *gw)
{
    int n = 0;
    for (int i = 0; i < gw->pool->n_eps; i++) {
        const wp_sched_outlier_ep_t *o = gw_ep_outlier(&gw->pool->eps[i]);
        n += o->healthy && !o->ejected;
    }
    return n;
}

void wp__gw_pools_free(wp_gateway_t *gw)
{
    wp__gw_pools_collect(gw, true);
    if (gw->pool != NULL)
        pool_free(gw->pool);
    gw->pool = NULL;
}
