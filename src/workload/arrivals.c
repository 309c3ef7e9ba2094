/*
 * workload/arrivals: see arrivals.h.
 *
 * Two independent parts. Slots: `slots` is fixed by the kind of the items offered (open
 * loop: the cap; closed loop: the smaller of concurrency and the cap), `in_flight` counts
 * the items sent and not ended, and a due item finding them all taken joins a ring; a
 * freed slot passes straight to the ring's head, so in_flight does not drop while anyone
 * waits. Phases: an item's phase is its warmup mark and, with sequential stages, its
 * stage. A phase's real start `phase_at` is fixed when its first item is offered (nothing
 * ran before: its nominal start) or when the phase before drains (its last end, plus the
 * interval after a sequential stage), and every open-loop item's send time is phase_at +
 * its offset from the phase's nominal start `phase_base`, the same sum whichever shell
 * asks. phase_left counts offered items, not sent ones, so an item waiting at the cap
 * keeps its phase open. The warm-up is a drain like a sequential stage's: that is all
 * that makes the measured run start after it.
 */
#include "workload/arrivals.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

void wp_workload_pacer_init(wp_workload_pacer_t *p, const wp_workload_pacer_config_t *cfg)
{
    *p = (wp_workload_pacer_t){0};
    p->cfg = *cfg;
    if (p->cfg.concurrency < 1)
        p->cfg.concurrency = 1;
    if (p->cfg.max_concurrency < 0)
        p->cfg.max_concurrency = 0;
    p->slots = p->cfg.max_concurrency > 0 ? (size_t)p->cfg.max_concurrency : SIZE_MAX;
}

void wp_workload_pacer_free(wp_workload_pacer_t *p)
{
    free(p->line);
    p->line = NULL;
    p->line_cap = p->line_head = p->line_len = 0;
}

/* The stage that tells phases apart: only sequential stages are phases of their own. */
static size_t phase_stage(const wp_workload_pacer_t *p, const wp_workload_pacer_item_t *it)
{
    return p->cfg.sequential ? it->stage : 0;
}

static bool in_phase(const wp_workload_pacer_t *p, const wp_workload_pacer_item_t *it)
{
    return p->phase_set && it->warmup == p->phase_warmup && phase_stage(p, it) == p->phase_stage;
}

/* Item it, the first of its phase, starts the phase at `at`. */
static void start_phase(wp_workload_pacer_t *p, const wp_workload_pacer_item_t *it, double at)
{
    p->phase_set = true;
    p->phase_warmup = it->warmup;
    p->phase_stage = phase_stage(p, it);
    p->phase_left = 1;
    p->phase_at = at;
    p->phase_base = it->stage_start_s;
}

/* When the current phase's next phase starts, the current one having drained at `end`. */
static double next_phase_at(const wp_workload_pacer_t *p, double end)
{
    return p->phase_warmup ? end : end + p->cfg.interval_s;
}

/* An item of the current phase: its send time (a phase that did not move keeps the
 * arrival as it is). */
static double send_time(const wp_workload_pacer_t *p, const wp_workload_pacer_item_t *it,
                        double now)
{
    if (it->arrival_s < 0)
        return now;
    if (p->phase_at == p->phase_base)
        return it->arrival_s;
    return p->phase_at + (it->arrival_s - p->phase_base);
}

bool wp_workload_pacer_offer(wp_workload_pacer_t *p, const wp_workload_pacer_item_t *it, void *ud,
                             double now, double *at)
{
    size_t cap = p->cfg.max_concurrency > 0 ? (size_t)p->cfg.max_concurrency : SIZE_MAX;
    size_t conc = (size_t)p->cfg.concurrency;
    /* closed loop: due now, for one of its slots */
    p->slots = it->arrival_s < 0 && conc < cap ? conc : cap;
    if (in_phase(p, it)) {
        p->phase_left++;
    } else if (p->phase_set && p->phase_left > 0) { /* until the phase before drains */
        assert(!p->holding);
        p->holding = true;
        p->held = ud;
        p->held_item = *it;
        return false;
    } else if (p->phase_set) {
        start_phase(p, it, next_phase_at(p, p->last_end));
    } else {
        start_phase(p, it, it->arrival_s < 0 ? now : it->stage_start_s);
    }
    *at = send_time(p, it, now);
    return true;
}

static wp_status_t line_grow(wp_workload_pacer_t *p)
{
    if (p->line_cap >= WP_WORKLOAD_PACER_MAX_LINE)
        return WP_ELIMIT;
    size_t cap = p->line_cap ? p->line_cap * 2 : 16;
    void **v = malloc(cap * sizeof(void *));
    if (v == NULL)
        return WP_ENOMEM;
    for (size_t k = 0; k < p->line_len; k++)
        v[k] = p->line[(p->line_head + k) % p->line_cap];
    free(p->line);
    p->line = v;
    p->line_cap = cap;
    p->line_head = 0;
    return WP_OK;
}

wp_status_t wp_workload_pacer_due(wp_workload_pacer_t *p, void *ud, bool *send)
{
    *send = false;
    if (p->in_flight < p->slots) {
        p->in_flight++;
        *send = true;
        return WP_OK;
    }
    if (p->line_len == p->line_cap) {
        wp_status_t st = line_grow(p);
        if (st != WP_OK)
            return st;
    }
    p->line[(p->line_head + p->line_len) % p->line_cap] = ud;
    p->line_len++;
    return WP_OK;
}

bool wp_workload_pacer_ended(wp_workload_pacer_t *p, double now, void **ud, double *at)
{
    if (!p->phase_set || p->phase_left == 0)
        return false;
    p->last_end = now;
    if (--p->phase_left > 0 || !p->holding)
        return false;
    start_phase(p, &p->held_item, next_phase_at(p, now));
    *ud = p->held;
    *at = send_time(p, &p->held_item, now);
    p->holding = false;
    p->held = NULL;
    return true;
}

static void *line_pop(wp_workload_pacer_t *p)
{
    void *ud = p->line[p->line_head];
    p->line_head = (p->line_head + 1) % p->line_cap;
    p->line_len--;
    return ud;
}

bool wp_workload_pacer_free_slot(wp_workload_pacer_t *p, void **ud)
{
    if (p->line_len == 0) {
        if (p->in_flight > 0)
            p->in_flight--;
        return false;
    }
    *ud = line_pop(p);
    return true;
}

size_t wp_workload_pacer_waiting(const wp_workload_pacer_t *p)
{
    return p->line_len;
}

bool wp_workload_pacer_holding(const wp_workload_pacer_t *p)
{
    return p->holding;
}

bool wp_workload_pacer_take(wp_workload_pacer_t *p, void **ud)
{
    if (p->holding) {
        *ud = p->held;
        p->holding = false;
        p->held = NULL;
        return true;
    }
    if (p->line_len == 0)
        return false;
    *ud = line_pop(p);
    return true;
}

bool wp_workload_pacer_validate(const wp_workload_pacer_t *p)
{
    if (p->line_len > p->line_cap || (p->line_cap > 0 && p->line_head >= p->line_cap))
        return false;
    if (p->in_flight > p->slots || (p->line_len > 0 && p->in_flight < p->slots))
        return false;
    if (p->holding && !(p->phase_set && p->phase_left > 0))
        return false;
    return true;
}
