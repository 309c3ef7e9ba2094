/*
 * sim/sleep: vLLM's sleep mode on a simulated replica (what `vllm serve` offers with
 * --enable-sleep-mode and VLLM_SERVER_DEV_MODE=1):
 *   POST /sleep?level=0|1|2[&mode=...]  level 0 only pauses the scheduler; level 1 also
 *                                      offloads the weights to CPU memory, level 2 discards
 *                                      them; 1 and 2 discard the KV cache. 200, empty.
 *   POST /wake_up[?tags=weights&tags=kv_cache]  answered 200 (empty) once the parts named
 *                                      (all without tags) are back, after the wake-up time
 *                                      of model/sleep.h scaled by the time scale.
 *   GET  /is_sleeping                  {"is_sleeping": true|false}
 * While asleep the scheduler is paused, as vLLM's: completions are accepted and wait in
 * the engine until the wake-up (serve.c plans no step while wp__sim_asleep). /metrics adds
 * vLLM's vllm:engine_sleep_state gauge (awake, weights_offloaded, discard_all).
 *
 * The whole group sleeps (a data-parallel API server sleeps all its engines). Sleeping
 * empties each rank's engine -- its KV cache and prefix cache (wp_group_reset), publishing
 * AllBlocksCleared when KV events are on -- so the simulator puts only an idle group to
 * sleep: with requests in flight /sleep answers 409 (vLLM's mode=abort/wait/keep is not
 * simulated). State: g->sleep, owned by the group, freed when its timer closes.
 */
#include "sim/internal.h"

#include <http_parser.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/str.h"
#include "model/sleep.h"

#define SLEEP_MAX_WAITERS 64

struct sim_sleep_s {
    sim_group_t *g;
    int level;                  /* 0 awake, 1 or 2 */
    bool weights_asleep;        /* the weights are not on the GPUs */
    bool kv_asleep;             /* the KV cache is not allocated */
    bool paused;                /* the scheduler is paused (every level) */
    bool waking;                /* wake_timer runs */
    bool wake_weights, wake_kv; /* what the running wake-up brings back */
    uv_timer_t wake_timer;
    wp_http_req_t *waiters[SLEEP_MAX_WAITERS]; /* /wake_up requests answered when it ends */
    int n_waiters;
    uint64_t sleeps, wakes;
};

bool wp__sim_asleep(const sim_group_t *g)
{
    return g->sleep != NULL &&
           (g->sleep->paused || g->sleep->weights_asleep || g->sleep->kv_asleep);
}

static void on_sleep_closed(uv_handle_t *h)
{
    sim_sleep_t *s = h->data;
    wp_sim_t *sim = s->g->sim;
    s->g->sleep = NULL;
    free(s);
    wp__sim_handle_closed(sim);
}

wp_status_t wp__sim_sleep_init(sim_group_t *g, wp_err_t *err)
{
    sim_sleep_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return wp_err_set(err, WP_ENOMEM, "out of memory");
    s->g = g;
    uv_timer_init(g->sim->loop, &s->wake_timer);
    s->wake_timer.data = s;
    g->sim->open_handles++;
    g->sleep = s;
    return WP_OK;
}

void wp__sim_sleep_close(sim_group_t *g)
{
    if (g->sleep == NULL)
        return;
    uv_timer_stop(&g->sleep->wake_timer);
    uv_close((uv_handle_t *)&g->sleep->wake_timer, on_sleep_closed);
}

/* The value of `key` in the request's query (the first one, or the n-th with skip);
 * false when absent. */
static bool query_get(const wp_http_req_t *req, const char *key, int skip, wp_str_t *out)
{
    const char *q = memchr(req->url.data, '?', req->url.len);
    if (q == NULL)
        return false;
    const char *end = req->url.data + req->url.len;
    size_t klen = strlen(key);
    for (const char *p = q + 1; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if ((size_t)(e - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == '=' && skip-- == 0) {
            *out = (wp_str_t){p + klen + 1, (size_t)(e - p) - klen - 1};
            return true;
        }
        p = e + 1;
    }
    return false;
}

static void waiter_abort(wp_http_req_t *req)
{
    sim_sleep_t *s = req->user;
    for (int i = 0; i < s->n_waiters; i++) {
        if (s->waiters[i] == req) {
            s->waiters[i] = s->waiters[--s->n_waiters];
            break;
        }
    }
    wp_http_res_end(req);
}

static void on_woken(uv_timer_t *t)
{
    sim_sleep_t *s = t->data;
    s->waking = false;
    if (s->wake_weights)
        s->weights_asleep = false;
    if (s->wake_kv)
        s->kv_asleep = false;
    if (!s->weights_asleep && !s->kv_asleep) {
        s->level = 0;
        s->paused = false;
    }
    s->wakes++;
    wp_log(WP_LOG_INFO, "sim: woke up", "group=%d port=%d weights=%d kv_cache=%d", s->g->index,
           s->g->ranks[0].port, s->wake_weights, s->wake_kv);
    while (s->n_waiters > 0) {
        wp_http_req_t *req = s->waiters[--s->n_waiters];
        req->on_abort = NULL;
        wp_http_res_send(req, 200, NULL, "", 0, NULL);
    }
    wp__sim_plan_step(s->g); /* requests that came while asleep */
}

double wp__sim_wake_seconds(const sim_group_t *g, int level, bool weights, bool kv)
{
    const wp_sim_t *sim = g->sim;
    int tp = sim->cfg.tensor_parallel > 0 ? sim->cfg.tensor_parallel : 1;
    return wp_model_wake_time(sim->perf.weight_bytes, tp, sim->cfg.gpu, level, weights, kv).total_s;
}

static void do_sleep(sim_replica_t *r, wp_http_req_t *req)
{
    sim_group_t *g = r->group;
    sim_sleep_t *s = g->sleep;
    wp_str_t v;
    int64_t level = 1;
    if (query_get(req, "level", 0, &v) &&
        (wp_parse_i64(v.p, v.n, &level) != WP_OK || level < 0 || level > 2)) {
        wp_http_res_error(req, 400, "level: expected 0, 1 or 2", "level");
        return;
    }
    if (s->waking) {
        wp_http_res_error(req, 409, "the engine is waking up", NULL);
        return;
    }
    if (wp_group_busy(g->core) || g->timer_armed) {
        wp_http_res_error(
            req, 409, "requests in flight: the simulator puts only an idle engine to sleep", NULL);
        return;
    }
    if (level == 0 && !wp__sim_asleep(g))
        s->paused = true; /* the engine keeps its weights and cache */
    else if (level > 0 && !s->weights_asleep && !s->kv_asleep) {
        for (int k = 0; k < g->n_ranks; k++) {
            sim_replica_t *rk = &g->ranks[k];
            wp_err_t err;
            if (wp_group_reset(g->core, rk->rank, &err) != WP_OK) {
                wp_http_res_error(req, 500, err.msg, NULL);
                return;
            }
            rk->engine = wp_group_engine(g->core, rk->rank);
            wp__sim_kvev_cleared(rk);
        }
        s->weights_asleep = s->kv_asleep = s->paused = true;
        s->level = (int)level;
        s->sleeps++;
        wp_log(WP_LOG_INFO, "sim: asleep", "group=%d port=%d level=%d", g->index, r->port,
               (int)level);
    } else if (level > 0 && level > s->level) {
        s->level = (int)level; /* deeper: the weights are dropped from CPU memory too */
    }
    wp_http_res_send(req, 200, NULL, "", 0, NULL);
}

static void do_wake(sim_replica_t *r, wp_http_req_t *req)
{
    sim_sleep_t *s = r->group->sleep;
    bool weights = true, kv = true;
    wp_str_t v;
    if (query_get(req, "tags", 0, &v)) {
        weights = kv = false;
        for (int i = 0; query_get(req, "tags", i, &v); i++) {
            if (wp_str_eq_cstr(v, "weights"))
                weights = true;
            else if (wp_str_eq_cstr(v, "kv_cache"))
                kv = true;
            else if (!wp_str_eq_cstr(v, "scheduling")) {
                wp_http_res_error(req, 400, "tags: expected weights, kv_cache or scheduling",
                                  "tags");
                return;
            }
        }
    }
    weights = weights && s->weights_asleep;
    kv = kv && s->kv_asleep;
    if (!s->waking && !s->weights_asleep && !s->kv_asleep && s->paused) {
        s->paused = false; /* level 0: the scheduler goes on at once */
        s->level = 0;
        wp_http_res_send(req, 200, NULL, "", 0, NULL);
        wp__sim_plan_step(r->group);
        return;
    }
    if (!s->waking && !weights && !kv) {
        wp_http_res_send(req, 200, NULL, "", 0, NULL);
        return;
    }
    if (s->n_waiters >= SLEEP_MAX_WAITERS) {
        wp_http_res_error(req, 503, "too many wake_up requests waiting", NULL);
        return;
    }
    req->user = s;
    req->on_abort = waiter_abort;
    s->waiters[s->n_waiters++] = req;
    if (s->waking)
        return; /* answered with the wake-up under way */
    s->waking = true;
    s->wake_weights = weights;
    s->wake_kv = kv;
    double secs = wp__sim_wake_seconds(r->group, s->level, weights, kv);
    uint64_t ms = (uint64_t)ceil(secs * r->sim->cfg.time_scale * 1000.0);
    wp_log(WP_LOG_INFO, "sim: waking up", "group=%d port=%d level=%d wake_s=%.3f", r->group->index,
           r->port, s->level, secs);
    uv_timer_start(&s->wake_timer, on_woken, ms, 0);
}

bool wp__sim_sleep_route(sim_replica_t *r, wp_http_req_t *req)
{
    bool get = req->method == HTTP_GET, post = req->method == HTTP_POST;
    if (wp_str_eq_cstr(req->path, "/sleep") && post)
        do_sleep(r, req);
    else if (wp_str_eq_cstr(req->path, "/wake_up") && post)
        do_wake(r, req);
    else if (wp_str_eq_cstr(req->path, "/is_sleeping") && get) {
        char body[40];
        int n = snprintf(body, sizeof(body), "{\"is_sleeping\":%s}",
                         wp__sim_asleep(r->group) ? "true" : "false");
        wp_http_res_send(req, 200, "application/json", body, (size_t)n, NULL);
    } else
        return false;
    return true;
}

void wp__sim_sleep_metrics(sim_replica_t *const *rs, int n, wp_buf_t *out)
{
    wp_buf_puts(out, "# HELP vllm:engine_sleep_state Engine sleep state; awake = 0 means engine "
                     "is sleeping; awake = 1 means engine is awake; weights_offloaded = 1 means "
                     "sleep level 1; discard_all = 1 means sleep level 2.\n"
                     "# TYPE vllm:engine_sleep_state gauge\n");
    static const char *const states[] = {"awake", "weights_offloaded", "discard_all"};
    for (int i = 0; i < n; i++) {
        const sim_sleep_t *s = rs[i]->group->sleep;
        bool asleep = s != NULL && wp__sim_asleep(rs[i]->group);
        int level = asleep ? s->level : 0;
        for (int k = 0; k < 3; k++) {
            int v = k == 0 ? !asleep : level == k;
            wp_buf_printf(
                out,
                "vllm:engine_sleep_state{engine=\"%d\",model_name=\"%s\",sleep_state=\"%s\"} %d\n",
                rs[i]->rank, rs[i]->sim->model->hf_id, states[k], v);
        }
    }
}
