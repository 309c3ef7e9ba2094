/*
 * gateway/proxy: one proxied completion request, from body parse to the last byte.
 *
 *   parse body -> check model -> admit (flow.c) -> prefill stage (pd.c, P/D pools only)
 *   -> pick (sched/) -> call upstream -> on_head: answer head -> on_body: pass each piece
 *   on as it arrives -> on_done: end, account, log.
 *
 * Retries: a connection failure, a timeout or a 5xx from the upstream before any byte
 * has gone to the client is retried on another endpoint (never one already tried), at
 * most cfg.retries times. After the first byte a failure cannot be retried: a streamed
 * (SSE) answer is ended with an SSE error event, any other body is cut by closing the
 * connection, so the client never mistakes a partial answer for a whole one.
 *
 * Lifetime: a gw_proxy_t (its fields: internal.h) lives from wp__gw_proxy_start to
 * wp__gw_proxy_finish; it owns the parsed body and the upstream call, and holds the pool
 * generation current at its start: every attempt picks from it, so a reload never moves a
 * dispatched request between schedulers (one still queued, holding nothing there, moves to
 * the current generation when it leaves the queue). If the client goes away first,
 * on_abort cancels the call.
 */
#include "gateway/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/openai.h"
#include "api/pd.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/str.h"
#include "sched/retry.h"
#include "tok/tok.h"

/* Bytes queued for one client before it counts as too slow to serve. */
#define SLOW_CLIENT_BYTES ((size_t)16 << 20)

/* The first byte came back (or never will): the prompt is prefilled. */
static void prefill_done(gw_proxy_t *p)
{
    if (p->prefilling)
        wp__gw_ep_prefilled(p->gw, p->pool, p->ep, &p->pick);
    p->prefilling = false;
}

/* The current attempt is over: the endpoint gets its in-flight slot back. */
static void release(gw_proxy_t *p)
{
    prefill_done(p);
    if (p->dispatched) {
        wp__gw_ep_done(p->gw, p->pool, p->ep, &p->pick);
    }
    p->dispatched = false;
}

void wp__gw_proxy_finish(gw_proxy_t *p, const char *outcome)
{
    wp_gateway_t *gw = p->gw;
    wp__gw_flow_forget(p);
    wp__gw_wake_forget(p);
    release(p);
    wp__gw_count_answer(gw, p->ep, p->model, p->status);
    uint64_t end = uv_hrtime();
    if (p->status >= 200 && p->status < 300) {
        wp_stats_hist_observe(&gw->tally.e2e_s, (double)(end - p->t0_ns) / 1e9);
        if (p->t_first_ns && p->sse) {
            wp_stats_hist_observe(&gw->tally.ttft_s, (double)(p->t_first_ns - p->t0_ns) / 1e9);
            wp__gw_status_note_ttft(gw, p->ep, (double)(p->t_first_ns - p->t0_ns) / 1e9);
        }
    }
    gw->tally.in_flight--;
    if (gw->cfg.log_requests && wp_log_enabled(WP_LOG_INFO)) {
        char scores[256] = "", q[4096];
        size_t k = 0;
        for (int i = 0; i < p->pick.n_scores && k < sizeof(scores) - 40; i++)
            k += (size_t)snprintf(scores + k, sizeof(scores) - k, "%s%s:%.3f", i ? "," : "",
                                  p->pick.scores[i].name, p->pick.scores[i].raw);
        double ttft = p->t_first_ns ? (double)(p->t_first_ns - p->t0_ns) / 1e6 : -1;
        wp_log(WP_LOG_INFO, "request",
               "id=%s model=%s endpoint=%s status=%d outcome=%s ttft_ms=%.2f e2e_ms=%.2f "
               "prompt_tokens=%lld completion_tokens=%lld attempts=%d prefix=%.3f scores=%s%s%s",
               p->request_id, p->model ? p->model : "-", p->ep ? p->ep->cfg.name : "-", p->status,
               outcome, ttft, (double)(end - p->t0_ns) / 1e6, p->prompt_tokens,
               p->completion_tokens, p->attempts, p->pick.prefix_ratio, scores[0] ? scores : "-",
               gw->cfg.log_prompts ? " prompt=" : "",
               gw->cfg.log_prompts
                   ? wp_log_quote(q, sizeof(q), p->logged_prompt ? p->logged_prompt : "")
                   : "");
    }
    wp__gw_pd_end(p);
    wp_buf_free(&p->pf_answer);
    wp_buf_free(&p->send_body);
    free(p->logged_prompt);
    wp_api_request_free(&p->api);
    wp_buf_free(&p->fwd_headers);
    free(p->hashes);
    free(p->kv_hashes);
    wp__gw_pool_unref(p->pool);
    free(p);
    wp__gw_flow_drain(gw); /* an endpoint may have room now */
}

/* Answers with an error and finishes; only before anything was sent. */
void wp__gw_proxy_fail(gw_proxy_t *p, int status, const char *msg, const char *param)
{
    p->status = status;
    char extra[160];
    /* Shed or unavailable: tell clients (the OpenAI SDKs honour it) when to come back. */
    snprintf(extra, sizeof(extra), "X-Request-Id: %s\r\n%s", p->request_id,
             status == 429 || status == 503 ? "Retry-After: 1\r\n" : "");
    wp_buf_t b;
    wp_buf_init(&b, 0);
    wp_api_write_error(&b, status, msg, param);
    wp_http_res_send(p->req, status, "application/json", b.data, b.len, extra);
    wp_buf_free(&b);
    wp__gw_proxy_finish(p, "error");
}

static void on_abort(wp_http_req_t *req)
{
    gw_proxy_t *p = req->user;
    if (p->call != NULL)
        wp_http_call_cancel(p->call);
    p->call = NULL;
    p->status = 499; /* client closed the request (nginx's code) */
    wp_http_res_end(req);
    wp__gw_proxy_finish(p, "client-gone");
}

/* ---- upstream callbacks ---- */

/* The attempt failed before any byte reached the client and r says to try another
 * endpoint: the endpoint gets its slot back, and the next attempt picks (excluding the
 * ones tried). Should none be left, the client hears r.status and why. */
static void retry(gw_proxy_t *p, wp_sched_retry_t r, const char *why)
{
    wp_gateway_t *gw = p->gw;
    wp__gw_count_upstream_error(gw, p->ep);
    snprintf(p->fail_why, sizeof(p->fail_why), "%s", why);
    p->fail_status = r.status;
    release(p);
    gw->tally.retries_total++;
    wp__gw_decision(gw, &(wp_sched_decision_t){.kind = WP_SCHED_DECISION_RETRY,
                                               .request = p->request_id,
                                               .endpoint = p->ep->cfg.name,
                                               .status = p->up_status ? p->up_status : r.status});
    wp__gw_proxy_attempt(p);
}

/* The attempt failed before any byte reached the client: another endpoint, or the
 * client hears r.status. */
static void attempt_failed(gw_proxy_t *p, wp_sched_retry_t r, const char *why)
{
    if (r.retry) {
        retry(p, r, why);
        return;
    }
    wp__gw_count_upstream_error(p->gw, p->ep);
    release(p);
    wp__gw_proxy_fail(p, r.status, why, NULL);
}

/* Outlier detection hears of the attempt's outcome, as sched/retry decided. */
static void judge(gw_proxy_t *p, gw_endpoint_t *ep, wp_sched_retry_t r)
{
    if (r.judged)
        wp__gw_outlier_note(p->gw, ep, r.fault);
}

/* The headers the gateway adds to the answer, into p->head.extra: the request id, the
 * endpoint, the session token, no caching for a stream, and the body's encoding (the body is
 * passed on as it came: so is its encoding). Every part is bounded: they fit. */
static void head_extra(gw_proxy_t *p, wp_str_t ce)
{
    char session[160];
    size_t sn = wp__gw_session_header(p, session, sizeof(session));
    bool enc = ce.p != NULL && ce.n < 64;
    const wp_str_t parts[] = {
        WP_STR("X-Request-Id: "),
        wp_str_from(p->request_id),
        WP_STR("\r\nX-Wellpath-Endpoint: "),
        wp_str_from(p->ep->cfg.name),
        WP_STR("\r\n"),
        {session, sn},
        p->sse ? WP_STR("Cache-Control: no-cache\r\n") : WP_STR(""),
        enc ? WP_STR("Content-Encoding: ") : WP_STR(""),
        enc ? ce : WP_STR(""),
        enc ? WP_STR("\r\n") : WP_STR(""),
    };
    size_t n = 0;
    p->head.extra[0] = '\0';
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        if (!wp_str_append(p->head.extra, sizeof(p->head.extra), &n, parts[i].p, parts[i].n))
            break;
}

static void on_up_head(void *ud, int status, const wp_http_headers_t *h)
{
    gw_proxy_t *p = ud;
    p->up_status = status;
    wp__gw_notice_upstream(p->gw, p->ep, status); /* a 503: is it draining? */
    wp_sched_retry_t r = wp_sched_retry_decide(status, p->attempts, p->gw->cfg.retries, false);
    if (r.retry) {
        wp_http_call_cancel(p->call);
        p->call = NULL;
        judge(p, p->ep, r);
        char why[200];
        snprintf(why, sizeof(why), "upstream %s answered HTTP %d", p->ep->cfg.name, status);
        retry(p, r, why);
        return;
    }
    wp_str_t ct = wp_http_headers_get(h, "Content-Type");
    char ctype[128] = "application/json";
    if (ct.p != NULL && ct.n < sizeof(ctype)) {
        memcpy(ctype, ct.p, ct.n);
        ctype[ct.n] = '\0';
    }
    p->sse = strncmp(ctype, "text/event-stream", 17) == 0;
    head_extra(p, wp_http_headers_get(h, "Content-Encoding"));
    /* A body of known length keeps its length; anything else is sent chunked. */
    wp_str_t cl = wp_http_headers_get(h, "Content-Length");
    int64_t length = -1;
    if (cl.p == NULL || wp_parse_i64(cl.p, cl.n, &length) != WP_OK || length < 0 ||
        p->pf_cached >= 0)
        length = -1; /* unknown, or the folded usage changes it */
    /* Held until the first body byte: a server that sends its head, then dies or hangs
     * before the first token, is retried elsewhere and the client never knows. */
    p->status = status;
    p->head.held = true;
    p->head.status = status;
    p->head.length = length;
    wp_strlcpy(p->head.ctype, ctype, sizeof(p->head.ctype));
}

/* The held head goes to the client: from here on nothing is retried. */
static void send_head(gw_proxy_t *p)
{
    if (!p->head.held)
        return;
    p->head.held = false;
    p->responded = true;
    wp_http_res_head(p->req, p->head.status, p->head.ctype, p->head.length, p->head.extra);
}

static void on_up_body(void *ud, const char *data, size_t len)
{
    gw_proxy_t *p = ud;
    uint64_t now = uv_hrtime();
    send_head(p);
    if (p->t_first_ns == 0) {
        p->t_first_ns = now;
        prefill_done(p);
    } else if (p->sse)
        wp_stats_hist_observe(&p->gw->tally.itl_s, (double)(now - p->t_last_ns) / 1e9);
    p->t_last_ns = now;
    if (wp_http_req_write_queue(p->req) > SLOW_CLIENT_BYTES) {
        /* The client reads slower than the model writes: cut it off rather than buffer
         * without bound. on_abort cancels the upstream call and finishes. */
        wp_log(WP_LOG_WARN, "client too slow, closing", "id=%s queued=%zu", p->request_id,
               wp_http_req_write_queue(p->req));
        wp_http_call_cancel(p->call);
        p->call = NULL;
        p->status = 499;
        wp_http_res_abort(p->req);
        wp__gw_proxy_finish(p, "client-too-slow");
        return;
    }
    wp_api_usage_scan(data, len, &p->prompt_tokens, &p->completion_tokens);
    if (p->pf_cached >= 0) { /* P/D: the client sees the prefill side's cache hits */
        wp_buf_t folded;
        wp_buf_init(&folded, 0);
        wp_api_pd_fold_cached(data, len, p->pf_cached, &folded);
        wp_http_res_write(p->req, folded.data, folded.len);
        wp_buf_free(&folded);
        return;
    }
    wp_http_res_write(p->req, data, len);
}

static void on_up_done(void *ud, wp_status_t st, const char *why)
{
    gw_proxy_t *p = ud;
    p->call = NULL;
    if (st == WP_OK) {
        judge(p, p->ep, wp_sched_retry_decide(p->up_status, p->attempts, 0, true));
        send_head(p); /* an empty body */
        wp_http_res_end(p->req);
        wp__gw_proxy_finish(p, "ok");
        return;
    }
    int outcome = st == WP_ETIMEDOUT ? WP_SCHED_RETRY_TIMEOUT : WP_SCHED_RETRY_TRANSPORT;
    wp_sched_retry_t r =
        wp_sched_retry_decide(outcome, p->attempts, p->gw->cfg.retries, p->responded);
    judge(p, p->ep, r);
    p->up_status = 0;
    if (!p->responded) { /* nothing reached the client, a held head included */
        p->head.held = false;
        attempt_failed(p, r, why ? why : "upstream failed");
        return;
    }
    /* The client saw a head (and part of the answer): it is counted as the failure it is,
     * under the status the gateway would have answered, not as the head's 200. */
    int status = r.status;
    p->status = status;
    wp__gw_count_upstream_error(p->gw, p->ep);
    wp_log(WP_LOG_WARN, "upstream failed mid-response", "id=%s endpoint=%s why=\"%s\"",
           p->request_id, p->ep->cfg.name, why ? why : "");
    if (p->sse) {
        wp_buf_t b;
        wp_buf_init(&b, 0);
        wp_buf_puts(&b, "data: ");
        wp_api_write_error(&b, status, why ? why : "upstream failed", NULL);
        wp_buf_puts(&b, "\n\n");
        wp_http_res_write(p->req, b.data, b.len);
        wp_buf_free(&b);
        wp_http_res_end(p->req);
    } else {
        wp_http_res_abort(p->req);
    }
    wp__gw_proxy_finish(p, "upstream-failed-mid-response");
}

/* ---- picking and sending ---- */

void wp__gw_proxy_unavailable(gw_proxy_t *p)
{
    char msg[256];
    snprintf(msg, sizeof(msg), "no endpoint is ready to serve model '%s'", p->model);
    wp__gw_decision(p->gw, &(wp_sched_decision_t){.kind = WP_SCHED_DECISION_UNAVAILABLE,
                                                  .request = p->request_id});
    wp__gw_proxy_fail(p, 503, msg, NULL);
}

/* The prompt the approximate chain hashes: its text, or a token-id prompt's ids as bytes (4
 * a token: a 64-character block is 16 tokens, as the servers' blocks). */
static const char *chain_text(const gw_proxy_t *p, size_t *len)
{
    if (p->api.prompt.len == 0 && p->api.prompt_ids != NULL) {
        *len = p->api.n_prompt_ids * sizeof(int32_t);
        return (const char *)p->api.prompt_ids;
    }
    *len = p->api.prompt.len;
    return p->api.prompt.data;
}

void wp__gw_proxy_sched_request(gw_proxy_t *p, wp_sched_request_t *sr)
{
    size_t len;
    const char *text = chain_text(p, &len);
    size_t need = wp_sched_chain_blocks(p->pool->sched, len);
    if (need > p->hash_cap && !p->dispatched && !p->pf_dispatched) {
        uint64_t *h = realloc(p->hashes, need * sizeof(uint64_t));
        if (h != NULL) {
            p->hashes = h;
            p->hash_cap = need;
        }
    }
    *sr = (wp_sched_request_t){
        .model = p->model,
        .cache_salt = p->api.cache_salt,
        .prompt = text,
        .prompt_len = len,
        .hash_buf = p->hashes,
        .hash_cap = p->hash_cap,
        .kv_hashes = p->kv_hashes,
        .n_kv_hashes = p->n_kv_hashes,
        .kv_block_tokens = (uint32_t)p->gw->cfg.kv_block_size,
        .prompt_tokens = p->n_tokens,
        .session_ep = wp__gw_session_endpoint(p),
        .role = gw_pool_role(p->pool),
        .exclude = p->tried,
    };
}

void wp__gw_proxy_attempt(gw_proxy_t *p)
{
    wp_gateway_t *gw = p->gw;
    p->attempts++;
    wp_sched_request_t sr;
    wp__gw_proxy_sched_request(p, &sr);
    uint64_t t = uv_hrtime();
    wp_err_t err;
    wp_status_t st = wp_sched_pick(p->pool->sched, wp__gw_now(gw), &sr, &gw->rng, &p->pick, &err);
    if (st != WP_OK && wp__gw_workers_sync(gw)) /* another worker's completion may make room */
        st = wp_sched_pick(p->pool->sched, wp__gw_now(gw), &sr, &gw->rng, &p->pick, &err);
    wp_stats_hist_observe(&gw->tally.decision_s, (double)(uv_hrtime() - t) / 1e9);
    if (st != WP_OK) {
        if (p->attempts > 1) {
            wp__gw_proxy_fail(p, p->fail_status, p->fail_why, NULL);
            return;
        }
        wp__gw_flow_no_room(p); /* wait for room, shed, or 503 */
        return;
    }
    p->ep = &p->pool->eps[p->pick.endpoint];
    p->tried[p->pick.endpoint / 64] |= 1ULL << (p->pick.endpoint % 64);
    p->dispatched = true;
    p->prefilling = true;
    wp_stats_hist_observe(&gw->tally.prefix_ratio, p->pick.prefix_ratio);
    static const wp_http_call_cbs_t cbs = {on_up_head, on_up_body, on_up_done};
    p->call = wp__gw_proxy_send(p, p->ep, &p->pick, sr.role, p->attempts,
                                p->send_body.len ? &p->send_body : &p->req->body, &cbs);
    if (p->call == NULL)
        attempt_failed(
            p, wp_sched_retry_decide(WP_SCHED_RETRY_TRANSPORT, p->attempts, gw->cfg.retries, false),
            "out of memory starting the upstream call");
}

static wp_status_t forward_headers(gw_proxy_t *p, bool want_rank);

/* The headers of a call to ep: fwd_headers (its first fwd_base bytes), then for a
 * data-parallel rank "X-data-parallel-rank: <rank>" (which rank serves the request is the
 * gateway's decision), else the client's own X-data-parallel-rank if it sent one, passed on
 * as it is. Written at the end of fwd_headers in place of the previous call's; NULL when
 * they do not fit. */
static const char *headers_for(gw_proxy_t *p, const gw_endpoint_t *ep)
{
    wp_buf_t *h = &p->fwd_headers;
    if (h->data == NULL || p->fwd_base > h->len)
        return NULL;
    h->len = p->fwd_base;
    h->data[h->len] = '\0';
    if (!ep->cfg.has_dp_rank)
        return forward_headers(p, true) == WP_OK ? h->data : NULL;
    if (wp_buf_printf(h, "X-data-parallel-rank: %d\r\n", ep->cfg.dp_rank) != WP_OK)
        return NULL;
    return h->data;
}

wp_http_call_t *wp__gw_proxy_send(gw_proxy_t *p, gw_endpoint_t *ep, const wp_sched_pick_t *pick,
                                  wp_sched_role_t role, int attempt, const wp_buf_t *body,
                                  const wp_http_call_cbs_t *cbs)
{
    wp_gateway_t *gw = p->gw;
    wp__gw_decision(gw, &(wp_sched_decision_t){.kind = WP_SCHED_DECISION_PICK,
                                               .request = p->request_id,
                                               .endpoint = ep->cfg.name,
                                               .pick = pick,
                                               .role = role,
                                               .attempt = attempt});
    wp__gw_ep_sent(gw, p->pool, ep, pick);
    wp__gw_count_pick(gw, ep);
    char path[300];
    snprintf(path, sizeof(path), "%s%.*s", ep->cfg.base_path, (int)p->req->url.len,
             p->req->url.data);
    const char *headers = headers_for(p, ep);
    if (headers == NULL)
        return NULL;
    /* A streamed answer's head and a prefill's answer come with the first token. */
    uint64_t first_ms = p->api.stream || role == WP_SCHED_ROLE_PREFILL ? gw->cfg.first_token_ms : 0;
    return wp_http_call_start_timed(wp__gw_ep_upstream(ep), "POST", path, headers, body->data,
                                    body->len, first_ms, cbs, p);
}

void wp__gw_proxy_move_to_current(gw_proxy_t *p)
{
    if (p->pool == p->gw->pool)
        return;
    wp__gw_pool_unref(p->pool);
    p->pool = p->gw->pool;
    wp__gw_pool_ref(p->pool);
    p->pf_ep = NULL; /* an endpoint of the old generation: its stage is over */
    memset(p->tried, 0, sizeof(p->tried));
}

static bool hop_by_hop(wp_str_t name)
{
    static const char *const skip[] = {"connection",
                                       "keep-alive",
                                       "transfer-encoding",
                                       "te",
                                       "upgrade",
                                       "proxy-connection",
                                       "proxy-authorization",
                                       "host",
                                       "content-length",
                                       "x-request-id",
                                       "trailer",
                                       "expect"};
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++) {
        if (wp_str_case_eq_cstr(name, skip[i]))
            return true;
    }
    return false;
}

/* Appends the client's headers to fwd_headers: want_rank false, all but the hop-by-hop
 * ones, those the gateway sets and X-data-parallel-rank; true, its X-data-parallel-rank
 * ones. WP_ELIMIT when they do not fit. */
static wp_status_t forward_headers(gw_proxy_t *p, bool want_rank)
{
    const wp_http_headers_t *hs = &p->req->headers;
    wp_status_t st = WP_OK;
    for (int i = 0; i < hs->n && st == WP_OK; i++) {
        wp_str_t n = wp_http_headers_name(hs, i), v = wp_http_headers_value(hs, i);
        bool rank = wp_str_case_eq_cstr(n, "x-data-parallel-rank");
        if (rank != want_rank || (!rank && hop_by_hop(n)))
            continue;
        st = wp_buf_reserve(&p->fwd_headers, n.n + v.n + 4);
        if (st == WP_OK) { /* there is room: the four appends take it */
            wp_buf_append(&p->fwd_headers, n.p, n.n);
            wp_buf_append(&p->fwd_headers, ": ", 2);
            wp_buf_append(&p->fwd_headers, v.p, v.n);
            wp_buf_append(&p->fwd_headers, "\r\n", 2);
        }
    }
    return st;
}

/* fwd_headers: the client's headers less the hop-by-hop ones and X-data-parallel-rank, then
 * X-Request-Id (fwd_base bytes); each call adds its endpoint's part (headers_for). */
static void build_forward_headers(gw_proxy_t *p)
{
    wp_buf_init(&p->fwd_headers, 64 * 1024);
    forward_headers(p, false);
    wp_buf_cat(&p->fwd_headers, "X-Request-Id: ", p->request_id, "\r\n", NULL);
    p->fwd_base = p->fwd_headers.len;
}

static void set_request_id(gw_proxy_t *p)
{
    wp_str_t id = wp_http_headers_get(&p->req->headers, "X-Request-Id");
    bool ok = id.p != NULL && id.n > 0 && id.n < sizeof(p->request_id);
    for (size_t i = 0; ok && i < id.n; i++)
        ok = id.p[i] > 0x20 && id.p[i] < 0x7f;
    if (ok) {
        memcpy(p->request_id, id.p, id.n);
        p->request_id[id.n] = '\0';
        return;
    }
    /* Unique across restarts: the start time, mixed, plus a counter. */
    uint64_t r = wp_hash_mix(p->gw->id_base + ++p->gw->next_id);
    char d[16];
    size_t k = wp_str_put_hex(d, r);
    memcpy(p->request_id, "wp-0000000000000000", 20); /* 16 digits, zero-padded */
    memcpy(p->request_id + 19 - k, d, k);
}

void wp__gw_proxy_start(wp_gateway_t *gw, wp_http_req_t *req, wp_api_kind_t kind)
{
    gw_proxy_t *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        wp_http_res_error(req, 503, "out of memory", NULL);
        return;
    }
    p->gw = gw;
    p->pool = gw->pool;
    wp__gw_pool_ref(p->pool);
    p->req = req;
    p->t0_ns = req->start_ns;
    wp_buf_init(&p->pf_answer, 1u << 20);
    wp_buf_init(&p->send_body, 0);
    p->pf_cached = -1;
    p->prompt_tokens = p->completion_tokens = -1;
    req->user = p;
    req->on_abort = on_abort;
    gw->tally.in_flight++;
    gw->tally.accepted[gw->worker]++;
    set_request_id(p);
    wp_buf_init(&p->fwd_headers, 64 * 1024);
    wp_api_error_t e;
    if (wp_api_request_parse(kind, req->body.data, req->body.len, &p->api, &e) != WP_OK) {
        wp__gw_proxy_fail(p, e.status, e.err.msg, e.param);
        return;
    }
    if (!wp__gw_wake_hold(p))
        wp__gw_proxy_continue(p);
}

void wp__gw_proxy_continue(gw_proxy_t *p)
{
    wp_gateway_t *gw = p->gw;
    p->model = p->api.model ? p->api.model : (gw->n_models > 0 ? gw->models[0] : NULL);
    if (p->model == NULL) {
        wp__gw_proxy_fail(p, 503, "no endpoint is ready: the served models are not known yet",
                          "model");
        return;
    }
    if (gw->cfg.log_prompts) /* the prompt is a view into the body, gone with the answer */
        p->logged_prompt = strndup(p->api.prompt.data ? p->api.prompt.data : "",
                                   p->api.prompt.len < 4096 ? p->api.prompt.len : 4096);
    if (gw->n_models > 0 && !wp__gw_model_known(gw, p->model)) {
        char msg[300];
        snprintf(msg, sizeof(msg), "The model `%.200s` does not exist.", p->model);
        wp__gw_proxy_fail(p, 404, msg, "model");
        return;
    }
    /* Counted only for a decision that reads it (prefill work, the P/D decider); otherwise
     * the scheduler estimates it from the length: a tenth of an 8 KB request's CPU saved. */
    if (p->pool->has_prefill || wp_sched_reads_prompt_tokens(p->pool->sched))
        p->n_tokens = wp_tok_count(p->api.prompt.data ? p->api.prompt.data : "", p->api.prompt.len);
    wp__gw_prompt_hash(p);
    if (!wp__gw_flow_priority(p)) {
        wp__gw_proxy_fail(p, 400, "X-Wellpath-Priority: expected an integer", "priority");
        return;
    }
    wp_buf_free(&p->fwd_headers);
    build_forward_headers(p);
    if (wp__gw_flow_admit(p))
        wp__gw_proxy_dispatch(p);
}

void wp__gw_proxy_dispatch(gw_proxy_t *p)
{
    if (!p->pd_started) {
        p->pd_started = true;
        if (wp__gw_pd_begin(p))
            return;
    }
    wp__gw_proxy_attempt(p);
}
