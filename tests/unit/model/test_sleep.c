/* Tests for model/sleep: the wake-up time of vLLM's sleep mode from the weight bytes, the
 * GPU's host link and (level 2) storage, by tags, and the constants table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "model/sleep.h"

#define NEAR(a, b) assert_true(((a) - (b)) < 1e-9 && ((b) - (a)) < 1e-9)

static void test_sleep_level1(void **state)
{
    (void)state;
    /* 16 GB over one H100's 55 GB/s + 0.1 s */
    wp_model_wake_t w = wp_model_wake_time(16e9, 1, "h100", 1, true, true);
    NEAR(w.host_s, 16.0 / 55.0);
    NEAR(w.storage_s, 0);
    NEAR(w.kv_s, 0.1);
    NEAR(w.total_s, 16.0 / 55.0 + 0.1);
    /* tp 4: each GPU copies a quarter over its own link */
    wp_model_wake_t w4 = wp_model_wake_time(16e9, 4, "h100", 1, true, true);
    NEAR(w4.host_s, 4.0 / 55.0);
    /* A100: PCIe Gen4, 25 GB/s */
    NEAR(wp_model_wake_time(16e9, 1, "a100", 1, true, false).total_s, 16.0 / 25.0);
}

static void test_sleep_level2(void **state)
{
    (void)state;
    /* level 2 reads the whole model from storage (2 GB/s) and then copies it in */
    wp_model_wake_t w = wp_model_wake_time(16e9, 2, "h200", 2, true, true);
    NEAR(w.storage_s, 8.0);
    NEAR(w.host_s, 8.0 / 55.0);
    NEAR(w.total_s, 8.0 + 8.0 / 55.0 + 0.1);
    assert_true(w.total_s > wp_model_wake_time(16e9, 2, "h200", 1, true, true).total_s);
}

static void test_sleep_tags(void **state)
{
    (void)state;
    wp_model_wake_t kv = wp_model_wake_time(16e9, 1, "h100", 2, false, true);
    NEAR(kv.total_s, 0.1);
    wp_model_wake_t none = wp_model_wake_time(16e9, 1, "h100", 1, false, false);
    NEAR(none.total_s, 0);
}

static void test_sleep_links(void **state)
{
    (void)state;
    /* catalog spellings find their row; an unknown GPU gets the default row */
    assert_string_equal(wp_model_wake_link("H100")->gpu, "h100");
    assert_string_equal(wp_model_wake_link("nvidia-h100")->gpu, "h100");
    assert_string_equal(wp_model_wake_link("tpu")->gpu, "default");
    assert_string_equal(wp_model_wake_link(NULL)->gpu, "default");
    for (size_t i = 0; i < wp_gpu_count(); i++) {
        const wp_model_wake_link_t *l = wp_model_wake_link(wp_gpu_at(i)->name);
        assert_string_equal(l->gpu, wp_gpu_at(i)->name); /* every catalog GPU has a row */
        assert_true(l->host_bw > 0 && l->storage_bw > 0 && l->kv_realloc_s >= 0);
    }
    /* tp < 1 counts as 1 */
    NEAR(wp_model_wake_time(55e9, 0, "h100", 1, true, false).total_s, 1.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sleep_level1),
        cmocka_unit_test(test_sleep_level2),
        cmocka_unit_test(test_sleep_tags),
        cmocka_unit_test(test_sleep_links),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
