/*
 * kvev/pub: the publisher side of vLLM's KV events (`--kv-events-config`), for the
 * simulator. Shell: ZeroMQ sockets driven from a libuv loop.
 *
 * Every batch goes out on a PUB socket (an XPUB, which counts its subscribers) as [topic, seq (8
 * bytes big-endian), payload]; seq starts at 0 and grows by one per batch. The last buffer_steps
 * payloads are kept, and a ROUTER socket (when replay_endpoint is set) answers a request [identity,
 * "", start_seq] with [identity, "", seq, payload] for each kept batch from start_seq on, then
 * [identity, "", ff*8, ""]. Requests are served from the loop (uv_poll on ZMQ_FD, drained
 * with ZMQ_EVENTS after every wake-up because that fd is edge-triggered).
 *
 * Ownership: the publisher borrows the loop and the ZeroMQ context (wp_kvev_ctx_new) and
 * owns its sockets, its poll handle and the replay ring. wp_kvev_pub_close closes the
 * sockets at once (linger 0) and frees the publisher once the loop has closed the handle;
 * the context may be freed after that.
 */
#ifndef WP_KVEV_PUB_H
#define WP_KVEV_PUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/err.h"
#include "kvev/kvev.h"

#define WP_KVEV_ENDPOINT_MAX 256

/* vLLM's KVEventsConfig, rank offset applied, plus "encoding" (ours). */
typedef struct wp_kvev_pub_config_s {
    bool enabled;                               /* enable_kv_cache_events and publisher "zmq" */
    char endpoint[WP_KVEV_ENDPOINT_MAX];        /* default: port 5557, every interface */
    char replay_endpoint[WP_KVEV_ENDPOINT_MAX]; /* "" = no replay (the default) */
    size_t buffer_steps;                        /* 10000 */
    int hwm;                                    /* 100000 */
    size_t max_queue_size;                      /* 100000 (accepted; sends never queue here) */
    char topic[WP_KVEV_ENDPOINT_MAX];           /* "" */
    wp_kvev_encoding_t encoding;                /* "map" (default) or "array" */
    /* Bind endpoint, whatever host it names (a listen address of our own: an IP address, `*`
     * or an interface name; ZeroMQ binds no DNS name). false: vLLM's rule, which binds a
     * wildcard, ipc:// or inproc:// (and here a tcp port 0) and connects to a named host (its
     * centralised mode). */
    bool always_bind;
} wp_kvev_pub_config_t;

/* Parses the JSON of --kv-events-config for data-parallel rank dp_rank (>= 0): the ports
 * of endpoint and replay_endpoint are offset by the rank (tcp: the last ":port"; inproc:
 * "_dp<rank>" appended). Unknown keys and wrong types are errors that name the key. */
wp_status_t wp_kvev_pub_config_parse(const char *json, size_t len, int dp_rank,
                                     wp_kvev_pub_config_t *cfg, wp_err_t *err);
/* The defaults above (disabled). */
void wp_kvev_pub_config_default(wp_kvev_pub_config_t *cfg);
/* Offsets endpoint's port by rank into out (vLLM's offset_endpoint_port). */
wp_status_t wp_kvev_endpoint_offset(const char *endpoint, int rank, char *out, size_t cap,
                                    wp_err_t *err);

typedef struct wp_kvev_pub_s wp_kvev_pub_t;

typedef struct wp_kvev_pub_stats_s {
    uint64_t batches, events, bytes;
    uint64_t send_errors;     /* PUB sends that failed (not counting HWM drops, which are silent) */
    uint64_t replay_requests; /* well-formed requests served */
    uint64_t replay_batches;  /* batches sent in answers */
    uint64_t next_seq;
    uint64_t subscriptions; /* subscriptions now open on the PUB (XPUB) socket */
} wp_kvev_pub_stats_t;

/* Binds (endpoint with "*" or "::", ipc://, inproc://, or a tcp port 0) or connects the PUB
 * socket, binds the ROUTER when replay_endpoint is set, and polls it on loop. cfg must be
 * enabled. NULL with err filled on failure. */
wp_kvev_pub_t *wp_kvev_pub_new(uv_loop_t *loop, void *zmq_ctx, const wp_kvev_pub_config_t *cfg,
                               wp_err_t *err);
/* Assigns the next seq, encodes, sends without blocking and keeps the payload for replay. */
wp_status_t wp_kvev_pub_send(wp_kvev_pub_t *pub, const wp_kvev_batch_t *b, wp_err_t *err);
/* The endpoints as bound (ZMQ_LAST_ENDPOINT: "tcp://127.0.0.1:41234" for a port 0), or as
 * given when connected; replay: "" when none. Valid until close. */
const char *wp_kvev_pub_endpoint(const wp_kvev_pub_t *pub);
const char *wp_kvev_pub_replay_endpoint(const wp_kvev_pub_t *pub);
void wp_kvev_pub_stats(const wp_kvev_pub_t *pub, wp_kvev_pub_stats_t *out);
/* Stops polling, closes the sockets (linger 0); freed when the loop closes the handle. */
void wp_kvev_pub_close(wp_kvev_pub_t *pub);

#endif
