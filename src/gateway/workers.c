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
 *     pool's state is the same on every worker;
 *   - flow control (flow.c): what each worker's queue holds is published in atomics of its
 *     hub_worker_t, which the others read before admitting (no message); a worker whose best
 *     queued priority got worse tells the others to look again (HUB_QUEUE), and one whose
 *     newcomer outranks the worst request queued on another asks that one to evict it
 *     (HUB_EVICT);
 *   - routes shared with peer replicas (routes.c): worker 0 alone holds the publisher and the
 *     peers' subscriptions; it publishes the others' dispatches as they reach it and hands
 *     each route it learns to the others (HUB_ROUTE);
 *   - scale-to-zero (wake.c): worker 0 leads (it sleeps and wakes the pool); the others
 *     publish what they hold and hold in flight, and when they last saw a request, in atomics,
 *     ask worker 0 to wake the pool (HUB_WAKE) and follow its state (HUB_WAKE_STATE);
 *   - round-robin's turn: a word of the hub per role, which every worker's scheduler claims
 *     with a compare-and-swap (wp_sched_share_turns): no message.
 *
 * The lag: a worker sees another's event at its next loop iteration (microseconds under
 * load), so two workers may pick the same endpoint in the same instant where one loop would
 * have spread the two requests; `make bench-workers` measures what that does to routing.
 * Costs: each worker applies every request's dispatch to its own prefix index (N inserts of
 * the chain where one loop makes one; the leading blocks it already holds as one run move at
 * once, so what repeats is mostly the new blocks), and holds the whole index (N times its
 * memory). A prefix index shared by the workers would be inserted once, but every insert would
 * then write the hot prefix's nodes on the other cores' cache lines; `make bench-workers`
 * counts what the copies cost in instructions.
 *
 * Threads: worker 0 is the caller's; workers 1..N-1 run on threads started here, each with its
 * own loop, and touch only their own gateway (and read the others' queue and scale-to-zero
 * atomics, and claim round-robin's turns in the hub). Requests that wait for the other workers
 * (/metrics, /status, a relayed admin reload) are workers_ask.c's. The hub (the array of workers,
 * their mailboxes) is set up before the threads start and torn down after they are joined.
 */
#include "gateway/workers_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "base/log.h"
#include "base/str.h"
#include "gateway/mailbox.h"
#include "gateway/prober.h"

hub_worker_t *wp__gw_hub_me(const wp_gateway_t *gw)
{
    return &gw->hub->w[gw->worker];
}

/* ---- messages ---- */

void wp__gw_hub_snap_free(snap_t *s)
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
        wp__gw_hub_snap_free(m->payload);
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
bool wp__gw_hub_post(hub_worker_t *w, int to, hub_msg_t *m)
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
int wp__gw_hub_broadcast(hub_worker_t *w, const hub_msg_t *m, size_t len)
{
    int reached = 0;
    for (int j = 0; j < w->hub->n; j++) {
        if (j == w->index)
            continue;
        hub_msg_t c = *m;
        c.payload = m->payload ? dup_bytes(m->payload, len) : NULL;
        if (m->payload != NULL && c.payload == NULL)
            continue;
        reached += wp__gw_hub_post(w, j, &c);
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
gw_endpoint_t *wp__gw_hub_find(wp_gateway_t *gw, const char *name, int index)
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

void wp__gw_workers_share_turns(wp_gateway_t *gw, gw_pool_t *pool)
{
    if (gw->hub != NULL && pool != NULL)
        wp_sched_share_turns(pool->sched, gw->hub->turns);
}

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
    wp__gw_hub_broadcast(wp__gw_hub_me(gw), &m, (size_t)m.n_blocks * sizeof(uint64_t));
}

void wp__gw_workers_scrape_sent(wp_gateway_t *gw, const gw_endpoint_t *ep)
{
    if (gw->hub == NULL)
        return;
    hub_msg_t m = named(HUB_SCRAPE_SENT, ep, 0);
    wp__gw_hub_broadcast(wp__gw_hub_me(gw), &m, 0);
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
    wp__gw_hub_broadcast(wp__gw_hub_me(gw), &m, len);
    free(copy);
}

void wp__gw_workers_outlier(wp_gateway_t *gw, const gw_endpoint_t *ep, bool fault)
{
    if (gw->hub == NULL)
        return;
    hub_msg_t m = named(HUB_OUTLIER, ep, fault);
    wp__gw_hub_broadcast(wp__gw_hub_me(gw), &m, 0);
}

/* Worker j's queue as its loop last published it. */
static wp_sched_admit_others_t queue_of(const hub_worker_t *w)
{
    return (wp_sched_admit_others_t){.best = atomic_load(&w->q_best),
                                     .worst = atomic_load(&w->q_worst),
                                     .queued = atomic_load(&w->q_len)};
}

wp_sched_admit_others_t wp__gw_workers_queues(const wp_gateway_t *gw)
{
    wp_sched_admit_others_t all = WP_SCHED_ADMIT_NO_OTHERS;
    for (int j = 0; gw->hub != NULL && j < gw->hub->n; j++) {
        if (j == gw->worker)
            continue;
        wp_sched_admit_others_t q = queue_of(&gw->hub->w[j]);
        all.best = q.best < all.best ? q.best : all.best;
        all.worst = q.worst > all.worst ? q.worst : all.worst;
        all.queued += q.queued;
    }
    return all;
}

void wp__gw_workers_queue_moved(wp_gateway_t *gw, wp_sched_admit_others_t mine)
{
    if (gw->hub == NULL)
        return;
    hub_worker_t *me = wp__gw_hub_me(gw);
    int64_t was = atomic_exchange(&me->q_best, mine.best);
    atomic_store(&me->q_worst, mine.worst);
    atomic_store(&me->q_len, mine.queued);
    if (mine.best > was && wp__gw_workers_queues(gw).queued > 0) {
        hub_msg_t m = {.kind = HUB_QUEUE, .index = -1};
        wp__gw_hub_broadcast(me, &m, 0);
    }
}

void wp__gw_workers_route(wp_gateway_t *gw, const gw_endpoint_t *ep, const uint64_t *hashes,
                          size_t n)
{
    if (gw->hub == NULL || n == 0 || n > UINT32_MAX)
        return;
    hub_msg_t m = named(HUB_ROUTE, ep, 0);
    m.n_blocks = (uint32_t)n;
    m.payload = (void *)hashes;
    wp__gw_hub_broadcast(wp__gw_hub_me(gw), &m, n * sizeof(*hashes));
}

void wp__gw_workers_wake_publish(wp_gateway_t *gw, uint32_t held, uint64_t in_flight,
                                 double last_busy)
{
    if (gw->hub == NULL)
        return;
    hub_worker_t *me = wp__gw_hub_me(gw);
    atomic_store(&me->s2z_held, held);
    atomic_store(&me->s2z_in_flight, in_flight);
    atomic_store(&me->s2z_last_ms, (uint64_t)(last_busy * 1000.0));
}

void wp__gw_workers_wake_others(const wp_gateway_t *gw, uint32_t *held, uint64_t *in_flight,
                                double *last_busy)
{
    uint64_t last = 0;
    *held = 0;
    *in_flight = 0;
    for (int j = 0; gw->hub != NULL && j < gw->hub->n; j++) {
        const hub_worker_t *w = &gw->hub->w[j];
        if (j == gw->worker)
            continue;
        *held += atomic_load(&w->s2z_held);
        *in_flight += atomic_load(&w->s2z_in_flight);
        uint64_t t = atomic_load(&w->s2z_last_ms);
        last = t > last ? t : last;
    }
    *last_busy = (double)last / 1000.0;
}

void wp__gw_workers_wake_ask(wp_gateway_t *gw)
{
    hub_msg_t m = {.kind = HUB_WAKE, .index = -1};
    if (gw->hub != NULL && gw->worker != 0)
        wp__gw_hub_post(wp__gw_hub_me(gw), 0, &m);
}

void wp__gw_workers_wake_share(wp_gateway_t *gw, const wp_sched_wake_t *state)
{
    hub_msg_t m = {.kind = HUB_WAKE_STATE, .index = -1, .payload = (void *)state};
    if (gw->hub != NULL && gw->worker == 0)
        wp__gw_hub_broadcast(wp__gw_hub_me(gw), &m, sizeof(*state));
}

void wp__gw_workers_evict(wp_gateway_t *gw, int64_t below)
{
    int to = -1;
    int64_t worst = INT64_MIN;
    for (int j = 0; gw->hub != NULL && j < gw->hub->n; j++) {
        int64_t p = atomic_load(&gw->hub->w[j].q_worst);
        if (j != gw->worker && p > worst) {
            worst = p;
            to = j;
        }
    }
    if (to < 0)
        return; /* gone meanwhile: the queues hold one more than the bound until they drain */
    hub_msg_t m = {.kind = HUB_EVICT, .index = -1, .priority = below};
    wp__gw_hub_post(wp__gw_hub_me(gw), to, &m);
}

bool wp__gw_workers_sync(wp_gateway_t *gw)
{
    return gw->hub != NULL && wp_gw_mailbox_poll(&wp__gw_hub_me(gw)->box);
}

bool wp__gw_workers_health_now(wp_gateway_t *gw, const gw_endpoint_t *ep)
{
    if (gw->hub == NULL || gw->worker == 0)
        return false;
    hub_msg_t m = named(HUB_HEALTH_NOW, ep, 0);
    wp__gw_hub_post(wp__gw_hub_me(gw), 0, &m);
    return true;
}

void wp__gw_workers_reload(wp_gateway_t *gw, const wp_gateway_config_t *cfg)
{
    if (gw->hub == NULL || gw->worker != 0)
        return;
    hub_msg_t m = {.kind = HUB_RELOAD, .payload = (void *)cfg};
    wp__gw_hub_broadcast(wp__gw_hub_me(gw), &m, sizeof(*cfg));
}

void wp__gw_workers_sources(wp_gateway_t *gw)
{
    if (gw->hub == NULL || gw->worker != 0)
        return;
    hub_msg_t m = {.kind = HUB_SOURCES, .a = gw->n_sources, .payload = gw->sources};
    wp__gw_hub_broadcast(wp__gw_hub_me(gw), &m, sizeof(gw->sources));
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
    wp__gw_hub_post(wp__gw_hub_me(gw), 0, &m);
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
    hub->drain_left =
        1 + wp__gw_hub_broadcast(wp__gw_hub_me(gw), &m, 0); /* itself and the workers told */
    wp__gw_drain_local(gw, on_local_drained, gw);
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
        wp__gw_routes_publish(gw, ep, &pick); /* worker 0 tells the peer replicas */
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

/* One message; true when it may have made room on an endpoint. */
static bool handle(hub_worker_t *w, hub_msg_t *m)
{
    wp_gateway_t *gw = w->gw;
    gw_endpoint_t *ep = m->name[0] ? wp__gw_hub_find(gw, m->name, m->index) : NULL;
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
        wp__gw_hub_snap_answer(w, m);
        return false;
    case HUB_SNAP:
        wp__gw_hub_snap_take(m);
        return false;
    case HUB_ADMIN:
        wp__gw_hub_admin_run(w, m);
        return false;
    case HUB_ADMIN_DONE:
        wp__gw_hub_admin_done(m);
        return false;
    case HUB_QUEUE:
        return true;
    case HUB_EVICT:
        wp__gw_flow_evict(gw, m->priority);
        return false;
    case HUB_ROUTE:
        if (ep != NULL)
            wp_sched_learn_route(ep->pool->sched, ep->index, m->payload, m->n_blocks);
        return false;
    case HUB_WAKE:
        wp__gw_wake_asked(gw);
        return false;
    case HUB_WAKE_STATE:
        if (m->payload != NULL)
            wp__gw_wake_follow(gw, m->payload);
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
    wp__gw_hub_pending_end(w);
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
    /* worker 0's schedulers back to turns of their own: the hub's go with it */
    for (gw_pool_t *p = gw->retired; p != NULL; p = p->next_retired)
        wp_sched_share_turns(p->sched, NULL);
    if (gw->pool != NULL)
        wp_sched_share_turns(gw->pool->sched, NULL);
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
    gw_hub_t *hub =
        aligned_alloc(_Alignof(gw_hub_t), sizeof(*hub)); /* turns: a line of their own */
    if (hub == NULL)
        return NULL;
    memset(hub, 0, sizeof(*hub));
    for (int r = 0; r <= WP_SCHED_ROLE_DECODE; r++)
        atomic_init(&hub->turns[r], 0);
    hub->n = gw->cfg.workers;
    /* aligned: each worker's queue figures start a cache line (hub_worker_t) */
    hub->w = aligned_alloc(_Alignof(hub_worker_t), (size_t)hub->n * sizeof(*hub->w));
    if (hub->w != NULL)
        memset(hub->w, 0, (size_t)hub->n * sizeof(*hub->w));
    hub->cfg = malloc(sizeof(*hub->cfg));
    bool ok = hub->w != NULL && hub->cfg != NULL;
    for (int i = 0; ok && i < hub->n; i++) {
        hub->w[i] = (hub_worker_t){.hub = hub, .index = i};
        atomic_init(&hub->w[i].q_best, INT64_MAX);
        atomic_init(&hub->w[i].q_worst, INT64_MIN);
        atomic_init(&hub->w[i].q_len, 0);
        atomic_init(&hub->w[i].s2z_held, 0);
        atomic_init(&hub->w[i].s2z_in_flight, 0);
        atomic_init(&hub->w[i].s2z_last_ms, 0);
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
    wp__gw_workers_share_turns(gw, gw->pool); /* made before the hub was */
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
