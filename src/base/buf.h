/*
 * base/buf: a growable byte buffer with a hard size cap.
 *
 * Invariants: len <= cap <= max (when cap > 0); data is NUL-terminated after every
 * successful append (data[len] == 0), so it can be read as a C string. Appends past
 * max fail with WP_ELIMIT and leave the buffer as it was. The buffer owns data;
 * wp_buf_free releases it and leaves an empty buffer that may be reused.
 */
#ifndef WP_BASE_BUF_H
#define WP_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct wp_buf_s {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* hard cap in bytes, including the terminating NUL */
} wp_buf_t;

#define WP_BUF_DEFAULT_MAX ((size_t)64 << 20)

/* A growable array of any element: makes room for `more` elements past n in *v (elem bytes
 * each, *cap of them allocated), doubling from `first`; *v and *cap change only on success.
 * WP_ENOMEM when it cannot (or the size would overflow). */
wp_status_t wp_array_reserve(void **v, size_t *cap, size_t n, size_t more, size_t elem,
                             size_t first);

void wp_buf_init(wp_buf_t *b, size_t max);
void wp_buf_free(wp_buf_t *b);
void wp_buf_reset(wp_buf_t *b); /* len = 0, keeps the memory */
wp_status_t wp_buf_reserve(wp_buf_t *b, size_t extra);
wp_status_t wp_buf_append(wp_buf_t *b, const void *p, size_t n);
wp_status_t wp_buf_puts(wp_buf_t *b, const char *s);
wp_status_t wp_buf_printf(wp_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends each NUL-terminated string up to the NULL that ends the list (so none of them may
 * be NULL: the list would end there): all of them, or (WP_ELIMIT, WP_ENOMEM) none. */
wp_status_t wp_buf_cat(wp_buf_t *b, ...) __attribute__((sentinel));
/* v in decimal: what "%lld" prints, without printf's cost on the paths every request takes. */
wp_status_t wp_buf_append_int(wp_buf_t *b, int64_t v);
/* Appends s as the body of a JSON string (no quotes), escaping as JSON requires. */
wp_status_t wp_buf_json_escape(wp_buf_t *b, const char *s, size_t n);
/* Appends s (NUL-terminated) with & < > " ' as HTML entities, for text and attributes. */
wp_status_t wp_buf_html_escape(wp_buf_t *b, const char *s);
/* Drops the first n bytes. */
void wp_buf_consume(wp_buf_t *b, size_t n);

#endif
