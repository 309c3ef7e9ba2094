/*
 * model/consts: the roofline's and the wide-EP model's constant tables behind one index.
 */
#include "model/consts.h"

#include <assert.h>
#include <math.h>

size_t wp_model_const_count(void)
{
    return wp_perf_const_count() + wp_ep_const_count();
}

bool wp_model_const_is_ep(size_t i)
{
    return i >= wp_perf_const_count() && i < wp_model_const_count();
}

const wp_perf_const_t *wp_model_const_at(size_t i)
{
    return wp_model_const_is_ep(i) ? wp_ep_const_at(i - wp_perf_const_count())
                                   : wp_perf_const_at(i);
}

int wp_model_const_find(const char *key)
{
    int i = wp_perf_const_find(key);
    if (i >= 0)
        return i;
    int j = wp_ep_const_find(key);
    return j >= 0 ? (int)wp_perf_const_count() + j : -1;
}

static wp_status_t set_one(size_t i, double x, wp_perf_params_t *perf, wp_ep_params_t *ep,
                           wp_err_t *err)
{
    if (!wp_model_const_is_ep(i))
        return wp_perf_const_set(perf, i, x, err);
    return ep != NULL ? wp_ep_const_set(ep, i - wp_perf_const_count(), x, err) : WP_OK;
}

wp_status_t wp_model_const_check(size_t i, double value, wp_err_t *err)
{
    if (i >= wp_model_const_count())
        return wp_err_set(err, WP_EINVAL, "engine model: no constant %zu", i);
    wp_ep_params_t probe;
    wp_ep_params_default(&probe);
    return set_one(i, value, &probe.perf, &probe, err);
}

wp_status_t wp_model_const_apply(const double *values, wp_perf_params_t *perf, wp_ep_params_t *ep,
                                 wp_err_t *err)
{
    assert(wp_model_const_count() <= WP_MODEL_MAX_CONSTS);
    for (size_t i = 0; i < wp_model_const_count(); i++) {
        if (isnan(values[i]))
            continue;
        wp_status_t st = set_one(i, values[i], perf, ep, err);
        if (st != WP_OK)
            return st;
    }
    return WP_OK;
}
