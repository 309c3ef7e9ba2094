/*
 * sched/kv_view: what the model servers say their KV caches hold, from their own KV events
 * (vLLM's --kv-events-config: BlockStored, BlockRemoved, AllBlocksCleared; kvev/ decodes
 * them, des/ takes them from the engine directly). The "precise-prefix" scorer reads it.
 *
 * Where sched/prefix_index remembers where the gateway *sent* each block (a guess, per
 * gateway), this view holds what each endpoint reported: a block is in it from the event
 * that stored it until the one that removed it, or a clear. Every gateway that subscribes
 * sees the same events, so replicas agree. Hashes are the servers' own (vLLM's 64-bit event
 * form, kvhash/kvhash.h), matched against the same chain computed from the prompt's tokens.
 *
 * A block may be held on the GPU or, with KV offloading, on the CPU (the event's medium);
 * each medium has its own index. Bounded: at most `capacity` blocks per endpoint and medium
 * (the oldest stored go first when an endpoint reports more, which only happens when events
 * were lost; the view then under-reports, never invents). Invariants are prefix_index's,
 * per medium.
 *
 * Memory: owned by the view; about 24 bytes per (block, endpoint, medium) plus the map
 * (wp_sched_kv_bytes). Not thread-safe: one owner drives it.
 */
#ifndef WP_SCHED_KV_VIEW_H
#define WP_SCHED_KV_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "sched/prefix_index.h"

typedef enum {
    WP_SCHED_MEDIUM_GPU = 0,
    WP_SCHED_MEDIUM_CPU,
    WP_SCHED_MEDIUMS,
} wp_sched_medium_t;

typedef struct wp_sched_kv_s wp_sched_kv_t;

/* capacity: blocks per endpoint and medium, >= 1. NULL (err set) on a bad capacity or no
 * memory. */
wp_sched_kv_t *wp_sched_kv_new(uint32_t capacity, wp_err_t *err);
void wp_sched_kv_free(wp_sched_kv_t *kv);

/* BlockStored: endpoint ep holds hashes[0..n) on medium m (a chain, first block first).
 * WP_EINVAL on a bad endpoint or medium; WP_ENOMEM leaves the view valid with part stored. */
wp_status_t wp_sched_kv_store(wp_sched_kv_t *kv, int ep, wp_sched_medium_t m,
                              const uint64_t *hashes, size_t n);
/* BlockRemoved: ep no longer holds these on m. Returns how many it held (the others are
 * ignored: an event for a block stored before the view started, or evicted from it). */
size_t wp_sched_kv_remove(wp_sched_kv_t *kv, int ep, wp_sched_medium_t m, const uint64_t *hashes,
                          size_t n);
/* AllBlocksCleared, or a resync after lost events: ep holds nothing, on any medium. */
void wp_sched_kv_clear(wp_sched_kv_t *kv, int ep);

/* For each endpoint e < n_eps: gpu[e] = the leading blocks of hashes[0..n) e holds on the
 * GPU; any[e] = the leading blocks it holds on either medium (>= gpu[e]). Entries from n_eps
 * to WP_SCHED_INDEX_MAX_ENDPOINTS are zeroed. Reads only; allocates nothing. */
void wp_sched_kv_match(const wp_sched_kv_t *kv, int n_eps, const uint64_t *hashes, size_t n,
                       uint32_t *gpu, uint32_t *any);

/* Blocks held by ep on medium m (ep < 0: all endpoints; m == WP_SCHED_MEDIUMS: both). */
size_t wp_sched_kv_blocks(const wp_sched_kv_t *kv, int ep, wp_sched_medium_t m);
size_t wp_sched_kv_bytes(const wp_sched_kv_t *kv);

/* A reload: dst_ep takes src_ep's blocks, both media, in their order. src may not be dst.
 * WP_EINVAL on bad endpoints; WP_ENOMEM leaves dst valid with part of them. */
wp_status_t wp_sched_kv_copy_endpoint(wp_sched_kv_t *dst, int dst_ep, const wp_sched_kv_t *src,
                                      int src_ep);

/* Both indexes' invariants, and no blocks for endpoints at or past n_eps. */
wp_status_t wp_sched_kv_validate(const wp_sched_kv_t *kv, int n_eps, wp_err_t *err);

#endif
