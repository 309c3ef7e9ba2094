/*
 * model/consts: every engine-model constant in one index space, for the places that name
 * them by key (the topology's simulation.engineModel, `wellpath sim --engine-model`, the
 * uncertainty band): first the single-GPU roofline's rows (model.h, wp_perf_const_at), then
 * the wide-EP model's (ep.h, wp_ep_const_at). Index i < wp_perf_const_count() is perf row
 * i; the rest are EP rows in order. Pure and static: the tables are the two modules'.
 */
#ifndef WP_MODEL_CONSTS_H
#define WP_MODEL_CONSTS_H

#include <stddef.h>

#include "base/err.h"
#include "model/ep.h"
#include "model/model.h"

/* The most constants an engineModel array holds: room for both tables. */
#define WP_MODEL_MAX_CONSTS 32

size_t wp_model_const_count(void);
const wp_perf_const_t *wp_model_const_at(size_t i); /* NULL when i >= count */
int wp_model_const_find(const char *key);           /* -1 when unknown */
/* Whether constant i belongs to the wide-EP model (else to the roofline). */
bool wp_model_const_is_ep(size_t i);
/* Checks value against constant i's rules (range, sign), as setting it would; WP_EINVAL with
 * the message of the table that owns it. */
wp_status_t wp_model_const_check(size_t i, double value, wp_err_t *err);
/* Applies the constants of values[] (one per index, NaN = leave) to the roofline's params
 * and, when ep is not NULL, to the wide-EP params. */
wp_status_t wp_model_const_apply(const double *values, wp_perf_params_t *perf, wp_ep_params_t *ep,
                                 wp_err_t *err);

#endif
