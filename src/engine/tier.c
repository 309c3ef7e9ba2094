/*
 * engine/tier: see tier.h. The LRU is a doubly linked list through prev/next over slot
 * indices; put appends at the tail (most recent) and evicts from the head.
 */
#include "engine/tier.h"

#include <stdlib.h>

wp_status_t wp__tier_init(wp__tier_t *t, int32_t cap)
{
    *t = (wp__tier_t){.cap = cap > 0 ? cap : 0, .head = -1, .tail = -1};
    if (t->cap == 0)
        return WP_OK;
    size_t n = (size_t)t->cap;
    t->hash = malloc(n * sizeof(uint64_t));
    t->prev = malloc(n * sizeof(int32_t));
    t->next = malloc(n * sizeof(int32_t));
    t->free_stack = malloc(n * sizeof(int32_t));
    if (!t->hash || !t->prev || !t->next || !t->free_stack ||
        wp__map_reserve(&t->map, n) != WP_OK) {
        wp__tier_free(t);
        return WP_ENOMEM;
    }
    for (int32_t s = t->cap - 1; s >= 0; s--)
        t->free_stack[t->free_top++] = s;
    return WP_OK;
}

void wp__tier_free(wp__tier_t *t)
{
    free(t->hash);
    free(t->prev);
    free(t->next);
    free(t->free_stack);
    wp__map_free(&t->map);
    *t = (wp__tier_t){.head = -1, .tail = -1};
}

bool wp__tier_has(const wp__tier_t *t, uint64_t hash)
{
    return t->cap > 0 && wp__map_get(&t->map, hash) >= 0;
}

static void unlink_slot(wp__tier_t *t, int32_t s)
{
    int32_t p = t->prev[s], n = t->next[s];
    if (p >= 0)
        t->next[p] = n;
    else
        t->head = n;
    if (n >= 0)
        t->prev[n] = p;
    else
        t->tail = p;
    t->count--;
}

static void append_slot(wp__tier_t *t, int32_t s)
{
    t->prev[s] = t->tail;
    t->next[s] = -1;
    if (t->tail >= 0)
        t->next[t->tail] = s;
    else
        t->head = s;
    t->tail = s;
    t->count++;
}

void wp__tier_put(wp__tier_t *t, uint64_t hash, bool *dropped, uint64_t *gone)
{
    if (dropped)
        *dropped = false;
    if (t->cap == 0)
        return;
    int32_t s = wp__map_get(&t->map, hash);
    if (s >= 0) {
        unlink_slot(t, s);
        append_slot(t, s);
        return;
    }
    if (t->free_top == 0) {
        s = t->head;
        unlink_slot(t, s);
        wp__map_del(&t->map, t->hash[s]);
        if (dropped)
            *dropped = true;
        if (gone)
            *gone = t->hash[s];
    } else {
        s = t->free_stack[--t->free_top];
    }
    t->hash[s] = hash;
    wp__map_put(&t->map, hash, s);
    append_slot(t, s);
}

wp_status_t wp__tier_validate(const wp__tier_t *t, wp_err_t *err)
{
    int32_t n = 0, prev = -1;
    for (int32_t s = t->head; s >= 0; s = t->next[s]) {
        if (n >= t->cap || t->prev[s] != prev || wp__map_get(&t->map, t->hash[s]) != s)
            return wp_err_set(err, WP_EINVAL, "cpu tier: LRU broken at slot %d", (int)s);
        prev = s;
        n++;
    }
    if (prev != t->tail || n != t->count || (size_t)n != t->map.count ||
        t->count + t->free_top != t->cap)
        return wp_err_set(err, WP_EINVAL, "cpu tier: %d in the LRU, count %d, map %zu, free %d",
                          (int)n, (int)t->count, t->map.count, (int)t->free_top);
    return WP_OK;
}
