/*
 * sched/active: an open-addressing table of (hash, count) slots with linear probing.
 *
 * A slot is empty when its count is 0, so every 64-bit value can be a key. The table keeps
 * its load at or under one half: add reserves room for all of its hashes first (so it
 * either adds them all or none), doubling the table and placing every entry again. A count
 * that reaches 0 empties its slot and the entries after it in the same probe run are moved
 * back into the hole when their home slot allows (backward-shift deletion), so there are no
 * tombstones and a lookup stops at the first empty slot.
 */
#include "sched/active.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"

#define CAP_MIN 64u
#define ABSENT SIZE_MAX

static size_t home(size_t cap, uint64_t hash)
{
    return (size_t)wp_hash_mix(hash) & (cap - 1);
}

/* The slot holding hash, or ABSENT. */
static size_t find(const wp_sched_active_t *a, uint64_t hash)
{
    if (a->cap == 0)
        return ABSENT;
    for (size_t i = home(a->cap, hash);; i = (i + 1) & (a->cap - 1)) {
        if (a->slots[i].count == 0)
            return ABSENT;
        if (a->slots[i].hash == hash)
            return i;
    }
}

/* The first empty slot of hash's probe run in a table of cap slots. */
static size_t free_slot(const wp_sched_active_slot_t *slots, size_t cap, uint64_t hash)
{
    size_t i = home(cap, hash);
    while (slots[i].count != 0)
        i = (i + 1) & (cap - 1);
    return i;
}

/* Room for `extra` more distinct hashes at a load of at most one half. */
static wp_status_t reserve(wp_sched_active_t *a, size_t extra)
{
    size_t need = a->unique + extra;
    if (need <= a->cap / 2)
        return WP_OK;
    if (need > WP_SCHED_ACTIVE_MAX_UNIQUE)
        return WP_ELIMIT;
    size_t cap = a->cap ? a->cap : CAP_MIN;
    while (cap / 2 < need)
        cap *= 2;
    wp_sched_active_slot_t *slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return WP_ENOMEM;
    for (size_t i = 0; i < a->cap; i++)
        if (a->slots[i].count != 0)
            slots[free_slot(slots, cap, a->slots[i].hash)] = a->slots[i];
    free(a->slots);
    a->slots = slots;
    a->cap = cap;
    return WP_OK;
}

wp_status_t wp_sched_active_add(wp_sched_active_t *a, const uint64_t *hashes, size_t n)
{
    wp_status_t st = reserve(a, n);
    if (st != WP_OK)
        return st;
    for (size_t k = 0; k < n; k++) {
        size_t i = find(a, hashes[k]);
        if (i == ABSENT) {
            i = free_slot(a->slots, a->cap, hashes[k]);
            a->slots[i].hash = hashes[k];
            a->unique++;
        }
        a->slots[i].count++;
        a->refs++;
    }
    return WP_OK;
}

/* Empties slot `hole` and pulls later members of its probe run back into it. */
static void empty_slot(wp_sched_active_t *a, size_t hole)
{
    size_t mask = a->cap - 1;
    a->slots[hole].count = 0;
    for (size_t j = (hole + 1) & mask; a->slots[j].count != 0; j = (j + 1) & mask) {
        size_t h = home(a->cap, a->slots[j].hash);
        /* It may move back only when its home is not inside (hole, j], cyclically. */
        bool in_run = hole < j ? hole < h && h <= j : hole < h || h <= j;
        if (!in_run) {
            a->slots[hole] = a->slots[j];
            a->slots[j].count = 0;
            hole = j;
        }
    }
    a->unique--;
}

size_t wp_sched_active_remove(wp_sched_active_t *a, const uint64_t *hashes, size_t n)
{
    size_t missing = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = find(a, hashes[k]);
        if (i == ABSENT) {
            missing++;
            continue;
        }
        a->refs--;
        if (--a->slots[i].count == 0)
            empty_slot(a, i);
    }
    return missing;
}

uint32_t wp_sched_active_count(const wp_sched_active_t *a, uint64_t hash)
{
    size_t i = find(a, hash);
    return i == ABSENT ? 0 : a->slots[i].count;
}

size_t wp_sched_active_missing(const wp_sched_active_t *a, const uint64_t *hashes, size_t n)
{
    if (a->unique == 0)
        return n;
    size_t missing = 0;
    for (size_t k = 0; k < n; k++)
        missing += find(a, hashes[k]) == ABSENT;
    return missing;
}

size_t wp_sched_active_unique(const wp_sched_active_t *a)
{
    return a->unique;
}

wp_status_t wp_sched_active_copy(wp_sched_active_t *dst, const wp_sched_active_t *src)
{
    if (dst == src)
        return WP_OK;
    wp_sched_active_slot_t *slots = NULL;
    if (src->cap > 0) {
        slots = malloc(src->cap * sizeof(*slots));
        if (slots == NULL)
            return WP_ENOMEM;
        memcpy(slots, src->slots, src->cap * sizeof(*slots));
    }
    free(dst->slots);
    *dst = *src;
    dst->slots = slots;
    return WP_OK;
}

void wp_sched_active_clear(wp_sched_active_t *a)
{
    free(a->slots);
    *a = (wp_sched_active_t){0};
}

wp_status_t wp_sched_active_validate(const wp_sched_active_t *a, wp_err_t *err)
{
    if ((a->cap == 0) != (a->slots == NULL) || (a->cap & (a->cap - 1)) != 0 ||
        a->unique > a->cap / 2)
        return wp_err_set(err, WP_EINVAL, "active set: %zu distinct in a table of %zu", a->unique,
                          a->cap);
    size_t used = 0;
    uint64_t refs = 0;
    for (size_t i = 0; i < a->cap; i++) {
        if (a->slots[i].count == 0)
            continue;
        used++;
        refs += a->slots[i].count;
        if (find(a, a->slots[i].hash) != i)
            return wp_err_set(err, WP_EINVAL, "active set: slot %zu unreachable from its home", i);
    }
    if (used != a->unique || refs != a->refs)
        return wp_err_set(err, WP_EINVAL,
                          "active set: %zu entries and %llu references, recorded %zu and %llu",
                          used, (unsigned long long)refs, a->unique, (unsigned long long)a->refs);
    return WP_OK;
}
