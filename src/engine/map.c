/*
 * engine/map: see map.h.
 *
 * A key's home slot is wp_hash_mix(key) & mask; probing walks forward. Deletion shifts
 * later entries of the same probe run back into the hole (an entry moves when its home
 * slot is not cyclically between the hole and its current slot), which keeps every
 * run contiguous without tombstones.
 */
#include "engine/map.h"

#include <stdlib.h>

#include "base/hash.h"

static size_t home(const wp__map_t *m, uint64_t key)
{
    return (size_t)wp_hash_mix(key) & m->mask;
}

static size_t find_slot(const wp__map_t *m, uint64_t key)
{
    size_t i = home(m, key);
    while (m->vals[i] >= 0 && m->keys[i] != key) {
        i = (i + 1) & m->mask;
    }
    return i;
}

wp_status_t wp__map_reserve(wp__map_t *m, size_t n)
{
    size_t cap = m->keys != NULL ? m->mask + 1 : 0;
    if (n * 2 <= cap) {
        return WP_OK;
    }
    size_t want = 16;
    while (want < n * 2) {
        want *= 2;
    }
    wp__map_t next = {.keys = malloc(want * sizeof(uint64_t)),
                      .vals = malloc(want * sizeof(int32_t)),
                      .mask = want - 1,
                      .count = 0};
    if (next.keys == NULL || next.vals == NULL) {
        free(next.keys);
        free(next.vals);
        return WP_ENOMEM;
    }
    for (size_t i = 0; i < want; i++) {
        next.vals[i] = -1;
    }
    for (size_t i = 0; i < cap; i++) {
        if (m->vals[i] >= 0) {
            wp__map_put(&next, m->keys[i], m->vals[i]);
        }
    }
    wp__map_free(m);
    *m = next;
    return WP_OK;
}

void wp__map_free(wp__map_t *m)
{
    free(m->keys);
    free(m->vals);
    *m = (wp__map_t){0};
}

int32_t wp__map_get(const wp__map_t *m, uint64_t key)
{
    if (m->keys == NULL) {
        return -1;
    }
    return m->vals[find_slot(m, key)];
}

void wp__map_put(wp__map_t *m, uint64_t key, int32_t val)
{
    size_t i = find_slot(m, key);
    if (m->vals[i] < 0) {
        m->count++;
    }
    m->keys[i] = key;
    m->vals[i] = val;
}

int wp__map_del(wp__map_t *m, uint64_t key)
{
    if (m->keys == NULL) {
        return 0;
    }
    size_t hole = find_slot(m, key);
    if (m->vals[hole] < 0) {
        return 0;
    }
    m->vals[hole] = -1;
    m->count--;
    for (size_t j = (hole + 1) & m->mask; m->vals[j] >= 0; j = (j + 1) & m->mask) {
        size_t h = home(m, m->keys[j]);
        /* Leave j alone when its home lies cyclically in (hole, j]. */
        int stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
        if (!stays) {
            m->keys[hole] = m->keys[j];
            m->vals[hole] = m->vals[j];
            m->vals[j] = -1;
            hole = j;
        }
    }
    return 1;
}
