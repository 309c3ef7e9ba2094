/*
 * engine/kv (internal to engine/): the KV block pool and its prefix cache.
 *
 * Every block is in exactly one of three places: referenced (ref > 0, held by one or more
 * requests' block tables), cached (ref == 0 and hashed: kept in an LRU list, oldest at
 * the head, and findable through the hash map) or free (ref == 0, no hash, on a stack).
 * Allocation pops the free stack, else evicts the LRU head (dropping its hash). A hash
 * maps to at most one block; a block registered under a hash already mapped elsewhere
 * stays unhashed. All operations are O(1) and allocate nothing; only init allocates.
 * The pool owns its arrays; wp__kv_free releases them.
 */
#ifndef WP_ENGINE_KV_H
#define WP_ENGINE_KV_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/map.h"

typedef struct wp__kv_s {
    int32_t num_blocks;
    int32_t *ref;
    uint64_t *hash;
    uint8_t *hashed;
    int32_t *prev; /* LRU links, -1 at the ends; meaningful only for cached blocks */
    int32_t *next;
    int32_t lru_head; /* oldest cached block, evicted first */
    int32_t lru_tail;
    int32_t lru_count;
    int32_t *free_stack;
    int32_t free_top;
    int32_t used; /* blocks with ref > 0 */
    uint64_t evictions;
    wp__map_t map; /* hash -> block */
} wp__kv_t;

wp_status_t wp__kv_init(wp__kv_t *kv, int32_t num_blocks);
void wp__kv_free(wp__kv_t *kv);

/* The cached or referenced block holding hash, or -1. */
int32_t wp__kv_lookup(const wp__kv_t *kv, uint64_t hash);
/* Blocks an allocation could still get: free plus cached. */
int32_t wp__kv_available(const wp__kv_t *kv);
/* Adds a reference to a block found by lookup (taking it off the LRU when cached). */
void wp__kv_ref(wp__kv_t *kv, int32_t b);
/* A block with ref 1 and no hash, or -1 when none is free or cached. When it had to evict
 * a cached block, *evicted (may be NULL) is set true and *hash (may be NULL) to the hash the
 * pool dropped; else *evicted is false. */
int32_t wp__kv_alloc(wp__kv_t *kv, bool *evicted, uint64_t *hash);
/* Drops one reference; at zero the block is cached (LRU tail) when hashed, else freed. */
void wp__kv_release(wp__kv_t *kv, int32_t b);
/* Gives a referenced, unhashed block its hash; false (no change) when the hash is
 * already mapped to another block. */
bool wp__kv_register(wp__kv_t *kv, int32_t b, uint64_t hash);

/* Checks the three-way partition, LRU links, the map against the blocks and, when refs is
 * not NULL, that every block's ref count equals refs[b] (the holders the caller counted). */
wp_status_t wp__kv_validate(const wp__kv_t *kv, const int32_t *refs, wp_err_t *err);

#endif
