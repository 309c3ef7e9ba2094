/*
 * workload/synth: synthetic text and length distributions.
 *
 * text(key, n) must be cheap: a benchmark of 30k requests with 7k-token prompts asks for
 * 200M tokens. Calling wp_tok_filler per token costs two hash mixes each, so only the first
 * WP__WORKLOAD_HEAD_TOKENS tokens come from it (seeded by key: two keys differ from the
 * first token on, which is what a prefix cache sees); the rest is a memcpy of a window of
 * the corpus, a fixed run of filler pieces built once per generator, starting at an offset
 * drawn from key and wrapping around. Every piece is one token and pieces never merge
 * (words carry their leading space, punctuation is a single byte), so the text has exactly
 * n tokens and a shorter text of the same key is a prefix of a longer one.
 *
 * Lengths: uniform is an integer in [ceil(min), floor(max)]; normal uses Box-Muller;
 * lognormal converts the length's mean and std to the underlying normal's (sigma^2 =
 * ln(1 + std^2/mean^2), mu = ln(mean) - sigma^2/2). Out-of-range draws are redrawn up to
 * 32 times, then clamped.
 */
#include <math.h>
#include <stdlib.h>

#include "base/hash.h"
#include "tok/tok.h"
#include "workload/internal.h"

#define CORPUS_KEY 0x636f72707573ULL /* "corpus" */

uint64_t wp__workload_key(uint64_t seed, uint64_t tag, uint64_t a, uint64_t b)
{
    uint64_t k = wp_hash_mix(seed ^ wp_hash_mix(tag + 0x776f726b6c6f6164ULL));
    k = wp_hash_mix(k ^ wp_hash_mix(a + 0x9e3779b97f4a7c15ULL));
    return wp_hash_mix(k ^ wp_hash_mix(b + 0xc2b2ae3d27d4eb4fULL));
}

wp_status_t wp__workload_corpus_init(wp__workload_corpus_t *c)
{
    size_t n = WP__WORKLOAD_CORPUS_TOKENS;
    c->bytes = malloc(n * WP_TOK_FILLER_MAX + 1);
    c->off = malloc((n + 1) * sizeof(*c->off));
    if (c->bytes == NULL || c->off == NULL) {
        wp__workload_corpus_free(c);
        return WP_ENOMEM;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        c->off[i] = (uint32_t)len;
        len += wp_tok_filler(CORPUS_KEY, i, c->bytes + len, WP_TOK_FILLER_MAX + 1);
    }
    c->off[n] = (uint32_t)len;
    return WP_OK;
}

void wp__workload_corpus_free(wp__workload_corpus_t *c)
{
    free(c->bytes);
    free(c->off);
    c->bytes = NULL;
    c->off = NULL;
}

static wp_status_t append_head(uint64_t key, size_t n, wp_buf_t *out)
{
    char piece[WP_TOK_FILLER_MAX + 1];
    for (size_t i = 0; i < n; i++) {
        size_t len = wp_tok_filler(key, i, piece, sizeof(piece));
        wp_status_t st = wp_buf_append(out, piece, len);
        if (st != WP_OK)
            return st;
    }
    return WP_OK;
}

wp_status_t wp__workload_corpus_text(const wp__workload_corpus_t *c, uint64_t key, size_t n,
                                     wp_buf_t *out)
{
    const size_t total = WP__WORKLOAD_CORPUS_TOKENS;
    if (n > SIZE_MAX / WP_TOK_FILLER_MAX)
        return WP_ELIMIT;
    wp_status_t st = wp_buf_reserve(out, n * WP_TOK_FILLER_MAX);
    size_t head = n < WP__WORKLOAD_HEAD_TOKENS ? n : WP__WORKLOAD_HEAD_TOKENS;
    if (st == WP_OK)
        st = append_head(key, head, out);
    size_t rest = n - head;
    size_t at = (size_t)(wp_hash_mix(key ^ CORPUS_KEY) % total);
    while (st == WP_OK && rest > 0) {
        size_t take = rest < total - at ? rest : total - at;
        st = wp_buf_append(out, c->bytes + c->off[at], c->off[at + take] - c->off[at]);
        rest -= take;
        at = 0;
    }
    return st;
}

/* ---- lengths ---- */

static double gauss(wp_rng_t *r)
{
    double u1 = 1.0 - wp_rng_double(r); /* (0, 1] */
    double u2 = wp_rng_double(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static double draw(const wp_workload_dist_t *d, wp_rng_t *r)
{
    if (d->kind == WP_WORKLOAD_DIST_NORMAL)
        return d->mean + d->std * gauss(r);
    double s2 = log1p((d->std * d->std) / (d->mean * d->mean));
    return exp(log(d->mean) - s2 / 2 + sqrt(s2) * gauss(r));
}

size_t wp__workload_dist_sample(const wp_workload_dist_t *d, wp_rng_t *r)
{
    double lo = ceil(d->min), hi = floor(d->max);
    switch (d->kind) {
    case WP_WORKLOAD_DIST_FIXED:
        return (size_t)llround(d->mean);
    case WP_WORKLOAD_DIST_UNIFORM:
        return (size_t)lo + (size_t)wp_rng_below(r, (uint64_t)(hi - lo) + 1);
    case WP_WORKLOAD_DIST_NORMAL:
    case WP_WORKLOAD_DIST_LOGNORMAL:
        break;
    }
    double v = 0;
    for (int i = 0; i < 32; i++) {
        v = round(draw(d, r));
        if (v >= lo && v <= hi)
            return (size_t)v;
    }
    return (size_t)(v < lo ? lo : hi);
}

static bool is_len(double v)
{
    return isfinite(v) && v >= 1 && v <= WP_WORKLOAD_MAX_LEN;
}

const char *wp__workload_dist_problem(const wp_workload_dist_t *d)
{
    switch (d->kind) {
    case WP_WORKLOAD_DIST_FIXED:
        if (!is_len(d->mean) || d->mean != floor(d->mean))
            return "expected a whole number of tokens in [1, 1000000]";
        return NULL;
    case WP_WORKLOAD_DIST_UNIFORM:
        break;
    case WP_WORKLOAD_DIST_NORMAL:
    case WP_WORKLOAD_DIST_LOGNORMAL:
        if (!is_len(d->mean))
            return "needs mean in [1, 1000000]";
        if (!isfinite(d->std) || d->std < 0)
            return "needs std >= 0";
        break;
    default:
        return "unknown distribution";
    }
    if (!is_len(d->min) || !is_len(d->max))
        return "needs min and max in [1, 1000000]";
    if (ceil(d->min) > floor(d->max))
        return "min is above max (no whole number of tokens between them)";
    if (d->kind != WP_WORKLOAD_DIST_UNIFORM && (d->mean < d->min || d->mean > d->max))
        return "mean is outside [min, max]";
    return NULL;
}
