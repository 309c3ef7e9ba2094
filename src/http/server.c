/*
 * http/server: see server.h.
 *
 * Bytes read are appended to the connection's input buffer; conn_process() feeds that
 * buffer to http_parser until a request is complete, pauses the parser, and hands the
 * request to the handler. When the handler ends the response, processing resumes on
 * what is left in the buffer. conn_process() guards against re-entry, so a handler
 * that answers synchronously simply lets the loop go on to the next pipelined request.
 *
 * A connection is freed in its close callback. If its request is still with the
 * handler then, the request is detached (req->conn = NULL, aborted) and freed later by
 * wp_http_res_end.
 *
 * Output is corked: what the handler writes (head, body, chunks) is appended to the
 * connection's output buffer and goes to the socket in one write when the answer ends, or
 * at the end of the loop iteration (the server's check handle) for an answer still going:
 * a head and its body, or the events of one upstream read, leave in one syscall. The write
 * is tried at once (uv_try_write); only what the socket does not take is handed to
 * uv_write, which then owns that buffer.
 */
#include "http/server.h"

#include <errno.h>
#include <http_parser.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "api/openai.h"
#include "base/log.h"
#include "base/str.h"

/* Connections past max_connections that are still answered (503), and how long each may
 * take to send its request. */
#define OVER_LIMIT_MAX 64
#define OVER_LIMIT_MS 1000

struct wp_http_server_s {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    wp_http_server_config_t cfg;
    wp_http_handler_fn handler;
    void *ctx;
    int port;
    int nconns;
    int n_over;         /* of them, over max_connections and about to be answered 503 */
    bool listening;     /* the listener handle exists (until its close callback) */
    bool listener_open; /* ... and uv_close has not been called on it yet */
    bool closing, draining;
    wp_http_conn_t *conns;  /* doubly linked list of open connections */
    uv_check_t check;       /* flushes corked output at the end of each loop iteration */
    bool check_open;        /* check initialised, uv_close not yet called on it */
    bool check_live;        /* ... and its close callback has not run yet */
    wp_http_conn_t *corked; /* connections with output waiting (linked by next_corked) */
};

struct wp_http_conn_s {
    uv_tcp_t tcp;
    uv_timer_t timer;
    wp_http_server_t *srv;
    wp_http_conn_t *prev, *next;
    http_parser parser;
    wp_buf_t in;
    wp_http_req_t *req; /* being parsed, or with the handler */
    bool req_complete;  /* parsed whole, handed to the handler */
    bool peer_closes;   /* the request asked the connection to close (Connection: close, or
                           HTTP/1.0 without keep-alive): the client sends nothing more */
    bool in_process, closing, shutting, reading;
    int error_status; /* set by a parser callback that hit a limit */
    bool over_limit;  /* accepted past max_connections: its request gets 503, then close */
    int handles_open; /* tcp + timer */
    wp_buf_t out;     /* corked output, not yet handed to the socket */
    bool is_corked;   /* on srv->corked */
    wp_http_conn_t *next_corked;
};

/* A write the socket did not take at once: owns its bytes until libuv is done. */
typedef struct write_s {
    uv_write_t w;
    char *data;
} write_t;

static const http_parser_settings *settings(void);
static void conn_process(wp_http_conn_t *c);
static void conn_fail(wp_http_conn_t *c, int status, const char *why);
static void conn_close(wp_http_conn_t *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* The server is freed once closed and its listener, connections and check handle are gone. */
static void srv_maybe_free(wp_http_server_t *srv)
{
    if (srv->closing && srv->nconns == 0 && !srv->listening && !srv->check_live)
        free(srv);
}

static void on_check_closed(uv_handle_t *h)
{
    wp_http_server_t *srv = h->data;
    srv->check_live = false;
    srv_maybe_free(srv);
}

static void on_timer(uv_timer_t *t)
{
    conn_close(t->data);
}

static void conn_read_start(wp_http_conn_t *c)
{
    if (!c->reading && !c->closing && !c->shutting)
        c->reading = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0;
}

void wp_http_server_config_default(wp_http_server_config_t *cfg)
{
    *cfg = (wp_http_server_config_t){.max_header_bytes = 16 * 1024,
                                     .max_body_bytes = 4 * 1024 * 1024,
                                     .max_connections = 4096,
                                     .idle_timeout_ms = 60000,
                                     .header_timeout_ms = 30000,
                                     .server_name = "wellpath"};
}

/* ---- requests ---- */

static wp_http_req_t *req_new(wp_http_conn_t *c)
{
    wp_http_req_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->conn = c;
    wp_buf_init(&r->url, c->srv->cfg.max_header_bytes);
    wp_http_headers_init(&r->headers, c->srv->cfg.max_header_bytes);
    wp_buf_init(&r->body, c->srv->cfg.max_body_bytes + 1);
    r->start_ns = uv_hrtime();
    return r;
}

static void req_free(wp_http_req_t *r)
{
    wp_buf_free(&r->url);
    wp_http_headers_free(&r->headers);
    wp_buf_free(&r->body);
    free(r);
}

/* ---- writing ---- */

static void on_write(uv_write_t *w, int status)
{
    (void)status;
    write_t *wr = (write_t *)w;
    free(wr->data);
    free(wr);
}

static void uncork(wp_http_conn_t *c)
{
    if (!c->is_corked)
        return;
    c->is_corked = false;
    for (wp_http_conn_t **pp = &c->srv->corked; *pp; pp = &(*pp)->next_corked)
        if (*pp == c) {
            *pp = c->next_corked;
            break;
        }
}

/* Hands the corked output to the socket: what it takes now is done; the rest (the buffer
 * itself, not a copy) goes to uv_write. */
static void conn_flush(wp_http_conn_t *c)
{
    uncork(c);
    if (c->closing || c->out.len == 0)
        return;
    uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)c->out.len) {
        if (c->out.cap > 64 * 1024)
            wp_buf_free(&c->out); /* a large answer's buffer is not kept */
        else
            wp_buf_reset(&c->out);
        return;
    }
    if (n < 0 && n != UV_EAGAIN && n != UV_ENOSYS) {
        conn_close(c);
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    write_t *w = malloc(sizeof(*w));
    if (w == NULL) {
        conn_close(c);
        return;
    }
    wp_buf_consume(&c->out, done);
    w->data = c->out.data;
    b = uv_buf_init(w->data, (unsigned)c->out.len);
    size_t max = c->out.max;
    c->out = (wp_buf_t){0};
    wp_buf_init(&c->out, max);
    if (uv_write(&w->w, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
        free(w->data);
        free(w);
        conn_close(c);
    }
}

static void on_check(uv_check_t *h)
{
    wp_http_server_t *srv = h->data;
    while (srv->corked != NULL)
        conn_flush(srv->corked); /* unlinks it */
    uv_check_stop(h);
}

static void conn_write(wp_http_conn_t *c, const void *data, size_t len)
{
    if (c == NULL || c->closing || len == 0)
        return;
    if (wp_buf_append(&c->out, data, len) != WP_OK) {
        conn_close(c);
        return;
    }
    if (!c->is_corked) {
        c->is_corked = true;
        c->next_corked = c->srv->corked;
        c->srv->corked = c;
        uv_check_start(&c->srv->check, on_check);
    }
}

const char *wp_http_status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Payload Too Large";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return status < 400 ? "OK" : "Error";
    }
}

void wp_http_res_head(wp_http_req_t *req, int status, const char *content_type,
                      long long content_length, const char *extra_headers)
{
    if (req->head_sent)
        return;
    req->head_sent = true;
    req->status = status;
    req->chunked = content_length < 0 && !req->http10;
    if (content_length < 0 && req->http10)
        req->keep_alive = false; /* HTTP/1.0 knows no chunks: the close ends the body */
    wp_http_conn_t *c = req->conn;
    if (c == NULL)
        return;
    if (c->srv->draining)
        req->keep_alive = false; /* the connection closes after this answer */
    wp_buf_t h;
    wp_buf_init(&h, 64 * 1024);
    wp_buf_reserve(&h, 160 + strlen(c->srv->cfg.server_name) +
                           (content_type ? strlen(content_type) : 0) +
                           (extra_headers ? strlen(extra_headers) : 0));
    wp_buf_puts(&h, "HTTP/1.1 ");
    wp_buf_append_int(&h, status);
    wp_buf_cat(&h, " ", wp_http_status_text(status), "\r\nServer: ", c->srv->cfg.server_name,
               "\r\n", NULL);
    if (content_type != NULL)
        wp_buf_cat(&h, "Content-Type: ", content_type, "\r\n", NULL);
    if (req->chunked)
        wp_buf_puts(&h, "Transfer-Encoding: chunked\r\n");
    else if (content_length >= 0) {
        wp_buf_puts(&h, "Content-Length: ");
        wp_buf_append_int(&h, content_length);
        wp_buf_puts(&h, "\r\n");
    }
    if (!req->keep_alive)
        wp_buf_puts(&h, "Connection: close\r\n");
    if (extra_headers != NULL)
        wp_buf_puts(&h, extra_headers);
    wp_buf_puts(&h, "\r\n");
    conn_write(c, h.data, h.len);
    wp_buf_free(&h);
}

void wp_http_res_write(wp_http_req_t *req, const void *data, size_t len)
{
    if (req->conn == NULL || req->ended || len == 0)
        return;
    req->bytes_out += len;
    if (!req->chunked) {
        conn_write(req->conn, data, len);
        return;
    }
    /* Size line, data and CRLF are corked together: frames leave whole. */
    char size[24];
    size_t k = wp_str_put_hex(size, len);
    memcpy(size + k, "\r\n", 2);
    conn_write(req->conn, size, k + 2);
    conn_write(req->conn, data, len);
    conn_write(req->conn, "\r\n", 2);
}

static void on_shutdown(uv_shutdown_t *s, int status)
{
    wp_http_conn_t *c = s->handle->data;
    free(s);
    conn_close(c);
}

/* Flushes what is queued, then closes. */
static void conn_shutdown(wp_http_conn_t *c)
{
    if (c->closing || c->shutting)
        return;
    conn_flush(c);
    if (c->closing)
        return;
    c->shutting = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
    uv_shutdown_t *s = malloc(sizeof(*s));
    if (s == NULL || uv_shutdown(s, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        free(s);
        conn_close(c);
    }
}

void wp_http_res_end(wp_http_req_t *req)
{
    if (req->ended)
        return;
    req->ended = true;
    wp_http_conn_t *c = req->conn;
    if (c == NULL) { /* detached: the client is gone */
        req_free(req);
        return;
    }
    /* Detach first: a failed write closes the connection, which must not free req. */
    c->req = NULL;
    c->req_complete = false;
    if (!req->head_sent)
        wp_http_res_head(req, 200, NULL, 0, NULL);
    if (req->chunked)
        conn_write(c, "0\r\n\r\n", 5);
    conn_flush(c);
    bool keep = req->keep_alive;
    req_free(req);
    if (!keep || c->closing || c->srv->draining) {
        /* The client said it closes and the answer is all in the kernel's hands: a plain close
         * (the answer still leaves, then FIN), as nginx does without lingering_close; else
         * the writes drain first and the write side is shut down before the close, so that a
         * client still sending (an answer before its whole request) is not cut by a reset. */
        if (c->peer_closes && c->in.len == 0 &&
            uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0)
            conn_close(c);
        else
            conn_shutdown(c);
        return;
    }
    uv_timer_start(&c->timer, on_timer, c->srv->cfg.idle_timeout_ms, 0);
    conn_read_start(c);
    conn_process(c);
}

void wp_http_res_abort(wp_http_req_t *req)
{
    if (req->ended)
        return;
    req->keep_alive = false;
    wp_http_conn_t *c = req->conn;
    if (c != NULL) {
        c->req = NULL;
        c->req_complete = false;
        conn_flush(c); /* what was written before the abort leaves, as it would uncorked */
        conn_close(c);
    }
    req->ended = true;
    req_free(req);
}

void wp_http_res_send(wp_http_req_t *req, int status, const char *content_type, const void *body,
                      size_t len, const char *extra_headers)
{
    wp_http_res_head(req, status, content_type, (long long)len, extra_headers);
    wp_http_res_write(req, body, len);
    wp_http_res_end(req);
}

void wp_http_res_error(wp_http_req_t *req, int status, const char *message, const char *param)
{
    wp_buf_t b;
    wp_buf_init(&b, 16 * 1024);
    wp_api_write_error(&b, status, message, param);
    wp_http_res_send(req, status, "application/json", b.data, b.len, NULL);
    wp_buf_free(&b);
}

size_t wp_http_req_write_queue(const wp_http_req_t *req)
{
    return req->conn ? req->conn->tcp.write_queue_size + req->conn->out.len : 0;
}

/* ---- parser callbacks ---- */

static int on_message_begin(http_parser *p)
{
    wp_http_conn_t *c = p->data;
    c->req = req_new(c);
    if (c->req == NULL)
        return -1;
    uv_timer_start(&c->timer, on_timer, c->srv->cfg.header_timeout_ms, 0);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    wp_http_conn_t *c = p->data;
    if (wp_buf_append(&c->req->url, at, len) != WP_OK) {
        c->error_status = 431;
        return -1;
    }
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    wp_http_conn_t *c = p->data;
    if (wp_http_headers_on_field(&c->req->headers, at, len) != WP_OK) {
        c->error_status = 431;
        return -1;
    }
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    wp_http_conn_t *c = p->data;
    if (wp_http_headers_on_value(&c->req->headers, at, len) != WP_OK) {
        c->error_status = 431;
        return -1;
    }
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    wp_http_conn_t *c = p->data;
    /* http_parser takes any one-digit version; we speak 1.0 and 1.1 only. */
    if (p->http_major != 1 || p->http_minor > 1) {
        c->error_status = 505;
        return -1;
    }
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > c->srv->cfg.max_body_bytes) {
        c->error_status = 413;
        return -1;
    }
    /* A body of known length gets its buffer once, not by doubling as it arrives (a 400 KB
     * prompt regrew it seven times, each a fresh mapping to fault in: make bench-proxy). */
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > 0 &&
        wp_buf_reserve(&c->req->body, (size_t)p->content_length) != WP_OK) {
        c->error_status = 413;
        return -1;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    wp_http_conn_t *c = p->data;
    if (c->req->body.len + len > c->srv->cfg.max_body_bytes ||
        wp_buf_append(&c->req->body, at, len) != WP_OK) {
        c->error_status = 413;
        return -1;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    wp_http_conn_t *c = p->data;
    wp_http_req_t *r = c->req;
    r->method = (int)p->method;
    wp_strlcpy(r->method_name, http_method_str((enum http_method)p->method),
               sizeof(r->method_name));
    c->peer_closes = http_should_keep_alive(p) == 0;
    r->keep_alive = !c->peer_closes && !c->srv->closing && !c->srv->draining;
    r->http10 = p->http_major == 1 && p->http_minor == 0;
    const char *q = memchr(r->url.data ? r->url.data : "", '?', r->url.len);
    r->path =
        (wp_str_t){r->url.data ? r->url.data : "", q ? (size_t)(q - r->url.data) : r->url.len};
    c->req_complete = true;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings *settings(void)
{
    static const http_parser_settings s = {
        .on_message_begin = on_message_begin,
        .on_url = on_url,
        .on_header_field = on_header_field,
        .on_header_value = on_header_value,
        .on_headers_complete = on_headers_complete,
        .on_body = on_body,
        .on_message_complete = on_message_complete,
    };
    return &s;
}

/* ---- connection ---- */

static void conn_fail(wp_http_conn_t *c, int status, const char *why)
{
    wp_http_req_t *r = c->req;
    if (r == NULL) {
        r = req_new(c);
        if (r == NULL) {
            conn_close(c);
            return;
        }
        c->req = r;
    }
    r->keep_alive = false;
    c->req_complete = true;
    wp_log(WP_LOG_DEBUG, "bad http request", "status=%d why=\"%s\"", status, why);
    wp_http_res_error(r, status, why, NULL); /* ends r; shuts the connection down */
}

static void conn_dispatch(wp_http_conn_t *c)
{
    uv_timer_stop(&c->timer);
    if (c->over_limit) {
        char why[96];
        snprintf(why, sizeof(why), "too many connections: this server takes %d at once",
                 c->srv->cfg.max_connections);
        conn_fail(c, 503, why);
        return;
    }
    c->srv->handler(c->req, c->srv->ctx);
}

/* Feeds data[0..len) to the parser; returns the bytes it took, or SIZE_MAX when the request
 * was malformed (answered, and the connection shut down). */
static size_t conn_parse(wp_http_conn_t *c, const char *data, size_t len)
{
    http_parser_pause(&c->parser, 0);
    size_t n = http_parser_execute(&c->parser, settings(), data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_OK || e == HPE_PAUSED)
        return n;
    char why[160];
    int status = c->error_status ? c->error_status : 400;
    if (status == 413)
        snprintf(why, sizeof(why), "request body exceeds the limit of %zu bytes",
                 c->srv->cfg.max_body_bytes);
    else if (status == 431)
        snprintf(why, sizeof(why), "request headers exceed the limit of %zu bytes",
                 c->srv->cfg.max_header_bytes);
    else if (status == 505)
        snprintf(why, sizeof(why),
                 "HTTP version %u.%u is not supported: this server speaks HTTP/1.0 "
                 "and HTTP/1.1",
                 c->parser.http_major, c->parser.http_minor);
    else
        snprintf(why, sizeof(why), "malformed HTTP request at byte %zu: %s", n,
                 http_errno_description(e));
    conn_fail(c, status, why);
    return SIZE_MAX;
}

static void conn_process(wp_http_conn_t *c)
{
    if (c->in_process)
        return;
    c->in_process = true;
    while (!c->closing && !c->shutting && c->req_complete == false && c->in.len > 0) {
        size_t n = conn_parse(c, c->in.data, c->in.len);
        if (n == SIZE_MAX)
            break;
        wp_buf_consume(&c->in, n);
        if (!c->req_complete)
            break; /* need more bytes */
        conn_dispatch(c);
    }
    c->in_process = false;
}

/* Bytes read while nothing is buffered are parsed where they were read; only what the
 * parser has not taken (the start of the next request) is kept in c->in, before the
 * handler runs. A body is copied once, into its request. */
static void conn_feed(wp_http_conn_t *c, const char *data, size_t len)
{
    if (c->in.len == 0 && !c->in_process && !c->req_complete && !c->closing && !c->shutting) {
        c->in_process = true;
        size_t n = conn_parse(c, data, len);
        c->in_process = false;
        if (n == SIZE_MAX)
            return;
        if (n < len && wp_buf_append(&c->in, data + n, len - n) != WP_OK) {
            conn_close(c);
            return;
        }
        if (c->req_complete) {
            c->in_process = true;
            conn_dispatch(c);
            c->in_process = false;
        }
        conn_process(c);
        return;
    }
    if (wp_buf_append(&c->in, data, len) != WP_OK) {
        conn_close(c);
        return;
    }
    conn_process(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    /* one per thread, as a loop is; what a read leaves unparsed is copied at once */
    static _Thread_local char slab[64 * 1024];
    *buf = uv_buf_init(slab, sizeof(slab));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    wp_http_conn_t *c = s->data;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0)
        return;
    conn_feed(c, buf->base, (size_t)nread);
    size_t cap = c->srv->cfg.max_header_bytes + c->srv->cfg.max_body_bytes + 64 * 1024;
    if (!c->closing && c->reading && c->in.len > cap) {
        /* More pipelined input than one request may hold: keep what was read (it is
         * part of the stream) and stop reading until the current answer is done. */
        uv_read_stop(s);
        c->reading = false;
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    wp_http_conn_t *c = h->data;
    if (--c->handles_open > 0)
        return;
    wp_http_server_t *srv = c->srv;
    wp_buf_free(&c->in);
    wp_buf_free(&c->out);
    srv->n_over -= c->over_limit;
    free(c);
    srv->nconns--;
    srv_maybe_free(srv);
}

static void conn_close(wp_http_conn_t *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uncork(c);
    wp_http_server_t *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    wp_http_req_t *r = c->req;
    c->req = NULL;
    if (r != NULL) {
        if (c->req_complete && !r->ended) {
            r->conn = NULL;
            r->aborted = true;
            if (r->on_abort)
                r->on_abort(r);
        } else {
            req_free(r);
        }
    }
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
    wp_http_server_t *srv = server->data;
    if (status < 0)
        return;
    wp_http_conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return;
    c->srv = srv;
    uv_tcp_init(srv->loop, &c->tcp);
    uv_timer_init(srv->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles_open = 2;
    srv->nconns++;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    wp_buf_init(&c->in, 0);
    wp_buf_init(&c->out, 0);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    /* Past the limit a connection still gets an answer (503 and a JSON error, as nginx's
     * limit_conn does) once it has sent its request, within OVER_LIMIT_MS; a flood beyond
     * OVER_LIMIT_MAX such connections at once is closed at accept. */
    bool over = srv->nconns > srv->cfg.max_connections;
    if (srv->closing || srv->draining || (over && srv->n_over >= OVER_LIMIT_MAX)) {
        conn_close(c);
        return;
    }
    c->over_limit = over;
    srv->n_over += over;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    uv_timer_start(&c->timer, on_timer, over ? OVER_LIMIT_MS : srv->cfg.idle_timeout_ms, 0);
    conn_read_start(c);
}

wp_http_server_t *wp_http_server_new(uv_loop_t *loop, const wp_http_server_config_t *cfg,
                                     wp_http_handler_fn handler, void *ctx)
{
    wp_http_server_t *srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return NULL;
    srv->loop = loop;
    srv->cfg = *cfg;
    srv->handler = handler;
    srv->ctx = ctx;
    uv_check_init(loop, &srv->check);
    srv->check.data = srv;
    srv->check_open = srv->check_live = true;
    return srv;
}

/* SO_REUSEPORT: servers on other loops bind the same address; the kernel spreads new
 * connections over them. */
static int reuse_port(uv_tcp_t *tcp)
{
    uv_os_fd_t fd;
    int one = 1, rc = uv_fileno((uv_handle_t *)tcp, &fd);
    if (rc == 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
        rc = uv_translate_sys_error(errno);
    return rc;
}

wp_status_t wp_http_server_listen(wp_http_server_t *srv, const char *host, int port, wp_err_t *err)
{
    struct sockaddr_storage addr;
    int rc = strchr(host, ':') ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr)
                               : uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
    if (rc != 0)
        return wp_err_set(err, WP_EINVAL, "listen address '%s' is not a numeric IP address", host);
    rc = uv_tcp_init_ex(srv->loop, &srv->tcp, addr.ss_family); /* the socket now, for options */
    if (rc != 0)
        return wp_err_set(err, WP_EIO, "cannot listen on %s:%d: %s", host, port, uv_strerror(rc));
    srv->tcp.data = srv;
    srv->listening = srv->listener_open = true;
    rc = srv->cfg.reuse_port ? reuse_port(&srv->tcp) : 0;
    if (rc == 0)
        rc = uv_tcp_bind(&srv->tcp, (const struct sockaddr *)&addr, 0);
    /* No Nagle delay on answers: set once here, Linux copies TCP_NODELAY to every accepted
     * socket (a setsockopt per connection saved). */
    if (rc == 0)
        rc = uv_tcp_nodelay(&srv->tcp, 1);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->tcp, 511, on_connection);
    if (rc != 0)
        return wp_err_set(err, WP_EIO, "cannot listen on %s:%d: %s", host, port, uv_strerror(rc));
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    uv_tcp_getsockname(&srv->tcp, (struct sockaddr *)&bound, &len);
    srv->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                  : ((struct sockaddr_in *)&bound)->sin_port);
    return WP_OK;
}

int wp_http_server_port(const wp_http_server_t *srv)
{
    return srv->port;
}

int wp_http_server_connections(const wp_http_server_t *srv)
{
    return srv->nconns;
}

static void on_listener_closed(uv_handle_t *h)
{
    wp_http_server_t *srv = h->data;
    srv->listening = false;
    srv_maybe_free(srv);
}

static void close_listener(wp_http_server_t *srv)
{
    if (!srv->listener_open)
        return;
    srv->listener_open = false;
    uv_close((uv_handle_t *)&srv->tcp, on_listener_closed);
}

void wp_http_server_set_limits(wp_http_server_t *srv, const wp_http_server_config_t *cfg)
{
    const char *name = srv->cfg.server_name;
    srv->cfg = *cfg;
    if (srv->cfg.server_name == NULL)
        srv->cfg.server_name = name;
}

void wp_http_server_drain(wp_http_server_t *srv)
{
    if (srv->draining || srv->closing)
        return;
    srv->draining = true;
    close_listener(srv);
    /* Idle keep-alive connections (no request begun, nothing buffered) are shut down
     * now; the others close after their answer. */
    for (wp_http_conn_t *c = srv->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (c->req == NULL && c->in.len == 0)
            conn_shutdown(c);
    }
}

bool wp_http_server_draining(const wp_http_server_t *srv)
{
    return srv->draining;
}

void wp_http_server_close(wp_http_server_t *srv)
{
    srv->closing = true;
    while (srv->conns != NULL)
        conn_close(srv->conns);
    close_listener(srv);
    if (srv->check_open) {
        srv->check_open = false;
        uv_close((uv_handle_t *)&srv->check, on_check_closed);
    }
}
