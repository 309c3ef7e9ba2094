/*
 * kvhash/cbor: a CBOR writer (RFC 8949) for the few item kinds vLLM's portable block hash
 * serialises: unsigned and negative integers, byte strings, text strings, arrays and null.
 *
 * Everything it writes is in the deterministic ("canonical") form of RFC 8949 §4.2.1,
 * which is also RFC 7049 §3.9's canonical CBOR for these kinds: every length and integer
 * argument takes the shortest of the five head sizes (in the initial byte when below 24,
 * else one, two, four or eight bytes after it, big-endian), and every string and array has
 * a definite length. Floats, maps and tags are not needed and not offered.
 *
 * Ownership: the caller owns the writer (usually on its stack) and its buffer. Without a
 * sink, bytes that do not fit in the buffer are dropped and the writer remembers the
 * overflow (wp_cbor_ok says false; len keeps counting only what was kept). With a sink, a
 * full buffer is handed to the sink and reused, so any length can be written through a
 * small buffer; call wp_cbor_flush at the end to hand over the rest. Nothing allocates,
 * nothing is kept between writers.
 */
#ifndef WP_KVHASH_CBOR_H
#define WP_KVHASH_CBOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Receives n bytes of encoded CBOR, in order. */
typedef void wp_cbor_sink_fn(void *ctx, const uint8_t *p, size_t n);

typedef struct wp_cbor_s {
    uint8_t *buf;
    size_t cap;
    size_t len; /* bytes in buf now */
    wp_cbor_sink_fn *sink;
    void *sink_ctx;
    bool overflow; /* without a sink: something did not fit */
} wp_cbor_t;

/* Starts a writer over buf[0..cap). sink may be NULL (then buf must hold the whole item). */
void wp_cbor_init(wp_cbor_t *w, uint8_t *buf, size_t cap, wp_cbor_sink_fn *sink, void *ctx);

void wp_cbor_uint(wp_cbor_t *w, uint64_t v);
/* Major type 0 for v >= 0, else major type 1 with argument -1 - v. */
void wp_cbor_int(wp_cbor_t *w, int64_t v);
void wp_cbor_bytes(wp_cbor_t *w, const void *p, size_t n);
/* p[0..n) is written as given: the caller passes UTF-8. */
void wp_cbor_text(wp_cbor_t *w, const char *p, size_t n);
/* The head of an array of n items; the caller writes the n items next. */
void wp_cbor_array(wp_cbor_t *w, size_t n);
void wp_cbor_null(wp_cbor_t *w);

/* Hands what is buffered to the sink (no-op without one). */
void wp_cbor_flush(wp_cbor_t *w);
/* False when, without a sink, some bytes were dropped. */
bool wp_cbor_ok(const wp_cbor_t *w);

#endif
