/*
 * base/rng: a small seeded pseudo-random generator (xoshiro256**, seeded by splitmix64).
 *
 * Cores never draw randomness from anywhere else: a wp_rng_t is passed in, so the same
 * seed gives the same run, to the byte. The caller owns the state; it is plain data.
 */
#ifndef WP_BASE_RNG_H
#define WP_BASE_RNG_H

#include <stdint.h>

typedef struct wp_rng_s {
    uint64_t s[4];
} wp_rng_t;

void wp_rng_seed(wp_rng_t *r, uint64_t seed);
uint64_t wp_rng_next(wp_rng_t *r);
/* Uniform integer in [0, n); n > 0. */
uint64_t wp_rng_below(wp_rng_t *r, uint64_t n);
/* Uniform double in [0, 1). */
double wp_rng_double(wp_rng_t *r);

#endif
