/*
 * model/sleep: how long vLLM's sleep mode takes to wake a replica (POST /wake_up), from the
 * model's weight bytes, the GPU's host link and, for level 2, the storage the weights are
 * reloaded from. The simulator (sim/sleep.c) answers /wake_up after this long (scaled by
 * its time scale); bench and docs quote it.
 *
 *   level 1 (weights offloaded to CPU memory, KV cache discarded):
 *       weights/tp / host_link  +  kv_realloc_s
 *   level 2 (weights and KV cache discarded):
 *       weights / storage  +  weights/tp / host_link  +  kv_realloc_s
 * Each of the tp GPUs copies its shard over its own host link at once; the storage read is
 * the whole model through one volume. host_link is the GPU catalog's host_bw (model.h: one
 * figure for CPU KV offload loads and wake-ups); an unknown GPU takes the H100's. Pure.
 */
#ifndef WP_MODEL_SLEEP_H
#define WP_MODEL_SLEEP_H

#include "model/model.h"

typedef struct wp_model_wake_s {
    double host_s;    /* the weights' copy from host memory to the GPUs */
    double storage_s; /* level 2: reading the weights from storage (0 at level 1) */
    double kv_s;      /* re-allocating the KV cache */
    double total_s;
} wp_model_wake_t;

/* Storage the weights are read from at level 2, bytes/s, and the KV cache's re-allocation,
 * seconds (assumptions, docs/cost-levers.md). The host link is the GPU catalog's host_bw. */
#define WP_MODEL_WAKE_STORAGE_BW 2e9
#define WP_MODEL_WAKE_KV_REALLOC_S 0.1
/* The wake-up time of a replica of weight_bytes (whole model) over tp GPUs of `gpu` from
 * sleep level 1 or 2 (any other level: 1). weights: wake the weights (tag "weights");
 * kv: re-allocate the KV cache (tag "kv_cache"). */
wp_model_wake_t wp_model_wake_time(double weight_bytes, int tp, const char *gpu, int level,
                                   bool weights, bool kv);

#endif
