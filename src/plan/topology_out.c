/*
 * plan/topology_out: a candidate's deployment as the topology file users write.
 */
#include "plan/manifest.h"
#include "plan/plan.h"

static void pool(wp_buf_t *b, const char *key, const wp_plan_pool_t *p)
{
    wp_buf_printf(b, "%s:\n  replicas: %d\n  tensorParallel: %d\n", key, p->replicas,
                  p->tensor_parallel);
}

static void engine_settings(wp_buf_t *b, const wp_plan_deploy_t *d)
{
    const wp_plan_candidate_t *c = &d->cand;
    wp_buf_printf(b, "vllm:\n");
    if (!c->pd)
        wp_buf_printf(b, "  replicas: %d\n  tensorParallel: %d\n", c->pool.replicas,
                      c->pool.tensor_parallel);
    wp_buf_printf(b, "  prefixCaching: %s\n", d->prefix_caching ? "true" : "false");
    if (d->gpu_memory_utilization > 0)
        wp_buf_printf(b, "  gpuMemoryUtilization: %g\n", d->gpu_memory_utilization);
    if (d->max_model_len > 0)
        wp_buf_printf(b, "  maxModelLen: %d\n", d->max_model_len);
    if (d->kv_cache_dtype != NULL && d->kv_cache_dtype[0] != '\0')
        wp_buf_printf(b, "  kvCacheDtype: %s\n", d->kv_cache_dtype);
    if (d->kv_offloading_size > 0)
        wp_buf_printf(b, "  kvOffloadingSize: %g\n", d->kv_offloading_size);
}

static int ranks_of(const wp_plan_candidate_t *c)
{
    const wp_plan_pool_t *p = c->pd ? &c->decode : &c->pool;
    return p->data_parallel > 1 ? p->data_parallel : 1;
}

/* The scheduler's scorers: the seed's Path 1 weights, and rank balance for wide-EP groups. */
static void scheduler(wp_buf_t *out, const wp_plan_candidate_t *c)
{
    wp_buf_puts(out, "inferenceScheduler:\n  scorers:\n    - {type: prefix-aware, weight: 100}\n"
                     "    - {type: load-aware, weight: 50}\n");
    if (ranks_of(c) > 1)
        wp_buf_puts(out, "    - {type: rank-balance, weight: 100}\n");
}

static int gateway_port(const wp_plan_deploy_t *d)
{
    return d->gateway_port > 0 ? d->gateway_port : 8000;
}

wp_status_t wp_plan_gateway_yaml(const wp_plan_deploy_t *d, wp_buf_t *out, wp_err_t *err)
{
    if (d->model == NULL || d->gpu == NULL || wp_plan_candidate_gpus(&d->cand) < 1)
        return wp_err_set(err, WP_EINVAL, "plan: a deployment needs a model, a GPU and a pool");
    wp_buf_printf(out,
                  "# The gateway of %s (%s on %d %s GPUs), planned by `wellpath plan`:\n"
                  "# `wellpath gateway -f` in front of the vLLM servers of the manifests.\n",
                  wp_plan_path_name(d->cand.path), d->cand.label, wp_plan_candidate_gpus(&d->cand),
                  d->gpu->name);
    scheduler(out, &d->cand);
    wp_status_t st = wp_plan_render_endpoints(d, out, err);
    if (st == WP_OK)
        wp_buf_printf(out, "gateway:\n  listen: 0.0.0.0:%d\n", gateway_port(d));
    return st;
}

wp_status_t wp_plan_topology_yaml(const wp_plan_deploy_t *d, const char *sim_extra, wp_buf_t *out,
                                  wp_err_t *err)
{
    const wp_plan_candidate_t *c = &d->cand;
    if (d->model == NULL || d->gpu == NULL || wp_plan_candidate_gpus(c) < 1)
        return wp_err_set(err, WP_EINVAL, "plan: a deployment needs a model, a GPU and a pool");
    wp_buf_printf(out, "# %s: %s on %d %s GPUs, planned by `wellpath plan`.\n",
                  wp_plan_path_name(c->path), c->label, wp_plan_candidate_gpus(c), d->gpu->name);
    wp_buf_printf(out, "model: %s\ngpu: %s\n", d->model->name, d->gpu->name);
    engine_settings(out, d);
    if (c->pd) {
        pool(out, "prefill", &c->prefill);
        pool(out, "decode", &c->decode);
        wp_buf_puts(out, "nixl:\n  backend: ucx\n  transport: rdma\n");
    }
    if (ranks_of(c) > 1)
        wp_buf_printf(out, "expertParallel: %d\n", ranks_of(c));
    scheduler(out, c);
    wp_buf_printf(out, "gateway:\n  listen: 0.0.0.0:%d\n", gateway_port(d));
    if (sim_extra != NULL && sim_extra[0] != '\0')
        wp_buf_printf(out, "simulation:\n%s", sim_extra);
    return WP_OK;
}
