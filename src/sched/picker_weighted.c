/*
 * sched/picker_weighted: "weighted-random". Candidate i is chosen with probability
 * totals[i] / Σ totals (totals are >= 0 since weights and scores are); when every total is
 * zero the choice is uniform.
 */
#include "sched/sched_internal.h"

static int weighted_pick(const double *totals, int n, wp_rng_t *rng)
{
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += totals[i];
    if (!(sum > 0.0))
        return (int)wp_rng_below(rng, (uint64_t)n);
    double r = wp_rng_double(rng) * sum;
    int last = 0;
    for (int i = 0; i < n; i++) {
        if (totals[i] <= 0.0)
            continue;
        if (r < totals[i])
            return i;
        r -= totals[i];
        last = i;
    }
    return last; /* rounding left r at the very end */
}

const wp__sched_picker_t wp__sched_picker_weighted = {"weighted-random", weighted_pick};
