/*
 * api/request: parsing and validating OpenAI-style request bodies (see openai.h).
 *
 * cJSON parses the body; each field a server or the gateway relies on is checked for
 * type and range in one table-free pass, stopping at the first problem. Messages are
 * rendered into one text with wp_api_render_chat so that the simulator's chat template
 * and the gateway's prefix hashing see the very same bytes.
 */
#include "api/openai.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"

#define MAX_PROMPT_IDS (1u << 22)

static wp_status_t bad(wp_api_error_t *e, const char *param, const char *fmt, const char *detail)
{
    e->status = 400;
    wp_strlcpy(e->param, param, sizeof(e->param));
    wp_err_set(&e->err, WP_EINVAL, fmt, detail);
    return WP_EINVAL;
}

static const char *type_name(const cJSON *v)
{
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsArray(v))
        return "an array";
    return "an object";
}

static bool is_integer(const cJSON *v)
{
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
           floor(v->valuedouble) == v->valuedouble && fabs(v->valuedouble) < 9.0e15;
}

/* An optional integer field in [lo, hi]; absent or null leaves *out as it is. */
static wp_status_t get_int(const cJSON *root, const char *key, int64_t lo, int64_t hi, int64_t *out,
                           wp_api_error_t *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (v == NULL || cJSON_IsNull(v))
        return WP_OK;
    char msg[160];
    if (!is_integer(v)) {
        snprintf(msg, sizeof(msg), "'%s' must be an integer, got %s", key, type_name(v));
        return bad(e, key, "%s", msg);
    }
    int64_t x = (int64_t)v->valuedouble;
    if (x < lo || x > hi) {
        snprintf(msg, sizeof(msg), "'%s' must be between %lld and %lld, got %lld", key,
                 (long long)lo, (long long)hi, (long long)x);
        return bad(e, key, "%s", msg);
    }
    *out = x;
    return WP_OK;
}

static wp_status_t check_number(const cJSON *root, const char *key, double lo, double hi,
                                wp_api_error_t *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (v == NULL || cJSON_IsNull(v))
        return WP_OK;
    char msg[160];
    if (!cJSON_IsNumber(v)) {
        snprintf(msg, sizeof(msg), "'%s' must be a number, got %s", key, type_name(v));
        return bad(e, key, "%s", msg);
    }
    if (!(v->valuedouble >= lo && v->valuedouble <= hi)) {
        snprintf(msg, sizeof(msg), "'%s' must be between %g and %g", key, lo, hi);
        return bad(e, key, "%s", msg);
    }
    return WP_OK;
}

static wp_status_t get_bool(const cJSON *root, const char *key, bool *out, wp_api_error_t *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (v == NULL || cJSON_IsNull(v))
        return WP_OK;
    if (!cJSON_IsBool(v)) {
        char msg[160];
        snprintf(msg, sizeof(msg), "'%s' must be a boolean, got %s", key, type_name(v));
        return bad(e, key, "%s", msg);
    }
    *out = cJSON_IsTrue(v);
    return WP_OK;
}

/* An optional string field; an empty string is refused when !allow_empty. */
static wp_status_t get_string(const cJSON *root, const char *key, bool allow_empty,
                              const char **out, wp_api_error_t *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (v == NULL || cJSON_IsNull(v))
        return WP_OK;
    char msg[160];
    if (!cJSON_IsString(v)) {
        snprintf(msg, sizeof(msg), "'%s' must be a string, got %s", key, type_name(v));
        return bad(e, key, "%s", msg);
    }
    if (!allow_empty && v->valuestring[0] == '\0') {
        snprintf(msg, sizeof(msg), "'%s' must be a non-empty string", key);
        return bad(e, key, "%s", msg);
    }
    *out = v->valuestring;
    return WP_OK;
}

static wp_status_t append_content(wp_buf_t *out, const cJSON *content)
{
    if (cJSON_IsString(content))
        return wp_buf_puts(out, content->valuestring);
    if (!cJSON_IsArray(content))
        return WP_OK; /* null content (tool calls) renders as nothing */
    const cJSON *part;
    cJSON_ArrayForEach(part, content)
    {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (cJSON_IsString(text) && wp_buf_puts(out, text->valuestring) != WP_OK)
            return WP_ELIMIT;
    }
    return WP_OK;
}

wp_status_t wp_api_render_chat(const cJSON *messages, wp_buf_t *out)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, messages)
    {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (wp_buf_printf(out, "<|%s|>\n", cJSON_IsString(role) ? role->valuestring : "user") ||
            append_content(out, cJSON_GetObjectItemCaseSensitive(m, "content")) ||
            wp_buf_puts(out, "\n"))
            return WP_ELIMIT;
    }
    return wp_buf_puts(out, "<|assistant|>\n");
}

static wp_status_t check_messages(const cJSON *msgs, wp_api_error_t *e)
{
    if (msgs == NULL)
        return bad(e, "messages", "%s", "'messages' is required");
    if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0)
        return bad(e, "messages", "'messages' must be a non-empty array, got %s",
                   cJSON_IsArray(msgs) ? "an empty array" : type_name(msgs));
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        char msg[200];
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!cJSON_IsObject(m))
            snprintf(msg, sizeof(msg), "messages[%d] must be an object, got %s", i, type_name(m));
        else if (!cJSON_IsString(role))
            snprintf(msg, sizeof(msg), "messages[%d].role must be a string", i);
        else if (content == NULL && strcmp(role->valuestring, "assistant") != 0)
            snprintf(msg, sizeof(msg), "messages[%d].content is required for role '%.32s'", i,
                     role->valuestring);
        else if (content != NULL && !cJSON_IsString(content) && !cJSON_IsArray(content) &&
                 !cJSON_IsNull(content))
            snprintf(msg, sizeof(msg),
                     "messages[%d].content must be a string or an array of parts, got %s", i,
                     type_name(content));
        else {
            i++;
            continue;
        }
        return bad(e, "messages", "%s", msg);
    }
    return WP_OK;
}

static wp_status_t take_ids(wp_api_request_t *r, const cJSON *arr, wp_api_error_t *e)
{
    size_t n = (size_t)cJSON_GetArraySize(arr);
    if (n == 0 || n > MAX_PROMPT_IDS)
        return bad(e, "prompt", "%s", "'prompt' token list must hold 1 to 4194304 token ids");
    r->prompt_ids = malloc(n * sizeof(int32_t));
    if (r->prompt_ids == NULL)
        return bad(e, "prompt", "%s", "out of memory");
    const cJSON *t;
    cJSON_ArrayForEach(t, arr)
    {
        if (!is_integer(t) || t->valuedouble < 0 || t->valuedouble > 2147483647.0)
            return bad(e, "prompt", "%s", "'prompt' token ids must be non-negative integers");
        r->prompt_ids[r->n_prompt_ids++] = (int32_t)t->valuedouble;
    }
    return WP_OK;
}

/* The prompt is the tree's own string, not a copy (a 400 KB prompt was copied here). */
static wp_status_t view_prompt(wp_api_request_t *r, const char *s)
{
    r->prompt.len = strlen(s);
    r->prompt.data = r->prompt.len > 0 ? s : NULL;
    return WP_OK;
}

static wp_status_t parse_prompt(wp_api_request_t *r, const cJSON *p, wp_api_error_t *e)
{
    if (p == NULL)
        return bad(e, "prompt", "%s", "'prompt' is required");
    if (cJSON_IsString(p))
        return view_prompt(r, p->valuestring);
    if (!cJSON_IsArray(p) || cJSON_GetArraySize(p) == 0)
        return bad(e, "prompt",
                   "'prompt' must be a string, a list of token ids or a one-element list, got %s",
                   cJSON_IsArray(p) ? "an empty array" : type_name(p));
    const cJSON *first = p->child;
    if (cJSON_IsNumber(first))
        return take_ids(r, p, e);
    if (cJSON_GetArraySize(p) > 1)
        return bad(
            e, "prompt", "%s",
            "'prompt' lists of several prompts are not supported; send one request per prompt");
    if (cJSON_IsString(first))
        return view_prompt(r, first->valuestring);
    if (cJSON_IsArray(first))
        return take_ids(r, first, e);
    return bad(e, "prompt", "'prompt' elements must be strings or token ids, got %s",
               type_name(first));
}

static wp_status_t parse_fields(wp_api_request_t *r, wp_api_error_t *e)
{
    cJSON *root = r->root;
    if (get_string(root, "model", false, &r->model, e) || get_bool(root, "stream", &r->stream, e) ||
        get_int(root, "max_tokens", 1, 1 << 24, &r->max_tokens, e) ||
        get_int(root, "max_completion_tokens", 1, 1 << 24, &r->max_tokens, e) ||
        get_int(root, "min_tokens", 0, 1 << 24, &r->min_tokens, e) ||
        get_int(root, "n", 1, 128, &r->n, e) ||
        get_int(root, "priority", -(1LL << 31), (1LL << 31) - 1, &r->priority, e) ||
        get_bool(root, "ignore_eos", &r->ignore_eos, e) ||
        check_number(root, "temperature", 0.0, 2.0, e) ||
        check_number(root, "top_p", 0.0, 1.0, e) ||
        get_string(root, "cache_salt", false, &r->cache_salt, e) ||
        get_string(root, "request_id", true, &r->request_id, e))
        return WP_EINVAL;
    const cJSON *prio = cJSON_GetObjectItemCaseSensitive(root, "priority");
    r->has_priority = prio != NULL && !cJSON_IsNull(prio);
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
    if (so != NULL && !cJSON_IsNull(so)) {
        if (!cJSON_IsObject(so))
            return bad(e, "stream_options", "'stream_options' must be an object, got %s",
                       type_name(so));
        if (get_bool(so, "include_usage", &r->include_usage, e))
            return WP_EINVAL;
    }
    cJSON *kv = cJSON_GetObjectItemCaseSensitive(root, "kv_transfer_params");
    if (kv != NULL && !cJSON_IsNull(kv) && !cJSON_IsObject(kv))
        return bad(e, "kv_transfer_params", "'kv_transfer_params' must be an object, got %s",
                   type_name(kv));
    r->kv_transfer_params = cJSON_IsObject(kv) ? kv : NULL;
    if (r->kind == WP_API_CHAT) {
        const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
        if (check_messages(msgs, e))
            return WP_EINVAL;
        if (wp_api_render_chat(msgs, &r->rendered) != WP_OK)
            return bad(e, "messages", "%s", "'messages' are too long");
        r->prompt.data = r->rendered.len > 0 ? r->rendered.data : NULL;
        r->prompt.len = r->rendered.len;
        return WP_OK;
    }
    return parse_prompt(r, cJSON_GetObjectItemCaseSensitive(root, "prompt"), e);
}

wp_status_t wp_api_request_parse(wp_api_kind_t kind, const char *body, size_t len,
                                 wp_api_request_t *out, wp_api_error_t *e)
{
    memset(out, 0, sizeof(*out));
    out->kind = kind;
    out->max_tokens = -1;
    out->n = 1;
    wp_buf_init(&out->rendered, 0);
    e->status = 0;
    e->param[0] = '\0';
    e->err.msg[0] = '\0';
    if (len == 0)
        return bad(e, "", "%s", "the request body is empty; expected a JSON object");
    const char *end = NULL;
    out->root = cJSON_ParseWithLengthOpts(body, len, &end, false);
    if (out->root == NULL) {
        char msg[120];
        size_t off = end != NULL && end >= body ? (size_t)(end - body) : 0;
        snprintf(msg, sizeof(msg), "invalid JSON in the request body near byte %zu", off);
        return bad(e, "", "%s", msg);
    }
    for (const char *p = end; p != NULL && p < body + len; p++) {
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
            char msg[120];
            snprintf(msg, sizeof(msg), "invalid JSON: unexpected data after the object at byte %zu",
                     (size_t)(p - body));
            return bad(e, "", "%s", msg);
        }
    }
    if (!cJSON_IsObject(out->root))
        return bad(e, "", "the request body must be a JSON object, got %s", type_name(out->root));
    return parse_fields(out, e);
}

void wp_api_request_free(wp_api_request_t *req)
{
    cJSON_Delete(req->root);
    req->root = NULL;
    wp_buf_free(&req->rendered);
    req->prompt.data = NULL;
    req->prompt.len = 0;
    free(req->prompt_ids);
    req->prompt_ids = NULL;
}

bool wp_api_kind_from_path(const char *path, size_t len, wp_api_kind_t *kind)
{
    wp_str_t p = {path, len};
    if (wp_str_eq_cstr(p, "/v1/completions")) {
        *kind = WP_API_COMPLETIONS;
        return true;
    }
    if (wp_str_eq_cstr(p, "/v1/chat/completions")) {
        *kind = WP_API_CHAT;
        return true;
    }
    return false;
}
