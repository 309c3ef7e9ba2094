/* Tests for model/catalog: lookups, parameter counts derived from the architecture,
 * and validation of every catalog entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "model/model.h"

static void test_model_find_names(void **state)
{
    (void)state;
    const wp_model_spec_t *m = wp_model_find("qwen3-32b");
    assert_non_null(m);
    assert_string_equal(m->hf_id, "Qwen/Qwen3-32B");
    assert_ptr_equal(wp_model_find("Qwen/Qwen3-32B"), m);
    assert_ptr_equal(wp_model_find("QWEN3-32B"), m);
    assert_ptr_equal(wp_model_find("qwen/qwen3-32b"), m);
    const wp_model_spec_t *l = wp_model_find("Llama-3.1-8B-Instruct");
    assert_non_null(l);
    assert_string_equal(l->name, "llama-3.1-8b");
    assert_ptr_equal(wp_model_find("meta-llama/Llama-3.1-8B-Instruct"), l);
    assert_null(wp_model_find("qwen3-3"));
    assert_null(wp_model_find("Qwen/"));
    assert_null(wp_model_find(""));
    assert_null(wp_model_find(NULL));
    assert_non_null(wp_model_find("sim-tiny"));
    assert_non_null(wp_model_find("deepseek-ai/DeepSeek-R1"));
}

static void test_model_list(void **state)
{
    (void)state;
    assert_int_equal(wp_model_count(), 12);
    for (size_t i = 0; i < wp_model_count(); i++) {
        const wp_model_spec_t *m = wp_model_at(i);
        assert_non_null(m);
        assert_ptr_equal(wp_model_find(m->name), m);
        assert_ptr_equal(wp_model_find(m->hf_id), m);
    }
    assert_null(wp_model_at(wp_model_count()));
}

static void test_model_validate_catalog(void **state)
{
    (void)state;
    wp_err_t err;
    for (size_t i = 0; i < wp_model_count(); i++) {
        assert_int_equal(wp_model_validate(wp_model_at(i), &err), WP_OK);
    }
    wp_model_spec_t bad = *wp_model_find("qwen3-8b");
    bad.ffn += 1; /* params no longer match the shape */
    assert_int_equal(wp_model_validate(&bad, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "qwen3-8b"));
    bad = *wp_model_find("qwen3-8b");
    bad.kv_heads = 5; /* 32 query heads do not split into 5 groups */
    assert_int_equal(wp_model_validate(&bad, &err), WP_EINVAL);
    bad = *wp_model_find("mixtral-8x7b");
    bad.top_k = 8;
    assert_int_equal(wp_model_validate(&bad, &err), WP_EINVAL);
    bad = *wp_model_find("deepseek-r1");
    bad.rope_dim = 0;
    assert_int_equal(wp_model_validate(&bad, &err), WP_EINVAL);
    bad = *wp_model_find("qwen3-8b");
    bad.dense_layers = 2; /* dense first layers only make sense in an MoE model */
    assert_int_equal(wp_model_validate(&bad, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "dense layers"));
    bad = *wp_model_find("gpt-oss-20b");
    bad.sliding_layers = 0; /* a window needs its layers */
    assert_int_equal(wp_model_validate(&bad, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "sliding window"));
    assert_int_equal(wp_model_validate(NULL, &err), WP_EINVAL);
}

/* Llama-3.1-8B's published parameter count is exactly 8,030,261,248:
 * 32 x (2x4096x4096 + 2x4096x1024 + 3x4096x14336 + 2x4096) + 2x128256x4096 + 4096. */
static void test_model_dense_params(void **state)
{
    (void)state;
    assert_int_equal(wp_model_find("llama-3.1-8b")->params_total, 8030261248LL);
    /* Qwen3-32B: 64 x 487,598,080 + 2 x 151936 x 5120 + 5120 = 32,762,106,880 (~32.8B). */
    assert_int_equal(wp_model_find("qwen3-32b")->params_total, 32762106880LL);
    /* Llama-3.1-70B ~70.6B, Qwen3-8B ~8.2B, sim-tiny ~0.49B (tied embeddings). */
    assert_true(fabs(wp_model_find("llama-3.1-70b")->params_total / 70.55e9 - 1.0) < 0.01);
    assert_true(fabs(wp_model_find("qwen3-8b")->params_total / 8.19e9 - 1.0) < 0.01);
    assert_true(fabs(wp_model_find("sim-tiny")->params_total / 0.494e9 - 1.0) < 0.01);
    assert_false(wp_model_is_moe(wp_model_find("qwen3-32b")));
    assert_true(wp_model_is_moe(wp_model_find("mixtral-8x7b")));
    assert_true(wp_model_is_mla(wp_model_find("deepseek-r1")));
    assert_false(wp_model_is_mla(wp_model_find("gpt-oss-120b")));
}

static void test_model_gpu_find(void **state)
{
    (void)state;
    const wp_gpu_spec_t *h = wp_gpu_find("h100");
    assert_non_null(h);
    assert_ptr_equal(wp_gpu_find("H100"), h);
    assert_ptr_equal(wp_gpu_find("nvidia-h100"), h);
    assert_ptr_equal(wp_gpu_find("h100-sxm"), h);
    assert_null(wp_gpu_find("h10"));
    assert_null(wp_gpu_find("h1000"));
    assert_null(wp_gpu_find(NULL));
    assert_int_equal(wp_gpu_count(), 5);
    assert_null(wp_gpu_at(5));
    assert_true(h->bf16_flops == 989e12);
    assert_true(h->mem_bw == 3.35e12);
    assert_true(wp_gpu_find("a100")->fp8_flops == 0.0);
    assert_true(wp_gpu_find("b200")->nvlink_bw == 1.8e12);
    assert_true(wp_gpu_find("h200")->hbm_bytes > 140.0 * 1073741824.0);
    /* The H800: an H100 with NVLink cut to 400 GB/s. */
    const wp_gpu_spec_t *h800 = wp_gpu_find("h800");
    assert_non_null(h800);
    assert_true(h800->nvlink_bw == 400e9 && h800->fp8_flops == h->fp8_flops);
    assert_true(h800->mem_bw == h->mem_bw && h800->hbm_bytes == h->hbm_bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_find_names),       cmocka_unit_test(test_model_list),
        cmocka_unit_test(test_model_validate_catalog), cmocka_unit_test(test_model_dense_params),
        cmocka_unit_test(test_model_gpu_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
