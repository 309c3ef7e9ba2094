/*
 * gateway/workers: gateway.workers: N event loops, on N threads, serving one listen address
 * and sharing one view of the pool.
 *
 * Each worker is a gateway of its own (wp_gateway_t: its loop, its server, its upstream
 * connections, its generations with their scheduler), bound to the same address with
 * SO_REUSEPORT: the kernel spreads client connections over the workers, and a request is
 * served from its first byte to its last on the worker that accepted its connection, with no
 * lock. What one worker learns or does that the others' decisions read reaches them as
 * messages (mailbox.h), handed over once per iteration of its loop:
 *
 *   - a request's events on an endpoint (dispatch, with the prompt's block chain; prefill
 *     done; completion): every other worker applies them to its own scheduler, so that each
 *     scheduler's in-flight counts, tokens, active blocks and prefix index are the pool's, not
 *     its worker's share (ep->peer_in_flight keeps a worker from completing what it never
 *     counted, across reloads);
 *   - the checks: worker 0 alone scrapes and checks the pool (its checks' thread); every
 *     worker applies each result, and each scrape sent, with the same code (checks.c);
 *   - outlier detection's verdict on each proxied request: applied by every worker, so that
 *     all eject the same endpoint at the same failure;
 *   - reloads and drains, which the process starts on worker 0 (the caller's loop), and the
 *     discovery sources it reports: applied by all; the admin API of the others is relayed
 *     to worker 0;
 *   - /metrics and /status: the worker that answers asks the others for their request
 *     counters (gw_tally_t, each endpoint's gw_ep_counts_t) and adds them to its own; the
 *     pool's state is the same on every worker.
 *
 * The lag: a worker sees another's event at its next loop iteration (microseconds under
 * load), so two workers may pick the same endpoint in the same instant where one loop would
 * have spread the two requests; `make bench-workers` measures what that does to routing.
 * Costs: each worker applies every request's dispatch to its own prefix index (N inserts of
 * the chain where one loop makes one), and holds the whole index (N times its memory).
 *
 * Threads: worker 0 is the caller's; workers 1..N-1 run on threads started here, each with its
 * own loop, and touch only their own gateway. The hub (the array of workers, their mailboxes)
 * is set up before the threads start and torn down after they are joined.
 */
#include "gateway/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "base/log.h"
#include "base/str.h"
#include "gateway/mailbox.h"
#include "gateway/prober.h"

typedef enum {
    HUB_LOAD,        /* a request's event on endpoint `name` (a: gw_load_t), to all */
    HUB_SCRAPE_SENT, /* worker 0 sent `name` a scrape, to all */
    HUB_CHECK,       /* worker 0's check result (a: gw_check_kind_t; payload), to all */
    HUB_OUTLIER,     /* a proxied request's verdict on `name` (a: fault), to all */
    HUB_HEALTH_NOW,  /* to worker 0: check `name`'s health now */
    HUB_RELOAD,      /* worker 0's new config (payload), to all */
    HUB_SOURCES,     /* worker 0's discovery sources (payload, a of them), to all */
    HUB_DRAIN,       /* worker 0 drains: so does the receiver */
    HUB_DRAINED,     /* to worker 0: the sender has drained (a: connections cut) */
    HUB_SNAP_ASK,    /* the sender's gather (ref) asks for the receiver's counters */
    HUB_SNAP,        /* ... and gets them (payload: a snap_t) */
    HUB_ADMIN,       /* to worker 0: run admin op a (relay ref) */
    HUB_ADMIN_DONE,  /* its answer: a = HTTP status, payload = the message */
} hub_kind_t;

typedef struct hub_msg_s {
    hub_kind_t kind;
    int from;
    int a;
    int index; /* the endpoint's index in the sender's current generation (the receiver's
                  too, while both run the same config: found at once), -1: none */
    char name[64];
    /* HUB_LOAD: the pick's numbers (payload: its block chain, n_blocks hashes) */
    uint32_t n_blocks;
    double prompt_tokens, prefill_tokens;
    void *payload; /* owned (freed by drop_msg) */
    void *ref;     /* the sender's, sent back as it came */
} hub_msg_t;

/* One worker's counters, for another's /metrics or /status. */
typedef struct snap_s {
    gw_tally_t tally;
    int n;
    char (*names)[64];
    gw_ep_counts_t *counts;
} snap_t;

struct hub_worker_s;

/* A request waiting for the other workers: /metrics or /status for their counters, or an
 * admin reload relayed to worker 0. */
typedef enum { ASK_METRICS, ASK_STATUS, ASK_RELOAD } ask_t;

typedef struct pending_s {
    struct pending_s *next;
    struct hub_worker_s *w;
    wp_http_req_t *req; /* NULL once the client went away */
    ask_t ask;
    int waiting;
    snap_t *snaps[WP_GATEWAY_MAX_WORKERS];
    int n_snaps;
} pending_t;

typedef struct hub_worker_s {
    struct gw_hub_s *hub;
    int index;
    wp_gateway_t *gw;
    uv_loop_t own_loop; /* workers 1..N-1 */
    uv_loop_t *loop;
    uv_thread_t thread;
    bool running; /* its thread is started (workers 1..N-1) */
    wp_gw_mailbox_t box;
    bool box_ok;
    wp_gw_outbox_t *out; /* out[j]: to worker j (not to itself); on its loop */
    bool out_ok;
    pending_t *pending;
    wp_status_t start_st;
    char start_err[sizeof(((wp_err_t *)0)->msg)];
} hub_worker_t;

typedef struct gw_hub_s {
    int n;
    hub_worker_t *w;
    wp_gateway_config_t *cfg; /* the others' start config */
    uv_sem_t ready;
    /* worker 0's drain: the caller's callback once every worker has drained */
    wp_gateway_drained_fn on_drained;
    void *drained_ud;
    int drain_left, drain_cut;
    int closing; /* worker 0's handles still closing at the end: the hub goes with the last */
} gw_hub_t;

static hub_worker_t *me(const wp_gateway_t *gw)
{
    return &gw->hub->w[gw->worker];
}

/* ---- messages ---- */

static void snap_free(snap_t *s)
{
    if (s == NULL)
        return;
    wp__gw_tally_free(&s->tally);
    free(s->names);
    free(s->counts);
    free(s);
}

static void drop_msg(void *msg)
{
    hub_msg_t *m = msg;
    if (m->kind == HUB_SNAP)
        snap_free(m->payload);
    else
        free(m->payload);
    m->payload = NULL;
}

static void *dup_bytes(const void *p, size_t n)
{
    void *d = n ? malloc(n) : NULL;
    if (d != NULL)
        memcpy(d, p, n);
    return d;
}

/* Sends m (its payload with it) to worker `to`; out of memory, it is dropped. */
static bool post(hub_worker_t *w, int to, hub_msg_t *m)
{
    m->from = w->index;
    if (wp_gw_outbox_add(&w->out[to], m))
        return true;
    drop_msg(m);
    return false;
}

/* Sends a copy of m, with a copy of its payload (len bytes), to every other worker; m's own
 * payload stays the caller's. Returns how many it reached (no memory: a worker misses it; a
 * message that asks for an answer then waits for that many). */
static int broadcast(hub_worker_t *w, const hub_msg_t *m, size_t len)
{
    int reached = 0;
    for (int j = 0; j < w->hub->n; j++) {
        if (j == w->index)
            continue;
        hub_msg_t c = *m;
        c.payload = m->payload ? dup_bytes(m->payload, len) : NULL;
        if (m->payload != NULL && c.payload == NULL)
            continue;
        reached += post(w, j, &c);
    }
    return reached;
}

static hub_msg_t named(hub_kind_t kind, const gw_endpoint_t *ep, int a)
{
    hub_msg_t m = {.kind = kind, .a = a, .index = ep->index};
    wp_strlcpy(m.name, ep->cfg.name, sizeof(m.name));
    return m;
}

/* The current generation's endpoint of that name; at index when it is there (-1: look). */
static gw_endpoint_t *find(wp_gateway_t *gw, const char *name, int index)
{
    gw_pool_t *pool = gw->pool;
    if (pool != NULL && index >= 0 && index < pool->n_eps &&
        strcmp(pool->eps[index].cfg.name, name) == 0)
        return &pool->eps[index];
    for (int i = 0; pool != NULL && i < pool->n_eps; i++) {
        if (strcmp(pool->eps[i].cfg.name, name) == 0)
            return &pool->eps[i];
    }
    return NULL;
}

/* ---- what one worker tells the others (called by the other files) ---- */

void wp__gw_workers_load(wp_gateway_t *gw, const gw_endpoint_t *ep, const wp_sched_pick_t *pick,
                         gw_load_t what)
{
    if (gw->hub == NULL)
        return;
    hub_msg_t m = named(HUB_LOAD, ep, (int)what);
    m.prompt_tokens = pick->prompt_tokens;
    m.prefill_tokens = pick->prefill_tokens;
    /* the chain: for the index and active blocks at a dispatch, for active blocks alone at a
     * completion */
    bool chain =
        what == GW_LOAD_SENT || (what == GW_LOAD_DONE && wp_sched_reads_active(ep->pool->sched));
    if (chain && pick->n_blocks > 0) {
        m.n_blocks = pick->n_blocks;
        m.payload = (void *)pick->block_hashes;
    }
    broadcast(me(gw), &m, (size_t)m.n_blocks * sizeof(uint64_t));
}

void wp__gw_workers_scrape_sent(wp_gateway_t *gw, const gw_endpoint_t *ep)
{
    if (gw->hub == NULL)
        return;
    hub_msg_t m = named(HUB_SCRAPE_SENT, ep, 0);
    broadcast(me(gw), &m, 0);
}

void wp__gw_workers_check(wp_gateway_t *gw, const gw_endpoint_t *ep, gw_check_kind_t kind,
                          const wp_gw_probe_result_t *res)
{
    if (gw->hub == NULL)
        return;
    /* one block: the result, then its body */
    size_t len = sizeof(*res) + (res->body ? res->body_len + 1 : 0);
    wp_gw_probe_result_t *copy = malloc(len);
    if (copy == NULL)
        return;
    *copy = *res;
    if (res->body != NULL) {
        memcpy(copy + 1, res->body, res->body_len + 1);
        copy->body = NULL; /* pointed again by the receiver: the copy moves */
    }
    hub_msg_t m = named(HUB_CHECK, ep, (int)kind);
    m.payload = copy;
    broadcast(me(gw), &m, len);
    free(copy);
}

void wp__gw_workers_outlier(wp_gateway_t *gw, const gw_endpoint_t *ep, bool fault)
{
    if (gw->hub == NULL)
        return;
    hub_msg_t m = named(HUB_OUTLIER, ep, fault);
    broadcast(me(gw), &m, 0);
}

bool wp__gw_workers_sync(wp_gateway_t *gw)
{
    return gw->hub != NULL && wp_gw_mailbox_poll(&me(gw)->box);
}

bool wp__gw_workers_health_now(wp_gateway_t *gw, const gw_endpoint_t *ep)
{
    if (gw->hub == NULL || gw->worker == 0)
        return false;
    hub_msg_t m = named(HUB_HEALTH_NOW, ep, 0);
    post(me(gw), 0, &m);
    return true;
}

void wp__gw_workers_reload(wp_gateway_t *gw, const wp_gateway_config_t *cfg)
{
    if (gw->hub == NULL || gw->worker != 0)
        return;
    hub_msg_t m = {.kind = HUB_RELOAD, .payload = (void *)cfg};
    broadcast(me(gw), &m, sizeof(*cfg));
}

void wp__gw_workers_sources(wp_gateway_t *gw)
{
    if (gw->hub == NULL || gw->worker != 0)
        return;
    hub_msg_t m = {.kind = HUB_SOURCES, .a = gw->n_sources, .payload = gw->sources};
    broadcast(me(gw), &m, sizeof(gw->sources));
}

/* ---- drain: every worker, then the caller's callback ---- */

static void drained_one(wp_gateway_t *gw0, int cut)
{
    gw_hub_t *hub = gw0->hub;
    hub->drain_cut += cut;
    if (--hub->drain_left > 0)
        return;
    wp_gateway_drained_fn fn = hub->on_drained;
    hub->on_drained = NULL;
    if (fn != NULL)
        fn(hub->drained_ud, hub->drain_cut); /* may free the gateway */
}

static void on_local_drained(void *ud, int cut)
{
    wp_gateway_t *gw = ud;
    if (gw->worker == 0) {
        drained_one(gw, cut);
        return;
    }
    hub_msg_t m = {.kind = HUB_DRAINED, .a = cut};
    post(me(gw), 0, &m);
}

bool wp__gw_workers_drain(wp_gateway_t *gw, wp_gateway_drained_fn fn, void *ud)
{
    if (gw->hub == NULL || gw->worker != 0)
        return false;
    gw_hub_t *hub = gw->hub;
    hub->on_drained = fn;
    hub->drained_ud = ud;
    hub->drain_cut = 0;
    hub_msg_t m = {.kind = HUB_DRAIN};
    hub->drain_left = 1 + broadcast(me(gw), &m, 0); /* itself and the workers told */
    wp__gw_drain_local(gw, on_local_drained, gw);
    return true;
}

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
        snap_free(p->snaps[i]);
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
        snap_free(s);
        return NULL;
    }
    wp__gw_tally_add(&s->tally, &gw->tally);
    s->tally.queued = wp__gw_queued(gw);
    for (int k = 0; k < WP_SCHED_SHED_KINDS; k++)
        s->tally.shed[k] = wp__gw_shed(gw, k);
    for (int i = 0; i < n; i++) {
        wp_strlcpy(s->names[i], gw->pool->eps[i].cfg.name, sizeof(s->names[i]));
        s->counts[i] = gw->pool->eps[i].counts;
    }
    s->n = n;
    return s;
}

/* Writes the answer with every worker's counters added to this one's: they are added in place
 * for the writing, then put back as they were. */
static void write_summed(wp_gateway_t *gw, pending_t *p, wp_buf_t *b)
{
    gw_pool_t *pool = gw->pool;
    gw_tally_t own = gw->tally, sum;
    gw_ep_counts_t *saved = malloc(sizeof(*saved) * (size_t)(pool->n_eps ? pool->n_eps : 1));
    if (saved == NULL || wp__gw_tally_init(&sum) != WP_OK) {
        free(saved);
        return;
    }
    wp__gw_tally_add(&sum, &own);
    for (int i = 0; i < pool->n_eps; i++)
        saved[i] = pool->eps[i].counts;
    for (int k = 0; k < p->n_snaps; k++) {
        const snap_t *s = p->snaps[k];
        wp__gw_tally_add(&sum, &s->tally);
        for (int i = 0; i < s->n; i++) {
            gw_endpoint_t *ep = find(gw, s->names[i], i);
            if (ep != NULL)
                wp__gw_counts_add(&ep->counts, &s->counts[i]);
        }
    }
    gw->tally = sum;
    if (p->ask == ASK_METRICS)
        wp__gw_metrics_write(gw, b);
    else
        wp__gw_status_write_json(gw, b);
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
        wp_buf_t b;
        wp_buf_init(&b, 0);
        write_summed(p->w->gw, p, &b);
        if (p->ask == ASK_METRICS)
            wp_http_res_send(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len,
                             NULL);
        else
            wp_http_res_send(req, 200, "application/json", b.data, b.len,
                             "Cache-Control: no-store\r\n");
        wp_buf_free(&b);
    }
    pending_free(p);
}

bool wp__gw_workers_summed(wp_gateway_t *gw, wp_http_req_t *req, bool status)
{
    if (gw->hub == NULL)
        return false;
    hub_worker_t *w = me(gw);
    pending_t *p = pending_new(w, req, status ? ASK_STATUS : ASK_METRICS, 0);
    if (p == NULL)
        return true;
    hub_msg_t m = {.kind = HUB_SNAP_ASK, .ref = p};
    p->waiting = broadcast(w, &m, 0);
    if (p->waiting == 0) /* none reached: this worker's counters alone */
        pending_answer(p);
    return true;
}

bool wp__gw_workers_admin(wp_gateway_t *gw, wp_http_req_t *req, bool drain)
{
    if (gw->hub == NULL || gw->worker == 0)
        return false;
    hub_worker_t *w = me(gw);
    hub_msg_t m = {.kind = HUB_ADMIN, .a = drain};
    if (drain) {
        post(w, 0, &m);
        return false; /* answered here, as worker 0 would */
    }
    pending_t *p = pending_new(w, req, ASK_RELOAD, 1);
    if (p == NULL)
        return true;
    m.ref = p;
    if (!post(w, 0, &m)) {
        pending_unlink(p);
        p->req->on_abort = NULL;
        wp__gw_admin_answer(p->req, 503, "out of memory relaying the reload to worker 0");
        p->req = NULL;
        pending_free(p);
    }
    return true;
}

/* ---- what a worker does with the others' messages ---- */

/* A peer's request event on ep: this scheduler counts it as its own would. */
static bool apply_load(wp_gateway_t *gw, gw_endpoint_t *ep, const hub_msg_t *m)
{
    wp_sched_pick_t pick = {.endpoint = ep->index,
                            .n_blocks = m->n_blocks,
                            .block_hashes = m->payload,
                            .prompt_tokens = m->prompt_tokens,
                            .prefill_tokens = m->prefill_tokens};
    wp_sched_t *s = ep->pool->sched;
    switch ((gw_load_t)m->a) {
    case GW_LOAD_SENT:
        ep->peer_in_flight++;
        ep->peer_prefilling++;
        wp_sched_on_dispatch(s, &pick);
        /* the role it was picked for: a prefill endpoint's, else the pool's (proxy.c, pd.c) */
        wp_sched_follow(s, ep->index,
                        ep->cfg.role == WP_SCHED_ROLE_PREFILL ? WP_SCHED_ROLE_PREFILL
                                                              : gw_pool_role(ep->pool));
        return false;
    case GW_LOAD_PREFILLED:
        if (ep->peer_prefilling == 0)
            return false;
        ep->peer_prefilling--;
        wp_sched_on_prefill_done(s, &pick);
        return true;
    case GW_LOAD_DONE:
        if (ep->peer_in_flight == 0)
            return false;
        ep->peer_in_flight--;
        wp_sched_on_complete(s, &pick);
        return true;
    }
    return false;
}

static void apply_check(wp_gateway_t *gw, gw_endpoint_t *ep, hub_msg_t *m)
{
    wp_gw_probe_result_t *res = m->payload;
    if (res == NULL)
        return;
    if (m->a == GW_CHECK_MODELS && res->body_len > 0)
        res->body = (const char *)(res + 1);
    wp__gw_checks_apply(gw, ep, (gw_check_kind_t)m->a, res);
}

static void answer_snap_ask(hub_worker_t *w, const hub_msg_t *m)
{
    hub_msg_t r = {.kind = HUB_SNAP, .ref = m->ref, .payload = snap_take(w->gw)};
    post(w, m->from, &r); /* no memory: the asker counts it in with nothing */
}

static void take_snap(hub_msg_t *m)
{
    pending_t *p = m->ref;
    if (m->payload != NULL)
        p->snaps[p->n_snaps++] = m->payload;
    m->payload = NULL; /* the pending request's now */
    if (--p->waiting == 0)
        pending_answer(p);
}

static void run_admin(hub_worker_t *w, const hub_msg_t *m)
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
    post(w, m->from, &r);
}

static void admin_done(hub_msg_t *m)
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

/* One message; true when it may have made room on an endpoint. */
static bool handle(hub_worker_t *w, hub_msg_t *m)
{
    wp_gateway_t *gw = w->gw;
    gw_endpoint_t *ep = m->name[0] ? find(gw, m->name, m->index) : NULL;
    switch (m->kind) {
    case HUB_LOAD:
        return ep != NULL && apply_load(gw, ep, m);
    case HUB_SCRAPE_SENT:
        if (ep != NULL)
            wp_sched_endpoint_scrape_sent(ep->pool->sched, ep->index);
        return false;
    case HUB_CHECK:
        if (ep != NULL)
            apply_check(gw, ep, m);
        return true;
    case HUB_OUTLIER:
        if (ep != NULL)
            wp__gw_outlier_apply(gw, ep, m->a != 0, false);
        return true;
    case HUB_HEALTH_NOW:
        if (ep != NULL)
            wp__gw_checks_health_now(gw, ep);
        return false;
    case HUB_RELOAD: {
        wp_err_t err;
        if (m->payload != NULL && wp_gateway_reload(gw, m->payload, &err) != WP_OK)
            wp_log(WP_LOG_ERROR, "worker: reload failed, this worker keeps the last config",
                   "worker=%d why=\"%s\"", w->index, err.msg);
        return true;
    }
    case HUB_SOURCES:
        if (m->payload != NULL)
            wp_gateway_set_sources(gw, m->payload, m->a);
        return false;
    case HUB_DRAIN:
        wp__gw_drain_local(gw, on_local_drained, gw);
        return false;
    case HUB_DRAINED: /* counted by on_mail, last: the caller's callback may free gw */
        return false;
    case HUB_SNAP_ASK:
        answer_snap_ask(w, m);
        return false;
    case HUB_SNAP:
        take_snap(m);
        return false;
    case HUB_ADMIN:
        run_admin(w, m);
        return false;
    case HUB_ADMIN_DONE:
        admin_done(m);
        return false;
    }
    return false;
}

static void worker_stop(hub_worker_t *w);

static void on_mail(void *ud, void *msgs, size_t n, bool stop)
{
    hub_worker_t *w = ud;
    hub_msg_t *m = msgs;
    bool room = false;
    int drained = 0, cut = 0;
    bool live = !stop && w->gw != NULL && !w->gw->stopping; /* NULL: it failed to start */
    for (size_t i = 0; i < n; i++) {
        if (live) {
            room |= handle(w, &m[i]);
            drained += m[i].kind == HUB_DRAINED;
            cut += m[i].kind == HUB_DRAINED ? m[i].a : 0;
        }
        drop_msg(&m[i]);
    }
    if (stop) {
        worker_stop(w);
        return;
    }
    if (room && live)
        wp__gw_flow_drain(w->gw);     /* an endpoint may have room now */
    for (int i = 0; i < drained; i++) /* the last may free the gateway and this mailbox */
        drained_one(w->gw, i == drained - 1 ? cut : 0);
}

/* ---- the workers' threads ---- */

/* Ends the pending requests and closes the outboxes; closed(ud) once for each outbox. */
static void close_links(hub_worker_t *w, void (*closed)(void *ud), void *ud)
{
    while (w->pending != NULL) {
        pending_t *p = w->pending;
        w->pending = p->next;
        pending_free(p);
    }
    for (int j = 0; w->out_ok && j < w->hub->n; j++) {
        if (j != w->index)
            wp_gw_outbox_close(&w->out[j], closed, ud);
    }
    w->out_ok = false;
}

static void open_links(hub_worker_t *w)
{
    for (int j = 0; j < w->hub->n; j++) {
        if (j != w->index)
            wp_gw_outbox_init(&w->out[j], w->loop, &w->hub->w[j].box);
    }
    w->out_ok = true;
}

/* Workers 1..N-1, told to stop: the gateway is freed and the links closed; the loop then
 * ends and the thread with it. */
static void worker_stop(hub_worker_t *w)
{
    if (w->gw != NULL)
        wp_gateway_free(w->gw);
    w->gw = NULL;
    close_links(w, NULL, NULL);
    wp_gw_mailbox_close(&w->box, NULL, NULL);
}

static void worker_main(void *arg)
{
    hub_worker_t *w = arg;
    char name[16];
    snprintf(name, sizeof(name), "wp-worker-%d", w->index);
    prctl(PR_SET_NAME, name);
    wp_err_t err = {{0}};
    w->gw = wp__gw_new_worker(w->loop, w->hub->cfg, w->hub, w->index, &err);
    w->start_st = w->gw == NULL ? WP_EINVAL : wp_gateway_start(w->gw, &err);
    if (w->start_st == WP_OK)
        open_links(w);
    else
        wp_strlcpy(w->start_err, err.msg, sizeof(w->start_err));
    bool ok = w->start_st == WP_OK;
    if (!ok) {
        /* Its mailbox stays open (others may still post to it) but does not keep the loop
         * alive; wp__gw_workers_stop closes it once every other worker is joined. */
        uv_unref((uv_handle_t *)&w->box.async);
        if (w->gw != NULL)
            wp_gateway_free(w->gw);
        w->gw = NULL;
    }
    uv_sem_post(&w->hub->ready);
    uv_run(w->loop, UV_RUN_DEFAULT);
}

static void hub_free(gw_hub_t *hub)
{
    for (int i = 0; i < hub->n; i++)
        free(hub->w[i].out);
    free(hub->w);
    free(hub->cfg);
    uv_sem_destroy(&hub->ready);
    free(hub);
}

/* One of worker 0's handles is closed: the hub goes with the last. */
static void on_hub_part_closed(void *ud)
{
    gw_hub_t *hub = ud;
    if (--hub->closing == 0)
        hub_free(hub);
}

void wp__gw_workers_stop(wp_gateway_t *gw)
{
    if (gw->hub == NULL || gw->worker != 0)
        return;
    gw_hub_t *hub = gw->hub;
    for (int i = 1; i < hub->n; i++) {
        if (hub->w[i].running && hub->w[i].start_st == WP_OK)
            wp_gw_mailbox_stop(&hub->w[i].box);
    }
    for (int i = 1; i < hub->n; i++) {
        if (hub->w[i].running)
            uv_thread_join(&hub->w[i].thread);
    }
    for (int i = 1; i < hub->n; i++) {
        hub_worker_t *w = &hub->w[i];
        bool closed = w->running && w->start_st == WP_OK; /* by its thread (worker_stop) */
        if (w->box_ok && !closed) {
            wp_gw_mailbox_close(&w->box, NULL, NULL);
            uv_run(w->loop, UV_RUN_DEFAULT);
        }
        if (w->box_ok)
            wp_gw_mailbox_free(&w->box);
        if (w->loop != NULL && uv_loop_close(w->loop) != 0)
            wp_log(WP_LOG_ERROR, "worker: loop left with open handles", "worker=%d", i);
    }
    hub_worker_t *w0 = &hub->w[0];
    gw->hub = NULL;
    hub->closing = (w0->out_ok ? hub->n - 1 : 0) + (w0->box_ok ? 1 : 0);
    if (hub->closing == 0) {
        hub_free(hub);
        return;
    }
    close_links(w0, on_hub_part_closed, hub);
    if (w0->box_ok) {
        wp_gw_mailbox_free(&w0->box);
        wp_gw_mailbox_close(&w0->box, on_hub_part_closed, hub);
    }
}

static wp_status_t hub_fail(wp_gateway_t *gw, wp_err_t *err, int i, const char *what, int rc)
{
    wp__gw_workers_stop(gw);
    return wp_err_set(err, WP_EIO, "gateway.workers: worker %d: %s: %s", i, what, uv_strerror(rc));
}

static gw_hub_t *hub_new(wp_gateway_t *gw)
{
    gw_hub_t *hub = calloc(1, sizeof(*hub));
    if (hub == NULL)
        return NULL;
    hub->n = gw->cfg.workers;
    hub->w = calloc((size_t)hub->n, sizeof(*hub->w));
    hub->cfg = malloc(sizeof(*hub->cfg));
    bool ok = hub->w != NULL && hub->cfg != NULL;
    for (int i = 0; ok && i < hub->n; i++) {
        hub->w[i] = (hub_worker_t){.hub = hub, .index = i};
        ok = (hub->w[i].out = calloc((size_t)hub->n, sizeof(wp_gw_outbox_t))) != NULL;
    }
    if (!ok || uv_sem_init(&hub->ready, 0) != 0) {
        for (int i = 0; hub->w != NULL && i < hub->n; i++)
            free(hub->w[i].out);
        free(hub->w);
        free(hub->cfg);
        free(hub);
        return NULL;
    }
    *hub->cfg = gw->cfg; /* the others bind the port worker 0 got */
    hub->cfg->listen_port = gw->port;
    hub->cfg->server.reuse_port = true;
    return hub;
}

wp_status_t wp__gw_workers_start(wp_gateway_t *gw, wp_err_t *err)
{
    if (gw->cfg.workers <= 1 || gw->hub != NULL)
        return WP_OK;
    gw_hub_t *hub = hub_new(gw);
    if (hub == NULL)
        return wp_err_set(err, WP_ENOMEM, "gateway.workers: out of memory");
    gw->hub = hub;
    hub->w[0].gw = gw;
    hub->w[0].loop = gw->loop;
    int rc = 0;
    for (int i = 0; i < hub->n; i++) { /* every mailbox before any sender */
        hub_worker_t *w = &hub->w[i];
        if (i > 0 && (rc = uv_loop_init(&w->own_loop)) != 0)
            return hub_fail(gw, err, i, "loop", rc);
        if (i > 0)
            w->loop = &w->own_loop;
        if ((rc = wp_gw_mailbox_init(&w->box, w->loop, sizeof(hub_msg_t), on_mail, drop_msg, w)) !=
            0)
            return hub_fail(gw, err, i, "mailbox", rc);
        w->box_ok = true;
    }
    open_links(&hub->w[0]);
    for (int i = 1; i < hub->n; i++) {
        hub_worker_t *w = &hub->w[i];
        if ((rc = uv_thread_create(&w->thread, worker_main, w)) != 0)
            return hub_fail(gw, err, i, "thread", rc);
        w->running = true;
        uv_sem_wait(&hub->ready);
        if (w->start_st != WP_OK) {
            char why[sizeof(w->start_err)];
            wp_strlcpy(why, w->start_err, sizeof(why));
            wp__gw_workers_stop(gw);
            return wp_err_set(err, WP_EIO, "gateway.workers: worker %d: %s", i, why);
        }
    }
    wp_log(WP_LOG_INFO, "workers started", "workers=%d addr=%s:%d", hub->n, gw->cfg.listen_host,
           gw->port);
    return WP_OK;
}
