/*
 * fuzz_http: HTTP/1.1 request bytes through http_parser into the header list
 * (src/http/headers.c), shaped like the server's parse loop (src/http/server.c): URL
 * and body gathered in capped buffers, header pieces glued by wp_http_headers_on_field /
 * on_value, the parser paused at the end of each message and restarted for pipelined
 * ones. The first input byte picks a feed size so header names and values arrive in
 * pieces, as they do off a socket. Everything is freed before returning.
 */
#include <http_parser.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "http/headers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fz_req_s {
    wp_buf_t url, body;
    wp_http_headers_t headers;
    size_t max_body;
    int messages;
    int failed;
} fz_req_t;

static int on_url(http_parser *p, const char *at, size_t len)
{
    fz_req_t *r = p->data;
    return wp_buf_append(&r->url, at, len) == WP_OK ? 0 : -1;
}

static int on_field(http_parser *p, const char *at, size_t len)
{
    fz_req_t *r = p->data;
    return wp_http_headers_on_field(&r->headers, at, len) == WP_OK ? 0 : -1;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
    fz_req_t *r = p->data;
    return wp_http_headers_on_value(&r->headers, at, len) == WP_OK ? 0 : -1;
}

static int on_headers_complete(http_parser *p)
{
    fz_req_t *r = p->data;
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > r->max_body)
        return -1;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    fz_req_t *r = p->data;
    if (r->body.len + len > r->max_body)
        return -1;
    return wp_buf_append(&r->body, at, len) == WP_OK ? 0 : -1;
}

/* Reads every header back the ways the gateway does, then starts the next message. */
static void use_message(fz_req_t *r)
{
    volatile size_t sum = 0;
    for (int i = 0; i < r->headers.n; i++) {
        wp_str_t n = wp_http_headers_name(&r->headers, i);
        wp_str_t v = wp_http_headers_value(&r->headers, i);
        for (size_t k = 0; k < n.n; k++)
            sum += (unsigned char)n.p[k];
        for (size_t k = 0; k < v.n; k++)
            sum += (unsigned char)v.p[k];
    }
    static const char *const names[] = {"content-length", "Transfer-Encoding", "host",
                                        "x-request-id", "authorization"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        sum += wp_http_headers_get(&r->headers, names[i]).n;
    (void)sum;
    wp_buf_reset(&r->url);
    wp_buf_reset(&r->body);
    wp_http_headers_reset(&r->headers);
}

static int on_message_complete(http_parser *p)
{
    fz_req_t *r = p->data;
    r->messages++;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings fz_settings = {
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Feeds [p, p+n) like the server's conn_process: until an error or all consumed. */
static size_t feed(http_parser *hp, fz_req_t *r, const char *p, size_t n)
{
    size_t used = 0;
    while (used < n && !r->failed) {
        http_parser_pause(hp, 0);
        size_t k = http_parser_execute(hp, &fz_settings, p + used, n - used);
        enum http_errno e = HTTP_PARSER_ERRNO(hp);
        used += k;
        if (e == HPE_PAUSED) {
            use_message(r);
        } else if (e != HPE_OK) {
            r->failed = 1;
        } else if (k == 0) {
            break;
        }
    }
    return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t step = (size_t)(data[0] % 16) + 1;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;

    fz_req_t r = {.max_body = 4096};
    wp_buf_init(&r.url, 2048);
    wp_buf_init(&r.body, 4096);
    wp_http_headers_init(&r.headers, 4096);
    http_parser hp;
    http_parser_init(&hp, HTTP_REQUEST);
    hp.data = &r;

    for (size_t off = 0; off < n && !r.failed; off += step) {
        size_t len = n - off < step ? n - off : step;
        feed(&hp, &r, p + off, len);
    }

    wp_buf_free(&r.url);
    wp_buf_free(&r.body);
    wp_http_headers_free(&r.headers);
    return 0;
}
