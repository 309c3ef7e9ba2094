/*
 * gateway/prober: the checks' GETs (scrape, health, models) on a thread of their own, with
 * its own loop and connections, so that checking a large pool often costs the loop that
 * carries the requests only the results. A thousand endpoints scraped every 50 ms are 20,000
 * GETs a second, a third of a core in system calls alone (docs/benchmarks.md, bench-pool);
 * on the requests' loop that third was taken from the requests.
 *
 * checks.c decides what to check, when, and what an answer means; the prober does the I/O
 * and, for a scrape, reads the Prometheus text into the engine's reading (api/engines, a pure
 * function), so that the text never crosses threads.
 *
 * Threads: new, submit and free are called on the owner's loop, and `deliver` runs there
 * (from a uv_async of the owner's loop), one result at a time. The prober's thread touches
 * its loop, its connections and the two queues; one mutex guards the queues, held only to add
 * to or to take a whole queue, never across I/O.
 *
 * Tickets: the owner names each GET with a nonzero ticket and matches results by it. There is
 * no cancel: every GET ends, by its answer or its timeout (the GET's timeout_ms for a new
 * connection, for the answer's head and between body pieces), and a result for a ticket the owner
 * has given up is the owner's to drop.
 *
 * Connections: one upstream (a pool of kept-alive connections, http/client) per host:port and
 * timeout,
 * made at its first GET (a host name is resolved then, on the prober's thread) and freed once
 * no GET has used it for a minute.
 *
 * Ownership: the prober owns its thread, loop, connections, queues and each result, whose
 * body is valid only while `deliver` runs. wp_gw_prober_free stops the thread (GETs on their
 * way are dropped; `deliver` is not called again) and frees everything; the owner loop's
 * handle closes after it returns, and `closed(ud)` says when.
 */
#ifndef WP_GATEWAY_PROBER_H
#define WP_GATEWAY_PROBER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "api/engines.h"
#include "base/err.h"

typedef struct wp_gw_prober_s wp_gw_prober_t;

/* One GET. */
typedef struct wp_gw_probe_s {
    uint64_t ticket; /* nonzero */
    char host[256];
    int port;
    char path[384];
    /* A scrape: a 2xx answer's body is read with this engine's names for data-parallel rank
     * `rank` (-1: every sample); NULL: not a scrape. */
    const wp_api_engine_t *engine;
    int rank;
    bool keep_body;      /* hand the answer's body to deliver */
    uint64_t timeout_ms; /* > 0: to connect (a new connection), for the head, between pieces */
} wp_gw_probe_t;

/* What one GET found. */
typedef struct wp_gw_probe_result_s {
    uint64_t ticket;
    wp_status_t st; /* WP_OK: an answer came, whole (any status); else why says what failed */
    char why[200];
    int status; /* the answer's HTTP status; 0 when none came */
    /* A scrape answered 2xx: read_st is the reading's status (WP_EINVAL: not Prometheus text,
     * read_err says why) and reading what it found. */
    bool read;
    wp_status_t read_st;
    char read_err[200];
    wp_api_engine_reading_t reading;
    /* keep_body: the answer's body (NUL-terminated), else NULL */
    const char *body;
    size_t body_len;
} wp_gw_probe_result_t;

typedef void (*wp_gw_prober_deliver_fn)(void *ud, const wp_gw_probe_result_t *r);

/* Starts the thread. body_max: the largest body kept (a longer answer fails the GET). */
wp_gw_prober_t *wp_gw_prober_new(uv_loop_t *owner, size_t body_max, wp_gw_prober_deliver_fn deliver,
                                 void *ud, wp_err_t *err);
/* Queues one GET for the thread; WP_ENOMEM when it cannot (nothing is queued then). */
wp_status_t wp_gw_prober_submit(wp_gw_prober_t *p, const wp_gw_probe_t *probe);
/* Stops and joins the thread, frees its part; closed(ud) runs on the owner's loop once the
 * owner's handle is closed too and the prober is gone. */
void wp_gw_prober_free(wp_gw_prober_t *p, void (*closed)(void *ud), void *ud);

#endif
