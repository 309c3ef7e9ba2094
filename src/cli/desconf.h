/*
 * cli/desconf: the des configuration a topology describes (pools, wide-EP groups, P/D, the
 * gateway's scheduler and admission, faults), for `wellpath simulate` and `wellpath plan`.
 * The des config borrows the perf and EP models in wp_cli_engine_models_t, which the caller
 * owns and keeps while the config is used. Safe to call from several threads at once.
 */
#ifndef WP_CLI_DESCONF_H
#define WP_CLI_DESCONF_H

#include "cli/cli.h"
#include "des/des.h"

/* The perf models of the pools (and their wide-EP models): what the des config borrows. */
typedef struct wp_cli_engine_models_s {
    wp_perf_t perf[2];
    wp_ep_t ep[2];
} wp_cli_engine_models_t;

/* end: 0 the calibrated engine model, > 0 the slow end of every constant the topology leaves
 * unset, < 0 the fast end (docs/calibration.md). The topology is read, not kept. */
wp_status_t wp_cli_des_configure(const wp_topology_t *topo, int end, wp_des_config_t *dc,
                                 wp_sim_config_t *sc, wp_cli_engine_models_t *em,
                                 const wp_model_spec_t **model, wp_err_t *err);

#endif
