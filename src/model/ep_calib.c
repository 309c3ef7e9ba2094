/*
 * model/ep_calib: the published wide-EP rows and their readings.
 *
 * DeepSeek (open-infra-index, "Day 6: DeepSeek-V3/R1 Inference System Overview"; H800):
 * decode units of 18 nodes (EP144, 32 redundant experts: 2 per GPU), prefill units of 4
 * nodes (EP32, 9 experts per GPU), both with two micro-batches; ~14.8k output tokens/s per
 * node in decode and ~73.7k input tokens/s per node in prefill (cache hits included; 56.3 %
 * of input tokens hit the on-disk KV cache), averaged over 24 hours; users saw 20–22
 * output tokens/s; 608B input and 168B output tokens; 4,989 tokens of KV on average per
 * output token. The readings:
 *
 *   decode batch per rank = 14,800 / 8 / 21 = 88 sequences (Little's law: throughput over
 *     the per-user speed), context 4,989, MTP with one draft token (DeepSeek-V3's report).
 *   prefill prompt: with I input and O output tokens per request, I / O = 608 / 168 and the
 *     mean KV per output token I + O / 2 = 4,989 give I = 4,384, O = 1,211; 16,384 computed
 *     tokens per rank per step (DeepSeek's profile-data); the first 56.3 % of each prompt
 *     cached (attended to, not computed).
 *
 * llm-d's wide-EP guide (guides/wide-ep-lws: 1 prefill worker DP=16 + 1 decode worker
 * DP=16, DeepEP low-latency + DeepGEMM + dual-batch overlap in decode, no EPLB, no MTP;
 * inference-perf at 2,048 concurrent requests): ~50k output tokens/s in all on 32 B200 at
 * 1k/1k, i.e. 3.1k per decode GPU; ~2.2k per H200 (vLLM's "2.2k tok/s/H200" post,
 * the same guide on CoreWeave); the guide's own README, 2k/2k on 32 H200: 25,176 output
 * tokens/s, ~1.6k per decode GPU. Read as 2,048 / 16 = 128 sequences per decode rank at the
 * mean context prompt + output / 2.
 */
#include "model/ep_calib.h"

static const wp_ep_calib_row_t rows[] = {
    {"DeepSeek decode", "DeepSeek open-infra-index, Day 6", "h800", 144, 32, 1, false, 88, 4989.0,
     0.0, 8, 14800.0, "output tok/s per node",
     "H800, EP144 (18 nodes), 32 redundant, MTP 1, 88 seqs/rank (14.8k / 8 / 21 tok/s), KV 4,989",
     "sets epOverlapShare", true},
    {"DeepSeek prefill", "DeepSeek open-infra-index, Day 6", "h800", 32, 32, 0, true, 16384, 4384.0,
     0.563, 8, 73700.0, "input tok/s per node (hits incl.)",
     "H800, EP32 (4 nodes), 32 redundant, 16,384 computed tokens/rank, prompts 4,384, 56.3 % hit",
     "check (a 24-hour average: capacity should be above it)", true},
    {"llm-d wide-EP, B200", "llm-d production guide", "b200", 16, 0, 0, false, 128, 1500.0, 0.0, 1,
     3100.0, "output tok/s per decode GPU",
     "B200, decode DP16/EP16 (2 nodes), no EPLB, no MTP, 128 seqs/rank (2,048 / 16), 1k/1k: KV "
     "1,500",
     "check", true},
    {"llm-d wide-EP, H200", "vLLM blog, 2.2k tok/s/H200 (llm-d)", "h200", 16, 0, 0, false, 128,
     1500.0, 0.0, 1, 2200.0, "output tok/s per decode GPU",
     "H200, same reading as the B200 row (1k/1k assumed: the post gives no lengths)", "check",
     true},
    {"llm-d wide-EP, H200 2k/2k", "llm-d guide README (CKS, InfiniBand)", "h200", 16, 0, 0, false,
     128, 3000.0, 0.0, 1, 1600.0, "output tok/s per decode GPU",
     "H200, decode DP16/EP16, 128 seqs/rank, 2k/2k: KV 3,000 (25,176 / 16 decode GPUs)",
     "check, left outside", false},
};
#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

size_t wp_ep_calib_count(void)
{
    return N_ROWS;
}

const wp_ep_calib_row_t *wp_ep_calib_at(size_t i)
{
    return i < N_ROWS ? &rows[i] : NULL;
}

double wp_ep_calib_eval(const wp_ep_calib_row_t *r, const wp_ep_params_t *params,
                        wp_ep_step_detail_t *d, wp_err_t *err)
{
    wp_ep_params_t pp;
    if (params != NULL)
        pp = *params;
    else
        wp_ep_params_default(&pp);
    pp.ranks_per_node = 8;
    pp.redundant_experts = r->redundant_experts;
    pp.mtp_tokens = r->mtp_tokens;
    pp.overlap = true;
    pp.mode = WP_EP_A2A_AUTO;
    const wp_gpu_spec_t *g = wp_gpu_find(r->gpu);
    wp_ep_t ep;
    if (wp_ep_init(&ep, wp_model_find("deepseek-r1"), g, r->ranks, &pp, err) != WP_OK)
        return -1.0;
    double per_gpu = r->prefill
                         ? wp_ep_prefill_throughput(&ep, r->batch, (int)r->context, r->hit_rate, d)
                         : wp_ep_decode_throughput(&ep, r->batch, r->context, d);
    return per_gpu < 0.0 ? per_gpu : per_gpu * r->gpus_per_figure;
}

double wp_ep_calib_error(const wp_ep_calib_row_t *r, double model)
{
    return (model - r->published) / r->published;
}
