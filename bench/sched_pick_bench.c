/*
 * bench/sched_pick_bench: how long one scheduling decision takes.
 *
 * 16 endpoints under the default policy (prefix-aware 100 + load-aware 50, max-score), each
 * endpoint's prefix LRU filled to its 31,250-block capacity, fresh metrics (or as many
 * endpoints and blocks each as the command line says: a 1,000-endpoint pool). Each decision
 * hashes a 32 KB prompt (512 blocks, capped at 256), matches it against the index and
 * scores the endpoints. Prompts rotate among one fully cached on one endpoint, one sharing
 * half its blocks with another, and one cached nowhere. Prints p50/p99/p99.9 in µs and the
 * index's bytes per tracked block. Then the other per-request work the gateway does
 * before its decisions: counting a 32 KB English prompt's tokens (tok/, the count the
 * simulator has too), once per request.
 * Usage: sched_pick_bench [iterations [endpoints [blocks-per-endpoint]]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/rng.h"
#include "base/str.h"
#include "sched/sched.h"
#include "tok/tok.h"

#define ENDPOINTS 16 /* by default */
#define PROMPT_BYTES (32 * 1024)
#define PROMPTS 3

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

static void fill_text(char *buf, size_t n, wp_rng_t *rng)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('a' + wp_rng_below(rng, 26));
}

static int setup(wp_sched_t *s, wp_rng_t *rng, int endpoints, uint32_t cap)
{
    uint64_t chain[WP_SCHED_MATCH_BLOCKS];
    for (int e = 0; e < endpoints; e++) {
        char name[32];
        snprintf(name, sizeof(name), "10.0.%d.%d:8000", e / 250, e % 250 + 1);
        if (wp_sched_endpoint_add(s, name, WP_SCHED_ROLE_BOTH) != e)
            return -1;
        for (uint32_t done = 0; done < cap; done += WP_SCHED_MATCH_BLOCKS) {
            for (int i = 0; i < WP_SCHED_MATCH_BLOCKS; i++)
                chain[i] = wp_rng_next(rng);
            if (wp_sched_index_insert(wp_sched_index(s), e, chain, WP_SCHED_MATCH_BLOCKS) != WP_OK)
                return -1;
        }
        wp_sched_endpoint_set_metrics(s, e, 0.0, (double)wp_rng_below(rng, 20), 8, 0.5);
    }
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t iters = 200000, endpoints = ENDPOINTS, blocks = 0;
    if ((argc > 1 && wp_parse_u64(argv[1], strlen(argv[1]), &iters) != WP_OK) ||
        (argc > 2 && (wp_parse_u64(argv[2], strlen(argv[2]), &endpoints) != WP_OK ||
                      endpoints < 4 || endpoints > WP_SCHED_MAX_ENDPOINTS)) ||
        (argc > 3 && wp_parse_u64(argv[3], strlen(argv[3]), &blocks) != WP_OK) || iters == 0) {
        fprintf(stderr, "usage: %s [iterations [endpoints (4..%d) [blocks-per-endpoint]]]\n",
                argv[0], WP_SCHED_MAX_ENDPOINTS);
        return 2;
    }
    wp_sched_config_t cfg;
    wp_sched_config_default(&cfg);
    wp_err_t err;
    wp_sched_t *s = wp_sched_new(&cfg, &err);
    static char prompts[PROMPTS][PROMPT_BYTES];
    double *lat = malloc(iters * sizeof(double));
    if (!s || !lat) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    wp_rng_t rng;
    wp_rng_seed(&rng, 2024);
    uint32_t fill = blocks > 0 && blocks < cfg.lru_capacity ? (uint32_t)blocks : cfg.lru_capacity;
    if (setup(s, &rng, (int)endpoints, fill) != 0) {
        fprintf(stderr, "index setup failed\n");
        return 1;
    }
    for (int p = 0; p < PROMPTS; p++)
        fill_text(prompts[p], PROMPT_BYTES, &rng);
    memcpy(prompts[1], prompts[0], PROMPT_BYTES / 4); /* 128 of 256 blocks shared */
    /* The request's chain buffer, as the gateway keeps one per request, sized by the scheduler. */
    static uint64_t hashes[PROMPT_BYTES / 64];
    wp_sched_request_t req = {.model = "qwen3-32b",
                              .prompt_len = PROMPT_BYTES,
                              .session_ep = -1,
                              .hash_buf = hashes,
                              .hash_cap = wp_sched_chain_blocks(s, PROMPT_BYTES)};
    static wp_sched_pick_t pick;
    req.prompt = prompts[0]; /* teach the index: prompt 0 on endpoint 3 */
    pick.endpoint = 3;
    pick.n_blocks = (uint32_t)wp_sched_hash_prompt(s, req.model, NULL, prompts[0], PROMPT_BYTES,
                                                   hashes, req.hash_cap);
    pick.block_hashes = hashes;
    wp_sched_on_dispatch(s, &pick);
    for (uint64_t i = 0; i < iters; i++) {
        req.prompt = prompts[i % PROMPTS];
        double t0 = now_us();
        wp_status_t st = wp_sched_pick(s, 1.0, &req, &rng, &pick, &err);
        lat[i] = now_us() - t0;
        if (st != WP_OK) {
            fprintf(stderr, "pick: %s\n", err.msg);
            return 1;
        }
    }
    qsort(lat, iters, sizeof(double), cmp_double);
    /* English text from the filler words, as the workload generator writes it. */
    static char english[PROMPT_BYTES];
    size_t len = 0;
    for (uint64_t w = 0; len + WP_TOK_FILLER_MAX + 1 < PROMPT_BYTES; w++)
        len += wp_tok_filler(7, w, english + len, PROMPT_BYTES - len);
    uint64_t n_tok = iters / 10 > 0 ? iters / 10 : 1;
    double *tok_lat = malloc(n_tok * sizeof(double));
    size_t tokens = 0;
    for (uint64_t i = 0; tok_lat != NULL && i < n_tok; i++) {
        double t0 = now_us();
        tokens = wp_tok_count(english, len);
        tok_lat[i] = now_us() - t0;
    }
    wp_sched_index_t *ix = wp_sched_index(s);
    printf("sched pick: %llu endpoints (%u blocks each), %d-byte prompt, %llu decisions\n",
           (unsigned long long)endpoints, fill, PROMPT_BYTES, (unsigned long long)iters);
    printf("  p50 %.2f us  p99 %.2f us  p99.9 %.2f us  max %.2f us\n", lat[iters / 2],
           lat[iters * 99 / 100], lat[iters * 999 / 1000], lat[iters - 1]);
    printf("  prefix index: %zu blocks, %.1f bytes per block\n", wp_sched_index_blocks(ix),
           (double)wp_sched_index_bytes(ix) / (double)wp_sched_index_blocks(ix));
    if (tok_lat != NULL) {
        qsort(tok_lat, n_tok, sizeof(double), cmp_double);
        printf("token count (once per request): %zu-byte English prompt, %zu tokens, %llu counts\n",
               len, tokens, (unsigned long long)n_tok);
        printf("  p50 %.2f us  p99 %.2f us\n", tok_lat[n_tok / 2], tok_lat[n_tok * 99 / 100]);
    }
    free(tok_lat);
    free(lat);
    wp_sched_free(s);
    return 0;
}
