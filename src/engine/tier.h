/*
 * engine/tier (internal to engine/): the CPU KV offload tier, as vLLM's offloading connector
 * keeps it (docs/cost-levers.md): a bounded LRU of block hashes whose KV sits in host
 * memory. A block the GPU pool evicts is copied here (it becomes the most recent); a full
 * tier drops its least recently used block to make room; a lookup that finds a block makes
 * it the most recent. The tier holds hashes only: the engine models what a hit costs (the
 * load over the host link), not the bytes.
 *
 * Invariants (wp__tier_validate): slots are either in the LRU (count of them) or on the free
 * stack; the map holds exactly the LRU's hashes; count <= cap. Every operation is O(1) and
 * allocates nothing; init allocates. The tier owns its arrays.
 */
#ifndef WP_ENGINE_TIER_H
#define WP_ENGINE_TIER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/map.h"

typedef struct wp__tier_s {
    int32_t cap, count;
    uint64_t *hash;
    int32_t *prev, *next; /* LRU links; head = oldest */
    int32_t head, tail;
    int32_t *free_stack;
    int32_t free_top;
    wp__map_t map; /* hash -> slot */
} wp__tier_t;

/* cap 0: an empty tier that never holds anything (no arrays). */
wp_status_t wp__tier_init(wp__tier_t *t, int32_t cap);
void wp__tier_free(wp__tier_t *t);
bool wp__tier_has(const wp__tier_t *t, uint64_t hash);
/* Makes hash the most recent, adding it when absent; when that needed room, the oldest is
 * dropped: *dropped (may be NULL) set true and *gone to its hash. Nothing with cap 0. */
void wp__tier_put(wp__tier_t *t, uint64_t hash, bool *dropped, uint64_t *gone);
wp_status_t wp__tier_validate(const wp__tier_t *t, wp_err_t *err);

#endif
