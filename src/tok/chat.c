/*
 * tok/chat: the chat templates as code.
 *
 * Each function follows its Jinja template statement by statement; the Jinja string
 * methods it uses are written out below with Python's meaning (split(x)[-1] is what
 * follows the last x, split(x)[0] what precedes the first; strip('\n') drops newlines
 * only; trim drops str.isspace() characters).
 */
#include "tok/chat.h"

#include <string.h>

#include "tok/unicode.h"

typedef struct {
    const char *p;
    size_t n;
} span_t;

static span_t span_of(const char *p, size_t n)
{
    return (span_t){p, n};
}

static const char *find(span_t s, const char *needle)
{
    size_t k = strlen(needle);
    if (k > s.n)
        return NULL;
    for (size_t i = 0; i + k <= s.n; i++)
        if (memcmp(s.p + i, needle, k) == 0)
            return s.p + i;
    return NULL;
}

static const char *find_last(span_t s, const char *needle)
{
    size_t k = strlen(needle);
    if (k > s.n)
        return NULL;
    for (size_t i = s.n - k + 1; i-- > 0;)
        if (memcmp(s.p + i, needle, k) == 0)
            return s.p + i;
    return NULL;
}

static span_t lstrip_nl(span_t s)
{
    while (s.n && s.p[0] == '\n')
        s.p++, s.n--;
    return s;
}

static span_t rstrip_nl(span_t s)
{
    while (s.n && s.p[s.n - 1] == '\n')
        s.n--;
    return s;
}

static int starts_with(span_t s, const char *x)
{
    size_t k = strlen(x);
    return s.n >= k && memcmp(s.p, x, k) == 0;
}

static int ends_with(span_t s, const char *x)
{
    size_t k = strlen(x);
    return s.n >= k && memcmp(s.p + s.n - k, x, k) == 0;
}

/* Python's str.isspace() for one code point. */
static int py_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Jinja's trim, as str.strip(): whitespace off both ends. s is valid UTF-8. */
static span_t trim(span_t s)
{
    uint32_t cp;
    size_t k;
    while (s.n && (k = wp__utf8_decode((const unsigned char *)s.p, s.n, &cp)) != 0 && py_space(cp))
        s.p += k, s.n -= k;
    while (s.n) {
        size_t i = s.n - 1;
        while (i > 0 && ((unsigned char)s.p[i] & 0xc0) == 0x80)
            i--;
        k = wp__utf8_decode((const unsigned char *)s.p + i, s.n - i, &cp);
        if (!k || !py_space(cp))
            break;
        s.n = i;
    }
    return s;
}

static wp_status_t put(wp_buf_t *b, span_t s)
{
    return s.n ? wp_buf_append(b, s.p, s.n) : WP_OK;
}

static int role_is(const wp_chat_msg_t *m, const char *r)
{
    return strcmp(m->role, r) == 0;
}

static span_t content(const wp_chat_msg_t *m)
{
    return span_of(m->content, m->content_len);
}

#define PUT(x)                                                                                     \
    do {                                                                                           \
        wp_status_t st_ = (x);                                                                     \
        if (st_ != WP_OK)                                                                          \
            return st_;                                                                            \
    } while (0)

static wp_status_t qwen3_assistant(const wp_chat_msg_t *m, int after_query, int last, wp_buf_t *b)
{
    span_t c = content(m), reasoning = span_of("", 0);
    const char *close = find(c, "</think>");
    if (close) {
        const char *lastclose = find_last(c, "</think>");
        span_t before = span_of(c.p, (size_t)(close - c.p));
        c = lstrip_nl(span_of(lastclose + 8, (size_t)(c.p + c.n - lastclose - 8)));
        before = rstrip_nl(before);
        const char *open = find_last(before, "<think>");
        if (open)
            before = span_of(open + 7, (size_t)(before.p + before.n - open - 7));
        reasoning = lstrip_nl(before);
    }
    PUT(wp_buf_puts(b, "<|im_start|>assistant\n"));
    if (after_query && (last || reasoning.n)) {
        PUT(wp_buf_puts(b, "<think>\n"));
        PUT(put(b, rstrip_nl(lstrip_nl(reasoning))));
        PUT(wp_buf_puts(b, "\n</think>\n\n"));
        c = lstrip_nl(c);
    }
    PUT(put(b, c));
    return wp_buf_puts(b, "<|im_end|>\n");
}

static wp_status_t qwen3(const wp_chat_msg_t *msgs, size_t n, const wp_chat_opts_t *o, wp_buf_t *b)
{
    if (n && role_is(&msgs[0], "system")) {
        PUT(wp_buf_puts(b, "<|im_start|>system\n"));
        PUT(put(b, content(&msgs[0])));
        PUT(wp_buf_puts(b, "<|im_end|>\n"));
    }
    /* the last user message that is not a tool response wrapped as a user turn */
    size_t last_query = n ? n - 1 : 0;
    for (size_t k = n; k-- > 0;) {
        span_t c = content(&msgs[k]);
        if (role_is(&msgs[k], "user") &&
            !(starts_with(c, "<tool_response>") && ends_with(c, "</tool_response>"))) {
            last_query = k;
            break;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const wp_chat_msg_t *m = &msgs[i];
        if (role_is(m, "user") || (role_is(m, "system") && i != 0)) {
            PUT(wp_buf_puts(b, "<|im_start|>"));
            PUT(wp_buf_puts(b, m->role));
            PUT(wp_buf_puts(b, "\n"));
            PUT(put(b, content(m)));
            PUT(wp_buf_puts(b, "<|im_end|>\n"));
        } else if (role_is(m, "assistant")) {
            PUT(qwen3_assistant(m, i > last_query, i + 1 == n, b));
        } else if (role_is(m, "tool")) {
            if (i == 0 || !role_is(&msgs[i - 1], "tool"))
                PUT(wp_buf_puts(b, "<|im_start|>user"));
            PUT(wp_buf_puts(b, "\n<tool_response>\n"));
            PUT(put(b, content(m)));
            PUT(wp_buf_puts(b, "\n</tool_response>"));
            if (i + 1 == n || !role_is(&msgs[i + 1], "tool"))
                PUT(wp_buf_puts(b, "<|im_end|>\n"));
        }
    }
    if (o->add_generation_prompt) {
        PUT(wp_buf_puts(b, "<|im_start|>assistant\n"));
        if (!o->enable_thinking)
            PUT(wp_buf_puts(b, "<think>\n\n</think>\n\n"));
    }
    return WP_OK;
}

static wp_status_t llama3(const wp_chat_msg_t *msgs, size_t n, wp_buf_t *b)
{
    for (size_t i = 0; i < n; i++) {
        if (i == 0)
            PUT(wp_buf_puts(b, "<|begin_of_text|>"));
        PUT(wp_buf_puts(b, "<|start_header_id|>"));
        PUT(wp_buf_puts(b, msgs[i].role));
        PUT(wp_buf_puts(b, "<|end_header_id|>\n\n"));
        PUT(put(b, trim(content(&msgs[i]))));
        PUT(wp_buf_puts(b, "<|eot_id|>"));
    }
    return wp_buf_puts(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

wp_status_t wp_chat_render(wp_chat_kind_t kind, const wp_chat_msg_t *msgs, size_t n,
                           const wp_chat_opts_t *opts, wp_buf_t *out, wp_err_t *err)
{
    wp_buf_reset(out);
    for (size_t i = 0; i < n; i++)
        if (!msgs[i].role || (!msgs[i].content && msgs[i].content_len))
            return wp_err_set(err, WP_EINVAL, "messages[%zu]: no role or no content", i);
    wp_status_t st;
    if (kind == WP_CHAT_QWEN3)
        st = qwen3(msgs, n, opts, out);
    else if (kind == WP_CHAT_LLAMA3)
        st = llama3(msgs, n, out);
    else
        return wp_err_set(err, WP_EINVAL, "chat template %d: unknown", (int)kind);
    if (st != WP_OK)
        return wp_err_set(err, st, "chat template: output above %zu bytes", out->max);
    return WP_OK;
}
