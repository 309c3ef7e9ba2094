/*
 * gateway/routes: gateway replicas tell each other where they routed prompts, so that the
 * approximate prefix index of each (sched/prefix_index.h) knows the others' routing too.
 * Without it, N replicas behind one Service each see 1/N of the traffic and send a prefix
 * they did not route themselves anywhere (docs/precise-routing.md measures the loss).
 *
 * The channel reuses kvev/ (the KV-event wire and its sockets): every dispatch publishes a
 * batch of one BlockStored whose hashes are the pick's prompt chain (the scheduler's own
 * hashes, not a server's) and whose medium names the endpoint it went to; a peer applies it
 * with wp_sched_learn_route to the endpoint of that name in its current generation (the
 * replicas share the endpoints' names, from the same topology). Peers' sequence gaps end in
 * a resync that loses nothing but those routes: routing hints, not state to rebuild.
 *
 * Config (gateway.h): routes_listen (the PUB address; "" = off) and route_peers (the other
 * replicas' addresses); wp_gateway_add_route_peer adds one at run time (`wellpath up`
 * learns the ports once every replica is bound).
 *
 * Several workers (gateway.workers): worker 0 alone has the sockets. It publishes every
 * worker's dispatches (the others' reach it as messages, workers.c) and hands each route it
 * learns to the others.
 */
#include "gateway/internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "kvev/ctx.h"
#include "kvev/pub.h"

#define ROUTES_TOPIC "wp-routes"

static void *zctx(wp_gateway_t *gw, wp_err_t *err)
{
    if (gw->zctx == NULL)
        gw->zctx = wp_kvev_ctx_new(err);
    return gw->zctx;
}

wp_status_t wp__gw_routes_open(wp_gateway_t *gw, wp_err_t *err)
{
    const wp_gateway_config_t *c = &gw->cfg;
    if (gw->worker != 0)
        return WP_OK; /* worker 0 talks to the peers for all */
    if (c->routes_listen[0]) {
        wp_kvev_pub_config_t pc;
        wp_kvev_pub_config_default(&pc);
        pc.enabled = true;
        snprintf(pc.endpoint, sizeof(pc.endpoint), "%s", c->routes_listen);
        snprintf(pc.topic, sizeof(pc.topic), ROUTES_TOPIC);
        pc.buffer_steps = 1;
        pc.always_bind = true; /* a listen address, whatever its host */
        if (zctx(gw, err) == NULL ||
            (gw->routes_pub = wp_kvev_pub_new(gw->loop, gw->zctx, &pc, err)) == NULL)
            return wp_err_set(err, WP_EINVAL, "gateway.routesListen '%s': %s", c->routes_listen,
                              err->msg);
    }
    for (int i = 0; i < c->n_route_peers; i++) {
        wp_status_t st = wp_gateway_add_route_peer(gw, c->route_peers[i], err);
        if (st != WP_OK)
            return st;
    }
    return WP_OK;
}

void wp__gw_routes_close(wp_gateway_t *gw)
{
    if (gw->routes_pub)
        wp_kvev_pub_close(gw->routes_pub);
    gw->routes_pub = NULL;
    for (int i = 0; i < gw->n_route_subs; i++)
        wp_kvev_sub_close(gw->route_subs[i]);
    gw->n_route_subs = 0;
}

void wp__gw_routes_publish(wp_gateway_t *gw, const gw_endpoint_t *ep, const wp_sched_pick_t *pick)
{
    if (gw->routes_pub == NULL || pick->n_blocks == 0)
        return;
    wp_kvev_event_t ev = {.type = WP_KVEV_STORED,
                          .hashes = pick->block_hashes,
                          .n_hashes = pick->n_blocks,
                          .block_size = (int32_t)gw->cfg.sched.block_chars,
                          .medium = WP_KVEV_MEDIUM_OTHER,
                          .medium_name = ep->cfg.name};
    wp_kvev_batch_t b = {
        .ts = (double)uv_now(gw->loop) / 1000.0, .events = &ev, .n_events = 1, .dp_rank = -1};
    wp_err_t err;
    if (wp_kvev_pub_send(gw->routes_pub, &b, &err) == WP_OK)
        gw->tally.routes_sent++;
}

static void on_route(void *ud, const wp_kvev_batch_t *b, uint64_t seq)
{
    wp_gateway_t *gw = ud;
    (void)seq;
    const gw_pool_t *pool = gw->pool;
    for (size_t e = 0; pool != NULL && e < b->n_events; e++) {
        const wp_kvev_event_t *ev = &b->events[e];
        if (ev->type != WP_KVEV_STORED || ev->medium_name == NULL)
            continue;
        for (int i = 0; i < pool->n_eps; i++) {
            if (strcmp(pool->eps[i].cfg.name, ev->medium_name) != 0)
                continue;
            wp_sched_learn_route(pool->sched, pool->eps[i].index, ev->hashes, ev->n_hashes);
            wp__gw_workers_route(gw, &pool->eps[i], ev->hashes, ev->n_hashes);
            gw->tally.routes_learned++;
            break;
        }
    }
}

static void on_route_resync(void *ud, const char *why)
{
    (void)ud;
    wp_log(WP_LOG_DEBUG, "routes: a peer's routes were lost", "reason=\"%s\"", why);
}

wp_status_t wp_gateway_add_route_peer(wp_gateway_t *gw, const char *addr, wp_err_t *err)
{
    if (gw->n_route_subs >= WP_GATEWAY_MAX_ROUTE_PEERS)
        return wp_err_set(err, WP_ELIMIT, "routes: more than %d peers", WP_GATEWAY_MAX_ROUTE_PEERS);
    static const wp_kvev_sub_cb_t cb = {on_route, on_route_resync};
    wp_kvev_sub_t *s = zctx(gw, err) == NULL ? NULL
                                             : wp_kvev_sub_new(gw->loop, gw->zctx, addr, NULL,
                                                               ROUTES_TOPIC, &cb, gw, err);
    if (s == NULL)
        return wp_err_set(err, WP_EINVAL, "routes peer '%s': %s", addr, err->msg);
    gw->route_subs[gw->n_route_subs++] = s;
    return WP_OK;
}

const char *wp_gateway_routes_endpoint(const wp_gateway_t *gw)
{
    return gw->routes_pub ? wp_kvev_pub_endpoint(gw->routes_pub) : "";
}
