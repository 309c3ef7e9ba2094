/*
 * sim/sim: replicas, groups and routes. Each replica has its own HTTP server and engine (a
 * rank of its group's engine/group core); the perf model (catalog model + GPU + TP, or the
 * wide-EP model) is shared read-only by all of them.
 */
#include "sim/internal.h"

#include <http_parser.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/str.h"
#include "kvev/ctx.h"
#include "os/tokfiles.h"

void wp_sim_config_default(wp_sim_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    wp_strlcpy(cfg->host, "127.0.0.1", sizeof(cfg->host));
    cfg->port = 8100;
    cfg->replicas = 1;
    wp_strlcpy(cfg->model, "qwen3-8b", sizeof(cfg->model));
    wp_strlcpy(cfg->gpu, "h100", sizeof(cfg->gpu));
    cfg->tensor_parallel = 1;
    cfg->time_scale = 1.0;
    cfg->seed = 1;
    cfg->prefix_caching = true;
    cfg->default_max_tokens = 256;
    cfg->step_overhead_ms = -1.0;
    for (size_t i = 0; i < WP_MODEL_MAX_CONSTS; i++)
        cfg->engine_model[i] = NAN;
    cfg->role = WP_SIM_ROLE_BOTH;
    wp_sim_kv_transport("rdma", &cfg->kv_bandwidth, &cfg->kv_latency_s, NULL);
    cfg->kv_timeout_ms = 30000;
    cfg->fault_replicas = ~(uint64_t)0;
    wp_http_server_config_default(&cfg->server);
    cfg->server.server_name = "wellpath-sim";
}

wp_status_t wp_sim_kv_transport(const char *name, double *bandwidth, double *latency_s,
                                wp_err_t *err)
{
    if (wp_model_link(name, bandwidth, latency_s) != WP_OK)
        return wp_err_set(err, WP_EINVAL, "kv transport '%s': expected rdma or tcp", name);
    return WP_OK;
}

static const char *const role_names[] = {"both", "prefill", "decode"};

wp_status_t wp_sim_role_parse(const char *name, wp_sim_role_t *out, wp_err_t *err)
{
    for (int i = 0; i < 3; i++) {
        if (strcmp(name, role_names[i]) == 0) {
            *out = (wp_sim_role_t)i;
            return WP_OK;
        }
    }
    return wp_err_set(err, WP_EINVAL, "role '%s': expected prefill, decode or both", name);
}

const char *wp_sim_role_str(wp_sim_role_t role)
{
    return (unsigned)role < 3 ? role_names[role] : "?";
}

double wp_sim_kv_pull_seconds(double kv_bytes, double bandwidth, double latency_s)
{
    return kv_bytes / bandwidth + latency_s;
}

bool wp__sim_serves(const wp_sim_t *sim, const char *model)
{
    return wp_model_find(model) == sim->model;
}

static void answer_models(sim_replica_t *r, wp_http_req_t *req)
{
    wp_sim_t *sim = r->sim;
    wp_buf_t b;
    wp_buf_init(&b, 0);
    const char *names[2] = {sim->model->hf_id, sim->model->name};
    wp_buf_puts(&b, "{\"object\":\"list\",\"data\":[");
    for (int i = 0; i < 2; i++)
        wp_buf_printf(
            &b,
            "%s{\"id\":\"%s\",\"object\":\"model\",\"created\":%lld,\"owned_by\":\"wellpath\","
            "\"root\":\"%s\",\"parent\":null,\"max_model_len\":%d}",
            i ? "," : "", names[i], (long long)(sim->t0_ns / 1000000000ULL), sim->model->hf_id,
            sim->ecfg.max_model_len);
    wp_buf_puts(&b, "]}");
    wp_http_res_send(req, 200, "application/json", b.data, b.len, NULL);
    wp_buf_free(&b);
}

/* A group's base port (its rank 0) speaks for every rank, as one vLLM API server of a DP
 * deployment does; any other port for its own rank. */
static void answer_metrics(sim_replica_t *r, wp_http_req_t *req)
{
    sim_replica_t *rs[WP_SIM_MAX_REPLICAS];
    int n = 0;
    for (int k = 0; k < (r->rank == 0 ? r->group->n_ranks : 1); k++)
        rs[n++] = r->rank == 0 ? &r->group->ranks[k] : r;
    wp_buf_t b;
    wp_buf_init(&b, 0);
    wp__sim_metrics_write(rs, n, &b);
    wp__sim_sleep_metrics(rs, n, &b);
    wp_http_res_send(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len, NULL);
    wp_buf_free(&b);
}

/* The rank that X-data-parallel-rank names in r's group (r itself without the header); NULL
 * after answering the request with an error. */
static sim_replica_t *route_rank(sim_replica_t *r, wp_http_req_t *req)
{
    wp_str_t h = wp_http_headers_get(&req->headers, "X-data-parallel-rank");
    if (h.n == 0)
        return r;
    int64_t k = -1;
    char msg[200];
    if (wp_parse_i64(h.p, h.n, &k) != WP_OK || k < 0 || k >= r->group->n_ranks) {
        snprintf(msg, sizeof(msg),
                 "X-data-parallel-rank: expected a rank 0..%d of this data-parallel group, got "
                 "\"%.*s\"",
                 r->group->n_ranks - 1, h.n > 32 ? 32 : (int)h.n, h.p);
        wp_http_res_error(req, 400, msg, NULL);
        return NULL;
    }
    sim_replica_t *t = &r->group->ranks[k];
    if (t->down) {
        snprintf(msg, sizeof(msg), "data-parallel rank %d is down", (int)k);
        wp_http_res_error(req, 503, msg, NULL);
        return NULL;
    }
    return t;
}

void wp__sim_on_request(wp_http_req_t *req, void *ctx)
{
    sim_replica_t *r = ctx;
    wp_api_kind_t kind;
    bool get = req->method == HTTP_GET, post = req->method == HTTP_POST;
    if (wp__sim_admin(r, req) || wp__sim_sleep_route(r, req))
        return;
    bool completion = wp_api_kind_from_path(req->path.p, req->path.n, &kind) && post;
    if (wp__sim_notice_route(r, req, completion)) /* a preemption notice: draining */
        return;
    if (completion) {
        sim_replica_t *t = route_rank(r, req);
        if (t != NULL)
            wp__sim_inject_completion(t, req, kind);
    } else if (wp_str_eq_cstr(req->path, "/health") && get)
        wp_http_res_send(req, 200, NULL, "", 0, NULL);
    else if (wp_str_eq_cstr(req->path, "/metrics") && get)
        answer_metrics(r, req);
    else if (wp_str_eq_cstr(req->path, "/v1/models") && get)
        answer_models(r, req);
    else if (wp_str_eq_cstr(req->path, "/tokenize") && post)
        wp__sim_serve_tokenize(r, req);
    else {
        char msg[300];
        snprintf(msg, sizeof(msg), "no route for %s %.200s", req->method_name, req->path.p);
        wp_http_res_error(req, 404, msg, NULL);
    }
}

wp_status_t wp_sim_kv_dtype_bytes(const char *name, double *bytes)
{
    static const struct {
        const char *name;
        double bytes;
    } dtypes[] = {{"", 2},    {"auto", 2},     {"bfloat16", 2},
                  {"fp8", 1}, {"fp8_e4m3", 1}, {"fp8_e5m2", 1}};
    for (size_t i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++) {
        if (strcmp(name, dtypes[i].name) == 0) {
            *bytes = dtypes[i].bytes;
            return WP_OK;
        }
    }
    return WP_EINVAL;
}

/* The wide-EP model of a group of c->data_parallel ranks at tensor parallel 1. */
static wp_status_t ep_setup(const wp_sim_config_t *c, const wp_model_spec_t *m,
                            const wp_gpu_spec_t *gpu, const wp_perf_params_t *pp, wp_perf_t *perf,
                            wp_ep_t *ep, wp_err_t *err)
{
    if (c->tensor_parallel != 1)
        return wp_err_set(err, WP_EINVAL,
                          "wide-EP ranks run at tensor parallel 1 (data parallel %d, tensor "
                          "parallel %d)",
                          c->data_parallel, c->tensor_parallel);
    wp_ep_params_t ep_p;
    wp_ep_params_default(&ep_p);
    ep_p.perf = *pp;
    wp_status_t st = wp_model_const_apply(c->engine_model, &ep_p.perf, &ep_p, err);
    if (st == WP_OK)
        st = wp_ep_init(ep, m, gpu, c->data_parallel, &ep_p, err);
    if (st == WP_OK)
        *perf = ep->perf;
    return st;
}

wp_status_t wp_sim_engine_setup(const wp_sim_config_t *c, const wp_model_spec_t **model,
                                wp_perf_t *perf, wp_ep_t *ep, wp_engine_config_t *ecfg,
                                wp_err_t *err)
{
    *model = wp_model_find(c->model);
    if (*model == NULL)
        return wp_err_set(err, WP_EINVAL, "unknown model '%s' (see the catalog in docs/models.md)",
                          c->model);
    const wp_gpu_spec_t *gpu = wp_gpu_find(c->gpu);
    if (gpu == NULL)
        return wp_err_set(err, WP_EINVAL,
                          "unknown gpu '%s': expected a100, h100, h200, b200 or h800", c->gpu);
    wp_perf_params_t pp;
    wp_perf_params_default(&pp);
    if (c->precision[0] != '\0' && !wp_precision_parse(c->precision, &pp.precision))
        return wp_err_set(err, WP_EINVAL,
                          "unknown precision '%s': expected bf16, fp8, mxfp4 or nvfp4",
                          c->precision);
    if (wp_sim_kv_dtype_bytes(c->kv_cache_dtype, &pp.kv_bytes) != WP_OK)
        return wp_err_set(err, WP_EINVAL,
                          "unknown kv cache dtype '%s': expected auto, bfloat16, fp8, fp8_e4m3 "
                          "or fp8_e5m2",
                          c->kv_cache_dtype);
    if (c->gpu_memory_utilization > 0)
        pp.gpu_memory_utilization = c->gpu_memory_utilization;
    if (c->prefill_mfu > 0)
        pp.prefill_mfu = c->prefill_mfu;
    if (c->decode_mbu > 0)
        pp.decode_mbu = c->decode_mbu;
    if (c->step_overhead_ms >= 0)
        pp.step_overhead_s = c->step_overhead_ms / 1000.0;
    if (wp_model_const_apply(c->engine_model, &pp, NULL, err) != WP_OK)
        return WP_EINVAL;
    for (size_t i = 0; c->data_parallel < 2 && i < wp_model_const_count(); i++)
        if (wp_model_const_is_ep(i) && !isnan(c->engine_model[i]))
            return wp_err_set(err, WP_EINVAL,
                              "engine model constant %s applies to wide-EP groups only "
                              "(expertParallel, --data-parallel)",
                              wp_model_const_at(i)->key);
    bool wide = wp_sim_ranks(c) > 1;
    wp_status_t st = wide ? ep_setup(c, *model, gpu, &pp, perf, ep, err)
                          : wp_perf_init(perf, *model, gpu, c->tensor_parallel, &pp, err);
    if (st != WP_OK)
        return st;
    wp_engine_config_default(ecfg, perf);
    if (wide && (st = wp_group_rank_config(ep, ecfg, ecfg, err)) != WP_OK)
        return st;
    ecfg->enable_prefix_caching = c->prefix_caching;
    if (c->max_num_seqs)
        ecfg->max_num_seqs = c->max_num_seqs;
    if (c->max_num_batched_tokens)
        ecfg->max_num_batched_tokens = c->max_num_batched_tokens;
    if (c->block_size) {
        int64_t tokens = (int64_t)ecfg->num_blocks * ecfg->block_size;
        ecfg->block_size = c->block_size;
        ecfg->num_blocks = (int32_t)(tokens / c->block_size);
    }
    if (c->max_model_len)
        ecfg->max_model_len = c->max_model_len;
    /* vLLM's native offloading: the GiB split over the ranks, each keeping its share of every
     * block (kv_offloading_size x 2^30 / tp bytes / (block_size x KV bytes a token on a GPU)). */
    if (c->kv_offloading_size > 0) {
        double blocks = c->kv_offloading_size * 1073741824.0 / c->tensor_parallel /
                        (ecfg->block_size * perf->kv_bytes_token_gpu);
        ecfg->cpu_offload_blocks = blocks < 1               ? 1
                                   : blocks > INT32_MAX / 2 ? INT32_MAX / 2
                                                            : (int32_t)blocks;
    }
    /* vLLM (0.11 on): max_cudagraph_capture_size defaults to min(2 x max_num_seqs, 512). */
    int graph = 2 * ecfg->max_num_seqs < 512 ? 2 * ecfg->max_num_seqs : 512;
    perf->params.cudagraph_max_tokens =
        c->max_cudagraph_capture_size ? c->max_cudagraph_capture_size : graph;
    if (wide) {
        ep->perf.params.cudagraph_max_tokens = perf->params.cudagraph_max_tokens;
        ecfg->perf = &ep->perf;
    }
    return WP_OK;
}

int wp_sim_ranks(const wp_sim_config_t *cfg)
{
    return cfg->data_parallel > 1 ? cfg->data_parallel : 1;
}

static wp_status_t check_config(const wp_sim_config_t *cfg, wp_err_t *err)
{
    if (cfg->replicas < 1 || cfg->data_parallel < 0 ||
        cfg->replicas * wp_sim_ranks(cfg) > WP_SIM_MAX_REPLICAS)
        return wp_err_set(err, WP_EINVAL, "replicas x data parallel must be 1..%d, got %d x %d",
                          WP_SIM_MAX_REPLICAS, cfg->replicas, wp_sim_ranks(cfg));
    if (!(cfg->time_scale > 0))
        return wp_err_set(err, WP_EINVAL, "time scale must be > 0");
    if (!(cfg->kv_bandwidth > 0) || !(cfg->kv_latency_s >= 0) || cfg->kv_timeout_ms < 1 ||
        cfg->kv_port < 0 || cfg->kv_port > 65535)
        return wp_err_set(
            err, WP_EINVAL,
            "kv link: bandwidth must be > 0, latency >= 0, timeout >= 1 ms, port 0..65535");
    return WP_OK;
}

static wp_status_t group_init(wp_sim_t *sim, int index, wp_err_t *err)
{
    sim_group_t *g = &sim->groups[index];
    int ranks = wp_sim_ranks(&sim->cfg);
    g->sim = sim;
    g->index = index;
    g->ranks = &sim->replicas[index * ranks];
    g->n_ranks = ranks;
    wp_group_config_t gc = {.ranks = ranks, .engine = sim->ecfg, .ep = ranks > 1 ? &sim->ep : NULL};
    wp_status_t st = wp_group_new(&gc, &g->core, err);
    if (st != WP_OK)
        return st;
    uv_timer_init(sim->loop, &g->timer);
    g->timer.data = g;
    sim->open_handles++;
    sim->n_groups++;
    if ((st = wp__sim_sleep_init(g, err)) != WP_OK)
        return st;
    for (int k = 0; k < ranks; k++) {
        sim_replica_t *r = &g->ranks[k];
        r->sim = sim;
        r->index = index * ranks + k;
        r->group = g;
        r->rank = k;
        r->engine = wp_group_engine(g->core, k);
        sim->n++;
        wp__sim_metrics_init(r);
        wp__sim_inject_init(r);
    }
    return WP_OK;
}

/* Frees what wp_sim_new allocated, once no handle is open. */
static void sim_release(wp_sim_t *sim)
{
    wp_bpe_cache_free(sim->tok_cache);
    wp_tokmodel_free(sim->tok);
    wp_kvev_ctx_free(sim->zctx);
    free(sim->replicas);
    free(sim->groups);
    free(sim);
}

/* cfg.tokenizer, when set, as sim->tok (a startup error names the file). */
static wp_status_t load_tokenizer(wp_sim_t *sim, wp_err_t *err)
{
    if (sim->cfg.tokenizer[0] == '\0')
        return WP_OK;
    wp_err_t e;
    if (wp_os_tokmodel_load(sim->cfg.tokenizer, &sim->tok, &e) != WP_OK)
        return wp_err_set(err, WP_EINVAL, "--tokenizer: %s", e.msg);
    sim->tok_cache = wp_bpe_cache_new(0);
    if (sim->tok_cache == NULL)
        return wp_err_set(err, WP_ENOMEM, "out of memory");
    return WP_OK;
}

wp_sim_t *wp_sim_new(uv_loop_t *loop, const wp_sim_config_t *cfg, wp_err_t *err)
{
    if (check_config(cfg, err) != WP_OK)
        return NULL;
    wp_sim_t *sim = calloc(1, sizeof(*sim));
    if (sim == NULL) {
        wp_err_set(err, WP_ENOMEM, "out of memory");
        return NULL;
    }
    sim->loop = loop;
    sim->cfg = *cfg;
    sim->t0_ns = uv_hrtime();
    sim->replicas = calloc((size_t)(cfg->replicas * wp_sim_ranks(cfg)), sizeof(sim_replica_t));
    sim->groups = calloc((size_t)cfg->replicas, sizeof(sim_group_t));
    if (sim->replicas == NULL || sim->groups == NULL ||
        wp_sim_engine_setup(&sim->cfg, &sim->model, &sim->perf, &sim->ep, &sim->ecfg, err) !=
            WP_OK ||
        load_tokenizer(sim, err) != WP_OK || wp__sim_kvev_open(sim, err) != WP_OK) {
        if (sim->replicas == NULL || sim->groups == NULL)
            wp_err_set(err, WP_ENOMEM, "out of memory");
        sim_release(sim);
        return NULL;
    }
    for (int i = 0; i < cfg->replicas; i++) {
        if (group_init(sim, i, err) != WP_OK) {
            wp_sim_free(sim);
            return NULL;
        }
    }
    return sim;
}

wp_status_t wp_sim_start(wp_sim_t *sim, wp_err_t *err)
{
    for (int i = 0; i < sim->n; i++) {
        sim_replica_t *r = &sim->replicas[i];
        r->server = wp_http_server_new(sim->loop, &sim->cfg.server, wp__sim_on_request, r);
        if (r->server == NULL)
            return wp_err_set(err, WP_ENOMEM, "out of memory");
        int port = sim->cfg.port ? sim->cfg.port + i : 0;
        wp_status_t st = wp_http_server_listen(r->server, sim->cfg.host, port, err);
        if (st != WP_OK)
            return st;
        r->port = wp_http_server_port(r->server);
        st = wp__sim_kv_listen(r, sim->cfg.kv_port ? sim->cfg.kv_port + i : 0, err);
        if (st == WP_OK)
            st = wp__sim_kvev_replica(r, err);
        if (st != WP_OK)
            return st;
    }
    wp_log(
        WP_LOG_INFO, "sim started",
        "model=%s gpu=%s tp=%d dp=%d replicas=%d kv_blocks=%d block_size=%d time_scale=%g role=%s "
        "kv_bandwidth=%g kv_latency_s=%g kv_timeout_ms=%d",
        sim->model->hf_id, sim->cfg.gpu, sim->cfg.tensor_parallel, wp_sim_ranks(&sim->cfg), sim->n,
        sim->ecfg.num_blocks, sim->ecfg.block_size, sim->cfg.time_scale,
        wp_sim_role_str(sim->cfg.role), sim->cfg.kv_bandwidth, sim->cfg.kv_latency_s,
        sim->cfg.kv_timeout_ms);
    return WP_OK;
}

int wp_sim_replicas(const wp_sim_t *sim)
{
    return sim->n;
}

int wp_sim_port(const wp_sim_t *sim, int replica)
{
    return sim->replicas[replica].port;
}

int wp_sim_kv_port(const wp_sim_t *sim, int replica)
{
    return sim->replicas[replica].kv_port;
}

void wp__sim_handle_closed(wp_sim_t *sim)
{
    if (--sim->open_handles == 0 && sim->freeing) {
        sim_release(sim);
    }
}

const char *wp_sim_served_name(const wp_sim_t *sim)
{
    return sim->model->hf_id;
}

static void on_timer_closed(uv_handle_t *h)
{
    sim_group_t *g = h->data;
    wp_sim_t *sim = g->sim;
    for (int k = 0; k < g->n_ranks; k++) {
        sim_replica_t *r = &g->ranks[k];
        while (r->dead != NULL) {
            sim_req_t *d = r->dead;
            r->dead = d->next_dead;
            wp__sim_req_free(d); /* unlinked from `live`: a pull closed later unlinks its own */
        }
        r->engine = NULL;
        wp__sim_metrics_free(r);
    }
    wp_group_free(g->core);
    g->core = NULL;
    wp__sim_handle_closed(sim);
}

void wp_sim_free(wp_sim_t *sim)
{
    sim->freeing = true;
    for (int i = 0; i < sim->n; i++) {
        sim_replica_t *r = &sim->replicas[i];
        r->closing = true;
        if (r->server != NULL)
            wp_http_server_close(r->server); /* aborts requests: they are freed in serve.c */
        r->server = NULL;
        wp__sim_pull_close_all(r);
        wp__sim_kv_close(r);
        wp__sim_kvev_close(r);
        wp__sim_inject_close(r);
    }
    for (int i = 0; i < sim->n_groups; i++) {
        wp__sim_sleep_close(&sim->groups[i]);
        uv_close((uv_handle_t *)&sim->groups[i].timer, on_timer_closed);
    }
    if (sim->n_groups == 0) {
        sim_release(sim);
    }
}
