/*
 * api/request: parsing and validating OpenAI-style request bodies (see openai.h).
 *
 * base/json indexes the body in place (no tree, no copy); each field a server or the
 * gateway relies on is checked for type and range in one table-free pass, stopping at the
 * first problem. The prompt is a view of the body's text when it holds no escape; short
 * string fields are copied, NUL-terminated, into r->strings. Messages are rendered into one
 * text with wp_api_render_chat so that the simulator's chat template and the gateway's
 * prefix hashing see the very same bytes. A cJSON tree of the body is built only for the
 * callers that edit or template it (wp_api_request_tree: P/D bodies, chat templates).
 */
#include "api/openai.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/str.h"

#define MAX_PROMPT_IDS (1u << 22)

static wp_status_t bad(wp_api_error_t *e, const char *param, const char *fmt, const char *detail)
{
    e->status = 400;
    wp_strlcpy(e->param, param, sizeof(e->param));
    wp_err_set(&e->err, WP_EINVAL, fmt, detail);
    return WP_EINVAL;
}

typedef struct parse_s {
    wp_api_request_t *r;
    const wp_json_t *j;
    wp_api_error_t *e;
} parse_t;

static const char *type_name(const wp_json_t *j, int v)
{
    static const char *const names[] = {"null",     "a boolean", "a boolean", "a number",
                                        "a string", "an array",  "an object"};
    return names[wp_json_type(j, v)];
}

static bool absent(const wp_json_t *j, int v)
{
    return v < 0 || wp_json_type(j, v) == WP_JSON_NULL;
}

static bool is_bool(const wp_json_t *j, int v)
{
    return v >= 0 && (wp_json_type(j, v) == WP_JSON_TRUE || wp_json_type(j, v) == WP_JSON_FALSE);
}

static bool is_integer(const wp_json_t *j, int v, double *x)
{
    if (v < 0 || wp_json_type(j, v) != WP_JSON_NUMBER)
        return false;
    *x = wp_json_number(j, v);
    return isfinite(*x) && floor(*x) == *x && fabs(*x) < 9.0e15;
}

/* Appends string value v, decoded and NUL-terminated, to r->strings. */
static wp_status_t keep_string(parse_t *p, int v)
{
    const char *s;
    size_t n;
    size_t at = p->r->strings.len;
    if (wp_json_str(p->j, v, &p->r->strings, &s, &n) != WP_OK)
        return WP_ELIMIT;
    if (p->r->strings.len == at && wp_buf_append(&p->r->strings, s, n) != WP_OK)
        return WP_ELIMIT; /* it was read in place (nothing decoded here): copied */
    return wp_buf_append(&p->r->strings, "", 1);
}

/* An optional integer field in [lo, hi]; absent or null leaves *out as it is. */
static wp_status_t get_int(parse_t *p, int obj, const char *key, int64_t lo, int64_t hi,
                           int64_t *out)
{
    int v = wp_json_get(p->j, obj, key);
    if (absent(p->j, v))
        return WP_OK;
    char msg[160];
    double d;
    if (!is_integer(p->j, v, &d)) {
        snprintf(msg, sizeof(msg), "'%s' must be an integer, got %s", key, type_name(p->j, v));
        return bad(p->e, key, "%s", msg);
    }
    int64_t x = (int64_t)d;
    if (x < lo || x > hi) {
        snprintf(msg, sizeof(msg), "'%s' must be between %lld and %lld, got %lld", key,
                 (long long)lo, (long long)hi, (long long)x);
        return bad(p->e, key, "%s", msg);
    }
    *out = x;
    return WP_OK;
}

static wp_status_t check_number(parse_t *p, int obj, const char *key, double lo, double hi)
{
    int v = wp_json_get(p->j, obj, key);
    if (absent(p->j, v))
        return WP_OK;
    char msg[160];
    if (wp_json_type(p->j, v) != WP_JSON_NUMBER) {
        snprintf(msg, sizeof(msg), "'%s' must be a number, got %s", key, type_name(p->j, v));
        return bad(p->e, key, "%s", msg);
    }
    double x = wp_json_number(p->j, v);
    if (!(x >= lo && x <= hi)) {
        snprintf(msg, sizeof(msg), "'%s' must be between %g and %g", key, lo, hi);
        return bad(p->e, key, "%s", msg);
    }
    return WP_OK;
}

static wp_status_t get_bool(parse_t *p, int obj, const char *key, bool *out)
{
    int v = wp_json_get(p->j, obj, key);
    if (absent(p->j, v))
        return WP_OK;
    if (!is_bool(p->j, v)) {
        char msg[160];
        snprintf(msg, sizeof(msg), "'%s' must be a boolean, got %s", key, type_name(p->j, v));
        return bad(p->e, key, "%s", msg);
    }
    *out = wp_json_type(p->j, v) == WP_JSON_TRUE;
    return WP_OK;
}

/* An optional string field (its offset in r->strings, or -1); an empty string is refused
 * when !allow_empty. */
static wp_status_t get_string(parse_t *p, int obj, const char *key, bool allow_empty,
                              ptrdiff_t *out)
{
    int v = wp_json_get(p->j, obj, key);
    if (absent(p->j, v))
        return WP_OK;
    char msg[160];
    if (wp_json_type(p->j, v) != WP_JSON_STRING) {
        snprintf(msg, sizeof(msg), "'%s' must be a string, got %s", key, type_name(p->j, v));
        return bad(p->e, key, "%s", msg);
    }
    if (!allow_empty && p->j->toks[v].len == 0) {
        snprintf(msg, sizeof(msg), "'%s' must be a non-empty string", key);
        return bad(p->e, key, "%s", msg);
    }
    size_t at = p->r->strings.len;
    if (keep_string(p, v) != WP_OK)
        return bad(p->e, key, "'%s' is too long", key);
    *out = (ptrdiff_t)at;
    return WP_OK;
}

static wp_status_t append_str(const wp_json_t *j, int v, wp_buf_t *out)
{
    const char *s;
    size_t n;
    size_t at = out->len;
    if (wp_json_str(j, v, out, &s, &n) != WP_OK)
        return WP_ELIMIT;
    if (out->len != at)
        return WP_OK; /* decoded into out: already there */
    return wp_buf_append(out, s, n);
}

static wp_status_t append_content(const wp_json_t *j, int content, wp_buf_t *out)
{
    if (content < 0)
        return WP_OK;
    if (wp_json_type(j, content) == WP_JSON_STRING)
        return append_str(j, content, out);
    if (wp_json_type(j, content) != WP_JSON_ARRAY)
        return WP_OK; /* null content (tool calls) renders as nothing */
    for (int part = wp_json_first(j, content); part >= 0; part = wp_json_next(j, content, part)) {
        int text = wp_json_get(j, part, "text");
        if (text >= 0 && wp_json_type(j, text) == WP_JSON_STRING &&
            append_str(j, text, out) != WP_OK)
            return WP_ELIMIT;
    }
    return WP_OK;
}

wp_status_t wp_api_render_chat(const wp_json_t *j, int messages, wp_buf_t *out)
{
    for (int m = messages >= 0 ? wp_json_first(j, messages) : -1; m >= 0;
         m = wp_json_next(j, messages, m)) {
        int role = wp_json_get(j, m, "role");
        if (wp_buf_puts(out, "<|") != WP_OK ||
            (role >= 0 && wp_json_type(j, role) == WP_JSON_STRING
                 ? append_str(j, role, out)
                 : wp_buf_puts(out, "user")) != WP_OK ||
            wp_buf_puts(out, "|>\n") != WP_OK ||
            append_content(j, wp_json_get(j, m, "content"), out) != WP_OK ||
            wp_buf_puts(out, "\n") != WP_OK)
            return WP_ELIMIT;
    }
    return wp_buf_puts(out, "<|assistant|>\n");
}

static void content_required(const wp_json_t *j, int role, int i, char *msg, size_t cap)
{
    wp_buf_t b;
    wp_buf_init(&b, 0);
    const char *s = "";
    size_t n = 0;
    (void)wp_json_str(j, role, &b, &s, &n);
    snprintf(msg, cap, "messages[%d].content is required for role '%.*s'", i,
             (int)(n < 32 ? n : 32), s);
    wp_buf_free(&b);
}

static wp_status_t check_messages(parse_t *p, int msgs)
{
    const wp_json_t *j = p->j;
    if (msgs < 0)
        return bad(p->e, "messages", "%s", "'messages' is required");
    if (wp_json_type(j, msgs) != WP_JSON_ARRAY || j->toks[msgs].count == 0)
        return bad(p->e, "messages", "'messages' must be a non-empty array, got %s",
                   wp_json_type(j, msgs) == WP_JSON_ARRAY ? "an empty array" : type_name(j, msgs));
    int i = 0;
    for (int m = wp_json_first(j, msgs); m >= 0; m = wp_json_next(j, msgs, m), i++) {
        char msg[200];
        if (wp_json_type(j, m) != WP_JSON_OBJECT) {
            snprintf(msg, sizeof(msg), "messages[%d] must be an object, got %s", i,
                     type_name(j, m));
            return bad(p->e, "messages", "%s", msg);
        }
        int role = wp_json_get(j, m, "role"), content = wp_json_get(j, m, "content");
        if (role < 0 || wp_json_type(j, role) != WP_JSON_STRING)
            snprintf(msg, sizeof(msg), "messages[%d].role must be a string", i);
        else if (content < 0 && !wp_json_str_eq(j, role, "assistant"))
            content_required(j, role, i, msg, sizeof(msg));
        else if (content >= 0 && wp_json_type(j, content) != WP_JSON_STRING &&
                 wp_json_type(j, content) != WP_JSON_ARRAY && !absent(j, content))
            snprintf(msg, sizeof(msg),
                     "messages[%d].content must be a string or an array of parts, got %s", i,
                     type_name(j, content));
        else
            continue;
        return bad(p->e, "messages", "%s", msg);
    }
    return WP_OK;
}

static wp_status_t take_ids(parse_t *p, int arr)
{
    const wp_json_t *j = p->j;
    wp_api_request_t *r = p->r;
    size_t n = j->toks[arr].count;
    if (n == 0 || n > MAX_PROMPT_IDS)
        return bad(p->e, "prompt", "%s", "'prompt' token list must hold 1 to 4194304 token ids");
    r->prompt_ids = malloc(n * sizeof(int32_t));
    if (r->prompt_ids == NULL)
        return bad(p->e, "prompt", "%s", "out of memory");
    for (int t = wp_json_first(j, arr); t >= 0; t = wp_json_next(j, arr, t)) {
        double x;
        if (!is_integer(j, t, &x) || x < 0 || x > 2147483647.0)
            return bad(p->e, "prompt", "%s", "'prompt' token ids must be non-negative integers");
        r->prompt_ids[r->n_prompt_ids++] = (int32_t)x;
    }
    return WP_OK;
}

/* The prompt is the body's own text where it has no escapes (a 400 KB prompt is not
 * copied), else decoded into r->rendered. */
static wp_status_t view_prompt(parse_t *p, int v)
{
    const char *s;
    size_t n;
    if (wp_json_str(p->j, v, &p->r->rendered, &s, &n) != WP_OK)
        return bad(p->e, "prompt", "%s", "'prompt' is too long");
    p->r->prompt.data = n > 0 ? s : NULL;
    p->r->prompt.len = n;
    return WP_OK;
}

static wp_status_t parse_prompt(parse_t *p, int v)
{
    const wp_json_t *j = p->j;
    if (v < 0)
        return bad(p->e, "prompt", "%s", "'prompt' is required");
    if (wp_json_type(j, v) == WP_JSON_STRING)
        return view_prompt(p, v);
    if (wp_json_type(j, v) != WP_JSON_ARRAY || j->toks[v].count == 0)
        return bad(p->e, "prompt",
                   "'prompt' must be a string, a list of token ids or a one-element list, got %s",
                   wp_json_type(j, v) == WP_JSON_ARRAY ? "an empty array" : type_name(j, v));
    int first = wp_json_first(j, v);
    if (wp_json_type(j, first) == WP_JSON_NUMBER)
        return take_ids(p, v);
    if (j->toks[v].count > 1)
        return bad(
            p->e, "prompt", "%s",
            "'prompt' lists of several prompts are not supported; send one request per prompt");
    if (wp_json_type(j, first) == WP_JSON_STRING)
        return view_prompt(p, first);
    if (wp_json_type(j, first) == WP_JSON_ARRAY)
        return take_ids(p, first);
    return bad(p->e, "prompt", "'prompt' elements must be strings or token ids, got %s",
               type_name(j, first));
}

static wp_status_t parse_fields(parse_t *p)
{
    wp_api_request_t *r = p->r;
    ptrdiff_t model = -1, salt = -1, rid = -1;
    if (get_string(p, 0, "model", false, &model) || get_bool(p, 0, "stream", &r->stream) ||
        get_int(p, 0, "max_tokens", 1, 1 << 24, &r->max_tokens) ||
        get_int(p, 0, "max_completion_tokens", 1, 1 << 24, &r->max_tokens) ||
        get_int(p, 0, "min_tokens", 0, 1 << 24, &r->min_tokens) ||
        get_int(p, 0, "n", 1, 128, &r->n) ||
        get_int(p, 0, "priority", -(1LL << 31), (1LL << 31) - 1, &r->priority) ||
        get_bool(p, 0, "ignore_eos", &r->ignore_eos) ||
        get_bool(p, 0, "add_special_tokens", &r->add_special_tokens) ||
        check_number(p, 0, "temperature", 0.0, 2.0) || check_number(p, 0, "top_p", 0.0, 1.0) ||
        get_string(p, 0, "cache_salt", false, &salt) || get_string(p, 0, "request_id", true, &rid))
        return WP_EINVAL;
    /* The strings are complete: point into their buffer, which no longer grows. */
    r->model = model >= 0 ? r->strings.data + model : NULL;
    r->cache_salt = salt >= 0 ? r->strings.data + salt : NULL;
    r->request_id = rid >= 0 ? r->strings.data + rid : NULL;
    r->has_priority = !absent(p->j, wp_json_get(p->j, 0, "priority"));
    int so = wp_json_get(p->j, 0, "stream_options");
    if (!absent(p->j, so)) {
        if (wp_json_type(p->j, so) != WP_JSON_OBJECT)
            return bad(p->e, "stream_options", "'stream_options' must be an object, got %s",
                       type_name(p->j, so));
        if (get_bool(p, so, "include_usage", &r->include_usage))
            return WP_EINVAL;
    }
    int kv = wp_json_get(p->j, 0, "kv_transfer_params");
    if (!absent(p->j, kv) && wp_json_type(p->j, kv) != WP_JSON_OBJECT)
        return bad(p->e, "kv_transfer_params", "'kv_transfer_params' must be an object, got %s",
                   type_name(p->j, kv));
    r->has_kv_transfer_params = !absent(p->j, kv);
    if (r->kind == WP_API_CHAT) {
        int msgs = wp_json_get(p->j, 0, "messages");
        if (check_messages(p, msgs))
            return WP_EINVAL;
        if (wp_api_render_chat(p->j, msgs, &r->rendered) != WP_OK)
            return bad(p->e, "messages", "%s", "'messages' are too long");
        r->prompt.data = r->rendered.len > 0 ? r->rendered.data : NULL;
        r->prompt.len = r->rendered.len;
        return WP_OK;
    }
    return parse_prompt(p, wp_json_get(p->j, 0, "prompt"));
}

wp_status_t wp_api_request_parse(wp_api_kind_t kind, const char *body, size_t len,
                                 wp_api_request_t *out, wp_api_error_t *e)
{
    memset(out, 0, sizeof(*out));
    out->kind = kind;
    out->max_tokens = -1;
    out->n = 1;
    out->add_special_tokens = true;
    out->body = body;
    out->body_len = len;
    wp_buf_init(&out->rendered, 0);
    wp_buf_init(&out->strings, 0);
    e->status = 0;
    e->param[0] = '\0';
    e->err.msg[0] = '\0';
    if (len == 0)
        return bad(e, "", "%s", "the request body is empty; expected a JSON object");
    wp_json_t j;
    size_t at;
    wp_err_t jerr;
    wp_status_t st = wp_json_parse(&j, body, len, &at, &jerr);
    if (st != WP_OK) {
        char msg[200];
        snprintf(msg, sizeof(msg), "invalid JSON in the request body at byte %zu: %.120s", at,
                 jerr.msg);
        wp_json_free(&j);
        return bad(e, "", "%s", msg);
    }
    parse_t p = {.r = out, .j = &j, .e = e};
    st = wp_json_type(&j, 0) != WP_JSON_OBJECT
             ? bad(e, "", "the request body must be a JSON object, got %s", type_name(&j, 0))
             : parse_fields(&p);
    wp_json_free(&j);
    return st;
}

cJSON *wp_api_request_tree(wp_api_request_t *r)
{
    if (r->root == NULL && r->body != NULL)
        r->root = cJSON_ParseWithLength(r->body, r->body_len);
    return r->root;
}

cJSON *wp_api_request_kv_params(wp_api_request_t *r)
{
    if (!r->has_kv_transfer_params)
        return NULL;
    cJSON *kv = cJSON_GetObjectItemCaseSensitive(wp_api_request_tree(r), "kv_transfer_params");
    return cJSON_IsObject(kv) ? kv : NULL;
}

void wp_api_request_free(wp_api_request_t *req)
{
    cJSON_Delete(req->root);
    req->root = NULL;
    wp_buf_free(&req->rendered);
    wp_buf_free(&req->strings);
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
