/* Tests for model/ep: one wide-EP step of DeepSeek-R1 worked out on paper (32 H100 ranks,
 * FP8 weights, BF16 KV, every constant at its default), the imbalance factor, the
 * slowest-rank rule, overlap on and off, the errors, and what the (uncalibrated) model
 * predicts for DeepSeek's published decode deployment.
 *
 * DeepSeek-R1 from the catalog: one expert over all layers (671e9 - 37e9) / 248 =
 * 2.5564516e9 parameters; dense linear weights 37e9 - 8 x 2.5564516e9 - 2 x 129280 x 7168 =
 * 14.695029e9 (1 byte each), embedding and LM head 926,679,040 each (BF16); 58 MoE layers
 * of 61; KV 61 x 576 x 2 = 70,272 bytes per token on every rank (MLA is not split). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "model/ep.h"

#define assert_near(x, want, rel)                                                                  \
    do {                                                                                           \
        double x_ = (x), w_ = (want);                                                              \
        if (fabs(x_ - w_) > (rel)*fabs(w_)) {                                                      \
            fail_msg("%s = %.9g, want %.9g within %g%%", #x, x_, w_, (rel)*100.0);                 \
        }                                                                                          \
    } while (0)

#define RANKS 32
#define EXPERT 2.5564516129e9 /* parameters of one routed expert, all layers */

static wp_ep_t ep_ok(const wp_gpu_spec_t *g, int ranks, const wp_ep_params_t *pp)
{
    wp_ep_t ep;
    wp_err_t err = {{0}};
    if (wp_ep_init(&ep, wp_model_find("deepseek-r1"), g, ranks, pp, &err) != WP_OK)
        fail_msg("ep init: %s", err.msg);
    return ep;
}

/* Every rank decoding 128 sequences at 4096 tokens of context. */
static void decode_batch(wp_perf_batch_t *b, int n)
{
    for (int i = 0; i < n; i++)
        b[i] = (wp_perf_batch_t){.decode_seqs = 128, .decode_ctx = 128 * 4096};
}

/* 256 + 0 experts over 32 ranks: 8 each. Weights per rank: 14.695e9 dense + 2 x 0.9267e9 x
 * 2 B embeddings + 8 x 2.5565e9 experts = 38.853 GB. KV: (80 GiB x 0.9 - 38.853e9 - 6 GiB)
 * / 70,272 = 455,566 tokens per rank. 4 nodes of 8: 24 of 32 ranks are off-node. */
static void test_ep_init(void **state)
{
    (void)state;
    wp_ep_t ep = ep_ok(wp_gpu_find("h100"), RANKS, NULL);
    assert_int_equal(ep.experts_per_rank, 8);
    assert_int_equal(ep.moe_layers, 58);
    assert_true(ep.remote_share == 0.75);
    assert_near(ep.perf.expert_params, EXPERT, 1e-9);
    assert_near(ep.weight_bytes_rank, 38.853358e9, 1e-6);
    assert_int_equal(wp_ep_kv_capacity_tokens(&ep), 455566);
    assert_true(ep.perf.kv_bytes_token_gpu == 70272.0);
    /* The tp-1 shape of a model too big for one GPU: no capacity, no error. */
    wp_perf_t p;
    wp_err_t err = {{0}};
    assert_int_equal(
        wp_perf_init_shape(&p, wp_model_find("deepseek-r1"), wp_gpu_find("h100"), 1, NULL, &err),
        WP_OK);
    assert_int_equal(p.kv_capacity_tokens, 0);
    assert_int_equal(
        wp_perf_init(&p, wp_model_find("deepseek-r1"), wp_gpu_find("h100"), 1, NULL, &err),
        WP_EINVAL);
}

/* Decode, 32 x 128 sequences at 4k, imbalance 1.2, two micro-batches, low-latency kernels.
 *   routed slots on the busiest rank = 32 x 128 x 8 / 32 x 1.2 = 1228.8 per MoE layer
 *   expert FLOPs = 2 x 2.5565e9 x 1228.8 = 6.2827e12 -> / (989e12 x 0.17) = 37.368 ms
 *     (weights: 8 experts, all touched, 20.45 GB / (3.35e12 x 0.77) = 7.93 ms: compute-bound)
 *   dense: 2 x 14.695e9 x 128 / (1979e12 x 0.5) + 2 x 0.9267e9 x 128 / 989.5e12
 *          + 2 x 61 x 128 x 1088 x 128 x 4096 / (989e12 x 0.5) = 22.055 ms
 *     (memory: 16.55 GB / 2.5795 TB/s + 36.84 GB / 2.5125 TB/s = 21.079 ms)
 *   dispatch bytes = 1228.8 x 7168 x (1 + 4/128) = 9,083,289.6 per layer (receive side)
 *   combine bytes  = 1228.8 x 7168 x 2 = 17,616,076.8
 *   dispatch = 58 x (0.75 x 9.083e6 / 39e9 + 2 x 10 us) = 11.291 ms (NVLink share is faster)
 *   combine  = 58 x (0.75 x 17.616e6 / 39e9 + 2 x 10 us) = 20.809 ms
 *   overhead = 0.6 ms + 61 x 25 us + 58 x 8 x 4.3 us = 4.120 ms
 *   step = max(59.424, 32.100) + 4.120 = 63.544 ms */
static void test_ep_decode_on_paper(void **state)
{
    (void)state;
    wp_ep_t ep = ep_ok(wp_gpu_find("h100"), RANKS, NULL);
    wp_perf_batch_t b[RANKS];
    decode_batch(b, RANKS);
    wp_ep_step_detail_t d;
    double t = wp_ep_step_time(&ep, b, RANKS, &d);
    assert_true(d.low_latency);
    assert_near(d.routed_slots, 1228.8, 1e-12);
    assert_near(d.expert_flops, 2.0 * EXPERT * 1228.8, 1e-9);
    assert_near(d.expert_s, 37.368319e-3, 1e-6);
    assert_near(d.dense_s, 22.055269e-3, 1e-6);
    assert_near(d.dispatch_bytes, 9083289.6, 1e-12);
    assert_near(d.combine_bytes, 17616076.8, 1e-12);
    assert_near(d.dispatch_s, 58 * (0.75 * 9083289.6 / 39e9 + 20e-6), 1e-9);
    assert_near(d.combine_s, 58 * (0.75 * 17616076.8 / 39e9 + 20e-6), 1e-9);
    assert_near(d.overhead_s, 4.1202e-3, 1e-9);
    assert_near(d.hidden_s, d.dispatch_s + d.combine_s, 1e-12);
    assert_near(t, 63.543788e-3, 1e-6);
    assert_true(t == d.step_s);
}

/* Prefill, 8192 tokens per rank (two 4096-token prompts), normal kernels.
 *   slots = 8192 x 8 x 1.2 = 78,643.2; expert = 2 x 2.5565e9 x 78,643.2 / 168.13e12 = 2.3916 s
 *   dispatch = 58 x 0.75 x 78,643.2 x 7392 / 50e9 = 0.50576 s; combine 58 x 0.75 x 1.1274e9
 *   / 50e9 = 0.98086 s (NVLink: 0.25 x bytes / 342 GB/s, shorter)
 *   dense: 8192 tokens' matmuls + 16.78e6 attention pairs = 0.81990 s
 *   overhead: a prefill step replays the piecewise graph: 0.6 ms + 61 x 320 us + 58 x 550 us
 *   = 52.02 ms
 *   step = 0.8199 + 2.3916 + 1.4866 - 1.4866 + 0.0520 = 3.2635 s */
static void test_ep_prefill_on_paper(void **state)
{
    (void)state;
    wp_ep_t ep = ep_ok(wp_gpu_find("h100"), RANKS, NULL);
    wp_perf_batch_t b[RANKS];
    for (int i = 0; i < RANKS; i++)
        b[i] = (wp_perf_batch_t){.prefill_tokens = 8192, .prefill_attn = 4096.0 * 4097.0};
    wp_ep_step_detail_t d;
    double t = wp_ep_step_time(&ep, b, RANKS, &d);
    assert_false(d.low_latency);
    assert_near(d.routed_slots, 78643.2, 1e-12);
    assert_near(d.expert_s, 2.39157242, 1e-6);
    assert_near(d.dispatch_s, 58 * 0.75 * 78643.2 * 7168 * 1.03125 / 50e9, 1e-9);
    assert_near(d.combine_s, 58 * 0.75 * 78643.2 * 7168 * 2 / 50e9, 1e-9);
    assert_near(d.dense_s, 0.81989652, 1e-6);
    assert_near(d.overhead_s, 0.6e-3 + 61 * 320e-6 + 58 * 550e-6, 1e-9);
    assert_near(t, 3.26348894, 1e-6);
}

/* The busiest rank's load scales with the factor: at 1.0 (perfect EPLB) 1024 slots, 5.2356e12
 * FLOPs and 57.316 ms; at 2.0 twice the expert time and a2a bytes, 88.456 ms. */
static void test_ep_imbalance(void **state)
{
    (void)state;
    wp_ep_params_t pp;
    wp_ep_params_default(&pp);
    wp_perf_batch_t b[RANKS];
    decode_batch(b, RANKS);
    wp_ep_step_detail_t one, two;
    pp.imbalance = 1.0;
    wp_ep_t ep = ep_ok(wp_gpu_find("h100"), RANKS, &pp);
    assert_near(wp_ep_step_time(&ep, b, RANKS, &one), 57.315735e-3, 1e-6);
    assert_near(one.routed_slots, 1024.0, 1e-12);
    assert_near(one.expert_flops, 5.2356129e12, 1e-6);
    assert_near(one.dispatch_bytes, 1024.0 * 7392, 1e-12);
    pp.imbalance = 2.0;
    ep = ep_ok(wp_gpu_find("h100"), RANKS, &pp);
    assert_near(wp_ep_step_time(&ep, b, RANKS, &two), 88.456001e-3, 1e-6);
    assert_near(two.expert_s, 2.0 * one.expert_s, 1e-12);
    assert_near(two.combine_bytes, 2.0 * one.combine_bytes, 1e-12);
    /* The factor never routes more than every slot to one rank. */
    pp.imbalance = 100.0;
    ep = ep_ok(wp_gpu_find("h100"), RANKS, &pp);
    wp_perf_batch_t lone[RANKS] = {{.decode_seqs = 1, .decode_ctx = 100}};
    wp_ep_step_detail_t d;
    assert_true(wp_ep_step_time(&ep, lone, RANKS, &d) > 0.0);
    assert_near(d.routed_slots, 8.0, 1e-12);
}

/* Rank 5 with 256 sequences: the group's load is 33 x 128 x 8 / 32 x 1.2 = 1267.2 slots;
 * rank 5 sends 2048 > 1267.2 and its dense part doubles (44.111 ms), so it sets the step
 * (86.767 ms). Ranks with nothing to do still step, and an all-empty group costs 0. */
static void test_ep_slowest_rank(void **state)
{
    (void)state;
    wp_ep_t ep = ep_ok(wp_gpu_find("h100"), RANKS, NULL);
    wp_perf_batch_t b[RANKS];
    decode_batch(b, RANKS);
    b[5] = (wp_perf_batch_t){.decode_seqs = 256, .decode_ctx = 256 * 4096};
    wp_ep_step_detail_t d;
    double t = wp_ep_step_time(&ep, b, RANKS, &d);
    assert_int_equal(d.slowest_rank, 5);
    assert_near(d.routed_slots, 1267.2, 1e-12);
    assert_near(d.dense_s, 44.110538e-3, 1e-6);
    assert_near(d.dispatch_bytes, 2048.0 * 7392, 1e-12);
    assert_near(t, 86.766817e-3, 1e-6);
    /* Only rank 9 busy: the others still read their weights and join the all-to-alls. */
    wp_perf_batch_t idle[RANKS] = {{0}};
    idle[9] = (wp_perf_batch_t){.decode_seqs = 4, .decode_ctx = 4 * 1000};
    t = wp_ep_step_time(&ep, idle, RANKS, &d);
    assert_int_equal(d.slowest_rank, 9);
    wp_perf_batch_t none[RANKS] = {{0}};
    assert_true(wp_ep_step_time(&ep, none, RANKS, &d) == 0.0);
    assert_true(d.step_s == 0.0);
    assert_true(wp_ep_step_time(&ep, b, RANKS - 1, NULL) == -1.0);
}

/* Without micro-batches nothing is hidden and each low-latency call is paid once:
 * 22.055 + 37.368 + 58 x (174.68 + 10 us) + 58 x (338.77 + 10 us) + 4.120 = 94.484 ms. */
static void test_ep_overlap(void **state)
{
    (void)state;
    wp_ep_params_t pp;
    wp_ep_params_default(&pp);
    pp.overlap = false;
    wp_ep_t ep = ep_ok(wp_gpu_find("h100"), RANKS, &pp);
    wp_perf_batch_t b[RANKS];
    decode_batch(b, RANKS);
    wp_ep_step_detail_t d;
    double t = wp_ep_step_time(&ep, b, RANKS, &d);
    assert_true(d.hidden_s == 0.0);
    assert_near(d.dispatch_s, 58 * (0.75 * 9083289.6 / 39e9 + 10e-6), 1e-9);
    assert_near(t, d.dense_s + d.expert_s + d.dispatch_s + d.combine_s + d.overhead_s, 1e-12);
    assert_near(t, 94.48385e-3, 1e-6);
    /* Forcing the normal kernels on a decode step: 50 GB/s, no fixed cost. */
    pp.mode = WP_EP_A2A_NORMAL;
    ep = ep_ok(wp_gpu_find("h100"), RANKS, &pp);
    wp_ep_step_time(&ep, b, RANKS, &d);
    assert_false(d.low_latency);
    assert_near(d.dispatch_s, 58 * 0.75 * 9083289.6 / 50e9, 1e-9);
    /* One node: everything over NVLink at 0.38 x 900 GB/s. */
    pp.ranks_per_node = 32;
    ep = ep_ok(wp_gpu_find("h100"), RANKS, &pp);
    wp_ep_step_time(&ep, b, RANKS, &d);
    assert_near(d.dispatch_s, 58 * 9083289.6 / 342e9, 1e-9);
}

static void test_ep_errors(void **state)
{
    (void)state;
    wp_ep_t ep;
    wp_err_t err = {{0}};
    const wp_gpu_spec_t *h100 = wp_gpu_find("h100");
    const wp_model_spec_t *r1 = wp_model_find("deepseek-r1");
    assert_int_equal(wp_ep_init(&ep, wp_model_find("qwen3-32b"), h100, 8, NULL, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "dense"));
    assert_int_equal(wp_ep_init(&ep, r1, h100, 0, NULL, &err), WP_EINVAL);
    assert_int_equal(wp_ep_init(&ep, r1, h100, 1, NULL, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "at least 2"));
    assert_int_equal(wp_ep_init(&ep, r1, h100, 3, NULL, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "256 experts"));
    assert_int_equal(wp_ep_init(&ep, r1, h100, 512, NULL, &err), WP_EINVAL);
    /* 4 ranks: 64 experts of 2.56 GB each per H100. */
    assert_int_equal(wp_ep_init(&ep, r1, h100, 4, NULL, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "does not fit"));
    assert_int_equal(wp_ep_init(&ep, r1, wp_gpu_find("h200"), 16, NULL, &err), WP_OK);
    wp_ep_params_t pp;
    wp_ep_params_default(&pp);
    pp.redundant_experts = 32; /* 288 experts: 9 per rank at 32, not divisible by 64 */
    assert_int_equal(wp_ep_init(&ep, r1, h100, 32, &pp, &err), WP_OK);
    assert_int_equal(ep.experts_per_rank, 9);
    assert_int_equal(wp_ep_init(&ep, r1, h100, 64, &pp, &err), WP_EINVAL);
    pp.imbalance = 0.9;
    assert_int_equal(wp_ep_init(&ep, r1, h100, 32, &pp, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "epImbalance"));
    wp_ep_params_default(&pp);
    pp.a2a_rdma_bw = 0.0;
    assert_int_equal(wp_ep_init(&ep, r1, h100, 32, &pp, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "a2aRdmaGBs"));
    wp_ep_params_default(&pp);
    pp.a2a_nvlink_share = 1.5;
    assert_int_equal(wp_ep_init(&ep, r1, h100, 32, &pp, &err), WP_EINVAL);
    wp_ep_params_default(&pp);
    pp.ranks_per_node = 0;
    assert_int_equal(wp_ep_init(&ep, r1, h100, 32, &pp, &err), WP_EINVAL);
    wp_ep_params_default(&pp);
    pp.perf.moe_mfu = 0.0;
    assert_int_equal(wp_ep_init(&ep, r1, h100, 32, &pp, &err), WP_EINVAL);
    assert_int_equal(wp_ep_init(&ep, NULL, h100, 32, NULL, &err), WP_EINVAL);
}

static void test_ep_consts(void **state)
{
    (void)state;
    wp_ep_params_t pp;
    wp_ep_params_default(&pp);
    assert_true(pp.imbalance == 1.2);
    assert_near(pp.a2a_rdma_bw, 50e9, 1e-12);
    assert_near(pp.a2a_latency_s, 10e-6, 1e-12);
    assert_true(pp.dispatch_bytes == 1.03125 && pp.combine_bytes == 2.0);
    for (size_t i = 0; i < wp_ep_const_count(); i++) {
        const wp_perf_const_t *c = wp_ep_const_at(i);
        assert_true(c->lo <= c->value && c->value <= c->hi);
        assert_int_equal(wp_ep_const_find(c->key), (int)i);
    }
    assert_null(wp_ep_const_at(wp_ep_const_count()));
    assert_int_equal(wp_ep_const_find("moeMfu"), -1);
    wp_err_t err = {{0}};
    int ll = wp_ep_const_find("a2aLlRdmaGBs");
    assert_int_equal(wp_ep_const_set(&pp, (size_t)ll, 45, &err), WP_OK);
    assert_near(pp.a2a_ll_rdma_bw, 45e9, 1e-12);
    assert_int_equal(wp_ep_const_set(&pp, wp_ep_const_count(), 1, &err), WP_EINVAL);
}

/* DeepSeek's published decode deployment (open-infra-index, "DeepSeek-V3/R1 Inference
 * System Overview"): H800, units of 18 nodes = EP144, 32 redundant experts (2 per GPU), on
 * average 4,989 tokens of KV per output token, about 14.8k output tokens/s per node; its
 * profile runs 128 sequences per GPU. The H800 is an H100 with NVLink cut to 400 GB/s.
 * NOT calibrated: the model predicts 67.47 ms per step, 8 x 128 / 67.47 ms = 15.18k output
 * tokens/s per node (+2.5 %), but with vLLM's fused-MoE efficiency for the experts (its
 * DeepGEMM kernels are faster), no multi-token prediction (DeepSeek's decode uses it) and no
 * measured imbalance. A later session calibrates this (docs/models.md). */
static void test_ep_deepseek_published(void **state)
{
    (void)state;
    const wp_gpu_spec_t h800 = {.name = "h800",
                                .desc = "NVIDIA H800 SXM 80GB",
                                .bf16_flops = 989e12,
                                .fp8_flops = 1979e12,
                                .hbm_bytes = 80.0 * 1024 * 1024 * 1024,
                                .mem_bw = 3.35e12,
                                .nvlink_bw = 400e9};
    wp_ep_params_t pp;
    wp_ep_params_default(&pp);
    pp.redundant_experts = 32;
    wp_ep_t ep = ep_ok(&h800, 144, &pp);
    assert_int_equal(ep.experts_per_rank, 2);
    assert_near(ep.remote_share, 136.0 / 144.0, 1e-12);
    static wp_perf_batch_t b[144];
    for (int i = 0; i < 144; i++)
        b[i] = (wp_perf_batch_t){.decode_seqs = 128, .decode_ctx = 128 * 4989};
    wp_ep_step_detail_t d;
    double t = wp_ep_step_time(&ep, b, 144, &d);
    assert_near(t, 67.471086e-3, 1e-6);
    double per_node = 8 * 128 / t;
    assert_near(per_node, 15176.87, 1e-5);
    assert_near(per_node, 14.8e3, 0.05); /* the published figure, for now by coincidence */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ep_init),
        cmocka_unit_test(test_ep_decode_on_paper),
        cmocka_unit_test(test_ep_prefill_on_paper),
        cmocka_unit_test(test_ep_imbalance),
        cmocka_unit_test(test_ep_slowest_rank),
        cmocka_unit_test(test_ep_overlap),
        cmocka_unit_test(test_ep_errors),
        cmocka_unit_test(test_ep_consts),
        cmocka_unit_test(test_ep_deepseek_published),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
