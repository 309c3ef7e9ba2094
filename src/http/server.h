/*
 * http/server: an HTTP/1.1 server on libuv with http_parser, for the gateway and the
 * simulated model servers.
 *
 * One request at a time per connection: after a request is complete, parsing pauses
 * until its response has ended, then resumes on the bytes already read (pipelining
 * is answered in order). Limits on header bytes (431), body bytes (413), connections
 * (past max_connections a connection's request gets 503 with a JSON error and the
 * connection closes; past that by more than 64 at once, or draining, the accept is
 * closed), and on idle keep-alive and slow clients (a timer: a
 * connection that has not sent a whole request within header_timeout_ms is closed).
 * Malformed HTTP is answered with 400 and a JSON error, then the connection closes; so
 * is an HTTP version other than 1.0 and 1.1, with 505.
 *
 * Ownership and lifetime: the server owns connections; a connection owns its
 * current request. The handler gets a wp_http_req_t and must end it exactly once
 * with wp_http_res_end (or wp_http_res_send/_error, which end it). Until then the
 * req stays valid even when the client goes away: the server calls req->on_abort (if
 * set) once, and later writes are dropped. After wp_http_res_end the req is gone.
 */
#ifndef WP_HTTP_SERVER_H
#define WP_HTTP_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/buf.h"
#include "base/err.h"
#include "http/headers.h"

typedef struct wp_http_server_s wp_http_server_t;
typedef struct wp_http_conn_s wp_http_conn_t;
typedef struct wp_http_req_s wp_http_req_t;

struct wp_http_req_s {
    wp_http_conn_t *conn;
    int method; /* enum http_method */
    char method_name[16];
    wp_buf_t url;  /* path and query as sent */
    wp_str_t path; /* into url, without the query */
    wp_http_headers_t headers;
    wp_buf_t body;
    bool keep_alive;
    bool http10;       /* an HTTP/1.0 client: no chunked encoding for it */
    uint64_t start_ns; /* when the request line began (uv_hrtime) */
    /* For the handler: */
    void *user;
    void (*on_abort)(wp_http_req_t *req); /* client went away before the end */
    /* Response state, managed here. */
    bool head_sent, chunked, ended, aborted;
    int status;
    uint64_t bytes_out;
};

typedef void (*wp_http_handler_fn)(wp_http_req_t *req, void *ctx);

typedef struct wp_http_server_config_s {
    size_t max_header_bytes;    /* 16 KiB */
    size_t max_body_bytes;      /* 4 MiB */
    int max_connections;        /* 4096 */
    uint64_t idle_timeout_ms;   /* keep-alive idle: 60 s */
    uint64_t header_timeout_ms; /* whole request must arrive within: 30 s */
    const char *server_name;    /* "Server:" header value */
    /* Listen with SO_REUSEPORT (false): servers on other loops or processes that set it too
     * may bind the same address, and the kernel spreads new connections over them. */
    bool reuse_port;
} wp_http_server_config_t;

void wp_http_server_config_default(wp_http_server_config_t *cfg);
wp_http_server_t *wp_http_server_new(uv_loop_t *loop, const wp_http_server_config_t *cfg,
                                     wp_http_handler_fn handler, void *ctx);
/* Binds and listens; port 0 picks an ephemeral port (see wp_http_server_port). */
wp_status_t wp_http_server_listen(wp_http_server_t *srv, const char *host, int port, wp_err_t *err);
int wp_http_server_port(const wp_http_server_t *srv);
int wp_http_server_connections(const wp_http_server_t *srv);
/* Drain (graceful stop, step one): closes the listener (new connections are refused),
 * shuts idle keep-alive connections down, and from now on every answer carries
 * "Connection: close" and its connection closes once the answer is flushed. Requests
 * in flight are left to finish. Drained when wp_http_server_connections() is 0; then
 * (or at a deadline, cutting what is left) call wp_http_server_close. Idempotent. */
void wp_http_server_drain(wp_http_server_t *srv);
bool wp_http_server_draining(const wp_http_server_t *srv);
/* New limits (header, body, connections, timeouts) for requests and connections that
 * begin from now on; a NULL server_name keeps the current one. */
void wp_http_server_set_limits(wp_http_server_t *srv, const wp_http_server_config_t *cfg);
/* Stops listening and closes every connection; frees the server when all handles
 * are closed. In-flight requests get on_abort. */
void wp_http_server_close(wp_http_server_t *srv);

/* Response. content_length < 0 means chunked transfer encoding (streams). extra
 * headers: "Name: value\r\n..." or NULL. */
void wp_http_res_head(wp_http_req_t *req, int status, const char *content_type,
                      long long content_length, const char *extra_headers);
void wp_http_res_write(wp_http_req_t *req, const void *data, size_t len);
void wp_http_res_end(wp_http_req_t *req);
/* Ends the request by closing the connection without finishing the response, so the
 * client sees the answer is incomplete (for a failure in the middle of a body that
 * has no framing of its own). Frees req like wp_http_res_end. */
void wp_http_res_abort(wp_http_req_t *req);
/* Head + body + end in one. */
void wp_http_res_send(wp_http_req_t *req, int status, const char *content_type, const void *body,
                      size_t len, const char *extra_headers);
/* An OpenAI-style JSON error: {"error":{"message","type","param","code"}}. */
void wp_http_res_error(wp_http_req_t *req, int status, const char *message, const char *param);
const char *wp_http_status_text(int status);
/* Bytes queued on the socket and not yet written (for backpressure). */
size_t wp_http_req_write_queue(const wp_http_req_t *req);

#endif
