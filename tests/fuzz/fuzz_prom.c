/*
 * fuzz_prom: Prometheus text through wp_api_prom_parse; every sample's label text is
 * searched with wp_api_prom_label for the labels the gateway reads (model_name,
 * le, quantile) into a small buffer, so cutting to the capacity is exercised too.
 */
#include <stddef.h>
#include <stdint.h>

#include "api/prom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_sample(void *ud, wp_str_t name, wp_str_t labels, double value)
{
    size_t *count = ud;
    static const char *const keys[] = {"model_name", "le", "quantile", ""};
    char small[4], big[128];
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        (void)wp_api_prom_label(labels, keys[i], small, sizeof(small));
        (void)wp_api_prom_label(labels, keys[i], big, sizeof(big));
    }
    (void)name;
    (void)value;
    (*count)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t count = 0;
    wp_err_t err;
    (void)wp_api_prom_parse((const char *)data, size, on_sample, &count, &err);
    return 0;
}
