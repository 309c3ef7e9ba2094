/*
 * fuzz_topology: YAML bytes through the topology parser (wp_topology_parse). A parse
 * that succeeds must also pass wp_topology_validate (the parser's own invariant) and is
 * then freed; a failing parse must leave nothing to free (LeakSanitizer checks both).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config/topology.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wp_topology_t t;
    wp_err_t err;
    if (wp_topology_parse((const char *)data, size, "fuzz.yaml", &t, &err) == WP_OK) {
        if (wp_topology_validate(&t, &err) != WP_OK)
            abort(); /* parse accepted what validate rejects */
        wp_topology_free(&t);
    }
    return 0;
}
