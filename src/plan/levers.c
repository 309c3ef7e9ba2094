/*
 * plan/levers: the arithmetic of the guide's cost levers, from what the simulations measured.
 */
#include "plan/plan.h"

#include <math.h>
#include <stdlib.h>

double wp_plan_cost_per_mtok(int gpus, double price_per_gpu_hour, double output_tps)
{
    if (!(output_tps > 0) || gpus < 1)
        return NAN;
    return (double)gpus * price_per_gpu_hour / (output_tps * 3600.0) * 1e6;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double wp_plan_idle_share(double *arrivals, size_t n, double window_s)
{
    if (n < 2)
        return 0.0;
    qsort(arrivals, n, sizeof(*arrivals), by_value);
    double span = arrivals[n - 1] - arrivals[0], idle = 0.0;
    for (size_t i = 1; i < n; i++) {
        double gap = arrivals[i] - arrivals[i - 1];
        if (gap > window_s)
            idle += gap - window_s; /* the pool waits window_s before it scales to zero */
    }
    return span > 0 ? idle / span : 0.0;
}
