/*
 * sched/kv_view: one prefix index per medium (see kv_view.h). The GPU run of every endpoint
 * comes from the GPU index's match, which stops at the first block no endpoint holds; the
 * run over either medium goes on from there per endpoint, only when the CPU index holds
 * anything.
 */
#include "sched/kv_view.h"

#include <stdlib.h>
#include <string.h>

struct wp_sched_kv_s {
    wp_sched_index_t *ix[WP_SCHED_MEDIUMS];
};

wp_sched_kv_t *wp_sched_kv_new(uint32_t capacity, wp_err_t *err)
{
    wp_sched_kv_t *kv = calloc(1, sizeof(*kv));
    if (!kv) {
        wp_err_set(err, WP_ENOMEM, "kv view: out of memory");
        return NULL;
    }
    for (int m = 0; m < WP_SCHED_MEDIUMS; m++) {
        kv->ix[m] = wp_sched_index_new(capacity, err);
        if (!kv->ix[m]) {
            wp_sched_kv_free(kv);
            return NULL;
        }
    }
    return kv;
}

void wp_sched_kv_free(wp_sched_kv_t *kv)
{
    if (!kv)
        return;
    for (int m = 0; m < WP_SCHED_MEDIUMS; m++)
        wp_sched_index_free(kv->ix[m]);
    free(kv);
}

static bool medium_ok(wp_sched_medium_t m)
{
    return m >= WP_SCHED_MEDIUM_GPU && m < WP_SCHED_MEDIUMS;
}

wp_status_t wp_sched_kv_store(wp_sched_kv_t *kv, int ep, wp_sched_medium_t m,
                              const uint64_t *hashes, size_t n)
{
    if (!medium_ok(m))
        return WP_EINVAL;
    return wp_sched_index_insert(kv->ix[m], ep, hashes, n);
}

size_t wp_sched_kv_remove(wp_sched_kv_t *kv, int ep, wp_sched_medium_t m, const uint64_t *hashes,
                          size_t n)
{
    size_t removed = 0;
    for (size_t i = 0; medium_ok(m) && i < n; i++)
        removed += wp_sched_index_remove(kv->ix[m], ep, hashes[i]);
    return removed;
}

void wp_sched_kv_clear(wp_sched_kv_t *kv, int ep)
{
    for (int m = 0; m < WP_SCHED_MEDIUMS; m++)
        wp_sched_index_clear_endpoint(kv->ix[m], ep);
}

void wp_sched_kv_match(const wp_sched_kv_t *kv, int n_eps, const uint64_t *hashes, size_t n,
                       uint32_t *gpu, uint32_t *any)
{
    wp_sched_index_match(kv->ix[WP_SCHED_MEDIUM_GPU], hashes, n, gpu);
    for (int e = n_eps; e < WP_SCHED_INDEX_MAX_ENDPOINTS; e++)
        gpu[e] = 0;
    memcpy(any, gpu, WP_SCHED_INDEX_MAX_ENDPOINTS * sizeof(*any));
    const wp_sched_index_t *g = kv->ix[WP_SCHED_MEDIUM_GPU], *c = kv->ix[WP_SCHED_MEDIUM_CPU];
    if (wp_sched_index_blocks(c) == 0)
        return;
    if (n > UINT32_MAX)
        n = UINT32_MAX;
    for (int e = 0; e < n_eps; e++) {
        size_t i = any[e];
        while (i < n && (wp_sched_index_contains(c, e, hashes[i]) ||
                         wp_sched_index_contains(g, e, hashes[i])))
            i++;
        any[e] = (uint32_t)i;
    }
}

size_t wp_sched_kv_blocks(const wp_sched_kv_t *kv, int ep, wp_sched_medium_t m)
{
    size_t total = 0;
    for (int k = 0; k < WP_SCHED_MEDIUMS; k++) {
        if (m != WP_SCHED_MEDIUMS && (int)m != k)
            continue;
        total += ep < 0 ? wp_sched_index_blocks(kv->ix[k])
                        : wp_sched_index_endpoint_blocks(kv->ix[k], ep);
    }
    return total;
}

size_t wp_sched_kv_bytes(const wp_sched_kv_t *kv)
{
    size_t bytes = sizeof(*kv);
    for (int m = 0; m < WP_SCHED_MEDIUMS; m++)
        bytes += wp_sched_index_bytes(kv->ix[m]);
    return bytes;
}

wp_status_t wp_sched_kv_copy_endpoint(wp_sched_kv_t *dst, int dst_ep, const wp_sched_kv_t *src,
                                      int src_ep)
{
    for (int m = 0; m < WP_SCHED_MEDIUMS; m++) {
        wp_status_t st = wp_sched_index_copy_endpoint(dst->ix[m], dst_ep, src->ix[m], src_ep);
        if (st != WP_OK)
            return st;
    }
    return WP_OK;
}

wp_status_t wp_sched_kv_validate(const wp_sched_kv_t *kv, int n_eps, wp_err_t *err)
{
    for (int m = 0; m < WP_SCHED_MEDIUMS; m++) {
        wp_status_t st = wp_sched_index_validate(kv->ix[m], err);
        if (st != WP_OK)
            return st;
        for (int e = n_eps; e < WP_SCHED_INDEX_MAX_ENDPOINTS; e++)
            if (wp_sched_index_endpoint_blocks(kv->ix[m], e) != 0)
                return wp_err_set(err, WP_EINVAL, "kv view holds blocks of unknown endpoint %d", e);
    }
    return WP_OK;
}
