/*
 * sched/picker_max: "max-score". The highest total wins; totals within 1e-9 of the best are
 * ties, and a tie is broken uniformly at random with the rng — never "the first", which
 * would herd all traffic onto one server when scores are equal.
 */
#include "sched/sched_internal.h"

#define TIE_EPS 1e-9

static int max_pick(const double *totals, int n, wp_rng_t *rng)
{
    double best = totals[0];
    for (int i = 1; i < n; i++)
        if (totals[i] > best)
            best = totals[i];
    int ties = 0;
    for (int i = 0; i < n; i++)
        ties += totals[i] >= best - TIE_EPS;
    int k = ties > 1 ? (int)wp_rng_below(rng, (uint64_t)ties) : 0;
    for (int i = 0; i < n; i++)
        if (totals[i] >= best - TIE_EPS && k-- == 0)
            return i;
    return 0; /* unreachable: at least the best is a tie */
}

const wp__sched_picker_t wp__sched_picker_max = {"max-score", max_pick};
