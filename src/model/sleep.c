/*
 * model/sleep: the wake-up time model's constants and arithmetic (contract in sleep.h).
 *
 * Sources (decimal GB/s):
 *   host link: PCIe Gen5 x16 is 64 GB/s a direction on paper; pinned host-to-device copies
 *     reach ~55 GB/s on H100/H200/H800 (NVIDIA's bandwidthTest figures as commonly
 *     reported); B200 hosts use the same Gen5 x16 link per GPU. A100: PCIe Gen4 x16, 32 GB/s
 *     on paper, ~25 GB/s effective.
 *   storage: 2 GB/s, a local NVMe drive (or a fast network volume) read by safetensors at
 *     about a single drive's sequential rate -- an assumption, not a measurement.
 *   KV re-allocation: 0.1 s, remapping the cache's memory (vLLM's CuMemAllocator) -- an
 *     assumption: vLLM publishes no figure.
 */
#include "model/sleep.h"

#include <string.h>

#define GB 1e9

static const wp_model_wake_link_t links[] = {
    /* gpu    host_bw    storage_bw  kv_realloc_s */
    {"default", 55 * GB, 2 * GB, 0.1}, {"a100", 25 * GB, 2 * GB, 0.1},
    {"h100", 55 * GB, 2 * GB, 0.1},    {"h200", 55 * GB, 2 * GB, 0.1},
    {"h800", 55 * GB, 2 * GB, 0.1},    {"b200", 55 * GB, 2 * GB, 0.1},
};

const wp_model_wake_link_t *wp_model_wake_link(const char *gpu)
{
    const wp_gpu_spec_t *g = gpu != NULL ? wp_gpu_find(gpu) : NULL;
    for (size_t i = 1; g != NULL && i < sizeof(links) / sizeof(links[0]); i++)
        if (strcmp(links[i].gpu, g->name) == 0)
            return &links[i];
    return &links[0];
}

wp_model_wake_t wp_model_wake_time(double weight_bytes, int tp, const char *gpu, int level,
                                   bool weights, bool kv)
{
    const wp_model_wake_link_t *l = wp_model_wake_link(gpu);
    wp_model_wake_t w = {0};
    if (tp < 1)
        tp = 1;
    if (weights) {
        w.host_s = weight_bytes / tp / l->host_bw;
        w.storage_s = level == 2 ? weight_bytes / l->storage_bw : 0;
    }
    if (kv)
        w.kv_s = l->kv_realloc_s;
    w.total_s = w.host_s + w.storage_s + w.kv_s;
    return w;
}
