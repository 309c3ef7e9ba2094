/*
 * kvev/ctx: one ZeroMQ context for every kvev socket of a process (shell).
 *
 * A context owns ZeroMQ's I/O thread; publishers and subscribers borrow it and must all be
 * closed before wp_kvev_ctx_free. ZMQ_BLOCKY is off, so free never waits on a socket that
 * was left open (its pending messages are dropped).
 */
#ifndef WP_KVEV_CTX_H
#define WP_KVEV_CTX_H

#include <stdbool.h>

#include <zmq.h>

#include "base/err.h"

/* A new context (void *, as libzmq's); NULL with err filled when libzmq fails. */
void *wp_kvev_ctx_new(wp_err_t *err);
void wp_kvev_ctx_free(void *ctx); /* NULL is fine */

/* Receives one multipart message without blocking: up to 3 frames kept in f (the caller
 * closes them), the count of frames in *n (those past the third are counted and dropped).
 * false when nothing was waiting. The publisher's ROUTER and the subscriber's sockets. */
bool wp_kvev_recv3(void *sock, zmq_msg_t f[3], int *n);

#endif
