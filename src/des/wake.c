/*
 * des/wake: scale-to-zero in virtual time, the same core as the live gateway (sched/wake.h,
 * gateway/wake.c). An idle pool goes to sleep: every engine is replaced by an empty one (sleep
 * discards the KV cache; the prefix views of the gateways forget what it held). A request
 * that finds the pool asleep is held; the first such request wakes it, which takes
 * cfg->wake_s (model/sleep.h's time for the model on its GPUs) plus a round trip to the
 * engines; then every held request goes on as if it had just arrived. A held request that
 * waits past the timeout, or finds the hold full, is answered 503.
 *
 * The held requests are kept in arrival order in a growing array (owned by des_t); the GPU
 * time the pool slept is in the stats (asleep_s, and GPU-seconds with the pool's GPUs).
 */
#include "des/internal.h"

#include <stdlib.h>

void wp__des_wake_setup(des_t *d)
{
    wp_sched_wake_init(&d->wake, &d->cfg->wake, 0.0);
}

void wp__des_wake_free(des_t *d)
{
    free(d->held);
    d->held = NULL;
    d->n_held = d->cap_held = 0;
}

static bool hold(des_t *d, dreq_t *q, double t)
{
    if (d->n_held == d->cap_held) {
        size_t cap = d->cap_held ? 2 * d->cap_held : 64;
        dreq_t **h = realloc(d->held, cap * sizeof(*h));
        if (h == NULL)
            return false;
        d->held = h;
        d->cap_held = cap;
    }
    q->held_at = t;
    d->held[d->n_held++] = q;
    return true;
}

static void wake(des_t *d, double t)
{
    wp__des_push(d, t + d->cfg->wake_s + 2 * d->cfg->engine_latency_s, EV_WOKE, -1, NULL);
}

/* The pool sleeps: empty engines (their caches gone) and empty KV views. */
static void sleep_pool(des_t *d)
{
    for (int g = 0; g < d->n_groups; g++)
        for (int r = 0; r < d->groups[g].n; r++) {
            wp_err_t err;
            if (wp_group_reset(d->groups[g].core, r, &err) == WP_OK)
                d->engines[d->groups[g].first + r].e = wp_group_engine(d->groups[g].core, r);
        }
    for (int k = 0; k < d->n_gw; k++)
        for (int i = 0; i < d->n; i++)
            wp_sched_kv_clear(wp_sched_kv(d->scheds[k]), i);
}

bool wp__des_wake_arrive(des_t *d, double t, dreq_t *q, bool *rejected)
{
    *rejected = false;
    wp_sched_wake_verdict_t v = wp_sched_wake_arrive(&d->wake, t, true);
    if (v == WP_SCHED_WAKE_PASS)
        return true;
    if (v == WP_SCHED_WAKE_FULL || !hold(d, q, t)) {
        if (v != WP_SCHED_WAKE_FULL)
            wp_sched_wake_leave(&d->wake);
        *rejected = true;
        return false;
    }
    d->stats->held_for_wake++;
    if (v == WP_SCHED_WAKE_HOLD_WAKE)
        wake(d, t);
    return false;
}

/* Takes every held request out (arrival order), all of them first (the core passes an
 * arrival only once nothing is held), then hands each to fn. */
static void take_all(des_t *d, double t, void (*fn)(des_t *, double, dreq_t *))
{
    size_t n = d->n_held;
    dreq_t **h = d->held;
    d->held = NULL;
    d->n_held = d->cap_held = 0;
    for (size_t i = 0; i < n; i++)
        wp_sched_wake_leave(&d->wake);
    for (size_t i = 0; i < n; i++)
        fn(d, t, h[i]);
    free(h);
}

void wp__des_wake_woke(des_t *d, double t)
{
    wp_sched_wake_woke(&d->wake, t, true);
    take_all(d, t, wp__des_gw_arrive);
}

void wp__des_wake_tick(des_t *d, double t, void (*timeout)(des_t *, double, dreq_t *))
{
    size_t kept = 0;
    for (size_t i = 0; i < d->n_held; i++) {
        dreq_t *q = d->held[i];
        if (wp_sched_wake_expired(&d->wake, q->held_at, t)) {
            wp_sched_wake_leave(&d->wake);
            timeout(d, t, q);
        } else {
            d->held[kept++] = q;
        }
    }
    d->n_held = kept;
    uint64_t busy = d->in_flight > d->n_held ? d->in_flight - d->n_held : 0;
    switch (wp_sched_wake_tick(&d->wake, t, busy, true)) {
    case WP_SCHED_WAKE_SLEEP:
        sleep_pool(d);
        break;
    case WP_SCHED_WAKE_WAKE:
        wake(d, t);
        break;
    case WP_SCHED_WAKE_RELEASE:
        take_all(d, t, wp__des_gw_arrive);
        break;
    case WP_SCHED_WAKE_NOTHING:
        break;
    }
}
