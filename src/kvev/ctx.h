/*
 * kvev/ctx: one ZeroMQ context for every kvev socket of a process (shell).
 *
 * A context owns ZeroMQ's I/O thread; publishers and subscribers borrow it and must all be
 * closed before wp_kvev_ctx_free. ZMQ_BLOCKY is off, so free never waits on a socket that
 * was left open (its pending messages are dropped).
 */
#ifndef WP_KVEV_CTX_H
#define WP_KVEV_CTX_H

#include "base/err.h"

/* A new context (void *, as libzmq's); NULL with err filled when libzmq fails. */
void *wp_kvev_ctx_new(wp_err_t *err);
void wp_kvev_ctx_free(void *ctx); /* NULL is fine */

#endif
