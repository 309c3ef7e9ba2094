/*
 * fuzz_sse: an SSE stream through the incremental parser (wp_api_sse_feed), fed in
 * pieces whose sizes come from the input's first bytes, as a socket would deliver it.
 * The events seen must not depend on where the stream was split: the same bytes fed
 * whole must give the same number of events and the same total data length, or the
 * target aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "api/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fz_sse_s {
    size_t events, bytes;
} fz_sse_t;

static void on_event(void *ud, const char *d, size_t len)
{
    fz_sse_t *s = ud;
    volatile char c = len ? d[len - 1] : 0; /* touch the slice */
    (void)c;
    s->events++;
    s->bytes += len;
}

/* Feeds the stream in pieces; sizes cycle through splits[]. Returns the final status. */
static wp_status_t run(const char *p, size_t n, const uint8_t *splits, size_t n_splits,
                       fz_sse_t *out, bool *pending)
{
    wp_api_sse_t sse;
    wp_api_sse_init(&sse, 1024, on_event, out);
    wp_err_t err;
    wp_status_t st = WP_OK;
    size_t off = 0, i = 0;
    while (off < n && st == WP_OK) {
        size_t k = n_splits ? (size_t)splits[i++ % n_splits] % 64 + 1 : n;
        if (k > n - off)
            k = n - off;
        st = wp_api_sse_feed(&sse, p + off, k, &err);
        off += k;
    }
    *pending = wp_api_sse_pending(&sse);
    wp_api_sse_free(&sse);
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    const uint8_t *splits = data;
    const size_t n_splits = 4;
    const char *p = (const char *)data + 4;
    size_t n = size - 4;

    fz_sse_t a = {0, 0}, b = {0, 0};
    bool pa, pb;
    wp_status_t sa = run(p, n, splits, n_splits, &a, &pa);
    wp_status_t sb = run(p, n, NULL, 0, &b, &pb);
    if (sa == WP_OK && sb == WP_OK && (a.events != b.events || a.bytes != b.bytes || pa != pb))
        abort(); /* the split changed what was parsed */
    return 0;
}
