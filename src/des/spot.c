/*
 * des/spot: spot capacity in virtual time. Each engine group (a plain engine, or a
 * wide-EP group: one node's worth) is interrupted at random, a Poisson process of
 * cfg->spot.interruptions_per_hour per group from the run's seed, as a cloud reclaims spot
 * nodes:
 *
 *   up --interruption--> noticed --notice_s, idle--> down --restart_s--> up
 *
 * Noticed: the gateway learns of it at once (a server under SIGTERM answers /health with
 * 503), so the group's engines leave every gateway replica's pool through the outlier
 * core's health verdict (wp_sched_outlier_apply: the one place the pool is pushed); its
 * running requests go on. At the end of the notice the group restarts empty
 * (wp_group_reset) when it has no work left; one that still has work (a notice shorter
 * than its longest request) waits until it has none, counted as an overrun: des never
 * cuts a stream, so overruns say where the figures are optimistic. Down: not billed, back
 * in the pool restart_s later (a new node: boot, image, weights).
 *
 * Spot events do not keep the run going: an interruption drawn after the last request
 * ended changes nothing, and the run's end (stats->end_s) is that of its other events. Up
 * GPU-seconds (what is billed) are every engine's GPUs x the run's end less its down time.
 */
#include <math.h>
#include <stdlib.h>

#include "des/internal.h"
#include "sched/drain.h"

enum { SPOT_UP, SPOT_NOTICED, SPOT_DOWN };

typedef struct spot_group_s {
    int phase;
    bool overrun;      /* counted once per notice */
    double down_since; /* when it went down */
    double down_s;     /* down time of periods that ended */
    wp_rng_t rng;
} spot_group_t;

struct wp__des_spot_s {
    spot_group_t *g; /* one per engine group, in d->groups' order */
};

/* Whether the run can still get work: requests in flight, in line, or still to come. */
static bool running(const des_t *d)
{
    return d->in_flight > 0 || !d->source_done || wp_workload_pacer_waiting(&d->pacer) > 0;
}

static void next_interruption(des_t *d, int gi, double t)
{
    spot_group_t *s = &d->spot->g[gi];
    double u = wp_rng_double(&s->rng);
    double gap = -log(1.0 - u) / (d->cfg->spot.interruptions_per_hour / 3600.0);
    wp__des_push(d, t + gap, EV_SPOT, gi, NULL);
}

/* The group's engines in or out of every gateway replica's pool, as the live gateway
 * decides on their /health answer (sched/drain): 503 while noticed, 200 once back. */
static void set_health(des_t *d, int gi, int status)
{
    bool healthy = wp_sched_health_verdict(true, status) == WP_SCHED_HEALTH_OK;
    const dgroup_t *g = &d->groups[gi];
    for (int k = 0; k < g->n; k++)
        wp_sched_outlier_ep(d->outlier, g->first + k)->healthy = healthy;
    for (int r = 0; r < d->n_gw; r++)
        wp_sched_outlier_apply(d->outlier, d->scheds[r], d->cfg->max_in_flight);
}

wp_status_t wp__des_spot_start(des_t *d, wp_err_t *err)
{
    const wp_des_spot_t *c = &d->cfg->spot;
    if (!(c->interruptions_per_hour >= 0 && c->interruptions_per_hour < 3600) ||
        !(c->notice_s >= 0 && c->restart_s >= 0))
        return wp_err_set(err, WP_EINVAL,
                          "spot: interruptions per hour must be 0..3600 and the notice and "
                          "restart delay >= 0 (got %g, %g s, %g s)",
                          c->interruptions_per_hour, c->notice_s, c->restart_s);
    if (c->interruptions_per_hour == 0)
        return WP_OK;
    d->spot = calloc(1, sizeof(*d->spot));
    if (d->spot == NULL || (d->spot->g = calloc((size_t)d->n_groups, sizeof(spot_group_t))) == NULL)
        return wp_err_set(err, WP_ENOMEM, "out of memory for spot state");
    for (int gi = 0; gi < d->n_groups; gi++) {
        wp_rng_seed(&d->spot->g[gi].rng, d->cfg->seed * 0xd1b54a32d192ed03ULL + (uint64_t)gi + 1);
        next_interruption(d, gi, 0.0);
    }
    return WP_OK;
}

void wp__des_spot_event(des_t *d, double t, int gi)
{
    spot_group_t *s = &d->spot->g[gi];
    dgroup_t *g = &d->groups[gi];
    switch (s->phase) {
    case SPOT_UP:
        if (!running(d))
            return; /* after the last request: nothing to interrupt */
        d->stats->interruptions++;
        s->phase = SPOT_NOTICED;
        s->overrun = false;
        set_health(d, gi, 503);
        wp__des_push(d, t + d->cfg->spot.notice_s, EV_SPOT, gi, NULL);
        return;
    case SPOT_NOTICED:
        if (wp_group_busy(g->core) || g->stepping) {
            if (!s->overrun)
                d->stats->spot_overruns++;
            s->overrun = true;
            wp__des_push(d, t + d->cfg->scrape_interval_s, EV_SPOT, gi, NULL);
            return;
        }
        for (int k = 0; k < g->n; k++) {
            wp_err_t err;
            if (wp_group_reset(g->core, k, &err) == WP_OK)
                d->engines[g->first + k].e = wp_group_engine(g->core, k);
            for (int r = 0; d->kv_events && r < d->n_gw; r++) /* its cache is gone */
                wp_sched_kv_clear(wp_sched_kv(d->scheds[r]), g->first + k);
        }
        s->phase = SPOT_DOWN;
        s->down_since = t;
        wp__des_push(d, t + d->cfg->spot.restart_s, EV_SPOT, gi, NULL);
        return;
    case SPOT_DOWN:
        if (!running(d))
            return; /* the run ended while it was down: finish() counts the rest */
        s->down_s += t - s->down_since;
        s->phase = SPOT_UP;
        set_health(d, gi, 200);
        next_interruption(d, gi, t);
        return;
    }
}

/* GPUs of engine i (its tensor-parallel degree). */
static double gpus(const des_t *d, int i)
{
    const wp_engine_config_t *c = d->engines[i].cfg;
    return c != NULL && c->perf != NULL && c->perf->tp > 0 ? (double)c->perf->tp : 1.0;
}

void wp__des_spot_busy(des_t *d, int gi, double duration_s)
{
    const dgroup_t *g = &d->groups[gi];
    for (int k = 0; k < g->n; k++)
        d->stats->busy_gpu_s += duration_s * gpus(d, g->first + k);
}

void wp__des_spot_finish(des_t *d)
{
    double end = d->stats->end_s;
    d->stats->up_gpu_s = 0.0;
    for (int gi = 0; gi < d->n_groups; gi++) {
        const dgroup_t *g = &d->groups[gi];
        double down = 0.0;
        if (d->spot != NULL) {
            const spot_group_t *s = &d->spot->g[gi];
            down = s->down_s;
            if (s->phase == SPOT_DOWN && end > s->down_since)
                down += end - s->down_since;
            d->stats->down_s += down;
        }
        double up = end - down > 0 ? end - down : 0.0;
        for (int k = 0; k < g->n; k++)
            d->stats->up_gpu_s += up * gpus(d, g->first + k);
    }
}

void wp__des_spot_free(des_t *d)
{
    if (d->spot != NULL)
        free(d->spot->g);
    free(d->spot);
    d->spot = NULL;
}
