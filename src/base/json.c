/*
 * base/json: see json.h.
 *
 * One pass, no recursion: a stack of the open containers' token indices. After each value
 * the parser looks at the innermost open container for what may follow (a comma, its
 * closing bracket), and closing a container records where its subtree ends.
 */
#include "base/json.h"

#include <stdlib.h>
#include <string.h>

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

typedef struct parser_s {
    wp_json_t *j;
    const char *s;
    size_t n, i;
    wp_err_t *err;
} parser_t;

static wp_status_t fail(parser_t *p, const char *what)
{
    return wp_err_set(p->err, WP_EINVAL, "%s", what);
}

static int push(parser_t *p, wp_json_type_t type, size_t start)
{
    wp_json_t *j = p->j;
    if (j->n == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 16;
        wp_json_tok_t *t = realloc(j->toks, cap * sizeof(*t));
        if (t == NULL)
            return -1;
        j->toks = t;
        j->cap = cap;
    }
    j->toks[j->n] = (wp_json_tok_t){.type = (uint8_t)type, .start = (uint32_t)start};
    return (int)j->n++;
}

static void skip_ws(parser_t *p)
{
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            return;
        p->i++;
    }
}

/* Whether any byte of v is a quote, a backslash or below 0x20. */
static bool special8(uint64_t v)
{
    uint64_t q = v ^ (ONES * '"'), b = v ^ (ONES * '\\');
    return (((q - ONES) & ~q) | ((b - ONES) & ~b) | ((v - ONES * 0x20) & ~v)) & HIGHS;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* p->i at the opening quote; leaves it past the closing one. */
static wp_status_t scan_string(parser_t *p, int t)
{
    const char *s = p->s;
    size_t i = ++p->i;
    bool escaped = false;
    for (;;) {
        while (i + 8 <= p->n) {
            uint64_t v;
            memcpy(&v, s + i, 8);
            if (special8(v))
                break;
            i += 8;
        }
        if (i >= p->n) {
            p->i = i;
            return fail(p, "unterminated string");
        }
        unsigned char c = (unsigned char)s[i];
        if (c == '"')
            break;
        if (c < 0x20) {
            p->i = i;
            return fail(p, "control character in a string (escape it)");
        }
        if (c != '\\') {
            i++;
            continue;
        }
        escaped = true;
        char e = i + 1 < p->n ? s[i + 1] : '\0';
        if (e == 'u') {
            if (i + 6 > p->n || !is_hex(s[i + 2]) || !is_hex(s[i + 3]) || !is_hex(s[i + 4]) ||
                !is_hex(s[i + 5])) {
                p->i = i;
                return fail(p, "\\u must be followed by four hex digits");
            }
            i += 6;
        } else if (e != '\0' && strchr("\"\\/bfnrt", e) != NULL) {
            i += 2;
        } else {
            p->i = i;
            return fail(p, "invalid escape in a string");
        }
    }
    wp_json_tok_t *tok = &p->j->toks[t];
    tok->len = (uint32_t)(i - tok->start);
    tok->escaped = escaped;
    p->i = i + 1;
    return WP_OK;
}

static size_t digits(const char *s, size_t i, size_t n)
{
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

static wp_status_t scan_number(parser_t *p, int t)
{
    const char *s = p->s;
    size_t i = p->i, n = p->n;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        i = digits(s, i, n);
    else
        return p->i = i, fail(p, "invalid number");
    if (i < n && s[i] == '.') {
        size_t k = digits(s, i + 1, n);
        if (k == i + 1)
            return p->i = k, fail(p, "invalid number: a digit must follow the decimal point");
        i = k;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t k = digits(s, i, n);
        if (k == i)
            return p->i = k, fail(p, "invalid number: a digit must follow the exponent");
        i = k;
    }
    p->j->toks[t].len = (uint32_t)(i - p->i);
    p->i = i;
    return WP_OK;
}

static wp_status_t scan_literal(parser_t *p, const char *word, wp_json_type_t type)
{
    size_t k = strlen(word);
    if (p->n - p->i < k || memcmp(p->s + p->i, word, k) != 0)
        return fail(p, "expected a value");
    int t = push(p, type, p->i);
    if (t < 0)
        return WP_ENOMEM;
    p->j->toks[t].len = (uint32_t)k;
    p->j->toks[t].end = (uint32_t)t + 1;
    p->i += k;
    return WP_OK;
}

/* A value at p->i. A container is opened (pushed on stack, *opened set); a scalar is
 * complete. */
static wp_status_t scan_value(parser_t *p, int *stack, size_t *depth, bool *opened)
{
    *opened = false;
    if (p->i >= p->n)
        return fail(p, "expected a value, found the end of the text");
    char c = p->s[p->i];
    if (c == '{' || c == '[') {
        if (*depth >= WP_JSON_MAX_DEPTH)
            return fail(p, "nested too deeply");
        int t = push(p, c == '{' ? WP_JSON_OBJECT : WP_JSON_ARRAY, p->i);
        if (t < 0)
            return WP_ENOMEM;
        stack[(*depth)++] = t;
        p->i++;
        *opened = true;
        return WP_OK;
    }
    if (c == '"' || c == '-' || (c >= '0' && c <= '9')) {
        int t = push(p, c == '"' ? WP_JSON_STRING : WP_JSON_NUMBER, c == '"' ? p->i + 1 : p->i);
        if (t < 0)
            return WP_ENOMEM;
        p->j->toks[t].end = (uint32_t)t + 1;
        return c == '"' ? scan_string(p, t) : scan_number(p, t);
    }
    if (c == 't')
        return scan_literal(p, "true", WP_JSON_TRUE);
    if (c == 'f')
        return scan_literal(p, "false", WP_JSON_FALSE);
    if (c == 'n')
        return scan_literal(p, "null", WP_JSON_NULL);
    return fail(p, "expected a value");
}

/* An object's key and its colon, at p->i (after whitespace). */
static wp_status_t scan_key(parser_t *p, int obj)
{
    if (p->i >= p->n || p->s[p->i] != '"')
        return fail(p, "expected a member name in double quotes");
    int t = push(p, WP_JSON_STRING, p->i + 1);
    if (t < 0)
        return WP_ENOMEM;
    p->j->toks[t].end = (uint32_t)t + 1;
    wp_status_t st = scan_string(p, t);
    if (st != WP_OK)
        return st;
    skip_ws(p);
    if (p->i >= p->n || p->s[p->i] != ':')
        return fail(p, "expected ':' after a member name");
    p->i++;
    p->j->toks[obj].count++;
    return WP_OK;
}

static void close_container(parser_t *p, int t)
{
    wp_json_tok_t *tok = &p->j->toks[t];
    tok->end = (uint32_t)p->j->n;
    tok->len = (uint32_t)(p->i + 1 - tok->start);
    p->i++;
}

/* Container top's next item begins at p->i: an object's key (scanned, with its colon), or an
 * array's element (counted); a value must follow. */
static wp_status_t next_item(parser_t *p, int top, bool *want_value)
{
    if (p->j->toks[top].type == WP_JSON_OBJECT) {
        wp_status_t st = scan_key(p, top);
        if (st != WP_OK)
            return st;
    } else {
        p->j->toks[top].count++;
    }
    *want_value = true;
    return WP_OK;
}

/* After a value: what its container allows next. Returns WP_OK with *want_value set when
 * a value must follow, clear when the document's value is complete. */
static wp_status_t after_value(parser_t *p, int *stack, size_t *depth, bool *want_value)
{
    for (;;) {
        if (*depth == 0) {
            *want_value = false;
            return WP_OK;
        }
        int top = stack[*depth - 1];
        bool obj = p->j->toks[top].type == WP_JSON_OBJECT;
        skip_ws(p);
        char c = p->i < p->n ? p->s[p->i] : '\0';
        if (c == ',') {
            p->i++;
            skip_ws(p);
            return next_item(p, top, want_value);
        }
        if (c != (obj ? '}' : ']'))
            return fail(p, obj ? "expected ',' or '}' in an object"
                               : "expected ',' or ']' in an array");
        close_container(p, top);
        (*depth)--;
    }
}

/* Just after a container opened: its first member or element, or its close. */
static wp_status_t after_open(parser_t *p, int *stack, size_t *depth, bool *want_value)
{
    int top = stack[*depth - 1];
    bool obj = p->j->toks[top].type == WP_JSON_OBJECT;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == (obj ? '}' : ']')) {
        close_container(p, top);
        (*depth)--;
        return after_value(p, stack, depth, want_value);
    }
    return next_item(p, top, want_value);
}

wp_status_t wp_json_parse(wp_json_t *j, const char *text, size_t len, size_t *at, wp_err_t *err)
{
    *j = (wp_json_t){.src = text, .src_len = len};
    parser_t p = {.j = j, .s = text, .n = len, .err = err};
    *at = 0;
    if (len >= UINT32_MAX)
        return wp_err_set(err, WP_EINVAL, "%s", "the text is larger than 4 GiB");
    int stack[WP_JSON_MAX_DEPTH];
    size_t depth = 0;
    bool want = true;
    wp_status_t st = WP_OK;
    while (want && st == WP_OK) {
        skip_ws(&p);
        bool opened;
        st = scan_value(&p, stack, &depth, &opened);
        if (st == WP_OK)
            st = opened ? after_open(&p, stack, &depth, &want)
                        : after_value(&p, stack, &depth, &want);
    }
    if (st == WP_OK) {
        skip_ws(&p);
        if (p.i < p.n)
            st = fail(&p, "unexpected data after the value");
    }
    if (st == WP_ENOMEM)
        wp_err_set(err, WP_ENOMEM, "%s", "out of memory indexing JSON");
    if (st != WP_OK) {
        *at = p.i;
        j->n = 0;
    }
    return st;
}

void wp_json_free(wp_json_t *j)
{
    free(j->toks);
    *j = (wp_json_t){0};
}

int wp_json_first(const wp_json_t *j, int i)
{
    const wp_json_tok_t *t = &j->toks[i];
    return (t->type == WP_JSON_ARRAY || t->type == WP_JSON_OBJECT) && t->count > 0 ? i + 1 : -1;
}

int wp_json_next(const wp_json_t *j, int container, int i)
{
    uint32_t k = j->toks[i].end;
    return k < j->toks[container].end ? (int)k : -1;
}

int wp_json_get(const wp_json_t *j, int obj, const char *key)
{
    if (obj < 0 || j->toks[obj].type != WP_JSON_OBJECT)
        return -1;
    int found = -1;
    for (int k = wp_json_first(j, obj); k >= 0; k = wp_json_next(j, obj, k + 1))
        if (wp_json_str_eq(j, k, key))
            found = k + 1; /* the last one given */
    return found;
}

double wp_json_number(const wp_json_t *j, int i)
{
    const wp_json_tok_t *t = &j->toks[i];
    char small[64];
    char *buf = t->len < sizeof(small) ? small : malloc(t->len + 1);
    if (buf == NULL)
        return 0.0;
    memcpy(buf, j->src + t->start, t->len);
    buf[t->len] = '\0';
    double v = strtod(buf, NULL);
    if (buf != small)
        free(buf);
    return v;
}

static unsigned hex4(const char *s)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

static size_t utf8(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The escape at s[0] ('\\', checked by the parser): its decoded bytes into out (at most 4);
 * *used is how many source bytes it took. */
static size_t unescape(const char *s, const char *end, char *out, size_t *used)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (s[1] != 'u') {
        *used = 2;
        out[0] = to[strchr(from, s[1]) - from];
        return 1;
    }
    unsigned cp = hex4(s + 2);
    *used = 6;
    if (cp >= 0xD800 && cp < 0xDC00 && end - s >= 12 && s[6] == '\\' && s[7] == 'u') {
        unsigned lo = hex4(s + 8);
        if (lo >= 0xDC00 && lo < 0xE000) {
            *used = 12;
            return utf8(0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00), out);
        }
    }
    if (cp >= 0xD800 && cp < 0xE000)
        cp = 0xFFFD; /* a lone surrogate */
    return utf8(cp, out);
}

wp_status_t wp_json_str(const wp_json_t *j, int i, wp_buf_t *scratch, const char **out, size_t *len)
{
    const wp_json_tok_t *t = &j->toks[i];
    const char *s = j->src + t->start, *end = s + t->len;
    if (!t->escaped) {
        *out = s;
        *len = t->len;
        return WP_OK;
    }
    size_t base = scratch->len;
    if (wp_buf_reserve(scratch, t->len) != WP_OK)
        return WP_ELIMIT;
    while (s < end) {
        const char *bs = memchr(s, '\\', (size_t)(end - s));
        const char *stop = bs ? bs : end;
        if (wp_buf_append(scratch, s, (size_t)(stop - s)) != WP_OK)
            return WP_ELIMIT;
        if (bs == NULL)
            break;
        char dec[4];
        size_t used, n = unescape(bs, end, dec, &used);
        if (wp_buf_append(scratch, dec, n) != WP_OK)
            return WP_ELIMIT;
        s = bs + used;
    }
    *out = scratch->data + base;
    *len = scratch->len - base;
    return WP_OK;
}

bool wp_json_str_eq(const wp_json_t *j, int i, const char *s)
{
    const wp_json_tok_t *t = &j->toks[i];
    if (t->type != WP_JSON_STRING)
        return false;
    size_t n = strlen(s);
    if (!t->escaped)
        return t->len == n && memcmp(j->src + t->start, s, n) == 0;
    wp_buf_t b;
    wp_buf_init(&b, 0);
    const char *d;
    size_t dl;
    bool eq = wp_json_str(j, i, &b, &d, &dl) == WP_OK && dl == n && memcmp(d, s, n) == 0;
    wp_buf_free(&b);
    return eq;
}
