/*
 * tests/unit/sched/test_drain: what a server going away looks like — a /health 503 is a
 * drain (out at once), other failures count as before, 2xx is well; a 503 before the first
 * byte calls for a health check now, nothing else does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "sched/drain.h"

static void test_drain_health_verdicts(void **state)
{
    (void)state;
    assert_int_equal(wp_sched_health_verdict(true, 200), WP_SCHED_HEALTH_OK);
    assert_int_equal(wp_sched_health_verdict(true, 204), WP_SCHED_HEALTH_OK);
    assert_int_equal(wp_sched_health_verdict(true, 503), WP_SCHED_HEALTH_DRAINING);
    /* a blip is not a drain: it takes the usual failures in a row */
    assert_int_equal(wp_sched_health_verdict(true, 500), WP_SCHED_HEALTH_FAILED);
    assert_int_equal(wp_sched_health_verdict(true, 404), WP_SCHED_HEALTH_FAILED);
    assert_int_equal(wp_sched_health_verdict(true, 302), WP_SCHED_HEALTH_FAILED);
    assert_int_equal(wp_sched_health_verdict(false, 0), WP_SCHED_HEALTH_FAILED);
    assert_int_equal(wp_sched_health_verdict(false, 503), WP_SCHED_HEALTH_FAILED);
    assert_string_equal(wp_sched_health_name(WP_SCHED_HEALTH_DRAINING), "draining");
    assert_string_equal(wp_sched_health_name((wp_sched_health_t)9), "?");
}

static void test_drain_suspect_only_503(void **state)
{
    (void)state;
    assert_true(wp_sched_drain_suspect(503));
    int others[] = {200, 400, 429, 500, 502, 504, 0};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        assert_false(wp_sched_drain_suspect(others[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drain_health_verdicts),
        cmocka_unit_test(test_drain_suspect_only_503),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
