/*
 * cli/cost: `wellpath simulate`'s price model and spot options, and its cost report.
 *
 *   --price-per-gpu-hour X       on-demand price of one GPU-hour (as `wellpath plan` reads it)
 *   --spot-discount F            spot price as a share off, 0..0.95 (plan's meaning)
 *   --spot-interruptions-per-hour R  interruptions per engine group and hour (des/spot.c)
 *   --spot-notice-s S            the notice before a reclaim (default 120, AWS's)
 *   --spot-restart-s S           down time until a replacement serves (default 300)
 *
 * The topology's `cost:` section gives the same, by the keys pricePerGpuHour, spotDiscount,
 * spotInterruptionsPerHour, spotNoticeS and spotRestartS; a flag wins over its key.
 * With a discount or an interruption rate, each policy also runs on spot capacity ("P
 * [spot]"); every run gets a cost line (report/cost.h) on stdout and a "cost" object in the
 * JSON report.
 */
#ifndef WP_CLI_COST_H
#define WP_CLI_COST_H

#include <stdbool.h>

#include "cli/args.h"
#include "config/topology.h"
#include "des/des.h"
#include "report/cost.h"
#include "report/report.h"

typedef struct wp_cli_cost_s {
    wp_cost_price_t price;
    wp_des_spot_t spot; /* the spot runs' interruptions */
    unsigned set;       /* the options given (bit per option): they win over the file */
} wp_cli_cost_t;

#define WP_CLI_COST_USAGE                                                                          \
    "  --price-per-gpu-hour X  price of one GPU-hour, for the cost report (default 0: "            \
    "GPU-hours,\n"                                                                                 \
    "                          idle share and attainment only)\n"                                  \
    "  --spot-discount F       spot price as a share off, 0..0.95; with it (or an interruption\n"  \
    "                          rate) each policy also runs on spot capacity, \"P [spot]\"\n"       \
    "  --spot-interruptions-per-hour R  spot reclaims per engine and hour (default 0)\n"           \
    "  --spot-notice-s S       notice before a reclaim: out of the pool at once, streams go on\n"  \
    "                          (default 120, AWS's; GCP gives 30)\n"                               \
    "  --spot-restart-s S      down time until the replacement serves (default 300)\n"

void wp_cli_cost_init(wp_cli_cost_t *c);
wp_status_t wp_cli_cost_add_options(wp_cli_args_t *a, wp_err_t *err);
/* Applies one option; *handled is false for a code that is not one of these. */
wp_status_t wp_cli_cost_option(wp_cli_cost_t *c, int code, const char *v, bool *handled,
                               wp_err_t *err);
/* The topology's cost section (its keys name the options: pricePerGpuHour ...) for the
 * options not given. */
void wp_cli_cost_from_topology(wp_cli_cost_t *c, const wp_topology_cost_t *t);
/* Whether the policies also run on spot capacity. */
bool wp_cli_cost_spot(const wp_cli_cost_t *c);
/* The cost report of a finished run: computed (report/cost.h), attached to the run for the
 * JSON, and one line on stdout. */
wp_status_t wp_cli_cost_report(const wp_cli_cost_t *c, const wp_des_stats_t *st, bool spot,
                               wp_report_run_t *run, wp_err_t *err);

#endif
