/*
 * gateway/mailbox: fixed-size messages from the loops of other threads to one loop, handed
 * over in batches.
 *
 * A mailbox belongs to the loop that reads it (the receiver); each sending loop fills an
 * outbox. What a sender adds during one iteration of its loop reaches the mailbox in one move,
 * before the loop waits (what timers added) or after its I/O callbacks (what answers added),
 * and wakes the receiver once: a thousand messages an iteration cost one lock and one wake-up.
 * The receiver takes its whole queue at once and handles it outside the lock. One mutex per
 * mailbox, held only to append a batch or to take the queue, never across I/O.
 *
 * Used by the checks' thread (prober.c: GETs one way, results the other) and by the gateway's
 * workers (workers.c: what each worker tells the others).
 *
 * Ownership: messages are plain bytes, copied in. What a message points to (a body, a payload)
 * belongs to the message: the receiver's handler takes it over, and `drop` frees it where a
 * message cannot be handed over (no memory) or is never handled (the mailbox is freed with
 * messages in it). Threads: init, close and free on the receiver's loop (free once no sender
 * can add any more); stop from any thread; an outbox is used on its sender's loop only.
 */
#ifndef WP_GATEWAY_MAILBOX_H
#define WP_GATEWAY_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

/* A growable array of elements. */
typedef struct wp_gw_vec_s {
    void *v;
    size_t n, cap;
} wp_gw_vec_t;

/* Appends x (sz bytes); false when out of memory. */
bool wp_gw_vec_push(wp_gw_vec_t *q, const void *x, size_t sz);

/* A batch of n messages (elem bytes each, at msgs) for the receiver; stop: the mailbox was
 * told to stop (wp_gw_mailbox_stop), the last batch it will hand over. */
typedef void (*wp_gw_mail_fn)(void *ud, void *msgs, size_t n, bool stop);
/* Frees what one message owns. */
typedef void (*wp_gw_drop_fn)(void *msg);

typedef struct wp_gw_mailbox_s {
    uv_async_t async; /* on the receiver's loop */
    uv_mutex_t mu;
    wp_gw_vec_t queue;  /* under mu */
    bool stop;          /* under mu */
    wp_gw_vec_t taking; /* the receiver's: the batch being handled */
    size_t elem;
    wp_gw_mail_fn handle;
    wp_gw_drop_fn drop;
    void *ud;
    void (*closed)(void *ud); /* wp_gw_mailbox_close's */
    void *closed_ud;
    bool handling; /* the handler runs (a poll from inside it does nothing) */
} wp_gw_mailbox_t;

/* 0, or a libuv error code (nothing to free then). */
int wp_gw_mailbox_init(wp_gw_mailbox_t *m, uv_loop_t *receiver, size_t elem, wp_gw_mail_fn handle,
                       wp_gw_drop_fn drop, void *ud);
/* On the receiver's loop: hands what is queued to the handler now, without waiting for the
 * wake-up; false when nothing was queued (or the handler is running already). */
bool wp_gw_mailbox_poll(wp_gw_mailbox_t *m);
/* From any thread: the receiver's handler runs once more with stop set. */
void wp_gw_mailbox_stop(wp_gw_mailbox_t *m);
/* Closes the mailbox's handle; closed(ud) (may be NULL) once libuv is done with it. */
void wp_gw_mailbox_close(wp_gw_mailbox_t *m, void (*closed)(void *ud), void *ud);
/* Once no sender is left: drops what is queued, frees the memory and the mutex. */
void wp_gw_mailbox_free(wp_gw_mailbox_t *m);

typedef struct wp_gw_outbox_s {
    uv_prepare_t prepare;
    uv_check_t check;
    wp_gw_vec_t batch; /* added this iteration */
    wp_gw_mailbox_t *to;
    int closing; /* handles still closing */
    void (*closed)(void *ud);
    void *closed_ud;
} wp_gw_outbox_t;

void wp_gw_outbox_init(wp_gw_outbox_t *o, uv_loop_t *sender, wp_gw_mailbox_t *to);
/* Adds one message (the mailbox's elem bytes); false when out of memory (nothing added: what
 * the message owns is still the caller's). */
bool wp_gw_outbox_add(wp_gw_outbox_t *o, const void *msg);
/* Closes its handles and drops the batch not handed over; closed(ud) (may be NULL) once libuv
 * is done with both handles: the outbox's memory may go then, not before. */
void wp_gw_outbox_close(wp_gw_outbox_t *o, void (*closed)(void *ud), void *ud);

#endif
