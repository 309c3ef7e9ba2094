/*
 * api/sse: an incremental parser for Server-Sent Events (text/event-stream), as
 * OpenAI-compatible servers stream completions. Pure; allocation bounded by max_event.
 *
 * Feed bytes as they arrive, in pieces of any size; for every complete event (a blank
 * line ends it) the callback gets the event's data: the `data:` lines joined with
 * "\n", without the field name and its one optional space. Comment lines (":") and
 * other fields (event, id, retry) are skipped. CR, LF and CRLF all end lines. An event
 * whose data grows past max_event bytes makes wp_api_sse_feed fail with WP_ELIMIT
 * (a malformed or hostile stream), naming the byte offset in err.
 * The data slice passed to the callback is valid during the call only.
 */
#ifndef WP_API_SSE_H
#define WP_API_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

typedef void (*wp_api_sse_event_fn)(void *ud, const char *data, size_t len);

typedef struct wp_api_sse_s {
    wp_buf_t line; /* the line being read */
    wp_buf_t data; /* the event being gathered */
    bool has_data; /* a data field was seen in this event */
    bool last_cr;  /* the previous byte was CR (a following LF belongs to it) */
    size_t offset; /* bytes fed so far */
    wp_api_sse_event_fn on_event;
    void *ud;
} wp_api_sse_t;

void wp_api_sse_init(wp_api_sse_t *p, size_t max_event, wp_api_sse_event_fn fn, void *ud);
void wp_api_sse_free(wp_api_sse_t *p);
wp_status_t wp_api_sse_feed(wp_api_sse_t *p, const char *bytes, size_t n, wp_err_t *err);
/* True when bytes of an unfinished event are pending (a stream that ends here was cut). */
bool wp_api_sse_pending(const wp_api_sse_t *p);

#endif
