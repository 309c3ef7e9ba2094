/*
 * bench/kvhash_bench: what vLLM-compatible block hashing (kvhash/) costs the gateway.
 *
 * Hashes a 32,768-token prompt (2,048 blocks of 16, with a cache_salt) with
 * wp_kvhash_chain, and for comparison: the CBOR encoding of the same blocks alone (into a
 * buffer, no digest) and a bare one-shot SHA-256 of each block's CBOR bytes (EVP_Digest).
 * Prints the median of the repetitions, per prompt and per block, in µs.
 * Usage: kvhash_bench [repetitions]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "base/rng.h"
#include "kvhash/cbor.h"
#include "kvhash/kvhash.h"

#define TOKENS 32768
#define BLOCK 16
#define BLOCKS (TOKENS / BLOCK)
#define CBOR_MAX 256

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One block's CBOR, [parent, [16 ids], null], into buf; returns its length. */
static size_t encode_block(uint8_t *buf, const wp_kvhash_t *parent, const int32_t *t)
{
    wp_cbor_t w;
    wp_cbor_init(&w, buf, CBOR_MAX, NULL, NULL);
    wp_cbor_array(&w, 3);
    wp_cbor_bytes(&w, parent->b, WP_KVHASH_LEN);
    wp_cbor_array(&w, BLOCK);
    for (size_t i = 0; i < BLOCK; i++)
        wp_cbor_int(&w, t[i]);
    wp_cbor_null(&w);
    return w.len;
}

static double run_chain(const wp_kvhash_t *seed, const int32_t *toks, wp_kvhash_t *out)
{
    wp_kvhash_opts_t o = {.cache_salt = "tenant-a"};
    size_t n;
    double t0 = now_us();
    if (wp_kvhash_chain(seed, toks, TOKENS, &o, out, BLOCKS, &n) != WP_OK || n != BLOCKS)
        abort();
    return now_us() - t0;
}

static double run_cbor_only(const wp_kvhash_t *seed, const int32_t *toks, size_t *sink)
{
    uint8_t buf[CBOR_MAX];
    double t0 = now_us();
    for (size_t b = 0; b < BLOCKS; b++)
        *sink += encode_block(buf, seed, toks + b * BLOCK) + buf[b % 8];
    return now_us() - t0;
}

static double run_sha_only(const uint8_t (*enc)[CBOR_MAX], const size_t *len, wp_kvhash_t *out)
{
    double t0 = now_us();
    for (size_t b = 0; b < BLOCKS; b++)
        if (EVP_Digest(enc[b], len[b], out[b].b, NULL, EVP_sha256(), NULL) != 1)
            abort();
    return now_us() - t0;
}

static void report(const char *what, double *t, int reps)
{
    qsort(t, (size_t)reps, sizeof(double), cmp_double);
    double p50 = t[reps / 2];
    printf("%-34s %10.1f µs/prompt %8.3f µs/block\n", what, p50, p50 / BLOCKS);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 50;
    if (reps < 1)
        reps = 1;
    static int32_t toks[TOKENS];
    static wp_kvhash_t out[BLOCKS];
    static uint8_t enc[BLOCKS][CBOR_MAX];
    static size_t len[BLOCKS];
    wp_rng_t rng;
    wp_rng_seed(&rng, 42);
    for (size_t i = 0; i < TOKENS; i++)
        toks[i] = (int32_t)(wp_rng_next(&rng) % 151936);
    wp_kvhash_t seed;
    if (wp_kvhash_seed("0", 1, &seed) != WP_OK)
        return 1;
    for (size_t b = 0; b < BLOCKS; b++)
        len[b] = encode_block(enc[b], &seed, toks + b * BLOCK);
    double *t = calloc((size_t)reps, sizeof(double));
    size_t sink = 0;
    for (int r = 0; r < reps; r++)
        t[r] = run_chain(&seed, toks, out);
    report("wp_kvhash_chain (salted)", t, reps);
    for (int r = 0; r < reps; r++)
        t[r] = run_cbor_only(&seed, toks, &sink);
    report("CBOR encoding alone", t, reps);
    for (int r = 0; r < reps; r++)
        t[r] = run_sha_only(enc, len, out);
    report("one-shot EVP_Digest alone", t, reps);
    printf("(%d repetitions, %d tokens, %d blocks; checksum %zu)\n", reps, TOKENS, BLOCKS,
           sink % 1000);
    free(t);
    return 0;
}
