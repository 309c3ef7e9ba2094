/*
 * bench/ep_calibration: the wide-EP step model (model/ep) against the published figures.
 *
 * For each row of model/ep_calib (DeepSeek's decode and prefill per node, the llm-d guide's
 * per decode GPU) prints, as markdown, the setup as read, the published figure, wellpath's
 * figure and the error, then each row's step breakdown. Pure arithmetic: no GPU, no
 * network, a few microseconds. Exits 1 when a row marked in band is more than 20 % off or
 * a setup does not initialise. Usage: ep_calibration (no arguments).
 */
#include <math.h>
#include <stdio.h>

#include "model/ep_calib.h"

#define BAND 0.20

static int print_rows(void)
{
    int bad = 0;
    printf("| row | setup as read | published | wellpath | error | role |\n");
    printf("|---|---|---:|---:|---:|---|\n");
    for (size_t i = 0; i < wp_ep_calib_count(); i++) {
        const wp_ep_calib_row_t *r = wp_ep_calib_at(i);
        wp_err_t err = {{0}};
        double got = wp_ep_calib_eval(r, NULL, NULL, &err);
        if (got < 0.0) {
            fprintf(stderr, "ep_calibration: %s: %s\n", r->name, err.msg);
            return 1;
        }
        double e = wp_ep_calib_error(r, got);
        bool out = fabs(e) > BAND;
        if (out && r->in_band)
            bad = 1;
        printf("| %s (%s) | %s | %.0f %s | %.0f | %+.1f %%%s | %s |\n", r->name, r->source,
               r->setup, r->published, r->unit, got, e * 100.0, out ? " (outside 20 %)" : "",
               r->role);
    }
    return bad;
}

static void print_breakdown(void)
{
    printf("\n| row | step ms | attention + dense | experts | MTP draft | dispatch | combine | "
           "hidden | overhead | kernels |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (size_t i = 0; i < wp_ep_calib_count(); i++) {
        const wp_ep_calib_row_t *r = wp_ep_calib_at(i);
        wp_ep_step_detail_t d;
        wp_err_t err = {{0}};
        if (wp_ep_calib_eval(r, NULL, &d, &err) < 0.0)
            continue;
        printf("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %s |\n", r->name,
               d.step_s * 1e3, d.dense_s * 1e3, d.expert_s * 1e3, d.draft_s * 1e3,
               d.dispatch_s * 1e3, d.combine_s * 1e3, d.hidden_s * 1e3, d.overhead_s * 1e3,
               d.low_latency ? "low-latency" : "normal");
    }
}

int main(void)
{
    int bad = print_rows();
    print_breakdown();
    return bad;
}
