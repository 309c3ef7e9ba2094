/*
 * kvev/sub: SUB + DEALER on the loop, gap detection, replay and resync.
 *
 * Both sockets' ZMQ_FDs are polled; ZeroMQ signals them edge-triggered, so every wake-up
 * (and every send) is followed by drain(), which reads both sockets until ZMQ_EVENTS says
 * neither has a message. State: last (the last seq delivered or skipped, when have_last),
 * and while a replay is out, want (= last + 1 when asked) and the held live batches. A
 * replay ends with the end marker (seq -1), a batch past last + 1 (the buffer did not
 * reach back far enough), or the timer; the held batches are then fed again in order,
 * those already delivered skipped. After a timeout the DEALER is made anew, so a late
 * answer cannot be taken for the next replay's.
 */
#include "kvev/sub.h"
#include "kvev/ctx.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "base/buf.h"
#include "base/log.h"

typedef struct {
    uint64_t seq;
    void *data;
    size_t len;
} held_t;

struct wp_kvev_sub_s {
    uv_loop_t *loop;
    void *ctx, *sub, *dealer;
    uv_poll_t psub;
    uv_poll_t *pdealer; /* malloc'd: replaced with the DEALER */
    uv_timer_t timer;
    int open_handles; /* psub and timer, closing */
    bool closing;
    wp_kvev_sub_cb_t cb;
    void *ud;
    wp_kvev_decoder_t *dec;
    char replay_ep[256];
    bool have_last, replaying;
    uint64_t last;
    held_t *held;
    size_t n_held, cap_held;
    wp_kvev_sub_stats_t stats;
};

static void drain(wp_kvev_sub_t *s);

static void on_poll(uv_poll_t *h, int status, int events)
{
    drain(h->data);
}

static void free_poll(uv_handle_t *h)
{
    free(h);
}

static void close_dealer(wp_kvev_sub_t *s)
{
    if (s->pdealer != NULL) {
        uv_poll_stop(s->pdealer);
        uv_close((uv_handle_t *)s->pdealer, free_poll);
        s->pdealer = NULL;
    }
    if (s->dealer != NULL)
        zmq_close(s->dealer);
    s->dealer = NULL;
}

static wp_status_t open_dealer(wp_kvev_sub_t *s, wp_err_t *err)
{
    s->dealer = zmq_socket(s->ctx, ZMQ_DEALER);
    if (s->dealer == NULL)
        return wp_err_set(err, WP_EIO, "zmq_socket: %s", zmq_strerror(errno));
    int zero = 0, fd;
    size_t sz = sizeof(fd);
    zmq_setsockopt(s->dealer, ZMQ_LINGER, &zero, sizeof(zero));
    if (zmq_connect(s->dealer, s->replay_ep) != 0 ||
        zmq_getsockopt(s->dealer, ZMQ_FD, &fd, &sz) != 0)
        return wp_err_set(err, WP_EIO, "kv events: connect %s: %s", s->replay_ep,
                          zmq_strerror(errno));
    s->pdealer = malloc(sizeof(*s->pdealer));
    if (s->pdealer == NULL)
        return wp_err_set(err, WP_ENOMEM, "kv events: out of memory");
    if (uv_poll_init(s->loop, s->pdealer, fd) != 0) {
        free(s->pdealer);
        s->pdealer = NULL;
        return wp_err_set(err, WP_EIO, "kv events: uv_poll_init failed");
    }
    s->pdealer->data = s;
    uv_poll_start(s->pdealer, UV_READABLE, on_poll);
    return WP_OK;
}

static uint64_t be64(const void *p)
{
    const uint8_t *b = p;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

static void deliver(wp_kvev_sub_t *s, uint64_t seq, const void *data, size_t len, bool replayed)
{
    s->have_last = true;
    s->last = seq;
    s->stats.last_seq = seq;
    wp_kvev_batch_t b;
    wp_err_t err;
    if (wp_kvev_decode(s->dec, data, len, &b, &err) != WP_OK) {
        s->stats.decode_errors++;
        char q[WP_ERR_MAX + 8];
        wp_log(WP_LOG_WARN, "kv events: undecodable batch", "seq=%" PRIu64 " error=%s", seq,
               wp_log_quote(q, sizeof(q), err.msg));
        return;
    }
    s->stats.batches++;
    s->stats.events += b.n_events;
    s->stats.last_ts = b.ts;
    if (replayed)
        s->stats.replayed++;
    if (s->cb.on_batch != NULL)
        s->cb.on_batch(s->ud, &b, seq);
}

static void resync(wp_kvev_sub_t *s, const char *why)
{
    s->stats.resyncs++;
    s->have_last = false;
    char q[256];
    wp_log(WP_LOG_WARN, "kv events: resync", "replay=%s why=%s",
           s->replay_ep[0] ? s->replay_ep : "-", wp_log_quote(q, sizeof(q), why));
    if (s->cb.on_resync != NULL)
        s->cb.on_resync(s->ud, why);
}

static void on_live(wp_kvev_sub_t *s, uint64_t seq, const void *data, size_t len);

/* Ends the replay (why != NULL: it failed) and feeds the held batches again. */
static void finish_replay(wp_kvev_sub_t *s, const char *why)
{
    uv_timer_stop(&s->timer);
    s->replaying = false;
    if (why != NULL)
        resync(s, why);
    held_t *h = s->held;
    size_t n = s->n_held;
    s->held = NULL;
    s->n_held = s->cap_held = 0;
    for (size_t i = 0; i < n; i++) {
        if (!s->closing && !(s->have_last && !s->replaying && h[i].seq <= s->last))
            on_live(s, h[i].seq, h[i].data, h[i].len);
        free(h[i].data);
    }
    free(h);
}

static void hold(wp_kvev_sub_t *s, uint64_t seq, const void *data, size_t len)
{
    if (s->n_held == WP_KVEV_HELD_MAX) {
        finish_replay(s, "too many live batches held during a replay");
        on_live(s, seq, data, len);
        return;
    }
    if (wp_array_reserve((void **)&s->held, &s->cap_held, s->n_held, 1, sizeof(*s->held), 16) !=
        WP_OK)
        goto oom;
    void *copy = malloc(len ? len : 1);
    if (copy == NULL)
        goto oom;
    memcpy(copy, data, len);
    s->held[s->n_held++] = (held_t){seq, copy, len};
    return;
oom:
    finish_replay(s, "out of memory holding live batches during a replay");
}

static void on_timeout(uv_timer_t *t)
{
    wp_kvev_sub_t *s = t->data;
    char why[96];
    snprintf(why, sizeof(why), "no answer from the replay endpoint within %d ms",
             WP_KVEV_REPLAY_TIMEOUT_MS);
    close_dealer(s);
    wp_err_t err;
    if (open_dealer(s, &err) != WP_OK)
        wp_log(WP_LOG_ERROR, "kv events: replay socket", "error=%s", err.msg);
    finish_replay(s, why);
    drain(s);
}

static void on_kick(uv_timer_t *t)
{
    drain(t->data);
}

static void on_live(wp_kvev_sub_t *s, uint64_t seq, const void *data, size_t len)
{
    if (s->replaying) {
        hold(s, seq, data, len);
        return;
    }
    if (!s->have_last || seq == s->last + 1) {
        deliver(s, seq, data, len, false);
        return;
    }
    char why[128];
    if (seq <= s->last) {
        snprintf(why, sizeof(why),
                 "sequence went back from %" PRIu64 " to %" PRIu64 " (publisher restarted)",
                 s->last, seq);
        resync(s, why);
        deliver(s, seq, data, len, false);
        return;
    }
    s->stats.gaps++;
    if (s->dealer == NULL) {
        snprintf(why, sizeof(why), "missed batches %" PRIu64 "..%" PRIu64 " and no replay endpoint",
                 s->last + 1, seq - 1);
        resync(s, why);
        deliver(s, seq, data, len, false);
        return;
    }
    uint8_t req[8];
    for (int k = 0; k < 8; k++)
        req[k] = (uint8_t)((s->last + 1) >> (56 - 8 * k));
    s->replaying = true;
    hold(s, seq, data, len);
    uv_timer_start(&s->timer, on_timeout, WP_KVEV_REPLAY_TIMEOUT_MS, 0);
    if (zmq_send(s->dealer, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(s->dealer, req, 8, ZMQ_DONTWAIT) < 0)
        finish_replay(s, "could not send the replay request");
}

static void on_replay(wp_kvev_sub_t *s, uint64_t seq, const void *data, size_t len)
{
    if (!s->replaying)
        return; /* the end of an answer we stopped waiting for */
    if (seq == UINT64_MAX) {
        finish_replay(s, NULL);
        return;
    }
    if (s->have_last && seq <= s->last)
        return;
    if (seq == s->last + 1) {
        deliver(s, seq, data, len, true);
        return;
    }
    char why[128];
    snprintf(why, sizeof(why),
             "replay starts at %" PRIu64 ", wanted %" PRIu64
             " (the publisher's buffer is too short)",
             seq, s->last + 1);
    finish_replay(s, why);
}

static bool readable(void *sock)
{
    int ev = 0;
    size_t sz = sizeof(ev);
    return sock != NULL && zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &sz) == 0 && (ev & ZMQ_POLLIN);
}

/* Reads one message from sock (live or replay); false when none was waiting. */
static bool read_one(wp_kvev_sub_t *s, void *sock, bool live)
{
    if (!readable(sock))
        return false;
    zmq_msg_t f[3];
    int n;
    if (!wp_kvev_recv3(sock, f, &n))
        return false;
    /* live: [topic, seq, payload]; replay: ["", seq, payload] */
    if (n == 3 && zmq_msg_size(&f[1]) == 8 && (live || zmq_msg_size(&f[0]) == 0)) {
        uint64_t seq = be64(zmq_msg_data(&f[1]));
        if (live)
            on_live(s, seq, zmq_msg_data(&f[2]), zmq_msg_size(&f[2]));
        else
            on_replay(s, seq, zmq_msg_data(&f[2]), zmq_msg_size(&f[2]));
    } else {
        s->stats.decode_errors++;
        wp_log(WP_LOG_WARN, "kv events: malformed message", "frames=%d socket=%s", n,
               live ? "sub" : "replay");
    }
    for (int i = 0; i < n && i < 3; i++)
        zmq_msg_close(&f[i]);
    return true;
}

static void drain(wp_kvev_sub_t *s)
{
    bool more = true;
    while (more && !s->closing) {
        more = read_one(s, s->sub, true);
        if (!s->closing)
            more |= read_one(s, s->dealer, false);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    wp_kvev_sub_t *s = h->data;
    if (--s->open_handles > 0)
        return;
    for (size_t i = 0; i < s->n_held; i++)
        free(s->held[i].data);
    free(s->held);
    wp_kvev_decoder_free(s->dec);
    free(s);
}

wp_kvev_sub_t *wp_kvev_sub_new(uv_loop_t *loop, void *zmq_ctx, const char *endpoint,
                               const char *replay_endpoint, const char *topic,
                               const wp_kvev_sub_cb_t *cb, void *ud, wp_err_t *err)
{
    wp_kvev_sub_t *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->dec = wp_kvev_decoder_new()) == NULL) {
        free(s);
        wp_err_set(err, WP_ENOMEM, "kv events: out of memory");
        return NULL;
    }
    s->loop = loop;
    s->ctx = zmq_ctx;
    s->cb = *cb;
    s->ud = ud;
    if (replay_endpoint != NULL && strlen(replay_endpoint) >= sizeof(s->replay_ep)) {
        wp_err_set(err, WP_ELIMIT, "kv events: replay endpoint too long");
        goto fail;
    }
    snprintf(s->replay_ep, sizeof(s->replay_ep), "%s", replay_endpoint ? replay_endpoint : "");
    s->sub = zmq_socket(zmq_ctx, ZMQ_SUB);
    if (s->sub == NULL) {
        wp_err_set(err, WP_EIO, "zmq_socket: %s", zmq_strerror(errno));
        goto fail;
    }
    int zero = 0, ivl = 100, fd;
    size_t sz = sizeof(fd);
    zmq_setsockopt(s->sub, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(s->sub, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
    zmq_setsockopt(s->sub, ZMQ_SUBSCRIBE, topic ? topic : "", topic ? strlen(topic) : 0);
    if (zmq_connect(s->sub, endpoint) != 0) {
        wp_err_set(err, WP_EIO, "kv events: connect %s: %s", endpoint, zmq_strerror(errno));
        goto fail;
    }
    if (s->replay_ep[0] != 0 && open_dealer(s, err) != WP_OK)
        goto fail;
    zmq_getsockopt(s->sub, ZMQ_FD, &fd, &sz);
    uv_poll_init(loop, &s->psub, fd);
    uv_timer_init(loop, &s->timer);
    s->psub.data = s->timer.data = s;
    s->open_handles = 2;
    uv_poll_start(&s->psub, UV_READABLE, on_poll);
    /* A first drain on the loop's next turn: until a socket's ZMQ_EVENTS has been read once,
     * its pipes count as active and libzmq may not signal the fd for the first messages. */
    uv_timer_start(&s->timer, on_kick, 0, 0);
    return s;
fail:
    close_dealer(s);
    if (s->sub != NULL)
        zmq_close(s->sub);
    wp_kvev_decoder_free(s->dec);
    free(s);
    return NULL;
}

void wp_kvev_sub_stats(const wp_kvev_sub_t *s, wp_kvev_sub_stats_t *out)
{
    *out = s->stats;
}

void wp_kvev_sub_close(wp_kvev_sub_t *s)
{
    if (s == NULL || s->closing)
        return;
    s->closing = true;
    uv_timer_stop(&s->timer);
    uv_poll_stop(&s->psub);
    close_dealer(s);
    zmq_close(s->sub);
    s->sub = NULL;
    uv_close((uv_handle_t *)&s->psub, on_handle_closed);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
}
