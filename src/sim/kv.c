/*
 * sim/kv: the prefill side of P/D. A held request (a finished remote prefill whose blocks
 * the engine keeps) gets a record with an expiry timer; the side channel, one TCP listener
 * per replica, answers `PULL <id> <n_tokens>` lines (protocol in sim.h) by releasing the
 * held request and telling the KV size, or with `ERR <reason>`. A connection reads at most
 * one line of WP_SIM_KV_LINE_MAX bytes within WP_SIM_KV_IO_TIMEOUT_MS, writes one line and
 * closes; the ids of the last 64 expired requests are remembered so a late pull hears
 * "expired" rather than "unknown".
 */
#include "sim/internal.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/str.h"

struct sim_held_s {
    sim_replica_t *r;
    uint64_t id;
    int32_t prompt_tokens;
    uv_timer_t timer;
    sim_held_t *prev, *next;
};

struct sim_kvconn_s {
    sim_replica_t *r;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wr;
    char line[WP_SIM_KV_LINE_MAX];
    size_t len;
    char out[WP_SIM_KV_LINE_MAX];
    int open; /* handles not yet closed */
    bool closing;
    sim_kvconn_t *prev, *next;
};

/* ---- held requests ---- */

static void held_closed(uv_handle_t *h)
{
    sim_held_t *hd = h->data;
    wp_sim_t *sim = hd->r->sim;
    free(hd);
    wp__sim_handle_closed(sim);
}

/* Releases the engine's blocks (unless the replica is closing) and drops the record. */
static void held_drop(sim_held_t *hd, bool release)
{
    sim_replica_t *r = hd->r;
    if (hd->prev != NULL)
        hd->prev->next = hd->next;
    else
        r->held = hd->next;
    if (hd->next != NULL)
        hd->next->prev = hd->prev;
    uv_timer_stop(&hd->timer);
    uv_close((uv_handle_t *)&hd->timer, held_closed);
    if (release) {
        wp_engine_release(r->engine, hd->id);
        wp__sim_plan_step(r->group); /* the blocks are free: a blocked request may run */
    }
}

static void on_held_expired(uv_timer_t *t)
{
    sim_held_t *hd = t->data;
    sim_replica_t *r = hd->r;
    r->expired[r->n_expired++ % 64] = hd->id;
    wp_log(WP_LOG_INFO, "kv held blocks expired", "replica=%d request=%llu", r->index,
           (unsigned long long)hd->id);
    held_drop(hd, true);
}

void wp__sim_kv_hold(sim_replica_t *r, uint64_t id, int32_t prompt_tokens)
{
    sim_held_t *hd = calloc(1, sizeof(*hd));
    if (hd == NULL) {
        wp_engine_release(r->engine, id); /* nobody could pull it */
        wp__sim_plan_step(r->group);
        return;
    }
    *hd = (sim_held_t){.r = r, .id = id, .prompt_tokens = prompt_tokens, .next = r->held};
    if (r->held != NULL)
        r->held->prev = hd;
    r->held = hd;
    uv_timer_init(r->sim->loop, &hd->timer);
    hd->timer.data = hd;
    r->sim->open_handles++;
    uv_timer_start(&hd->timer, on_held_expired, (uint64_t)r->sim->cfg.kv_timeout_ms, 0);
}

static sim_held_t *held_find(sim_replica_t *r, uint64_t id)
{
    for (sim_held_t *hd = r->held; hd != NULL; hd = hd->next)
        if (hd->id == id)
            return hd;
    return NULL;
}

static const char *advertised_host(const wp_sim_t *sim)
{
    const char *h = sim->cfg.host;
    return strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0 || h[0] == '\0' ? "127.0.0.1" : h;
}

cJSON *wp__sim_kv_params(sim_replica_t *r, uint64_t id)
{
    wp_sim_t *sim = r->sim;
    int32_t n = wp_engine_req_blocks(r->engine, id, NULL, 0);
    int32_t *blocks = n > 0 ? malloc((size_t)n * sizeof(int32_t)) : NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON *ids = cJSON_CreateArray();
    if (o == NULL || ids == NULL || (n > 0 && blocks == NULL)) {
        free(blocks);
        cJSON_Delete(o);
        cJSON_Delete(ids);
        return NULL;
    }
    if (n > 0)
        wp_engine_req_blocks(r->engine, id, blocks, n);
    for (int32_t i = 0; i < n; i++)
        cJSON_AddItemToArray(ids, cJSON_CreateNumber(blocks[i]));
    free(blocks);
    char engine_id[32], req_id[32];
    snprintf(engine_id, sizeof(engine_id), "sim-%d", r->port);
    snprintf(req_id, sizeof(req_id), "%llu", (unsigned long long)id);
    cJSON_AddBoolToObject(o, "do_remote_prefill", 1);
    cJSON_AddBoolToObject(o, "do_remote_decode", 0);
    cJSON_AddItemToObject(o, "remote_block_ids", ids);
    cJSON_AddStringToObject(o, "remote_engine_id", engine_id);
    cJSON_AddStringToObject(o, "remote_request_id", req_id);
    cJSON_AddStringToObject(o, "remote_host", advertised_host(sim));
    cJSON_AddNumberToObject(o, "remote_port", r->kv_port);
    cJSON_AddNumberToObject(o, "tp_size", sim->cfg.tensor_parallel);
    return o;
}

/* ---- the side channel ---- */

static void kvconn_closed(uv_handle_t *h)
{
    sim_kvconn_t *c = h->data;
    wp_sim_t *sim = c->r->sim;
    if (--c->open == 0)
        free(c);
    wp__sim_handle_closed(sim);
}

static void kvconn_close(sim_kvconn_t *c)
{
    if (c->closing)
        return;
    c->closing = true;
    sim_replica_t *r = c->r;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        r->kvconns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->tcp, kvconn_closed);
    uv_close((uv_handle_t *)&c->timer, kvconn_closed);
}

static void on_answer_written(uv_write_t *w, int status)
{
    (void)status;
    kvconn_close(w->data);
}

static void kvconn_answer(sim_kvconn_t *c, const char *line)
{
    uv_read_stop((uv_stream_t *)&c->tcp);
    int n = snprintf(c->out, sizeof(c->out), "%s\n", line);
    uv_buf_t b = uv_buf_init(c->out, (unsigned)(n < (int)sizeof(c->out) ? n : 0));
    c->wr.data = c;
    if (n <= 0 || uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_answer_written) != 0)
        kvconn_close(c);
}

static bool was_expired(const sim_replica_t *r, uint64_t id)
{
    uint64_t n = r->n_expired < 64 ? r->n_expired : 64;
    for (uint64_t i = 0; i < n; i++)
        if (r->expired[i] == id)
            return true;
    return false;
}

/* "PULL <id> <n_tokens>" → the answer line. */
static void handle_pull(sim_kvconn_t *c, const char *line, size_t len, char *ans, size_t cap)
{
    sim_replica_t *r = c->r;
    wp_str_t s = {line, len}, f[3];
    int nf = 0;
    while (nf < 3 && s.n > 0) {
        size_t i = 0;
        while (i < s.n && s.p[i] == ' ')
            i++;
        size_t j = i;
        while (j < s.n && s.p[j] != ' ')
            j++;
        if (j > i)
            f[nf++] = (wp_str_t){s.p + i, j - i};
        s = (wp_str_t){s.p + j, s.n - j};
    }
    uint64_t id, tokens;
    if (nf != 3 || s.n != 0 || !wp_str_eq_cstr(f[0], "PULL") ||
        wp_parse_u64(f[1].p, f[1].n, &id) != WP_OK ||
        wp_parse_u64(f[2].p, f[2].n, &tokens) != WP_OK) {
        snprintf(ans, cap, "ERR bad-request");
        r->kv_refused++;
        return;
    }
    sim_held_t *hd = held_find(r, id);
    if (hd == NULL || tokens != (uint64_t)hd->prompt_tokens) {
        snprintf(ans, cap, "ERR %s",
                 hd != NULL           ? "tokens"
                 : was_expired(r, id) ? "expired"
                                      : "unknown");
        r->kv_refused++;
        return;
    }
    double bytes = (double)tokens * r->sim->perf.kv_bytes_token;
    snprintf(ans, cap, "OK %.0f", bytes);
    r->kv_served++;
    held_drop(hd, true);
}

static void kv_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    sim_kvconn_t *c = h->data;
    *buf = uv_buf_init(c->line + c->len, (unsigned)(sizeof(c->line) - c->len));
}

static void kv_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    sim_kvconn_t *c = s->data;
    if (nread < 0) {
        kvconn_close(c);
        return;
    }
    c->len += (size_t)nread;
    char *nl = memchr(c->line, '\n', c->len);
    char ans[WP_SIM_KV_LINE_MAX];
    if (nl != NULL) {
        size_t n = (size_t)(nl - c->line);
        if (n > 0 && c->line[n - 1] == '\r')
            n--;
        handle_pull(c, c->line, n, ans, sizeof(ans));
        kvconn_answer(c, ans);
    } else if (c->len == sizeof(c->line)) {
        c->r->kv_refused++;
        kvconn_answer(c, "ERR line-too-long");
    }
}

static void kv_timeout(uv_timer_t *t)
{
    kvconn_close(t->data);
}

static void on_kv_connection(uv_stream_t *server, int status)
{
    sim_replica_t *r = server->data;
    sim_kvconn_t *c = status == 0 ? calloc(1, sizeof(*c)) : NULL;
    if (c == NULL)
        return;
    c->r = r;
    uv_tcp_init(r->sim->loop, &c->tcp);
    uv_timer_init(r->sim->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->open = 2;
    r->sim->open_handles += 2;
    c->next = r->kvconns;
    if (r->kvconns != NULL)
        r->kvconns->prev = c;
    r->kvconns = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, kv_alloc, kv_read) != 0) {
        kvconn_close(c);
        return;
    }
    uv_timer_start(&c->timer, kv_timeout, WP_SIM_KV_IO_TIMEOUT_MS, 0);
}

static void listener_closed(uv_handle_t *h)
{
    sim_replica_t *r = h->data;
    wp__sim_handle_closed(r->sim);
}

wp_status_t wp__sim_kv_listen(sim_replica_t *r, int port, wp_err_t *err)
{
    wp_sim_t *sim = r->sim;
    struct sockaddr_storage addr;
    if (uv_ip4_addr(sim->cfg.host, port, (struct sockaddr_in *)&addr) != 0 &&
        uv_ip6_addr(sim->cfg.host, port, (struct sockaddr_in6 *)&addr) != 0)
        return wp_err_set(err, WP_EINVAL, "kv side channel: bad host '%s'", sim->cfg.host);
    uv_tcp_init(sim->loop, &r->kv_listener);
    r->kv_listener.data = r;
    r->kv_listening = true;
    sim->open_handles++;
    int rc = uv_tcp_bind(&r->kv_listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&r->kv_listener, 128, on_kv_connection);
    if (rc != 0)
        return wp_err_set(err, WP_EIO, "kv side channel: cannot listen on %s:%d: %s", sim->cfg.host,
                          port, uv_strerror(rc));
    struct sockaddr_storage got;
    int len = sizeof(got);
    uv_tcp_getsockname(&r->kv_listener, (struct sockaddr *)&got, &len);
    r->kv_port = got.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&got)->sin6_port)
                                           : ntohs(((struct sockaddr_in *)&got)->sin_port);
    return WP_OK;
}

void wp__sim_kv_forget(sim_replica_t *r)
{
    while (r->held != NULL)
        held_drop(r->held, false);
}

void wp__sim_kv_close(sim_replica_t *r)
{
    wp__sim_kv_forget(r); /* the engine is freed with its blocks */
    while (r->kvconns != NULL)
        kvconn_close(r->kvconns);
    if (r->kv_listening) {
        r->kv_listening = false;
        uv_close((uv_handle_t *)&r->kv_listener, listener_closed);
    }
}
