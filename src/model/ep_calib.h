/*
 * model/ep_calib: the published wide-EP figures model/ep is checked against, each with the
 * reading of its setup (GPU, ranks, nodes, redundant experts, MTP, batch per rank, context,
 * cache hits, which tokens count), and what wp_ep_decode_throughput or
 * wp_ep_prefill_throughput gives for it. bench/ep_calibration.c prints the table and
 * tests/unit/model/test_ep.c keeps it as a test, both through wp_ep_calib_eval, so the two
 * cannot drift.
 *
 * The rows are static constants (pointers stay valid for the program's life). Which figure
 * set which constant and which rows only check it: each row's `role`, and docs/models.md,
 * "Wide expert parallelism". Pure: no I/O, no allocation.
 */
#ifndef WP_MODEL_EP_CALIB_H
#define WP_MODEL_EP_CALIB_H

#include <stdbool.h>

#include "model/ep.h"

typedef struct wp_ep_calib_row_s {
    const char *name;      /* "DeepSeek decode" */
    const char *source;    /* where the figure is published */
    const char *gpu;       /* catalog name */
    int ranks;             /* the EP group */
    int redundant_experts; /* EPLB's extra replicas */
    int mtp_tokens;        /* draft tokens per decode step (0: none) */
    bool prefill;          /* prefill reading, else decode */
    int batch;             /* decode: sequences per rank; prefill: computed tokens per rank */
    double context;        /* decode: mean KV tokens per sequence; prefill: prompt tokens */
    double hit_rate;       /* prefill: share of a prompt found in the KV cache */
    int gpus_per_figure;   /* the figure is per node (8) or per GPU (1) */
    double published;      /* tokens/s per gpus_per_figure GPUs */
    const char *unit;      /* "output tok/s per node" */
    const char *setup;     /* the setup as read, one line */
    const char *role;      /* "sets epOverlapShare", "check", ... */
    bool in_band;          /* expected within 20 % (false: left outside, docs say why) */
} wp_ep_calib_row_t;

size_t wp_ep_calib_count(void);
const wp_ep_calib_row_t *wp_ep_calib_at(size_t i); /* NULL when i >= count */

/* wellpath's figure for row r (same unit as r->published) with the model's default
 * constants, or with `params` when not NULL (its deployment settings are replaced by the
 * row's); -1.0 with err set when the setup does not initialise. d (may be NULL) gets the
 * step's breakdown. */
double wp_ep_calib_eval(const wp_ep_calib_row_t *r, const wp_ep_params_t *params,
                        wp_ep_step_detail_t *d, wp_err_t *err);

/* (model − published) / published. */
double wp_ep_calib_error(const wp_ep_calib_row_t *r, double model);

#endif
