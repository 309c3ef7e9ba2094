/*
 * model/perf: a roofline model of one vLLM engine step on tp GPUs.
 *
 * wp_perf_init derives, once, the per-token constants: matmul parameters per token
 * (active parameters minus embeddings: vLLM computes logits only for sampled positions,
 * so the LM head is charged per sampled token instead), attention FLOPs per (query,
 * context) pair, KV bytes per token for the whole model and for one GPU, and the KV
 * capacity left after weights and an activation reserve. A step then costs
 *
 *   compute = FLOPs / (peak x MFU x tp)
 *   memory  = bytes per GPU / (bandwidth x MBU)          (weights/tp + KV read/written)
 *   time    = max(compute, memory) + step overhead + all-reduce
 *
 * For mixture-of-experts models a step reads the shared weights plus the experts its
 * tokens touch: with T tokens routed top-k of E, the expected touched fraction is
 * 1 - (1 - k/E)^T. Tensor parallelism shards GQA KV heads (replicated when there are
 * fewer heads than GPUs); an MLA latent is replicated on every GPU. Each layer does two
 * ring all-reduces of the step's activations over NVLink.
 */
#include "model/model.h"

#include <math.h>
#include <string.h>

#define GIB (1024.0 * 1024.0 * 1024.0)

void wp_perf_params_default(wp_perf_params_t *p)
{
    p->weight_bytes = 2.0;
    p->kv_bytes = 2.0;
    p->prefill_mfu = 0.5;
    p->decode_mbu = 0.75;
    /* vLLM spends a few milliseconds of CPU per iteration on the critical path
     * (scheduling, building input tensors, sampling, detokenizing, streaming); small
     * models on fast GPUs show it as an inter-token latency floor of 2-5 ms. */
    p->step_overhead_s = 0.003;
    p->gpu_memory_utilization = 0.9;
    /* Peak activations of a max_num_batched_tokens step, CUDA graphs and the
     * non-torch allocations vLLM's profiler subtracts before sizing the KV cache. */
    p->activation_reserve = 4.0 * GIB;
    /* A custom NVLink all-reduce of a small message inside a CUDA graph. */
    p->allreduce_latency_s = 5e-6;
}

static bool in_range(double x, double lo, double hi)
{
    return x > lo && x <= hi; /* false for NaN */
}

static wp_status_t check_params(const wp_perf_params_t *q, wp_err_t *err)
{
    if (!in_range(q->weight_bytes, 0.0, 8.0) || !in_range(q->kv_bytes, 0.0, 8.0)) {
        return wp_err_set(err, WP_EINVAL, "dtype bytes must be in (0, 8]: weights %g, kv %g",
                          q->weight_bytes, q->kv_bytes);
    }
    if (!in_range(q->prefill_mfu, 0.0, 1.0) || !in_range(q->decode_mbu, 0.0, 1.0) ||
        !in_range(q->gpu_memory_utilization, 0.0, 1.0)) {
        return wp_err_set(err, WP_EINVAL,
                          "mfu %g, mbu %g and gpu_memory_utilization %g must be in "
                          "(0, 1]",
                          q->prefill_mfu, q->decode_mbu, q->gpu_memory_utilization);
    }
    if (!(q->step_overhead_s >= 0.0) || !(q->activation_reserve >= 0.0) ||
        !(q->allreduce_latency_s >= 0.0)) {
        return wp_err_set(err, WP_EINVAL,
                          "overhead, activation reserve and all-reduce latency "
                          "must be >= 0");
    }
    return WP_OK;
}

static void derive_params(wp_perf_t *p)
{
    const wp_model_spec_t *m = p->model;
    double total = (double)m->params_total, active = (double)m->params_active;
    double embed = (double)m->vocab * m->hidden * (m->tied_embeddings ? 1 : 2);
    if (wp_model_is_moe(m)) {
        p->expert_params = (total - active) / (m->n_experts - m->top_k);
        p->shared_params = active - m->top_k * p->expert_params;
    } else {
        p->expert_params = 0.0;
        p->shared_params = total;
    }
    p->flop_params = active - embed;
    p->lm_head_flops = 2.0 * m->vocab * m->hidden;
    p->weight_bytes = total * p->params.weight_bytes;
}

static void derive_attention(wp_perf_t *p)
{
    const wp_model_spec_t *m = p->model;
    double kvb = p->params.kv_bytes;
    if (wp_model_is_mla(m)) {
        /* Absorbed MLA: scores over the latent + rope key, values from the latent. */
        p->attn_flops_pair = 2.0 * m->layers * m->q_heads * (2.0 * m->kv_lora_rank + m->rope_dim);
        p->kv_bytes_token = (double)m->layers * (m->kv_lora_rank + m->rope_dim) * kvb;
        p->kv_bytes_token_gpu = p->kv_bytes_token;
        return;
    }
    p->attn_flops_pair = 4.0 * m->layers * m->q_heads * m->head_dim;
    p->kv_bytes_token = (double)m->layers * 2.0 * m->kv_heads * m->head_dim * kvb;
    int heads_gpu = m->kv_heads >= p->tp ? m->kv_heads / p->tp : 1;
    p->kv_bytes_token_gpu = p->kv_bytes_token * heads_gpu / m->kv_heads;
}

static wp_status_t derive_capacity(wp_perf_t *p, wp_err_t *err)
{
    const wp_perf_params_t *q = &p->params;
    double usable = p->gpu->hbm_bytes * q->gpu_memory_utilization;
    double weights_gpu = p->weight_bytes / p->tp;
    double free_bytes = usable - weights_gpu - q->activation_reserve;
    if (free_bytes < p->kv_bytes_token_gpu) {
        return wp_err_set(err, WP_EINVAL,
                          "model %s does not fit on %s at tp=%d: %.1f GB of weights and %.1f GB "
                          "reserve per GPU, %.1f GB usable",
                          p->model->name, p->gpu->name, p->tp, weights_gpu / 1e9,
                          q->activation_reserve / 1e9, usable / 1e9);
    }
    p->kv_capacity_tokens = (int64_t)floor(free_bytes / p->kv_bytes_token_gpu);
    return WP_OK;
}

wp_status_t wp_perf_init(wp_perf_t *p, const wp_model_spec_t *m, const wp_gpu_spec_t *g, int tp,
                         const wp_perf_params_t *params, wp_err_t *err)
{
    if (p == NULL || m == NULL || g == NULL) {
        return wp_err_set(err, WP_EINVAL, "perf model needs a model and a GPU");
    }
    if (tp != 1 && tp != 2 && tp != 4 && tp != 8) {
        return wp_err_set(err, WP_EINVAL, "tensor parallel size %d: must be 1, 2, 4 or 8", tp);
    }
    wp_status_t st = wp_model_validate(m, err);
    if (st != WP_OK) {
        return st;
    }
    *p = (wp_perf_t){.model = m, .gpu = g, .tp = tp};
    if (params != NULL) {
        p->params = *params;
    } else {
        wp_perf_params_default(&p->params);
    }
    st = check_params(&p->params, err);
    if (st != WP_OK) {
        return st;
    }
    bool fp8 = p->params.weight_bytes <= 1.0 && g->fp8_flops > 0.0;
    p->peak_flops = fp8 ? g->fp8_flops : g->bf16_flops;
    derive_params(p);
    derive_attention(p);
    return derive_capacity(p, err);
}

int64_t wp_perf_kv_capacity_tokens(const wp_perf_t *p)
{
    return p->kv_capacity_tokens;
}

static double batch_tokens(const wp_perf_batch_t *b)
{
    return (double)b->prefill_tokens + (double)b->decode_seqs;
}

double wp_perf_flops(const wp_perf_t *p, const wp_perf_batch_t *b)
{
    double pairs = b->prefill_attn + (double)b->decode_ctx;
    return 2.0 * p->flop_params * batch_tokens(b) + p->attn_flops_pair * pairs +
           p->lm_head_flops * (double)b->decode_seqs;
}

double wp_perf_bytes_per_gpu(const wp_perf_t *p, const wp_perf_batch_t *b)
{
    double params = p->shared_params;
    if (p->expert_params > 0.0) {
        const wp_model_spec_t *m = p->model;
        double miss = 1.0 - (double)m->top_k / m->n_experts;
        double touched = 1.0 - pow(miss, batch_tokens(b));
        params += p->expert_params * m->n_experts * touched;
    }
    double weights = params * p->params.weight_bytes / p->tp;
    double kv_tokens = (double)b->decode_ctx + (double)b->prefill_tokens;
    return weights + kv_tokens * p->kv_bytes_token_gpu;
}

double wp_perf_allreduce_time(const wp_perf_t *p, const wp_perf_batch_t *b)
{
    if (p->tp == 1) {
        return 0.0;
    }
    double msg = batch_tokens(b) * p->model->hidden * 2.0; /* BF16 activations */
    double ring = 2.0 * (p->tp - 1) / p->tp * msg / p->gpu->nvlink_bw;
    return 2.0 * p->model->layers * (p->params.allreduce_latency_s + ring);
}

double wp_perf_step_time(const wp_perf_t *p, const wp_perf_batch_t *b)
{
    if (batch_tokens(b) <= 0.0) {
        return 0.0;
    }
    double compute = wp_perf_flops(p, b) / (p->peak_flops * p->params.prefill_mfu * p->tp);
    double memory = wp_perf_bytes_per_gpu(p, b) / (p->gpu->mem_bw * p->params.decode_mbu);
    double t = compute > memory ? compute : memory;
    return t + p->params.step_overhead_s + wp_perf_allreduce_time(p, b);
}

wp_status_t wp_model_link(const char *transport, double *bytes_per_s, double *latency_s)
{
    if (strcmp(transport, "rdma") == 0) {
        *bytes_per_s = 400e9 / 8.0;
        *latency_s = 5e-6;
        return WP_OK;
    }
    if (strcmp(transport, "tcp") == 0) {
        *bytes_per_s = 25e9 / 8.0;
        *latency_s = 50e-6;
        return WP_OK;
    }
    return WP_EINVAL;
}
