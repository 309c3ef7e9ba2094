/*
 * base/hash: 64-bit hashing (xxHash64) for block hash chains and hash tables.
 * Pure functions; nothing is kept between calls.
 */
#ifndef WP_BASE_HASH_H
#define WP_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t wp_hash64(const void *data, size_t len, uint64_t seed);
/* Mixes a 64-bit value into well-spread bits (for open-addressing tables). */
uint64_t wp_hash_mix(uint64_t x);

#endif
