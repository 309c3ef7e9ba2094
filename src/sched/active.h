/*
 * sched/active: the block hashes of the requests a scheduler has in flight on one endpoint,
 * as a multiset (hash -> how many of those requests hold it).
 *
 * dynamo-kv's decode load is the number of distinct blocks in it (Dynamo's ActiveSequences
 * keeps the same set per worker: a prefix shared by several requests in flight counts once),
 * and a request's new blocks on an endpoint are those of its hashes the set does not hold.
 * A request's hashes join on dispatch and leave when that request completes; a block leaves
 * the set when the last request holding it ends.
 *
 * Invariants (wp_sched_active_validate): the table is empty (cap 0) or a power of two at
 * least twice the distinct count; every entry has a count of at least 1; the entries number
 * `unique` and their counts add up to `refs`; each entry is reachable from its home slot
 * by linear probing (no empty slot between).
 *
 * Memory: the set owns its table (16 bytes a slot), grown by doubling on add up to
 * WP_SCHED_ACTIVE_MAX_UNIQUE distinct hashes, freed by clear and free. The struct is plain
 * data to embed (zero-initialised = empty); read it through the functions. One owner drives
 * it; nothing here reads a clock or keeps global state.
 */
#ifndef WP_SCHED_ACTIVE_H
#define WP_SCHED_ACTIVE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* 4M distinct blocks (64M tokens at 16 a block) in flight on one endpoint: far above any
 * KV cache, so reaching it means the caller never completes its requests. */
#define WP_SCHED_ACTIVE_MAX_UNIQUE ((size_t)1 << 22)

typedef struct wp_sched_active_slot_s {
    uint64_t hash;
    uint32_t count; /* 0: the slot is empty */
} wp_sched_active_slot_t;

typedef struct wp_sched_active_s {
    wp_sched_active_slot_t *slots; /* owned; NULL when cap is 0 */
    size_t cap;                    /* 0 or a power of two */
    size_t unique;                 /* occupied slots: distinct hashes */
    uint64_t refs;                 /* the sum of the counts */
} wp_sched_active_t;

/* Adds one reference to each of hashes[0..n): all of them or, on WP_ENOMEM or WP_ELIMIT
 * (past WP_SCHED_ACTIVE_MAX_UNIQUE), none. */
wp_status_t wp_sched_active_add(wp_sched_active_t *a, const uint64_t *hashes, size_t n);
/* Drops one reference from each of hashes[0..n) (an entry whose count reaches 0 leaves).
 * Returns how many of them the set did not hold (skipped). */
size_t wp_sched_active_remove(wp_sched_active_t *a, const uint64_t *hashes, size_t n);
/* References to hash: 0 when absent. */
uint32_t wp_sched_active_count(const wp_sched_active_t *a, uint64_t hash);
/* How many of hashes[0..n) the set does not hold. Reads only. */
size_t wp_sched_active_missing(const wp_sched_active_t *a, const uint64_t *hashes, size_t n);
size_t wp_sched_active_unique(const wp_sched_active_t *a);
/* dst becomes a copy of src (dst's table is replaced). WP_ENOMEM leaves dst unchanged. */
wp_status_t wp_sched_active_copy(wp_sched_active_t *dst, const wp_sched_active_t *src);
/* Empties the set and frees its table; it stays usable. */
void wp_sched_active_clear(wp_sched_active_t *a);

wp_status_t wp_sched_active_validate(const wp_sched_active_t *a, wp_err_t *err);

#endif
