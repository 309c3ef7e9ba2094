/*
 * http/client: HTTP/1.1 calls to one upstream (host:port) over kept-alive connections.
 *
 * A wp_http_upstream_t is a pool of connections to one address. A call takes an idle
 * connection (or opens one), writes the request, and reports the response through
 * callbacks as it arrives: on_head once, on_body for every piece of the (de-chunked)
 * body, on_done exactly once at the end (WP_OK when the whole response came, an error
 * with a reason otherwise: WP_ETIMEDOUT for a timeout, WP_EIO for the rest). After
 * on_done the call is gone. A call that fails on a
 * reused connection before any response byte (the server had closed it) is retried
 * once on a new connection, invisibly.
 *
 * Timeouts: connect_timeout_ms to connect; first_byte_ms until the response head;
 * idle_ms between body pieces. Ownership: the caller owns the upstream and frees it
 * after its calls are done or cancelled. wp_http_call_cancel may be called from inside
 * a callback; no callback runs after it.
 */
#ifndef WP_HTTP_CLIENT_H
#define WP_HTTP_CLIENT_H

#include <stdint.h>
#include <uv.h>

#include "base/err.h"
#include "http/headers.h"

typedef struct wp_http_upstream_s wp_http_upstream_t;
typedef struct wp_http_call_s wp_http_call_t;

typedef struct wp_http_client_config_s {
    uint64_t connect_timeout_ms; /* 2000 */
    uint64_t first_byte_ms;      /* 600000 */
    uint64_t idle_ms;            /* 600000 */
    uint64_t keepalive_ms;       /* idle pooled connections close after: 30000 */
    int max_idle;                /* pooled idle connections kept: 64 */
    size_t max_header_bytes;     /* 64 KiB */
} wp_http_client_config_t;

typedef struct wp_http_call_cbs_s {
    void (*on_head)(void *ud, int status, const wp_http_headers_t *headers);
    void (*on_body)(void *ud, const char *data, size_t len);
    void (*on_done)(void *ud, wp_status_t status, const char *why);
} wp_http_call_cbs_t;

void wp_http_client_config_default(wp_http_client_config_t *cfg);
/* host: numeric IP or a name resolved now (blocking; call at start-up or reload). */
wp_http_upstream_t *wp_http_upstream_new(uv_loop_t *loop, const char *host, int port,
                                         const wp_http_client_config_t *cfg, wp_err_t *err);
void wp_http_upstream_free(wp_http_upstream_t *up);
const char *wp_http_upstream_name(const wp_http_upstream_t *up); /* "host:port" */
int wp_http_upstream_open_connections(const wp_http_upstream_t *up);

/* headers: extra request headers "Name: value\r\n..." (Host, Content-Length and
 * Connection are added here). The body is borrowed, not copied: it must stay valid and
 * unchanged until on_done has run or wp_http_call_cancel has returned (a transparent retry
 * sends it again). Returns NULL only when out of memory. */
wp_http_call_t *wp_http_call_start(wp_http_upstream_t *up, const char *method, const char *path,
                                   const char *headers, const void *body, size_t len,
                                   const wp_http_call_cbs_t *cbs, void *ud);
/* The same with this call's own wait for the response head (0: the upstream's
 * first_byte_ms). */
wp_http_call_t *wp_http_call_start_timed(wp_http_upstream_t *up, const char *method,
                                         const char *path, const char *headers, const void *body,
                                         size_t len, uint64_t first_byte_ms,
                                         const wp_http_call_cbs_t *cbs, void *ud);
void wp_http_call_cancel(wp_http_call_t *call);

#endif
