/* base/buf: see buf.h. Growth doubles, bounded by max. */
#include "base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"

void wp_buf_init(wp_buf_t *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : WP_BUF_DEFAULT_MAX;
}

void wp_buf_free(wp_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void wp_buf_reset(wp_buf_t *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

wp_status_t wp_buf_reserve(wp_buf_t *b, size_t extra)
{
    if (extra > b->max || b->len + extra + 1 > b->max)
        return WP_ELIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return WP_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > b->max)
        cap = b->max;
    char *p = realloc(b->data, cap);
    if (p == NULL)
        return WP_ENOMEM;
    b->data = p;
    b->cap = cap;
    return WP_OK;
}

wp_status_t wp_buf_append(wp_buf_t *b, const void *p, size_t n)
{
    wp_status_t st = wp_buf_reserve(b, n);
    if (st != WP_OK)
        return st;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return WP_OK;
}

wp_status_t wp_buf_puts(wp_buf_t *b, const char *s)
{
    return wp_buf_append(b, s, strlen(s));
}

/* One pass when the text fits the room the buffer has; a second, after growing it, when not
 * (the first pass then wrote a truncated copy past len, which the NUL at len hides). */
wp_status_t wp_buf_printf(wp_buf_t *b, const char *fmt, ...)
{
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(room > 0 ? b->data + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < room) {
        b->len += (size_t)n;
        return WP_OK;
    }
    if (b->data != NULL)
        b->data[b->len] = '\0';
    if (n < 0)
        return WP_EINVAL;
    wp_status_t st = wp_buf_reserve(b, (size_t)n);
    if (st != WP_OK)
        return st;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return WP_OK;
}

wp_status_t wp_buf_cat(wp_buf_t *b, ...)
{
    size_t start = b->len;
    va_list ap;
    va_start(ap, b);
    wp_status_t st = WP_OK;
    for (const char *s = va_arg(ap, const char *); s != NULL && st == WP_OK;
         s = va_arg(ap, const char *))
        st = wp_buf_puts(b, s);
    va_end(ap);
    if (st != WP_OK && b->data != NULL) {
        b->len = start;
        b->data[start] = '\0';
    }
    return st;
}

wp_status_t wp_buf_append_int(wp_buf_t *b, int64_t v)
{
    char d[21];
    size_t k = 0;
    if (v < 0)
        d[k++] = '-';
    k += wp_str_put_u64(d + k, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
    return wp_buf_append(b, d, k);
}

wp_status_t wp_buf_json_escape(wp_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = b->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        size_t k = 0;
        if (c == '"' || c == '\\') {
            esc[k++] = '\\';
            esc[k++] = (char)c;
        } else if (c == '\n') {
            esc[k++] = '\\';
            esc[k++] = 'n';
        } else if (c == '\r') {
            esc[k++] = '\\';
            esc[k++] = 'r';
        } else if (c == '\t') {
            esc[k++] = '\\';
            esc[k++] = 't';
        } else if (c < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            k = 6;
        } else {
            esc[k++] = (char)c;
        }
        wp_status_t st = wp_buf_append(b, esc, k);
        if (st != WP_OK) {
            b->len = start; /* all or nothing, like every other append */
            if (b->data != NULL)
                b->data[start] = '\0';
            return st;
        }
    }
    return WP_OK;
}

void wp_buf_consume(wp_buf_t *b, size_t n)
{
    if (n >= b->len) {
        wp_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

wp_status_t wp_buf_html_escape(wp_buf_t *b, const char *s)
{
    wp_status_t st = WP_OK;
    for (; *s && st == WP_OK; s++) {
        switch (*s) {
        case '&':
            st = wp_buf_puts(b, "&amp;");
            break;
        case '<':
            st = wp_buf_puts(b, "&lt;");
            break;
        case '>':
            st = wp_buf_puts(b, "&gt;");
            break;
        case '"':
            st = wp_buf_puts(b, "&quot;");
            break;
        case '\'':
            st = wp_buf_puts(b, "&#39;");
            break;
        default:
            st = wp_buf_append(b, s, 1);
            break;
        }
    }
    return st;
}

wp_status_t wp_array_reserve(void **v, size_t *cap, size_t n, size_t more, size_t elem,
                             size_t first)
{
    if (n <= *cap && more <= *cap - n)
        return WP_OK;
    if (more > SIZE_MAX - n)
        return WP_ENOMEM;
    size_t c = *cap ? *cap : (first ? first : 1);
    while (c < n + more) {
        if (c > SIZE_MAX / 2)
            return WP_ENOMEM;
        c *= 2;
    }
    if (elem != 0 && c > SIZE_MAX / elem)
        return WP_ENOMEM;
    void *nv = realloc(*v, c * elem);
    if (nv == NULL)
        return WP_ENOMEM;
    *v = nv;
    *cap = c;
    return WP_OK;
}
