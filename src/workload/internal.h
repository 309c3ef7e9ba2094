/*
 * workload/internal: what the files of src/workload share and nobody else uses.
 *
 * The corpus is the fixed text that wp_workload_text cuts windows from: CORPUS_TOKENS
 * filler pieces (one token each) laid end to end, with the byte offset of every piece.
 * It is built from a constant key, so it is the same in every generator; each generator
 * owns its copy (no global state). Keys for text and per-item random streams come from
 * wp__workload_key, a hash of (seed, tag, a, b).
 *
 * Token ids. Once a vocab is set, the corpus also holds the id of every piece, so a
 * window's ids are a memcpy like its bytes. Generated text goes to a sink: its bytes to a
 * buffer, kept up to text_max, and its ids (when wanted) to an array the sink owns.
 */
#ifndef WP_WORKLOAD_INTERNAL_H
#define WP_WORKLOAD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/rng.h"
#include "workload/workload.h"

#define WP__WORKLOAD_CORPUS_TOKENS 65536
#define WP__WORKLOAD_HEAD_TOKENS 16 /* tokens of text(key, n) drawn from key itself */

typedef struct wp__workload_corpus_s {
    char *bytes;
    uint32_t *off; /* CORPUS_TOKENS + 1 offsets into bytes; off[i] < off[i + 1] */
    int32_t *ids;  /* CORPUS_TOKENS ids under vocab; NULL until a vocab is set */
    uint32_t vocab;
} wp__workload_corpus_t;

/* Where generated text goes. text_max >= text->len; SIZE_MAX keeps every byte. */
typedef struct wp__workload_sink_s {
    wp_buf_t *text;
    size_t text_max;
    bool want_ids; /* needs a corpus with ids */
    int32_t *ids;  /* owned; n_ids <= cap_ids */
    size_t n_ids, cap_ids;
} wp__workload_sink_t;

/* Tags that separate the key spaces of wp__workload_key. */
enum {
    WP__WL_TAG_ARRIVAL = 1,
    WP__WL_TAG_CONTENT,
    WP__WL_TAG_SYSTEM,
    WP__WL_TAG_QUESTION,
    WP__WL_TAG_USER,
    WP__WL_TAG_ANSWER,
    WP__WL_TAG_ANSWER_LEN,
    WP__WL_TAG_RANDOM,
    WP__WL_TAG_BLOCK,
    WP__WL_TAG_PAD,
};

uint64_t wp__workload_key(uint64_t seed, uint64_t tag, uint64_t a, uint64_t b);

wp_status_t wp__workload_corpus_init(wp__workload_corpus_t *c);
void wp__workload_corpus_free(wp__workload_corpus_t *c);
/* Computes the id of every corpus piece under vocab (as wp_tok_encode takes it). */
wp_status_t wp__workload_corpus_set_vocab(wp__workload_corpus_t *c, uint32_t vocab);
/* Appends text(key, n): exactly n tokens. */
wp_status_t wp__workload_corpus_text(const wp__workload_corpus_t *c, uint64_t key, size_t n,
                                     wp_buf_t *out);
/* Sends text(key, n) to s: its bytes (up to s->text_max) and, if s wants them, its n ids. */
wp_status_t wp__workload_corpus_emit(const wp__workload_corpus_t *c, uint64_t key, size_t n,
                                     wp__workload_sink_t *s);
void wp__workload_sink_free(wp__workload_sink_t *s);

/* One length drawn from d (d valid per wp__workload_dist_problem). */
size_t wp__workload_dist_sample(const wp_workload_dist_t *d, wp_rng_t *r);
/* Why d is not a valid length distribution, or NULL. */
const char *wp__workload_dist_problem(const wp_workload_dist_t *d);

/* The load type in effect: a trace workload without an explicit load type uses trace. */
wp_workload_load_type_t wp__workload_load_type(const wp_workload_spec_t *s);
/* Requests when nothing else bounds the run: groups x prompts, sessions x turns, 100. */
size_t wp__workload_natural_size(const wp_workload_spec_t *s);
/* The stages of a rate-driven load (poisson, constant, stages), and the request limit:
 * num_requests, else the natural size for an open-ended stage, else SIZE_MAX (bounded by
 * the durations). */
size_t wp__workload_rate_stages(const wp_workload_spec_t *s, wp_workload_stage_t *out,
                                size_t *limit);

#endif
