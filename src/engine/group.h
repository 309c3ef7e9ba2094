/*
 * engine/group: engines that step together, pure. Every simulated server is a group: a
 * group of one is a plain engine (its step lasts the engine's own wp_perf_step_time); a
 * wide-EP group (DESIGN.md's Path 3, model/ep.h) is N data-parallel ranks, each an engine
 * with its own scheduler, batch and KV pool, that step in lock step: when any rank has work
 * every rank steps (an idle rank runs a dummy pass and still joins each MoE layer's
 * all-to-alls, as vLLM's DP coordinator makes it), and the step lasts wp_ep_step_time of the
 * ranks' batches, which is the slowest rank's. `sim/` drives groups in real time, `des/` in
 * virtual time, with the same calls.
 *
 * Lifecycle: wp_group_new, then wp_engine_add / wp_engine_abort on wp_group_engine(g, r) and
 * wp_group_step, then wp_group_free. The group owns its engines; it borrows cfg->engine.perf
 * and cfg->ep (both must outlive it). A step's results (out->ranks[r], with each rank's
 * events) belong to the group and stay valid until the next wp_group_step, wp_group_reset of
 * that rank or wp_group_free. Invariant: out->ranks[r].duration_s equals out->duration_s for
 * every rank of a stepping group (the group's clock is one clock). Deterministic: the same
 * calls give the same steps.
 */
#ifndef WP_ENGINE_GROUP_H
#define WP_ENGINE_GROUP_H

#include <stdbool.h>

#include "base/err.h"
#include "engine/engine.h"
#include "model/ep.h"

#define WP_GROUP_MAX_RANKS 1024

typedef struct wp_group_s wp_group_t;

typedef struct wp_group_config_s {
    int ranks;                 /* 1, or the wide-EP group's data-parallel ranks (= ep->ranks) */
    wp_engine_config_t engine; /* each rank's engine (from wp_group_rank_config when wide) */
    const wp_ep_t *ep;         /* NULL for a group of one; required when ranks > 1 */
} wp_group_config_t;

/* A rank's engine config for a wide-EP group: `base` (block size, limits, prefix caching)
 * with the per-token model of ep (ep->perf) and ep's per-rank KV pool: num_blocks =
 * kv_capacity_tokens / block_size, max_model_len (the model's when base has none) lowered to
 * the pool when it is smaller.
 * WP_EINVAL when the pool holds less than one block. */
wp_status_t wp_group_rank_config(const wp_ep_t *ep, const wp_engine_config_t *base,
                                 wp_engine_config_t *out, wp_err_t *err);

/* WP_EINVAL for ranks outside 1..WP_GROUP_MAX_RANKS, a wide group without ep or whose
 * ranks differ from ep->ranks, or an engine config wp_engine_new refuses. */
wp_status_t wp_group_new(const wp_group_config_t *cfg, wp_group_t **out, wp_err_t *err);
void wp_group_free(wp_group_t *g);

int wp_group_ranks(const wp_group_t *g);
/* The rank's engine (NULL out of range); replaced by wp_group_reset. */
wp_engine_t *wp_group_engine(wp_group_t *g, int rank);
/* Replaces the rank's engine with an empty one (a restarted process): its requests are
 * gone without events, its last step's results too (also when the new engine cannot be
 * made: then the old one stays, its events of the running step dropped); the other ranks
 * keep theirs. */
wp_status_t wp_group_reset(wp_group_t *g, int rank, wp_err_t *err);

/* Whether any rank has a request waiting or running. */
bool wp_group_busy(const wp_group_t *g);

typedef struct wp_group_step_s {
    double duration_s;             /* the group's step; 0 when no rank had work */
    const wp_engine_step_t *ranks; /* ranks[r]: rank r's step (events, batch, counts) */
    int n_ranks;
    /* Requests that ran, over all ranks. 0: nothing could run although a rank is busy (its
     * waiting requests need blocks held for remote decodes): no time passes and no event
     * comes; the caller waits for blocks to be freed (a release or an abort) to step again
     * rather than stepping at once, which would spin. */
    int n_scheduled;
    wp_ep_step_detail_t ep; /* wide groups: the breakdown of the step (zero otherwise) */
} wp_group_step_t;

/* Plans and runs one step of every rank at time now (seconds). */
wp_status_t wp_group_step(wp_group_t *g, double now, wp_group_step_t *out);

#endif
