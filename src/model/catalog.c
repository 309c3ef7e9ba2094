/*
 * model/catalog: static tables of model architectures and GPUs, and their lookups.
 *
 * Dense models get their parameter counts from their shape through one macro (attention
 * projections, a SwiGLU MLP of three matrices, two norms per layer, embeddings and LM
 * head unless tied), so the table cannot drift from the formula that wp_model_validate
 * checks. Mixture-of-experts models carry their published total and active counts, from
 * which perf.c derives the per-expert and shared parts. Figures are from docs/reference.md
 * §7 and the models' published configs. GPU memory sizes are binary gigabytes
 * (an "80 GB" H100 is five 16 GiB HBM3 stacks); bandwidths and FLOP/s are decimal.
 * Lookups are linear scans: the tables are tiny and lookups happen at configuration time.
 */
#include "model/model.h"

#include <string.h>
#include <strings.h>

#define GIB (1024.0 * 1024.0 * 1024.0)

#define DENSE_PARAMS(L, H, Q, KV, HD, F, V, TIED)                                                  \
    ((int64_t)(L) * ((int64_t)(H) * (Q) * (HD)*2 + (int64_t)(H) * (KV) * (HD)*2 +                  \
                     (int64_t)(H) * (F)*3 + (int64_t)(H)*2) +                                      \
     (int64_t)(V) * (H) * ((TIED) ? 1 : 2) + (int64_t)(H))

#define DENSE(NAME, HF, L, H, Q, KV, HD, F, V, TIED, MAXLEN)                                       \
    {                                                                                              \
        .name = NAME, .hf_id = HF, .layers = L, .hidden = H, .q_heads = Q, .kv_heads = KV,         \
        .head_dim = HD, .ffn = F, .vocab = V, .tied_embeddings = TIED,                             \
        .params_total = DENSE_PARAMS(L, H, Q, KV, HD, F, V, TIED),                                 \
        .params_active = DENSE_PARAMS(L, H, Q, KV, HD, F, V, TIED), .max_model_len = MAXLEN        \
    }

static const wp_model_spec_t models[] = {
    DENSE("sim-tiny", "wellpath/sim-tiny", 24, 896, 14, 2, 64, 4864, 151936, true, 32768),
    DENSE("llama-3.1-8b", "meta-llama/Llama-3.1-8B-Instruct", 32, 4096, 32, 8, 128, 14336, 128256,
          false, 131072),
    DENSE("qwen3-8b", "Qwen/Qwen3-8B", 36, 4096, 32, 8, 128, 12288, 151936, false, 32768),
    DENSE("qwen3-32b", "Qwen/Qwen3-32B", 64, 5120, 64, 8, 128, 25600, 151936, false, 32768),
    DENSE("llama-3.1-70b", "meta-llama/Llama-3.1-70B-Instruct", 80, 8192, 64, 8, 128, 28672, 128256,
          false, 131072),
    {.name = "mixtral-8x7b",
     .hf_id = "mistralai/Mixtral-8x7B-Instruct-v0.1",
     .layers = 32,
     .hidden = 4096,
     .q_heads = 32,
     .kv_heads = 8,
     .head_dim = 128,
     .ffn = 14336,
     .vocab = 32000,
     .params_total = 46700000000LL,
     .params_active = 12900000000LL,
     .n_experts = 8,
     .top_k = 2,
     .max_model_len = 32768},
    /* gpt-oss (OpenAI's model card, parameter table): 116.83B = MLP 114.71B + attention
     * 0.96B + embedding and unembedding 1.16B; the card's 5.13B active counts the
     * unembedding only, ours both matrices (as for every model here): 5.71B. Alternate layers
     * use a 128-token sliding window: their attention reads and computes over at most 128
     * tokens. The KV pool is sized as vLLM reports it (every layer full). */
    {.name = "gpt-oss-120b",
     .hf_id = "openai/gpt-oss-120b",
     .layers = 36,
     .hidden = 2880,
     .q_heads = 64,
     .kv_heads = 8,
     .head_dim = 64,
     .ffn = 2880,
     .vocab = 201088,
     .params_total = 116830000000LL,
     .params_active = 5710000000LL,
     .n_experts = 128,
     .top_k = 4,
     .max_model_len = 131072,
     .precision = WP_PREC_MXFP4,
     .sliding_window = 128,
     .sliding_layers = 18},
    /* 20.91B = MLP 19.12B + attention 0.64B + embeddings 1.16B; 3.61B active on the card, 4.19B
     * with the input embedding. */
    {.name = "gpt-oss-20b",
     .hf_id = "openai/gpt-oss-20b",
     .layers = 24,
     .hidden = 2880,
     .q_heads = 64,
     .kv_heads = 8,
     .head_dim = 64,
     .ffn = 2880,
     .vocab = 201088,
     .params_total = 20910000000LL,
     .params_active = 4190000000LL,
     .n_experts = 32,
     .top_k = 4,
     .max_model_len = 131072,
     .precision = WP_PREC_MXFP4,
     .sliding_window = 128,
     .sliding_layers = 12},
    /* Qwen3 MoE (config.json): 128 experts, top 8, no shared expert; the counts are computed
     * from the shape (attention with QK norm, norms, router, experts, embeddings and LM head):
     * 30.53B / 3.35B and 235.09B / 22.19B, the published 30.5B / 3.3B and 235B / 22B. */
    {.name = "qwen3-30b-a3b",
     .hf_id = "Qwen/Qwen3-30B-A3B",
     .layers = 48,
     .hidden = 2048,
     .q_heads = 32,
     .kv_heads = 4,
     .head_dim = 128,
     .ffn = 768,
     .vocab = 151936,
     .params_total = 30532122624LL,
     .params_active = 3353032704LL,
     .n_experts = 128,
     .top_k = 8,
     .max_model_len = 40960},
    {.name = "qwen3-235b-a22b",
     .hf_id = "Qwen/Qwen3-235B-A22B",
     .layers = 94,
     .hidden = 4096,
     .q_heads = 64,
     .kv_heads = 4,
     .head_dim = 128,
     .ffn = 1536,
     .vocab = 151936,
     .params_total = 235093634560LL,
     .params_active = 22190763520LL,
     .n_experts = 128,
     .top_k = 8,
     .max_model_len = 40960},
    /* Shape from the checkpoint's config.json (62 layers, 256 experts of width 1536, top 8);
     * the counts are computed from it: attention, experts, router, embeddings and LM head. */
    {.name = "minimax-m2.5",
     .hf_id = "MiniMaxAI/MiniMax-M2.5",
     .layers = 62,
     .hidden = 3072,
     .q_heads = 48,
     .kv_heads = 8,
     .head_dim = 128,
     .ffn = 1536,
     .vocab = 200064,
     .params_total = 228678500352LL,
     .params_active = 11029708800LL,
     .n_experts = 256,
     .top_k = 8,
     .max_model_len = 196608,
     .precision = WP_PREC_FP8},
    {.name = "deepseek-r1",
     .hf_id = "deepseek-ai/DeepSeek-R1",
     .layers = 61,
     .hidden = 7168,
     .q_heads = 128,
     .kv_heads = 128,
     .head_dim = 128,
     .ffn = 2048,
     .vocab = 129280,
     .params_total = 671000000000LL,
     .params_active = 37000000000LL,
     .n_experts = 256,
     .top_k = 8,
     .kv_lora_rank = 512,
     .rope_dim = 64,
     .dense_layers = 3,
     .max_model_len = 163840,
     .precision = WP_PREC_FP8},
};

static const wp_gpu_spec_t gpus[] = {
    {"a100", "NVIDIA A100 SXM 80GB", 312e12, 0.0, 0.0, 80 * GIB, 2.039e12, 600e9, 27e9},
    {"h100", "NVIDIA H100 SXM 80GB", 989e12, 1979e12, 0.0, 80 * GIB, 3.35e12, 900e9, 54e9},
    {"h200", "NVIDIA H200 141GB", 989e12, 1979e12, 0.0, 141 * GIB, 4.8e12, 900e9, 54e9},
    {"b200", "NVIDIA B200 180GB", 2250e12, 4500e12, 9000e12, 180 * GIB, 8e12, 1800e9, 54e9},
    /* The H100's export variant DeepSeek serves on: H100 compute and HBM, NVLink cut to
     * 400 GB/s (DeepEP's README: ~160 GB/s one way). */
    {"h800", "NVIDIA H800 SXM 80GB", 989e12, 1979e12, 0.0, 80 * GIB, 3.35e12, 400e9, 54e9},
};

static const char *const precision_names[] = {"native", "bf16", "fp8", "mxfp4", "nvfp4"};

const char *wp_precision_name(wp_precision_t p)
{
    return p >= WP_PREC_NATIVE && p <= WP_PREC_LAST ? precision_names[p] : "?";
}

bool wp_precision_parse(const char *s, wp_precision_t *out)
{
    for (int i = WP_PREC_BF16; i <= WP_PREC_LAST; i++) {
        if (strcasecmp(s, precision_names[i]) == 0) {
            *out = (wp_precision_t)i;
            return true;
        }
    }
    if (strcasecmp(s, "fp4") == 0) {
        *out = WP_PREC_MXFP4;
        return true;
    }
    return false;
}

#define N_MODELS (sizeof(models) / sizeof(models[0]))
#define N_GPUS (sizeof(gpus) / sizeof(gpus[0]))

static const char *last_part(const char *id)
{
    const char *slash = strrchr(id, '/');
    return slash != NULL ? slash + 1 : id;
}

const wp_model_spec_t *wp_model_find(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < N_MODELS; i++) {
        const wp_model_spec_t *m = &models[i];
        if (strcasecmp(name, m->name) == 0 || strcasecmp(name, m->hf_id) == 0 ||
            strcasecmp(name, last_part(m->hf_id)) == 0) {
            return m;
        }
    }
    return NULL;
}

size_t wp_model_count(void)
{
    return N_MODELS;
}

const wp_model_spec_t *wp_model_at(size_t i)
{
    return i < N_MODELS ? &models[i] : NULL;
}

/* "h100", "H100", "h100-sxm", "nvidia-h100" all name the H100. */
const wp_gpu_spec_t *wp_gpu_find(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    if (strncasecmp(name, "nvidia-", 7) == 0) {
        name += 7;
    }
    for (size_t i = 0; i < N_GPUS; i++) {
        size_t n = strlen(gpus[i].name);
        if (strncasecmp(name, gpus[i].name, n) == 0 && (name[n] == '\0' || name[n] == '-')) {
            return &gpus[i];
        }
    }
    return NULL;
}

size_t wp_gpu_count(void)
{
    return N_GPUS;
}

const wp_gpu_spec_t *wp_gpu_at(size_t i)
{
    return i < N_GPUS ? &gpus[i] : NULL;
}

int64_t wp_model_dense_params(const wp_model_spec_t *m)
{
    return DENSE_PARAMS(m->layers, m->hidden, m->q_heads, m->kv_heads, m->head_dim, m->ffn,
                        m->vocab, m->tied_embeddings);
}

bool wp_model_is_moe(const wp_model_spec_t *m)
{
    return m->n_experts > 0;
}

bool wp_model_is_mla(const wp_model_spec_t *m)
{
    return m->kv_lora_rank > 0;
}

static wp_status_t validate_shape(const wp_model_spec_t *m, wp_err_t *err)
{
    if (m->name == NULL || m->hf_id == NULL) {
        return wp_err_set(err, WP_EINVAL, "model spec without a name");
    }
    if (m->layers <= 0 || m->hidden <= 0 || m->q_heads <= 0 || m->kv_heads <= 0 ||
        m->head_dim <= 0 || m->ffn <= 0 || m->vocab <= 0 || m->max_model_len <= 0) {
        return wp_err_set(err, WP_EINVAL, "model %s: sizes must be positive", m->name);
    }
    if (m->q_heads % m->kv_heads != 0) {
        return wp_err_set(err, WP_EINVAL, "model %s: %d query heads not a multiple of %d kv heads",
                          m->name, m->q_heads, m->kv_heads);
    }
    if (m->dense_layers < 0 || m->dense_layers >= m->layers ||
        (m->dense_layers > 0 && m->n_experts == 0)) {
        return wp_err_set(err, WP_EINVAL, "model %s: %d dense layers of %d (MoE models only)",
                          m->name, m->dense_layers, m->layers);
    }
    if (m->sliding_window < 0 || m->sliding_layers < 0 || m->sliding_layers >= m->layers ||
        (m->sliding_window > 0) != (m->sliding_layers > 0)) {
        return wp_err_set(err, WP_EINVAL,
                          "model %s: sliding window %d on %d of %d layers: both or neither, "
                          "fewer than all layers",
                          m->name, m->sliding_window, m->sliding_layers, m->layers);
    }
    if ((m->kv_lora_rank > 0) != (m->rope_dim > 0)) {
        return wp_err_set(err, WP_EINVAL, "model %s: MLA needs both kv_lora_rank and rope_dim",
                          m->name);
    }
    return WP_OK;
}

static wp_status_t validate_params(const wp_model_spec_t *m, wp_err_t *err)
{
    if (m->params_active <= 0 || m->params_active > m->params_total) {
        return wp_err_set(err, WP_EINVAL, "model %s: active params %lld not in (0, total %lld]",
                          m->name, (long long)m->params_active, (long long)m->params_total);
    }
    if (!wp_model_is_moe(m)) {
        if (m->top_k != 0 || m->params_active != m->params_total ||
            m->params_total != wp_model_dense_params(m)) {
            return wp_err_set(err, WP_EINVAL,
                              "model %s: dense params %lld, architecture gives %lld", m->name,
                              (long long)m->params_total, (long long)wp_model_dense_params(m));
        }
        return WP_OK;
    }
    if (m->top_k <= 0 || m->top_k >= m->n_experts) {
        return wp_err_set(err, WP_EINVAL, "model %s: top_k %d not in [1, %d)", m->name, m->top_k,
                          m->n_experts);
    }
    /* total = shared + E * expert, active = shared + k * expert; both parts positive. */
    double expert = (double)(m->params_total - m->params_active) / (m->n_experts - m->top_k);
    double shared = (double)m->params_active - m->top_k * expert;
    if (expert <= 0.0 || shared <= 0.0) {
        return wp_err_set(err, WP_EINVAL, "model %s: total/active params imply no shared part",
                          m->name);
    }
    return WP_OK;
}

wp_status_t wp_model_validate(const wp_model_spec_t *m, wp_err_t *err)
{
    if (m == NULL) {
        return wp_err_set(err, WP_EINVAL, "no model spec");
    }
    wp_status_t st = validate_shape(m, err);
    return st != WP_OK ? st : validate_params(m, err);
}
