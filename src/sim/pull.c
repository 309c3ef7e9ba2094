/*
 * sim/pull: the decode side of P/D. A request whose kv_transfer_params say
 * do_remote_prefill=true first pulls its prompt's KV from the prefill replica named there:
 * connect to remote_host:remote_port, send `PULL <remote_request_id> <prompt tokens>`, read
 * one answer line (protocol in sim.h). On `OK <kv_bytes>` the transfer is simulated: a timer
 * of (kv_bytes / bandwidth + latency) × time_scale, after which the request joins the engine
 * with kv_ready. Anything else (bad parameters, refused connection, `ERR`, a timeout after
 * WP_SIM_KV_IO_TIMEOUT_MS) is a failed pull: kv_load_failure_policy "fail" answers 500,
 * otherwise the request is prefilled locally. Pulls and failures are counted for /metrics.
 *
 * While a pull runs it owns the request record: a client that goes away only marks the
 * record aborted, and the pull frees it when it ends. One TCP handle and one timer per
 * pull; the pull is freed when both are closed.
 */
#include "sim/internal.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/str.h"

struct sim_pull_s {
    sim_replica_t *r;
    sim_req_t *q; /* NULL once handed on (enqueued, failed or freed) */
    uv_tcp_t tcp;
    uv_connect_t conn;
    uv_timer_t timer;
    uv_write_t wr;
    char out[WP_SIM_KV_LINE_MAX];
    char in[WP_SIM_KV_LINE_MAX];
    size_t in_len;
    int32_t *ids;
    size_t n_ids;
    bool fail_on_error;
    bool tcp_open, transferring, ended;
    int open; /* handles not yet closed */
    char why[96];
    double seconds; /* simulated transfer time */
    sim_pull_t *prev, *next;
};

static void pull_closed(uv_handle_t *h)
{
    sim_pull_t *p = h->data;
    wp_sim_t *sim = p->r->sim;
    if (--p->open == 0) {
        if (p->q != NULL)
            wp__sim_req_free(p->q); /* closed while pulling: the client was aborted */
        free(p->ids);
        free(p);
    }
    wp__sim_handle_closed(sim);
}

static void close_tcp(sim_pull_t *p)
{
    if (p->tcp_open) {
        p->tcp_open = false;
        uv_close((uv_handle_t *)&p->tcp, pull_closed);
    }
}

static void unlink_pull(sim_pull_t *p)
{
    sim_replica_t *r = p->r;
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        r->pulls = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
}

/* Ends the pull once: hands the request on as the outcome says, closes the handles. */
static void pull_end(sim_pull_t *p, bool ok)
{
    if (p->ended)
        return;
    p->ended = true;
    sim_replica_t *r = p->r;
    sim_req_t *q = p->q;
    p->q = NULL;
    unlink_pull(p);
    close_tcp(p);
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, pull_closed);
    if (ok) {
        r->kv_pulls_ok++;
        wp_stats_hist_observe(&r->kv_pull, p->seconds);
    } else {
        r->kv_pulls_failed++;
        wp_log(WP_LOG_WARN, "kv pull failed", "replica=%d reason=\"%s\" policy=%s", r->index,
               p->why, p->fail_on_error ? "fail" : "recompute");
    }
    q->pull = NULL;
    if (q->aborted) {
        wp__sim_req_free(q);
    } else if (!ok && p->fail_on_error) {
        char msg[160];
        snprintf(msg, sizeof(msg), "KV transfer failed (%s) and kv_load_failure_policy is fail",
                 p->why);
        wp__sim_fail(q, 500, msg);
    } else {
        wp__sim_enqueue(q, p->ids, p->n_ids, ok);
    }
}

static void pull_fail(sim_pull_t *p, const char *why)
{
    wp_strlcpy(p->why, why, sizeof(p->why));
    pull_end(p, false);
}

static void on_transferred(uv_timer_t *t)
{
    pull_end(t->data, true);
}

static void on_timeout(uv_timer_t *t)
{
    pull_fail(t->data, "timeout");
}

/* The answer line: "OK <bytes>" starts the simulated transfer; anything else fails. */
static void on_line(sim_pull_t *p, const char *line, size_t n)
{
    sim_replica_t *r = p->r;
    wp_sim_t *sim = r->sim;
    double bytes;
    close_tcp(p);
    if (n > 3 && memcmp(line, "OK ", 3) == 0 && wp_parse_double(line + 3, n - 3, &bytes) == WP_OK &&
        bytes >= 0 && isfinite(bytes)) {
        p->seconds = wp_sim_kv_pull_seconds(bytes, sim->cfg.kv_bandwidth, sim->cfg.kv_latency_s);
        p->transferring = true;
        double ms = ceil(p->seconds * sim->cfg.time_scale * 1000.0);
        uv_timer_stop(&p->timer);
        uv_timer_start(&p->timer, on_transferred, ms < 1e9 ? (uint64_t)ms : 1000000000ULL, 0);
        return;
    }
    char why[96];
    snprintf(why, sizeof(why), "prefill side answered '%.*s'", (int)(n < 60 ? n : 60), line);
    pull_fail(p, why);
}

static void pull_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    sim_pull_t *p = h->data;
    *buf = uv_buf_init(p->in + p->in_len, (unsigned)(sizeof(p->in) - p->in_len));
}

static void pull_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    sim_pull_t *p = s->data;
    if (nread < 0) {
        pull_fail(p, nread == UV_EOF ? "connection closed without an answer"
                                     : uv_strerror((int)nread));
        return;
    }
    p->in_len += (size_t)nread;
    char *nl = memchr(p->in, '\n', p->in_len);
    if (nl != NULL) {
        uv_read_stop(s);
        on_line(p, p->in, (size_t)(nl - p->in));
    } else if (p->in_len == sizeof(p->in)) {
        pull_fail(p, "answer line too long");
    }
}

static void on_written(uv_write_t *w, int status)
{
    if (status != 0)
        pull_fail(w->data, uv_strerror(status));
}

static void on_connect(uv_connect_t *c, int status)
{
    sim_pull_t *p = c->handle->data;
    if (p->ended)
        return;
    if (status != 0) {
        pull_fail(p, uv_strerror(status));
        return;
    }
    uv_buf_t b = uv_buf_init(p->out, (unsigned)strlen(p->out));
    p->wr.data = p;
    if (uv_write(&p->wr, (uv_stream_t *)&p->tcp, &b, 1, on_written) != 0 ||
        uv_read_start((uv_stream_t *)&p->tcp, pull_alloc, pull_read) != 0)
        pull_fail(p, "cannot write to the prefill side");
}

/* The pull's address and request line from kv_transfer_params; false with a reason. */
static bool pull_params(sim_pull_t *p, const cJSON *kv, struct sockaddr_storage *addr)
{
    const cJSON *host = cJSON_GetObjectItemCaseSensitive(kv, "remote_host");
    const cJSON *port = cJSON_GetObjectItemCaseSensitive(kv, "remote_port");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(kv, "remote_request_id");
    if (!cJSON_IsString(host) || !cJSON_IsNumber(port) || !cJSON_IsString(id)) {
        wp_strlcpy(p->why, "remote_host, remote_port or remote_request_id missing", sizeof(p->why));
        return false;
    }
    double pv = port->valuedouble;
    const char *h = strcmp(host->valuestring, "localhost") == 0 ? "127.0.0.1" : host->valuestring;
    if (!(pv >= 1 && pv <= 65535) || pv != floor(pv) ||
        (uv_ip4_addr(h, (int)pv, (struct sockaddr_in *)addr) != 0 &&
         uv_ip6_addr(h, (int)pv, (struct sockaddr_in6 *)addr) != 0)) {
        wp_strlcpy(p->why, "remote_host is not a numeric address or remote_port is bad",
                   sizeof(p->why));
        return false;
    }
    size_t n = strlen(id->valuestring);
    if (n == 0 || n > 40 || strpbrk(id->valuestring, " \r\n\t") != NULL) {
        wp_strlcpy(p->why, "bad remote_request_id", sizeof(p->why));
        return false;
    }
    snprintf(p->out, sizeof(p->out), "PULL %s %zu\n", id->valuestring, p->n_ids);
    return true;
}

void wp__sim_pull_start(sim_req_t *q, const cJSON *kv, const int32_t *ids, size_t n)
{
    sim_replica_t *r = q->r;
    sim_pull_t *p = calloc(1, sizeof(*p));
    int32_t *copy = malloc((n > 0 ? n : 1) * sizeof(int32_t));
    if (p == NULL || copy == NULL) {
        free(p);
        free(copy);
        wp__sim_fail(q, 503, "out of memory");
        return;
    }
    memcpy(copy, ids, n * sizeof(int32_t));
    const cJSON *pol = cJSON_GetObjectItemCaseSensitive(kv, "kv_load_failure_policy");
    *p = (sim_pull_t){.r = r,
                      .q = q,
                      .ids = copy,
                      .n_ids = n,
                      .fail_on_error = cJSON_IsString(pol) && strcmp(pol->valuestring, "fail") == 0,
                      .next = r->pulls};
    if (r->pulls != NULL)
        r->pulls->prev = p;
    r->pulls = p;
    q->pull = p;
    uv_timer_init(r->sim->loop, &p->timer);
    p->timer.data = p;
    p->open = 1;
    r->sim->open_handles++;
    struct sockaddr_storage addr;
    if (!pull_params(p, kv, &addr)) {
        pull_end(p, false);
        return;
    }
    uv_tcp_init(r->sim->loop, &p->tcp);
    p->tcp.data = p;
    p->tcp_open = true;
    p->open++;
    r->sim->open_handles++;
    uv_timer_start(&p->timer, on_timeout, WP_SIM_KV_IO_TIMEOUT_MS, 0);
    if (uv_tcp_connect(&p->conn, &p->tcp, (const struct sockaddr *)&addr, on_connect) != 0)
        pull_fail(p, "cannot connect");
}

void wp__sim_pull_close_all(sim_replica_t *r)
{
    while (r->pulls != NULL) {
        sim_pull_t *p = r->pulls;
        unlink_pull(p);
        p->ended = true;
        close_tcp(p);
        uv_timer_stop(&p->timer);
        uv_close((uv_handle_t *)&p->timer, pull_closed); /* frees p->q: it was aborted */
    }
}
