/*
 * model/ep: one step of a wide-EP group, costed from perf.c's per-token constants.
 *
 * wp_ep_init derives the model's constants once on one GPU (wp_perf_init_shape at tp 1:
 * attention, dense matmuls and the MLA latent are not split inside a rank), places
 * (experts + redundant) / ranks experts on each rank and sizes each rank's KV pool after
 * its weights: the dense ones (attention, shared expert, dense first layers, embeddings,
 * LM head) replicated, its own experts.
 *
 * A step runs every layer in lockstep over the ranks: attention on each rank's own batch,
 * then per MoE layer a dispatch, the experts, a combine. Per rank r with T_r tokens (a
 * decode sequence counts 1 + MTP drafts; its KV is read once), k micro-batches (2 with
 * overlap, else 1) and s the share of SMs compute keeps (1 − a2aNormalSmShare while normal
 * kernels overlap it, else 1):
 *
 *   dense_r   = max(dense FLOPs / (peaks × s), k × dense weights / HBM + KV / HBM)  perf.c's
 *               terms; prefill pairs of an MLA model at the un-absorbed cost
 *   slots     = Σ_r T_r × top_k / ranks × imbalance      (the busiest rank's experts' load)
 *   expert    = max(2 × expert params × slots / (weights' peak × epMoeMfu × s),
 *                   k × experts touched per micro-batch × expert bytes / (HBM × decodeMbu))
 *   a2a bytes = max(T_r × top_k, slots) × hidden × bytes per element  (send or receive side)
 *   link      = max(on-node bytes / (NVLink × share), off-node bytes / RDMA)  (+ a fixed
 *               cost per call for the low-latency kernels, one call per micro-batch); the
 *               normal kernels send one copy per distinct node of a token's experts
 *   draft     = the MTP layer: (dense + expert) × mtp / ((1 + mtp) × layers) of the
 *               sequences' share
 *   rank_r    = dense_r + expert + draft + MoE layers × (dispatch + combine) − hidden
 *               + overhead_r,  hidden = epOverlapShare × min(compute, all-to-all)
 *
 * The load of the busiest rank's experts does not depend on its own batch, so every rank
 * is charged it: with a barrier at each dispatch and combine the group pays, per layer,
 * the slowest attention plus the slowest experts, which is this same max over ranks.
 * With two micro-batches (DeepSeek's dual-batch overlap) the all-to-alls of one run while
 * the other computes, but only a share of the shorter side is hidden (bubbles, skew
 * between ranks, CPU gaps), and each micro-batch reads the weights again.
 *
 * The steady-state readings (wp_ep_decode_throughput, wp_ep_prefill_throughput) run one
 * batch on every rank; model/ep_calib.c holds the published setups they are checked on.
 */
#include "model/ep.h"

#include <math.h>

#define P(field) offsetof(wp_ep_params_t, field)
#define US 1e-6
#define GBS 1e9

/* Values from kernel tables and DeepSeek's reports (DeepGEMM, DeepEP, DeepSeek-V3, the
 * Day 6 overview), except epOverlapShare, set on DeepSeek's decode figure and checked on the
 * other rows of model/ep_calib.c (docs/models.md, "Wide expert parallelism"); ranges are
 * value / 1.25 .. x 1.25, or the span the sources give. */
static const wp_perf_const_t consts[] = {
    {"epImbalance", P(imbalance), 1.2, 1.0, 2.5, 1, true, false,
     "routed token-slots on the busiest rank over the mean (EPLB with redundant experts)"},
    {"epMoeMfu", P(moe_eff), 0.55, 0.41, 0.66, 1, false, false,
     "routed-expert grouped GEMMs (DeepGEMM), share of the weights' peak FLOP/s"},
    {"epOverlapShare", P(overlap_share), 0.3, 0.24, 0.55, 1, false, false,
     "of min(compute, all-to-all), the share two micro-batches hide"},
    {"mtpAccept", P(mtp_accept), 0.875, 0.85, 0.90, 1, false, false,
     "acceptance rate of a multi-token-prediction draft token"},
    {"a2aNvlinkShare", P(a2a_nvlink_share), 0.38, 0.304, 0.475, 1, false, false,
     "all-to-all bandwidth inside a node, share of the catalog's NVLink figure"},
    {"a2aRdmaGBs", P(a2a_rdma_bw), 50, 40, 62.5, GBS, false, false,
     "normal (prefill) all-to-all, GB/s per GPU leaving the node"},
    {"a2aLlRdmaGBs", P(a2a_ll_rdma_bw), 39, 31.2, 48.75, GBS, false, false,
     "low-latency (decode) all-to-all, GB/s per GPU leaving the node"},
    {"a2aLatencyUs", P(a2a_latency_s), 10, 8, 12.5, US, true, false,
     "fixed cost of one low-latency dispatch or combine"},
    {"a2aNormalSmShare", P(a2a_sm_share), 0.18, 0.15, 0.23, 1, true, false,
     "share of the SMs normal all-to-all kernels take from compute while they overlap it"},
};
#define N_CONSTS (sizeof(consts) / sizeof(consts[0]))

size_t wp_ep_const_count(void)
{
    return N_CONSTS;
}

const wp_perf_const_t *wp_ep_const_at(size_t i)
{
    return i < N_CONSTS ? &consts[i] : NULL;
}

int wp_ep_const_find(const char *key)
{
    return wp_perf_const_find_in(consts, N_CONSTS, key);
}

wp_status_t wp_ep_const_set(wp_ep_params_t *p, size_t i, double value, wp_err_t *err)
{
    if (i >= N_CONSTS)
        return wp_err_set(err, WP_EINVAL, "expert-parallel model: no constant %zu", i);
    return wp_perf_const_apply(p, &consts[i], value, err);
}

void wp_ep_params_default(wp_ep_params_t *p)
{
    *p = (wp_ep_params_t){.ranks_per_node = 8,
                          .overlap = true,
                          .mode = WP_EP_A2A_AUTO,
                          .dispatch_bytes = 1.0 + 4.0 / 128.0,
                          .combine_bytes = 2.0};
    wp_perf_params_default(&p->perf);
    for (size_t i = 0; i < N_CONSTS; i++) {
        wp_status_t st = wp_ep_const_set(p, i, consts[i].value, NULL);
        (void)st; /* the table's own values are in range */
    }
}

static wp_status_t check_params(const wp_ep_params_t *q, wp_err_t *err)
{
    if (q->ranks_per_node < 1 || q->redundant_experts < 0 || q->mode < WP_EP_A2A_AUTO ||
        q->mode > WP_EP_A2A_LOW_LATENCY || q->mtp_tokens < 0 || q->mtp_tokens > 4)
        return wp_err_set(err, WP_EINVAL,
                          "expert parallel: ranks per node %d must be >= 1, redundant experts %d "
                          ">= 0, all-to-all mode %d known, MTP tokens %d in [0, 4]",
                          q->ranks_per_node, q->redundant_experts, (int)q->mode, q->mtp_tokens);
    if (!(q->imbalance >= 1.0 && q->imbalance < 1e3))
        return wp_err_set(err, WP_EINVAL, "expert parallel: epImbalance %g must be in [1, 1000)",
                          q->imbalance);
    if (!(q->a2a_sm_share >= 0.0 && q->a2a_sm_share < 1.0))
        return wp_err_set(err, WP_EINVAL,
                          "expert parallel: a2aNormalSmShare %g must be in [0, 1): compute needs "
                          "some SMs",
                          q->a2a_sm_share);
    if (!(q->dispatch_bytes > 0.0 && q->dispatch_bytes <= 8.0 && q->combine_bytes > 0.0 &&
          q->combine_bytes <= 8.0))
        return wp_err_set(err, WP_EINVAL,
                          "expert parallel: dispatch %g and combine %g bytes per element must be "
                          "in (0, 8]",
                          q->dispatch_bytes, q->combine_bytes);
    wp_ep_params_t copy = *q;
    for (size_t i = 0; i < N_CONSTS; i++) {
        double *v = (double *)(void *)((char *)&copy + consts[i].off);
        wp_status_t st = wp_ep_const_set(&copy, i, *v / consts[i].scale, err);
        if (st != WP_OK)
            return st;
        if (!(*v > 0.0))
            return wp_err_set(err, WP_EINVAL, "expert parallel: %s must be > 0", consts[i].key);
    }
    return WP_OK;
}

static wp_status_t place(wp_ep_t *ep, wp_err_t *err)
{
    const wp_model_spec_t *m = ep->perf.model;
    const wp_perf_t *p = &ep->perf;
    int physical = m->n_experts + ep->params.redundant_experts;
    if (ep->ranks < 2 || physical % ep->ranks != 0)
        return wp_err_set(err, WP_EINVAL,
                          "expert parallel over %d ranks: need at least 2 ranks, dividing the %d "
                          "experts (%d routed + %d redundant)",
                          ep->ranks, physical, m->n_experts, ep->params.redundant_experts);
    ep->experts_per_rank = physical / ep->ranks;
    ep->moe_layers = m->layers - m->dense_layers;
    /* Prefill runs MLA un-absorbed (attention over up-projected keys of head + rope dims and
     * values of head dims), decode absorbed (perf.c's pair cost, over the latent). */
    ep->prefill_attn_scale = wp_model_is_mla(m) ? (2.0 * m->head_dim + m->rope_dim) /
                                                      (2.0 * m->kv_lora_rank + m->rope_dim)
                                                : 1.0;
    int node = ep->params.ranks_per_node < ep->ranks ? ep->params.ranks_per_node : ep->ranks;
    ep->remote_share = (double)(ep->ranks - node) / ep->ranks;
    int nodes = (ep->ranks + node - 1) / node;
    double k = m->top_k;
    ep->node_share = nodes > 1 ? nodes * (1.0 - pow(1.0 - 1.0 / nodes, k)) / k : 0.0;
    double dense = p->weight_bytes - p->expert_params * m->n_experts * p->expert_bytes;
    ep->weight_bytes_rank = dense + ep->experts_per_rank * p->expert_params * p->expert_bytes;
    double usable = p->gpu->hbm_bytes * p->params.gpu_memory_utilization;
    double free_bytes = usable - ep->weight_bytes_rank - p->params.activation_reserve;
    if (free_bytes < p->kv_bytes_token_gpu)
        return wp_err_set(err, WP_EINVAL,
                          "model %s does not fit on %s with %d experts per rank: %.1f GB of "
                          "weights and %.1f GB reserve per rank, %.1f GB usable",
                          m->name, p->gpu->name, ep->experts_per_rank, ep->weight_bytes_rank / 1e9,
                          p->params.activation_reserve / 1e9, usable / 1e9);
    ep->kv_capacity_tokens = (int64_t)floor(free_bytes / p->kv_bytes_token_gpu);
    return WP_OK;
}

wp_status_t wp_ep_init(wp_ep_t *ep, const wp_model_spec_t *m, const wp_gpu_spec_t *g, int ranks,
                       const wp_ep_params_t *params, wp_err_t *err)
{
    if (ep == NULL || m == NULL || g == NULL)
        return wp_err_set(err, WP_EINVAL, "expert parallel model needs a model and a GPU");
    if (!wp_model_is_moe(m))
        return wp_err_set(err, WP_EINVAL, "expert parallel: model %s is dense (no routed experts)",
                          m->name);
    *ep = (wp_ep_t){.ranks = ranks};
    if (params != NULL)
        ep->params = *params;
    else
        wp_ep_params_default(&ep->params);
    wp_status_t st = check_params(&ep->params, err);
    if (st == WP_OK)
        st = wp_perf_init_shape(&ep->perf, m, g, 1, &ep->params.perf, err);
    return st != WP_OK ? st : place(ep, err);
}

int64_t wp_ep_kv_capacity_tokens(const wp_ep_t *ep)
{
    return ep->kv_capacity_tokens;
}

/* Query tokens a decode sequence brings to a step: itself and its MTP drafts. */
static double queries(const wp_ep_t *ep)
{
    return 1.0 + ep->params.mtp_tokens;
}

static double tokens(const wp_ep_t *ep, const wp_perf_batch_t *b)
{
    return (double)b->prefill_tokens + (double)b->decode_seqs * queries(ep);
}

/* The batch whose FLOPs perf.c costs: every query of a decode sequence attends to its whole
 * context, and prefill pairs cost the un-absorbed form. */
static wp_perf_batch_t compute_batch(const wp_ep_t *ep, const wp_perf_batch_t *b)
{
    wp_perf_batch_t c = *b;
    double q = queries(ep);
    c.decode_seqs = (int64_t)((double)b->decode_seqs * q);
    c.decode_ctx = (int64_t)((double)b->decode_ctx * q);
    c.prefill_attn = b->prefill_attn * ep->prefill_attn_scale;
    return c;
}

/* Each micro-batch reads every weight it uses: two passes over them with overlap. */
static double passes(const wp_ep_t *ep)
{
    return ep->params.overlap ? 2.0 : 1.0;
}

/* Compute on the MTP-widened batch; memory: the dense weights once per micro-batch and each
 * sequence's KV once (its drafts share the read). */
static double dense_time(const wp_ep_t *ep, const wp_perf_batch_t *b, double sms)
{
    const wp_perf_t *p = &ep->perf;
    double bw = p->gpu->mem_bw;
    wp_perf_batch_t c = compute_batch(ep, b);
    double compute = wp_perf_dense_compute_time(p, &c) / sms;
    double memory = passes(ep) * p->step_weight_bytes / (bw * p->params.decode_mbu) +
                    wp_perf_kv_bytes_per_gpu(p, b) / (bw * p->params.attn_mbu);
    return compute > memory ? compute : memory;
}

/* The busiest rank's experts: `slots` token-slots per MoE layer at epMoeMfu of the weights'
 * peak; each micro-batch's share of them, spread uniformly over the n local experts,
 * touches each one with probability 1 - (1 - 1/n)^share and reads it. */
static double expert_time(const wp_ep_t *ep, double slots, double sms, double *flops)
{
    const wp_perf_t *p = &ep->perf;
    double n = ep->experts_per_rank, k = passes(ep);
    *flops = 2.0 * p->expert_params * slots;
    double compute = *flops / (p->peak_flops * ep->params.moe_eff * sms);
    double touched = k * n * (1.0 - pow(1.0 - 1.0 / n, slots / k));
    double memory =
        touched * p->expert_params * p->expert_bytes / (p->gpu->mem_bw * p->params.decode_mbu);
    return compute > memory ? compute : memory;
}

/* Seconds of one dispatch or combine moving `bytes` to and from one rank. */
static double link_time(const wp_ep_t *ep, double bytes, bool low_latency)
{
    const wp_ep_params_t *q = &ep->params;
    double nvl = bytes * (1.0 - ep->remote_share) / (ep->perf.gpu->nvlink_bw * q->a2a_nvlink_share);
    double rdma = low_latency ? bytes * ep->remote_share / q->a2a_ll_rdma_bw
                              : bytes * ep->node_share / q->a2a_rdma_bw;
    double t = nvl > rdma ? nvl : rdma;
    if (low_latency)
        t += q->a2a_latency_s * passes(ep);
    return t;
}

static bool use_low_latency(const wp_ep_t *ep, const wp_perf_batch_t *per_rank, int n)
{
    if (ep->params.mode != WP_EP_A2A_AUTO)
        return ep->params.mode == WP_EP_A2A_LOW_LATENCY;
    for (int r = 0; r < n; r++)
        if (per_rank[r].prefill_tokens > 0)
            return false;
    return true;
}

/* The MTP module (one more layer) runs once per draft token on one token per sequence: of
 * the step's dense and expert time, mtp / ((1 + mtp) x layers) for each sequence's share. */
static double draft_time(const wp_ep_t *ep, const wp_perf_batch_t *b, double main_s)
{
    double t = tokens(ep, b);
    if (ep->params.mtp_tokens == 0 || b->decode_seqs == 0 || t <= 0.0)
        return 0.0;
    double share = (double)b->decode_seqs / t;
    return main_s * share * ep->params.mtp_tokens / (queries(ep) * ep->perf.model->layers);
}

static void rank_step(const wp_ep_t *ep, const wp_perf_batch_t *b, double slots, bool ll,
                      wp_ep_step_detail_t *d)
{
    const wp_model_spec_t *m = ep->perf.model;
    double layers = ep->moe_layers;
    double sent = tokens(ep, b) * m->top_k;
    double moved = sent > slots ? sent : slots;
    /* Normal kernels run on SMs of their own while they overlap compute; low-latency ones
     * on none (DeepSeek's figures: 24 of 132 SMs in prefill, 0 in decode). */
    double sms = ep->params.overlap && !ll ? 1.0 - ep->params.a2a_sm_share : 1.0;
    d->dense_s = dense_time(ep, b, sms);
    d->expert_s = expert_time(ep, slots, sms, &d->expert_flops);
    d->draft_s = draft_time(ep, b, d->dense_s + d->expert_s);
    d->routed_slots = slots;
    d->dispatch_bytes = moved * m->hidden * ep->params.dispatch_bytes;
    d->combine_bytes = moved * m->hidden * ep->params.combine_bytes;
    d->dispatch_s = layers * link_time(ep, d->dispatch_bytes, ll);
    d->combine_s = layers * link_time(ep, d->combine_bytes, ll);
    double compute = d->dense_s + d->expert_s + d->draft_s, a2a = d->dispatch_s + d->combine_s;
    double shorter = compute < a2a ? compute : a2a;
    d->hidden_s = ep->params.overlap ? ep->params.overlap_share * shorter : 0.0;
    wp_perf_batch_t c = compute_batch(ep, b);
    d->overhead_s = wp_perf_overhead_time(&ep->perf, &c);
    d->low_latency = ll;
    d->step_s = compute + a2a - d->hidden_s + d->overhead_s;
}

/* Routed slots on the busiest rank's experts per MoE layer for `total` tokens in the group. */
static double busiest_slots(const wp_ep_t *ep, double total)
{
    double all = total * ep->perf.model->top_k;
    double slots = all / ep->ranks * ep->params.imbalance;
    return slots < all ? slots : all;
}

double wp_ep_step_time(const wp_ep_t *ep, const wp_perf_batch_t *per_rank, int n_ranks,
                       wp_ep_step_detail_t *out)
{
    if (n_ranks != ep->ranks)
        return -1.0;
    double total = 0.0;
    for (int r = 0; r < n_ranks; r++)
        total += tokens(ep, &per_rank[r]);
    wp_ep_step_detail_t best = {.slowest_rank = 0};
    if (total > 0.0) {
        double slots = busiest_slots(ep, total);
        bool ll = use_low_latency(ep, per_rank, n_ranks);
        for (int r = 0; r < n_ranks; r++) {
            wp_ep_step_detail_t d = {.slowest_rank = r};
            rank_step(ep, &per_rank[r], slots, ll, &d);
            if (r == 0 || d.step_s > best.step_s)
                best = d;
        }
    }
    if (out != NULL)
        *out = best;
    return best.step_s;
}

/* The step of a group whose ranks all run batch b (wp_ep_step_time without the array). */
static double uniform_step(const wp_ep_t *ep, const wp_perf_batch_t *b, wp_ep_step_detail_t *out)
{
    wp_ep_step_detail_t d = {.slowest_rank = 0};
    double slots = busiest_slots(ep, tokens(ep, b) * ep->ranks);
    rank_step(ep, b, slots, use_low_latency(ep, b, 1), &d);
    if (out != NULL)
        *out = d;
    return d.step_s;
}

double wp_ep_tokens_per_step(const wp_ep_t *ep)
{
    double sum = 1.0, term = 1.0;
    for (int i = 0; i < ep->params.mtp_tokens; i++) {
        term *= ep->params.mtp_accept;
        sum += term;
    }
    return sum;
}

double wp_ep_decode_throughput(const wp_ep_t *ep, int batch_per_rank, double context_tokens,
                               wp_ep_step_detail_t *out)
{
    if (batch_per_rank < 1 || !(context_tokens >= 1.0))
        return -1.0;
    wp_perf_batch_t b = {.decode_seqs = batch_per_rank,
                         .decode_ctx = (int64_t)llround(batch_per_rank * context_tokens)};
    double step = uniform_step(ep, &b, out);
    return batch_per_rank * wp_ep_tokens_per_step(ep) / step;
}

double wp_ep_prefill_throughput(const wp_ep_t *ep, int tokens_per_rank, int prompt_len,
                                double hit_rate, wp_ep_step_detail_t *out)
{
    if (tokens_per_rank < 1 || prompt_len < 1 || !(hit_rate >= 0.0 && hit_rate < 1.0))
        return -1.0;
    double cached = prompt_len * hit_rate, computed = prompt_len - cached;
    if (computed < 1.0)
        return -1.0;
    /* A prompt's computed tokens attend to positions cached + 1 .. prompt_len. */
    double pairs = (prompt_len * (prompt_len + 1.0) - cached * (cached + 1.0)) / 2.0;
    wp_perf_batch_t b = {.prefill_tokens = tokens_per_rank,
                         .prefill_attn = pairs * tokens_per_rank / computed};
    double step = uniform_step(ep, &b, out);
    return tokens_per_rank / (1.0 - hit_rate) / step;
}
