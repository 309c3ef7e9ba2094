/*
 * plan/decide: the production guide's decision tree, each branch written down with the
 * facts that decided it.
 */
#include "plan/plan.h"

#include <stdarg.h>
#include <stdio.h>

/* The thresholds: docs/plan.md gives their sources. */
#define LARGE_MOE_PARAMS 200e9
#define WIDE_EP_MIN_GPUS 16
#define LONG_INPUT_TOKENS 4096.0
#define PD_MIN_RATIO 4.0
#define PD_MIN_ACTIVE 30e9

static void why(wp_plan_decision_t *d, const char *fmt, ...)
{
    if (d->n_why >= WP_PLAN_WHY_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->why[d->n_why++], WP_PLAN_TEXT_MAX, fmt, ap);
    va_end(ap);
}

/* The guide's xPyD table (docs/reference.md §4): prefill:decode by ISL/OSL. */
static void ratio(double isl_osl, int *p, int *d)
{
    *d = 1;
    *p = isl_osl >= 10.0 ? 8 : isl_osl >= 5.0 ? 4 : 2;
}

static bool large_moe(const wp_plan_facts_t *f, wp_plan_decision_t *d)
{
    const wp_model_spec_t *m = f->model;
    if (m->n_experts == 0) {
        why(d, "%s is dense (%.0fB parameters): no expert parallelism", m->name,
            (double)m->params_total / 1e9);
        return false;
    }
    bool big = (double)m->params_total >= LARGE_MOE_PARAMS, wide = f->gpus >= WIDE_EP_MIN_GPUS;
    why(d, "%s is a mixture of experts (%d experts, %.0fB parameters, %.0fB active): %s", m->name,
        m->n_experts, (double)m->params_total / 1e9, (double)m->params_active / 1e9,
        big && wide ? "large, and 16+ GPUs to spread its experts over"
        : big       ? "large, but fewer than 16 GPUs for wide expert parallelism"
                    : "small enough for replicas");
    return big && wide;
}

static bool long_inputs(const wp_plan_facts_t *f, wp_plan_decision_t *d)
{
    double r = f->osl_p50 > 0 ? f->isl_p50 / f->osl_p50 : 0;
    bool is_long = f->isl_p50 >= LONG_INPUT_TOKENS && r >= PD_MIN_RATIO;
    bool big = (double)f->model->params_active >= PD_MIN_ACTIVE;
    why(d, "inputs: ISL p50 %.0f, p90 %.0f tokens, OSL p50 %.0f (ISL/OSL %.1f): %s", f->isl_p50,
        f->isl_p90, f->osl_p50, r,
        !is_long ? "not long enough for separate prefill"
        : big    ? "long prefills that would stall decodes"
                 : "long, but the model is small (prefill is cheap)");
    if (is_long && big)
        ratio(r, &d->ratio_p, &d->ratio_d);
    return is_long && big;
}

void wp_plan_decide(const wp_plan_facts_t *f, wp_plan_decision_t *out)
{
    *out = (wp_plan_decision_t){0};
    if (large_moe(f, out)) {
        out->path = WP_PLAN_PATH_3;
        return;
    }
    if (long_inputs(f, out)) {
        out->path = WP_PLAN_PATH_2;
        why(out, "the guide's prefill:decode ratio for that ISL/OSL: %d:%d", out->ratio_p,
            out->ratio_d);
        return;
    }
    out->path = WP_PLAN_PATH_1;
    why(out, "prefix reuse measured on the workload: %.0f %% of prompt tokens%s",
        100.0 * f->prefix_reuse,
        f->prefix_reuse >= 0.3 ? ": prefix-aware routing pays" : " (little for the cache to find)");
}
