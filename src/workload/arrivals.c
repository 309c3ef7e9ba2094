/*
 * workload/arrivals: see arrivals.h.
 *
 * Two independent parts. Slots: `slots` is fixed by the kind of the items offered (open
 * loop: the cap; closed loop: the smaller of concurrency and the cap), `in_flight` counts
 * the items sent and not ended, and a due item finding them all taken joins a ring; a
 * freed slot passes straight to the ring's head, so in_flight does not drop while anyone
 * waits. Stages: a stage's real start `stage_at` is fixed when its first item is offered
 * (the first stage: its nominal start) or when the stage before drains (its last end plus
 * the interval), and every item's send time is stage_at + its offset into the stage, the
 * same sum whichever shell asks. stage_left counts offered items, not sent ones, so an
 * item waiting at the cap keeps its stage open.
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

static void start_stage(wp_workload_pacer_t *p, size_t stage, double at)
{
    p->stage_set = true;
    p->stage = stage;
    p->stage_left = 1;
    p->stage_at = at;
}

bool wp_workload_pacer_offer(wp_workload_pacer_t *p, const wp_workload_pacer_item_t *it, void *ud,
                             double now, double *at)
{
    size_t cap = p->cfg.max_concurrency > 0 ? (size_t)p->cfg.max_concurrency : SIZE_MAX;
    if (it->arrival_s < 0) { /* closed loop: due now, for one of its slots */
        size_t conc = (size_t)p->cfg.concurrency;
        p->slots = conc < cap ? conc : cap;
        *at = now;
        return true;
    }
    p->slots = cap;
    if (!p->cfg.sequential) {
        *at = it->arrival_s;
        return true;
    }
    double offset = it->arrival_s - it->stage_start_s;
    if (p->stage_set && it->stage == p->stage) {
        p->stage_left++;
    } else if (p->stage_set && p->stage_left > 0) { /* until the stage before drains */
        assert(!p->holding);
        p->holding = true;
        p->held = ud;
        p->held_stage = it->stage;
        p->held_offset = offset;
        return false;
    } else {
        start_stage(p, it->stage,
                    p->stage_set ? p->last_end + p->cfg.interval_s : it->stage_start_s);
    }
    *at = p->stage_at + offset;
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

bool wp_workload_pacer_ended(wp_workload_pacer_t *p, size_t stage, double now, void **ud,
                             double *at)
{
    if (!p->cfg.sequential || !p->stage_set || stage != p->stage || p->stage_left == 0)
        return false;
    p->last_end = now;
    if (--p->stage_left > 0 || !p->holding)
        return false;
    start_stage(p, p->held_stage, now + p->cfg.interval_s);
    *ud = p->held;
    *at = p->stage_at + p->held_offset;
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
    if (p->holding && !(p->cfg.sequential && p->stage_set && p->stage_left > 0))
        return false;
    return true;
}
