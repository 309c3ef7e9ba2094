/* Unit tests for gateway/prober: GETs on the checks' thread against a real HTTP server on
 * the owner's loop. Each result comes back on the owner's loop with its ticket: a scrape read
 * with the engine's names, a health answer, a kept body, a refused connection, an answer that
 * never comes (the prober's timeout), a body over the limit; and freeing the prober with GETs
 * in flight delivers nothing more and says when it is gone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/str.h"
#include "gateway/prober.h"
#include "http/server.h"

#define MAX_RESULTS 16
#define BIG (256 * 1024)

typedef struct fixture_s {
    uv_loop_t loop;
    wp_http_server_t *server;
    int port;
    wp_gw_prober_t *prober;
    wp_gw_probe_result_t got[MAX_RESULTS];
    char bodies[MAX_RESULTS][256];
    int n_got, want;
    uint64_t timeout_ms; /* of the next GETs */
    bool closed;
    char big[BIG];
} fixture_t;

static const char METRICS[] = "# TYPE vllm:num_requests_waiting gauge\n"
                              "vllm:num_requests_waiting{model_name=\"m\"} 3\n"
                              "vllm:num_requests_running{model_name=\"m\"} 5\n"
                              "vllm:kv_cache_usage_perc{model_name=\"m\"} 0.25\n";

/* A /hang request ends when its client goes or the server closes. */
static void on_hang_abort(wp_http_req_t *req)
{
    wp_http_res_end(req);
}

static void on_request(wp_http_req_t *req, void *ctx)
{
    fixture_t *f = ctx;
    if (wp_str_eq_cstr(req->path, "/metrics"))
        wp_http_res_send(req, 200, "text/plain", METRICS, sizeof(METRICS) - 1, NULL);
    else if (wp_str_eq_cstr(req->path, "/health"))
        wp_http_res_send(req, 200, NULL, "", 0, NULL);
    else if (wp_str_eq_cstr(req->path, "/v1/models"))
        wp_http_res_send(req, 200, "application/json", "{\"data\":[{\"id\":\"m\"}]}", 21, NULL);
    else if (wp_str_eq_cstr(req->path, "/text"))
        wp_http_res_send(req, 200, "text/plain", "not { prometheus", 16, NULL);
    else if (wp_str_eq_cstr(req->path, "/big"))
        wp_http_res_send(req, 200, "text/plain", f->big, sizeof(f->big), NULL);
    else if (wp_str_eq_cstr(req->path, "/hang"))
        req->on_abort = on_hang_abort; /* no answer */
    else
        wp_http_res_error(req, 404, "no such path", NULL);
}

static void deliver(void *ud, const wp_gw_probe_result_t *r)
{
    fixture_t *f = ud;
    assert_true(f->n_got < MAX_RESULTS);
    f->got[f->n_got] = *r;
    if (r->body != NULL)
        wp_strlcpy(f->bodies[f->n_got], r->body, sizeof(f->bodies[0]));
    f->got[f->n_got].body = r->body != NULL ? f->bodies[f->n_got] : NULL;
    if (++f->n_got == f->want)
        uv_stop(&f->loop);
}

static int setup(void **state)
{
    static fixture_t f;
    memset(&f, 0, sizeof(f));
    memset(f.big, 'x', sizeof(f.big));
    assert_int_equal(uv_loop_init(&f.loop), 0);
    wp_http_server_config_t cfg;
    wp_http_server_config_default(&cfg);
    f.server = wp_http_server_new(&f.loop, &cfg, on_request, &f);
    wp_err_t err;
    assert_int_equal(wp_http_server_listen(f.server, "127.0.0.1", 0, &err), WP_OK);
    f.port = wp_http_server_port(f.server);
    f.timeout_ms = 300;
    f.prober = wp_gw_prober_new(&f.loop, 64 * 1024, deliver, &f, &err);
    assert_non_null(f.prober);
    *state = &f;
    return 0;
}

static void on_prober_closed(void *ud)
{
    ((fixture_t *)ud)->closed = true;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    if (f->prober != NULL)
        wp_gw_prober_free(f->prober, on_prober_closed, f);
    wp_http_server_close(f->server);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_true(f->closed);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    return 0;
}

static void submit(fixture_t *f, uint64_t ticket, const char *path, int port, bool scrape,
                   bool keep_body)
{
    wp_gw_probe_t p = {.ticket = ticket,
                       .port = port,
                       .engine = scrape ? wp_api_engine(WP_TOPO_ENGINE_VLLM) : NULL,
                       .rank = -1,
                       .keep_body = keep_body,
                       .timeout_ms = f->timeout_ms};
    wp_strlcpy(p.host, "127.0.0.1", sizeof(p.host));
    wp_strlcpy(p.path, path, sizeof(p.path));
    assert_int_equal(wp_gw_prober_submit(f->prober, &p), WP_OK);
}

static const wp_gw_probe_result_t *result(const fixture_t *f, uint64_t ticket)
{
    for (int i = 0; i < f->n_got; i++)
        if (f->got[i].ticket == ticket)
            return &f->got[i];
    fail_msg("no result for ticket %llu", (unsigned long long)ticket);
    return NULL;
}

static void test_prober_answers_come_back_by_ticket(void **state)
{
    fixture_t *f = *state;
    submit(f, 11, "/metrics", f->port, true, false);
    submit(f, 12, "/health", f->port, false, false);
    submit(f, 13, "/v1/models", f->port, false, true);
    submit(f, 14, "/text", f->port, true, false);
    submit(f, 15, "/nothing-here", f->port, true, false); /* the server's 404 */
    f->want = 5;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->n_got, 5);

    const wp_gw_probe_result_t *m = result(f, 11);
    assert_int_equal(m->st, WP_OK);
    assert_int_equal(m->status, 200);
    assert_true(m->read);
    assert_int_equal(m->read_st, WP_OK);
    assert_true(m->reading.waiting == 3.0 && m->reading.running == 5.0);
    assert_true(m->reading.kv_usage == 0.25);
    assert_null(m->body);

    const wp_gw_probe_result_t *h = result(f, 12);
    assert_int_equal(h->st, WP_OK);
    assert_int_equal(h->status, 200);
    assert_false(h->read);

    const wp_gw_probe_result_t *b = result(f, 13);
    assert_int_equal(b->status, 200);
    assert_string_equal(b->body, "{\"data\":[{\"id\":\"m\"}]}");
    assert_int_equal(b->body_len, 21);

    const wp_gw_probe_result_t *t = result(f, 14);
    assert_true(t->read);
    assert_int_equal(t->read_st, WP_EINVAL);
    assert_true(t->read_err[0] != '\0');

    const wp_gw_probe_result_t *n = result(f, 15);
    assert_int_equal(n->st, WP_OK);
    assert_int_equal(n->status, 404);
    assert_false(n->read); /* only a 2xx is read */
}

static void test_prober_failures_say_what_failed(void **state)
{
    fixture_t *f = *state;
    /* A port nothing listens on: the server's own, once closed, is free. */
    wp_http_server_config_t cfg;
    wp_http_server_config_default(&cfg);
    wp_http_server_t *gone = wp_http_server_new(&f->loop, &cfg, on_request, f);
    wp_err_t err;
    assert_int_equal(wp_http_server_listen(gone, "127.0.0.1", 0, &err), WP_OK);
    int closed_port = wp_http_server_port(gone);
    wp_http_server_close(gone);
    uv_run(&f->loop, UV_RUN_NOWAIT);

    submit(f, 21, "/metrics", closed_port, true, false);
    submit(f, 22, "/hang", f->port, false, false);
    submit(f, 23, "/big", f->port, true, false);
    f->want = 3;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->n_got, 3);

    const wp_gw_probe_result_t *r = result(f, 21);
    assert_int_not_equal(r->st, WP_OK);
    assert_int_equal(r->status, 0);
    assert_true(r->why[0] != '\0');

    const wp_gw_probe_result_t *h = result(f, 22);
    assert_int_equal(h->st, WP_ETIMEDOUT);
    assert_true(h->why[0] != '\0');

    const wp_gw_probe_result_t *b = result(f, 23);
    assert_int_equal(b->st, WP_ELIMIT);
    assert_non_null(strstr(b->why, "larger than"));
    assert_false(b->read);
}

/* Each GET waits as long as it says: of two GETs that get no answer, the one sent second
 * with the shorter timeout fails first (checkTimeoutMs changed by a reload applies at once). */
static void test_prober_each_get_has_its_own_timeout(void **state)
{
    fixture_t *f = *state;
    f->timeout_ms = 900;
    submit(f, 41, "/hang", f->port, false, false);
    f->timeout_ms = 60;
    submit(f, 42, "/hang", f->port, false, false);
    f->want = 2;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->n_got, 2);
    assert_int_equal(f->got[0].ticket, 42);
    assert_int_equal(f->got[1].ticket, 41);
    assert_int_equal(f->got[0].st, WP_ETIMEDOUT);
    assert_int_equal(f->got[1].st, WP_ETIMEDOUT);
}

static void test_prober_free_with_gets_in_flight_delivers_nothing_more(void **state)
{
    fixture_t *f = *state;
    submit(f, 31, "/hang", f->port, false, false);
    submit(f, 32, "/hang", f->port, false, false);
    wp_gw_prober_free(f->prober, on_prober_closed, f);
    f->prober = NULL;
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->n_got, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prober_answers_come_back_by_ticket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prober_failures_say_what_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prober_each_get_has_its_own_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prober_free_with_gets_in_flight_delivers_nothing_more,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
