/*
 * gateway/workers_ask: requests that wait for the other workers (gateway.workers > 1). GET
 * /metrics and GET /status ask every other worker for its request counters (a snapshot taken
 * on its own loop) and are answered, with them added to this worker's, once all came; an admin
 * reload on a worker other than 0 is run by worker 0 and answered with what it said. A client
 * that goes away meanwhile is let go; the answers still come and are dropped. See workers.c.
 */
#include "gateway/workers_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"

/* ---- requests that wait for the other workers ---- */

static void pending_unlink(pending_t *p)
{
    for (pending_t **l = &p->w->pending; *l != NULL; l = &(*l)->next) {
        if (*l == p) {
            *l = p->next;
            return;
        }
    }
}

static void pending_free(pending_t *p)
{
    if (p->req != NULL) {
        p->req->on_abort = NULL;
        wp_http_res_error(p->req, 503, "the gateway is shutting down", NULL);
    }
    for (int i = 0; i < p->n_snaps; i++)
        wp__gw_hub_snap_free(p->snaps[i]);
    free(p);
}

static void on_pending_abort(wp_http_req_t *req)
{
    pending_t *p = req->user;
    p->req = NULL;
    wp_http_res_end(req);
}

static pending_t *pending_new(hub_worker_t *w, wp_http_req_t *req, ask_t ask, int waiting)
{
    pending_t *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        wp_http_res_error(req, 503, "out of memory", NULL);
        return NULL;
    }
    *p = (pending_t){.next = w->pending, .w = w, .req = req, .ask = ask, .waiting = waiting};
    w->pending = p;
    req->user = p;
    req->on_abort = on_pending_abort;
    return p;
}

/* This worker's counters, for another's answer. */
static snap_t *snap_take(wp_gateway_t *gw)
{
    snap_t *s = calloc(1, sizeof(*s));
    int n = gw->pool->n_eps;
    if (s == NULL)
        return NULL;
    s->names = calloc((size_t)(n ? n : 1), sizeof(*s->names));
    s->counts = calloc((size_t)(n ? n : 1), sizeof(*s->counts));
    if (s->names == NULL || s->counts == NULL || wp__gw_tally_init(&s->tally) != WP_OK) {
        wp__gw_hub_snap_free(s);
        return NULL;
    }
    wp__gw_tally_add(&s->tally, &gw->tally);
    s->tally.queued = wp__gw_queued(gw);
    s->tally.held = wp__gw_wake_held(gw);
    for (int k = 0; k < WP_SCHED_SHED_KINDS; k++)
        s->tally.shed[k] = wp__gw_shed(gw, k);
    for (int i = 0; i < n; i++) {
        wp_strlcpy(s->names[i], gw->pool->eps[i].cfg.name, sizeof(s->names[i]));
        s->counts[i] = gw->pool->eps[i].counts;
        s->counts[i].connections =
            (uint64_t)wp_http_upstream_open_connections(wp__gw_ep_upstream(&gw->pool->eps[i]));
    }
    s->n = n;
    return s;
}

/* Answers req with every worker's counters added to this one's: they are added in place for
 * the writing, then put back as they were (out of memory: this worker's alone). */
static void answer_summed(wp_gateway_t *gw, pending_t *p, wp_http_req_t *req)
{
    gw_pool_t *pool = gw->pool;
    gw_tally_t own = gw->tally, sum;
    gw_ep_counts_t *saved = malloc(sizeof(*saved) * (size_t)(pool->n_eps ? pool->n_eps : 1));
    if (saved == NULL || wp__gw_tally_init(&sum) != WP_OK) {
        free(saved);
        wp__gw_answer_counters(gw, req, p->ask == ASK_STATUS);
        return;
    }
    wp__gw_tally_add(&sum, &own);
    for (int i = 0; i < pool->n_eps; i++)
        saved[i] = pool->eps[i].counts;
    for (int k = 0; k < p->n_snaps; k++) {
        const snap_t *s = p->snaps[k];
        wp__gw_tally_add(&sum, &s->tally);
        for (int i = 0; i < s->n; i++) {
            gw_endpoint_t *ep = wp__gw_hub_find(gw, s->names[i], i);
            if (ep != NULL)
                wp__gw_counts_add(&ep->counts, &s->counts[i]);
        }
    }
    gw->tally = sum;
    wp__gw_answer_counters(gw, req, p->ask == ASK_STATUS);
    gw->tally = own;
    wp__gw_tally_free(&sum);
    for (int i = 0; i < pool->n_eps; i++)
        pool->eps[i].counts = saved[i];
    free(saved);
}

static void pending_answer(pending_t *p)
{
    pending_unlink(p);
    wp_http_req_t *req = p->req;
    p->req = NULL;
    if (req != NULL) {
        req->on_abort = NULL;
        answer_summed(p->w->gw, p, req);
    }
    pending_free(p);
}

bool wp__gw_workers_summed(wp_gateway_t *gw, wp_http_req_t *req, bool status)
{
    if (gw->hub == NULL)
        return false;
    hub_worker_t *w = wp__gw_hub_me(gw);
    pending_t *p = pending_new(w, req, status ? ASK_STATUS : ASK_METRICS, 0);
    if (p == NULL)
        return true;
    hub_msg_t m = {.kind = HUB_SNAP_ASK, .ref = p};
    p->waiting = wp__gw_hub_broadcast(w, &m, 0);
    if (p->waiting == 0) /* none reached: this worker's counters alone */
        pending_answer(p);
    return true;
}

bool wp__gw_workers_admin(wp_gateway_t *gw, wp_http_req_t *req, bool drain)
{
    if (gw->hub == NULL || gw->worker == 0)
        return false;
    hub_worker_t *w = wp__gw_hub_me(gw);
    hub_msg_t m = {.kind = HUB_ADMIN, .a = drain};
    if (drain) {
        wp__gw_hub_post(w, 0, &m);
        return false; /* answered here, as worker 0 would */
    }
    pending_t *p = pending_new(w, req, ASK_RELOAD, 1);
    if (p == NULL)
        return true;
    m.ref = p;
    if (!wp__gw_hub_post(w, 0, &m)) {
        pending_unlink(p);
        p->req->on_abort = NULL;
        wp__gw_admin_answer(p->req, 503, "out of memory relaying the reload to worker 0");
        p->req = NULL;
        pending_free(p);
    }
    return true;
}

void wp__gw_hub_snap_answer(hub_worker_t *w, const hub_msg_t *m)
{
    hub_msg_t r = {.kind = HUB_SNAP, .ref = m->ref, .payload = snap_take(w->gw)};
    wp__gw_hub_post(w, m->from, &r); /* no memory: the asker counts it in with nothing */
}

void wp__gw_hub_snap_take(hub_msg_t *m)
{
    pending_t *p = m->ref;
    if (m->payload != NULL)
        p->snaps[p->n_snaps++] = m->payload;
    m->payload = NULL; /* the pending request's now */
    if (--p->waiting == 0)
        pending_answer(p);
}

void wp__gw_hub_admin_run(hub_worker_t *w, const hub_msg_t *m)
{
    wp_gateway_t *gw = w->gw;
    if (m->a) {
        if (gw->admin.drain != NULL)
            gw->admin.drain(gw->admin.ud);
        return;
    }
    wp_err_t err = {{0}};
    hub_msg_t r = {.kind = HUB_ADMIN_DONE, .ref = m->ref, .a = 200};
    if (gw->admin.reload == NULL) {
        r.a = 501;
        snprintf(err.msg, sizeof(err.msg), "not available for this command");
    } else if (gw->admin.reload(gw->admin.ud, &err) != WP_OK) {
        r.a = 400;
    } else {
        snprintf(err.msg, sizeof(err.msg), "reloaded");
    }
    r.payload = strdup(err.msg);
    wp__gw_hub_post(w, m->from, &r);
}

void wp__gw_hub_admin_done(hub_msg_t *m)
{
    pending_t *p = m->ref;
    pending_unlink(p);
    if (p->req != NULL) {
        p->req->on_abort = NULL;
        wp__gw_admin_answer(p->req, m->a, m->payload ? m->payload : "out of memory");
        p->req = NULL;
    }
    pending_free(p);
}

void wp__gw_hub_pending_end(hub_worker_t *w)
{
    while (w->pending != NULL) {
        pending_t *p = w->pending;
        w->pending = p->next;
        pending_free(p);
    }
}
