/*
 * model: the catalog of model architectures and GPUs, and the roofline performance model
 * that turns one engine step (prefill tokens, decode sequences, context lengths) into
 * seconds and a model + GPU + tensor-parallel degree into a KV-cache capacity.
 *
 * Catalog entries are static constants: the pointers returned by wp_model_find,
 * wp_model_at and wp_gpu_find stay valid for the life of the program and must not be
 * freed. Lookups are case-insensitive and accept the canonical name ("qwen3-32b"), the
 * Hugging Face id ("Qwen/Qwen3-32B") and the id's last part ("Qwen3-32B").
 *
 * wp_perf_t is plain data, filled once by wp_perf_init and read-only afterwards; it keeps
 * borrowed pointers to its catalog entries. Invariants after a successful init: tp is 1, 2,
 * 4 or 8; the weights and the activation reserve fit in each GPU's usable memory; the KV
 * capacity is at least one token. Step times are deterministic functions of the batch.
 *
 * Units: bytes, FLOPs, seconds, bytes per second (decimal), memory sizes in bytes.
 * Calibration against docs/reference.md §7 lives in tests/unit/model/test_perf.c.
 */
#ifndef WP_MODEL_MODEL_H
#define WP_MODEL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Weight precision of a checkpoint. NATIVE (0) means "the checkpoint's own": the spec's
 * `precision`. FP8: every linear layer (attention, MLP, experts) in one byte, embeddings and
 * LM head in BF16, matmuls at the GPU's FP8 peak. MXFP4 (gpt-oss): expert weights in 4-bit
 * blocks of 32 sharing one 8-bit scale (4.25 bits), everything else BF16; Hopper has no FP4
 * tensor cores, so matmuls run at the BF16 peak (vLLM's Marlin kernels dequantize). NVFP4
 * (NVIDIA's Blackwell checkpoints): 4-bit blocks of 16 sharing an FP8 scale (4.5 bits), on
 * the experts of an MoE model (attention stays BF16, as MXFP4) and on every linear layer of
 * a dense one; matmuls at the FP4 peak on a GPU that has one (B200), else at the BF16 peak. */
typedef enum {
    WP_PREC_NATIVE = 0,
    WP_PREC_BF16,
    WP_PREC_FP8,
    WP_PREC_MXFP4,
    WP_PREC_NVFP4,
    WP_PREC_LAST = WP_PREC_NVFP4,
} wp_precision_t;

/* "bf16", "fp8", "mxfp4", "nvfp4" ("native" for NATIVE). */
const char *wp_precision_name(wp_precision_t p);
/* Accepts those names (case-insensitive) and "fp4" for MXFP4; false for anything else. */
bool wp_precision_parse(const char *s, wp_precision_t *out);

typedef struct wp_model_spec_s {
    const char *name;  /* canonical, lower case: "qwen3-32b" */
    const char *hf_id; /* "Qwen/Qwen3-32B" */
    int layers;
    int hidden;
    int q_heads;
    int kv_heads; /* GQA key/value heads; for MLA the latent is shared by all heads */
    int head_dim;
    int ffn; /* dense FFN width; per expert for mixture-of-experts models */
    int vocab;
    bool tied_embeddings;     /* input embedding and LM head share one matrix */
    int64_t params_total;     /* all parameters, embeddings included */
    int64_t params_active;    /* parameters used per token (== total for dense models) */
    int n_experts;            /* routed experts; 0 for dense */
    int top_k;                /* routed experts per token; 0 for dense */
    int kv_lora_rank;         /* MLA latent rank; 0 when the model uses plain GQA */
    int rope_dim;             /* MLA decoupled rope key dimension */
    int max_model_len;        /* longest context served by default */
    wp_precision_t precision; /* the published checkpoint's; NATIVE reads as BF16 */
    int dense_layers;         /* MoE: first layers with a dense MLP instead of experts */
    int sliding_window;       /* tokens a sliding-window layer attends to; 0: none */
    int sliding_layers;       /* how many of the layers use it (< layers) */
} wp_model_spec_t;

typedef struct wp_gpu_spec_s {
    const char *name;  /* "h100" */
    const char *desc;  /* "NVIDIA H100 SXM 80GB" */
    double bf16_flops; /* dense peak, FLOP/s */
    double fp8_flops;  /* dense peak, FLOP/s; 0 when the GPU has no FP8 tensor cores */
    double fp4_flops;  /* dense peak, FLOP/s; 0 when the GPU has no FP4 tensor cores */
    double hbm_bytes;
    double mem_bw;    /* bytes/s */
    double nvlink_bw; /* bytes/s per GPU */
    /* Host link, CPU memory to this GPU, bytes/s one way, as a KV load sees it: PCIe Gen4 x16
     * (A100) or Gen5 x16 (H100, H200, H800, B200) at 85 % of the link's 32 / 64 GB/s
     * (docs/cost-levers.md). CPU KV offload loads at this rate per GPU. */
    double host_bw;
} wp_gpu_spec_t;

/* Catalog lookups; NULL when unknown. */
const wp_model_spec_t *wp_model_find(const char *name);
size_t wp_model_count(void);
const wp_model_spec_t *wp_model_at(size_t i); /* NULL when i >= count */
const wp_gpu_spec_t *wp_gpu_find(const char *name);
size_t wp_gpu_count(void);
const wp_gpu_spec_t *wp_gpu_at(size_t i);

/* Checks a spec's internal consistency (positive sizes, heads divide evenly, MoE fields
 * set together, active <= total, dense params match the architecture). */
wp_status_t wp_model_validate(const wp_model_spec_t *m, wp_err_t *err);
/* Parameters of a dense transformer computed from its shape (attention, SwiGLU MLP,
 * norms, embeddings). For MoE specs this counts one expert's MLP per layer. */
int64_t wp_model_dense_params(const wp_model_spec_t *m);
bool wp_model_is_moe(const wp_model_spec_t *m);
bool wp_model_is_mla(const wp_model_spec_t *m);

typedef struct wp_perf_params_s {
    /* Settings of the deployment (vLLM flags). */
    wp_precision_t precision;      /* weights; NATIVE = the model's checkpoint */
    double kv_bytes;               /* per KV-cache element: 2 (auto, BF16) or 1 (fp8) */
    double gpu_memory_utilization; /* vLLM's --gpu-memory-utilization */
    int cudagraph_max_tokens;      /* steps of at most this many tokens replay a CUDA graph;
                                      0 = every step does (vLLM's max_cudagraph_capture_size) */
    /* The calibrated constants: one row each in wp_perf_consts (docs/calibration.md). */
    double prefill_mfu;         /* dense matmuls and attention: fraction of peak FLOP/s */
    double moe_mfu;             /* fused-MoE expert matmuls: share of the BF16 peak, any dtype */
    double decode_mbu;          /* weight reads: fraction of HBM bandwidth */
    double attn_mbu;            /* KV-cache reads by the attention kernels: fraction */
    double step_overhead_s;     /* CPU time of one engine iteration not hidden by the GPU */
    double layer_latency_s;     /* GPU time floor of one layer's kernels in a CUDA graph */
    double moe_slot_latency_s;  /* extra floor of an MoE layer per routed expert (top_k) */
    double eager_layer_s;       /* launch cost of one layer in a step run without a graph */
    double eager_moe_layer_s;   /* extra launch cost of an MoE layer there (routing kernels) */
    double allreduce_latency_s; /* one all-reduce, per synchronisation round (log2 tp) */
    double allreduce_bw_share;  /* all-reduce bandwidth: share of the GPU's NVLink figure */
    double activation_reserve;  /* bytes per GPU kept out of the KV pool */
} wp_perf_params_t;

/* The calibrated constants as a table: the topology key under simulation.engineModel,
 * where the value lives, its calibrated value and range, and the unit factor (topology
 * value x scale = params value). `slow_hi`: its high end makes steps slower (costs) rather
 * than faster (efficiencies). */
typedef struct wp_perf_const_s {
    const char *key;
    size_t off; /* of the double in its table's params struct (wp_perf_params_t here) */
    double value, lo, hi;
    double scale;
    bool slow_hi;
    bool memory; /* sizes the KV pool, not a step: the uncertainty band leaves it put (an
                    end could make a topology that fits not fit) */
    const char *what;
} wp_perf_const_t;

#define WP_PERF_MAX_CONSTS 16
size_t wp_perf_const_count(void);
const wp_perf_const_t *wp_perf_const_at(size_t i); /* NULL when i >= count */
/* Index of a key, -1 when unknown. */
int wp_perf_const_find(const char *key);
/* The same in any table of n rows (model/ep.h has its own). */
int wp_perf_const_find_in(const wp_perf_const_t *rows, size_t n, const char *key);
/* Sets constant i from a topology value; WP_EINVAL outside (0, 1] for shares, < 0 for
 * costs, with the key and the value in the message. */
wp_status_t wp_perf_const_set(wp_perf_params_t *p, size_t i, double value, wp_err_t *err);
/* Sets the double that row c describes in `params` (the struct its table's offsets refer to:
 * wp_perf_params_t here, wp_ep_params_t for model/ep.h's table) with the checks above. */
wp_status_t wp_perf_const_apply(void *params, const wp_perf_const_t *c, double value,
                                wp_err_t *err);
/* Every step constant (not the memory ones) at the end of its range that makes steps slower
 * (slow) or faster. */
void wp_perf_params_at_end(wp_perf_params_t *p, bool slow);

/* Defaults: the checkpoint's weights, BF16 KV, utilization 0.9, every step in a graph,
 * and every constant at its calibrated value. */
void wp_perf_params_default(wp_perf_params_t *p);

typedef struct wp_perf_s {
    const wp_model_spec_t *model;
    const wp_gpu_spec_t *gpu;
    int tp;
    wp_perf_params_t params;
    wp_precision_t precision;  /* resolved: never NATIVE */
    double peak_flops;         /* per GPU, for the weight dtype */
    double weight_bytes;       /* whole model, in its precision */
    double embed_params;       /* one vocab x hidden matrix (input embedding or LM head) */
    double linear_params;      /* non-expert matmul weights and norms, all layers */
    double expert_params;      /* one routed expert over all layers; 0 for dense */
    double linear_bytes;       /* bytes per non-expert linear weight */
    double expert_bytes;       /* bytes per expert weight */
    double step_weight_bytes;  /* weights one step reads at least: linear + LM head */
    double flop_params;        /* active parameters in matmuls per token (no embeddings) */
    double expert_flop_params; /* of which in routed experts: top_k x expert_params */
    double attn_peak_flops;    /* attention runs in BF16 whatever the weights */
    double attn_flops_pair;    /* FLOPs per (query token, attended token) pair, all layers */
    double lm_head_flops;      /* FLOPs for the logits of one sampled token */
    double kv_bytes_token;     /* KV bytes per token, whole model (all layers, all heads) */
    double kv_bytes_token_gpu; /* the share one GPU holds at this tp */
    int64_t kv_capacity_tokens;
} wp_perf_t;

/* Fills p. params may be NULL for defaults. Fails with WP_EINVAL (message with the
 * numbers) when tp is not 1, 2, 4 or 8, when a parameter is out of range or when the
 * weights do not fit. */
/* The simulated KV link between a prefill and a decode server, by NIXL transport name:
 * "rdma" (InfiniBand NDR / RoCE, 400 Gb/s = 50 GB/s, 5 us) or "tcp" (25 Gb/s = 3.125 GB/s,
 * 50 us). WP_EINVAL for another name. */
wp_status_t wp_model_link(const char *transport, double *bytes_per_s, double *latency_s);

wp_status_t wp_perf_init(wp_perf_t *p, const wp_model_spec_t *m, const wp_gpu_spec_t *g, int tp,
                         const wp_perf_params_t *params, wp_err_t *err);

/* wp_perf_init without the memory check: derives the per-token constants and leaves
 * kv_capacity_tokens 0. For engines whose weights are not split by tp alone (model/ep.h
 * places the experts over many GPUs and sizes the KV pool itself). */
wp_status_t wp_perf_init_shape(wp_perf_t *p, const wp_model_spec_t *m, const wp_gpu_spec_t *g,
                               int tp, const wp_perf_params_t *params, wp_err_t *err);

/* (HBM x utilization - weights/tp - activation reserve) / KV bytes per token per GPU. */
int64_t wp_perf_kv_capacity_tokens(const wp_perf_t *p);

/* One continuous-batching step. prefill_attn is the sum over prefill chunks of
 * (chunk tokens x tokens each attends to); decode_ctx the sum of decode context lengths. */
typedef struct wp_perf_batch_s {
    int64_t prefill_tokens;
    double prefill_attn;
    int64_t decode_seqs;
    int64_t decode_ctx;
} wp_perf_batch_t;

/* FLOPs of the step, summed over all GPUs. */
double wp_perf_flops(const wp_perf_t *p, const wp_perf_batch_t *b);
/* Bytes one GPU moves to and from HBM during the step (weights, KV reads and writes). */
double wp_perf_bytes_per_gpu(const wp_perf_t *p, const wp_perf_batch_t *b);
/* Seconds one GPU spends on the step's matmuls outside the routed experts (at prefillMfu of
 * the weights' peak, LM head included) and on attention (at prefillMfu of the BF16 peak). */
double wp_perf_dense_compute_time(const wp_perf_t *p, const wp_perf_batch_t *b);
/* KV-cache bytes one GPU reads and writes during the step (part of wp_perf_bytes_per_gpu). */
double wp_perf_kv_bytes_per_gpu(const wp_perf_t *p, const wp_perf_batch_t *b);
/* Seconds of tensor-parallel all-reduce in the step (0 at tp 1). */
double wp_perf_allreduce_time(const wp_perf_t *p, const wp_perf_batch_t *b);
/* The step's fixed costs: step_overhead + layers x layer floor + MoE layers x top_k x the
 * MoE slot floor when the step replays a CUDA graph; step_overhead + layers x eager_layer +
 * MoE layers x the eager MoE extra when it has more tokens than cudagraph_max_tokens. MoE
 * layers are the layers less the model's dense first ones. */
double wp_perf_overhead_time(const wp_perf_t *p, const wp_perf_batch_t *b);
/* max(compute, memory) + overhead + all-reduce; 0 for an empty batch. */
double wp_perf_step_time(const wp_perf_t *p, const wp_perf_batch_t *b);

#endif
