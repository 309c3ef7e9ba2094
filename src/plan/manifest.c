/*
 * plan/manifest: checks a deployment, applies the defaults, sizes its pools, and renders
 * the files one after the other (the objects themselves are in manifest_servers.c,
 * manifest_gateway.c, manifest_monitoring.c and manifest_extras.c).
 *
 * Sizing a pool: a server is tp x dp GPUs, tp dividing a node (a tensor-parallel group
 * wider than a node would need pipeline parallelism or Ray, which the renderer does not
 * write: an error, not a guess). Up to a node's GPUs a server is one pod (a StatefulSet
 * replica). A wide-EP group (dp > 1) past that takes server / gpus_per_node whole nodes,
 * dp / nodes ranks each, as a LeaderWorkerSet of that size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/manifest_internal.h"

/* A DNS-1123 label: lower-case letters, digits and '-', starting and ending alphanumeric. */
static bool dns_label(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (!alnum && (ch != '-' || i == 0 || i == n - 1))
            return false;
    }
    return true;
}

/* A DNS-1123 subdomain: labels joined by '.', at most 253 bytes. */
static bool dns_subdomain(const char *s)
{
    char part[254];
    if (strlen(s) > 253)
        return false;
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof(part))
            return false;
        memcpy(part, p, n);
        part[n] = 0;
        if (!dns_label(part, 63))
            return false;
        if (dot == NULL)
            return true;
        p = dot + 1;
    }
}

/* A container image reference: printable ASCII without spaces or quotes. */
static bool image_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~' || s[i] == '"' || s[i] == '\'' || s[i] == '\\')
            return false;
    return true;
}

static const char *or_default(const char *s, const char *def)
{
    return s != NULL && s[0] != 0 ? s : def;
}

static wp_status_t check_text(const char *text, const char *field, bool required, wp_err_t *err)
{
    if (text == NULL)
        return required ? wp_err_set(err, WP_EINVAL, "%s: missing (required)", field) : WP_OK;
    if (text[0] == 0)
        return wp_err_set(err, WP_EINVAL, "%s: empty", field);
    if (strlen(text) > WP_PLAN_TEXT_BYTES_MAX)
        return wp_err_set(err, WP_EINVAL, "%s: %zu bytes, more than a ConfigMap holds (%d)", field,
                          strlen(text), WP_PLAN_TEXT_BYTES_MAX);
    if (!wp__yw_utf8_ok(text))
        return wp_err_set(err, WP_EINVAL, "%s: not UTF-8", field);
    return WP_OK;
}

/* A rules file becomes a PrometheusRule's spec by indenting it: it must be one block
 * mapping with a top-level `groups:` (no document markers or directives). */
static wp_status_t check_rules(const char *text, const char *field, wp_err_t *err)
{
    wp_status_t st = check_text(text, field, false, err);
    if (st != WP_OK || text == NULL)
        return st;
    bool groups = false;
    int line = 1;
    for (const char *p = text; *p != 0; line++) {
        size_t n = strcspn(p, "\n");
        if ((n >= 3 && (strncmp(p, "---", 3) == 0 || strncmp(p, "...", 3) == 0)) || p[0] == '%')
            return wp_err_set(err, WP_EINVAL,
                              "%s:%d: document markers and directives are not "
                              "allowed (one rules file, one document)",
                              field, line);
        if (p[0] == '\t' || p[0] == '\r')
            return wp_err_set(err, WP_EINVAL,
                              "%s:%d: a tab or carriage return at the start "
                              "of a line",
                              field, line);
        if (strncmp(p, "groups:", 7) == 0)
            groups = true;
        p += n + (p[n] == '\n' ? 1 : 0);
    }
    if (!groups)
        return wp_err_set(err, WP_EINVAL,
                          "%s: no top-level 'groups:' key (a Prometheus rules "
                          "file has one)",
                          field);
    return WP_OK;
}

static wp_status_t size_pool(wp__plan_ctx_t *c, const wp_plan_pool_t *p, wp_plan_role_t role,
                             const char *suffix, wp_err_t *err)
{
    wp__plan_pool_t *o = &c->pools[c->n_pools];
    memset(o, 0, sizeof(*o));
    o->role = role;
    o->suffix = suffix;
    snprintf(o->name, sizeof(o->name), "%s-%s", c->name, suffix);
    o->replicas = p->replicas;
    o->tp = p->tensor_parallel;
    o->dp = p->data_parallel > 1 ? p->data_parallel : 1;
    if (o->replicas < 1)
        return wp_err_set(err, WP_EINVAL, "pool %s: replicas %d (at least 1)", suffix, o->replicas);
    if (o->tp < 1 || o->tp > c->gpus_per_node || c->gpus_per_node % o->tp != 0)
        return wp_err_set(err, WP_EINVAL,
                          "pool %s: tensor_parallel %d does not divide a node "
                          "of %d GPUs",
                          suffix, o->tp, c->gpus_per_node);
    if (o->dp > 1024 || o->replicas > 10000)
        return wp_err_set(err, WP_EINVAL, "pool %s: %d replicas of %d ranks: too many", suffix,
                          o->replicas, o->dp);
    if (o->dp > 1 && !wp_model_is_moe(c->d->model))
        return wp_err_set(err, WP_EINVAL,
                          "pool %s: data_parallel %d asks for expert "
                          "parallelism, but %s is a dense model",
                          suffix, o->dp, c->d->model->name);
    o->server_gpus = o->tp * o->dp;
    o->nodes = 1;
    if (o->server_gpus > c->gpus_per_node) { /* tp fits a node, so dp > 1: a wide-EP group */
        if (o->server_gpus % c->gpus_per_node != 0)
            return wp_err_set(err, WP_EINVAL,
                              "pool %s: a wide-EP group of %d GPUs does not "
                              "fill whole nodes of %d",
                              suffix, o->server_gpus, c->gpus_per_node);
        o->nodes = o->server_gpus / c->gpus_per_node;
        o->lws = true;
    }
    o->pod_gpus = o->server_gpus / o->nodes;
    o->pod_ranks = o->dp / o->nodes;
    c->n_pools++;
    return WP_OK;
}

static wp_status_t resolve_names(const wp_plan_deploy_t *d, wp__plan_ctx_t *c, wp_err_t *err)
{
    c->name = or_default(d->name, WP_PLAN_DEFAULT_NAME);
    c->ns = or_default(d->namespace_, WP_PLAN_DEFAULT_NAMESPACE);
    if (!dns_label(c->name, WP_PLAN_NAME_MAX))
        return wp_err_set(err, WP_EINVAL,
                          "name '%s': not a DNS-1123 label of at most %d "
                          "characters (a-z, 0-9, '-')",
                          c->name, WP_PLAN_NAME_MAX);
    if (!dns_label(c->ns, 63))
        return wp_err_set(err, WP_EINVAL, "namespace '%s': not a DNS-1123 label", c->ns);
    c->vllm_image = or_default(d->vllm_image, WP_PLAN_DEFAULT_VLLM_IMAGE);
    c->gateway_image = or_default(d->gateway_image, WP_PLAN_DEFAULT_GATEWAY_IMAGE);
    if (!image_ok(c->vllm_image) || !image_ok(c->gateway_image))
        return wp_err_set(err, WP_EINVAL, "image '%s': not an image reference",
                          image_ok(c->vllm_image) ? c->gateway_image : c->vllm_image);
    c->route_parent = or_default(d->route_parent, WP_PLAN_DEFAULT_ROUTE_PARENT);
    if (!dns_subdomain(c->route_parent))
        return wp_err_set(err, WP_EINVAL, "route_parent '%s': not a DNS-1123 subdomain",
                          c->route_parent);
    if (d->model_cache_pvc != NULL && !dns_subdomain(d->model_cache_pvc))
        return wp_err_set(err, WP_EINVAL, "model_cache_pvc '%s': not a DNS-1123 subdomain",
                          d->model_cache_pvc);
    c->prometheus_url = or_default(d->prometheus_url, WP_PLAN_DEFAULT_PROMETHEUS);
    if ((strncmp(c->prometheus_url, "http://", 7) != 0 &&
         strncmp(c->prometheus_url, "https://", 8) != 0) ||
        !image_ok(c->prometheus_url))
        return wp_err_set(err, WP_EINVAL, "prometheus_url '%s': not an http(s) URL",
                          c->prometheus_url);
    snprintf(c->gateway, sizeof(c->gateway), "%s-gateway", c->name);
    return WP_OK;
}

static wp_status_t resolve_numbers(const wp_plan_deploy_t *d, wp__plan_ctx_t *c, wp_err_t *err)
{
    c->vllm_port = d->vllm_port ? d->vllm_port : WP_PLAN_DEFAULT_PORT;
    c->gateway_port = d->gateway_port ? d->gateway_port : WP_PLAN_DEFAULT_PORT;
    if (c->vllm_port < 1 || c->vllm_port > 65535 || c->gateway_port < 1 || c->gateway_port > 65535)
        return wp_err_set(err, WP_EINVAL, "port %d: out of 1..65535",
                          c->vllm_port < 1 || c->vllm_port > 65535 ? c->vllm_port
                                                                   : c->gateway_port);
    c->gmu = d->gpu_memory_utilization != 0 ? d->gpu_memory_utilization : WP_PLAN_DEFAULT_GMU;
    if (!(c->gmu > 0 && c->gmu <= 1))
        return wp_err_set(err, WP_EINVAL, "gpu_memory_utilization %g: out of (0, 1]", c->gmu);
    if (d->max_model_len < 0)
        return wp_err_set(err, WP_EINVAL, "max_model_len %d: negative", d->max_model_len);
    if (d->kv_cache_dtype != NULL && d->kv_cache_dtype[0] != 0 &&
        !wp_plan_vllm_kv_dtype_known(d->kv_cache_dtype))
        return wp_err_set(err, WP_EINVAL,
                          "kv_cache_dtype '%s': not one of vLLM's (auto, "
                          "bfloat16, fp8, fp8_e4m3, fp8_e5m2)",
                          d->kv_cache_dtype);
    c->gpus_per_node = d->gpus_per_node ? d->gpus_per_node : WP_PLAN_DEFAULT_GPUS_PER_NODE;
    if (c->gpus_per_node < 1 || c->gpus_per_node > 64)
        return wp_err_set(err, WP_EINVAL, "gpus_per_node %d: out of 1..64", c->gpus_per_node);
    c->keda_in_flight = d->keda_in_flight ? d->keda_in_flight : WP_PLAN_DEFAULT_KEDA_IN_FLIGHT;
    if (c->keda_in_flight < 1)
        return wp_err_set(err, WP_EINVAL, "keda_in_flight %d: at least 1", c->keda_in_flight);
    return WP_OK;
}

static wp_status_t resolve_texts(const wp_plan_deploy_t *d, wp_err_t *err)
{
    wp_status_t st = check_text(d->topology_yaml, "topology_yaml", true, err);
    if (st == WP_OK)
        st = check_rules(d->prometheus_rules_yaml, "prometheus_rules_yaml", err);
    if (st == WP_OK)
        st = check_rules(d->guide_rules_yaml, "guide_rules_yaml", err);
    if (st == WP_OK)
        st = check_text(d->grafana_dashboard_json, "grafana_dashboard_json", false, err);
    return st;
}

/* Everything but the texts: what the names of the servers depend on. */
static wp_status_t resolve_shape(const wp_plan_deploy_t *d, wp__plan_ctx_t *c, wp_err_t *err)
{
    memset(c, 0, sizeof(*c));
    c->d = d;
    if (d == NULL)
        return wp_err_set(err, WP_EINVAL, "no deployment");
    if (d->model == NULL || d->model->hf_id == NULL)
        return wp_err_set(err, WP_EINVAL, "model: missing (a catalog model is required)");
    if (d->gpu == NULL)
        return wp_err_set(err, WP_EINVAL, "gpu: missing (a catalog GPU is required)");
    if (!wp__yw_utf8_ok(d->model->hf_id) || d->model->hf_id[0] == 0)
        return wp_err_set(err, WP_EINVAL, "model: bad Hugging Face id");
    wp_status_t st = resolve_names(d, c, err);
    if (st == WP_OK)
        st = resolve_numbers(d, c, err);
    if (st != WP_OK)
        return st;
    if (d->cand.pd) {
        st = size_pool(c, &d->cand.prefill, WP_PLAN_ROLE_PREFILL, "prefill", err);
        if (st == WP_OK)
            st = size_pool(c, &d->cand.decode, WP_PLAN_ROLE_DECODE, "decode", err);
    } else {
        st = size_pool(c, &d->cand.pool, WP_PLAN_ROLE_BOTH, "vllm", err);
    }
    if (st == WP_OK)
        c->serving = &c->pools[c->n_pools - 1];
    return st;
}

wp_status_t wp__plan_resolve(const wp_plan_deploy_t *d, wp__plan_ctx_t *c, wp_err_t *err)
{
    wp_status_t st = resolve_shape(d, c, err);
    return st == WP_OK ? resolve_texts(d, err) : st;
}

/* ---- rendering ---- */

typedef wp_status_t (*render_fn)(const wp__plan_ctx_t *c, wp__yw_t *w);

static wp_status_t add_file(const wp__plan_ctx_t *c, const char *name, render_fn fn,
                            wp_plan_file_t *files, size_t cap, size_t *n, wp_err_t *err)
{
    if (*n >= cap)
        return wp_err_set(err, WP_ELIMIT, "room for %zu files, %s does not fit", cap, name);
    wp__yw_t w;
    wp__yw_init(&w);
    wp__yw_printf(&w,
                  "# %s: %s, %s of %s on %s.\n# Rendered by `wellpath plan` (docs/plan.md, "
                  "\"Manifests\").\n",
                  name, wp_plan_path_name(c->d->cand.path), c->d->cand.label, c->d->model->hf_id,
                  c->d->gpu->desc ? c->d->gpu->desc : c->d->gpu->name);
    wp_status_t st = fn(c, &w);
    if (st == WP_OK)
        st = w.st;
    if (st != WP_OK) {
        wp_buf_free(&w.buf);
        return wp_err_set(err, st, "%s: %s", name,
                          st == WP_ELIMIT ? "output too large" : wp_status_str(st));
    }
    wp_plan_file_t *f = &files[*n];
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->text = w.buf.data; /* ownership moves to the file */
    f->len = w.buf.len;
    f->objects = w.objects;
    (*n)++;
    return WP_OK;
}

wp_status_t wp_plan_render(const wp_plan_deploy_t *d, wp_plan_file_t *files, size_t cap, size_t *n,
                           wp_err_t *err)
{
    *n = 0;
    for (size_t i = 0; i < cap; i++)
        files[i] = (wp_plan_file_t){{0}, NULL, 0, 0};
    wp__plan_ctx_t c;
    wp_status_t st = wp__plan_resolve(d, &c, err);
    if (st == WP_OK)
        st = add_file(&c, "model-servers.yaml", wp__plan_servers, files, cap, n, err);
    if (st == WP_OK)
        st = add_file(&c, "gateway.yaml", wp__plan_gateway, files, cap, n, err);
    if (st == WP_OK)
        st = add_file(&c, "monitoring.yaml", wp__plan_monitoring, files, cap, n, err);
    if (st == WP_OK && d->keda)
        st = add_file(&c, "keda.yaml", wp__plan_keda, files, cap, n, err);
    if (st == WP_OK && d->gateway_api)
        st = add_file(&c, "gateway-api.yaml", wp__plan_gateway_api, files, cap, n, err);
    if (st != WP_OK) {
        wp_plan_files_free(files, *n);
        *n = 0;
    }
    return st;
}

void wp_plan_files_free(wp_plan_file_t *files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(files[i].text);
        files[i].text = NULL;
        files[i].len = 0;
        files[i].objects = 0;
    }
}

size_t wp_plan_notes(const wp_plan_deploy_t *d, char (*notes)[WP_PLAN_NOTE_MAX], size_t cap)
{
    const char *name = or_default(d->name, WP_PLAN_DEFAULT_NAME);
    size_t k = 0;
#define NOTE(...)                                                                                  \
    do {                                                                                           \
        if (k < cap)                                                                               \
            snprintf(notes[k], WP_PLAN_NOTE_MAX, __VA_ARGS__);                                     \
        k++;                                                                                       \
    } while (0)
    if (d->prometheus_rules_yaml == NULL)
        NOTE("PrometheusRule %s-slo left out: no rules text given "
             "(deploy/prometheus/wellpath-rules.yml)",
             name);
    if (d->guide_rules_yaml == NULL)
        NOTE("PrometheusRule %s-guide left out: no rules text given "
             "(deploy/prometheus/guide-rules.yml)",
             name);
    if (d->grafana_dashboard_json == NULL)
        NOTE("ConfigMap %s-grafana-dashboard left out: no dashboard given "
             "(deploy/grafana/wellpath-dashboard.json)",
             name);
    if (d->model_cache_pvc == NULL)
        NOTE("model weights: every pod downloads them into an emptyDir; a PersistentVolumeClaim "
             "(model_cache_pvc) shares one cache");
    if (d->cand.pd || d->cand.pool.data_parallel > 1)
        NOTE("RDMA: NIXL (P/D) and expert-parallel all-to-all need the cluster's RDMA network "
             "(devices, network attachments, UCX settings) added to the vLLM pods");
#undef NOTE
    return k;
}

/* ---- names of the servers, for the gateway's topology ---- */

static const wp__plan_pool_t *find_pool(const wp__plan_ctx_t *c, wp_plan_role_t role)
{
    for (int i = 0; i < c->n_pools; i++)
        if (c->pools[i].role == role)
            return &c->pools[i];
    return NULL;
}

static wp_status_t host_of(const wp__plan_ctx_t *c, const wp__plan_pool_t *p, int i, char *out,
                           size_t cap, wp_err_t *err)
{
    int k = snprintf(out, cap, "%s-%d.%s.%s.svc.cluster.local", p->name, i, p->name, c->ns);
    if (k < 0 || (size_t)k >= cap)
        return wp_err_set(err, WP_ELIMIT, "host name of %s-%d: needs %d bytes", p->name, i, k);
    return WP_OK;
}

wp_status_t wp_plan_server_host(const wp_plan_deploy_t *d, wp_plan_role_t role, int i, char *out,
                                size_t cap, wp_err_t *err)
{
    wp__plan_ctx_t c;
    wp_status_t st = resolve_shape(d, &c, err);
    if (st != WP_OK)
        return st;
    const wp__plan_pool_t *p = find_pool(&c, role);
    if (p == NULL)
        return wp_err_set(err, WP_EINVAL, "the deployment has no such pool");
    if (i < 0 || i >= p->replicas)
        return wp_err_set(err, WP_EINVAL, "pool %s: no server %d (%d replicas)", p->suffix, i,
                          p->replicas);
    return host_of(&c, p, i, out, cap, err);
}

static void endpoint_line(wp_buf_t *out, const wp__plan_ctx_t *c, const wp__plan_pool_t *p,
                          const char *host, int i, int rank, wp_status_t *st)
{
    const char *role = p->role == WP_PLAN_ROLE_PREFILL  ? ", role: prefill"
                       : p->role == WP_PLAN_ROLE_DECODE ? ", role: decode"
                                                        : "";
    if (*st != WP_OK)
        return;
    if (p->dp > 1)
        *st = wp_buf_printf(out,
                            "  - {url: \"http://%s:%d\", discover: dns, name: %s-%d-r%d, "
                            "group: %s-%d, dataParallelRank: %d%s}\n",
                            host, c->vllm_port, p->name, i, rank, p->name, i, rank, role);
    else
        *st = wp_buf_printf(out, "  - {url: \"http://%s:%d\", discover: dns, name: %s-%d%s}\n",
                            host, c->vllm_port, p->name, i, role);
}

wp_status_t wp_plan_render_endpoints(const wp_plan_deploy_t *d, wp_buf_t *out, wp_err_t *err)
{
    wp__plan_ctx_t c;
    wp_status_t st = resolve_shape(d, &c, err);
    if (st != WP_OK)
        return st;
    st = wp_buf_puts(out, "endpoints:\n");
    for (int k = 0; k < c.n_pools && st == WP_OK; k++) {
        const wp__plan_pool_t *p = &c.pools[k];
        for (int i = 0; i < p->replicas && st == WP_OK; i++) {
            char host[WP__PLAN_OBJ_NAME_MAX * 2 + 64];
            st = host_of(&c, p, i, host, sizeof(host), err);
            if (st != WP_OK)
                return st;
            for (int r = 0; r < p->dp; r++)
                endpoint_line(out, &c, p, host, i, r, &st);
        }
    }
    if (st != WP_OK)
        return wp_err_set(err, st, "endpoints: %s", wp_status_str(st));
    return WP_OK;
}
