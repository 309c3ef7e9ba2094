/*
 * plan/reuse: prefix reuse measured on a workload's token ids. Each prompt is cut into full
 * blocks of 16 tokens hashed as a chain (engine/engine.h's block hash, as vLLM's prefix
 * cache keys them); the leading blocks whose chain hash an earlier prompt produced count as
 * reused, as an unbounded prefix cache would find them. An open-addressing set of hashes.
 */
#include "plan/plan.h"

#include <stdlib.h>

#include "engine/engine.h"

#define BLOCK 16

struct wp_plan_reuse_s {
    uint64_t *slots; /* 0 = empty (a hash of 0 is stored as 1) */
    size_t cap, n;
    uint64_t tokens, reused;
};

wp_plan_reuse_t *wp_plan_reuse_new(void)
{
    return calloc(1, sizeof(wp_plan_reuse_t));
}

void wp_plan_reuse_free(wp_plan_reuse_t *r)
{
    if (r != NULL)
        free(r->slots);
    free(r);
}

static bool grow(wp_plan_reuse_t *r)
{
    size_t cap = r->cap ? 2 * r->cap : 4096;
    uint64_t *s = calloc(cap, sizeof(*s));
    if (s == NULL)
        return false;
    for (size_t i = 0; i < r->cap; i++) {
        if (r->slots[i] == 0)
            continue;
        size_t j = r->slots[i] & (cap - 1);
        while (s[j] != 0)
            j = (j + 1) & (cap - 1);
        s[j] = r->slots[i];
    }
    free(r->slots);
    r->slots = s;
    r->cap = cap;
    return true;
}

/* Inserts h; returns whether it was there already. */
static bool seen(wp_plan_reuse_t *r, uint64_t h)
{
    h = h ? h : 1;
    if (2 * (r->n + 1) > r->cap && !grow(r))
        return false;
    size_t j = h & (r->cap - 1);
    for (; r->slots[j] != 0; j = (j + 1) & (r->cap - 1))
        if (r->slots[j] == h)
            return true;
    r->slots[j] = h;
    r->n++;
    return false;
}

void wp_plan_reuse_add(wp_plan_reuse_t *r, const int32_t *ids, size_t n)
{
    uint64_t h = WP_ENGINE_HASH_ROOT;
    bool leading = true;
    r->tokens += n;
    for (size_t i = 0; i + BLOCK <= n; i += BLOCK) {
        h = wp_engine_block_hash(h, ids + i, BLOCK, 0);
        bool hit = seen(r, h);
        leading = leading && hit;
        if (leading)
            r->reused += BLOCK;
    }
}

double wp_plan_reuse_ratio(const wp_plan_reuse_t *r)
{
    return r->tokens ? (double)r->reused / (double)r->tokens : 0.0;
}
