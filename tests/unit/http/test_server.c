/* Unit tests for http/server: pipelined requests that arrive faster than they are
 * answered (more than one request's limits while the first is with the handler) are
 * all answered, in order, with none of the bytes read lost; HTTP versions other than
 * 1.0 and 1.1 are answered 505 with a JSON error, and the connection closes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/server.h"

#define N_PIPELINED 10000

typedef struct fix_s {
    uv_loop_t loop;
    wp_http_server_t *srv;
    uv_timer_t hold;
    wp_http_req_t *held;
    int handled;
    bool answer_at_once; /* the handler answers every request 200 at once */
    uv_tcp_t cli;
    uv_connect_t connect;
    uv_write_t w;
    wp_buf_t out, in;
} fix_t;

static void on_hold(uv_timer_t *t)
{
    fix_t *f = t->data;
    wp_http_res_send(f->held, 200, "text/plain", "ok", 2, NULL);
    f->held = NULL;
}

static void handler(wp_http_req_t *req, void *ctx)
{
    fix_t *f = ctx;
    if (f->answer_at_once) {
        f->handled++;
        wp_http_res_send(req, 200, "text/plain", "ok", 2, NULL);
        return;
    }
    if (f->handled++ == 0) { /* the first is answered late; the rest pile up meanwhile */
        f->held = req;
        uv_timer_start(&f->hold, on_hold, 200, 0);
        return;
    }
    wp_http_res_send(req, 200, "text/plain", "ok", 2, NULL);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    static char slab[64 * 1024];
    (void)suggested;
    *buf = uv_buf_init(slab, sizeof(slab));
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    fix_t *f = s->data;
    if (nread < 0) {
        uv_close((uv_handle_t *)&f->cli, on_closed);
        uv_close((uv_handle_t *)&f->hold, on_closed);
        wp_http_server_close(f->srv);
        return;
    }
    wp_buf_append(&f->in, buf->base, (size_t)nread);
}

static void on_write(uv_write_t *w, int status)
{
    (void)w;
    assert_int_equal(status, 0);
}

static void on_connect(uv_connect_t *c, int status)
{
    fix_t *f = c->data;
    assert_int_equal(status, 0);
    uv_read_start((uv_stream_t *)&f->cli, on_alloc, on_read);
    uv_buf_t b = uv_buf_init(f->out.data, (unsigned)f->out.len);
    uv_write(&f->w, (uv_stream_t *)&f->cli, &b, 1, on_write);
}

static size_t count(const wp_buf_t *b, const char *needle)
{
    size_t n = 0, k = strlen(needle);
    for (const char *p = b->data; p != NULL && (p = strstr(p, needle)) != NULL; p += k)
        n++;
    return n;
}

static void test_http_server_pipelined_overflow_keeps_bytes(void **state)
{
    (void)state;
    fix_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    uv_loop_init(&f->loop);
    wp_http_server_config_t cfg;
    wp_http_server_config_default(&cfg);
    cfg.max_header_bytes = 1024;
    cfg.max_body_bytes = 1024; /* read cap: 2 KiB + 64 KiB */
    f->srv = wp_http_server_new(&f->loop, &cfg, handler, f);
    wp_err_t err;
    assert_int_equal(wp_http_server_listen(f->srv, "127.0.0.1", 0, &err), WP_OK);
    uv_timer_init(&f->loop, &f->hold);
    f->hold.data = f;
    wp_buf_init(&f->out, 0);
    wp_buf_init(&f->in, 0);
    for (int i = 0; i < N_PIPELINED; i++)
        wp_buf_printf(&f->out, "GET /r/%d HTTP/1.1\r\nHost: t\r\n%s\r\n", i,
                      i == N_PIPELINED - 1 ? "Connection: close\r\n" : "");
    assert_true(f->out.len > 3 * (2048 + 65536));
    uv_tcp_init(&f->loop, &f->cli);
    f->cli.data = f;
    f->connect.data = f;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", wp_http_server_port(f->srv), &addr);
    uv_tcp_connect(&f->connect, &f->cli, (const struct sockaddr *)&addr, on_connect);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->handled, N_PIPELINED);
    assert_int_equal(count(&f->in, "HTTP/1.1 200 OK\r\n"), N_PIPELINED);
    assert_int_equal(count(&f->in, "HTTP/1.1 400"), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    wp_buf_free(&f->out);
    wp_buf_free(&f->in);
    free(f);
}

/* Sends `request` on one connection to a server whose handler answers 200 at once, and
 * reads until the server closes. Returns how many requests reached the handler. */
static int exchange(const char *request, wp_buf_t *answer)
{
    fix_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->answer_at_once = true;
    uv_loop_init(&f->loop);
    wp_http_server_config_t cfg;
    wp_http_server_config_default(&cfg);
    cfg.idle_timeout_ms = 5000; /* a server that wrongly keeps the connection ends the test */
    f->srv = wp_http_server_new(&f->loop, &cfg, handler, f);
    wp_err_t err;
    assert_int_equal(wp_http_server_listen(f->srv, "127.0.0.1", 0, &err), WP_OK);
    uv_timer_init(&f->loop, &f->hold);
    wp_buf_init(&f->out, 0);
    wp_buf_init(&f->in, 0);
    wp_buf_puts(&f->out, request);
    uv_tcp_init(&f->loop, &f->cli);
    f->cli.data = f;
    f->connect.data = f;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", wp_http_server_port(f->srv), &addr);
    uv_tcp_connect(&f->connect, &f->cli, (const struct sockaddr *)&addr, on_connect);
    uv_run(&f->loop, UV_RUN_DEFAULT); /* ends when the server has closed the connection */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    int handled = f->handled;
    wp_buf_init(answer, 0);
    wp_buf_append(answer, f->in.data ? f->in.data : "", f->in.len);
    wp_buf_free(&f->out);
    wp_buf_free(&f->in);
    free(f);
    return handled;
}

static void test_http_server_version_not_supported(void **state)
{
    (void)state;
    static const char *const bad[] = {"9.9", "2.0", "1.2", "0.9"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char req[160], message[96];
        /* A second, good request pipelined behind: the 505 closes before it is read. */
        snprintf(req, sizeof(req),
                 "GET /health HTTP/%s\r\nHost: t\r\n\r\nGET /health HTTP/1.1\r\nHost: t\r\n\r\n",
                 bad[i]);
        snprintf(message, sizeof(message), "HTTP version %s is not supported", bad[i]);
        wp_buf_t a;
        int handled = exchange(req, &a);
        print_message("HTTP/%s -> %.*s\n", bad[i], (int)strcspn(a.data ? a.data : "", "\r"),
                      a.data ? a.data : "");
        assert_int_equal(handled, 0);
        assert_non_null(a.data);
        assert_int_equal(strncmp(a.data, "HTTP/1.1 505 HTTP Version Not Supported\r\n", 41), 0);
        assert_non_null(strstr(a.data, "\r\nConnection: close\r\n"));
        assert_non_null(strstr(a.data, "\r\nContent-Type: application/json\r\n"));
        assert_non_null(strstr(a.data, message));
        assert_non_null(strstr(a.data, "\"code\":505}}"));
        assert_int_equal(count(&a, "HTTP/1.1 "), 1);
        wp_buf_free(&a);
    }
}

static void test_http_server_versions_1_0_and_1_1(void **state)
{
    (void)state;
    wp_buf_t a;
    assert_int_equal(exchange("GET /health HTTP/1.0\r\n\r\n", &a), 1);
    assert_int_equal(count(&a, "HTTP/1.1 200 OK\r\n"), 1);
    wp_buf_free(&a);
    assert_int_equal(exchange("GET /health HTTP/1.1\r\nHost: t\r\n\r\n"
                              "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                              &a),
                     2);
    assert_int_equal(count(&a, "HTTP/1.1 200 OK\r\n"), 2);
    wp_buf_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_server_pipelined_overflow_keeps_bytes),
        cmocka_unit_test(test_http_server_version_not_supported),
        cmocka_unit_test(test_http_server_versions_1_0_and_1_1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
