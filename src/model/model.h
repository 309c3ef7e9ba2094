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
    bool tied_embeddings;  /* input embedding and LM head share one matrix */
    int64_t params_total;  /* all parameters, embeddings included */
    int64_t params_active; /* parameters used per token (== total for dense models) */
    int n_experts;         /* routed experts; 0 for dense */
    int top_k;             /* routed experts per token; 0 for dense */
    int kv_lora_rank;      /* MLA latent rank; 0 when the model uses plain GQA */
    int rope_dim;          /* MLA decoupled rope key dimension */
    int max_model_len;     /* longest context served by default */
} wp_model_spec_t;

typedef struct wp_gpu_spec_s {
    const char *name;  /* "h100" */
    const char *desc;  /* "NVIDIA H100 SXM 80GB" */
    double bf16_flops; /* dense peak, FLOP/s */
    double fp8_flops;  /* dense peak, FLOP/s; 0 when the GPU has no FP8 tensor cores */
    double hbm_bytes;
    double mem_bw;    /* bytes/s */
    double nvlink_bw; /* bytes/s per GPU */
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
    double weight_bytes;           /* per weight element: 2 = BF16, 1 = FP8 */
    double kv_bytes;               /* per KV-cache element */
    double prefill_mfu;            /* fraction of peak FLOP/s reached */
    double decode_mbu;             /* fraction of memory bandwidth reached */
    double step_overhead_s;        /* fixed CPU cost of one engine iteration */
    double gpu_memory_utilization; /* vLLM's --gpu-memory-utilization */
    double activation_reserve;     /* bytes per GPU kept for activations, graphs */
    double allreduce_latency_s;    /* fixed cost of one tensor-parallel all-reduce */
} wp_perf_params_t;

/* Defaults: BF16 weights and KV, MFU 0.5, MBU 0.75, 3 ms overhead, utilization 0.9,
 * 4 GiB activation reserve, 5 us per all-reduce. */
void wp_perf_params_default(wp_perf_params_t *p);

typedef struct wp_perf_s {
    const wp_model_spec_t *model;
    const wp_gpu_spec_t *gpu;
    int tp;
    wp_perf_params_t params;
    double peak_flops;         /* per GPU, for the weight dtype */
    double weight_bytes;       /* whole model */
    double shared_params;      /* parameters every token reads (attention, dense, embeddings) */
    double expert_params;      /* one routed expert over all layers; 0 for dense */
    double flop_params;        /* active parameters in matmuls per token (no embeddings) */
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
/* Seconds of tensor-parallel all-reduce in the step (0 at tp 1). */
double wp_perf_allreduce_time(const wp_perf_t *p, const wp_perf_batch_t *b);
/* max(compute, memory) + overhead + all-reduce; 0 for an empty batch. */
double wp_perf_step_time(const wp_perf_t *p, const wp_perf_batch_t *b);

#endif
