/*
 * gateway/prober: see prober.h. The owner's side (new, submit, free, the owner's async) is at
 * the top; the thread's side (its loop, the upstreams by address and timeout, one GET) below it.
 */
#include "gateway/prober.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "base/buf.h"
#include "gateway/mailbox.h"
#include "base/hash.h"
#include "base/str.h"
#include "http/client.h"

#define UP_BUCKETS 1024   /* upstreams by host:port and timeout (chained) */
#define UP_IDLE_MS 60000  /* an upstream no GET used for this long is freed */
#define SWEEP_MS 10000    /* how often the thread looks for such upstreams */
#define MAX_IDLE_PER_UP 4 /* connections kept per address: three kinds of check */

/* An upstream of the thread's, by address and timeout (a reload that changes the timeout
 * makes a new one; the old one is swept once unused). */
typedef struct up_entry_s {
    struct up_entry_s *next;
    char host[256];
    int port;
    uint64_t timeout_ms;
    wp_http_upstream_t *up;
    uint64_t last_used_ms;
    int calls; /* GETs in flight on it */
} up_entry_t;

/* One GET in flight on the thread. */
typedef struct pcall_s {
    struct pcall_s *prev, *next;
    struct wp_gw_prober_s *p;
    up_entry_t *entry;
    wp_http_call_t *call;
    wp_gw_probe_t probe;
    int status;
    bool too_big;
    wp_buf_t body;
} pcall_t;

struct wp_gw_prober_s {
    /* the owner's loop */
    uv_loop_t *owner;
    wp_gw_mailbox_t owner_box; /* results (wp_gw_probe_result_t, bodies owned) */
    wp_gw_outbox_t to_thread;  /* the GETs submitted (wp_gw_probe_t) */
    wp_gw_prober_deliver_fn deliver;
    void *ud;
    void (*closed)(void *ud);
    void *closed_ud;
    int owner_parts; /* closing: the outbox and the mailbox */
    /* the thread's */
    uv_thread_t thread;
    uv_loop_t loop;
    wp_gw_mailbox_t thread_box; /* GETs; stopped by wp_gw_prober_free */
    wp_gw_outbox_t to_owner;    /* the results */
    uv_timer_t sweep;
    wp_http_client_config_t client;
    size_t body_max;
    up_entry_t *buckets[UP_BUCKETS];
    pcall_t *calls; /* in flight */
};

static void drop_result(void *msg)
{
    free((char *)((wp_gw_probe_result_t *)msg)->body);
}

/* ---- the owner's side ---- */

static void on_results(void *ud, void *msgs, size_t n, bool stop)
{
    (void)stop;
    wp_gw_prober_t *p = ud;
    wp_gw_probe_result_t *r = msgs;
    for (size_t i = 0; i < n; i++) {
        p->deliver(p->ud, &r[i]);
        drop_result(&r[i]);
    }
}

wp_status_t wp_gw_prober_submit(wp_gw_prober_t *p, const wp_gw_probe_t *probe)
{
    return wp_gw_outbox_add(&p->to_thread, probe) ? WP_OK : WP_ENOMEM;
}

static void thread_main(void *arg);
static void on_gets(void *ud, void *msgs, size_t n, bool stop);
static void on_sweep(uv_timer_t *t);

/* One of the owner's two parts (its outbox, its mailbox) is closed: the prober goes with the
 * second. */
static void on_owner_closed(void *ud)
{
    wp_gw_prober_t *p = ud;
    if (--p->owner_parts > 0)
        return;
    void (*closed)(void *) = p->closed;
    void *cud = p->closed_ud;
    free(p);
    if (closed != NULL)
        closed(cud);
}

wp_gw_prober_t *wp_gw_prober_new(uv_loop_t *owner, size_t body_max, wp_gw_prober_deliver_fn deliver,
                                 void *ud, wp_err_t *err)
{
    wp_gw_prober_t *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        wp_err_set(err, WP_ENOMEM, "out of memory");
        return NULL;
    }
    p->owner = owner;
    p->deliver = deliver;
    p->ud = ud;
    p->body_max = body_max;
    wp_http_client_config_default(&p->client);
    p->client.max_idle = MAX_IDLE_PER_UP;
    int rc;
    if ((rc = uv_loop_init(&p->loop)) != 0) {
        free(p);
        wp_err_set(err, WP_EIO, "checks thread: loop: %s", uv_strerror(rc));
        return NULL;
    }
    if ((rc = wp_gw_mailbox_init(&p->thread_box, &p->loop, sizeof(wp_gw_probe_t), on_gets, NULL,
                                 p)) != 0) {
        uv_loop_close(&p->loop);
        free(p);
        wp_err_set(err, WP_EIO, "checks thread: mailbox: %s", uv_strerror(rc));
        return NULL;
    }
    if ((rc = wp_gw_mailbox_init(&p->owner_box, owner, sizeof(wp_gw_probe_result_t), on_results,
                                 drop_result, p)) != 0) {
        wp_gw_mailbox_close(&p->thread_box, NULL, NULL);
        uv_run(&p->loop, UV_RUN_DEFAULT);
        wp_gw_mailbox_free(&p->thread_box);
        uv_loop_close(&p->loop);
        free(p);
        wp_err_set(err, WP_EIO, "checks thread: mailbox: %s", uv_strerror(rc));
        return NULL;
    }
    uv_timer_init(&p->loop, &p->sweep);
    p->sweep.data = p;
    wp_gw_outbox_init(&p->to_thread, owner, &p->thread_box);
    wp_gw_outbox_init(&p->to_owner, &p->loop, &p->owner_box);
    if ((rc = uv_thread_create(&p->thread, thread_main, p)) != 0) {
        wp_err_set(err, WP_EIO, "checks thread: %s", uv_strerror(rc));
        wp_gw_mailbox_close(&p->thread_box, NULL, NULL);
        wp_gw_outbox_close(&p->to_owner, NULL, NULL);
        uv_close((uv_handle_t *)&p->sweep, NULL);
        uv_run(&p->loop, UV_RUN_DEFAULT);
        uv_loop_close(&p->loop);
        wp_gw_mailbox_free(&p->thread_box);
        wp_gw_mailbox_free(&p->owner_box);
        p->owner_parts = 2;
        wp_gw_outbox_close(&p->to_thread, on_owner_closed, p);
        wp_gw_mailbox_close(&p->owner_box, on_owner_closed, p);
        return NULL;
    }
    return p;
}

void wp_gw_prober_free(wp_gw_prober_t *p, void (*closed)(void *ud), void *ud)
{
    wp_gw_mailbox_stop(&p->thread_box);
    uv_thread_join(&p->thread); /* the thread closes its handles and leaves its loop */
    uv_loop_close(&p->loop);
    wp_gw_mailbox_free(&p->thread_box);
    wp_gw_mailbox_free(&p->owner_box); /* results not delivered: dropped */
    p->closed = closed;
    p->closed_ud = ud;
    p->owner_parts = 2;
    wp_gw_outbox_close(&p->to_thread, on_owner_closed, p);
    wp_gw_mailbox_close(&p->owner_box, on_owner_closed, p);
}

/* ---- the thread's side ---- */

static void thread_main(void *arg)
{
    wp_gw_prober_t *p = arg;
    prctl(PR_SET_NAME, "wp-checks"); /* as top -H, perf and /proc/PID/task show it */
    uv_timer_start(&p->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    uv_run(&p->loop, UV_RUN_DEFAULT);
}

static up_entry_t **bucket(wp_gw_prober_t *p, const char *host, int port)
{
    uint64_t h = wp_hash64(host, strlen(host), (uint64_t)port);
    return &p->buckets[h & (UP_BUCKETS - 1)];
}

/* The upstream for the probe's host:port and timeout, made at its first use; NULL with err
 * when it cannot be. */
static up_entry_t *upstream_for(wp_gw_prober_t *p, const wp_gw_probe_t *probe, wp_err_t *err)
{
    up_entry_t **b = bucket(p, probe->host, probe->port);
    for (up_entry_t *e = *b; e != NULL; e = e->next)
        if (e->port == probe->port && e->timeout_ms == probe->timeout_ms &&
            strcmp(e->host, probe->host) == 0)
            return e;
    up_entry_t *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        wp_err_set(err, WP_ENOMEM, "out of memory");
        return NULL;
    }
    wp_http_client_config_t c = p->client;
    c.connect_timeout_ms = c.first_byte_ms = c.idle_ms = probe->timeout_ms;
    e->up = wp_http_upstream_new(&p->loop, probe->host, probe->port, &c, err);
    if (e->up == NULL) {
        free(e);
        return NULL;
    }
    wp_strlcpy(e->host, probe->host, sizeof(e->host));
    e->port = probe->port;
    e->timeout_ms = probe->timeout_ms;
    e->next = *b;
    *b = e;
    return e;
}

/* Adds r to this iteration's results (its body, if any, goes with it), handed to the owner
 * at the iteration's end. Out of memory, it is lost: the owner's check then times out, as
 * for a server that never answers. */
static void post(wp_gw_prober_t *p, wp_gw_probe_result_t *r)
{
    if (!wp_gw_outbox_add(&p->to_owner, r))
        free((char *)r->body);
}

/* A GET that could not start. */
static void post_failure(wp_gw_prober_t *p, uint64_t ticket, wp_status_t st, const char *why)
{
    wp_gw_probe_result_t r = {.ticket = ticket, .st = st};
    wp_strlcpy(r.why, why, sizeof(r.why));
    post(p, &r);
}

static void pcall_end(pcall_t *c)
{
    wp_gw_prober_t *p = c->p;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        p->calls = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->entry->calls--;
    c->entry->last_used_ms = uv_now(&p->loop);
    wp_buf_free(&c->body);
    free(c);
}

static void get_on_head(void *ud, int status, const wp_http_headers_t *h)
{
    (void)h;
    pcall_t *c = ud;
    c->status = status;
    wp_buf_reset(&c->body);
    c->too_big = false;
}

static void get_on_body(void *ud, const char *data, size_t len)
{
    pcall_t *c = ud;
    if ((c->probe.engine != NULL || c->probe.keep_body) && !c->too_big &&
        wp_buf_append(&c->body, data, len) != WP_OK)
        c->too_big = true;
}

static void get_on_done(void *ud, wp_status_t st, const char *why)
{
    pcall_t *c = ud;
    wp_gw_probe_result_t r = {.ticket = c->probe.ticket, .st = st, .status = c->status};
    if (st == WP_OK && c->too_big) {
        r.st = WP_ELIMIT;
        snprintf(r.why, sizeof(r.why), "answer larger than %zu bytes", c->p->body_max - 1);
    } else if (st != WP_OK) {
        wp_strlcpy(r.why, why != NULL ? why : "request failed", sizeof(r.why));
    }
    bool ok2xx = r.st == WP_OK && r.status >= 200 && r.status <= 299;
    if (ok2xx && c->probe.engine != NULL) {
        wp_err_t err = {{0}};
        r.read = true;
        r.read_st =
            wp_api_engine_read(c->probe.engine, c->probe.rank, c->body.data ? c->body.data : "",
                               c->body.len, &r.reading, &err);
        if (r.read_st != WP_OK)
            wp_strlcpy(r.read_err, err.msg, sizeof(r.read_err));
    }
    if (r.st == WP_OK && c->probe.keep_body) {
        char *b = malloc(c->body.len + 1);
        if (b != NULL) {
            memcpy(b, c->body.data ? c->body.data : "", c->body.len);
            b[c->body.len] = '\0';
            r.body = b;
            r.body_len = c->body.len;
        }
    }
    wp_gw_prober_t *p = c->p;
    pcall_end(c);
    post(p, &r);
}

static void start_get(wp_gw_prober_t *p, const wp_gw_probe_t *probe)
{
    wp_err_t err = {{0}};
    up_entry_t *e = upstream_for(p, probe, &err);
    if (e == NULL) {
        post_failure(p, probe->ticket, WP_EIO, err.msg);
        return;
    }
    pcall_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        post_failure(p, probe->ticket, WP_ENOMEM, "out of memory");
        return;
    }
    c->p = p;
    c->entry = e;
    c->probe = *probe;
    wp_buf_init(&c->body, p->body_max);
    c->next = p->calls;
    if (p->calls != NULL)
        p->calls->prev = c;
    p->calls = c;
    e->calls++;
    static const wp_http_call_cbs_t cbs = {get_on_head, get_on_body, get_on_done};
    c->call = wp_http_call_start(e->up, "GET", probe->path, NULL, NULL, 0, &cbs, c);
    if (c->call == NULL) {
        uint64_t ticket = probe->ticket;
        pcall_end(c);
        post_failure(p, ticket, WP_ENOMEM, "out of memory");
    }
}

/* Stop: every GET dropped, every upstream and handle closed; the loop then ends. */
static void shut_down(wp_gw_prober_t *p)
{
    while (p->calls != NULL) {
        pcall_t *c = p->calls;
        wp_http_call_cancel(c->call);
        pcall_end(c);
    }
    for (int b = 0; b < UP_BUCKETS; b++) {
        while (p->buckets[b] != NULL) {
            up_entry_t *e = p->buckets[b];
            p->buckets[b] = e->next;
            wp_http_upstream_free(e->up);
            free(e);
        }
    }
    wp_gw_mailbox_close(&p->thread_box, NULL, NULL);
    wp_gw_outbox_close(&p->to_owner, NULL, NULL);
    uv_close((uv_handle_t *)&p->sweep, NULL);
}

static void on_gets(void *ud, void *msgs, size_t n, bool stop)
{
    wp_gw_prober_t *p = ud;
    if (stop) {
        shut_down(p);
        return;
    }
    const wp_gw_probe_t *in = msgs;
    for (size_t i = 0; i < n; i++)
        start_get(p, &in[i]);
}

static void on_sweep(uv_timer_t *t)
{
    wp_gw_prober_t *p = t->data;
    uint64_t now = uv_now(&p->loop);
    for (int b = 0; b < UP_BUCKETS; b++) {
        for (up_entry_t **e = &p->buckets[b]; *e != NULL;) {
            up_entry_t *x = *e;
            if (x->calls > 0 || now - x->last_used_ms < UP_IDLE_MS) {
                e = &x->next;
                continue;
            }
            *e = x->next;
            wp_http_upstream_free(x->up);
            free(x);
        }
    }
}
