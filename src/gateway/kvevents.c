/*
 * gateway/kvevents: the endpoints' own KV events (vLLM's --kv-events-config), subscribed to
 * and applied to the current generation's KV view (sched/kv_view.h), which the
 * precise-prefix scorer reads.
 *
 * One subscription (kvev/sub.h: SUB, gap replay, resync) per endpoint with a kv_events
 * address, kept across reloads while the endpoint keeps its name and addresses (the new
 * generation's scheduler adopted the view: wp_sched_endpoint_adopt), made for endpoints
 * that appear, closed for those that go. A batch is applied to the endpoint of that name in
 * the current generation: BlockStored to its medium (GPU when the event names none, as
 * older vLLM sends), BlockRemoved likewise, AllBlocksCleared and a resync (lost events)
 * empty the endpoint's view. Counters and the event lag (the gateway's clock less the
 * batch's timestamp, the publisher's clock) are per subscription, for /metrics.
 */
#include "gateway/internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "kvev/ctx.h"

static int find_ep(const gw_pool_t *pool, const char *name)
{
    for (int i = 0; i < pool->n_eps; i++)
        if (strcmp(pool->eps[i].cfg.name, name) == 0)
            return i;
    return -1;
}

static wp_sched_medium_t medium_of(wp_kvev_medium_t m)
{
    return m == WP_KVEV_MEDIUM_CPU ? WP_SCHED_MEDIUM_CPU : WP_SCHED_MEDIUM_GPU;
}

static void on_batch(void *ud, const wp_kvev_batch_t *b, uint64_t seq)
{
    gw_kvsub_t *k = ud;
    wp_gateway_t *gw = k->gw;
    (void)seq;
    uv_timeval64_t tv;
    if (uv_gettimeofday(&tv) == 0)
        k->lag_s = (double)tv.tv_sec + (double)tv.tv_usec / 1e6 - b->ts;
    int i = find_ep(gw->pool, k->name);
    if (i < 0)
        return;
    wp_sched_kv_t *kv = wp_sched_kv(gw->pool->sched);
    int ep = gw->pool->eps[i].index;
    for (size_t e = 0; e < b->n_events; e++) {
        const wp_kvev_event_t *ev = &b->events[e];
        switch (ev->type) {
        case WP_KVEV_STORED:
            if (wp_sched_kv_store(kv, ep, medium_of(ev->medium), ev->hashes, ev->n_hashes) != WP_OK)
                k->store_errors++;
            break;
        case WP_KVEV_REMOVED:
            wp_sched_kv_remove(kv, ep, medium_of(ev->medium), ev->hashes, ev->n_hashes);
            break;
        case WP_KVEV_CLEARED:
            wp_sched_kv_clear(kv, ep);
            break;
        }
    }
}

static void on_resync(void *ud, const char *why)
{
    gw_kvsub_t *k = ud;
    wp_gateway_t *gw = k->gw;
    wp_log(WP_LOG_WARN, "kv events lost: the endpoint's view starts over",
           "endpoint=%s reason=\"%s\"", k->name, why);
    int i = find_ep(gw->pool, k->name);
    if (i >= 0)
        wp_sched_kv_clear(wp_sched_kv(gw->pool->sched), gw->pool->eps[i].index);
}

static bool same(const gw_kvsub_t *k, const wp_gateway_endpoint_cfg_t *c)
{
    return strcmp(k->name, c->name) == 0 && strcmp(k->addr, c->kv_events) == 0 &&
           strcmp(k->replay, c->kv_replay) == 0 && strcmp(k->topic, c->kv_topic) == 0;
}

static void close_sub(gw_kvsub_t *k)
{
    wp_kvev_sub_close(k->sub);
    free(k);
}

static gw_kvsub_t *open_sub(wp_gateway_t *gw, const wp_gateway_endpoint_cfg_t *c)
{
    wp_err_t err;
    if (gw->zctx == NULL && (gw->zctx = wp_kvev_ctx_new(&err)) == NULL) {
        wp_log(WP_LOG_ERROR, "kv events: no ZeroMQ context", "error=\"%s\"", err.msg);
        return NULL;
    }
    gw_kvsub_t *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return NULL;
    k->gw = gw;
    snprintf(k->name, sizeof(k->name), "%s", c->name);
    snprintf(k->addr, sizeof(k->addr), "%s", c->kv_events);
    snprintf(k->replay, sizeof(k->replay), "%s", c->kv_replay);
    snprintf(k->topic, sizeof(k->topic), "%s", c->kv_topic);
    static const wp_kvev_sub_cb_t cb = {on_batch, on_resync};
    k->sub = wp_kvev_sub_new(gw->loop, gw->zctx, k->addr, k->replay, k->topic, &cb, k, &err);
    if (k->sub == NULL) {
        wp_log(WP_LOG_ERROR, "kv events: cannot subscribe", "endpoint=%s events=%s error=\"%s\"",
               c->name, c->kv_events, err.msg);
        free(k);
        return NULL;
    }
    wp_log(WP_LOG_INFO, "kv events: subscribed", "endpoint=%s events=%s replay=%s", c->name,
           c->kv_events, c->kv_replay[0] ? c->kv_replay : "none");
    return k;
}

void wp__gw_kvev_sync(wp_gateway_t *gw)
{
    gw_kvsub_t *keep[WP_GATEWAY_MAX_ENDPOINTS] = {0};
    int n = 0;
    const gw_pool_t *pool = gw->pool;
    for (int i = 0; pool != NULL && i < pool->n_eps; i++) {
        const wp_gateway_endpoint_cfg_t *c = &pool->eps[i].cfg;
        if (!c->kv_events[0])
            continue;
        gw_kvsub_t *k = NULL;
        for (int j = 0; j < gw->n_kvsubs && k == NULL; j++)
            if (gw->kvsubs[j] && same(gw->kvsubs[j], c)) {
                k = gw->kvsubs[j];
                gw->kvsubs[j] = NULL;
            }
        if (k == NULL)
            k = open_sub(gw, c);
        if (k != NULL)
            keep[n++] = k;
    }
    for (int j = 0; j < gw->n_kvsubs; j++)
        if (gw->kvsubs[j])
            close_sub(gw->kvsubs[j]);
    memcpy(gw->kvsubs, keep, sizeof(keep));
    gw->n_kvsubs = n;
}

void wp__gw_kvev_close(wp_gateway_t *gw)
{
    for (int j = 0; j < gw->n_kvsubs; j++)
        close_sub(gw->kvsubs[j]);
    gw->n_kvsubs = 0;
    wp_kvev_ctx_free(gw->zctx);
    gw->zctx = NULL;
}

const gw_kvsub_t *wp__gw_kvev_find(const wp_gateway_t *gw, const char *name)
{
    for (int j = 0; j < gw->n_kvsubs; j++)
        if (strcmp(gw->kvsubs[j]->name, name) == 0)
            return gw->kvsubs[j];
    return NULL;
}
