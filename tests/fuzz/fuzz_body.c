/*
 * fuzz_body: a request body through the OpenAI body parser for both kinds
 * (wp_api_request_parse, on base/json's index), then what the gateway does with a parsed
 * body: render the chat messages (wp_api_render_chat), build its cJSON tree
 * (wp_api_request_tree) and build both P/D bodies (wp_api_pd_prefill_body,
 * wp_api_pd_decode_body with a fixed prefill answer and with the input itself as the
 * answer). Output buffers are capped so a hostile body cannot grow them without bound.
 */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "api/openai.h"
#include "api/pd.h"
#include "base/buf.h"
#include "base/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char prefill_answer[] =
    "{\"id\":\"cmpl-1\",\"choices\":[{\"text\":\"x\"}],\"kv_transfer_params\":"
    "{\"do_remote_prefill\":true,\"remote_engine_id\":\"e0\",\"remote_block_ids\":[1,2],"
    "\"remote_host\":\"127.0.0.1\",\"remote_port\":9000},"
    "\"usage\":{\"prompt_tokens\":9,\"prompt_tokens_details\":{\"cached_tokens\":4}}}";

static void rewrite(wp_api_request_t *req, const char *body, size_t len)
{
    wp_buf_t out;
    wp_buf_init(&out, 1u << 20);
    if (req->kind == WP_API_CHAT) {
        wp_json_t j;
        size_t at;
        wp_err_t jerr;
        if (wp_json_parse(&j, body, len, &at, &jerr) == WP_OK)
            (void)wp_api_render_chat(&j, wp_json_get(&j, 0, "messages"), &out);
        wp_json_free(&j);
        wp_buf_reset(&out);
    }
    const cJSON *tree = wp_api_request_tree(req); /* the same body, as cJSON reads it */
    (void)wp_api_pd_prefill_body(tree, &out);
    wp_buf_reset(&out);
    long long cached = 0;
    wp_err_t err;
    (void)wp_api_pd_decode_body(tree, prefill_answer, sizeof(prefill_answer) - 1, &out, &cached,
                                &err);
    wp_buf_reset(&out);
    (void)wp_api_pd_decode_body(tree, body, len, &out, &cached, &err);
    wp_buf_reset(&out);
    (void)wp_api_pd_fold_cached(body, len, 7, &out);
    wp_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    const wp_api_kind_t kinds[] = {WP_API_COMPLETIONS, WP_API_CHAT};
    for (size_t i = 0; i < 2; i++) {
        wp_api_request_t req;
        wp_api_error_t err;
        /* As the gateway and the simulator do: free whether or not the parse
         * succeeded (a failed parse may hold the parsed tree). */
        if (wp_api_request_parse(kinds[i], body, size, &req, &err) == WP_OK)
            rewrite(&req, body, size);
        wp_api_request_free(&req);
    }
    long long pt = -1, ct = -1;
    wp_api_usage_scan(body, size, &pt, &ct);
    return 0;
}
