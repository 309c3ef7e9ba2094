/*
 * report/cost: the price model and the cost report of a run, on paper. Pure: no I/O, no
 * clock, no state; every figure comes in as an argument.
 *
 * A price model is a price per GPU-hour (the meaning `wellpath plan --price-per-gpu-hour`
 * gives it) and, for spot capacity, a discount off that price (plan's --spot-discount):
 * spot price = price x (1 - discount). A run is billed for the GPU-seconds its engines were
 * up (an interrupted spot engine is not billed while it is down and restarting):
 *
 *   GPU-hours       = sum over engines of up time x GPUs per engine / 3600
 *   cost            = GPU-hours x the price of the capacity (on-demand or spot)
 *   cost per 1M out = cost / output tokens x 1e6          (NaN without output tokens)
 *   idle share      = 1 - busy GPU-seconds / up GPU-seconds (an engine is busy while it
 *                     runs a step; 0..1, NaN with no up time)
 *   attainment      = good requests / measured requests   (NaN with none)
 *
 * Invariants: 0 <= discount < 1; prices >= 0; busy <= up (clamped: idle share never < 0).
 */
#ifndef WP_REPORT_COST_H
#define WP_REPORT_COST_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

typedef struct wp_cost_price_s {
    double per_gpu_hour;  /* on-demand price of one GPU-hour; 0: no price */
    double spot_discount; /* share off for spot capacity, 0..0.95 */
} wp_cost_price_t;

/* What a run used and produced. */
typedef struct wp_cost_usage_s {
    double up_gpu_s;   /* GPU-seconds the engines were up (billed) */
    double busy_gpu_s; /* of which GPU-seconds they ran steps */
    uint64_t output_tokens;
    uint64_t requests, good; /* measured requests; those meeting every SLO */
    bool spot;               /* billed at the spot price */
} wp_cost_usage_t;

typedef struct wp_cost_report_s {
    double gpu_hours;
    double price_per_gpu_hour; /* the one applied (spot or on-demand) */
    double cost;               /* NaN without a price */
    double cost_per_mtok;      /* NaN without a price or output tokens */
    double idle_share;
    double attainment;
} wp_cost_report_t;

/* WP_EINVAL with a message for a negative or non-finite price, a discount outside 0..0.95. */
wp_status_t wp_cost_price_validate(const wp_cost_price_t *p, wp_err_t *err);
/* The price a GPU-hour is billed at: spot or on-demand. */
double wp_cost_gpu_hour_price(const wp_cost_price_t *p, bool spot);
void wp_cost_compute(const wp_cost_price_t *p, const wp_cost_usage_t *u, wp_cost_report_t *out);

/* Attaches a cost report to a run of report/report.h (copied): its JSON run gets a "cost"
 * object {gpu_hours, price_per_gpu_hour, cost, cost_per_mtok, idle_share, attainment}
 * after "summary" (NaN as null). */
struct wp_report_run_s;
void wp_report_run_set_cost(struct wp_report_run_s *run, const wp_cost_report_t *c);

#endif
