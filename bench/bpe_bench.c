/*
 * bench/bpe_bench: how fast the model tokenizer (tok/bpe) encodes, in MB of text per second
 * on one core.
 *
 * Loads a tokenizer.json, then encodes a text file cut into documents of about 8 KB (at a
 * line end), as a gateway sees prompts: first with no cache (every pre-token merged), then
 * with one warm cache of pre-tokens, as a long-running process has it. Each pass is timed
 * over the whole text; the best of the passes is printed, with the load time and the
 * number of ids (the same in every pass). Usage: bpe_bench tokenizer.json text [passes]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tok/bpe.h"

#define DOC_BYTES 8192

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* One pass over the text in documents; returns the number of ids, or 0 on error. */
static size_t pass(const wp_bpe_t *b, wp_bpe_cache_t *cache, const char *text, size_t len)
{
    size_t total = 0, at = 0;
    while (at < len) {
        size_t end = at + DOC_BYTES < len ? at + DOC_BYTES : len;
        while (end < len && text[end - 1] != '\n')
            end++;
        int32_t *ids;
        size_t n;
        wp_err_t err;
        if (wp_bpe_encode(b, cache, text + at, end - at, &ids, &n, &err) != WP_OK) {
            fprintf(stderr, "encode: %s\n", err.msg);
            return 0;
        }
        free(ids);
        total += n;
        at = end;
    }
    return total;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bpe_bench tokenizer.json text [passes]\n");
        return 2;
    }
    int passes = argc > 3 ? atoi(argv[3]) : 5;
    size_t jlen, tlen;
    char *json = slurp(argv[1], &jlen), *text = slurp(argv[2], &tlen);
    if (!json || !text) {
        fprintf(stderr, "cannot read %s or %s\n", argv[1], argv[2]);
        return 1;
    }
    wp_bpe_t *b;
    wp_err_t err;
    double t0 = now_s();
    if (wp_bpe_load(json, jlen, &b, &err) != WP_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], err.msg);
        return 1;
    }
    double load = now_s() - t0;
    free(json);
    printf("bpe_bench: %s, %zu vocab ids, loaded in %.0f ms\n", argv[1], wp_bpe_vocab_size(b),
           load * 1e3);
    wp_bpe_cache_t *cache = wp_bpe_cache_new(0);
    for (int with_cache = 0; with_cache < 2; with_cache++) {
        double best = 1e30;
        size_t ids = 0;
        if (with_cache)
            pass(b, cache, text, tlen); /* warm it */
        for (int p = 0; p < passes; p++) {
            double s = now_s();
            ids = pass(b, with_cache ? cache : NULL, text, tlen);
            double dt = now_s() - s;
            if (!ids)
                return 1;
            if (dt < best)
                best = dt;
        }
        printf("%-10s %zu bytes -> %zu ids (%.2f bytes/id): %.1f MB/s, %.2f M ids/s (best of "
               "%d)\n",
               with_cache ? "warm cache" : "no cache", tlen, ids, (double)tlen / (double)ids,
               (double)tlen / best / 1e6, (double)ids / best / 1e6, passes);
    }
    wp_bpe_cache_free(cache);
    wp_bpe_free(b);
    free(text);
    return 0;
}
