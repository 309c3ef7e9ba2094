/*
 * kvev/ctx: zmq_ctx_new with ZMQ_BLOCKY off; zmq_ctx_term on free.
 */
#include "kvev/ctx.h"

#include <errno.h>

#include <zmq.h>

void *wp_kvev_ctx_new(wp_err_t *err)
{
    void *ctx = zmq_ctx_new();
    if (ctx == NULL) {
        wp_err_set(err, WP_EIO, "zmq_ctx_new: %s", zmq_strerror(errno));
        return NULL;
    }
    zmq_ctx_set(ctx, ZMQ_BLOCKY, 0);
    return ctx;
}

void wp_kvev_ctx_free(void *ctx)
{
    if (ctx == NULL)
        return;
    while (zmq_ctx_term(ctx) != 0 && errno == EINTR) {
    }
}

bool wp_kvev_recv3(void *sock, zmq_msg_t f[3], int *n)
{
    *n = 0;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return *n > 0;
        }
        bool more = zmq_msg_more(&m);
        if (*n < 3)
            f[*n] = m;
        else
            zmq_msg_close(&m);
        (*n)++;
        if (!more)
            return true;
    }
}
