/*
 * kvev/pub: config parsing (vLLM's KVEventsConfig semantics), the PUB socket, the replay
 * ring and the ROUTER that serves it from the loop.
 *
 * The PUB socket is an XPUB: the same on the wire to a SUB, but it hands us each
 * subscription, which we count (wp_kvev_pub_stats: subscriptions), so a caller can wait
 * for a subscriber before publishing instead of losing its first batches.
 *
 * The ring holds (seq, payload) for the last buffer_steps batches, oldest first, each
 * payload a malloc'd copy. Replay answers are sent without blocking; a ROUTER drops what it
 * cannot send to a peer (gone or past its high-water mark), as vLLM's does.
 */
#include "kvev/pub.h"
#include "kvev/ctx.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <zmq.h>

#include "base/log.h"

typedef struct {
    uint64_t seq;
    void *data;
    size_t len;
} slot_t;

struct wp_kvev_pub_s {
    uv_loop_t *loop;
    void *pub, *router;
    uv_poll_t ppub, poll;
    int open_handles;
    wp_kvev_pub_config_t cfg;
    char endpoint[WP_KVEV_ENDPOINT_MAX], replay_endpoint[WP_KVEV_ENDPOINT_MAX];
    slot_t *ring;
    size_t ring_head, ring_len; /* oldest at ring_head */
    wp_buf_t buf;
    wp_kvev_pub_stats_t stats;
};

void wp_kvev_pub_config_default(wp_kvev_pub_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->endpoint, sizeof(cfg->endpoint), "tcp://*:5557");
    cfg->buffer_steps = 10000;
    cfg->hwm = 100000;
    cfg->max_queue_size = 100000;
    cfg->encoding = WP_KVEV_ENC_MAP;
}

wp_status_t wp_kvev_endpoint_offset(const char *endpoint, int rank, char *out, size_t cap,
                                    wp_err_t *err)
{
    int n;
    if (endpoint[0] == 0 || rank == 0) {
        n = snprintf(out, cap, "%s", endpoint);
    } else if (strstr(endpoint, "inproc") != NULL) {
        n = snprintf(out, cap, "%s_dp%d", endpoint, rank);
    } else if (strstr(endpoint, "tcp") != NULL) {
        const char *colon = strrchr(endpoint, ':');
        char *end;
        errno = 0;
        long port = colon ? strtol(colon + 1, &end, 10) : -1;
        if (colon == NULL || colon[1] == 0 || *end != 0 || errno != 0 || port < 0 ||
            port + rank > 65535)
            return wp_err_set(err, WP_EINVAL, "endpoint '%s': no port to offset by rank %d",
                              endpoint, rank);
        n = snprintf(out, cap, "%.*s:%ld", (int)(colon - endpoint), endpoint, port + rank);
    } else {
        return wp_err_set(err, WP_EINVAL,
                          "endpoint '%s': must contain 'inproc' or 'tcp' to offset by rank %d",
                          endpoint, rank);
    }
    if (n < 0 || (size_t)n >= cap)
        return wp_err_set(err, WP_ELIMIT, "endpoint '%s': too long", endpoint);
    return WP_OK;
}

static wp_status_t get_string(const cJSON *it, char *out, size_t cap, bool nullable, wp_err_t *err)
{
    if (nullable && cJSON_IsNull(it)) {
        out[0] = 0;
        return WP_OK;
    }
    if (!cJSON_IsString(it))
        return wp_err_set(err, WP_EINVAL, "kv-events-config: key '%s': expected a string%s",
                          it->string, nullable ? " or null" : "");
    if (strlen(it->valuestring) >= cap)
        return wp_err_set(err, WP_ELIMIT, "kv-events-config: key '%s': longer than %zu bytes",
                          it->string, cap - 1);
    snprintf(out, cap, "%s", it->valuestring);
    return WP_OK;
}

static wp_status_t get_count(const cJSON *it, double lo, double hi, double *v, wp_err_t *err)
{
    if (!cJSON_IsNumber(it) || it->valuedouble != (double)(long long)it->valuedouble ||
        it->valuedouble < lo || it->valuedouble > hi)
        return wp_err_set(err, WP_EINVAL,
                          "kv-events-config: key '%s': expected an integer in [%.0f, %.0f]",
                          it->string, lo, hi);
    *v = it->valuedouble;
    return WP_OK;
}

static wp_status_t parse_keys(const cJSON *root, wp_kvev_pub_config_t *cfg, bool *enable,
                              char *publisher, size_t pcap, wp_err_t *err)
{
    wp_status_t st = WP_OK;
    double v;
    char enc[16];
    for (const cJSON *it = root->child; it != NULL && st == WP_OK; it = it->next) {
        const char *k = it->string;
        if (strcmp(k, "enable_kv_cache_events") == 0) {
            if (!cJSON_IsBool(it))
                return wp_err_set(err, WP_EINVAL, "kv-events-config: key '%s': expected a boolean",
                                  k);
            *enable = cJSON_IsTrue(it);
        } else if (strcmp(k, "publisher") == 0) {
            st = get_string(it, publisher, pcap, true, err);
        } else if (strcmp(k, "endpoint") == 0) {
            st = get_string(it, cfg->endpoint, sizeof(cfg->endpoint), false, err);
        } else if (strcmp(k, "replay_endpoint") == 0) {
            st = get_string(it, cfg->replay_endpoint, sizeof(cfg->replay_endpoint), true, err);
        } else if (strcmp(k, "buffer_steps") == 0) {
            if ((st = get_count(it, 1, 1e7, &v, err)) == WP_OK)
                cfg->buffer_steps = (size_t)v;
        } else if (strcmp(k, "hwm") == 0) {
            if ((st = get_count(it, 0, INT_MAX, &v, err)) == WP_OK)
                cfg->hwm = (int)v;
        } else if (strcmp(k, "max_queue_size") == 0) {
            if ((st = get_count(it, 1, 1e9, &v, err)) == WP_OK)
                cfg->max_queue_size = (size_t)v;
        } else if (strcmp(k, "topic") == 0) {
            st = get_string(it, cfg->topic, sizeof(cfg->topic), false, err);
        } else if (strcmp(k, "encoding") == 0) {
            if ((st = get_string(it, enc, sizeof(enc), false, err)) != WP_OK)
                return st;
            if (strcmp(enc, "map") == 0)
                cfg->encoding = WP_KVEV_ENC_MAP;
            else if (strcmp(enc, "array") == 0)
                cfg->encoding = WP_KVEV_ENC_ARRAY;
            else
                return wp_err_set(
                    err, WP_EINVAL,
                    "kv-events-config: key 'encoding': expected \"map\" or \"array\", got \"%s\"",
                    enc);
        } else {
            return wp_err_set(err, WP_EINVAL, "kv-events-config: unknown key '%s'", k);
        }
    }
    return st;
}

wp_status_t wp_kvev_pub_config_parse(const char *json, size_t len, int dp_rank,
                                     wp_kvev_pub_config_t *cfg, wp_err_t *err)
{
    wp_kvev_pub_config_default(cfg);
    if (dp_rank < 0)
        return wp_err_set(err, WP_EINVAL, "kv-events-config: data-parallel rank %d", dp_rank);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (root == NULL || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return wp_err_set(err, WP_EINVAL, "kv-events-config: expected a JSON object");
    }
    bool enable = false;
    char publisher[32] = "";
    wp_status_t st = parse_keys(root, cfg, &enable, publisher, sizeof(publisher), err);
    cJSON_Delete(root);
    if (st != WP_OK)
        return st;
    if (publisher[0] == 0)
        snprintf(publisher, sizeof(publisher), "%s", enable ? "zmq" : "null");
    if (strcmp(publisher, "zmq") != 0 && strcmp(publisher, "null") != 0)
        return wp_err_set(
            err, WP_EINVAL,
            "kv-events-config: key 'publisher': expected \"zmq\" or \"null\", got \"%s\"",
            publisher);
    cfg->enabled = enable && strcmp(publisher, "zmq") == 0;
    char tmp[WP_KVEV_ENDPOINT_MAX];
    if ((st = wp_kvev_endpoint_offset(cfg->endpoint, dp_rank, tmp, sizeof(tmp), err)) != WP_OK)
        return st;
    memcpy(cfg->endpoint, tmp, sizeof(tmp));
    if ((st = wp_kvev_endpoint_offset(cfg->replay_endpoint, dp_rank, tmp, sizeof(tmp), err)) !=
        WP_OK)
        return st;
    memcpy(cfg->replay_endpoint, tmp, sizeof(tmp));
    return WP_OK;
}

/* vLLM binds on a wildcard, ipc:// or inproc://; we also bind a tcp port 0 (ephemeral). */
static bool should_bind(const char *ep)
{
    size_t n = strlen(ep);
    return strchr(ep, '*') != NULL || strstr(ep, "::") != NULL || strncmp(ep, "ipc://", 6) == 0 ||
           strncmp(ep, "inproc://", 9) == 0 ||
           (strncmp(ep, "tcp://", 6) == 0 && n >= 2 && strcmp(ep + n - 2, ":0") == 0);
}

static wp_status_t open_socket(void *ctx, int type, const char *ep, bool bind, int hwm, void **out,
                               char *actual, size_t cap, wp_err_t *err)
{
    void *s = zmq_socket(ctx, type);
    if (s == NULL)
        return wp_err_set(err, WP_EIO, "zmq_socket: %s", zmq_strerror(errno));
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    if (hwm >= 0)
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    if (type == ZMQ_XPUB) {
        int one = 1; /* every subscribe and unsubscribe, not only the first per topic */
        zmq_setsockopt(s, ZMQ_XPUB_VERBOSER, &one, sizeof(one));
    }
    if ((bind ? zmq_bind(s, ep) : zmq_connect(s, ep)) != 0) {
        wp_status_t st = wp_err_set(err, WP_EIO, "kv events: %s %s: %s", bind ? "bind" : "connect",
                                    ep, zmq_strerror(errno));
        zmq_close(s);
        return st;
    }
    size_t n = cap;
    if (!bind || zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, actual, &n) != 0)
        snprintf(actual, cap, "%s", ep);
    *out = s;
    return WP_OK;
}

static void serve_replay(wp_kvev_pub_t *p, const zmq_msg_t *id, uint64_t start)
{
    p->stats.replay_requests++;
    for (size_t i = 0; i < p->ring_len; i++) {
        const slot_t *sl = &p->ring[(p->ring_head + i) % p->cfg.buffer_steps];
        if (sl->seq < start)
            continue;
        uint8_t seq[8];
        for (int k = 0; k < 8; k++)
            seq[k] = (uint8_t)(sl->seq >> (56 - 8 * k));
        if (zmq_send(p->router, zmq_msg_data((zmq_msg_t *)id), zmq_msg_size(id),
                     ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            return;
        zmq_send(p->router, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send(p->router, seq, 8, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send(p->router, sl->data, sl->len, ZMQ_DONTWAIT);
        p->stats.replay_batches++;
    }
    static const uint8_t end[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    if (zmq_send(p->router, zmq_msg_data((zmq_msg_t *)id), zmq_msg_size(id),
                 ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return;
    zmq_send(p->router, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(p->router, end, 8, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(p->router, "", 0, ZMQ_DONTWAIT);
}

static void drain_router(wp_kvev_pub_t *p)
{
    for (;;) {
        int ev = 0;
        size_t sz = sizeof(ev);
        if (p->router == NULL || zmq_getsockopt(p->router, ZMQ_EVENTS, &ev, &sz) != 0 ||
            !(ev & ZMQ_POLLIN))
            return;
        zmq_msg_t f[3];
        int n;
        if (!wp_kvev_recv3(p->router, f, &n))
            return;
        if (n == 3 && zmq_msg_size(&f[1]) == 0 && zmq_msg_size(&f[2]) == 8) {
            const uint8_t *b = zmq_msg_data(&f[2]);
            uint64_t start = 0;
            for (int k = 0; k < 8; k++)
                start = start << 8 | b[k];
            serve_replay(p, &f[0], start);
        } else {
            wp_log(WP_LOG_WARN, "kv events: invalid replay request", "frames=%d", n);
        }
        for (int i = 0; i < n && i < 3; i++)
            zmq_msg_close(&f[i]);
    }
}

/* Subscription messages on the XPUB: 1 + topic = subscribe, 0 + topic = unsubscribe. */
static void drain_pub(wp_kvev_pub_t *p)
{
    for (;;) {
        int ev = 0;
        size_t sz = sizeof(ev);
        if (p->pub == NULL || zmq_getsockopt(p->pub, ZMQ_EVENTS, &ev, &sz) != 0 ||
            !(ev & ZMQ_POLLIN))
            return;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, p->pub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        const uint8_t *b = zmq_msg_data(&m);
        if (zmq_msg_size(&m) > 0 && b[0] == 1)
            p->stats.subscriptions++;
        else if (zmq_msg_size(&m) > 0 && b[0] == 0 && p->stats.subscriptions > 0)
            p->stats.subscriptions--;
        zmq_msg_close(&m);
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    drain_pub(h->data);
    drain_router(h->data);
}

static wp_status_t start_poll(wp_kvev_pub_t *p, void *sock, uv_poll_t *h, wp_err_t *err)
{
    int fd;
    size_t sz = sizeof(fd);
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &sz) != 0 || uv_poll_init(p->loop, h, fd) != 0)
        return wp_err_set(err, WP_EIO, "kv events: cannot poll a ZeroMQ socket");
    h->data = p;
    p->open_handles++;
    uv_poll_start(h, UV_READABLE, on_poll);
    return WP_OK;
}

wp_kvev_pub_t *wp_kvev_pub_new(uv_loop_t *loop, void *zmq_ctx, const wp_kvev_pub_config_t *cfg,
                               wp_err_t *err)
{
    if (!cfg->enabled) {
        wp_err_set(err, WP_EINVAL, "kv events: publisher is not enabled");
        return NULL;
    }
    if (cfg->buffer_steps == 0) {
        wp_err_set(err, WP_EINVAL, "kv events: buffer_steps must be at least 1");
        return NULL;
    }
    wp_kvev_pub_t *p = calloc(1, sizeof(*p));
    if (p != NULL)
        p->ring = calloc(cfg->buffer_steps, sizeof(slot_t));
    if (p == NULL || p->ring == NULL) {
        free(p);
        wp_err_set(err, WP_ENOMEM, "kv events: out of memory");
        return NULL;
    }
    p->loop = loop;
    p->cfg = *cfg;
    wp_buf_init(&p->buf, WP_KVEV_MAX_PAYLOAD + 1);
    if (open_socket(zmq_ctx, ZMQ_XPUB, cfg->endpoint,
                    cfg->always_bind || should_bind(cfg->endpoint), cfg->hwm, &p->pub, p->endpoint,
                    sizeof(p->endpoint), err) != WP_OK)
        goto fail;
    if (cfg->replay_endpoint[0] != 0 &&
        open_socket(zmq_ctx, ZMQ_ROUTER, cfg->replay_endpoint, true, -1, &p->router,
                    p->replay_endpoint, sizeof(p->replay_endpoint), err) != WP_OK)
        goto fail;
    if (start_poll(p, p->pub, &p->ppub, err) != WP_OK)
        goto fail;
    if (p->router != NULL && start_poll(p, p->router, &p->poll, err) != WP_OK)
        goto fail;
    /* Read ZMQ_EVENTS once now: until then libzmq may not signal the fds for what arrives
     * first (a socket's pipes count as active until a read finds them empty). */
    drain_pub(p);
    drain_router(p);
    return p;
fail:
    wp_kvev_pub_close(p);
    return NULL;
}

wp_status_t wp_kvev_pub_send(wp_kvev_pub_t *p, const wp_kvev_batch_t *b, wp_err_t *err)
{
    wp_buf_reset(&p->buf);
    wp_status_t st = wp_kvev_encode(b, p->cfg.encoding, &p->buf, err);
    if (st != WP_OK)
        return st;
    uint64_t seq = p->stats.next_seq++;
    uint8_t sb[8];
    for (int k = 0; k < 8; k++)
        sb[k] = (uint8_t)(seq >> (56 - 8 * k));
    if (zmq_send(p->pub, p->cfg.topic, strlen(p->cfg.topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(p->pub, sb, 8, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(p->pub, p->buf.data, p->buf.len, ZMQ_DONTWAIT) < 0)
        p->stats.send_errors++;
    p->stats.batches++;
    p->stats.events += b->n_events;
    p->stats.bytes += p->buf.len;
    /* Keep a copy for replay, dropping the oldest when full. */
    void *copy = malloc(p->buf.len ? p->buf.len : 1);
    if (copy == NULL)
        return wp_err_set(err, WP_ENOMEM, "kv events: out of memory");
    memcpy(copy, p->buf.data, p->buf.len);
    size_t cap = p->cfg.buffer_steps;
    if (p->ring_len == cap) {
        free(p->ring[p->ring_head].data);
        p->ring_head = (p->ring_head + 1) % cap;
        p->ring_len--;
    }
    p->ring[(p->ring_head + p->ring_len) % cap] = (slot_t){seq, copy, p->buf.len};
    p->ring_len++;
    /* A send may reset the edge of the router's fd: look at it again. */
    drain_pub(p);
    drain_router(p);
    return WP_OK;
}

const char *wp_kvev_pub_endpoint(const wp_kvev_pub_t *p)
{
    return p->endpoint;
}

const char *wp_kvev_pub_replay_endpoint(const wp_kvev_pub_t *p)
{
    return p->replay_endpoint;
}

void wp_kvev_pub_stats(const wp_kvev_pub_t *p, wp_kvev_pub_stats_t *out)
{
    *out = p->stats;
}

static void free_pub(wp_kvev_pub_t *p)
{
    for (size_t i = 0; i < p->ring_len; i++)
        free(p->ring[(p->ring_head + i) % p->cfg.buffer_steps].data);
    free(p->ring);
    wp_buf_free(&p->buf);
    free(p);
}

static void on_closed(uv_handle_t *h)
{
    wp_kvev_pub_t *p = h->data;
    if (--p->open_handles == 0)
        free_pub(p);
}

void wp_kvev_pub_close(wp_kvev_pub_t *p)
{
    if (p == NULL)
        return;
    /* Off epoll before ZeroMQ closes the fds. */
    int handles = p->open_handles;
    if (handles >= 1)
        uv_poll_stop(&p->ppub);
    if (handles >= 2)
        uv_poll_stop(&p->poll);
    if (p->pub != NULL)
        zmq_close(p->pub);
    if (p->router != NULL)
        zmq_close(p->router);
    p->pub = p->router = NULL;
    if (handles >= 1)
        uv_close((uv_handle_t *)&p->ppub, on_closed);
    if (handles >= 2)
        uv_close((uv_handle_t *)&p->poll, on_closed);
    if (handles == 0)
        free_pub(p);
}
