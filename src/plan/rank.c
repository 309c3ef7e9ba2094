/*
 * plan/rank: candidates ordered by goodput per GPU under the SLOs, each with its verdict.
 */
#include "plan/plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int gpus_of(const wp_plan_result_t *r)
{
    return r->gpus > 0 ? r->gpus : 1;
}

/* a before b? */
static bool better(const wp_plan_result_t *a, const wp_plan_result_t *b)
{
    if (a->ran != b->ran)
        return a->ran;
    if (a->goodput_per_gpu != b->goodput_per_gpu)
        return a->goodput_per_gpu > b->goodput_per_gpu;
    double ta = a->output_tps / gpus_of(a), tb = b->output_tps / gpus_of(b);
    if (ta != tb)
        return ta > tb;
    return a->gpus < b->gpus;
}

/* The first SLO whose p90 the result misses, into out; false when none. */
static bool missed_slo(const wp_plan_result_t *r, const wp_plan_slo_t *slo, char *out, size_t cap)
{
    const struct {
        const char *name;
        double got, want;
    } rows[] = {{"TTFT p90", r->ttft_p90, slo->ttft_s},
                {"ITL p50", r->itl_p50, slo->itl_s},
                {"TPOT p90", r->tpot_p90, slo->tpot_s},
                {"E2E p90", r->e2e_p90, slo->e2e_s}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (rows[i].got > rows[i].want) {
            snprintf(out, cap, "%s %.3g s over the %.3g s objective", rows[i].name, rows[i].got,
                     rows[i].want);
            return true;
        }
    }
    return false;
}

static void verdict(wp_plan_result_t *r, const wp_plan_result_t *best, const wp_plan_slo_t *slo)
{
    char slo_miss[WP_PLAN_TEXT_MAX];
    if (!r->ran)
        snprintf(r->verdict, sizeof(r->verdict), "did not run: %.*s", (int)sizeof(r->verdict) - 14,
                 r->error);
    else if (r == best)
        snprintf(r->verdict, sizeof(r->verdict), "best goodput per GPU: %.3g req/s",
                 r->goodput_per_gpu);
    else if (r->failed > 0)
        snprintf(r->verdict, sizeof(r->verdict), "%llu of %llu requests failed",
                 (unsigned long long)r->failed, (unsigned long long)r->requests);
    else if (missed_slo(r, slo, slo_miss, sizeof(slo_miss)))
        snprintf(r->verdict, sizeof(r->verdict), "%s", slo_miss);
    else
        snprintf(r->verdict, sizeof(r->verdict), "%.0f %% less goodput per GPU than the best",
                 best->goodput_per_gpu > 0
                     ? 100.0 * (1.0 - r->goodput_per_gpu / best->goodput_per_gpu)
                     : 0.0);
}

void wp_plan_rank(wp_plan_result_t *r, size_t n, const wp_plan_slo_t *slo)
{
    for (size_t i = 0; i < n; i++)
        r[i].goodput_per_gpu = r[i].ran ? r[i].goodput_rps / gpus_of(&r[i]) : 0.0;
    for (size_t i = 1; i < n; i++) { /* insertion sort: stable, n is small */
        wp_plan_result_t x = r[i];
        size_t j = i;
        for (; j > 0 && better(&x, &r[j - 1]); j--)
            r[j] = r[j - 1];
        r[j] = x;
    }
    for (size_t i = 0; i < n; i++)
        verdict(&r[i], &r[0], slo);
}
