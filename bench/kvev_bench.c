/*
 * bench/kvev_bench: what vLLM's KV events cost to encode (simulator) and decode (gateway).
 *
 * Two batches of 1,000 blocks of 16 tokens (token ids below 151,936, hashes spread over
 * 64 bits): one BlockStored event carrying all 1,000 blocks, as vLLM sends a long prompt's
 * blocks, and 1,000 BlockStored events of one block each. Encodes each in the map layout
 * (current vLLM) and decodes it with a warm decoder; prints the payload size and the
 * median time per batch in µs and MB/s over the repetitions.
 * Usage: kvev_bench [repetitions]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/rng.h"
#include "kvev/kvev.h"

#define BLOCKS 1000
#define BS 16

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp);
    return v[n / 2];
}

static void run(const char *name, const wp_kvev_batch_t *b, int reps)
{
    wp_buf_t out;
    wp_buf_init(&out, WP_BUF_DEFAULT_MAX);
    wp_kvev_decoder_t *d = wp_kvev_decoder_new();
    double *enc = calloc((size_t)reps, sizeof(double)), *dec = calloc((size_t)reps, sizeof(double));
    wp_kvev_batch_t got;
    wp_err_t err;
    for (int r = 0; r < reps; r++) {
        wp_buf_reset(&out);
        double t0 = now_us();
        if (wp_kvev_encode(b, WP_KVEV_ENC_MAP, &out, &err) != WP_OK) {
            fprintf(stderr, "encode: %s\n", err.msg);
            exit(1);
        }
        double t1 = now_us();
        if (wp_kvev_decode(d, out.data, out.len, &got, &err) != WP_OK) {
            fprintf(stderr, "decode: %s\n", err.msg);
            exit(1);
        }
        double t2 = now_us();
        enc[r] = t1 - t0;
        dec[r] = t2 - t1;
    }
    double e = median(enc, reps), x = median(dec, reps);
    printf("%-28s %7zu bytes  encode %7.1f us (%6.0f MB/s)  decode %7.1f us (%6.0f MB/s)\n", name,
           out.len, e, (double)out.len / e, x, (double)out.len / x);
    free(enc);
    free(dec);
    wp_kvev_decoder_free(d);
    wp_buf_free(&out);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 200;
    if (reps < 1)
        reps = 1;
    static uint64_t hashes[BLOCKS];
    static int32_t tokens[BLOCKS * BS];
    static wp_kvev_event_t one[BLOCKS];
    wp_rng_t rng;
    wp_rng_seed(&rng, 42);
    for (int i = 0; i < BLOCKS; i++)
        hashes[i] = wp_rng_next(&rng);
    for (int i = 0; i < BLOCKS * BS; i++)
        tokens[i] = (int32_t)(wp_rng_next(&rng) % 151936);
    wp_kvev_event_t all = {.type = WP_KVEV_STORED,
                           .hashes = hashes,
                           .n_hashes = BLOCKS,
                           .token_ids = tokens,
                           .n_tokens = BLOCKS * BS,
                           .block_size = BS,
                           .medium = WP_KVEV_MEDIUM_GPU};
    for (int i = 0; i < BLOCKS; i++) {
        one[i] = all;
        one[i].hashes = &hashes[i];
        one[i].n_hashes = 1;
        one[i].token_ids = &tokens[i * BS];
        one[i].n_tokens = BS;
        one[i].has_parent = i > 0;
        one[i].parent = i > 0 ? hashes[i - 1] : 0;
    }
    wp_kvev_batch_t b1 = {.ts = 1700000000.5, .events = &all, .n_events = 1, .dp_rank = 0};
    wp_kvev_batch_t b2 = {.ts = 1700000000.5, .events = one, .n_events = BLOCKS, .dp_rank = 0};
    run("1 event x 1,000 blocks", &b1, reps);
    run("1,000 events x 1 block", &b2, reps);
    return 0;
}
