/*
 * cli/cost: see cost.h. Parsing and printing only; the arithmetic is report/cost's.
 */
#include "cli/cost.h"

#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { O_PRICE = 400, O_SPOT_DISCOUNT, O_SPOT_RATE, O_SPOT_NOTICE, O_SPOT_RESTART };

static const wp_cli_opt_t opts[] = {
    {"price-per-gpu-hour", 0, true, O_PRICE},
    {"spot-discount", 0, true, O_SPOT_DISCOUNT},
    {"spot-interruptions-per-hour", 0, true, O_SPOT_RATE},
    {"spot-notice-s", 0, true, O_SPOT_NOTICE},
    {"spot-restart-s", 0, true, O_SPOT_RESTART},
};

void wp_cli_cost_init(wp_cli_cost_t *c)
{
    *c = (wp_cli_cost_t){.spot = {.notice_s = 120.0, .restart_s = 300.0}};
}

wp_status_t wp_cli_cost_add_options(wp_cli_args_t *a, wp_err_t *err)
{
    return wp_cli_args_add(a, opts, sizeof(opts) / sizeof(opts[0]), err);
}

wp_status_t wp_cli_cost_option(wp_cli_cost_t *c, int code, const char *v, bool *handled,
                               wp_err_t *err)
{
    *handled = true;
    if (code >= O_PRICE && code <= O_SPOT_RESTART)
        c->set |= 1u << (code - O_PRICE);
    switch (code) {
    case O_PRICE:
        return wp_cli_number("price-per-gpu-hour", v, 0, 1e6, &c->price.per_gpu_hour, err);
    case O_SPOT_DISCOUNT:
        return wp_cli_number("spot-discount", v, 0, 0.95, &c->price.spot_discount, err);
    case O_SPOT_RATE:
        return wp_cli_number("spot-interruptions-per-hour", v, 0, 3599,
                             &c->spot.interruptions_per_hour, err);
    case O_SPOT_NOTICE:
        return wp_cli_number("spot-notice-s", v, 0.01, 86400, &c->spot.notice_s, err);
    case O_SPOT_RESTART:
        return wp_cli_number("spot-restart-s", v, 0, 86400, &c->spot.restart_s, err);
    default:
        *handled = false;
        return WP_OK;
    }
}

void wp_cli_cost_from_topology(wp_cli_cost_t *c, const wp_topology_cost_t *t)
{
#define FROM(code, dst, src)                                                                       \
    if (!(c->set & (1u << ((code)-O_PRICE))))                                                      \
    dst = src
    FROM(O_PRICE, c->price.per_gpu_hour, t->price_per_gpu_hour);
    FROM(O_SPOT_DISCOUNT, c->price.spot_discount, t->spot_discount);
    FROM(O_SPOT_RATE, c->spot.interruptions_per_hour, t->spot_interruptions_per_hour);
    FROM(O_SPOT_NOTICE, c->spot.notice_s, t->spot_notice_s);
    FROM(O_SPOT_RESTART, c->spot.restart_s, t->spot_restart_s);
#undef FROM
}

bool wp_cli_cost_spot(const wp_cli_cost_t *c)
{
    return c->price.spot_discount > 0 || c->spot.interruptions_per_hour > 0;
}

wp_status_t wp_cli_cost_report(const wp_cli_cost_t *c, const wp_des_stats_t *st, bool spot,
                               wp_report_run_t *run, wp_err_t *err)
{
    wp_report_metrics_t m;
    if (wp_report_run_metrics(run, WP_REPORT_SUMMARY, &m, err) != WP_OK)
        return WP_EINVAL;
    wp_cost_usage_t u = {.up_gpu_s = st->up_gpu_s,
                         .busy_gpu_s = st->busy_gpu_s,
                         .output_tokens = m.output_tokens,
                         .requests = m.requests,
                         .good = m.good,
                         .spot = spot};
    wp_cost_report_t r;
    wp_cost_compute(&c->price, &u, &r);
    wp_report_run_set_cost(run, &r);
    char money[128] = "";
    if (c->price.per_gpu_hour > 0)
        snprintf(money, sizeof(money), ", $%.4g at $%.4g/GPU-hour, $%.4g per 1M output tokens",
                 r.cost, r.price_per_gpu_hour, r.cost_per_mtok);
    char inter[128] = "";
    if (spot)
        snprintf(inter, sizeof(inter), ", %llu interruptions (%.0f s down, %llu notices overran)",
                 (unsigned long long)st->interruptions, st->down_s,
                 (unsigned long long)st->spot_overruns);
    printf("cost: %s: %.4g GPU-hours%s, idle %.1f%%, SLO attainment %.1f%%%s\n",
           wp_report_run_policy(run), r.gpu_hours, money, 100.0 * r.idle_share,
           100.0 * r.attainment, inter);
    return WP_OK;
}
