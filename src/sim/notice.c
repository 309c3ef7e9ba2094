/*
 * sim/notice: a preemption notice on a replica, as a spot node gets one (AWS: two minutes,
 * GCP: 30 s) and Kubernetes passes it on as SIGTERM within terminationGracePeriodSeconds.
 * A noticed replica behaves as vLLM draining under SIGTERM with --shutdown-timeout: /health
 * answers 503 (the gateway takes it out of its pool at once), a new completion is refused
 * with 503 before any byte (the gateway retries it on another endpoint), and the requests
 * it already runs go on streaming. When the notice ends the replica crashes as
 * /admin/crash makes it (inject.c): what still runs is cut, and with restart_ms >= 0 it
 * comes back empty after that long (a replacement node), no longer noticed.
 *
 *   POST /admin/preempt   {"notice_ms": N, "restart_ms": M}  (both optional: 120000, -1)
 *                         202 {"preempt":true,"notice_ms":N,"restart_ms":M}; a second
 *                         notice while one runs: 409.
 *
 * SIGTERM: `wellpath sim --shutdown-timeout S` notices every replica for S seconds
 * (wp_sim_drain) and stops as soon as none has a request left (wp_sim_idle), or when the
 * notice ends.
 *
 * The notice timer is the replica's notice_timer (opened with the replica, closed with
 * it: sim->open_handles counts it).
 */
#include "sim/internal.h"

#include <cJSON.h>
#include <http_parser.h>
#include <math.h>
#include <string.h>

#include "base/log.h"
#include "base/str.h"

#define DEFAULT_NOTICE_MS 120000

static void on_notice_closed(uv_handle_t *h)
{
    sim_replica_t *r = h->data;
    wp__sim_handle_closed(r->sim);
}

void wp__sim_notice_init(sim_replica_t *r)
{
    uv_timer_init(r->sim->loop, &r->notice_timer);
    r->notice_timer.data = r;
    r->sim->open_handles++;
}

void wp__sim_notice_close(sim_replica_t *r)
{
    uv_timer_stop(&r->notice_timer);
    uv_close((uv_handle_t *)&r->notice_timer, on_notice_closed);
}

static void on_notice_end(uv_timer_t *t)
{
    sim_replica_t *r = t->data;
    wp_log(WP_LOG_WARN, "preempt: notice ended, replica reclaimed", "replica=%d port=%d", r->index,
           r->port);
    r->noticed = false;
    wp__sim_crash(r, r->notice_restart_ms);
}

wp_status_t wp__sim_notice_start(sim_replica_t *r, int64_t notice_ms, int64_t restart_ms,
                                 wp_err_t *err)
{
    if (r->noticed || r->down)
        return wp_err_set(err, WP_EINVAL,
                          r->noticed ? "the replica is already under notice"
                                     : "the replica is down");
    r->noticed = true;
    r->notices++;
    r->notice_restart_ms = restart_ms;
    uv_timer_start(&r->notice_timer, on_notice_end, (uint64_t)notice_ms, 0);
    wp_log(WP_LOG_WARN, "preempt: notice, draining", "replica=%d port=%d notice_ms=%lld", r->index,
           r->port, (long long)notice_ms);
    return WP_OK;
}

/* {"notice_ms": N, "restart_ms": M}: each optional, whole milliseconds, notice 0..1 day,
 * restart -1 (none) .. 1 day. */
static wp_status_t parse(const wp_buf_t *body, int64_t *notice_ms, int64_t *restart_ms,
                         wp_err_t *err)
{
    *notice_ms = DEFAULT_NOTICE_MS;
    *restart_ms = -1;
    size_t skip = 0;
    while (skip < body->len && strchr(" \t\r\n", body->data[skip]) != NULL)
        skip++;
    if (skip == body->len)
        return WP_OK;
    cJSON *root = cJSON_ParseWithLength(body->data, body->len);
    wp_status_t st = WP_OK;
    if (!cJSON_IsObject(root))
        st = wp_err_set(err, WP_EINVAL,
                        "body: expected a JSON object {\"notice_ms\":N,\"restart_ms\":M}");
    for (const cJSON *c = root ? root->child : NULL; st == WP_OK && c != NULL; c = c->next) {
        bool notice = strcmp(c->string, "notice_ms") == 0;
        bool restart = strcmp(c->string, "restart_ms") == 0;
        double v = c->valuedouble, lo = notice ? 0 : -1;
        if (!notice && !restart)
            st = wp_err_set(err, WP_EINVAL,
                            "%.32s: unknown field (expected \"notice_ms\" or \"restart_ms\")",
                            c->string);
        else if (!cJSON_IsNumber(c) || v != floor(v) || v < lo || v > 86400000)
            st = wp_err_set(err, WP_EINVAL, "%s: expected whole milliseconds %g..86400000",
                            c->string, lo);
        else if (notice)
            *notice_ms = (int64_t)v;
        else
            *restart_ms = (int64_t)v;
    }
    cJSON_Delete(root);
    return st;
}

void wp__sim_admin_preempt(sim_replica_t *r, wp_http_req_t *req)
{
    int64_t notice_ms, restart_ms;
    wp_err_t err;
    if (parse(&req->body, &notice_ms, &restart_ms, &err) != WP_OK) {
        wp_http_res_error(req, 400, err.msg, NULL);
        return;
    }
    if (wp__sim_notice_start(r, notice_ms, restart_ms, &err) != WP_OK) {
        wp_http_res_error(req, 409, err.msg, NULL);
        return;
    }
    wp_buf_t b;
    wp_buf_init(&b, 0);
    wp_buf_printf(&b, "{\"preempt\":true,\"notice_ms\":%lld,\"restart_ms\":%lld}",
                  (long long)notice_ms, (long long)restart_ms);
    wp_http_res_send(req, 202, "application/json", b.data, b.len, NULL);
    wp_buf_free(&b);
}

bool wp__sim_notice_route(sim_replica_t *r, wp_http_req_t *req, bool completion)
{
    if (!r->noticed)
        return false;
    static const char body[] = "{\"status\":\"draining\"}";
    if (completion)
        wp_http_res_error(req, 503,
                          "the server is shutting down (preemption notice): not accepting new "
                          "requests",
                          NULL);
    else if (wp_str_eq_cstr(req->path, "/health") && req->method == HTTP_GET)
        wp_http_res_send(req, 503, "application/json", body, sizeof(body) - 1, NULL);
    else
        return false;
    return true;
}

int wp_sim_drain(wp_sim_t *sim, int64_t notice_ms)
{
    int n = 0;
    for (int i = 0; i < sim->n; i++) {
        wp_err_t err;
        sim_replica_t *r = &sim->replicas[i];
        if (!r->closing && wp__sim_notice_start(r, notice_ms, -1, &err) == WP_OK)
            n++;
    }
    return n;
}

bool wp_sim_idle(const wp_sim_t *sim)
{
    for (int i = 0; i < sim->n; i++)
        if (sim->replicas[i].live != NULL || sim->replicas[i].waits != NULL)
            return false;
    return true;
}
