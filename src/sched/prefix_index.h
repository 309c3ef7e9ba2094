/*
 * sched/prefix_index: which endpoint probably holds which prompt block in its KV cache.
 *
 * The gateway cannot see the model servers' prefix caches, so it remembers where it sent
 * each request's block hashes (see sched.h for how the chain is hashed) and assumes the
 * endpoint still holds them. Each endpoint keeps an LRU of at most `capacity` block hashes;
 * inserting into a full LRU evicts that endpoint's least recently used block, and inserting
 * a hash the endpoint already holds moves it to the front.
 *
 * One global open-addressing map goes from hash to a short chain of (hash, endpoint) nodes,
 * so matching a request's chain against every endpoint costs O(blocks × holders), and stops
 * at the first block no endpoint still matching holds.
 *
 * Invariants (checked by wp_sched_index_validate): each endpoint's LRU list is well linked
 * and its length equals its count, count <= capacity; every live node is in exactly one LRU
 * list and in exactly one map chain (the chain of its hash); a map slot's chain is non-empty
 * and all its nodes share the hash; no (hash, endpoint) pair appears twice; the sum of the
 * endpoint counts equals the number of live nodes.
 *
 * Memory: the index owns its node pool and map (grown on insert, never in match); about
 * 24 bytes per tracked block plus the map and the pool's spare room, measured by
 * wp_sched_index_bytes. Not thread-safe: one owner drives it.
 */
#ifndef WP_SCHED_PREFIX_INDEX_H
#define WP_SCHED_PREFIX_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define WP_SCHED_INDEX_MAX_ENDPOINTS 1024

typedef struct wp_sched_index_s wp_sched_index_t;

/* capacity: blocks per endpoint LRU, at least 1. Returns NULL (err set) on bad input or no
 * memory. Free with wp_sched_index_free. */
wp_sched_index_t *wp_sched_index_new(uint32_t capacity, wp_err_t *err);
void wp_sched_index_free(wp_sched_index_t *ix);

/* Records that endpoint ep (0..WP_SCHED_INDEX_MAX_ENDPOINTS - 1) now holds hashes[0..n). They are
 * inserted from last to first, so the leading blocks (the most shared, and without which the rest
 * cannot match) end up most recent and are evicted last. WP_ENOMEM leaves the index valid with a
 * prefix of the work done; WP_EINVAL on a bad endpoint. */
wp_status_t wp_sched_index_insert(wp_sched_index_t *ix, int ep, const uint64_t *hashes, size_t n);

/* For each endpoint e (all WP_SCHED_INDEX_MAX_ENDPOINTS of them), matched[e] = the number
 * of consecutive leading hashes e holds (n is at most UINT32_MAX). Returns the longest match.
 * Reads only; allocates nothing. */
size_t wp_sched_index_match(const wp_sched_index_t *ix, const uint64_t *hashes, size_t n,
                            uint32_t *matched);

bool wp_sched_index_contains(const wp_sched_index_t *ix, int ep, uint64_t hash);
/* Forgets one block of endpoint ep; false (no change) when ep does not hold it. */
bool wp_sched_index_remove(wp_sched_index_t *ix, int ep, uint64_t hash);
/* Copies src's blocks of endpoint src_ep into dst as endpoint dst_ep's most recent ones,
 * keeping their LRU order (src may be another index, with another capacity: the oldest
 * go first when dst's LRU is smaller). src is read only; it may not be dst. WP_EINVAL on
 * a bad endpoint or src == dst; WP_ENOMEM leaves dst valid with part of the blocks. */
wp_status_t wp_sched_index_copy_endpoint(wp_sched_index_t *dst, int dst_ep,
                                         const wp_sched_index_t *src, int src_ep);
/* Forgets every block of endpoint ep (e.g. the server restarted and lost its cache). */
void wp_sched_index_clear_endpoint(wp_sched_index_t *ix, int ep);

/* Tracked (hash, endpoint) blocks, in total and for one endpoint. */
size_t wp_sched_index_blocks(const wp_sched_index_t *ix);
size_t wp_sched_index_endpoint_blocks(const wp_sched_index_t *ix, int ep);
/* Bytes the index holds on the heap (pool, map, struct). */
size_t wp_sched_index_bytes(const wp_sched_index_t *ix);

wp_status_t wp_sched_index_validate(const wp_sched_index_t *ix, wp_err_t *err);

#endif
