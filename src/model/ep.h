/*
 * model/ep: the step time of a wide expert-parallel group (DP attention + EP MoE), the
 * engine of DESIGN.md's Path 3 as DeepSeek serves V3/R1 and SGLang/vLLM copy it: `ranks`
 * GPUs, each a data-parallel rank with its own batch, attention, KV cache and a replica of
 * every dense weight, and the routed experts (plus optional redundant copies) spread evenly
 * over all of them. Each MoE layer dispatches every token's hidden state to the ranks
 * holding its top_k experts and combines the results back (DeepEP's all-to-alls).
 *
 * wp_ep_t is plain data, filled once by wp_ep_init and read-only afterwards; it keeps
 * borrowed pointers to its catalog entries (static, or the caller's for as long as the
 * wp_ep_t is used). Invariants after a successful init: the model is MoE; 2 <= ranks and
 * ranks divides experts + redundant experts; each rank's weights and activation reserve
 * fit in its usable memory with room for at least one KV token. Step times are
 * deterministic functions of the per-rank batches. Nothing here allocates.
 *
 * The model and its sources: docs/models.md, "Wide expert parallelism". Its constants come
 * from kernel tables (DeepGEMM, DeepEP) and DeepSeek-V3's report, and are checked against
 * two published deployments through wp_ep_decode_throughput and wp_ep_prefill_throughput
 * (bench/ep_calibration.c prints the table; docs/calibration.md, "Wide-EP (Path 3)").
 */
#ifndef WP_MODEL_EP_H
#define WP_MODEL_EP_H

#include <stdbool.h>
#include <stdint.h>

#include "model/model.h"

/* DeepEP's two kinds of all-to-all kernels. AUTO: low-latency for a step without prefill
 * tokens on any rank (a decode group), normal otherwise. */
typedef enum {
    WP_EP_A2A_AUTO = 0,
    WP_EP_A2A_NORMAL,      /* throughput kernels: NVLink and RDMA at once, no fixed cost */
    WP_EP_A2A_LOW_LATENCY, /* decode kernels: a fixed cost per call, lower RDMA bandwidth */
} wp_ep_a2a_mode_t;

typedef struct wp_ep_params_s {
    wp_perf_params_t perf; /* each rank's engine: perf.c's calibrated constants and settings */
    /* The deployment. */
    int ranks_per_node;    /* GPUs sharing an NVLink domain (8) */
    int redundant_experts; /* extra expert replicas spread over the ranks (EPLB); 0 */
    bool overlap;          /* two micro-batches hide the all-to-alls behind compute */
    wp_ep_a2a_mode_t mode;
    int mtp_tokens; /* multi-token prediction: draft tokens each decode sequence verifies per
                       step (0: none; DeepSeek serves with 1); at most 4 */
    /* The constants: one row each in wp_ep_const_at's table (values and sources there). */
    double imbalance;        /* busiest rank's routed token-slots / the mean (>= 1) */
    double moe_eff;          /* routed-expert grouped GEMMs: share of the weights' peak */
    double overlap_share;    /* of min(compute, all-to-all), the part two micro-batches hide */
    double mtp_accept;       /* chance that a draft token is accepted */
    double a2a_nvlink_share; /* all-to-all bandwidth inside a node: share of nvlink_bw */
    double a2a_rdma_bw;      /* normal kernels: bytes/s per GPU leaving the node */
    double a2a_ll_rdma_bw;   /* low-latency kernels: bytes/s per GPU leaving the node */
    double a2a_latency_s;    /* low-latency kernels: fixed cost of one dispatch or combine */
    double a2a_sm_share;     /* normal kernels: share of the SMs taken while overlapping */
    double dispatch_bytes;   /* per hidden element sent by dispatch: FP8 + one fp32 per 128 */
    double combine_bytes;    /* per hidden element sent back by combine: BF16 */
} wp_ep_params_t;

/* perf.c's defaults, 8 GPUs per node, no redundant experts, overlap on, AUTO, no MTP, and
 * every EP constant at its default. */
void wp_ep_params_default(wp_ep_params_t *p);

/* The EP constants as a table of wp_perf_const_t rows (`off` into wp_ep_params_t). */
size_t wp_ep_const_count(void);
const wp_perf_const_t *wp_ep_const_at(size_t i); /* NULL when i >= count */
int wp_ep_const_find(const char *key);           /* -1 when unknown */
/* Sets constant i from a value in the table's unit, with wp_perf_const_apply's checks. */
wp_status_t wp_ep_const_set(wp_ep_params_t *p, size_t i, double value, wp_err_t *err);

typedef struct wp_ep_s {
    wp_perf_t perf; /* the model on one GPU (tp 1): per-token constants; its capacity unused */
    wp_ep_params_t params;
    int ranks;
    int experts_per_rank;      /* (experts + redundant) / ranks */
    int moe_layers;            /* layers less the dense first ones: one dispatch + combine each */
    double prefill_attn_scale; /* prefill pair FLOPs over perf.c's (MLA: un-absorbed form) */
    double remote_share;       /* of a rank's routed token-slots, those whose expert is off-node */
    double node_share;         /* normal kernels: RDMA copies per routed slot, one per distinct node
                                  of a token's top_k (its own included, as DeepEP counts them) */
    double weight_bytes_rank;  /* dense weights (replicated) + the rank's experts */
    int64_t kv_capacity_tokens; /* per rank: its own KV pool (an MLA latent is not split) */
} wp_ep_t;

/* Fills ep for `ranks` GPUs of type g. params NULL: defaults. WP_EINVAL, with the numbers,
 * when the model is dense, ranks < 2, ranks does not divide experts + redundant, a setting
 * or constant is out of range, or a rank's weights do not fit. */
wp_status_t wp_ep_init(wp_ep_t *ep, const wp_model_spec_t *m, const wp_gpu_spec_t *g, int ranks,
                       const wp_ep_params_t *params, wp_err_t *err);

int64_t wp_ep_kv_capacity_tokens(const wp_ep_t *ep);

/* The breakdown of one group step, for the rank that sets it (the slowest; the lowest
 * index on ties). Times are seconds of the whole step (all layers). */
typedef struct wp_ep_step_detail_s {
    int slowest_rank;
    bool low_latency;      /* the all-to-all kernels used */
    double dense_s;        /* attention and dense parts: max(compute, weight + KV reads) */
    double expert_s;       /* routed experts: max(compute, expert weight reads) */
    double draft_s;        /* the MTP module's layer, once per draft token (0 without MTP) */
    double dispatch_s;     /* all MoE layers' dispatches, fixed costs included */
    double combine_s;      /* all MoE layers' combines */
    double hidden_s;       /* all-to-all time hidden behind compute (0 without overlap) */
    double overhead_s;     /* perf.c's step overhead and layer floors for its batch */
    double routed_slots;   /* token-slots the busiest rank's experts compute per MoE layer */
    double expert_flops;   /* 2 x expert params x routed_slots (all MoE layers) */
    double dispatch_bytes; /* per MoE layer: the larger of what it sends and receives */
    double combine_bytes;  /* per MoE layer, likewise */
    double step_s;         /* the group's step: this rank's total */
} wp_ep_step_detail_t;

/* Seconds of one step of the group; per_rank[i] is rank i's batch (n_ranks == ep->ranks, or
 * -1.0 is returned). Per rank: dense + expert + draft + dispatch + combine − hidden +
 * overhead, where hidden = overlap_share × min(dense + expert + draft, dispatch + combine)
 * with overlap. With MTP each decode sequence counts 1 + mtp_tokens tokens (one KV read).
 * The group waits for its slowest rank; a rank with an empty batch still steps (it joins
 * every all-to-all). 0 when every batch is empty. out may be NULL. */
double wp_ep_step_time(const wp_ep_t *ep, const wp_perf_batch_t *per_rank, int n_ranks,
                       wp_ep_step_detail_t *out);

/* Steady-state readings of a published setup, every rank with the same batch (pure; the
 * readings themselves are written down in docs/models.md). */

/* Output tokens per decode sequence per step: 1 + a + a^2 + ... + a^mtp_tokens, a being
 * mtp_accept (a draft token counts only when every earlier one was accepted). */
double wp_ep_tokens_per_step(const wp_ep_t *ep);

/* Output tokens/s per GPU with every rank decoding batch_per_rank sequences whose KV holds
 * context_tokens on average: batch × wp_ep_tokens_per_step / step. -1.0 when batch < 1 or
 * the context < 1. out (may be NULL) gets the step's breakdown. */
double wp_ep_decode_throughput(const wp_ep_t *ep, int batch_per_rank, double context_tokens,
                               wp_ep_step_detail_t *out);

/* Input tokens/s per GPU, cache hits included, with every rank prefilling tokens_per_rank
 * computed tokens per step out of prompts of prompt_len tokens whose first
 * prompt_len × hit_rate tokens are cached (their KV loaded, not computed; the computed
 * tokens still attend to them): tokens_per_rank / (1 − hit_rate) / step. -1.0 when a
 * count is < 1, hit_rate is outside [0, 1) or nothing of a prompt is left to compute. */
double wp_ep_prefill_throughput(const wp_ep_t *ep, int tokens_per_rank, int prompt_len,
                                double hit_rate, wp_ep_step_detail_t *out);

#endif
