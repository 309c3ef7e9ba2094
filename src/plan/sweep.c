/*
 * plan/sweep: the highest Poisson rate a candidate sustains, found by doubling (or halving)
 * from the workload's own rate until it brackets the limit, then bisecting geometrically.
 */
#include "plan/plan.h"

#include <math.h>

#define GROW_MAX 8  /* doublings or halvings at most */
#define BISECT 4    /* then this many bisections */
#define KEEP_UP 0.9 /* share of the requests that must meet every SLO */

bool wp_plan_sustains(double attainment, uint64_t failed)
{
    return failed == 0 && attainment >= KEEP_UP;
}

void wp_plan_sweep_init(wp_plan_sweep_t *s, double rate)
{
    *s = (wp_plan_sweep_t){.next = rate, .lo = 0, .hi = INFINITY};
}

bool wp_plan_sweep_next(const wp_plan_sweep_t *s, double *rate)
{
    *rate = s->next;
    return !s->done;
}

void wp_plan_sweep_report(wp_plan_sweep_t *s, bool sustained)
{
    if (sustained)
        s->lo = s->next;
    else
        s->hi = s->next;
    s->runs++;
    bool bracketed = s->lo > 0 && isfinite(s->hi);
    if (!bracketed) {
        s->grown++;
        s->next = sustained ? s->next * 2.0 : s->next / 2.0;
        s->done = s->grown > GROW_MAX;
        return;
    }
    s->done = s->bisected++ >= BISECT;
    s->next = sqrt(s->lo * s->hi);
}
