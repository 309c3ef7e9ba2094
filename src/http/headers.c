/* http/headers: see headers.h. Offsets, not pointers, so `raw` may move when it grows. */
#include "http/headers.h"

#include <string.h>

void wp_http_headers_init(wp_http_headers_t *hs, size_t max_bytes)
{
    wp_buf_init(&hs->raw, max_bytes);
    hs->n = 0;
    hs->last = 0;
}

void wp_http_headers_reset(wp_http_headers_t *hs)
{
    wp_buf_reset(&hs->raw);
    hs->n = 0;
    hs->last = 0;
}

void wp_http_headers_free(wp_http_headers_t *hs)
{
    wp_buf_free(&hs->raw);
    hs->n = 0;
    hs->last = 0;
}

wp_status_t wp_http_headers_on_field(wp_http_headers_t *hs, const char *at, size_t len)
{
    if (hs->last != 1) {
        if (hs->n == WP_HTTP_MAX_HEADERS)
            return WP_ELIMIT;
        hs->h[hs->n++] = (wp_http_hdr_t){hs->raw.len, 0, 0, 0};
        hs->last = 1;
    }
    wp_http_hdr_t *h = &hs->h[hs->n - 1];
    if (wp_buf_append(&hs->raw, at, len) != WP_OK)
        return WP_ELIMIT;
    h->name_len += len;
    h->value_off = hs->raw.len;
    return WP_OK;
}

wp_status_t wp_http_headers_on_value(wp_http_headers_t *hs, const char *at, size_t len)
{
    if (hs->n == 0)
        return WP_EINVAL;
    hs->last = 2;
    wp_http_hdr_t *h = &hs->h[hs->n - 1];
    if (wp_buf_append(&hs->raw, at, len) != WP_OK)
        return WP_ELIMIT;
    h->value_len += len;
    return WP_OK;
}

wp_str_t wp_http_headers_name(const wp_http_headers_t *hs, int i)
{
    return (wp_str_t){hs->raw.data + hs->h[i].name_off, hs->h[i].name_len};
}

wp_str_t wp_http_headers_value(const wp_http_headers_t *hs, int i)
{
    return (wp_str_t){hs->raw.data + hs->h[i].value_off, hs->h[i].value_len};
}

wp_str_t wp_http_headers_get(const wp_http_headers_t *hs, const char *name)
{
    for (int i = 0; i < hs->n; i++) {
        if (wp_str_case_eq_cstr(wp_http_headers_name(hs, i), name))
            return wp_http_headers_value(hs, i);
    }
    return (wp_str_t){NULL, 0};
}

bool wp_http_bearer_ok(const wp_http_headers_t *hs, const char *token)
{
    if (token == NULL || token[0] == '\0')
        return false;
    wp_str_t v = wp_http_headers_get(hs, "Authorization");
    if (v.p == NULL || v.n < 7 || !wp_str_case_eq_cstr((wp_str_t){v.p, 7}, "bearer "))
        return false;
    v.p += 7;
    v.n -= 7;
    while (v.n > 0 && v.p[0] == ' ') {
        v.p++;
        v.n--;
    }
    size_t tn = strlen(token);
    unsigned char diff = (unsigned char)(v.n != tn);
    for (size_t i = 0; i < tn; i++)
        diff |= (unsigned char)(token[i] ^ (i < v.n ? v.p[i] : 0));
    return diff == 0;
}
