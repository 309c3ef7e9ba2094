/*
 * cli/desconf: a parsed topology as the virtual-time simulator's configuration, shared by
 * `wellpath simulate` (a topology file) and `wellpath plan` (the topology it writes for
 * each candidate), so that what plan ranks is exactly what simulate runs.
 */
#include "cli/desconf.h"

#include "model/sleep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A topology with prefill and decode sections: two pools, each with its replicas (groups of
 * expertParallel ranks with it) and TP, and the KV link of nixl.transport. em holds one
 * perf model (and wide-EP model) per pool. */
static wp_status_t configure_pd(const wp_topology_t *topo, const wp_sim_config_t *sc,
                                wp_des_config_t *dc, wp_cli_engine_models_t *em,
                                const wp_model_spec_t **m, wp_err_t *err)
{
    const wp_topology_pool_t *pools[2] = {&topo->prefill, &topo->decode};
    for (int p = 0; p < 2; p++) {
        wp_sim_config_t c = *sc;
        c.replicas = pools[p]->replicas;
        c.tensor_parallel = pools[p]->tensor_parallel;
        wp_status_t st =
            wp_sim_engine_setup(&c, m, &em->perf[p], &em->ep[p], &dc->pools[p].engine, err);
        if (st != WP_OK)
            return st;
        dc->pools[p].ranks = wp_sim_ranks(&c);
        dc->pools[p].ep = &em->ep[p];
        dc->pools[p].n = c.replicas * dc->pools[p].ranks;
        dc->pools[p].role = p == 0 ? WP_SCHED_ROLE_PREFILL : WP_SCHED_ROLE_DECODE;
    }
    dc->n_pools = 2;
    dc->pd_threshold = topo->scheduler.pd_threshold;
    if (wp_model_link(topo->nixl.present ? topo->nixl.transport : "rdma", &dc->kv_link_bw,
                      &dc->kv_link_latency_s) != WP_OK)
        return wp_err_set(err, WP_EINVAL, "nixl.transport '%s': expected rdma or tcp",
                          topo->nixl.transport);
    return WP_OK;
}

/* The legacy keys simulation.prefillMfu, decodeMbu and stepOverheadMs set a constant too. */
static bool legacy_set(const wp_sim_config_t *sc, const char *key)
{
    return (strcmp(key, "prefillMfu") == 0 && sc->prefill_mfu > 0) ||
           (strcmp(key, "decodeMbu") == 0 && sc->decode_mbu > 0) ||
           (strcmp(key, "stepOverheadMs") == 0 && sc->step_overhead_ms >= 0);
}

/* Every engine-model step constant the topology leaves unset, at the end of its calibrated
 * range that makes steps slower (end > 0) or faster (end < 0); memory constants stay, and
 * the wide-EP model's when there is no group. */
static void engine_model_at_end(wp_sim_config_t *sc, int end)
{
    for (size_t i = 0; end != 0 && i < wp_model_const_count(); i++) {
        const wp_perf_const_t *k = wp_model_const_at(i);
        if (wp_model_const_is_ep(i) && sc->data_parallel < 2)
            continue; /* no wide-EP group to move */
        if (isnan(sc->engine_model[i]) && !legacy_set(sc, k->key) && !k->memory)
            sc->engine_model[i] = (end > 0) == k->slow_hi ? k->hi : k->lo;
    }
}

/* What the gateway's part of the topology sets in the des config. */
static void fill_gateway(wp_des_config_t *dc, const wp_gateway_config_t *gc,
                         const wp_sim_config_t *sc, const wp_model_spec_t *model)
{
    dc->sched = gc->sched;
    dc->model = model->hf_id;
    dc->vocab = (uint32_t)model->vocab;
    dc->scrape_interval_s = (double)gc->scrape_interval_ms / 1000.0;
    dc->seed = sc->seed;
    dc->max_in_flight = gc->max_in_flight;
    dc->admit = wp_gateway_admit_cfg(&gc->flow);
    dc->retries = gc->retries;
    dc->outlier = wp_gateway_outlier_cfg(&gc->outlier);
}

/* gateway.scaleToZero, as the live gateway reads it (gateway/wake.c), and the time a server
 * of the pool takes to wake (model/sleep.h). */
static void scale_to_zero(wp_des_config_t *dc, const wp_gateway_s2z_cfg_t *c,
                          const wp_sim_config_t *sc)
{
    dc->wake = wp_gateway_wake_cfg(c);
    const wp_perf_t *perf = dc->n_pools == 2 ? dc->pools[1].engine.perf : dc->engine.perf;
    int tp = perf != NULL ? perf->tp : 1;
    dc->wake_s = perf != NULL ? wp_model_wake_time(perf->weight_bytes, tp, sc->gpu, dc->wake.level,
                                                   true, true)
                                    .total_s
                              : 0.0;
}

wp_status_t wp_cli_des_configure(const wp_topology_t *topo, int end, wp_des_config_t *dc,
                                 wp_sim_config_t *sc, wp_cli_engine_models_t *em,
                                 const wp_model_spec_t **model, wp_err_t *err)
{
    wp_gateway_config_t *gc = malloc(sizeof(*gc)); /* large: not on a worker's stack */
    if (gc == NULL)
        return wp_err_set(err, WP_ENOMEM, "out of memory");
    wp_status_t st = wp_cli_gateway_config(topo, gc, err);
    if (st == WP_OK)
        st = wp_cli_sim_config(topo, sc, err);
    engine_model_at_end(sc, end);
    /* P/D: the two pools replace the vllm one (whose TP the model need not fit at). */
    bool pd = topo->prefill.present && topo->decode.present;
    if (st == WP_OK)
        st = pd ? configure_pd(topo, sc, dc, em, model, err)
                : wp_sim_engine_setup(sc, model, &em->perf[0], &em->ep[0], &dc->engine, err);
    if (st == WP_OK) {
        fill_gateway(dc, gc, sc, *model);
        dc->gateways = topo->gateway.replicas;
        dc->share_routes = topo->gateway.share_routes;
        scale_to_zero(dc, &gc->scale_to_zero, sc);
    }
    free(gc);
    if (st != WP_OK)
        return st;
    dc->ranks = wp_sim_ranks(sc);
    dc->ep = &em->ep[0];
    dc->n_engines = sc->replicas * dc->ranks;
    dc->fault_replicas = sc->fault_replicas;
    dc->faults.n = 0; /* the errors; what needs a connection is left to `wellpath up` */
    for (int i = 0; i < sc->faults.n; i++) {
        if (wp_fault_status(sc->faults.f[i].kind) != 0)
            dc->faults.f[dc->faults.n++] = sc->faults.f[i];
        else
            fprintf(stderr,
                    "wellpath simulate: simulation.faults: '%s' is not simulated in virtual "
                    "time (429, 500, 503 and context-length are); left out\n",
                    wp_fault_kind_name(sc->faults.f[i].kind));
    }
    return WP_OK;
}
