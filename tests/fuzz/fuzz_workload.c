/*
 * fuzz_workload: bytes through both workload parsers, the YAML workload spec
 * (wp_workload_parse, then wp_workload_spec_validate and the JSON writer on success)
 * and the Mooncake JSONL trace (wp_workload_trace_parse, then its validate; a parsed
 * trace must validate). The first byte picks the parser so both get the whole rest.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/buf.h"
#include "workload/workload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void spec(const char *p, size_t n)
{
    wp_workload_spec_t s;
    wp_err_t err;
    if (wp_workload_parse(p, n, "fuzz.yaml", &s, &err) != WP_OK)
        return;
    (void)wp_workload_spec_validate(&s, &err);
    wp_buf_t out;
    wp_buf_init(&out, 1u << 16);
    (void)wp_workload_spec_json(&s, &out);
    wp_buf_free(&out);
}

static void trace(const char *p, size_t n)
{
    wp_workload_trace_t t;
    wp_err_t err;
    if (wp_workload_trace_parse(p, n, "fuzz.jsonl", &t, &err) != WP_OK)
        return;
    if (wp_workload_trace_validate(&t, &err) != WP_OK)
        abort(); /* the parser produced a trace its own validate rejects */
    wp_workload_trace_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *p = (const char *)data + 1;
    if (data[0] & 1)
        trace(p, size - 1);
    else
        spec(p, size - 1);
    return 0;
}
