/*
 * api/response: writing OpenAI-style responses, stream chunks and error bodies (see
 * openai.h). Written with wp_buf_t rather than a JSON tree: the shapes are fixed and
 * the streamed path runs once per generated token.
 */
#include "api/openai.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

const char *wp_api_error_type(int status)
{
    switch (status) {
    case 400: return "BadRequestError";
    case 401: return "AuthenticationError";
    case 403: return "PermissionDeniedError";
    case 404: return "NotFoundError";
    case 408: return "RequestTimeoutError";
    case 413: return "RequestTooLargeError";
    case 429: return "RateLimitError";
    case 431: return "RequestHeaderFieldsTooLargeError";
    case 502: return "BadGatewayError";
    case 503: return "ServiceUnavailableError";
    case 504: return "GatewayTimeoutError";
    default: return status >= 500 ? "InternalServerError" : "BadRequestError";
    }
}

static wp_status_t put_str(wp_buf_t *out, const char *s, size_t n)
{
    if (wp_buf_puts(out, "\"") || wp_buf_json_escape(out, s, n) || wp_buf_puts(out, "\""))
        return WP_ELIMIT;
    return WP_OK;
}

wp_status_t wp_api_write_error(wp_buf_t *out, int status, const char *message, const char *param)
{
    wp_buf_puts(out, "{\"error\":{\"message\":");
    put_str(out, message, strlen(message));
    wp_buf_printf(out, ",\"type\":\"%s\",\"param\":", wp_api_error_type(status));
    if (param != NULL && param[0] != '\0')
        put_str(out, param, strlen(param));
    else
        wp_buf_puts(out, "null");
    return wp_buf_printf(out, ",\"code\":%d}}", status);
}

static void write_head(wp_buf_t *out, const wp_api_resp_t *r, bool chunk)
{
    const char *object = r->kind == WP_API_CHAT ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                                : "text_completion";
    wp_buf_puts(out, "{\"id\":");
    put_str(out, r->id, strlen(r->id));
    wp_buf_printf(out, ",\"object\":\"%s\",\"created\":%lld,\"model\":", object, (long long)r->created);
    put_str(out, r->model, strlen(r->model));
}

static void write_usage(wp_buf_t *out, const wp_api_usage_t *u)
{
    wp_buf_printf(out,
                  "\"usage\":{\"prompt_tokens\":%lld,\"total_tokens\":%lld,\"completion_tokens\":%lld,"
                  "\"prompt_tokens_details\":{\"cached_tokens\":%lld}}",
                  (long long)u->prompt_tokens, (long long)(u->prompt_tokens + u->completion_tokens),
                  (long long)u->completion_tokens, (long long)u->cached_tokens);
}

static void write_finish(wp_buf_t *out, const char *reason)
{
    if (reason != NULL)
        wp_buf_printf(out, ",\"finish_reason\":\"%s\"", reason);
    else
        wp_buf_puts(out, ",\"finish_reason\":null");
}

static void write_kv_params(wp_buf_t *out, const cJSON *kv)
{
    if (kv == NULL)
        return;
    char *s = cJSON_PrintUnformatted(kv);
    if (s == NULL)
        return;
    wp_buf_puts(out, ",\"kv_transfer_params\":");
    wp_buf_puts(out, s);
    free(s);
}

wp_status_t wp_api_write_response(wp_buf_t *out, const wp_api_resp_t *r, const char *text,
                                  size_t text_len, const wp_api_usage_t *usage)
{
    write_head(out, r, false);
    wp_buf_puts(out, ",\"choices\":[{\"index\":0,");
    if (r->kind == WP_API_CHAT) {
        wp_buf_puts(out, "\"message\":{\"role\":\"assistant\",\"content\":");
        put_str(out, text, text_len);
        wp_buf_puts(out, ",\"tool_calls\":[]}");
    } else {
        wp_buf_puts(out, "\"text\":");
        put_str(out, text, text_len);
    }
    wp_buf_puts(out, ",\"logprobs\":null");
    write_finish(out, r->finish_reason ? r->finish_reason : "length");
    wp_buf_puts(out, ",\"stop_reason\":null}],");
    write_usage(out, usage);
    write_kv_params(out, r->kv_transfer_params);
    return wp_buf_puts(out, "}");
}

wp_status_t wp_api_write_chunk(wp_buf_t *out, const wp_api_resp_t *r, const char *text,
                               size_t text_len, bool first)
{
    wp_buf_puts(out, "data: ");
    write_head(out, r, true);
    wp_buf_puts(out, ",\"choices\":[{\"index\":0,");
    if (r->kind == WP_API_CHAT) {
        wp_buf_puts(out, "\"delta\":{");
        if (first)
            wp_buf_puts(out, "\"role\":\"assistant\",");
        wp_buf_puts(out, "\"content\":");
        put_str(out, text, text_len);
        wp_buf_puts(out, "}");
    } else {
        wp_buf_puts(out, "\"text\":");
        put_str(out, text, text_len);
    }
    wp_buf_puts(out, ",\"logprobs\":null");
    write_finish(out, r->finish_reason);
    return wp_buf_puts(out, "}]}\n\n");
}

wp_status_t wp_api_write_usage_chunk(wp_buf_t *out, const wp_api_resp_t *r, const wp_api_usage_t *usage)
{
    wp_buf_puts(out, "data: ");
    write_head(out, r, true);
    wp_buf_puts(out, ",\"choices\":[],");
    write_usage(out, usage);
    return wp_buf_puts(out, "}\n\n");
}

wp_status_t wp_api_write_done(wp_buf_t *out)
{
    return wp_buf_puts(out, "data: [DONE]\n\n");
}
