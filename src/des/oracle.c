/*
 * des/oracle: the prefix-cache hit rate no scheduler can beat on a workload: one cache of
 * unbounded size that every request reaches. A request's hit is the leading blocks of its
 * prompt some earlier request's prompt had (a chain hash names a block and its whole
 * prefix), capped as an engine caps a hit (the last prompt token is always computed).
 * A set of chain hashes, open addressing, grown by doubling; 0 marks an empty slot (a chain
 * hash of 0 is kept aside in a flag).
 */
#include "des/internal.h"

#include <stdlib.h>

#include "base/hash.h"

static bool grow(wp__des_oracle_t *o)
{
    size_t cap = o->cap ? 2 * o->cap : 1024;
    uint64_t *slots = calloc(cap, sizeof(uint64_t));
    if (slots == NULL)
        return false;
    for (size_t i = 0; i < o->cap; i++) {
        uint64_t h = o->slots[i];
        if (h == 0)
            continue;
        size_t j = (size_t)wp_hash_mix(h) & (cap - 1);
        while (slots[j] != 0)
            j = (j + 1) & (cap - 1);
        slots[j] = h;
    }
    free(o->slots);
    o->slots = slots;
    o->cap = cap;
    return true;
}

/* Adds h; true when it was there already. */
static bool seen(wp__des_oracle_t *o, uint64_t h)
{
    if (h == 0) {
        bool was = o->has_zero;
        o->has_zero = true;
        return was;
    }
    if ((o->n + 1) * 10 > o->cap * 7 && !grow(o)) {
        o->failed = true;
        return false;
    }
    size_t j = (size_t)wp_hash_mix(h) & (o->cap - 1);
    for (; o->slots[j] != 0; j = (j + 1) & (o->cap - 1))
        if (o->slots[j] == h)
            return true;
    o->slots[j] = h;
    o->n++;
    return false;
}

void wp__des_oracle_add(wp__des_oracle_t *o, const uint64_t *chain, size_t n,
                        uint32_t prompt_tokens, uint32_t block_tokens, bool measured)
{
    size_t lead = 0;
    while (lead < n && seen(o, chain[lead]))
        lead++;
    for (size_t i = lead; i < n; i++)
        seen(o, chain[i]);
    if (!measured)
        return;
    uint64_t hit = (uint64_t)lead * block_tokens;
    uint64_t cap =
        prompt_tokens > 0 ? (uint64_t)(prompt_tokens - 1) / block_tokens * block_tokens : 0;
    o->hit_tokens += hit < cap ? hit : cap;
    o->prompt_tokens += prompt_tokens;
}

void wp__des_oracle_free(wp__des_oracle_t *o)
{
    free(o->slots);
    *o = (wp__des_oracle_t){0};
}
