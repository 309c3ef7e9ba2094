/*
 * sim/inject: fault injection on a replica (the kinds and the decision are fault/fault.h;
 * what a crash does and the admin API are in sim.h).
 *
 * A completion request first gets its decision from the replica's set and RNG, and each
 * kind applied is counted at once. Then: a crash is scheduled and the request is left
 * waiting (the crash closes its connection); a hang leaves it waiting for good; a latency
 * spike parks it on a timer; an error is answered; everything else (and a context-length
 * error, which needs the prompt's token count, and a disconnect) goes on to serve.c with
 * the decision. A waiting request is a `sim_wait_t`, freed when it moves on or its client
 * goes away (also when the server closes: every connection's request gets on_abort).
 *
 * A crash never runs inside an HTTP handler: it is deferred to fault_timer (0 ms), which
 * closes the server, ends pulls, forgets held KV, replaces the engine and, with
 * restart_ms >= 0, fires again to listen on the same port.
 */
#include "sim/internal.h"

#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/str.h"

typedef struct sim_wait_s {
    sim_replica_t *r;
    wp_http_req_t *http;
    wp_api_kind_t kind;
    wp_fault_decision_t d;
    uv_timer_t timer;
    bool timing;                    /* the latency timer was opened */
    struct sim_wait_s *prev, *next; /* on r->waits until freed */
} sim_wait_t;

static void install(sim_replica_t *r, const wp_fault_set_t *set)
{
    r->faults = *set;
    r->fault_requests = 0;
    wp_rng_seed(&r->fault_rng, r->sim->cfg.seed * 0x9e3779b97f4a7c15ULL + (uint64_t)r->index);
}

static void on_fault_timer_closed(uv_handle_t *h)
{
    sim_replica_t *r = h->data;
    wp__sim_handle_closed(r->sim);
}

void wp__sim_inject_init(sim_replica_t *r)
{
    wp_sim_t *sim = r->sim;
    wp_fault_set_t none = {.n = 0};
    install(r, wp_sim_fault_applies(sim->cfg.fault_replicas, r->index) ? &sim->cfg.faults : &none);
    uv_timer_init(sim->loop, &r->fault_timer);
    r->fault_timer.data = r;
    sim->open_handles++;
    wp__sim_notice_init(r);
}

void wp__sim_inject_close(sim_replica_t *r)
{
    uv_timer_stop(&r->fault_timer);
    uv_close((uv_handle_t *)&r->fault_timer, on_fault_timer_closed);
    wp__sim_notice_close(r);
}

/* ---- crash and restart ---- */

/* A restarted process: an empty engine and cache, fresh vLLM series. In a wide-EP group
 * the rank restarts alone; the group's step goes on for the others (this rank's events of
 * the running step are dropped with its engine). */
static void engine_reset(sim_replica_t *r)
{
    sim_group_t *g = r->group;
    if (g->n_ranks == 1) {
        uv_timer_stop(&g->timer);
        g->timer_armed = false;
    }
    wp_err_t err;
    if (wp_group_reset(g->core, r->rank, &err) == WP_OK) {
        r->engine = wp_group_engine(g->core, r->rank);
        wp__sim_kvev_cleared(r);
    } else
        wp_log(WP_LOG_ERROR, "fault: rank engine not restarted", "replica=%d error=\"%s\"",
               r->index, err.msg);
    while (r->dead != NULL) {
        sim_req_t *d = r->dead;
        r->dead = d->next_dead;
        wp__sim_req_free(d);
    }
    wp__sim_metrics_free(r);
    wp__sim_metrics_init(r);
    r->success = r->steps = 0;
    r->kv_pulls_ok = r->kv_pulls_failed = r->kv_served = r->kv_refused = 0;
}

static void on_restart(uv_timer_t *t)
{
    sim_replica_t *r = t->data;
    wp_sim_t *sim = r->sim;
    wp_err_t err;
    wp_http_server_t *srv = wp_http_server_new(sim->loop, &sim->cfg.server, wp__sim_on_request, r);
    if (srv == NULL || wp_http_server_listen(srv, sim->cfg.host, r->port, &err) != WP_OK) {
        wp_log(WP_LOG_ERROR, "fault: replica cannot restart", "replica=%d port=%d error=\"%s\"",
               r->index, r->port, srv == NULL ? "out of memory" : err.msg);
        if (srv != NULL)
            wp_http_server_close(srv);
        return;
    }
    r->server = srv;
    r->down = false;
    r->fault_requests = 0;
    wp_log(WP_LOG_INFO, "fault: replica restarted", "replica=%d port=%d", r->index, r->port);
}

static void wait_free(sim_wait_t *w);

/* After a crash closed r's server: the requests parked for r that came through another
 * rank's port (X-data-parallel-rank) are cut as its own were. */
static void cut_waits(sim_replica_t *r)
{
    while (r->waits != NULL) {
        sim_wait_t *w = r->waits;
        w->http->on_abort = NULL;
        w->http->user = NULL;
        wp_http_res_abort(w->http);
        wait_free(w);
    }
}

static void on_crash(uv_timer_t *t)
{
    sim_replica_t *r = t->data;
    r->crash_pending = false;
    r->down = true;
    wp_log(WP_LOG_WARN, "fault: replica crashed", "replica=%d port=%d restart_ms=%lld", r->index,
           r->port, (long long)r->restart_ms);
    wp_http_server_close(r->server); /* in-flight requests get on_abort */
    r->server = NULL;
    cut_waits(r);
    wp__sim_cut_live(r);
    wp__sim_pull_close_all(r);
    wp__sim_kv_forget(r);
    engine_reset(r);
    if (r->restart_ms >= 0)
        uv_timer_start(&r->fault_timer, on_restart, (uint64_t)r->restart_ms, 0);
}

static void crash(sim_replica_t *r, int64_t restart_ms)
{
    if (r->crash_pending || r->down || r->closing)
        return;
    r->crash_pending = true;
    r->restart_ms = restart_ms;
    uv_timer_start(&r->fault_timer, on_crash, 0, 0);
}

void wp__sim_crash(sim_replica_t *r, int64_t restart_ms)
{
    crash(r, restart_ms);
}

/* ---- waiting requests: hang, latency, a crash to come ---- */

static void on_wait_timer_closed(uv_handle_t *h)
{
    sim_wait_t *w = h->data;
    wp_sim_t *sim = w->r->sim;
    free(w);
    wp__sim_handle_closed(sim);
}

static void wait_free(sim_wait_t *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else if (w->r->waits == w)
        w->r->waits = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    if (w->timing)
        uv_close((uv_handle_t *)&w->timer, on_wait_timer_closed);
    else
        free(w);
}

static void on_wait_abort(wp_http_req_t *http)
{
    sim_wait_t *w = http->user;
    wp_http_res_end(http);
    wait_free(w);
}

static void answer_error(wp_http_req_t *req, wp_fault_kind_t kind)
{
    static const char *const msg[] = {
        [WP_FAULT_429] = "Too many requests: rate limited (fault injected by wellpath sim)",
        [WP_FAULT_500] = "Internal server error (fault injected by wellpath sim)",
        [WP_FAULT_503] = "Service unavailable (fault injected by wellpath sim)",
    };
    wp_http_res_error(req, wp_fault_status(kind), msg[kind], NULL);
}

/* After the latency (if any): the error, or on to serve.c. */
static void proceed(sim_replica_t *r, wp_http_req_t *req, wp_api_kind_t kind,
                    const wp_fault_decision_t *d)
{
    if (d->status != 0 && d->error != WP_FAULT_CONTEXT_LENGTH)
        answer_error(req, d->error);
    else
        wp__sim_serve_completion(r, req, kind, d);
}

static void on_latency_done(uv_timer_t *t)
{
    sim_wait_t *w = t->data;
    w->http->on_abort = NULL;
    w->http->user = NULL;
    proceed(w->r, w->http, w->kind, &w->d);
    wait_free(w);
}

/* Parks req: for good (hang, crash) or until the latency has passed. */
static void wait_start(sim_replica_t *r, wp_http_req_t *req, wp_api_kind_t kind,
                       const wp_fault_decision_t *d, bool timed)
{
    sim_wait_t *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        wp_http_res_error(req, 503, "out of memory", NULL);
        return;
    }
    *w = (sim_wait_t){.r = r, .http = req, .kind = kind, .d = *d, .next = r->waits};
    if (r->waits != NULL)
        r->waits->prev = w;
    r->waits = w;
    req->user = w;
    req->on_abort = on_wait_abort;
    if (!timed)
        return;
    uv_timer_init(r->sim->loop, &w->timer);
    w->timer.data = w;
    w->timing = true;
    r->sim->open_handles++;
    uv_timer_start(&w->timer, on_latency_done, (uint64_t)d->latency_ms, 0);
}

void wp__sim_inject_completion(sim_replica_t *r, wp_http_req_t *req, wp_api_kind_t kind)
{
    wp_fault_decision_t d;
    wp_fault_decide(&r->faults, &r->fault_rng, ++r->fault_requests, &d);
    for (int k = 0; k < WP_FAULT_KIND_COUNT; k++)
        if (d.injected & (1u << k))
            r->faults_injected[k]++;
    if (d.injected != 0)
        wp_log(WP_LOG_DEBUG, "fault: injected", "replica=%d request=%llu kinds=0x%x", r->index,
               (unsigned long long)r->fault_requests, d.injected);
    if (d.crash)
        crash(r, d.restart_ms);
    if (d.crash || d.hang)
        wait_start(r, req, kind, &d, false);
    else if (d.injected & (1u << WP_FAULT_LATENCY))
        wait_start(r, req, kind, &d, true);
    else
        proceed(r, req, kind, &d);
}

/* ---- the admin endpoint ---- */

static void admin_send(wp_http_req_t *req, int status, const wp_buf_t *b)
{
    wp_http_res_send(req, status, "application/json", b->data, b->len, NULL);
}

static void admin_faults(sim_replica_t *r, wp_http_req_t *req)
{
    wp_err_t err;
    wp_fault_set_t set = {.n = 0};
    if (req->method == HTTP_PUT &&
        wp_fault_set_parse_json(req->body.data, req->body.len, &set, &err) != WP_OK) {
        wp_http_res_error(req, 400, err.msg, NULL);
        return;
    }
    if (req->method == HTTP_PUT || req->method == HTTP_DELETE) {
        install(r, &set);
        wp_log(WP_LOG_INFO, "fault: set replaced", "replica=%d faults=%d", r->index, set.n);
    }
    wp_buf_t b;
    wp_buf_init(&b, 0);
    wp_fault_set_write_json(&r->faults, &b);
    admin_send(req, 200, &b);
    wp_buf_free(&b);
}

static void admin_crash(sim_replica_t *r, wp_http_req_t *req)
{
    int64_t restart_ms;
    wp_err_t err;
    if (wp_fault_crash_parse_json(req->body.data, req->body.len, &restart_ms, &err) != WP_OK) {
        wp_http_res_error(req, 400, err.msg, NULL);
        return;
    }
    r->faults_injected[WP_FAULT_CRASH]++;
    wp_buf_t b;
    wp_buf_init(&b, 0);
    wp_buf_printf(&b, "{\"crash\":true,\"restart_ms\":%lld}", (long long)restart_ms);
    admin_send(req, 202, &b); /* written before the crash closes the connection */
    wp_buf_free(&b);
    crash(r, restart_ms);
}

bool wp__sim_admin(sim_replica_t *r, wp_http_req_t *req)
{
    const char *token = r->sim->cfg.admin_token;
    bool faults = wp_str_eq_cstr(req->path, "/admin/faults");
    bool crash_path = wp_str_eq_cstr(req->path, "/admin/crash");
    bool preempt = wp_str_eq_cstr(req->path, "/admin/preempt");
    if (token[0] == '\0' || !(faults || crash_path || preempt))
        return false;
    if (!wp_http_bearer_ok(&req->headers, token)) {
        wp_buf_t b;
        wp_buf_init(&b, 0);
        wp_api_write_error(&b, 401, "missing or wrong bearer token", NULL);
        wp_http_res_send(req, 401, "application/json", b.data, b.len,
                         "WWW-Authenticate: Bearer\r\n");
        wp_buf_free(&b);
        return true;
    }
    int m = req->method;
    if (faults && (m == HTTP_GET || m == HTTP_PUT || m == HTTP_DELETE))
        admin_faults(r, req);
    else if (crash_path && m == HTTP_POST)
        admin_crash(r, req);
    else if (preempt && m == HTTP_POST)
        wp__sim_admin_preempt(r, req);
    else
        wp_http_res_error(req, 405,
                          faults       ? "/admin/faults takes GET, PUT or DELETE"
                          : crash_path ? "/admin/crash takes POST"
                                       : "/admin/preempt takes POST",
                          NULL);
    return true;
}
