/*
 * engine/kv: see kv.h for the three-way partition of blocks.
 *
 * Per-block state lives in parallel arrays indexed by block id. The LRU is an intrusive
 * doubly linked list through prev/next; the free list is a stack of ids. Releasing a
 * referenced block appends it to the LRU tail when it is hashed, so blocks released
 * together are evicted in the order they were released (the engine releases a request's
 * blocks tail first, so its last blocks, the least shareable, go first). Eviction takes
 * the LRU head and deletes its hash from the map.
 */
#include "engine/kv.h"

#include <stdlib.h>

wp_status_t wp__kv_init(wp__kv_t *kv, int32_t num_blocks)
{
    *kv = (wp__kv_t){.num_blocks = num_blocks, .lru_head = -1, .lru_tail = -1};
    size_t n = (size_t)num_blocks;
    kv->ref = calloc(n, sizeof(int32_t));
    kv->hash = calloc(n, sizeof(uint64_t));
    kv->hashed = calloc(n, sizeof(uint8_t));
    kv->prev = malloc(n * sizeof(int32_t));
    kv->next = malloc(n * sizeof(int32_t));
    kv->free_stack = malloc(n * sizeof(int32_t));
    if (kv->ref == NULL || kv->hash == NULL || kv->hashed == NULL || kv->prev == NULL ||
        kv->next == NULL || kv->free_stack == NULL || wp__map_reserve(&kv->map, n) != WP_OK) {
        wp__kv_free(kv);
        return WP_ENOMEM;
    }
    /* Pushed in reverse so block 0 is allocated first. */
    for (int32_t b = num_blocks - 1; b >= 0; b--) {
        kv->prev[b] = kv->next[b] = -1;
        kv->free_stack[kv->free_top++] = b;
    }
    return WP_OK;
}

void wp__kv_free(wp__kv_t *kv)
{
    free(kv->ref);
    free(kv->hash);
    free(kv->hashed);
    free(kv->prev);
    free(kv->next);
    free(kv->free_stack);
    wp__map_free(&kv->map);
    *kv = (wp__kv_t){.lru_head = -1, .lru_tail = -1};
}

int32_t wp__kv_lookup(const wp__kv_t *kv, uint64_t hash)
{
    return wp__map_get(&kv->map, hash);
}

int32_t wp__kv_available(const wp__kv_t *kv)
{
    return kv->free_top + kv->lru_count;
}

static void lru_unlink(wp__kv_t *kv, int32_t b)
{
    int32_t p = kv->prev[b], n = kv->next[b];
    if (p >= 0) {
        kv->next[p] = n;
    } else {
        kv->lru_head = n;
    }
    if (n >= 0) {
        kv->prev[n] = p;
    } else {
        kv->lru_tail = p;
    }
    kv->prev[b] = kv->next[b] = -1;
    kv->lru_count--;
}

static void lru_append(wp__kv_t *kv, int32_t b)
{
    kv->prev[b] = kv->lru_tail;
    kv->next[b] = -1;
    if (kv->lru_tail >= 0) {
        kv->next[kv->lru_tail] = b;
    } else {
        kv->lru_head = b;
    }
    kv->lru_tail = b;
    kv->lru_count++;
}

void wp__kv_ref(wp__kv_t *kv, int32_t b)
{
    if (kv->ref[b] == 0) {
        lru_unlink(kv, b); /* only hashed blocks are found by lookup */
        kv->used++;
    }
    kv->ref[b]++;
}

int32_t wp__kv_alloc(wp__kv_t *kv, bool *evicted, uint64_t *hash)
{
    int32_t b;
    if (evicted != NULL) {
        *evicted = false;
    }
    if (kv->free_top > 0) {
        b = kv->free_stack[--kv->free_top];
    } else if (kv->lru_head >= 0) {
        b = kv->lru_head;
        lru_unlink(kv, b);
        wp__map_del(&kv->map, kv->hash[b]);
        if (evicted != NULL) {
            *evicted = true;
        }
        if (hash != NULL) {
            *hash = kv->hash[b];
        }
        kv->hashed[b] = 0;
        kv->hash[b] = 0;
        kv->evictions++;
    } else {
        return -1;
    }
    kv->ref[b] = 1;
    kv->used++;
    return b;
}

void wp__kv_release(wp__kv_t *kv, int32_t b)
{
    if (--kv->ref[b] > 0) {
        return;
    }
    kv->used--;
    if (kv->hashed[b]) {
        lru_append(kv, b);
    } else {
        kv->free_stack[kv->free_top++] = b;
    }
}

bool wp__kv_register(wp__kv_t *kv, int32_t b, uint64_t hash)
{
    if (kv->hashed[b] || wp__map_get(&kv->map, hash) >= 0) {
        return false;
    }
    kv->hashed[b] = 1;
    kv->hash[b] = hash;
    wp__map_put(&kv->map, hash, b);
    return true;
}

static wp_status_t check_lru(const wp__kv_t *kv, uint8_t *where, wp_err_t *err)
{
    int32_t count = 0, prev = -1;
    for (int32_t b = kv->lru_head; b >= 0; b = kv->next[b]) {
        if (b >= kv->num_blocks || where[b] != 0 || kv->prev[b] != prev ||
            count >= kv->num_blocks) {
            return wp_err_set(err, WP_EINVAL, "kv: LRU list broken at block %d", (int)b);
        }
        if (kv->ref[b] != 0 || !kv->hashed[b]) {
            return wp_err_set(err, WP_EINVAL, "kv: LRU block %d has ref %d, hashed %d", (int)b,
                              (int)kv->ref[b], (int)kv->hashed[b]);
        }
        where[b] = 1;
        prev = b;
        count++;
    }
    if (prev != kv->lru_tail || count != kv->lru_count) {
        return wp_err_set(err, WP_EINVAL, "kv: LRU tail/count mismatch (%d vs %d)", (int)count,
                          (int)kv->lru_count);
    }
    return WP_OK;
}

static wp_status_t check_free(const wp__kv_t *kv, uint8_t *where, wp_err_t *err)
{
    for (int32_t i = 0; i < kv->free_top; i++) {
        int32_t b = kv->free_stack[i];
        if (b < 0 || b >= kv->num_blocks || where[b] != 0 || kv->ref[b] != 0 || kv->hashed[b]) {
            return wp_err_set(err, WP_EINVAL, "kv: free stack entry %d (block %d) is not free",
                              (int)i, (int)b);
        }
        where[b] = 2;
    }
    return WP_OK;
}

static wp_status_t check_blocks(const wp__kv_t *kv, const uint8_t *where, const int32_t *refs,
                                wp_err_t *err)
{
    int32_t used = 0;
    size_t hashed = 0;
    for (int32_t b = 0; b < kv->num_blocks; b++) {
        if (refs != NULL && kv->ref[b] != refs[b]) {
            return wp_err_set(err, WP_EINVAL, "kv: block %d has ref %d but %d holders", (int)b,
                              (int)kv->ref[b], (int)refs[b]);
        }
        if ((kv->ref[b] > 0) != (where[b] == 0) || kv->ref[b] < 0) {
            return wp_err_set(err, WP_EINVAL, "kv: block %d (ref %d) not in exactly one place",
                              (int)b, (int)kv->ref[b]);
        }
        used += kv->ref[b] > 0;
        if (kv->hashed[b]) {
            hashed++;
            if (wp__map_get(&kv->map, kv->hash[b]) != b) {
                return wp_err_set(err, WP_EINVAL, "kv: block %d's hash not mapped to it", (int)b);
            }
        }
    }
    if (used != kv->used || hashed != kv->map.count) {
        return wp_err_set(err, WP_EINVAL, "kv: used %d/%d, hashed %zu, map entries %zu", (int)used,
                          (int)kv->used, hashed, kv->map.count);
    }
    return WP_OK;
}

wp_status_t wp__kv_validate(const wp__kv_t *kv, const int32_t *refs, wp_err_t *err)
{
    uint8_t *where = calloc((size_t)kv->num_blocks, 1); /* 0 referenced, 1 LRU, 2 free */
    if (where == NULL) {
        return wp_err_set(err, WP_ENOMEM, "kv: validate out of memory");
    }
    wp_status_t st = check_lru(kv, where, err);
    if (st == WP_OK) {
        st = check_free(kv, where, err);
    }
    if (st == WP_OK) {
        st = check_blocks(kv, where, refs, err);
    }
    free(where);
    return st;
}
