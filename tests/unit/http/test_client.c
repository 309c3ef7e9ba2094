/* Unit tests for http/client: a call whose connect fails at once is still reported
 * from the loop, after wp_http_call_start has returned it, and exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/client.h"

typedef struct probe_s {
    bool starting; /* inside wp_http_call_start */
    int done, done_while_starting;
    wp_status_t st;
} probe_t;

static void on_head(void *ud, int status, const wp_http_headers_t *h)
{
    (void)ud;
    (void)status;
    (void)h;
}

static void on_body(void *ud, const char *data, size_t len)
{
    (void)ud;
    (void)data;
    (void)len;
}

static void on_done(void *ud, wp_status_t st, const char *why)
{
    (void)why;
    probe_t *p = ud;
    p->done++;
    p->done_while_starting += p->starting;
    p->st = st;
}

static void test_http_client_connect_error_reported_later(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    wp_http_client_config_t cfg;
    wp_http_client_config_default(&cfg);
    wp_err_t err;
    /* Linux refuses a TCP connect to the broadcast address inside connect() itself. */
    wp_http_upstream_t *up = wp_http_upstream_new(&loop, "255.255.255.255", 9, &cfg, &err);
    assert_non_null(up);
    probe_t p = {.starting = true};
    static const wp_http_call_cbs_t cbs = {on_head, on_body, on_done};
    wp_http_call_t *call = wp_http_call_start(up, "GET", "/health", NULL, NULL, 0, &cbs, &p);
    p.starting = false;
    assert_non_null(call);
    assert_int_equal(p.done_while_starting, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(p.done, 1);
    assert_int_not_equal(p.st, WP_OK);
    wp_http_upstream_free(up);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_client_connect_error_reported_later),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
