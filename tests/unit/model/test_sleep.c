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
    /* 16 GB over one H100's 54 GB/s (the catalog's host link) + 0.1 s */
    wp_model_wake_t w = wp_model_wake_time(16e9, 1, "h100", 1, true, true);
    NEAR(w.host_s, 16.0 / 54.0);
    NEAR(w.storage_s, 0);
    NEAR(w.kv_s, 0.1);
    NEAR(w.total_s, 16.0 / 54.0 + 0.1);
    /* tp 4: each GPU copies a quarter over its own link */
    wp_model_wake_t w4 = wp_model_wake_time(16e9, 4, "h100", 1, true, true);
    NEAR(w4.host_s, 4.0 / 54.0);
    /* A100: PCIe Gen4, 27 GB/s */
    NEAR(wp_model_wake_time(16e9, 1, "a100", 1, true, false).total_s, 16.0 / 27.0);
}

static void test_sleep_level2(void **state)
{
    (void)state;
    /* level 2 reads the whole model from storage (2 GB/s) and then copies it in */
    wp_model_wake_t w = wp_model_wake_time(16e9, 2, "h200", 2, true, true);
    NEAR(w.storage_s, 8.0);
    NEAR(w.host_s, 8.0 / 54.0);
    NEAR(w.total_s, 8.0 + 8.0 / 54.0 + 0.1);
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
    /* the catalog's host link for every GPU; an unknown one takes the H100's */
    for (size_t i = 0; i < wp_gpu_count(); i++)
        NEAR(wp_model_wake_time(1e9, 1, wp_gpu_at(i)->name, 1, true, false).total_s,
             1e9 / wp_gpu_at(i)->host_bw);
    NEAR(wp_model_wake_time(54e9, 1, "tpu", 1, true, false).total_s, 1.0);
    /* tp < 1 counts as 1 */
    NEAR(wp_model_wake_time(54e9, 0, "h100", 1, true, false).total_s, 1.0);
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
