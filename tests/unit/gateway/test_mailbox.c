/* Unit tests for gateway/mailbox: a sender thread's loop adds messages through an outbox, the
 * receiver's loop gets them in order, in batches (many messages added in one iteration arrive
 * in one batch), with what they own; a stop reaches the handler last; messages never handled
 * are dropped (their payloads freed) when the mailbox is freed; closing calls back once the
 * handles are done. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/mailbox.h"

#define N_MSGS 1000

typedef struct msg_s {
    int seq;
    int *payload; /* owned: holds seq */
} msg_t;

typedef struct receiver_s {
    uv_loop_t loop;
    wp_gw_mailbox_t box;
    int next;    /* the seq expected next */
    int batches; /* handler calls with messages */
    bool stopped;
    int dropped;
    int closed;
} receiver_t;

static int drops;

static void drop(void *m)
{
    msg_t *x = m;
    free(x->payload);
    x->payload = NULL;
    drops++;
}

static void handle(void *ud, void *msgs, size_t n, bool stop)
{
    receiver_t *r = ud;
    msg_t *m = msgs;
    assert_false(r->stopped); /* nothing after the stop */
    if (n > 0)
        r->batches++;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(m[i].seq, r->next);
        assert_int_equal(*m[i].payload, m[i].seq);
        r->next++;
        free(m[i].payload); /* the handler's now */
    }
    if (stop) {
        r->stopped = true;
        wp_gw_mailbox_close(&r->box, NULL, NULL);
    }
}

typedef struct sender_s {
    uv_loop_t loop;
    wp_gw_outbox_t out;
    uv_timer_t timer;
    receiver_t *to;
    int closed;
} sender_t;

static void on_out_closed(void *ud)
{
    ((sender_t *)ud)->closed++;
}

/* One iteration adds every message, then the sender closes: they leave in one batch. */
static void on_timer(uv_timer_t *t)
{
    sender_t *s = t->data;
    for (int i = 0; i < N_MSGS; i++) {
        msg_t m = {.seq = i, .payload = malloc(sizeof(int))};
        assert_non_null(m.payload);
        *m.payload = i;
        assert_true(wp_gw_outbox_add(&s->out, &m));
    }
    uv_close((uv_handle_t *)t, NULL);
}

/* The handover happens when the iteration's I/O is done; the outbox closes after it. */
static void on_stop_timer(uv_timer_t *t)
{
    sender_t *s = t->data;
    wp_gw_outbox_close(&s->out, on_out_closed, s);
    wp_gw_mailbox_stop(&s->to->box);
    uv_close((uv_handle_t *)t, NULL);
}

static void sender_main(void *arg)
{
    sender_t *s = arg;
    uv_timer_t stop;
    uv_timer_init(&s->loop, &s->timer);
    uv_timer_init(&s->loop, &stop);
    s->timer.data = stop.data = s;
    uv_timer_start(&s->timer, on_timer, 0, 0);
    uv_timer_start(&stop, on_stop_timer, 20, 0);
    uv_run(&s->loop, UV_RUN_DEFAULT);
}

static void test_mailbox_batches_in_order_then_stop(void **state)
{
    (void)state;
    receiver_t r = {0};
    sender_t s = {0};
    assert_int_equal(uv_loop_init(&r.loop), 0);
    assert_int_equal(uv_loop_init(&s.loop), 0);
    assert_int_equal(wp_gw_mailbox_init(&r.box, &r.loop, sizeof(msg_t), handle, drop, &r), 0);
    wp_gw_outbox_init(&s.out, &s.loop, &r.box);
    s.to = &r;
    drops = 0;
    uv_thread_t th;
    assert_int_equal(uv_thread_create(&th, sender_main, &s), 0);
    uv_run(&r.loop, UV_RUN_DEFAULT); /* ends when the handler closes the mailbox at the stop */
    uv_thread_join(&th);
    assert_true(r.stopped);
    assert_int_equal(r.next, N_MSGS);
    assert_true(r.batches <= 2); /* one iteration's messages move together */
    assert_int_equal(s.closed, 1);
    assert_int_equal(drops, 0);
    wp_gw_mailbox_free(&r.box);
    assert_int_equal(uv_loop_close(&r.loop), 0);
    assert_int_equal(uv_loop_close(&s.loop), 0);
}

static void on_box_closed(void *ud)
{
    ((receiver_t *)ud)->closed++;
}

static void on_flush_timer(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, NULL);
}

/* Messages handed over but never handled are dropped by free: their payloads go too (ASan
 * would see a leak otherwise). */
static void test_mailbox_free_drops_what_was_not_handled(void **state)
{
    (void)state;
    receiver_t r = {0};
    uv_loop_t sl;
    assert_int_equal(uv_loop_init(&r.loop), 0);
    assert_int_equal(uv_loop_init(&sl), 0);
    assert_int_equal(wp_gw_mailbox_init(&r.box, &r.loop, sizeof(msg_t), handle, drop, &r), 0);
    wp_gw_outbox_t out;
    wp_gw_outbox_init(&out, &sl, &r.box);
    drops = 0;
    for (int i = 0; i < 5; i++) {
        msg_t m = {.seq = i, .payload = malloc(sizeof(int))};
        *m.payload = i;
        assert_true(wp_gw_outbox_add(&out, &m));
    }
    uv_timer_t t; /* one iteration of the sender's loop hands the batch over */
    uv_timer_init(&sl, &t);
    uv_timer_start(&t, on_flush_timer, 0, 0);
    uv_run(&sl, UV_RUN_DEFAULT);
    /* a batch left in the outbox is dropped by its close */
    msg_t m = {.seq = 5, .payload = malloc(sizeof(int))};
    *m.payload = 5;
    assert_true(wp_gw_outbox_add(&out, &m));
    wp_gw_outbox_close(&out, NULL, NULL);
    uv_run(&sl, UV_RUN_DEFAULT);
    assert_int_equal(drops, 1);
    /* the receiver never ran: its five are dropped by free */
    wp_gw_mailbox_close(&r.box, on_box_closed, &r);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    assert_int_equal(r.closed, 1);
    wp_gw_mailbox_free(&r.box);
    assert_int_equal(drops, 6);
    assert_int_equal(r.next, 0);
    assert_int_equal(uv_loop_close(&r.loop), 0);
    assert_int_equal(uv_loop_close(&sl), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mailbox_batches_in_order_then_stop),
        cmocka_unit_test(test_mailbox_free_drops_what_was_not_handled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
