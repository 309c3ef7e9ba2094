/*
 * kvev/sub: the subscriber side of vLLM's KV events, for the gateway. Shell: ZeroMQ
 * sockets driven from a libuv loop.
 *
 * A SUB socket connects to a publisher's endpoint (retrying every 100 ms while it is not
 * up) and receives [topic, seq, payload]. Each seq is delivered once, in order:
 *  - seq == last + 1: delivered.
 *  - seq > last + 1 (a gap): with a replay endpoint, a DEALER asks for last + 1 and the
 *    live batches that arrive meanwhile are held; replayed batches are delivered, then the
 *    held ones not yet seen. Without one, or when the replay starts past last + 1 (the
 *    publisher's buffer is too short), or no end marker comes within the timeout:
 *    on_resync, and delivery goes on from the held (live) batches.
 *  - seq <= last (the publisher restarted and counts from 0 again): on_resync, then
 *    delivered as the first of a new run.
 * After on_resync the consumer must forget what it knew of this publisher and start over.
 * A payload that does not decode is counted and logged, never fatal (its seq counts).
 *
 * Ownership: borrows the loop and the ZeroMQ context; owns its sockets, handles, the
 * decoder and the held batches. The batch given to on_batch is valid during the call.
 * wp_kvev_sub_close may be called from a callback; the subscriber is freed once the loop
 * has closed its handles.
 */
#ifndef WP_KVEV_SUB_H
#define WP_KVEV_SUB_H

#include <stdint.h>

#include <uv.h>

#include "base/err.h"
#include "kvev/kvev.h"

typedef struct wp_kvev_sub_cb_s {
    void (*on_batch)(void *ud, const wp_kvev_batch_t *b, uint64_t seq);
    void (*on_resync)(void *ud, const char *why);
} wp_kvev_sub_cb_t;

typedef struct wp_kvev_sub_stats_s {
    uint64_t batches, events; /* delivered */
    uint64_t gaps;            /* gaps seen in the live stream */
    uint64_t replayed;        /* batches delivered from a replay */
    uint64_t resyncs;
    uint64_t decode_errors;
    uint64_t last_seq; /* valid when batches > 0 */
    double last_ts;    /* the last delivered batch's ts (lag = now - last_ts) */
} wp_kvev_sub_stats_t;

typedef struct wp_kvev_sub_s wp_kvev_sub_t;

#define WP_KVEV_REPLAY_TIMEOUT_MS 1000
#define WP_KVEV_HELD_MAX 100000 /* live batches held during a replay; past it: resync */

/* replay_endpoint NULL or "": no replay. topic: a prefix filter ("" = all). cb is copied;
 * ud is passed back. NULL with err filled on failure. */
wp_kvev_sub_t *wp_kvev_sub_new(uv_loop_t *loop, void *zmq_ctx, const char *endpoint,
                               const char *replay_endpoint, const char *topic,
                               const wp_kvev_sub_cb_t *cb, void *ud, wp_err_t *err);
void wp_kvev_sub_stats(const wp_kvev_sub_t *s, wp_kvev_sub_stats_t *out);
void wp_kvev_sub_close(wp_kvev_sub_t *s);

#endif
