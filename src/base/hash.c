/* base/hash: see hash.h. */
#include "base/hash.h"

#include <xxhash.h>

uint64_t wp_hash64(const void *data, size_t len, uint64_t seed)
{
    return XXH64(data, len, seed);
}

uint64_t wp_hash_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}
