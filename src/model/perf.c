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

#define P(field) offsetof(wp_perf_params_t, field)
#define US 1e-6
#define MS 1e-3

/* Values calibrated on 238 measured vLLM runs (make bench-fidelity); each range is the
 * value / 1.25 .. x 1.25 (shares at most 0.95; the reserve: the spread vLLM's logs imply), an
 * interval that holds 85-90 % of the measured means (docs/calibration.md). */
static const wp_perf_const_t consts[] = {
    {"prefillMfu", P(prefill_mfu), 0.5, 0.4, 0.625, 1, false, false,
     "dense matmuls and attention, fraction of peak FLOP/s"},
    {"moeMfu", P(moe_mfu), 0.17, 0.136, 0.213, 1, false, false,
     "fused-MoE expert matmuls, share of the BF16 peak whatever the weights' dtype"},
    {"decodeMbu", P(decode_mbu), 0.77, 0.616, 0.95, 1, false, false,
     "weight reads, fraction of HBM bandwidth"},
    {"attnMbu", P(attn_mbu), 0.75, 0.6, 0.9375, 1, false, false,
     "KV-cache reads by attention, fraction of HBM bandwidth"},
    {"stepOverheadMs", P(step_overhead_s), 0.6, 0.48, 0.75, MS, true, false,
     "CPU time per engine step not hidden by the GPU"},
    {"layerLatencyUs", P(layer_latency_s), 25, 20.0, 31.25, US, true, false,
     "GPU time floor of one layer in a CUDA graph"},
    {"moeSlotLatencyUs", P(moe_slot_latency_s), 4.3, 3.44, 5.375, US, true, false,
     "extra floor of an MoE layer per routed expert of a token (top_k)"},
    {"eagerLayerUs", P(eager_layer_s), 320, 256.0, 400.0, US, true, false,
     "launch cost of one layer in a step without a CUDA graph"},
    {"eagerMoeLayerUs", P(eager_moe_layer_s), 550, 440.0, 687.5, US, true, false,
     "extra launch cost of an MoE layer in a step without a CUDA graph"},
    {"allreduceLatencyUs", P(allreduce_latency_s), 6, 4.8, 7.5, US, true, false,
     "one all-reduce, per synchronisation round (log2 tp)"},
    {"allreduceBwShare", P(allreduce_bw_share), 0.45, 0.36, 0.562, 1, false, false,
     "all-reduce bandwidth, share of the catalog's bidirectional NVLink figure"},
    {"activationReserveGiB", P(activation_reserve), 6.0, 4.0, 9.0, GIB, true, true,
     "memory per GPU kept out of the KV pool"},
};
#define N_CONSTS (sizeof(consts) / sizeof(consts[0]))
_Static_assert(N_CONSTS <= WP_PERF_MAX_CONSTS, "raise WP_PERF_MAX_CONSTS");

size_t wp_perf_const_count(void)
{
    return N_CONSTS;
}

const wp_perf_const_t *wp_perf_const_at(size_t i)
{
    return i < N_CONSTS ? &consts[i] : NULL;
}

int wp_perf_const_find_in(const wp_perf_const_t *rows, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].key, key) == 0)
            return (int)i;
    return -1;
}

int wp_perf_const_find(const char *key)
{
    return wp_perf_const_find_in(consts, N_CONSTS, key);
}

static double *field(void *params, const wp_perf_const_t *c)
{
    return (double *)(void *)((char *)params + c->off);
}

static bool is_share(const wp_perf_const_t *c)
{
    return !c->slow_hi && c->scale == 1;
}

wp_status_t wp_perf_const_set(wp_perf_params_t *p, size_t i, double value, wp_err_t *err)
{
    if (i >= N_CONSTS)
        return wp_err_set(err, WP_EINVAL, "engine model: no constant %zu", i);
    return wp_perf_const_apply(p, &consts[i], value, err);
}

wp_status_t wp_perf_const_apply(void *p, const wp_perf_const_t *c, double value, wp_err_t *err)
{
    bool ok = is_share(c) ? value > 0.0 && value <= 1.0 : value >= 0.0 && value < 1e6;
    if (!ok)
        return wp_err_set(err, WP_EINVAL, "engine model: %s %g must be %s", c->key, value,
                          is_share(c) ? "in (0, 1]" : "in [0, 1e6)");
    *field(p, c) = value * c->scale;
    return WP_OK;
}

void wp_perf_params_at_end(wp_perf_params_t *p, bool slow)
{
    for (size_t i = 0; i < N_CONSTS; i++) {
        const wp_perf_const_t *c = &consts[i];
        if (!c->memory)
            *field(p, c) = (slow == c->slow_hi ? c->hi : c->lo) * c->scale;
    }
}

void wp_perf_params_default(wp_perf_params_t *p)
{
    *p = (wp_perf_params_t){.precision = WP_PREC_NATIVE,
                            .kv_bytes = 2.0,
                            .gpu_memory_utilization = 0.9,
                            .cudagraph_max_tokens = 0};
    for (size_t i = 0; i < N_CONSTS; i++)
        *field(p, &consts[i]) = consts[i].value * consts[i].scale;
}

static bool in_range(double x, double lo, double hi)
{
    return x > lo && x <= hi; /* false for NaN */
}

static wp_status_t check_params(const wp_perf_params_t *q, wp_err_t *err)
{
    if (q->precision < WP_PREC_NATIVE || q->precision > WP_PREC_LAST ||
        !in_range(q->kv_bytes, 0.0, 8.0)) {
        return wp_err_set(err, WP_EINVAL, "precision %d unknown or kv bytes %g not in (0, 8]",
                          (int)q->precision, q->kv_bytes);
    }
    if (!in_range(q->gpu_memory_utilization, 0.0, 1.0) || q->cudagraph_max_tokens < 0)
        return wp_err_set(err, WP_EINVAL,
                          "gpu_memory_utilization %g must be in (0, 1] and the CUDA-graph size "
                          "%d >= 0",
                          q->gpu_memory_utilization, q->cudagraph_max_tokens);
    wp_perf_params_t copy = *q;
    for (size_t i = 0; i < N_CONSTS; i++) {
        wp_status_t st =
            wp_perf_const_set(&copy, i, *field(&copy, &consts[i]) / consts[i].scale, err);
        if (st != WP_OK)
            return st;
    }
    return WP_OK;
}

/* Bytes per weight of the linear layers outside the experts and of the experts. */
static void precision_bytes(wp_precision_t prec, bool moe, double *linear, double *expert)
{
    switch (prec) {
    case WP_PREC_FP8:
        *linear = *expert = 1.0;
        return;
    case WP_PREC_NVFP4: /* 4-bit values + one FP8 scale per 16 */
        *expert = 4.5 / 8.0;
        *linear = moe ? 2.0 : *expert;
        return;
    case WP_PREC_MXFP4: /* 4-bit values + one 8-bit scale per 32 */
        *expert = 4.25 / 8.0;
        *linear = moe ? 2.0 : *expert;
        return;
    default:
        *linear = *expert = 2.0;
        return;
    }
}

static void derive_params(wp_perf_t *p)
{
    const wp_model_spec_t *m = p->model;
    double total = (double)m->params_total, active = (double)m->params_active;
    double embed = (double)m->vocab * m->hidden, embeds = embed * (m->tied_embeddings ? 1 : 2);
    double shared = total;
    p->expert_params = 0.0;
    if (wp_model_is_moe(m)) {
        p->expert_params = (total - active) / (m->n_experts - m->top_k);
        shared = active - m->top_k * p->expert_params;
    }
    p->embed_params = embed;
    p->linear_params = shared - embeds;
    precision_bytes(p->precision, wp_model_is_moe(m), &p->linear_bytes, &p->expert_bytes);
    double experts = p->expert_params * m->n_experts;
    p->weight_bytes = p->linear_params * p->linear_bytes + experts * p->expert_bytes + embeds * 2.0;
    /* A step reads every linear weight and the LM head; of the input embedding only the
     * rows of its tokens (negligible). */
    p->step_weight_bytes = p->linear_params * p->linear_bytes + embed * 2.0;
    p->flop_params = active - embeds;
    p->expert_flop_params = m->top_k * p->expert_params;
    p->lm_head_flops = 2.0 * embed;
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
    wp_status_t st = wp_perf_init_shape(p, m, g, tp, params, err);
    return st != WP_OK ? st : derive_capacity(p, err);
}

wp_status_t wp_perf_init_shape(wp_perf_t *p, const wp_model_spec_t *m, const wp_gpu_spec_t *g,
                               int tp, const wp_perf_params_t *params, wp_err_t *err)
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
    p->precision = p->params.precision != WP_PREC_NATIVE ? p->params.precision : m->precision;
    if (p->precision == WP_PREC_NATIVE)
        p->precision = WP_PREC_BF16;
    bool fp8 = p->precision == WP_PREC_FP8 && g->fp8_flops > 0.0;
    bool fp4 = p->precision == WP_PREC_NVFP4 && !wp_model_is_moe(m) && g->fp4_flops > 0.0;
    p->peak_flops = fp4 ? g->fp4_flops : fp8 ? g->fp8_flops : g->bf16_flops;
    p->attn_peak_flops = g->bf16_flops;
    derive_params(p);
    derive_attention(p);
    return WP_OK;
}

int64_t wp_perf_kv_capacity_tokens(const wp_perf_t *p)
{
    return p->kv_capacity_tokens;
}

static double batch_tokens(const wp_perf_batch_t *b)
{
    return (double)b->prefill_tokens + (double)b->decode_seqs;
}

/* (query, attended token) pairs of the step, as a share of all layers: a sliding-window
 * layer attends to at most `window` tokens per query (the sums are bounded by queries x
 * window, exact when every context is past the window or none is). */
static double windowed(const wp_perf_t *p, double pairs, double queries)
{
    const wp_model_spec_t *m = p->model;
    if (m->sliding_window <= 0)
        return pairs;
    double share = (double)m->sliding_layers / m->layers, cap = queries * m->sliding_window;
    return pairs * (1.0 - share) + (pairs < cap ? pairs : cap) * share;
}

static double attn_pairs(const wp_perf_t *p, const wp_perf_batch_t *b)
{
    return windowed(p, b->prefill_attn, (double)b->prefill_tokens) +
           windowed(p, (double)b->decode_ctx, (double)b->decode_seqs);
}

double wp_perf_flops(const wp_perf_t *p, const wp_perf_batch_t *b)
{
    return 2.0 * p->flop_params * batch_tokens(b) + p->attn_flops_pair * attn_pairs(p, b) +
           p->lm_head_flops * (double)b->decode_seqs;
}

/* Seconds of matmul and attention work on one GPU: dense matmuls at prefill_mfu of the
 * weights' peak, attention at prefill_mfu of the BF16 peak (activations and scores stay
 * BF16), expert matmuls at moe_mfu of the BF16 peak: the grouped GEMMs of a few hundred rows
 * per expert reach the same throughput with W4A16 (Marlin) and FP8 block-scaled (Triton)
 * kernels (docs/calibration.md). */
static double dense_seconds(const wp_perf_t *p, const wp_perf_batch_t *b)
{
    const wp_perf_params_t *q = &p->params;
    double dense = 2.0 * (p->flop_params - p->expert_flop_params) * batch_tokens(b) +
                   p->lm_head_flops * (double)b->decode_seqs;
    double attn = p->attn_flops_pair * attn_pairs(p, b);
    return dense / (p->peak_flops * q->prefill_mfu) + attn / (p->attn_peak_flops * q->prefill_mfu);
}

double wp_perf_dense_compute_time(const wp_perf_t *p, const wp_perf_batch_t *b)
{
    return dense_seconds(p, b) / p->tp;
}

static double compute_time(const wp_perf_t *p, const wp_perf_batch_t *b)
{
    const wp_perf_params_t *q = &p->params;
    double t = batch_tokens(b);
    double expert = 2.0 * p->expert_flop_params * t;
    double s = dense_seconds(p, b);
    if (expert > 0.0)
        s += expert / (p->attn_peak_flops * q->moe_mfu);
    return s / p->tp;
}

static double weight_bytes_gpu(const wp_perf_t *p, const wp_perf_batch_t *b)
{
    double weights = p->step_weight_bytes;
    if (p->expert_params > 0.0) {
        const wp_model_spec_t *m = p->model;
        double miss = 1.0 - (double)m->top_k / m->n_experts;
        double touched = 1.0 - pow(miss, batch_tokens(b));
        weights += p->expert_params * m->n_experts * touched * p->expert_bytes;
    }
    return weights / p->tp;
}

static double kv_bytes_gpu(const wp_perf_t *p, const wp_perf_batch_t *b)
{
    double read = windowed(p, (double)b->decode_ctx, (double)b->decode_seqs);
    return (read + (double)b->prefill_tokens) * p->kv_bytes_token_gpu;
}

double wp_perf_kv_bytes_per_gpu(const wp_perf_t *p, const wp_perf_batch_t *b)
{
    return kv_bytes_gpu(p, b);
}

double wp_perf_bytes_per_gpu(const wp_perf_t *p, const wp_perf_batch_t *b)
{
    return weight_bytes_gpu(p, b) + kv_bytes_gpu(p, b);
}

double wp_perf_allreduce_time(const wp_perf_t *p, const wp_perf_batch_t *b)
{
    if (p->tp == 1) {
        return 0.0;
    }
    double msg = batch_tokens(b) * p->model->hidden * 2.0; /* BF16 activations */
    double ring =
        2.0 * (p->tp - 1) / p->tp * msg / (p->gpu->nvlink_bw * p->params.allreduce_bw_share);
    return 2.0 * p->model->layers * (p->params.allreduce_latency_s * log2(p->tp) + ring);
}

double wp_perf_overhead_time(const wp_perf_t *p, const wp_perf_batch_t *b)
{
    const wp_perf_params_t *q = &p->params;
    const wp_model_spec_t *m = p->model;
    double layers = m->layers, moe = m->n_experts > 0 ? m->layers - m->dense_layers : 0;
    int cap = q->cudagraph_max_tokens;
    /* Past the capture size a step runs eagerly; one with prefill tokens replays vLLM's
     * piecewise graph, attention launched from Python layer by layer: both pay per layer. */
    if ((cap > 0 && batch_tokens(b) > cap) || b->prefill_tokens > 0)
        return q->step_overhead_s + layers * q->eager_layer_s + moe * q->eager_moe_layer_s;
    return q->step_overhead_s + layers * q->layer_latency_s +
           moe * m->top_k * q->moe_slot_latency_s;
}

double wp_perf_step_time(const wp_perf_t *p, const wp_perf_batch_t *b)
{
    if (batch_tokens(b) <= 0.0) {
        return 0.0;
    }
    const wp_perf_params_t *q = &p->params;
    double compute = compute_time(p, b);
    double bw = p->gpu->mem_bw;
    double memory =
        weight_bytes_gpu(p, b) / (bw * q->decode_mbu) + kv_bytes_gpu(p, b) / (bw * q->attn_mbu);
    double t = compute > memory ? compute : memory;
    return t + wp_perf_overhead_time(p, b) + wp_perf_allreduce_time(p, b);
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
