/*
 * sim/serve: completions on a simulated replica, and the engine's step loop.
 *
 * The step loop is a group's (engine/group.h; a plain replica is a group of one) and keeps
 * a simulated clock (vnow). When any rank has work, one step of every rank is planned at
 * vnow, vnow advances by the group's step duration, and a timer fires when the
 * wall clock reaches vnow × time_scale; then the step's tokens are delivered and the
 * next step is planned. Tying the timer to the absolute target (not to each step's
 * delay) keeps the pace right even though libuv timers have millisecond resolution.
 *
 * A request whose client goes away is aborted in the engine at once; its record waits
 * on the replica's `dead` list until the running step's events (which may name it)
 * have been delivered.
 *
 * P/D: a remote prefill (do_remote_decode) runs with max_tokens 1 and hold, non-streamed,
 * and its answer carries kv_transfer_params (kv.c keeps its blocks for a pull); a remote
 * decode (do_remote_prefill) is handed to pull.c, which enqueues it once the KV arrived.
 */
#include "sim/internal.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/hash.h"
#include "base/log.h"
#include "tok/tok.h"

double wp__sim_real_seconds(const wp_sim_t *sim)
{
    return (double)(uv_hrtime() - sim->t0_ns) / 1e9 / sim->cfg.time_scale;
}

void wp__sim_req_free(sim_req_t *q)
{
    if (q->live_prev != NULL)
        q->live_prev->live_next = q->live_next;
    else if (q->r->live == q)
        q->r->live = q->live_next;
    if (q->live_next != NULL)
        q->live_next->live_prev = q->live_prev;
    wp_buf_free(&q->text);
    free(q->cache_salt);
    free(q->ids);
    free(q);
}

/* Drops q from the engine; its record is freed now or, while a step's events are going
 * out (they may still name it), after them. */
static void forget(sim_req_t *q)
{
    sim_replica_t *r = q->r;
    q->aborted = true;
    wp_engine_abort(r->engine, q->id);
    if (r->group->timer_armed) {
        q->next_dead = r->dead;
        r->dead = q;
    } else {
        wp__sim_req_free(q);
        wp__sim_plan_step(r->group); /* its blocks are free: a blocked request may run */
    }
}

static void on_abort(wp_http_req_t *http)
{
    sim_req_t *q = http->user;
    q->aborted = true;
    wp_http_res_end(http);
    if (q->pull != NULL)
        return; /* the pull frees the record when it ends */
    forget(q);
}

/* The injected disconnect: the connection closes with the answer unfinished. */
static void cut(sim_req_t *q)
{
    wp_log(WP_LOG_DEBUG, "fault: disconnect", "replica=%d request=%llu tokens=%d", q->r->index,
           (unsigned long long)q->id, q->out_tokens);
    q->http->on_abort = NULL;
    wp_http_res_abort(q->http);
    forget(q);
}

void wp__sim_cut_live(sim_replica_t *r)
{
    for (sim_req_t *q = r->live, *next; q != NULL; q = next) {
        next = q->live_next;
        if (q->aborted)
            continue; /* parked on `dead` or ending in its pull */
        q->http->on_abort = NULL;
        wp_http_res_abort(q->http);
        if (q->pull != NULL)
            q->aborted = true; /* the pull frees the record when it closes */
        else
            forget(q);
    }
}

/* ---- writing answers ---- */

static wp_api_resp_t resp_of(const sim_req_t *q, const char *finish)
{
    return (wp_api_resp_t){.kind = q->kind,
                           .id = q->resp_id,
                           .model = q->r->sim->model->hf_id,
                           .created = q->created,
                           .finish_reason = finish};
}

static wp_api_usage_t usage_of(const sim_req_t *q)
{
    return (wp_api_usage_t){q->prompt_tokens, q->out_tokens, q->cached_tokens};
}

static void deliver_token(sim_req_t *q, int32_t index)
{
    if (index == q->disconnect_after) {
        cut(q);
        return;
    }
    char word[64];
    size_t n = wp_tok_filler(q->id ^ q->r->sim->cfg.seed, (uint64_t)index, word, sizeof(word));
    q->out_tokens = index + 1;
    if (!q->stream) {
        wp_buf_append(&q->text, word, n);
        return;
    }
    wp_buf_t b;
    wp_buf_init(&b, 0);
    bool last = index + 1 == q->max_tokens;
    if (index == 0 && q->kind == WP_API_CHAT) {
        wp_api_resp_t role = resp_of(q, NULL);
        wp_api_write_chunk(&b, &role, "", 0, true);
    }
    wp_api_resp_t r = resp_of(q, last ? "length" : NULL);
    wp_api_write_chunk(&b, &r, word, n, false);
    wp_http_res_write(q->http, b.data, b.len);
    wp_buf_free(&b);
}

static void deliver_finish(sim_req_t *q, const char *reason)
{
    wp_buf_t b;
    wp_buf_init(&b, 0);
    wp_api_usage_t u = usage_of(q);
    if (q->stream) {
        if (q->include_usage) {
            wp_api_resp_t r = resp_of(q, NULL);
            wp_api_write_usage_chunk(&b, &r, &u);
        }
        wp_api_write_done(&b);
        wp_http_res_write(q->http, b.data, b.len);
        wp_http_res_end(q->http);
    } else {
        wp_api_resp_t r = resp_of(q, reason);
        cJSON *kv = NULL;
        if (q->hold) {
            kv = wp__sim_kv_params(q->r, q->id);
            wp__sim_kv_hold(q->r, q->id, q->prompt_tokens);
        }
        r.kv_transfer_params = kv;
        wp_api_write_response(&b, &r, q->text.data ? q->text.data : "", q->text.len, &u);
        cJSON_Delete(kv);
        wp_http_res_send(q->http, 200, "application/json", b.data, b.len, q->headers);
    }
    wp_buf_free(&b);
}

static void record_finish(sim_replica_t *r, sim_req_t *q, double now)
{
    wp_stats_hist_observe(&r->e2e, now - q->arrival);
    wp_stats_hist_observe(&r->queue, q->first_scheduled - q->arrival);
    wp_stats_hist_observe(&r->prefill, q->first_token - q->first_scheduled);
    wp_stats_hist_observe(&r->decode, now - q->first_token);
    r->success++;
}

static void deliver_event(sim_replica_t *r, const wp_engine_event_t *ev, double now)
{
    sim_req_t *q = ev->user;
    if (q->aborted)
        return;
    switch (ev->type) {
    case WP_ENGINE_EV_FIRST_TOKEN:
        q->cached_tokens = ev->cached_tokens;
        q->first_scheduled = ev->first_scheduled;
        q->first_token = now;
        wp_stats_hist_observe(&r->ttft, now - q->arrival);
        deliver_token(q, ev->token_index);
        break;
    case WP_ENGINE_EV_TOKEN:
        wp_stats_hist_observe(&r->itl, now - q->last_token);
        deliver_token(q, ev->token_index);
        break;
    case WP_ENGINE_EV_FINISHED:
        if (q->disconnect_after >= 0) { /* shorter than `after`: cut before the end */
            if (q->hold)
                wp_engine_release(r->engine, q->id);
            cut(q);
            return;
        }
        record_finish(r, q, now);
        deliver_finish(q, wp_engine_finish_str(ev->finish));
        wp__sim_req_free(q);
        return;
    }
    q->last_token = now;
}

/* ---- the step loop ---- */

static void on_step_done(uv_timer_t *t)
{
    sim_group_t *g = t->data;
    /* timer_armed stays set while the events go out: ending a response may run the
     * next pipelined request (whose plan must not overwrite g->step now), and an abort
     * must park its record on `dead`, since later events may still name it. */
    for (int k = 0; k < g->step.n_ranks; k++) /* before the tokens: they may free requests */
        wp__sim_kvev_publish(&g->ranks[k], &g->step.ranks[k]);
    for (int k = 0; k < g->step.n_ranks; k++) {
        const wp_engine_step_t *st = &g->step.ranks[k];
        for (size_t i = 0; i < st->n_events; i++)
            deliver_event(&g->ranks[k], &st->events[i], g->vnow);
    }
    for (int k = 0; k < g->n_ranks; k++) {
        sim_replica_t *r = &g->ranks[k];
        while (r->dead != NULL) {
            sim_req_t *d = r->dead;
            r->dead = d->next_dead;
            wp__sim_req_free(d);
        }
    }
    g->timer_armed = false;
    wp__sim_plan_step(g);
}

void wp__sim_plan_step(sim_group_t *g)
{
    if (g->timer_armed || g->ranks[0].closing || !wp_group_busy(g->core) || wp__sim_asleep(g))
        return;
    wp_sim_t *sim = g->sim;
    double real = wp__sim_real_seconds(sim);
    if (g->vnow < real)
        g->vnow = real;
    if (wp_group_step(g->core, g->vnow, &g->step) != WP_OK || g->step.n_scheduled == 0)
        return; /* blocked on held KV: planned again when blocks are freed */
    for (int k = 0; k < g->n_ranks; k++)
        g->ranks[k].steps++;
    g->vnow += g->step.duration_s;
    double wait_s = (g->vnow - wp__sim_real_seconds(sim)) * sim->cfg.time_scale;
    uint64_t ms = wait_s > 0 ? (uint64_t)ceil(wait_s * 1000.0) : 0;
    g->timer_armed = true;
    uv_timer_start(&g->timer, on_step_done, ms, 0);
}

/* ---- requests ---- */

static void reject(wp_http_req_t *req, int status, const char *msg, const char *param)
{
    wp_http_res_error(req, status, msg, param);
}

/* Tokens of the request's prompt: given ids, or the text tokenized, by the model's own
 * tokenizer when the sim has one (tok/model.h: vLLM's BOS and chat-template rules), else by
 * the fake one (the chat messages as wp_api_render_chat renders them). Caller frees. NULL
 * with *status (503: out of memory; 400: the prompt cannot be tokenized, e.g. a chat request
 * to a tokenizer without a supported chat template) and err. */
static int32_t *prompt_tokens(wp_sim_t *sim, wp_api_request_t *api, size_t *n, int *status,
                              wp_err_t *err)
{
    *status = 503;
    wp_err_set(err, WP_ENOMEM, "out of memory");
    if (sim->tok != NULL) {
        int32_t *ids = NULL;
        wp_status_t st = wp_tokmodel_encode_request(sim->tok, sim->tok_cache, api, &ids, n, err);
        if (st == WP_OK && ids == NULL)
            ids = malloc(sizeof(int32_t)); /* no ids: still a non-NULL answer */
        if (st != WP_OK)
            *status = st == WP_ENOMEM ? 503 : 400;
        return ids;
    }
    if (api->prompt_ids != NULL) {
        int32_t *ids = malloc(api->n_prompt_ids * sizeof(int32_t));
        if (ids != NULL)
            memcpy(ids, api->prompt_ids, api->n_prompt_ids * sizeof(int32_t));
        *n = api->n_prompt_ids;
        return ids;
    }
    size_t cap = api->prompt.len / 2 + 16;
    int32_t *ids = malloc(cap * sizeof(int32_t));
    if (ids == NULL)
        return NULL;
    *n = wp_tok_encode(api->prompt.data ? api->prompt.data : "", api->prompt.len,
                       (uint32_t)sim->model->vocab, ids, cap);
    if (*n > cap) { /* cannot happen at >= 2 bytes a token, but stay safe */
        free(ids);
        ids = malloc(*n * sizeof(int32_t));
        if (ids != NULL)
            wp_tok_encode(api->prompt.data, api->prompt.len, (uint32_t)sim->model->vocab, ids, *n);
    }
    return ids;
}

/* 400 with vLLM's words for a request past max_model_len (its input alone, or input and
 * max_tokens together); the context-length fault answers the same. */
static void reject_context_length(sim_replica_t *r, wp_http_req_t *req, size_t n_tokens,
                                  int64_t max_tokens)
{
    long long limit = r->sim->ecfg.max_model_len, n = (long long)n_tokens, m = max_tokens;
    char msg[512];
    if (n >= limit) {
        snprintf(msg, sizeof(msg),
                 "This model's maximum context length is %lld tokens. However, your request has "
                 "%lld input tokens. Please reduce the length of the input messages.",
                 limit, n);
        reject(req, 400, msg, "input_tokens");
        return;
    }
    snprintf(msg, sizeof(msg),
             "This model's maximum context length is %lld tokens. However, you requested %lld "
             "output tokens and your prompt contains %lld input tokens, for a total of %lld "
             "tokens (%lld + %lld = %lld > %lld). Please reduce the length of the input prompt "
             "or the number of requested output tokens.",
             limit, m, n, n + m, n, m, n + m, limit);
    reject(req, 400, msg, "max_tokens");
}

static bool check_request(sim_replica_t *r, wp_http_req_t *req, const wp_api_request_t *api,
                          size_t n_tokens, int64_t max_tokens)
{
    wp_sim_t *sim = r->sim;
    char msg[512];
    if (api->model != NULL && !wp__sim_serves(sim, api->model)) {
        snprintf(msg, sizeof(msg), "The model `%.200s` does not exist.", api->model);
        reject(req, 404, msg, "model");
        return false;
    }
    if (api->n != 1) {
        reject(req, 400, "the simulator answers n=1 only", "n");
        return false;
    }
    if (n_tokens == 0) {
        reject(req, 400, "the prompt is empty", api->kind == WP_API_CHAT ? "messages" : "prompt");
        return false;
    }
    if ((int64_t)n_tokens + max_tokens > sim->ecfg.max_model_len) {
        reject_context_length(r, req, n_tokens, max_tokens);
        return false;
    }
    return true;
}

/* Whether kv_transfer_params holds `name`: true. */
static bool kv_flag(wp_api_request_t *api, const char *name)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(wp_api_request_kv_params(api), name));
}

static sim_req_t *req_new(sim_replica_t *r, wp_http_req_t *req, const wp_api_request_t *api)
{
    sim_req_t *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return NULL;
    q->r = r;
    q->http = req;
    q->kind = api->kind;
    q->stream = api->stream;
    q->include_usage = api->include_usage;
    q->disconnect_after = -1;
    q->id = ((uint64_t)r->index << 48) | ++r->next_id;
    snprintf(q->resp_id, sizeof(q->resp_id), "%s-%016llx",
             api->kind == WP_API_CHAT ? "chatcmpl" : "cmpl",
             (unsigned long long)wp_hash_mix(q->id ^ r->sim->t0_ns));
    q->created = (int64_t)time(NULL);
    q->salt = api->cache_salt ? wp_hash64(api->cache_salt, strlen(api->cache_salt), 0) : 0;
    if (r->sim->kvev && api->cache_salt && api->cache_salt[0])
        q->cache_salt = strdup(api->cache_salt); /* no memory: hashed without it */
    q->priority = (int32_t)api->priority;
    wp_str_t xid = wp_http_headers_get(&req->headers, "X-Request-Id");
    bool clean = xid.n > 0 && xid.n <= 128;
    for (size_t i = 0; clean && i < xid.n; i++)
        clean = xid.p[i] >= 0x20 && xid.p[i] < 0x7f;
    if (clean)
        snprintf(q->headers, sizeof(q->headers), "X-Request-Id: %.*s\r\n", (int)xid.n, xid.p);
    q->arrival = wp__sim_real_seconds(r->sim);
    if (r->group->vnow > q->arrival && !r->group->timer_armed)
        q->arrival = r->group->vnow;
    wp_buf_init(&q->text, 0);
    q->live_next = r->live;
    if (r->live != NULL)
        r->live->live_prev = q;
    r->live = q;
    return q;
}

void wp__sim_serve_completion(sim_replica_t *r, wp_http_req_t *req, wp_api_kind_t kind,
                              const wp_fault_decision_t *d)
{
    wp_sim_t *sim = r->sim;
    wp_api_request_t api;
    wp_api_error_t e;
    if (wp_api_request_parse(kind, req->body.data, req->body.len, &api, &e) != WP_OK) {
        reject(req, e.status, e.err.msg, e.param);
        wp_api_request_free(&api);
        return;
    }
    size_t n = 0;
    int status;
    wp_err_t terr;
    int32_t *ids = prompt_tokens(sim, &api, &n, &status, &terr);
    int64_t max_tokens = api.max_tokens > 0 ? api.max_tokens : sim->cfg.default_max_tokens;
    sim_req_t *q = NULL;
    if (ids == NULL)
        reject(req, status, terr.msg,
               status == 400 ? (kind == WP_API_CHAT ? "messages" : "prompt") : NULL);
    else {
        wp_sim_role_t role = sim->cfg.role;
        bool remote_decode = role != WP_SIM_ROLE_DECODE && kv_flag(&api, "do_remote_decode");
        bool remote_prefill = role != WP_SIM_ROLE_PREFILL && kv_flag(&api, "do_remote_prefill");
        if (remote_decode)
            max_tokens = 1;
        if (d->status == 400)
            reject_context_length(r, req, n, max_tokens);
        else if (check_request(r, req, &api, n, max_tokens) &&
                 (q = req_new(r, req, &api)) != NULL) {
            q->disconnect_after = d->disconnect_after;
            q->prompt_tokens = (int32_t)n;
            q->max_tokens = (int32_t)max_tokens;
            q->hold = remote_decode;
            q->stream = q->stream && !remote_decode;
            req->user = q;
            req->on_abort = on_abort;
            if (remote_prefill && !remote_decode)
                wp__sim_pull_start(q, wp_api_request_kv_params(&api), ids, n);
            else
                wp__sim_enqueue(q, ids, n, false);
        }
    }
    free(ids);
    wp_api_request_free(&api);
}

void wp__sim_fail(sim_req_t *q, int status, const char *msg)
{
    wp_buf_t b;
    wp_buf_init(&b, 0);
    wp_api_write_error(&b, status, msg, NULL);
    q->http->on_abort = NULL;
    wp_http_res_send(q->http, status, "application/json", b.data, b.len, q->headers);
    wp_buf_free(&b);
    wp__sim_req_free(q);
}

void wp__sim_enqueue(sim_req_t *q, const int32_t *ids, size_t n, bool kv_ready)
{
    sim_replica_t *r = q->r;
    uint64_t *hashes = wp__sim_kvev_hashes(q, ids, n);
    if (r->sim->kvev && q->ids == NULL &&
        (q->ids = malloc((n ? n : 1) * sizeof(int32_t))) != NULL) {
        memcpy(q->ids, ids, n * sizeof(int32_t));
        q->n_ids = n;
    }
    wp_engine_req_t in = {.id = q->id,
                          .tokens = ids,
                          .n_tokens = (int32_t)n,
                          .max_tokens = q->max_tokens,
                          .salt = q->salt,
                          .priority = q->priority,
                          .arrival = q->arrival,
                          .hold = q->hold,
                          .kv_ready = kv_ready,
                          .block_hashes = hashes,
                          .user = q};
    wp_err_t err;
    wp_status_t added = wp_engine_add(r->engine, &in, &err);
    free(hashes);
    if (added != WP_OK) {
        wp__sim_fail(q, 400, err.msg);
        return;
    }
    if (q->stream) {
        char head[224];
        snprintf(head, sizeof(head), "Cache-Control: no-cache\r\n%s", q->headers);
        wp_http_res_head(q->http, 200, "text/event-stream; charset=utf-8", -1, head);
    }
    wp__sim_plan_step(r->group);
}

void wp__sim_serve_tokenize(sim_replica_t *r, wp_http_req_t *req)
{
    wp_api_request_t api;
    wp_api_error_t e;
    bool chat = req->body.data != NULL && strstr(req->body.data, "\"messages\"") != NULL;
    if (wp_api_request_parse(chat ? WP_API_CHAT : WP_API_COMPLETIONS, req->body.data, req->body.len,
                             &api, &e) != WP_OK) {
        reject(req, e.status, e.err.msg, e.param);
        wp_api_request_free(&api);
        return;
    }
    size_t n = 0;
    int status;
    wp_err_t terr;
    int32_t *ids = prompt_tokens(r->sim, &api, &n, &status, &terr);
    if (ids == NULL) {
        reject(req, status, terr.msg, NULL);
        wp_api_request_free(&api);
        return;
    }
    wp_buf_t b;
    wp_buf_init(&b, 0);
    wp_buf_printf(&b, "{\"count\":%zu,\"max_model_len\":%d,\"tokens\":[", ids ? n : 0,
                  r->sim->ecfg.max_model_len);
    for (size_t i = 0; ids != NULL && i < n; i++)
        wp_buf_printf(&b, "%s%d", i ? "," : "", ids[i]);
    wp_buf_puts(&b, "],\"token_strs\":null}");
    wp_http_res_send(req, 200, "application/json", b.data, b.len, NULL);
    wp_buf_free(&b);
    free(ids);
    wp_api_request_free(&api);
}
