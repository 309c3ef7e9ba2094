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
 * For the same reason a text's token ids are its pieces' ids, in order: once a vocab is
 * set the corpus holds each piece's id (wp_tok_piece_id, the very function wp_tok_encode
 * uses), a window's ids are a memcpy, and the head's ids are hashed piece by piece. The
 * text itself can be capped (a sink's text_max) while the ids stay complete, so a caller
 * that hashes only the first KiB of a prompt does not pay for copying the rest.
 *
 * Lengths: uniform is an integer in [ceil(min), floor(max)]; normal uses Box-Muller;
 * lognormal converts the length's mean and std to the underlying normal's (sigma^2 =
 * ln(1 + std^2/mean^2), mu = ln(mean) - sigma^2/2). Out-of-range draws are redrawn up to
 * 32 times, then clamped.
 */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    c->ids = NULL;
    c->vocab = 0;
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
    free(c->ids);
    c->bytes = NULL;
    c->off = NULL;
    c->ids = NULL;
}

wp_status_t wp__workload_corpus_set_vocab(wp__workload_corpus_t *c, uint32_t vocab)
{
    if (c->ids == NULL)
        c->ids = malloc(WP__WORKLOAD_CORPUS_TOKENS * sizeof(*c->ids));
    if (c->ids == NULL)
        return WP_ENOMEM;
    for (size_t i = 0; i < WP__WORKLOAD_CORPUS_TOKENS; i++)
        c->ids[i] = wp_tok_piece_id(c->bytes + c->off[i], c->off[i + 1] - c->off[i], vocab);
    c->vocab = vocab;
    return WP_OK;
}

void wp__workload_sink_free(wp__workload_sink_t *s)
{
    free(s->ids);
    s->ids = NULL;
    s->n_ids = s->cap_ids = 0;
}

static wp_status_t sink_reserve(wp__workload_sink_t *s, size_t n)
{
    size_t room = s->text_max - s->text->len;
    wp_status_t st =
        wp_buf_reserve(s->text, n * WP_TOK_FILLER_MAX < room ? n * WP_TOK_FILLER_MAX : room);
    if (st != WP_OK || !s->want_ids || s->cap_ids - s->n_ids >= n)
        return st;
    if (n > WP_WORKLOAD_MAX_PROMPT - s->n_ids)
        return WP_ELIMIT;
    size_t cap = s->cap_ids ? s->cap_ids : 1024;
    while (cap < s->n_ids + n)
        cap *= 2;
    int32_t *ids = realloc(s->ids, cap * sizeof(*ids));
    if (ids == NULL)
        return WP_ENOMEM;
    s->ids = ids;
    s->cap_ids = cap;
    return WP_OK;
}

/* Appends as much of p[0..n) as text_max leaves room for. */
static wp_status_t sink_bytes(wp__workload_sink_t *s, const char *p, size_t n)
{
    size_t room = s->text_max - s->text->len;
    if (room == 0)
        return WP_OK;
    return wp_buf_append(s->text, p, n < room ? n : room);
}

static wp_status_t emit_head(const wp__workload_corpus_t *c, uint64_t key, size_t n,
                             wp__workload_sink_t *s)
{
    char piece[WP_TOK_FILLER_MAX + 1];
    for (size_t i = 0; i < n; i++) {
        size_t len = wp_tok_filler(key, i, piece, sizeof(piece));
        wp_status_t st = sink_bytes(s, piece, len);
        if (st != WP_OK)
            return st;
        if (s->want_ids)
            s->ids[s->n_ids++] = wp_tok_piece_id(piece, len, c->vocab);
    }
    return WP_OK;
}

/* Corpus pieces [at, at + n), n <= CORPUS_TOKENS - at. */
static wp_status_t emit_window(const wp__workload_corpus_t *c, size_t at, size_t n,
                               wp__workload_sink_t *s)
{
    if (s->want_ids) {
        memcpy(s->ids + s->n_ids, c->ids + at, n * sizeof(*s->ids));
        s->n_ids += n;
    }
    return sink_bytes(s, c->bytes + c->off[at], c->off[at + n] - c->off[at]);
}

wp_status_t wp__workload_corpus_emit(const wp__workload_corpus_t *c, uint64_t key, size_t n,
                                     wp__workload_sink_t *s)
{
    const size_t total = WP__WORKLOAD_CORPUS_TOKENS;
    assert(!s->want_ids || c->ids != NULL);
    if (n > SIZE_MAX / WP_TOK_FILLER_MAX)
        return WP_ELIMIT;
    wp_status_t st = sink_reserve(s, n);
    size_t head = n < WP__WORKLOAD_HEAD_TOKENS ? n : WP__WORKLOAD_HEAD_TOKENS;
    if (st == WP_OK)
        st = emit_head(c, key, head, s);
    size_t rest = n - head;
    size_t at = (size_t)(wp_hash_mix(key ^ CORPUS_KEY) % total);
    while (st == WP_OK && rest > 0) {
        size_t take = rest < total - at ? rest : total - at;
        st = emit_window(c, at, take, s);
        rest -= take;
        at = 0;
    }
    return st;
}

wp_status_t wp__workload_corpus_text(const wp__workload_corpus_t *c, uint64_t key, size_t n,
                                     wp_buf_t *out)
{
    wp__workload_sink_t s = {.text = out, .text_max = SIZE_MAX};
    return wp__workload_corpus_emit(c, key, n, &s);
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
