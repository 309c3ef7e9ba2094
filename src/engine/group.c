/*
 * engine/group: a step of a group is a step of each rank's engine at the same `now`; the
 * ranks' batches then give the group's duration (model/ep.h for a wide group, the engine's
 * own for a group of one), which every rank's result carries.
 */
#include "engine/group.h"

#include <stdlib.h>

struct wp_group_s {
    wp_group_config_t cfg;
    wp_engine_t **engines;
    wp_engine_step_t *steps;
    wp_perf_batch_t *batches;
};

wp_status_t wp_group_rank_config(const wp_ep_t *ep, const wp_engine_config_t *base,
                                 wp_engine_config_t *out, wp_err_t *err)
{
    *out = *base;
    out->perf = &ep->perf;
    int64_t blocks = wp_ep_kv_capacity_tokens(ep) / base->block_size;
    if (blocks < 1)
        return wp_err_set(err, WP_EINVAL,
                          "wide-EP rank: the KV pool (%lld tokens) holds less than one block of "
                          "%d tokens",
                          (long long)wp_ep_kv_capacity_tokens(ep), (int)base->block_size);
    out->num_blocks = blocks > INT32_MAX ? INT32_MAX : (int32_t)blocks;
    int64_t pool = (int64_t)out->num_blocks * out->block_size;
    if (out->max_model_len < 1) /* base sized on one GPU, where the model may not fit */
        out->max_model_len = ep->perf.model->max_model_len;
    if (out->max_model_len > pool)
        out->max_model_len = (int32_t)pool;
    return WP_OK;
}

static wp_status_t check(const wp_group_config_t *c, wp_err_t *err)
{
    if (c->ranks < 1 || c->ranks > WP_GROUP_MAX_RANKS)
        return wp_err_set(err, WP_EINVAL, "engine group: %d ranks, expected 1..%d", c->ranks,
                          WP_GROUP_MAX_RANKS);
    if (c->ranks > 1 && (c->ep == NULL || c->ep->ranks != c->ranks))
        return wp_err_set(err, WP_EINVAL,
                          "engine group: %d ranks need an expert-parallel model of as many ranks "
                          "(got %d)",
                          c->ranks, c->ep != NULL ? c->ep->ranks : 0);
    return WP_OK;
}

wp_status_t wp_group_new(const wp_group_config_t *cfg, wp_group_t **out, wp_err_t *err)
{
    *out = NULL;
    wp_status_t st = check(cfg, err);
    if (st != WP_OK)
        return st;
    wp_group_t *g = calloc(1, sizeof(*g));
    size_t n = (size_t)cfg->ranks;
    if (g == NULL || (g->engines = calloc(n, sizeof(*g->engines))) == NULL ||
        (g->steps = calloc(n, sizeof(*g->steps))) == NULL ||
        (g->batches = calloc(n, sizeof(*g->batches))) == NULL) {
        wp_group_free(g);
        return wp_err_set(err, WP_ENOMEM, "engine group: out of memory for %d ranks", cfg->ranks);
    }
    g->cfg = *cfg;
    for (int r = 0; r < cfg->ranks; r++) {
        if ((st = wp_engine_new(&cfg->engine, &g->engines[r], err)) != WP_OK) {
            wp_group_free(g);
            return st;
        }
    }
    *out = g;
    return WP_OK;
}

void wp_group_free(wp_group_t *g)
{
    if (g == NULL)
        return;
    for (int r = 0; g->engines != NULL && r < g->cfg.ranks; r++)
        wp_engine_free(g->engines[r]);
    free(g->engines);
    free(g->steps);
    free(g->batches);
    free(g);
}

int wp_group_ranks(const wp_group_t *g)
{
    return g->cfg.ranks;
}

wp_engine_t *wp_group_engine(wp_group_t *g, int rank)
{
    return rank >= 0 && rank < g->cfg.ranks ? g->engines[rank] : NULL;
}

wp_status_t wp_group_reset(wp_group_t *g, int rank, wp_err_t *err)
{
    if (rank < 0 || rank >= g->cfg.ranks)
        return wp_err_set(err, WP_EINVAL, "engine group: no rank %d of %d", rank, g->cfg.ranks);
    g->steps[rank] = (wp_engine_step_t){0}; /* its events are gone, whatever comes next */
    wp_engine_t *fresh = NULL;
    wp_status_t st = wp_engine_new(&g->cfg.engine, &fresh, err);
    if (st != WP_OK)
        return st;
    wp_engine_free(g->engines[rank]);
    g->engines[rank] = fresh;
    return WP_OK;
}

bool wp_group_busy(const wp_group_t *g)
{
    for (int r = 0; r < g->cfg.ranks; r++)
        if (wp_engine_busy(g->engines[r]))
            return true;
    return false;
}

wp_status_t wp_group_step(wp_group_t *g, double now, wp_group_step_t *out)
{
    *out = (wp_group_step_t){.ranks = g->steps, .n_ranks = g->cfg.ranks};
    for (int r = 0; r < g->cfg.ranks; r++) {
        wp_status_t st = wp_engine_step(g->engines[r], now, &g->steps[r]);
        if (st != WP_OK)
            return st;
        g->batches[r] = g->steps[r].batch;
        out->n_scheduled += g->steps[r].n_scheduled;
    }
    if (g->cfg.ranks == 1)
        out->duration_s = g->steps[0].duration_s;
    else
        out->duration_s = wp_ep_step_time(g->cfg.ep, g->batches, g->cfg.ranks, &out->ep);
    for (int r = 0; r < g->cfg.ranks; r++)
        g->steps[r].duration_s = out->duration_s;
    return WP_OK;
}
