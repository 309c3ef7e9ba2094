/*
 * http/headers: the header list of one HTTP message, as http_parser hands it over.
 *
 * http_parser may deliver a header name or value in several pieces; the callbacks
 * here glue them. Names and values are stored back to back in `raw`, which the list
 * owns; wp_http_headers_get returns slices into it, valid until the next reset or
 * free. At most WP_HTTP_MAX_HEADERS headers and raw.max bytes: past either the add
 * fails with WP_ELIMIT (the caller answers 431).
 */
#ifndef WP_HTTP_HEADERS_H
#define WP_HTTP_HEADERS_H

#include <stdbool.h>

#include "base/buf.h"
#include "base/str.h"

#define WP_HTTP_MAX_HEADERS 100

typedef struct wp_http_hdr_s {
    size_t name_off, name_len, value_off, value_len;
} wp_http_hdr_t;

typedef struct wp_http_headers_s {
    wp_buf_t raw;
    wp_http_hdr_t h[WP_HTTP_MAX_HEADERS];
    int n;
    int last; /* 0 nothing yet, 1 in a name, 2 in a value */
} wp_http_headers_t;

void wp_http_headers_init(wp_http_headers_t *hs, size_t max_bytes);
void wp_http_headers_reset(wp_http_headers_t *hs);
void wp_http_headers_free(wp_http_headers_t *hs);
wp_status_t wp_http_headers_on_field(wp_http_headers_t *hs, const char *at, size_t len);
wp_status_t wp_http_headers_on_value(wp_http_headers_t *hs, const char *at, size_t len);
/* Case-insensitive lookup of the first header with that name; {NULL,0} when absent. */
wp_str_t wp_http_headers_get(const wp_http_headers_t *hs, const char *name);
wp_str_t wp_http_headers_name(const wp_http_headers_t *hs, int i);
wp_str_t wp_http_headers_value(const wp_http_headers_t *hs, int i);
/* True when an "Authorization: Bearer <token>" header carries exactly `token` (compared
 * in time independent of where the bytes differ). An empty or NULL token never matches:
 * an admin surface without a configured token stays closed. */
bool wp_http_bearer_ok(const wp_http_headers_t *hs, const char *token);

#endif
