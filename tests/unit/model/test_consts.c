/* Tests for model/consts: the roofline's and the wide-EP model's constants behind one index:
 * both tables fit, keys find their row, checks use the owning table's rules, and apply sets
 * each constant in its own params. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "model/consts.h"

static void test_index_space(void **state)
{
    (void)state;
    size_t np = wp_perf_const_count(), n = wp_model_const_count();
    assert_int_equal(n, np + wp_ep_const_count());
    assert_true(n <= WP_MODEL_MAX_CONSTS);
    for (size_t i = 0; i < n; i++) {
        const wp_perf_const_t *k = wp_model_const_at(i);
        assert_non_null(k);
        assert_int_equal(wp_model_const_find(k->key), (int)i);
        assert_int_equal(wp_model_const_is_ep(i), i >= np);
    }
    assert_null(wp_model_const_at(n));
    assert_int_equal(wp_model_const_find("noSuchConstant"), -1);
    assert_true(wp_model_const_find("epImbalance") >= (int)np);
    assert_true(wp_model_const_find("prefillMfu") < (int)np);
}

static void test_check_and_apply(void **state)
{
    (void)state;
    wp_err_t err = {{0}};
    size_t imb = (size_t)wp_model_const_find("epImbalance");
    size_t mfu = (size_t)wp_model_const_find("prefillMfu");
    assert_int_equal(wp_model_const_check(imb, 1.5, &err), WP_OK);
    assert_int_equal(wp_model_const_check(imb, -1.0, &err), WP_EINVAL);
    assert_int_equal(wp_model_const_check(mfu, 1.5, &err), WP_EINVAL);
    assert_int_equal(wp_model_const_check(wp_model_const_count(), 1, &err), WP_EINVAL);
    double v[WP_MODEL_MAX_CONSTS];
    for (size_t i = 0; i < WP_MODEL_MAX_CONSTS; i++)
        v[i] = NAN;
    v[imb] = 1.5;
    v[mfu] = 0.4;
    wp_ep_params_t ep;
    wp_ep_params_default(&ep);
    assert_int_equal(wp_model_const_apply(v, &ep.perf, &ep, &err), WP_OK);
    assert_true(ep.imbalance == 1.5);
    assert_true(ep.perf.prefill_mfu == 0.4);
    wp_perf_params_t pp; /* without EP params the EP rows are left alone */
    wp_perf_params_default(&pp);
    assert_int_equal(wp_model_const_apply(v, &pp, NULL, &err), WP_OK);
    assert_true(pp.prefill_mfu == 0.4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_space),
        cmocka_unit_test(test_check_and_apply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
