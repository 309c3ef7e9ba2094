/*
 * tests/unit/report/test_cost: the price model and the cost report on paper — GPU-hours,
 * cost per million output tokens at the on-demand and the spot price, idle share,
 * attainment, the NaNs, the validation, and that it prices as `wellpath plan` does.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "plan/plan.h"
#include "report/cost.h"

#define assert_near(a, b) assert_true(fabs((a) - (b)) <= 1e-9 * (1 + fabs(b)))

/* 4 GPUs for 30 minutes, 75 % of it stepping, 1.2M output tokens, 90 of 100 good. */
static const wp_cost_usage_t usage = {.up_gpu_s = 4 * 1800.0,
                                      .busy_gpu_s = 5400.0,
                                      .output_tokens = 1200000,
                                      .requests = 100,
                                      .good = 90};

static void test_cost_on_demand_on_paper(void **state)
{
    (void)state;
    wp_cost_price_t p = {.per_gpu_hour = 3.0};
    wp_cost_report_t r;
    wp_cost_compute(&p, &usage, &r);
    assert_near(r.gpu_hours, 2.0);
    assert_near(r.price_per_gpu_hour, 3.0);
    assert_near(r.cost, 6.0);
    assert_near(r.cost_per_mtok, 5.0); /* $6 / 1.2M tokens */
    assert_near(r.idle_share, 0.25);
    assert_near(r.attainment, 0.9);
    /* The same figure as `wellpath plan`'s: 4 GPUs at $3 for 1.2M tokens in 1800 s. */
    assert_near(r.cost_per_mtok, wp_plan_cost_per_mtok(4, 3.0, 1200000.0 / 1800.0));
}

static void test_cost_spot_price(void **state)
{
    (void)state;
    wp_cost_price_t p = {.per_gpu_hour = 3.0, .spot_discount = 0.6};
    wp_cost_usage_t u = usage;
    u.spot = true;
    u.up_gpu_s -= 4 * 300.0; /* one 5-minute outage of the 4 GPUs is not billed */
    wp_cost_report_t r;
    wp_cost_compute(&p, &u, &r);
    assert_near(r.price_per_gpu_hour, 1.2);
    assert_near(r.gpu_hours, 2.0 - 4 * 300.0 / 3600.0);
    assert_near(r.cost, (2.0 - 1.0 / 3.0) * 1.2);
    assert_near(r.cost_per_mtok, r.cost / 1.2);
    assert_near(r.idle_share, 1.0 - 5400.0 / 6000.0);
    assert_near(wp_cost_gpu_hour_price(&p, false), 3.0);
    assert_near(wp_cost_gpu_hour_price(&p, true), 1.2);
}

static void test_cost_nans_and_clamps(void **state)
{
    (void)state;
    wp_cost_report_t r;
    wp_cost_price_t none = {0};
    wp_cost_compute(&none, &usage, &r); /* no price: hours, idle and attainment only */
    assert_near(r.gpu_hours, 2.0);
    assert_true(isnan(r.cost) && isnan(r.cost_per_mtok));
    wp_cost_price_t p = {.per_gpu_hour = 2.0};
    wp_cost_usage_t u = {0};
    wp_cost_compute(&p, &u, &r); /* nothing ran */
    assert_near(r.cost, 0.0);
    assert_true(isnan(r.cost_per_mtok) && isnan(r.idle_share) && isnan(r.attainment));
    u = usage;
    u.busy_gpu_s = 2 * u.up_gpu_s; /* busy never exceeds up */
    wp_cost_compute(&p, &u, &r);
    assert_near(r.idle_share, 0.0);
}

static void test_cost_price_validate(void **state)
{
    (void)state;
    wp_err_t err;
    wp_cost_price_t p = {.per_gpu_hour = 3.0, .spot_discount = 0.7};
    assert_int_equal(wp_cost_price_validate(&p, &err), WP_OK);
    p.spot_discount = 0.99;
    assert_int_equal(wp_cost_price_validate(&p, &err), WP_EINVAL);
    p = (wp_cost_price_t){.per_gpu_hour = -1};
    assert_int_equal(wp_cost_price_validate(&p, &err), WP_EINVAL);
    p.per_gpu_hour = NAN;
    assert_int_equal(wp_cost_price_validate(&p, &err), WP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cost_on_demand_on_paper),
        cmocka_unit_test(test_cost_spot_price),
        cmocka_unit_test(test_cost_nans_and_clamps),
        cmocka_unit_test(test_cost_price_validate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
