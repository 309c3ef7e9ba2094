/*
 * gateway/wake: scale-to-zero's shell. sched/wake.h decides; this file reads the loop's
 * clock, holds the requests the core says to hold, sends POST /sleep and POST /wake_up to
 * the current generation's endpoints, and releases or times out what it holds.
 *
 * A held request has its body parsed and nothing else done (no model check, no ticket):
 * released, it goes on through wp__gw_proxy_continue as if it had just arrived; timed out,
 * it gets 503 with Retry-After. Held requests are kept in arrival order in `held` (at most
 * the core's max_queue). A release takes them all out first, then continues each: a
 * continue may finish a request (an error), which then finds itself out of the hold.
 *
 * One sleep or wake-up call per endpoint slot is in flight at most (a new one cancels the
 * old one). A wake-up's first 2xx makes the pool awake and releases what is held; the
 * others' answers change nothing.
 *
 * Several workers (gateway.workers; sched/wake.h, "Several workers"): worker 0 leads. It
 * alone sends the sleep and wake-up calls; at each tick it counts what the others hold, have
 * in flight and when they last saw a request (published by them in atomics, workers.c), and
 * it shares its state with them whenever that changes or one asks. The others hold by that
 * state, ask worker 0 to wake the pool, and release what they hold once it is awake and ready.
 * A request that reaches another worker in the instant worker 0 decides to sleep may pass
 * before that worker learns it.
 */
#include "gateway/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "sched/wake.h"

typedef struct gw_wake_call_s {
    struct gw_wake_s *w;
    wp_http_call_t *call;
    bool wake;
    int status;
} gw_wake_call_t;

typedef struct gw_wake_s {
    wp_gateway_t *gw;
    wp_sched_wake_t core;
    gw_proxy_t **held; /* arrival order */
    double *held_at;
    uint32_t n_held, cap;
    gw_wake_call_t calls[WP_GATEWAY_MAX_ENDPOINTS];
    bool slept;           /* an endpoint accepted the last round of POST /sleep */
    wp_sched_wake_t told; /* worker 0: the state it last shared with the others */
    bool asked;           /* worker 0: another asked for the state (it may hold a stale one) */
    uint64_t told_ms;     /* the others: the last request time they last published (ms) */
} gw_wake_t;

/* Worker 0 (the only one, with one worker) decides for the pool; the others follow it. */
static bool leads(const wp_gateway_t *gw)
{
    return gw->worker == 0;
}

/* A follower tells worker 0 what it holds, has in flight and when it last saw a request; for
 * a request that passes, only once a millisecond (the hot path). */
static void publish(gw_wake_t *w, bool pass)
{
    wp_gateway_t *gw = w->gw;
    uint64_t ms = (uint64_t)(w->core.last_busy * 1000.0);
    if (leads(gw) || !gw->cfg.scale_to_zero.enabled || (pass && ms == w->told_ms))
        return;
    w->told_ms = ms;
    wp__gw_workers_wake_publish(gw, w->n_held, gw->tally.in_flight - w->n_held, w->core.last_busy);
}

/* Worker 0 shares its state with the others when it changed, or when one asked. */
static void share(gw_wake_t *w)
{
    const wp_sched_wake_t *c = &w->core, *t = &w->told;
    if (w->gw->hub == NULL || !leads(w->gw))
        return; /* nobody to tell */
    if (!w->asked && c->state == t->state && c->sleeps == t->sleeps && c->wakes == t->wakes &&
        c->wake_failures == t->wake_failures && c->sleep_refusals == t->sleep_refusals)
        return;
    w->asked = false;
    w->told = *c;
    wp__gw_workers_wake_share(w->gw, c);
}

wp_sched_wake_cfg_t wp_gateway_wake_cfg(const wp_gateway_s2z_cfg_t *c)
{
    return (wp_sched_wake_cfg_t){.enabled = c->enabled,
                                 .hold = c->enabled,
                                 .idle_after_s = (double)c->idle_after_ms / 1000.0,
                                 .wake_timeout_s = (double)c->wake_timeout_ms / 1000.0,
                                 .max_queue = c->max_queue ? c->max_queue : 1,
                                 .level = c->level == 2 ? 2 : 1};
}

wp_status_t wp__gw_wake_configure(wp_gateway_t *gw, wp_err_t *err)
{
    const wp_gateway_s2z_cfg_t *c = &gw->cfg.scale_to_zero;
    if (c->enabled && (c->level < 1 || c->level > 2 || c->max_queue < 1 || c->idle_after_ms < 1 ||
                       c->wake_timeout_ms < 1))
        return wp_err_set(err, WP_EINVAL,
                          "scaleToZero: level 1 or 2, maxQueue >= 1, idleAfterMs and "
                          "wakeTimeoutMs >= 1");
    wp_sched_wake_cfg_t cc = wp_gateway_wake_cfg(c);
    gw_wake_t *w = gw->wake;
    if (w == NULL) {
        w = calloc(1, sizeof(*w));
        if (w == NULL)
            return wp_err_set(err, WP_ENOMEM, "out of memory");
        w->gw = gw;
        for (int i = 0; i < WP_GATEWAY_MAX_ENDPOINTS; i++)
            w->calls[i].w = w;
        wp_sched_wake_init(&w->core, &cc, wp__gw_now(gw));
        gw->wake = w;
    } else
        wp_sched_wake_configure(&w->core, &cc, wp__gw_now(gw));
    publish(w, false); /* turned on: worker 0 hears of this worker's requests from now on */
    uint32_t cap = cc.max_queue > w->n_held ? cc.max_queue : w->n_held;
    if (cap > w->cap) {
        gw_proxy_t **h = realloc(w->held, cap * sizeof(*h));
        if (h != NULL)
            w->held = h;
        double *at = h != NULL ? realloc(w->held_at, cap * sizeof(*at)) : NULL;
        if (at != NULL)
            w->held_at = at;
        if (h == NULL || at == NULL)
            return wp_err_set(err, WP_ENOMEM, "out of memory");
        w->cap = cap;
    }
    return WP_OK;
}

void wp__gw_wake_cancel(wp_gateway_t *gw)
{
    gw_wake_t *w = gw->wake;
    for (int i = 0; w != NULL && i < WP_GATEWAY_MAX_ENDPOINTS; i++) {
        if (w->calls[i].call != NULL)
            wp_http_call_cancel(w->calls[i].call);
        w->calls[i].call = NULL;
    }
}

void wp__gw_wake_free(wp_gateway_t *gw)
{
    gw_wake_t *w = gw->wake;
    if (w == NULL)
        return;
    wp__gw_wake_cancel(gw);
    free(w->held);
    free(w->held_at);
    free(w);
    gw->wake = NULL;
}

/* The current generation has a healthy endpoint to send requests to. */
static bool ready(const wp_gateway_t *gw)
{
    const gw_pool_t *pool = gw->pool;
    for (int i = 0; pool != NULL && i < pool->n_eps; i++)
        if (gw_ep_outlier(&pool->eps[i])->healthy &&
            (!pool->has_prefill || pool->eps[i].cfg.role != WP_SCHED_ROLE_PREFILL))
            return true;
    return false;
}

static bool take_out(gw_wake_t *w, const gw_proxy_t *p)
{
    for (uint32_t i = 0; i < w->n_held; i++) {
        if (w->held[i] == p) {
            memmove(&w->held[i], &w->held[i + 1], (w->n_held - i - 1) * sizeof(w->held[0]));
            memmove(&w->held_at[i], &w->held_at[i + 1],
                    (w->n_held - i - 1) * sizeof(w->held_at[0]));
            w->n_held--;
            wp_sched_wake_leave(&w->core);
            publish(w, false);
            return true;
        }
    }
    return false;
}

void wp__gw_wake_forget(gw_proxy_t *p)
{
    if (p->gw->wake != NULL)
        take_out(p->gw->wake, p);
}

static void release_all(gw_wake_t *w)
{
    uint32_t n = w->n_held;
    if (n == 0)
        return;
    gw_proxy_t **batch = malloc(n * sizeof(*batch));
    if (batch == NULL)
        return; /* at the next tick */
    memcpy(batch, w->held, n * sizeof(*batch));
    for (uint32_t i = 0; i < n; i++)
        take_out(w, batch[i]);
    for (uint32_t i = 0; i < n; i++) {
        wp__gw_proxy_move_to_current(batch[i]);
        wp__gw_proxy_continue(batch[i]);
    }
    free(batch);
}

static void call_on_head(void *ud, int status, const wp_http_headers_t *h)
{
    (void)h;
    ((gw_wake_call_t *)ud)->status = status;
}

static void call_on_body(void *ud, const char *data, size_t len)
{
    (void)ud, (void)data, (void)len;
}

static void call_on_done(void *ud, wp_status_t st, const char *why)
{
    gw_wake_call_t *c = ud;
    gw_wake_t *w = c->w;
    wp_gateway_t *gw = w->gw;
    c->call = NULL;
    if (gw->stopping)
        return;
    bool ok = st == WP_OK && c->status >= 200 && c->status < 300;
    if (!ok)
        wp_log(WP_LOG_WARN,
               c->wake ? "scale-to-zero: wake-up failed" : "scale-to-zero: sleep failed",
               "endpoint=%d status=%d why=\"%s\"", (int)(c - w->calls), c->status, why ? why : "");
    if (!c->wake) {
        w->slept |= ok;
        for (int i = 0; i < WP_GATEWAY_MAX_ENDPOINTS; i++)
            if (w->calls[i].call != NULL && !w->calls[i].wake)
                return; /* the round goes on */
        if (!w->slept && w->core.state == WP_SCHED_WAKE_ASLEEP) {
            wp_log(WP_LOG_WARN, "scale-to-zero: no endpoint went to sleep, the pool stays awake",
                   "hint=\"vLLM serves /sleep with --enable-sleep-mode and "
                   "VLLM_SERVER_DEV_MODE=1\"");
            wp_sched_wake_sleep_refused(&w->core, wp__gw_now(gw));
            share(w);
        }
        return;
    }
    if (!ok) {
        for (int i = 0; i < WP_GATEWAY_MAX_ENDPOINTS; i++)
            if (w->calls[i].call != NULL && w->calls[i].wake)
                return; /* another endpoint may still wake */
    }
    wp_sched_wake_woke(&w->core, wp__gw_now(gw), ok);
    share(w);
    if (ok) {
        wp_log(WP_LOG_INFO, "scale-to-zero: pool awake", "held=%u", w->n_held);
        if (ready(gw))
            release_all(w);
    }
}

/* POST path to every endpoint of the current generation. */
static void send_all(gw_wake_t *w, bool wake)
{
    wp_gateway_t *gw = w->gw;
    char path[256];
    if (!wake)
        w->slept = false;
    for (int i = 0; i < gw->pool->n_eps && i < WP_GATEWAY_MAX_ENDPOINTS; i++) {
        gw_endpoint_t *ep = &gw->pool->eps[i];
        gw_wake_call_t *c = &w->calls[i];
        if (c->call != NULL)
            wp_http_call_cancel(c->call);
        c->call = NULL;
        if (wake)
            snprintf(path, sizeof(path), "%s/wake_up", ep->cfg.base_path);
        else
            snprintf(path, sizeof(path), "%s/sleep?level=%d", ep->cfg.base_path, w->core.cfg.level);
        c->wake = wake;
        c->status = 0;
        static const wp_http_call_cbs_t cbs = {call_on_head, call_on_body, call_on_done};
        c->call = wp_http_call_start(wp__gw_ep_upstream(ep), "POST", path, NULL, "", 0, &cbs, c);
    }
    wp_log(WP_LOG_INFO, wake ? "scale-to-zero: waking the pool" : "scale-to-zero: pool asleep",
           "endpoints=%d level=%d held=%u", gw->pool->n_eps, w->core.cfg.level, w->n_held);
}

static bool waking_calls(const gw_wake_t *w)
{
    for (int i = 0; i < WP_GATEWAY_MAX_ENDPOINTS; i++)
        if (w->calls[i].call != NULL && w->calls[i].wake)
            return true;
    return false;
}

bool wp__gw_wake_hold(gw_proxy_t *p)
{
    wp_gateway_t *gw = p->gw;
    gw_wake_t *w = gw->wake;
    if (w == NULL)
        return false;
    double now = wp__gw_now(gw);
    wp_sched_wake_verdict_t v = leads(gw) ? wp_sched_wake_arrive(&w->core, now, ready(gw))
                                          : wp_sched_wake_follower_arrive(&w->core, now, ready(gw));
    switch (v) {
    case WP_SCHED_WAKE_PASS:
        publish(w, true);
        return false;
    case WP_SCHED_WAKE_FULL: {
        char msg[160];
        snprintf(msg, sizeof(msg), "the pool is scaled to zero and %u requests already wait for it",
                 w->n_held);
        wp__gw_proxy_fail(p, 503, msg, NULL);
        return true;
    }
    case WP_SCHED_WAKE_HOLD_WAKE:
    case WP_SCHED_WAKE_HOLD:
    default:
        if (w->n_held >= w->cap) { /* a reload shrank nothing below n_held: cannot happen */
            wp_sched_wake_leave(&w->core);
            wp__gw_proxy_fail(p, 503, "the hold queue is full", NULL);
            return true;
        }
        w->held[w->n_held] = p;
        w->held_at[w->n_held++] = now;
        publish(w, false);
        if (v == WP_SCHED_WAKE_HOLD_WAKE && leads(gw)) {
            send_all(w, true);
            share(w);
        } else if (v == WP_SCHED_WAKE_HOLD_WAKE) {
            wp__gw_workers_wake_ask(gw);
        }
        return true;
    }
}

void wp__gw_wake_tick(wp_gateway_t *gw)
{
    gw_wake_t *w = gw->wake;
    if (w == NULL || gw->stopping)
        return;
    double now = wp__gw_now(gw);
    while (w->n_held > 0 && wp_sched_wake_expired(&w->core, w->held_at[0], now)) {
        gw_proxy_t *p = w->held[0];
        take_out(w, p);
        char msg[200];
        snprintf(msg, sizeof(msg), "no endpoint of the pool woke up within %llu ms",
                 (unsigned long long)gw->cfg.scale_to_zero.wake_timeout_ms);
        wp__gw_proxy_fail(p, 503, msg, NULL);
    }
    uint64_t in_flight = gw->tally.in_flight - w->n_held;
    if (!leads(gw)) {
        publish(w, false);
        if (wp_sched_wake_follower_release(&w->core, ready(gw)))
            release_all(w);
        else if (w->n_held > 0 && w->core.state != WP_SCHED_WAKE_AWAKE)
            wp__gw_workers_wake_ask(gw); /* until worker 0's state comes (a message may be lost) */
        return;
    }
    if (gw->hub != NULL) { /* the others' requests count as this worker's */
        uint32_t held;
        uint64_t flying;
        double last;
        wp__gw_workers_wake_others(gw, &held, &flying, &last);
        wp_sched_wake_elsewhere(&w->core, held, last);
        in_flight += flying;
    }
    if (w->core.state == WP_SCHED_WAKE_ASLEEP && waking_calls(w))
        return;
    wp_sched_wake_action_t act = wp_sched_wake_tick(&w->core, now, in_flight, ready(gw));
    share(w);
    switch (act) {
    case WP_SCHED_WAKE_SLEEP:
        send_all(w, false);
        break;
    case WP_SCHED_WAKE_WAKE:
        send_all(w, true);
        break;
    case WP_SCHED_WAKE_RELEASE:
        release_all(w);
        break;
    default:
        break;
    }
}

void wp__gw_wake_asked(wp_gateway_t *gw)
{
    if (gw->wake == NULL || !leads(gw))
        return;
    gw->wake->asked = true;
    wp__gw_wake_tick(gw);
    share(gw->wake); /* once: the tick shares it when it runs that far */
}

void wp__gw_wake_follow(wp_gateway_t *gw, const wp_sched_wake_t *leader)
{
    gw_wake_t *w = gw->wake;
    if (w == NULL || leads(gw) || gw->stopping)
        return;
    wp_sched_wake_follow(&w->core, leader);
    if (wp_sched_wake_follower_release(&w->core, ready(gw)))
        release_all(w);
}

uint32_t wp__gw_wake_held(const wp_gateway_t *gw)
{
    return gw->wake != NULL ? gw->wake->n_held : 0;
}

void wp__gw_wake_metrics(const wp_gateway_t *gw, wp_buf_t *out)
{
    const gw_wake_t *w = gw->wake;
    if (w == NULL)
        return;
    double now = wp__gw_now(gw);
    wp_buf_printf(
        out,
        "# HELP wellpath_gateway_pool_demand Requests held for a pool that has no awake, healthy "
        "endpoint (asleep, waking or scaled to zero): what an autoscaler scales from zero on.\n"
        "# TYPE wellpath_gateway_pool_demand gauge\nwellpath_gateway_pool_demand %u\n"
        "# HELP wellpath_gateway_pool_sleeping 1 while the gateway has put the pool to sleep "
        "(asleep or waking up), else 0.\n"
        "# TYPE wellpath_gateway_pool_sleeping gauge\nwellpath_gateway_pool_sleeping %d\n"
        "# HELP wellpath_gateway_pool_ready 1 while the pool has a healthy endpoint.\n"
        "# TYPE wellpath_gateway_pool_ready gauge\nwellpath_gateway_pool_ready %d\n"
        "# HELP wellpath_gateway_pool_asleep_seconds_total Seconds the pool spent asleep or "
        "waking up (scale-to-zero).\n"
        "# TYPE wellpath_gateway_pool_asleep_seconds_total counter\n"
        "wellpath_gateway_pool_asleep_seconds_total %.3f\n"
        "# HELP wellpath_gateway_pool_sleeps_total Times the gateway put the idle pool to sleep.\n"
        "# TYPE wellpath_gateway_pool_sleeps_total counter\nwellpath_gateway_pool_sleeps_total "
        "%llu\n"
        "# HELP wellpath_gateway_pool_wakeups_total Wake-ups the gateway started for held "
        "requests.\n"
        "# TYPE wellpath_gateway_pool_wakeups_total counter\nwellpath_gateway_pool_wakeups_total "
        "%llu\n"
        "# HELP wellpath_gateway_pool_sleep_refusals_total Sleeps no endpoint accepted (servers "
        "without sleep mode); the pool stayed awake.\n"
        "# TYPE wellpath_gateway_pool_sleep_refusals_total counter\n"
        "wellpath_gateway_pool_sleep_refusals_total %llu\n",
        w->n_held + (uint32_t)gw->tally.held, w->core.state != WP_SCHED_WAKE_AWAKE, ready(gw),
        wp_sched_wake_asleep_seconds(&w->core, now), (unsigned long long)w->core.sleeps,
        (unsigned long long)w->core.wakes, (unsigned long long)w->core.sleep_refusals);
}
