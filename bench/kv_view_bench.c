/*
 * bench/kv_view_bench: the KV view's memory per indexed block and its speed (sched/kv_view.h,
 * what precise-prefix reads).
 *
 * 8 endpoints each report (BlockStored) 100,000 GPU blocks in chains of 64, as servers of
 * about 1.6M KV tokens each would; then BlockRemoved for a tenth of them, and lookups of a
 * 512-block prompt whose first 256 blocks one endpoint holds. Prints bytes per indexed block
 * (wp_sched_kv_bytes over blocks held), nanoseconds per stored and removed block, and
 * microseconds per match. Usage: kv_view_bench [blocks_per_endpoint]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/hash.h"
#include "sched/kv_view.h"

#define ENDPOINTS 8
#define CHAIN 64

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    size_t per_ep = argc > 1 ? (size_t)atol(argv[1]) : 100000;
    wp_err_t err;
    wp_sched_kv_t *kv = wp_sched_kv_new(1u << 20, &err);
    if (kv == NULL) {
        fprintf(stderr, "kv_view_bench: %s\n", err.msg);
        return 1;
    }
    uint64_t chain[CHAIN];
    double t0 = now_s();
    for (int e = 0; e < ENDPOINTS; e++)
        for (size_t b = 0; b < per_ep; b += CHAIN) {
            for (int i = 0; i < CHAIN; i++)
                chain[i] = wp_hash_mix(((uint64_t)e << 40) ^ (b + (size_t)i + 1));
            wp_sched_kv_store(kv, e, WP_SCHED_MEDIUM_GPU, chain, CHAIN);
        }
    double t1 = now_s();
    size_t blocks = wp_sched_kv_blocks(kv, -1, WP_SCHED_MEDIUMS);
    size_t bytes = wp_sched_kv_bytes(kv);
    size_t removed = 0;
    for (int e = 0; e < ENDPOINTS; e++)
        for (size_t b = 0; b < per_ep; b += 10) {
            uint64_t h = wp_hash_mix(((uint64_t)e << 40) ^ (b + 1));
            removed += wp_sched_kv_remove(kv, e, WP_SCHED_MEDIUM_GPU, &h, 1);
        }
    double t2 = now_s();
    static uint64_t prompt[512];
    for (int i = 0; i < 512; i++)
        prompt[i] = i < 256 ? wp_hash_mix(((uint64_t)3 << 40) ^ (uint64_t)(i + 2 + i / 9))
                            : wp_hash_mix((uint64_t)i * 7919);
    uint32_t gpu[WP_SCHED_INDEX_MAX_ENDPOINTS], any[WP_SCHED_INDEX_MAX_ENDPOINTS];
    int rounds = 20000;
    double t3 = now_s();
    for (int r = 0; r < rounds; r++)
        wp_sched_kv_match(kv, ENDPOINTS, prompt, 512, gpu, any);
    double t4 = now_s();
    printf("kv_view_bench: %d endpoints x %zu blocks: %zu blocks indexed, %zu bytes, %.1f bytes "
           "per block; store %.0f ns/block, remove %.0f ns/block (%zu), match of 512 blocks "
           "%.2f us\n",
           ENDPOINTS, per_ep, blocks, bytes, (double)bytes / (double)blocks,
           (t1 - t0) / (double)blocks * 1e9, (t2 - t1) / (double)(removed ? removed : 1) * 1e9,
           removed, (t4 - t3) / rounds * 1e6);
    wp_sched_kv_free(kv);
    return 0;
}
