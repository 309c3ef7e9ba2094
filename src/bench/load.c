/*
 * bench/load: see load.h.
 *
 * When to send is workload/arrivals' decision (the same pacer des/ runs in virtual time);
 * this file wires it to real time. The item pulled ahead is offered to the pacer, which
 * gives its send time or holds it until its stage drains; one timer fires at the send time
 * (up to 0.5 ms early: the timer counts whole ms), then the pacer sends it or puts it in
 * line for a slot. An ending request tells the pacer, which may hand the item back: its
 * phase starts (a send time), or it takes the freed slot (send now). When the caller wants
 * a pause after the warm-up, the last warm-up request's end is told to the pacer only when
 * the caller resumes, so the measured run starts then. Each request parses
 * its answer with the SSE parser as bytes arrive and reads each event's JSON for content
 * and usage; the time of each content chunk gives TTFT and the inter-token gaps.
 */
#include "bench/load.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/sse.h"
#include "base/buf.h"
#include "http/client.h"
#include "stats/stats.h"
#include "workload/arrivals.h"

#define MAX_EVENT (1u << 20)

typedef struct breq_s breq_t;

/* Where the item pulled ahead stands with the pacer. */
typedef enum { PACE_HELD, PACE_TIMED, PACE_LINE, PACE_GO } pace_t;

struct wp_bench_load_s {
    uv_loop_t *loop;
    wp_bench_load_config_t cfg;
    wp_http_upstream_t *ups[WP_BENCH_MAX_PORTS]; /* the port, then more_ports: in turn */
    int n_ups;
    wp_bench_source_fn source;
    wp_bench_sink_fn sink;
    wp_bench_done_fn done;
    void *ud;
    uv_timer_t timer, progress;
    uint64_t t0_ns;
    /* the next item, pulled ahead: held, to send at next_at, in line for a slot, or to
     * send now */
    bool have_next, source_done, stopping, finished;
    wp_bench_item_t next;
    wp_buf_t next_body;
    pace_t pace;
    double next_at;
    wp_workload_pacer_t pacer;
    bool paused;  /* after the warm-up, until wp_bench_load_resume */
    breq_t *live; /* doubly linked, for stop */
    int in_flight, warmups_in_flight;
    uint64_t started, ended, failed;
    int stage; /* of the last request sent (the progress line) */
    wp_stats_samples_t ttft_recent;
    char fatal[640];
    int handles;
};

struct breq_s {
    wp_bench_load_t *l;
    breq_t *prev, *next;
    wp_http_call_t *call;
    wp_api_sse_t sse;
    int stage, status;
    bool warmup, is_sse, done_event, usage_seen;
    double start_s, first_s, last_s;
    double *itl;
    size_t n_itl, cap_itl;
    int prompt_tokens, output_tokens, cached_tokens, chunks;
    wp_report_outcome_t fail;
    char error[640];
    wp_buf_t body; /* a non-SSE answer, for the error message */
    wp_buf_t sent; /* the request body, which the call borrows until it ends */
};

static double now_s(const wp_bench_load_t *l)
{
    return (double)(uv_hrtime() - l->t0_ns) / 1e9;
}

static void pump(wp_bench_load_t *l);

/* ---- one request ---- */

static void breq_fail(breq_t *q, wp_report_outcome_t kind, const char *fmt, const char *detail)
{
    if (q->fail != WP_REPORT_OK)
        return;
    q->fail = kind;
    snprintf(q->error, sizeof(q->error), fmt, detail);
}

static void finish_run_if_done(wp_bench_load_t *l)
{
    if (l->finished || l->in_flight > 0 || !(l->source_done || l->stopping))
        return;
    l->finished = true;
    uv_timer_stop(&l->timer);
    uv_timer_stop(&l->progress);
    if (l->cfg.progress)
        fprintf(stderr, "\n");
    wp_status_t st = l->fatal[0] ? WP_EINVAL : l->stopping ? WP_EAGAIN : WP_OK;
    l->done(l->ud, st, l->fatal[0] ? l->fatal : l->stopping ? "interrupted" : NULL);
}

/* A request ended at `end`: the item pulled ahead may be handed back (its phase starts). */
static void tell_ended(wp_bench_load_t *l, double end)
{
    void *ud;
    double at;
    if (wp_workload_pacer_ended(&l->pacer, end, &ud, &at)) {
        l->pace = PACE_TIMED;
        l->next_at = at;
    }
}

/* q, ending, is the last warm-up request and the caller wants the run paused after it:
 * every warm-up was sent (the item pulled ahead is the first measured one, held) and
 * none is left in flight. */
static bool last_warmup(const wp_bench_load_t *l, const breq_t *q)
{
    return l->cfg.warmup_done != NULL && q->warmup && l->warmups_in_flight == 0 && l->have_next &&
           !l->next.warmup && l->pace == PACE_HELD && !l->stopping;
}

static void breq_end(breq_t *q)
{
    wp_bench_load_t *l = q->l;
    double end = now_s(l);
    if (q->fail == WP_REPORT_OK && q->chunks == 0 && !q->usage_seen)
        breq_fail(q, WP_REPORT_STREAM_ERROR, "%s", "the stream ended without a token");
    wp_bench_result_t r = {
        .r = {.stage = (size_t)q->stage,
              .warmup = q->warmup,
              .outcome = q->fail,
              .start_s = q->start_s,
              .ttft_s = q->chunks > 0 ? q->first_s - q->start_s : NAN,
              .e2e_s = end - q->start_s,
              .prompt_tokens = (uint32_t)q->prompt_tokens,
              .output_tokens = (uint32_t)(q->usage_seen ? q->output_tokens : q->chunks),
              .cached_tokens = (uint32_t)q->cached_tokens,
              .itl_s = q->itl,
              .n_itl = q->n_itl},
        .http_status = q->status,
        .error = q->error,
    };
    l->sink(l->ud, &r);
    if (q->fail != WP_REPORT_OK)
        l->failed++;
    else if (q->chunks > 0)
        wp_stats_samples_add(&l->ttft_recent, r.r.ttft_s);
    if (q->prev)
        q->prev->next = q->next;
    else
        l->live = q->next;
    if (q->next)
        q->next->prev = q->prev;
    l->in_flight--;
    l->ended++;
    l->warmups_in_flight -= q->warmup;
    void *ud;
    bool pause = last_warmup(l, q);
    if (pause)
        l->paused = true; /* the caller's turn: wp_bench_load_resume tells the pacer */
    else
        tell_ended(l, end);
    if (wp_workload_pacer_free_slot(&l->pacer, &ud))
        l->pace = PACE_GO; /* the item pulled ahead takes the slot */
    wp_api_sse_free(&q->sse);
    wp_buf_free(&q->body);
    wp_buf_free(&q->sent);
    free(q->itl);
    free(q);
    if (pause)
        l->cfg.warmup_done(l->ud);
    pump(l);
    finish_run_if_done(l);
}

static void on_token(breq_t *q)
{
    double t = now_s(q->l);
    if (q->chunks == 0) {
        q->first_s = t;
    } else {
        if (wp_stats_append(&q->itl, &q->n_itl, &q->cap_itl, t - q->last_s) != WP_OK)
            return;
    }
    q->last_s = t;
    q->chunks++;
}

static bool has_content(const cJSON *choice)
{
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(choice, "text");
    const cJSON *delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
    const cJSON *content = delta ? cJSON_GetObjectItemCaseSensitive(delta, "content") : NULL;
    return (cJSON_IsString(text) && text->valuestring[0]) ||
           (cJSON_IsString(content) && content->valuestring[0]);
}

static int int_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? (int)v->valuedouble : 0;
}

static void on_event(void *ud, const char *data, size_t len)
{
    breq_t *q = ud;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        q->done_event = true;
        return;
    }
    cJSON *root = cJSON_ParseWithLength(data, len);
    if (root == NULL) {
        breq_fail(q, WP_REPORT_STREAM_ERROR, "malformed SSE event (not JSON): %.120s", data);
        return;
    }
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (error != NULL) {
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(error, "message");
        breq_fail(q, WP_REPORT_STREAM_ERROR, "error event in the stream: %s",
                  cJSON_IsString(msg) ? msg->valuestring : "(no message)");
    }
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    const cJSON *c;
    cJSON_ArrayForEach(c, choices)
    {
        if (has_content(c))
            on_token(q);
    }
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (cJSON_IsObject(usage)) {
        q->usage_seen = true;
        q->prompt_tokens = int_of(usage, "prompt_tokens");
        q->output_tokens = int_of(usage, "completion_tokens");
        q->cached_tokens = int_of(cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details"),
                                  "cached_tokens");
    }
    cJSON_Delete(root);
}

static void on_head(void *ud, int status, const wp_http_headers_t *h)
{
    breq_t *q = ud;
    q->status = status;
    wp_str_t ct = wp_http_headers_get(h, "Content-Type");
    q->is_sse = ct.p != NULL && ct.n >= 17 && memcmp(ct.p, "text/event-stream", 17) == 0;
    if (status >= 400)
        return;
    if (!q->is_sse) {
        breq_fail(q, WP_REPORT_BAD_RESPONSE, "%s",
                  "the target answered a streaming request without an event stream (does it ignore "
                  "\"stream\": true?)");
        snprintf(q->l->fatal, sizeof(q->l->fatal), "%s", q->error);
    }
}

static void on_body(void *ud, const char *data, size_t len)
{
    breq_t *q = ud;
    if (!q->is_sse || q->status >= 400) {
        wp_buf_append(&q->body, data, len);
        return;
    }
    wp_err_t err;
    if (q->fail == WP_REPORT_OK && wp_api_sse_feed(&q->sse, data, len, &err) != WP_OK)
        breq_fail(q, WP_REPORT_STREAM_ERROR, "%s", err.msg);
}

static void on_done(void *ud, wp_status_t st, const char *why)
{
    breq_t *q = ud;
    q->call = NULL;
    if (st != WP_OK) {
        bool timeout = st == WP_ETIMEDOUT;
        bool connect = why && strstr(why, "connect");
        breq_fail(q,
                  timeout   ? WP_REPORT_TIMEOUT
                  : connect ? WP_REPORT_CONNECT
                            : WP_REPORT_STREAM_ERROR,
                  "%s", why ? why : "request failed");
    } else if (q->status >= 400) {
        char msg[300];
        snprintf(msg, sizeof(msg), "HTTP %d: %.200s", q->status, q->body.data ? q->body.data : "");
        breq_fail(q, q->status >= 500 ? WP_REPORT_HTTP_5XX : WP_REPORT_HTTP_4XX, "%s", msg);
    } else if (q->is_sse && !q->done_event) {
        breq_fail(q, WP_REPORT_STREAM_ERROR, "%s", "the stream ended before [DONE]");
    }
    breq_end(q);
}

static void send_next(wp_bench_load_t *l)
{
    breq_t *q = calloc(1, sizeof(*q));
    if (q == NULL) { /* the pacer counts it sent: stop rather than ask it again */
        snprintf(l->fatal, sizeof(l->fatal), "%s", "out of memory for a request");
        return;
    }
    q->l = l;
    q->stage = l->next.stage;
    q->warmup = l->next.warmup;
    l->warmups_in_flight += q->warmup;
    q->start_s = now_s(l);
    wp_api_sse_init(&q->sse, MAX_EVENT, on_event, q);
    wp_buf_init(&q->body, 64 * 1024);
    q->next = l->live;
    if (l->live)
        l->live->prev = q;
    l->live = q;
    l->in_flight++;
    l->started++;
    l->stage = q->stage;
    char path[300];
    snprintf(path, sizeof(path), "%s%s", l->cfg.base_path,
             l->cfg.api == WP_API_CHAT ? "/v1/chat/completions" : "/v1/completions");
    static const wp_http_call_cbs_t cbs = {on_head, on_body, on_done};
    q->sent = l->next_body; /* moved, not copied: the next body gets a buffer of its own */
    wp_buf_init(&l->next_body, 0);
    q->call = wp_http_call_start(l->ups[l->started % (uint64_t)l->n_ups], "POST", path,
                                 "Content-Type: application/json\r\n", q->sent.data, q->sent.len,
                                 &cbs, q);
    l->have_next = false;
    if (q->call == NULL) {
        breq_fail(q, WP_REPORT_CONNECT, "%s", "out of memory");
        breq_end(q);
    }
}

/* ---- pulling items and pacing ---- */

static void build_body(wp_bench_load_t *l)
{
    wp_buf_t *b = &l->next_body;
    wp_buf_reset(b);
    wp_buf_puts(b, "{\"model\":\"");
    wp_buf_json_escape(b, l->cfg.model, strlen(l->cfg.model));
    if (l->cfg.api == WP_API_CHAT)
        wp_buf_puts(b, "\",\"messages\":[{\"role\":\"user\",\"content\":\"");
    else
        wp_buf_puts(b, "\",\"prompt\":\"");
    wp_buf_json_escape(b, l->next.prompt, l->next.prompt_len);
    wp_buf_printf(b,
                  "\"%s,\"max_tokens\":%d,\"min_tokens\":%d,\"ignore_eos\":true,\"stream\":true,"
                  "\"stream_options\":{\"include_usage\":true},\"temperature\":0}",
                  l->cfg.api == WP_API_CHAT ? "}]" : "", l->next.max_tokens, l->next.max_tokens);
}

static bool pull(wp_bench_load_t *l)
{
    if (l->have_next)
        return true;
    if (l->source_done || l->stopping)
        return false;
    wp_err_t err;
    wp_status_t st = l->source(l->ud, &l->next, &err);
    if (st != WP_OK) {
        l->source_done = true;
        if (st != WP_ENOTFOUND)
            snprintf(l->fatal, sizeof(l->fatal), "workload: %s", err.msg);
        return false;
    }
    build_body(l);
    l->have_next = true;
    wp_workload_pacer_item_t it = {l->next.arrival_s, (size_t)l->next.stage, l->next.stage_start_s,
                                   l->next.warmup};
    l->pace =
        wp_workload_pacer_offer(&l->pacer, &it, l, now_s(l), &l->next_at) ? PACE_TIMED : PACE_HELD;
    return true;
}

static void on_timer(uv_timer_t *t);

static void pump(wp_bench_load_t *l)
{
    while (!l->stopping && !l->paused && !l->fatal[0] && pull(l)) {
        if (l->pace == PACE_HELD || l->pace == PACE_LINE)
            return; /* an ending request hands it back (breq_end) and pumps again */
        if (l->pace == PACE_TIMED) {
            double wait = l->next_at - now_s(l);
            if (wait > 0.0005) {
                uv_timer_start(&l->timer, on_timer, (uint64_t)ceil(wait * 1000.0), 0);
                return;
            }
            bool send = false;
            if (wp_workload_pacer_due(&l->pacer, l, &send) != WP_OK) {
                snprintf(l->fatal, sizeof(l->fatal), "%s", "out of memory for the client's line");
                break;
            }
            if (!send) {
                l->pace = PACE_LINE;
                return;
            }
        }
        send_next(l);
    }
    if (l->fatal[0] && !l->stopping)
        wp_bench_load_stop(l);
}

static void on_timer(uv_timer_t *t)
{
    pump(t->data);
    finish_run_if_done(t->data);
}

static void on_progress(uv_timer_t *t)
{
    wp_bench_load_t *l = t->data;
    double p50 = wp_stats_samples_count(&l->ttft_recent)
                     ? wp_stats_samples_quantile(&l->ttft_recent, 0.5)
                     : NAN;
    char stage[32];
    if (l->warmups_in_flight > 0 || (l->have_next && l->next.warmup))
        snprintf(stage, sizeof(stage), "warm-up");
    else
        snprintf(stage, sizeof(stage), "stage %d", l->stage + 1);
    fprintf(stderr, "\r%s%s%s  done %llu  in flight %d  failed %llu  TTFT p50 %.0f ms   ",
            l->cfg.label ? l->cfg.label : "", l->cfg.label ? "  " : "", stage,
            (unsigned long long)l->ended, l->in_flight, (unsigned long long)l->failed,
            p50 * 1000.0);
}

wp_bench_load_t *wp_bench_load_start(uv_loop_t *loop, const wp_bench_load_config_t *cfg,
                                     wp_bench_source_fn source, wp_bench_sink_fn sink,
                                     wp_bench_done_fn done, void *ud, wp_err_t *err)
{
    wp_bench_load_t *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        wp_err_set(err, WP_ENOMEM, "out of memory");
        return NULL;
    }
    l->loop = loop;
    l->cfg = *cfg;
    if (l->cfg.concurrency < 1)
        l->cfg.concurrency = 1;
    wp_workload_pacer_config_t pc = {l->cfg.concurrency, l->cfg.max_concurrency, l->cfg.sequential,
                                     l->cfg.interval_s};
    wp_workload_pacer_init(&l->pacer, &pc);
    l->source = source;
    l->sink = sink;
    l->done = done;
    l->ud = ud;
    wp_http_client_config_t cc;
    wp_http_client_config_default(&cc);
    cc.first_byte_ms = (uint64_t)(cfg->timeout_s * 1000.0);
    cc.idle_ms = cc.first_byte_ms;
    cc.max_idle = 4096;
    int n_more =
        cfg->n_more_ports > 0 && cfg->n_more_ports < WP_BENCH_MAX_PORTS ? cfg->n_more_ports : 0;
    for (int i = 0; i <= n_more; i++) {
        int port = i == 0 ? cfg->port : cfg->more_ports[i - 1];
        if ((l->ups[i] = wp_http_upstream_new(loop, cfg->host, port, &cc, err)) == NULL) {
            for (int k = 0; k < i; k++)
                wp_http_upstream_free(l->ups[k]);
            free(l);
            return NULL;
        }
        l->n_ups = i + 1;
    }
    wp_buf_init(&l->next_body, 0);
    wp_stats_samples_init(&l->ttft_recent, 0);
    uv_timer_init(loop, &l->timer);
    uv_timer_init(loop, &l->progress);
    l->timer.data = l;
    l->progress.data = l;
    l->handles = 2;
    l->t0_ns = uv_hrtime();
    if (cfg->progress)
        uv_timer_start(&l->progress, on_progress, 500, 500);
    pump(l);
    finish_run_if_done(l);
    return l;
}

void wp_bench_load_stop(wp_bench_load_t *l)
{
    if (l->stopping)
        return;
    l->stopping = true;
    uv_timer_stop(&l->timer);
    while (l->live != NULL) {
        breq_t *q = l->live;
        if (q->call != NULL)
            wp_http_call_cancel(q->call);
        q->call = NULL;
        breq_fail(q, WP_REPORT_ABORTED, "%s", "the run was interrupted");
        breq_end(q); /* unlinks q */
    }
    finish_run_if_done(l);
}

void wp_bench_load_resume(wp_bench_load_t *l)
{
    if (!l->paused || l->stopping)
        return;
    l->paused = false;
    tell_ended(l, now_s(l)); /* the last warm-up's end, as of now: the measured run starts */
    pump(l);
    finish_run_if_done(l);
}

static void on_closed(uv_handle_t *h)
{
    wp_bench_load_t *l = h->data;
    if (--l->handles == 0)
        free(l);
}

void wp_bench_load_free(wp_bench_load_t *l)
{
    for (int i = 0; i < l->n_ups; i++)
        wp_http_upstream_free(l->ups[i]);
    wp_buf_free(&l->next_body);
    wp_stats_samples_free(&l->ttft_recent);
    wp_workload_pacer_free(&l->pacer);
    uv_close((uv_handle_t *)&l->timer, on_closed);
    uv_close((uv_handle_t *)&l->progress, on_closed);
}
