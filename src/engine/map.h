/*
 * engine/map (internal to engine/): an open-addressing hash map from uint64 keys to
 * non-negative int32 values, used for the prefix cache (block hash -> block) and for
 * request ids (id -> request slot).
 *
 * Linear probing with backward-shift deletion, so there are no tombstones and a lookup
 * never allocates. The table is a power of two and kept at most half full; only
 * wp__map_reserve allocates. The map owns its arrays; wp__map_free releases them.
 */
#ifndef WP_ENGINE_MAP_H
#define WP_ENGINE_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct wp__map_s {
    uint64_t *keys;
    int32_t *vals; /* -1 marks an empty slot */
    size_t mask;   /* capacity - 1; capacity 0 when never reserved */
    size_t count;
} wp__map_t;

/* Makes room for at least n entries (capacity >= 2n), rehashing when it grows. */
wp_status_t wp__map_reserve(wp__map_t *m, size_t n);
void wp__map_free(wp__map_t *m);
/* The value for key, or -1. */
int32_t wp__map_get(const wp__map_t *m, uint64_t key);
/* Inserts or replaces; the caller has reserved room for count + 1 entries. */
void wp__map_put(wp__map_t *m, uint64_t key, int32_t val);
/* Removes key when present; returns whether it was. */
int wp__map_del(wp__map_t *m, uint64_t key);

#endif
