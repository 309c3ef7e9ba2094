/*
 * fuzz_kvev: arbitrary bytes through wp_kvev_decode, with one decoder kept across inputs
 * (the warm path the gateway runs); a batch that decodes is encoded again in both layouts
 * and decoded once more, and must come back with the same counts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kvev/kvev.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wp_kvev_decoder_t *d, *d2;
    if (d == NULL) {
        d = wp_kvev_decoder_new();
        d2 = wp_kvev_decoder_new();
    }
    wp_kvev_batch_t b, again;
    wp_err_t err;
    if (wp_kvev_decode(d, data, size, &b, &err) != WP_OK)
        return 0;
    for (int enc = WP_KVEV_ENC_MAP; enc <= WP_KVEV_ENC_ARRAY; enc++) {
        wp_buf_t out;
        wp_buf_init(&out, WP_BUF_DEFAULT_MAX);
        if (wp_kvev_encode(&b, (wp_kvev_encoding_t)enc, &out, &err) != WP_OK ||
            wp_kvev_decode(d2, out.data, out.len, &again, &err) != WP_OK ||
            again.n_events != b.n_events || again.dp_rank != b.dp_rank)
            abort();
        for (size_t i = 0; i < b.n_events; i++)
            if (again.events[i].type != b.events[i].type ||
                again.events[i].n_hashes != b.events[i].n_hashes ||
                again.events[i].n_tokens != b.events[i].n_tokens)
                abort();
        wp_buf_free(&out);
    }
    return 0;
}
