/*
 * kvhash/cbor: the writer. Every item is a head (major type in the top three bits of the
 * initial byte, then the argument in its shortest form) followed, for strings, by the
 * payload. Bytes land through put(), which appends to the buffer, flushing to the sink
 * first when they would not fit, and passes a payload larger than the whole buffer to the
 * sink directly; a head is written in place when the buffer has room for the longest one.
 */
#include "kvhash/cbor.h"

#include <string.h>

enum { MAJOR_UINT = 0, MAJOR_NEGINT = 1, MAJOR_BYTES = 2, MAJOR_TEXT = 3, MAJOR_ARRAY = 4 };

#define CBOR_NULL 0xf6

void wp_cbor_init(wp_cbor_t *w, uint8_t *buf, size_t cap, wp_cbor_sink_fn *sink, void *ctx)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->sink = sink;
    w->sink_ctx = ctx;
    w->overflow = false;
}

void wp_cbor_flush(wp_cbor_t *w)
{
    if (w->sink != NULL && w->len > 0)
        w->sink(w->sink_ctx, w->buf, w->len);
    if (w->sink != NULL)
        w->len = 0;
}

bool wp_cbor_ok(const wp_cbor_t *w)
{
    return !w->overflow;
}

static void put(wp_cbor_t *w, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (w->cap - w->len < n && w->sink != NULL)
        wp_cbor_flush(w);
    if (w->cap - w->len >= n) {
        memcpy(w->buf + w->len, p, n);
        w->len += n;
    } else if (w->sink != NULL) {
        w->sink(w->sink_ctx, p, n);
    } else {
        w->overflow = true;
    }
}

/* Writes the head of an item into b (9 bytes at most) and returns its length: the argument
 * in the initial byte below 24, else in 1, 2, 4 or 8 big-endian bytes after it (additional
 * information 24..27), whichever is shortest. */
static size_t encode_head(uint8_t *b, unsigned major, uint64_t arg)
{
    if (arg < 24) {
        b[0] = (uint8_t)(major << 5 | arg);
        return 1;
    }
    size_t extra = arg <= UINT8_MAX ? 1 : arg <= UINT16_MAX ? 2 : arg <= UINT32_MAX ? 4 : 8;
    unsigned info = extra == 1 ? 24 : extra == 2 ? 25 : extra == 4 ? 26 : 27;
    b[0] = (uint8_t)(major << 5 | info);
    for (size_t i = 0; i < extra; i++)
        b[1 + i] = (uint8_t)(arg >> (8 * (extra - 1 - i)));
    return 1 + extra;
}

/* Straight into the buffer when a head of any size fits, else through put(). */
static void head(wp_cbor_t *w, unsigned major, uint64_t arg)
{
    if (w->cap - w->len >= 9) {
        w->len += encode_head(w->buf + w->len, major, arg);
        return;
    }
    uint8_t b[9];
    size_t n = encode_head(b, major, arg);
    put(w, b, n);
}

void wp_cbor_uint(wp_cbor_t *w, uint64_t v)
{
    head(w, MAJOR_UINT, v);
}

void wp_cbor_int(wp_cbor_t *w, int64_t v)
{
    if (v >= 0)
        head(w, MAJOR_UINT, (uint64_t)v);
    else
        head(w, MAJOR_NEGINT, (uint64_t)(-(v + 1))); /* -1 - v, without overflow at INT64_MIN */
}

void wp_cbor_bytes(wp_cbor_t *w, const void *p, size_t n)
{
    head(w, MAJOR_BYTES, n);
    put(w, p, n);
}

void wp_cbor_text(wp_cbor_t *w, const char *p, size_t n)
{
    head(w, MAJOR_TEXT, n);
    put(w, p, n);
}

void wp_cbor_array(wp_cbor_t *w, size_t n)
{
    head(w, MAJOR_ARRAY, n);
}

void wp_cbor_null(wp_cbor_t *w)
{
    uint8_t b = CBOR_NULL;
    put(w, &b, 1);
}
