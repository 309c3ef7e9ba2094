/*
 * report/cost: see cost.h. The arithmetic is written out once here so that `wellpath
 * simulate`, its JSON and the benchmarks price a run alike.
 */
#include "report/cost.h"

#include <math.h>

#include "report/report_int.h"

wp_status_t wp_cost_price_validate(const wp_cost_price_t *p, wp_err_t *err)
{
    if (!(p->per_gpu_hour >= 0 && isfinite(p->per_gpu_hour)))
        return wp_err_set(err, WP_EINVAL, "price per GPU-hour must be a number >= 0, got %g",
                          p->per_gpu_hour);
    if (!(p->spot_discount >= 0 && p->spot_discount <= 0.95))
        return wp_err_set(err, WP_EINVAL, "spot discount must be 0..0.95, got %g",
                          p->spot_discount);
    return WP_OK;
}

double wp_cost_gpu_hour_price(const wp_cost_price_t *p, bool spot)
{
    return spot ? p->per_gpu_hour * (1.0 - p->spot_discount) : p->per_gpu_hour;
}

void wp_cost_compute(const wp_cost_price_t *p, const wp_cost_usage_t *u, wp_cost_report_t *out)
{
    out->gpu_hours = u->up_gpu_s / 3600.0;
    out->price_per_gpu_hour = wp_cost_gpu_hour_price(p, u->spot);
    bool priced = p->per_gpu_hour > 0;
    out->cost = priced ? out->gpu_hours * out->price_per_gpu_hour : NAN;
    out->cost_per_mtok =
        priced && u->output_tokens > 0 ? out->cost / (double)u->output_tokens * 1e6 : NAN;
    if (u->up_gpu_s > 0) {
        double busy = u->busy_gpu_s < u->up_gpu_s ? u->busy_gpu_s : u->up_gpu_s;
        out->idle_share = 1.0 - (busy > 0 ? busy : 0.0) / u->up_gpu_s;
    } else {
        out->idle_share = NAN;
    }
    out->attainment = u->requests > 0 ? (double)u->good / (double)u->requests : NAN;
}

void wp_report_run_set_cost(struct wp_report_run_s *run, const wp_cost_report_t *c)
{
    run->cost = *c;
    run->has_cost = true;
}
