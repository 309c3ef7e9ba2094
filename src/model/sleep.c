/*
 * model/sleep: the wake-up time model's arithmetic (contract and constants in sleep.h).
 *
 * Sources: the host link is the GPU catalog's host_bw (PCIe Gen4/Gen5 x16 at 85 %,
 * docs/reference.md §11). Storage 2 GB/s: a local NVMe drive (or a fast network volume) read
 * by safetensors at about a single drive's sequential rate -- an assumption, not a
 * measurement. KV re-allocation 0.1 s: remapping the cache's memory (vLLM's CuMemAllocator)
 * -- an assumption: vLLM publishes no figure.
 */
#include "model/sleep.h"

wp_model_wake_t wp_model_wake_time(double weight_bytes, int tp, const char *gpu, int level,
                                   bool weights, bool kv)
{
    const wp_gpu_spec_t *g = gpu != NULL ? wp_gpu_find(gpu) : NULL;
    double host_bw = (g != NULL ? g : wp_gpu_find("h100"))->host_bw;
    wp_model_wake_t w = {0};
    if (tp < 1)
        tp = 1;
    if (weights) {
        w.host_s = weight_bytes / tp / host_bw;
        w.storage_s = level == 2 ? weight_bytes / WP_MODEL_WAKE_STORAGE_BW : 0;
    }
    if (kv)
        w.kv_s = WP_MODEL_WAKE_KV_REALLOC_S;
    w.total_s = w.host_s + w.storage_s + w.kv_s;
    return w;
}
