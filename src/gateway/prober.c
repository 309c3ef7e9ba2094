/*
 * gateway/prober: see prober.h. The owner's side (new, submit, free, the owner's async) is at
 * the top; the thread's side (its loop, the upstreams by address, one GET) below it.
 */
#include "gateway/prober.h"

#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "base/buf.h"
#include "base/hash.h"
#include "base/str.h"
#include "http/client.h"

#define UP_BUCKETS 1024   /* upstreams by host:port (chained) */
#define UP_IDLE_MS 60000  /* an upstream no GET used for this long is freed */
#define SWEEP_MS 10000    /* how often the thread looks for such upstreams */
#define MAX_IDLE_PER_UP 4 /* connections kept per address: three kinds of check */

/* An upstream of the thread's, by address. */
typedef struct up_entry_s {
    struct up_entry_s *next;
    char host[256];
    int port;
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

/* A growable array of elements: a side's batch, a queue between the sides. */
typedef struct vec_s {
    void *v;
    size_t n, cap;
} vec_t;

/* One side's outbox: what the side adds during an iteration of its loop goes to the other
 * side's queue in one move, before the loop waits (what timers added) or after its I/O
 * callbacks (what answers added), and wakes the other side. */
typedef struct outbox_s {
    struct wp_gw_prober_s *p;
    uv_prepare_t prepare;
    uv_check_t check;
    vec_t batch;      /* added this iteration */
    vec_t *queue;     /* the other side's, under p->mu */
    uv_async_t *wake; /* the other side's */
    size_t elem;
    void (*drop)(vec_t *batch); /* empties a batch that could not be handed over */
} outbox_t;

struct wp_gw_prober_s {
    /* the owner's loop */
    uv_loop_t *owner;
    uv_async_t owner_async;
    outbox_t to_thread; /* the GETs submitted (wp_gw_probe_t) */
    vec_t delivering;   /* the results being delivered (kept for its memory) */
    wp_gw_prober_deliver_fn deliver;
    void *ud;
    void (*closed)(void *ud);
    void *closed_ud;
    /* shared, under mu: each side hands a whole batch over and takes a whole queue */
    uv_mutex_t mu;
    vec_t in;  /* GETs for the thread */
    vec_t out; /* results (wp_gw_probe_result_t, bodies owned) for the owner */
    bool stop;
    /* the thread's */
    uv_thread_t thread;
    uv_loop_t loop;
    uv_async_t thread_async;
    outbox_t to_owner; /* the results (wp_gw_probe_result_t, bodies owned) */
    uv_timer_t sweep;
    vec_t starting; /* the GETs being started (kept for its memory) */
    wp_http_client_config_t client;
    size_t body_max;
    up_entry_t *buckets[UP_BUCKETS];
    pcall_t *calls; /* in flight */
};

/* Appends x (sz bytes); false when out of memory. */
static bool vec_push(vec_t *q, const void *x, size_t sz)
{
    if (wp_array_reserve(&q->v, &q->cap, q->n, 1, sz, 64) != WP_OK)
        return false;
    memcpy((char *)q->v + q->n * sz, x, sz);
    q->n++;
    return true;
}

/* Moves batch's elements to the end of queue (an empty queue swaps memory with batch); false
 * when out of memory (both as they were). */
static bool vec_hand_over(vec_t *queue, vec_t *batch, size_t sz)
{
    if (queue->n == 0) {
        vec_t t = *queue;
        *queue = *batch;
        *batch = t;
        return true;
    }
    if (wp_array_reserve(&queue->v, &queue->cap, queue->n, batch->n, sz, 64) != WP_OK)
        return false;
    memcpy((char *)queue->v + queue->n * sz, batch->v, batch->n * sz);
    queue->n += batch->n;
    batch->n = 0;
    return true;
}

/* Takes the whole queue into mine (empty), leaving mine's memory to the queue. */
static void vec_take(vec_t *queue, vec_t *mine)
{
    vec_t t = *mine;
    *mine = *queue;
    *queue = t;
    queue->n = 0;
}

static void free_results(vec_t *q)
{
    wp_gw_probe_result_t *r = q->v;
    for (size_t i = 0; i < q->n; i++)
        free((char *)r[i].body);
    q->n = 0;
}

/* ---- the owner's side ---- */

static void on_owner_async(uv_async_t *a)
{
    wp_gw_prober_t *p = a->data;
    uv_mutex_lock(&p->mu);
    vec_take(&p->out, &p->delivering);
    uv_mutex_unlock(&p->mu);
    const wp_gw_probe_result_t *r = p->delivering.v;
    for (size_t i = 0; i < p->delivering.n; i++)
        p->deliver(p->ud, &r[i]);
    free_results(&p->delivering);
}

static void outbox_flush(outbox_t *o)
{
    uv_mutex_lock(&o->p->mu);
    bool ok = vec_hand_over(o->queue, &o->batch, o->elem);
    uv_mutex_unlock(&o->p->mu);
    if (!ok)
        o->drop(&o->batch);
    uv_prepare_stop(&o->prepare);
    uv_check_stop(&o->check);
    uv_async_send(o->wake);
}

static void on_outbox_prepare(uv_prepare_t *h)
{
    outbox_flush(h->data);
}

static void on_outbox_check(uv_check_t *h)
{
    outbox_flush(h->data);
}

/* Adds x (o->elem bytes); false when out of memory. */
static bool outbox_add(outbox_t *o, const void *x)
{
    if (!vec_push(&o->batch, x, o->elem))
        return false;
    if (o->batch.n == 1) {
        uv_prepare_start(&o->prepare, on_outbox_prepare);
        uv_check_start(&o->check, on_outbox_check);
    }
    return true;
}

static void outbox_init(outbox_t *o, wp_gw_prober_t *p, uv_loop_t *loop, vec_t *queue,
                        uv_async_t *wake, size_t elem, void (*drop)(vec_t *batch))
{
    *o = (outbox_t){.p = p, .queue = queue, .wake = wake, .elem = elem, .drop = drop};
    uv_prepare_init(loop, &o->prepare);
    uv_check_init(loop, &o->check);
    o->prepare.data = o->check.data = o;
}

static void outbox_close(outbox_t *o)
{
    uv_close((uv_handle_t *)&o->prepare, NULL);
    uv_close((uv_handle_t *)&o->check, NULL);
}

/* GETs that could not reach the thread (out of memory): their checks time out and are tried
 * again. */
static void drop_gets(vec_t *batch)
{
    batch->n = 0;
}

wp_status_t wp_gw_prober_submit(wp_gw_prober_t *p, const wp_gw_probe_t *probe)
{
    return outbox_add(&p->to_thread, probe) ? WP_OK : WP_ENOMEM;
}

static void thread_main(void *arg);
static void on_thread_async(uv_async_t *a);
static void on_sweep(uv_timer_t *t);

static void on_owner_closed(uv_handle_t *h)
{
    wp_gw_prober_t *p = h->data;
    void (*closed)(void *) = p->closed;
    void *cud = p->closed_ud;
    free(p);
    if (closed != NULL)
        closed(cud);
}

wp_gw_prober_t *wp_gw_prober_new(uv_loop_t *owner, uint64_t timeout_ms, size_t body_max,
                                 wp_gw_prober_deliver_fn deliver, void *ud, wp_err_t *err)
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
    p->client.connect_timeout_ms = p->client.first_byte_ms = p->client.idle_ms = timeout_ms;
    p->client.max_idle = MAX_IDLE_PER_UP;
    int rc;
    if ((rc = uv_mutex_init(&p->mu)) != 0) {
        free(p);
        wp_err_set(err, WP_EIO, "checks thread: mutex: %s", uv_strerror(rc));
        return NULL;
    }
    if ((rc = uv_loop_init(&p->loop)) != 0) {
        uv_mutex_destroy(&p->mu);
        free(p);
        wp_err_set(err, WP_EIO, "checks thread: loop: %s", uv_strerror(rc));
        return NULL;
    }
    uv_async_init(&p->loop, &p->thread_async, on_thread_async);
    uv_timer_init(&p->loop, &p->sweep);
    p->thread_async.data = p->sweep.data = p;
    uv_async_init(owner, &p->owner_async, on_owner_async);
    p->owner_async.data = p;
    outbox_init(&p->to_thread, p, owner, &p->in, &p->thread_async, sizeof(wp_gw_probe_t),
                drop_gets);
    outbox_init(&p->to_owner, p, &p->loop, &p->out, &p->owner_async, sizeof(wp_gw_probe_result_t),
                free_results);
    if ((rc = uv_thread_create(&p->thread, thread_main, p)) != 0) {
        wp_err_set(err, WP_EIO, "checks thread: %s", uv_strerror(rc));
        uv_close((uv_handle_t *)&p->thread_async, NULL);
        outbox_close(&p->to_owner);
        uv_close((uv_handle_t *)&p->sweep, NULL);
        uv_run(&p->loop, UV_RUN_DEFAULT);
        uv_loop_close(&p->loop);
        uv_mutex_destroy(&p->mu);
        outbox_close(&p->to_thread);
        uv_close((uv_handle_t *)&p->owner_async, on_owner_closed);
        return NULL;
    }
    return p;
}

void wp_gw_prober_free(wp_gw_prober_t *p, void (*closed)(void *ud), void *ud)
{
    uv_mutex_lock(&p->mu);
    p->stop = true;
    uv_mutex_unlock(&p->mu);
    uv_async_send(&p->thread_async);
    uv_thread_join(&p->thread); /* the thread closes its handles and leaves its loop */
    uv_loop_close(&p->loop);
    uv_mutex_destroy(&p->mu);
    free(p->to_thread.batch.v);
    free(p->in.v);
    free(p->starting.v);
    free_results(&p->out);
    free(p->out.v);
    free_results(&p->to_owner.batch);
    free(p->to_owner.batch.v);
    free(p->delivering.v);
    p->closed = closed;
    p->closed_ud = ud;
    outbox_close(&p->to_thread);
    uv_close((uv_handle_t *)&p->owner_async, on_owner_closed);
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

/* The upstream for host:port, made at its first use; NULL with err when it cannot be. */
static up_entry_t *upstream_for(wp_gw_prober_t *p, const char *host, int port, wp_err_t *err)
{
    up_entry_t **b = bucket(p, host, port);
    for (up_entry_t *e = *b; e != NULL; e = e->next)
        if (e->port == port && strcmp(e->host, host) == 0)
            return e;
    up_entry_t *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        wp_err_set(err, WP_ENOMEM, "out of memory");
        return NULL;
    }
    e->up = wp_http_upstream_new(&p->loop, host, port, &p->client, err);
    if (e->up == NULL) {
        free(e);
        return NULL;
    }
    wp_strlcpy(e->host, host, sizeof(e->host));
    e->port = port;
    e->next = *b;
    *b = e;
    return e;
}

/* Adds r to this iteration's results (its body, if any, goes with it), handed to the owner
 * at the iteration's end. Out of memory, it is lost: the owner's check then times out, as
 * for a server that never answers. */
static void post(wp_gw_prober_t *p, wp_gw_probe_result_t *r)
{
    if (!outbox_add(&p->to_owner, r))
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
    up_entry_t *e = upstream_for(p, probe->host, probe->port, &err);
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
    uv_close((uv_handle_t *)&p->thread_async, NULL);
    outbox_close(&p->to_owner);
    uv_close((uv_handle_t *)&p->sweep, NULL);
}

static void on_thread_async(uv_async_t *a)
{
    wp_gw_prober_t *p = a->data;
    uv_mutex_lock(&p->mu);
    vec_take(&p->in, &p->starting);
    bool stop = p->stop;
    uv_mutex_unlock(&p->mu);
    if (stop) {
        p->starting.n = 0;
        shut_down(p);
        return;
    }
    const wp_gw_probe_t *in = p->starting.v;
    for (size_t i = 0; i < p->starting.n; i++)
        start_get(p, &in[i]);
    p->starting.n = 0;
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
