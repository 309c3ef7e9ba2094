/*
 * http/client: see client.h.
 *
 * Each connection carries at most one call. The request is written whole; the
 * response is parsed with http_parser in response mode. When the response is complete
 * and both sides allow keep-alive, the connection goes back to the upstream's idle
 * list (a timer closes it after keepalive_ms). Callbacks into the user run with the
 * connection marked busy, so a cancel from inside a callback only flags the call; the
 * parse loop then closes the connection once it is safe.
 */
#include "http/client.h"

#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/str.h"

typedef struct conn_s conn_t;

struct wp_http_upstream_s {
    uv_loop_t *loop;
    struct sockaddr_storage addr;
    char name[300];
    char host[256];
    wp_http_client_config_t cfg;
    conn_t *idle; /* singly linked */
    int nidle, nopen;
    bool freeing;
};

struct wp_http_call_s {
    wp_http_upstream_t *up;
    conn_t *conn;
    wp_buf_t req;     /* the request line and headers, kept for one transparent retry */
    const char *body; /* borrowed from the caller (client.h) */
    size_t body_len;
    wp_http_call_cbs_t cbs;
    void *ud;
    bool head_seen, got_bytes, retried, canceled;
    uint64_t first_byte_ms; /* 0: the upstream's */
};

struct conn_s {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect;
    wp_http_upstream_t *up;
    conn_t *next_idle;
    wp_http_call_t *call;
    http_parser parser;
    wp_http_headers_t headers;
    int handles_open;
    int connect_err; /* uv_tcp_connect failed at once: reported from the timer */
    bool connected, reused, closing, in_parse, complete, keep_alive;
    bool reading; /* uv_read_start done: it reads from the first call until it closes */
};

static void call_start_on(wp_http_call_t *call, conn_t *c);
static void on_timeout(uv_timer_t *t);

void wp_http_client_config_default(wp_http_client_config_t *cfg)
{
    cfg->connect_timeout_ms = 2000;
    cfg->first_byte_ms = 600000;
    cfg->idle_ms = 600000;
    cfg->keepalive_ms = 30000;
    cfg->max_idle = 64;
    cfg->max_header_bytes = 64 * 1024;
}

/* ---- connections ---- */

static void upstream_maybe_free(wp_http_upstream_t *up)
{
    if (up->freeing && up->nopen == 0)
        free(up);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    if (--c->handles_open > 0)
        return;
    wp_http_upstream_t *up = c->up;
    wp_http_headers_free(&c->headers);
    free(c);
    up->nopen--;
    upstream_maybe_free(up);
}

static void idle_remove(conn_t *c)
{
    wp_http_upstream_t *up = c->up;
    for (conn_t **pp = &up->idle; *pp; pp = &(*pp)->next_idle) {
        if (*pp == c) {
            *pp = c->next_idle;
            up->nidle--;
            return;
        }
    }
}

static void conn_close(conn_t *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->call == NULL)
        idle_remove(c);
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static conn_t *conn_new(wp_http_upstream_t *up)
{
    conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->up = up;
    uv_tcp_init(up->loop, &c->tcp);
    uv_timer_init(up->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles_open = 2;
    wp_http_headers_init(&c->headers, up->cfg.max_header_bytes);
    up->nopen++;
    return c;
}

/* ---- finishing a call ---- */

static void call_free(wp_http_call_t *call)
{
    wp_buf_free(&call->req);
    free(call);
}

/* Ends the call: detaches it from its connection, reports, frees. */
static void call_finish(wp_http_call_t *call, wp_status_t st, const char *why)
{
    conn_t *c = call->conn;
    if (c != NULL)
        c->call = NULL;
    call->conn = NULL;
    if (!call->canceled && call->cbs.on_done)
        call->cbs.on_done(call->ud, st, why);
    call_free(call);
}

static void conn_release(conn_t *c)
{
    wp_http_upstream_t *up = c->up;
    if (!c->keep_alive || up->freeing || up->nidle >= up->cfg.max_idle) {
        conn_close(c);
        return;
    }
    /* It keeps reading while idle: the peer's close (or stray bytes) closes it at once, and
     * the next call needs no epoll change. */
    c->next_idle = up->idle;
    up->idle = c;
    up->nidle++;
    c->reused = true;
    uv_timer_start(&c->timer, on_timeout, up->cfg.keepalive_ms, 0);
}

/* A failure on this connection: retry once when nothing was received on a reused
 * connection (the server closed it while idle), otherwise report. */
static void conn_fail_status(conn_t *c, wp_status_t status, const char *why)
{
    wp_http_call_t *call = c->call;
    conn_close(c);
    if (call == NULL)
        return;
    call->conn = NULL;
    c->call = NULL;
    if (c->reused && !call->got_bytes && !call->retried && !call->canceled) {
        call->retried = true;
        conn_t *fresh = conn_new(call->up);
        if (fresh != NULL) {
            call_start_on(call, fresh);
            return;
        }
    }
    char msg[400];
    snprintf(msg, sizeof(msg), "upstream %s: %s", call->up->name, why);
    call_finish(call, status, msg);
}

static void conn_fail(conn_t *c, const char *why)
{
    conn_fail_status(c, WP_EIO, why);
}

static void on_timeout(uv_timer_t *t)
{
    conn_t *c = t->data;
    if (c->call == NULL) { /* idle keep-alive expired */
        conn_close(c);
        return;
    }
    wp_http_call_t *call = c->call;
    if (c->connect_err != 0) {
        char msg[200];
        snprintf(msg, sizeof(msg), "connect failed: %s", uv_strerror(c->connect_err));
        call->retried = true;
        conn_fail(c, msg);
        return;
    }
    const char *why = !c->connected      ? "connect timed out"
                      : !call->head_seen ? "no response before the first-byte timeout"
                                         : "response stalled past the idle timeout";
    call->retried = true; /* a timeout is not retried invisibly */
    conn_fail_status(c, WP_ETIMEDOUT, why);
}

/* ---- response parsing ---- */

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    return wp_http_headers_on_field(&c->headers, at, len) == WP_OK ? 0 : -1;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    return wp_http_headers_on_value(&c->headers, at, len) == WP_OK ? 0 : -1;
}

static int on_headers_complete(http_parser *p)
{
    conn_t *c = p->data;
    wp_http_call_t *call = c->call;
    call->head_seen = true;
    uv_timer_start(&c->timer, on_timeout, c->up->cfg.idle_ms, 0);
    if (!call->canceled && call->cbs.on_head)
        call->cbs.on_head(call->ud, (int)p->status_code, &c->headers);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    wp_http_call_t *call = c->call;
    uv_timer_start(&c->timer, on_timeout, c->up->cfg.idle_ms, 0);
    if (!call->canceled && call->cbs.on_body)
        call->cbs.on_body(call->ud, at, len);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    conn_t *c = p->data;
    c->complete = true;
    c->keep_alive = http_should_keep_alive(p) != 0;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings *settings(void)
{
    static const http_parser_settings s = {
        .on_header_field = on_header_field,
        .on_header_value = on_header_value,
        .on_headers_complete = on_headers_complete,
        .on_body = on_body,
        .on_message_complete = on_message_complete,
    };
    return &s;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static _Thread_local char slab[64 * 1024]; /* one per loop's thread (gateway/prober) */
    *buf = uv_buf_init(slab, sizeof(slab));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    if (c->call == NULL) { /* idle peer closed, or sent stray bytes */
        if (nread != 0)
            conn_close(c);
        return;
    }
    if (nread < 0) {
        /* EOF ends a response that is delimited by the connection's close. */
        if (nread == UV_EOF && c->call->head_seen) {
            c->in_parse = true;
            http_parser_execute(&c->parser, settings(), NULL, 0);
            c->in_parse = false;
            if (c->complete && c->call != NULL) {
                c->keep_alive = false;
                wp_http_call_t *call = c->call;
                conn_close(c);
                call_finish(call, WP_OK, NULL);
                return;
            }
        }
        conn_fail(c, nread == UV_EOF ? "connection closed before the response was complete"
                                     : uv_strerror((int)nread));
        return;
    }
    if (nread == 0)
        return;
    c->call->got_bytes = true;
    c->in_parse = true;
    size_t n = http_parser_execute(&c->parser, settings(), buf->base, (size_t)nread);
    c->in_parse = false;
    wp_http_call_t *call = c->call;
    if (call->canceled) {
        c->keep_alive = false;
        conn_close(c);
        c->call = NULL;
        call_free(call);
        return;
    }
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e != HPE_OK && e != HPE_PAUSED) {
        char why[200];
        snprintf(why, sizeof(why), "malformed response at byte %zu: %s", n,
                 http_errno_description(e));
        call->retried = true;
        conn_fail(c, why);
        return;
    }
    if (c->complete) {
        if (n < (size_t)nread)
            c->keep_alive = false; /* bytes beyond the response: do not trust the connection */
        if (c->tcp.write_queue_size > 0)
            c->keep_alive = false; /* answered before the request was all written: closing
                                      drops the rest, which borrows the caller's body */
        c->call = NULL;
        call->conn = NULL;
        conn_release(c);
        call_finish(call, WP_OK, NULL);
    }
}

/* ---- starting a call ---- */

static void on_write(uv_write_t *w, int status)
{
    conn_t *c = w->data;
    free(w);
    if (status < 0 && status != UV_ECANCELED && c->call != NULL && !c->closing)
        conn_fail(c, uv_strerror(status));
}

/* Writes the call's request, head and borrowed body in one writev: what the socket takes at
 * once is done without a write request (uv_try_write leaves the poll set alone; a finished
 * uv_write re-arms it, one epoll_ctl a call); the rest goes to uv_write, still from the
 * call's head buffer and the caller's body, which outlive it (a connection closed with a
 * write pending never touches them again). */
static void conn_send(conn_t *c)
{
    wp_http_call_t *call = c->call;
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    c->complete = false;
    wp_http_headers_reset(&c->headers);
    uv_timer_start(&c->timer, on_timeout,
                   call->first_byte_ms ? call->first_byte_ms : c->up->cfg.first_byte_ms, 0);
    if (!c->reading)
        c->reading = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0;
    uv_buf_t b[2] = {uv_buf_init(call->req.data, (unsigned)call->req.len),
                     uv_buf_init((char *)call->body, (unsigned)call->body_len)};
    unsigned nb = call->body_len > 0 ? 2 : 1;
    size_t total = call->req.len + call->body_len;
    int n = c->reading ? uv_try_write((uv_stream_t *)&c->tcp, b, nb) : UV_EINVAL;
    if (n >= 0 && (size_t)n == total)
        return;
    if (n < 0 && n != UV_EAGAIN && n != UV_ENOSYS) {
        conn_fail(c, "cannot write the request");
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    uv_buf_t *rest = b;
    if (done >= b[0].len) { /* the head went whole: the rest of the body */
        rest = &b[1];
        nb = 1;
        done -= b[0].len;
    }
    *rest = uv_buf_init(rest->base + done, rest->len - (unsigned)done);
    uv_write_t *w = malloc(sizeof(*w));
    if (w == NULL) {
        conn_fail(c, "out of memory");
        return;
    }
    w->data = c;
    if (uv_write(w, (uv_stream_t *)&c->tcp, rest, nb, on_write) != 0) {
        free(w);
        conn_fail(c, "cannot write the request");
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    conn_t *c = req->data;
    if (c->closing)
        return;
    if (status < 0) {
        char why[200];
        snprintf(why, sizeof(why), "connect failed: %s", uv_strerror(status));
        if (c->call)
            c->call->retried = true;
        conn_fail(c, why);
        return;
    }
    c->connected = true;
    uv_tcp_nodelay(&c->tcp, 1);
    if (c->call == NULL) {
        conn_close(c);
        return;
    }
    conn_send(c);
}

static void call_start_on(wp_http_call_t *call, conn_t *c)
{
    c->call = call;
    call->conn = c;
    if (c->connected) {
        conn_send(c);
        return;
    }
    c->connect.data = c;
    uv_timer_start(&c->timer, on_timeout, c->up->cfg.connect_timeout_ms, 0);
    int rc =
        uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&c->up->addr, on_connect);
    if (rc != 0) {
        /* Report on the next tick, not now: the caller has not got the call yet, and
         * on_done from inside wp_http_call_start would leave it holding a freed call. */
        c->connect_err = rc;
        uv_timer_start(&c->timer, on_timeout, 0, 0);
    }
}

wp_http_call_t *wp_http_call_start(wp_http_upstream_t *up, const char *method, const char *path,
                                   const char *headers, const void *body, size_t len,
                                   const wp_http_call_cbs_t *cbs, void *ud)
{
    return wp_http_call_start_timed(up, method, path, headers, body, len, 0, cbs, ud);
}

/* The request line and head: the headers given, Host and the body's Content-Length. */
static wp_status_t request_head(wp_buf_t *b, const char *method, const char *path, const char *host,
                                size_t len, const char *headers)
{
    wp_status_t st =
        wp_buf_reserve(b, strlen(method) + strlen(path) + strlen(host) + strlen(headers) + 64);
    if (st == WP_OK)
        st = wp_buf_cat(b, method, " ", path, " HTTP/1.1\r\nHost: ", host,
                        "\r\nContent-Length: ", NULL);
    if (st == WP_OK)
        st = wp_buf_append_int(b, (int64_t)len);
    if (st == WP_OK)
        st = wp_buf_cat(b, "\r\n", headers, "\r\n", NULL);
    return st;
}

wp_http_call_t *wp_http_call_start_timed(wp_http_upstream_t *up, const char *method,
                                         const char *path, const char *headers, const void *body,
                                         size_t len, uint64_t first_byte_ms,
                                         const wp_http_call_cbs_t *cbs, void *ud)
{
    wp_http_call_t *call = calloc(1, sizeof(*call));
    if (call == NULL)
        return NULL;
    call->up = up;
    call->first_byte_ms = first_byte_ms;
    call->cbs = *cbs;
    call->ud = ud;
    wp_buf_init(&call->req, 0);
    call->body = len > 0 ? body : NULL;
    call->body_len = len;
    if (request_head(&call->req, method, path, up->name, len, headers ? headers : "") != WP_OK) {
        call_free(call);
        return NULL;
    }
    conn_t *c = up->idle;
    if (c != NULL) {
        up->idle = c->next_idle;
        up->nidle--;
        uv_timer_stop(&c->timer);
    } else {
        c = conn_new(up);
        if (c == NULL) {
            call_free(call);
            return NULL;
        }
    }
    call_start_on(call, c);
    return call;
}

void wp_http_call_cancel(wp_http_call_t *call)
{
    if (call->canceled)
        return;
    call->canceled = true;
    conn_t *c = call->conn;
    if (c == NULL || c->in_parse)
        return; /* the parse loop frees it */
    c->keep_alive = false;
    c->call = NULL;
    conn_close(c);
    call_free(call);
}

/* ---- upstreams ---- */

wp_http_upstream_t *wp_http_upstream_new(uv_loop_t *loop, const char *host, int port,
                                         const wp_http_client_config_t *cfg, wp_err_t *err)
{
    wp_http_upstream_t *up = calloc(1, sizeof(*up));
    if (up == NULL) {
        wp_err_set(err, WP_ENOMEM, "out of memory");
        return NULL;
    }
    up->loop = loop;
    up->cfg = *cfg;
    wp_strlcpy(up->host, host, sizeof(up->host));
    snprintf(up->name, sizeof(up->name), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&up->addr) == 0 ||
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&up->addr) == 0)
        return up;
    uv_getaddrinfo_t gai;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int rc = uv_getaddrinfo(loop, &gai, NULL, host, portstr, &hints);
    if (rc != 0 || gai.addrinfo == NULL) {
        wp_err_set(err, WP_EINVAL, "cannot resolve upstream host '%s': %s", host, uv_strerror(rc));
        free(up);
        return NULL;
    }
    memcpy(&up->addr, gai.addrinfo->ai_addr, gai.addrinfo->ai_addrlen);
    uv_freeaddrinfo(gai.addrinfo);
    return up;
}

void wp_http_upstream_free(wp_http_upstream_t *up)
{
    up->freeing = true;
    while (up->idle != NULL)
        conn_close(up->idle);
    upstream_maybe_free(up);
}

const char *wp_http_upstream_name(const wp_http_upstream_t *up)
{
    return up->name;
}

int wp_http_upstream_open_connections(const wp_http_upstream_t *up)
{
    return up->nopen;
}
