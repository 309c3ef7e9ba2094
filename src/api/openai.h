/*
 * api/openai: the OpenAI-compatible request and response bodies, as vLLM serves them
 * (docs/reference.md §1). Pure: parses and writes byte buffers.
 *
 * Parsing validates what a server or the gateway relies on (types of model, prompt or
 * messages, stream, stream_options, max_tokens / max_completion_tokens, n,
 * temperature, top_p, cache_salt, priority) and reports the first problem with the
 * offending field in `param` and a message that says what was expected. Everything
 * else in the body is left alone, so the gateway can pass the body through untouched.
 *
 * Ownership: wp_api_request_t owns its strings, its rendered prompt and the cJSON tree
 * wp_api_request_tree may build; it borrows the body, which must outlive it. The string
 * fields (model, cache_salt, request_id) point into `strings`; the prompt is a view into
 * the body (a string without escapes) or into `rendered`. Free with wp_api_request_free.
 */
#ifndef WP_API_OPENAI_H
#define WP_API_OPENAI_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

typedef struct cJSON cJSON;
typedef struct wp_json_s wp_json_t;

typedef enum { WP_API_COMPLETIONS, WP_API_CHAT } wp_api_kind_t;

typedef struct wp_api_request_s {
    wp_api_kind_t kind;
    const char *body; /* borrowed: the text parsed, which must outlive the request */
    size_t body_len;
    cJSON *root;       /* NULL until wp_api_request_tree builds it (owned) */
    const char *model; /* NULL when absent (a server then uses its default model) */
    bool stream;
    bool include_usage; /* stream_options.include_usage */
    int64_t max_tokens; /* -1 when absent */
    int64_t min_tokens; /* 0 when absent */
    int64_t n;
    int64_t priority; /* 0 when absent; lower runs earlier */
    bool has_priority;
    bool ignore_eos;
    bool add_special_tokens;     /* true when absent */
    const char *cache_salt;      /* NULL when absent */
    const char *request_id;      /* body field request_id, NULL when absent */
    bool has_kv_transfer_params; /* an object (wp_api_request_kv_params reads it) */
    /* The prompt as text, a view (data NULL when empty): completions' prompt string where
     * it lies in the body when it holds no escape (then not NUL-terminated, and gone with
     * the body), else decoded into `rendered`; or the chat messages wp_api_render_chat
     * rendered there. Token-id prompts are kept in prompt_ids instead. */
    struct {
        const char *data;
        size_t len;
    } prompt;
    wp_buf_t rendered; /* a decoded prompt or the rendered chat (owned) */
    wp_buf_t strings;  /* model, cache_salt, request_id, NUL-terminated (owned) */
    int32_t *prompt_ids;
    size_t n_prompt_ids;
} wp_api_request_t;

typedef struct wp_api_error_s {
    int status;     /* HTTP status to answer with */
    char param[64]; /* offending field, "" when none */
    wp_err_t err;   /* the message */
} wp_api_error_t;

wp_status_t wp_api_request_parse(wp_api_kind_t kind, const char *body, size_t len,
                                 wp_api_request_t *out, wp_api_error_t *err);
void wp_api_request_free(wp_api_request_t *req);

/* The body as a cJSON tree, for callers that edit or template it (P/D bodies, the chat
 * template of a real tokenizer); built on first use and owned by r. NULL when out of
 * memory. */
cJSON *wp_api_request_tree(wp_api_request_t *r);
/* The body's kv_transfer_params object (in the tree), NULL when absent. */
cJSON *wp_api_request_kv_params(wp_api_request_t *r);

/* Renders chat messages (array token `messages` of j; -1: none) as one text, the same way
 * everywhere (the simulator's chat template and the gateway's prefix hashing):
 * "<|role|>\ncontent\n" per message, then "<|assistant|>\n". Text parts of array
 * contents are concatenated. */
wp_status_t wp_api_render_chat(const wp_json_t *j, int messages, wp_buf_t *out);

/* Path from a URL path: /v1/completions → WP_API_COMPLETIONS etc.; false otherwise. */
bool wp_api_kind_from_path(const char *path, size_t len, wp_api_kind_t *kind);

/* Reads "prompt_tokens":N and "completion_tokens":N out of a piece of an answer (a JSON
 * body or SSE events, as they pass through), updating the values found; a number cut
 * across two pieces is missed. For logging usage without parsing whole answers. */
void wp_api_usage_scan(const char *piece, size_t n, long long *prompt_tokens,
                       long long *completion_tokens);

/* ---- responses (the simulator writes these) ---- */

typedef struct wp_api_usage_s {
    int64_t prompt_tokens, completion_tokens, cached_tokens;
} wp_api_usage_t;

typedef struct wp_api_resp_s {
    wp_api_kind_t kind;
    const char *id; /* "cmpl-…" or "chatcmpl-…" */
    const char *model;
    int64_t created;                 /* unix seconds */
    const char *finish_reason;       /* NULL while streaming */
    const cJSON *kv_transfer_params; /* added at top level when not NULL */
} wp_api_resp_t;

/* A whole non-streamed response with one choice holding text. */
wp_status_t wp_api_write_response(wp_buf_t *out, const wp_api_resp_t *r, const char *text,
                                  size_t text_len, const wp_api_usage_t *usage);
/* One SSE event "data: {chunk}\n\n". For chat, first = true adds the role delta. A
 * finish_reason in r marks the last content chunk. */
wp_status_t wp_api_write_chunk(wp_buf_t *out, const wp_api_resp_t *r, const char *text,
                               size_t text_len, bool first);
/* The usage chunk (choices: []) sent before [DONE] with include_usage. */
wp_status_t wp_api_write_usage_chunk(wp_buf_t *out, const wp_api_resp_t *r,
                                     const wp_api_usage_t *usage);
/* "data: [DONE]\n\n" */
wp_status_t wp_api_write_done(wp_buf_t *out);
/* An error body {"error":{"message","type","param","code"}}; type from the status. */
wp_status_t wp_api_write_error(wp_buf_t *out, int status, const char *message, const char *param);
/* The OpenAI error type for an HTTP status: 400 BadRequestError, 404 NotFoundError, … */
const char *wp_api_error_type(int status);

#endif
