/*
 * sched/prefix_hash: the approximate prefix chain. The seed is XXH64 (seed 0) of the model
 * name, one NUL byte and the cache salt, computed with xxhash's streaming state on the stack
 * so neither an allocation nor a length limit is needed; the result equals wp_hash64 over the
 * concatenation. Each full block is then hashed with the previous hash as its seed, so a
 * block's hash stands for the whole prefix up to and including it.
 */
#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <xxhash.h>

#include <string.h>

#include "base/hash.h"
#include "sched/sched.h"

static uint64_t chain_seed(const char *model, const char *cache_salt)
{
    XXH64_state_t st;
    XXH64_reset(&st, 0);
    XXH64_update(&st, model, strlen(model) + 1); /* the name and its NUL */
    if (cache_salt)
        XXH64_update(&st, cache_salt, strlen(cache_salt));
    return XXH64_digest(&st);
}

size_t wp_sched_hash_chain(const char *model, const char *cache_salt, const char *text, size_t len,
                           uint32_t block_chars, size_t max_blocks, uint64_t *out)
{
    if (block_chars == 0 || !text)
        return 0;
    size_t n = len / block_chars;
    if (n > max_blocks)
        n = max_blocks;
    uint64_t h = chain_seed(model ? model : "", cache_salt);
    for (size_t i = 0; i < n; i++) {
        h = wp_hash64(text + i * block_chars, block_chars, h);
        out[i] = h;
    }
    return n;
}
