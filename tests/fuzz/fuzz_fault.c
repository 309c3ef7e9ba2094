/*
 * fuzz_fault: the simulator's fault specs and admin bodies (fault/fault.h). The first
 * byte picks the parser: a --fault spec (wp_fault_parse_spec), a PUT /admin/faults body
 * (wp_fault_set_parse_json) or a POST /admin/crash body (wp_fault_crash_parse_json).
 * What parses must round-trip: a spec formatted and parsed again gives the same fault, a
 * set written as JSON and parsed again gives the same set; and a parsed set must give a
 * decision for any request without tripping a sanitizer. A mismatch aborts (a finding).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/rng.h"
#include "fault/fault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_fault(const wp_fault_t *a, const wp_fault_t *b)
{
    return a->kind == b->kind && a->rate == b->rate && a->ms == b->ms && a->after == b->after &&
           a->restart_ms == b->restart_ms;
}

static void spec(const char *text)
{
    wp_fault_t f, g;
    wp_err_t err;
    if (wp_fault_parse_spec(text, &f, &err) != WP_OK)
        return;
    char out[WP_FAULT_SPEC_MAX];
    if (!wp_fault_format_spec(&f, out, sizeof(out)) ||
        wp_fault_parse_spec(out, &g, &err) != WP_OK || !same_fault(&f, &g))
        abort();
}

static void set_json(const char *body, size_t len)
{
    wp_fault_set_t set, again;
    wp_err_t err;
    if (wp_fault_set_parse_json(body, len, &set, &err) != WP_OK)
        return;
    wp_buf_t out;
    wp_buf_init(&out, 1u << 20);
    if (wp_fault_set_write_json(&set, &out) != WP_OK ||
        wp_fault_set_parse_json(out.data, out.len, &again, &err) != WP_OK || again.n != set.n)
        abort();
    for (int i = 0; i < set.n; i++)
        if (!same_fault(&set.f[i], &again.f[i]))
            abort();
    wp_buf_free(&out);
    wp_rng_t rng;
    wp_rng_seed(&rng, 7);
    wp_fault_decision_t d;
    for (uint64_t n = 1; n <= 4; n++)
        wp_fault_decide(&set, &rng, n, &d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    char *text = malloc(size);
    if (text == NULL)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0'; /* the spec parser reads a C string */
    int64_t restart;
    wp_err_t err;
    switch (data[0] % 3) {
    case 0:
        spec(text);
        break;
    case 1:
        set_json(text, size - 1);
        break;
    default:
        (void)wp_fault_crash_parse_json(text, size - 1, &restart, &err);
    }
    free(text);
    return 0;
}
