/*
 * api/response: writing OpenAI-style responses, stream chunks and error bodies (see
 * openai.h). Written with wp_buf_t rather than a JSON tree: the shapes are fixed and
 * the streamed path runs once per generated token. Each writer either appends one
 * whole document (or SSE event) or, when the buffer's cap is reached, leaves the
 * buffer as it found it and returns WP_ELIMIT.
 */
#include "api/openai.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

const char *wp_api_error_type(int status)
{
    switch (status) {
    case 400:
        return "BadRequestError";
    case 401:
        return "AuthenticationError";
    case 403:
        return "PermissionDeniedError";
    case 404:
        return "NotFoundError";
    case 405:
        return "MethodNotAllowedError";
    case 408:
        return "RequestTimeoutError";
    case 413:
        return "RequestTooLargeError";
    case 429:
        return "RateLimitError";
    case 431:
        return "RequestHeaderFieldsTooLargeError";
    case 502:
        return "BadGatewayError";
    case 503:
        return "ServiceUnavailableError";
    case 504:
        return "GatewayTimeoutError";
    case 505:
        return "HTTPVersionNotSupportedError";
    default:
        return status >= 500 ? "InternalServerError" : "BadRequestError";
    }
}

static wp_status_t put_str(wp_buf_t *out, const char *s, size_t n)
{
    if (wp_buf_puts(out, "\"") || wp_buf_json_escape(out, s, n) || wp_buf_puts(out, "\""))
        return WP_ELIMIT;
    return WP_OK;
}

/* Ends a writer: on failure the buffer is cut back to where the writer started, so a
 * capped buffer never holds half a JSON document. */
static wp_status_t done(wp_buf_t *out, size_t start, wp_status_t st)
{
    if (st != WP_OK && out->len > start) {
        out->len = start;
        out->data[start] = '\0';
    }
    return st;
}

wp_status_t wp_api_write_error(wp_buf_t *out, int status, const char *message, const char *param)
{
    size_t start = out->len;
    bool has_param = param != NULL && param[0] != '\0';
    bool bad = wp_buf_puts(out, "{\"error\":{\"message\":") ||
               put_str(out, message, strlen(message)) ||
               wp_buf_printf(out, ",\"type\":\"%s\",\"param\":", wp_api_error_type(status)) ||
               (has_param ? put_str(out, param, strlen(param)) : wp_buf_puts(out, "null")) ||
               wp_buf_printf(out, ",\"code\":%d}}", status);
    return done(out, start, bad ? WP_ELIMIT : WP_OK);
}

static wp_status_t write_head(wp_buf_t *out, const wp_api_resp_t *r, bool chunk)
{
    const char *object = r->kind == WP_API_CHAT
                             ? (chunk ? "chat.completion.chunk" : "chat.completion")
                             : "text_completion";
    if (wp_buf_puts(out, "{\"id\":") || put_str(out, r->id, strlen(r->id)) ||
        wp_buf_printf(out, ",\"object\":\"%s\",\"created\":%lld,\"model\":", object,
                      (long long)r->created) ||
        put_str(out, r->model, strlen(r->model)))
        return WP_ELIMIT;
    return WP_OK;
}

static wp_status_t write_usage(wp_buf_t *out, const wp_api_usage_t *u)
{
    return wp_buf_printf(
        out,
        "\"usage\":{\"prompt_tokens\":%lld,\"total_tokens\":%lld,\"completion_tokens\":%lld,"
        "\"prompt_tokens_details\":{\"cached_tokens\":%lld}}",
        (long long)u->prompt_tokens, (long long)(u->prompt_tokens + u->completion_tokens),
        (long long)u->completion_tokens, (long long)u->cached_tokens);
}

static wp_status_t write_finish(wp_buf_t *out, const char *reason)
{
    if (reason != NULL)
        return wp_buf_printf(out, ",\"finish_reason\":\"%s\"", reason);
    return wp_buf_puts(out, ",\"finish_reason\":null");
}

static wp_status_t write_kv_params(wp_buf_t *out, const cJSON *kv)
{
    if (kv == NULL)
        return WP_OK;
    char *s = cJSON_PrintUnformatted(kv);
    if (s == NULL)
        return WP_ENOMEM;
    wp_status_t st = wp_buf_puts(out, ",\"kv_transfer_params\":");
    if (st == WP_OK)
        st = wp_buf_puts(out, s);
    free(s);
    return st;
}

/* The one choice: chat's message or delta, or completions' text. */
static wp_status_t write_choice_text(wp_buf_t *out, const wp_api_resp_t *r, const char *text,
                                     size_t text_len, bool chunk, bool first)
{
    if (r->kind != WP_API_CHAT)
        return wp_buf_puts(out, "\"text\":") || put_str(out, text, text_len) ? WP_ELIMIT : WP_OK;
    if (chunk)
        return wp_buf_puts(out, first ? "\"delta\":{\"role\":\"assistant\",\"content\":"
                                      : "\"delta\":{\"content\":") ||
                       put_str(out, text, text_len) || wp_buf_puts(out, "}")
                   ? WP_ELIMIT
                   : WP_OK;
    return wp_buf_puts(out, "\"message\":{\"role\":\"assistant\",\"content\":") ||
                   put_str(out, text, text_len) || wp_buf_puts(out, ",\"tool_calls\":[]}")
               ? WP_ELIMIT
               : WP_OK;
}

wp_status_t wp_api_write_response(wp_buf_t *out, const wp_api_resp_t *r, const char *text,
                                  size_t text_len, const wp_api_usage_t *usage)
{
    size_t start = out->len;
    bool bad = write_head(out, r, false) || wp_buf_puts(out, ",\"choices\":[{\"index\":0,") ||
               write_choice_text(out, r, text, text_len, false, false) ||
               wp_buf_puts(out, ",\"logprobs\":null") ||
               write_finish(out, r->finish_reason ? r->finish_reason : "length") ||
               wp_buf_puts(out, ",\"stop_reason\":null}],") || write_usage(out, usage) ||
               write_kv_params(out, r->kv_transfer_params) || wp_buf_puts(out, "}");
    return done(out, start, bad ? WP_ELIMIT : WP_OK);
}

wp_status_t wp_api_write_chunk(wp_buf_t *out, const wp_api_resp_t *r, const char *text,
                               size_t text_len, bool first)
{
    size_t start = out->len;
    bool bad = wp_buf_puts(out, "data: ") || write_head(out, r, true) ||
               wp_buf_puts(out, ",\"choices\":[{\"index\":0,") ||
               write_choice_text(out, r, text, text_len, true, first) ||
               wp_buf_puts(out, ",\"logprobs\":null") || write_finish(out, r->finish_reason) ||
               wp_buf_puts(out, "}]}\n\n");
    return done(out, start, bad ? WP_ELIMIT : WP_OK);
}

wp_status_t wp_api_write_usage_chunk(wp_buf_t *out, const wp_api_resp_t *r,
                                     const wp_api_usage_t *usage)
{
    size_t start = out->len;
    bool bad = wp_buf_puts(out, "data: ") || write_head(out, r, true) ||
               wp_buf_puts(out, ",\"choices\":[],") || write_usage(out, usage) ||
               wp_buf_puts(out, "}\n\n");
    return done(out, start, bad ? WP_ELIMIT : WP_OK);
}

wp_status_t wp_api_write_done(wp_buf_t *out)
{
    return wp_buf_puts(out, "data: [DONE]\n\n");
}

/* The number at piece[j..n), into *out when it ends before the piece does (a number cut
 * at the end of a piece is not trusted). Returns where it stopped. */
static size_t read_count(const char *piece, size_t j, size_t n, long long *out)
{
    long long v = 0;
    size_t d = j;
    while (d < n && piece[d] >= '0' && piece[d] <= '9' && d - j < 15)
        v = v * 10 + (piece[d++] - '0');
    if (d > j && d < n)
        *out = v;
    return d;
}

/* One pass: memchr to each quote, then the two keys compared there only (an answer streams
 * a piece per token; comparing both keys at every byte was half the gateway's time per SSE
 * event). */
void wp_api_usage_scan(const char *piece, size_t n, long long *prompt_tokens,
                       long long *completion_tokens)
{
    static const char pk[] = "\"prompt_tokens\":", ck[] = "\"completion_tokens\":";
    const char *end = piece + n;
    for (const char *q = memchr(piece, '"', n); q != NULL;
         q = q + 1 < end ? memchr(q + 1, '"', (size_t)(end - q - 1)) : NULL) {
        size_t i = (size_t)(q - piece), left = n - i;
        if (left > sizeof(pk) - 1 && memcmp(q, pk, sizeof(pk) - 1) == 0)
            read_count(piece, i + sizeof(pk) - 1, n, prompt_tokens);
        else if (left > sizeof(ck) - 1 && memcmp(q, ck, sizeof(ck) - 1) == 0)
            read_count(piece, i + sizeof(ck) - 1, n, completion_tokens);
    }
}
