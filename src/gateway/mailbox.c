/*
 * gateway/mailbox: see mailbox.h.
 */
#include "gateway/mailbox.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"

bool wp_gw_vec_push(wp_gw_vec_t *q, const void *x, size_t sz)
{
    if (wp_array_reserve(&q->v, &q->cap, q->n, 1, sz, 64) != WP_OK)
        return false;
    memcpy((char *)q->v + q->n * sz, x, sz);
    q->n++;
    return true;
}

/* Moves batch's elements to the end of queue (an empty queue swaps memory with batch); false
 * when out of memory (both as they were). */
static bool vec_hand_over(wp_gw_vec_t *queue, wp_gw_vec_t *batch, size_t sz)
{
    if (queue->n == 0) {
        wp_gw_vec_t t = *queue;
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

static void vec_drop(wp_gw_vec_t *q, size_t sz, wp_gw_drop_fn drop)
{
    for (size_t i = 0; drop != NULL && i < q->n; i++)
        drop((char *)q->v + i * sz);
    q->n = 0;
}

/* ---- the receiver's side ---- */

bool wp_gw_mailbox_poll(wp_gw_mailbox_t *m)
{
    if (m->handling)
        return false;
    uv_mutex_lock(&m->mu);
    wp_gw_vec_t t = m->taking; /* the whole queue, leaving it the memory of the last batch */
    m->taking = m->queue;
    m->queue = t;
    m->queue.n = 0;
    bool stop = m->stop;
    uv_mutex_unlock(&m->mu);
    size_t n = m->taking.n;
    if (n == 0 && !stop)
        return false;
    m->handling = true;
    m->handle(m->ud, m->taking.v, n, stop);
    m->handling = false;
    m->taking.n = 0;
    return true;
}

static void on_async(uv_async_t *a)
{
    wp_gw_mailbox_poll(a->data);
}

int wp_gw_mailbox_init(wp_gw_mailbox_t *m, uv_loop_t *receiver, size_t elem, wp_gw_mail_fn handle,
                       wp_gw_drop_fn drop, void *ud)
{
    *m = (wp_gw_mailbox_t){.elem = elem, .handle = handle, .drop = drop, .ud = ud};
    int rc = uv_mutex_init(&m->mu);
    if (rc != 0)
        return rc;
    if ((rc = uv_async_init(receiver, &m->async, on_async)) != 0) {
        uv_mutex_destroy(&m->mu);
        return rc;
    }
    m->async.data = m;
    return 0;
}

void wp_gw_mailbox_stop(wp_gw_mailbox_t *m)
{
    uv_mutex_lock(&m->mu);
    m->stop = true;
    uv_mutex_unlock(&m->mu);
    uv_async_send(&m->async);
}

static void on_mailbox_closed(uv_handle_t *h)
{
    wp_gw_mailbox_t *m = h->data;
    if (m->closed != NULL)
        m->closed(m->closed_ud);
}

void wp_gw_mailbox_close(wp_gw_mailbox_t *m, void (*closed)(void *ud), void *ud)
{
    m->closed = closed;
    m->closed_ud = ud;
    uv_close((uv_handle_t *)&m->async, on_mailbox_closed);
}

void wp_gw_mailbox_free(wp_gw_mailbox_t *m)
{
    vec_drop(&m->queue, m->elem, m->drop);
    vec_drop(&m->taking, m->elem, m->drop);
    free(m->queue.v);
    free(m->taking.v);
    m->queue = m->taking = (wp_gw_vec_t){0};
    uv_mutex_destroy(&m->mu);
}

/* ---- a sender's side ---- */

static void outbox_flush(wp_gw_outbox_t *o)
{
    wp_gw_mailbox_t *m = o->to;
    uv_mutex_lock(&m->mu);
    bool ok = vec_hand_over(&m->queue, &o->batch, m->elem);
    uv_mutex_unlock(&m->mu);
    if (!ok)
        vec_drop(&o->batch, m->elem, m->drop);
    uv_prepare_stop(&o->prepare);
    uv_check_stop(&o->check);
    uv_async_send(&m->async);
}

static void on_prepare(uv_prepare_t *h)
{
    outbox_flush(h->data);
}

static void on_check(uv_check_t *h)
{
    outbox_flush(h->data);
}

void wp_gw_outbox_init(wp_gw_outbox_t *o, uv_loop_t *sender, wp_gw_mailbox_t *to)
{
    *o = (wp_gw_outbox_t){.to = to};
    uv_prepare_init(sender, &o->prepare);
    uv_check_init(sender, &o->check);
    o->prepare.data = o->check.data = o;
}

bool wp_gw_outbox_add(wp_gw_outbox_t *o, const void *msg)
{
    if (!wp_gw_vec_push(&o->batch, msg, o->to->elem))
        return false;
    if (o->batch.n == 1) {
        uv_prepare_start(&o->prepare, on_prepare);
        uv_check_start(&o->check, on_check);
    }
    return true;
}

static void on_outbox_closed(uv_handle_t *h)
{
    wp_gw_outbox_t *o = h->data;
    if (--o->closing == 0 && o->closed != NULL)
        o->closed(o->closed_ud);
}

void wp_gw_outbox_close(wp_gw_outbox_t *o, void (*closed)(void *ud), void *ud)
{
    vec_drop(&o->batch, o->to->elem, o->to->drop);
    free(o->batch.v);
    o->batch = (wp_gw_vec_t){0};
    o->closing = 2;
    o->closed = closed;
    o->closed_ud = ud;
    uv_close((uv_handle_t *)&o->prepare, on_outbox_closed);
    uv_close((uv_handle_t *)&o->check, on_outbox_closed);
}
