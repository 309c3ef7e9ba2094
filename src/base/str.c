/* base/str: see str.h. */
#include "base/str.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

wp_str_t wp_str_from(const char *s)
{
    return (wp_str_t){s, s ? strlen(s) : 0};
}

bool wp_str_eq(wp_str_t a, wp_str_t b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

bool wp_str_eq_cstr(wp_str_t a, const char *s)
{
    return wp_str_eq(a, wp_str_from(s));
}

bool wp_str_case_eq_cstr(wp_str_t a, const char *s)
{
    size_t n = strlen(s);
    return a.n == n && strncasecmp(a.p, s, n) == 0;
}

/* Copies the slice into a small NUL-terminated scratch buffer for strto*. Leading
 * white space is refused here: strto* would skip it (and strtoull would then accept
 * " -1" as a huge value). */
static bool to_scratch(const char *s, size_t n, char *tmp, size_t cap)
{
    if (n == 0 || n >= cap || isspace((unsigned char)s[0]))
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return true;
}

wp_status_t wp_parse_i64(const char *s, size_t n, int64_t *out)
{
    char tmp[32], *end;
    if (!to_scratch(s, n, tmp, sizeof(tmp)))
        return WP_EINVAL;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (errno != 0 || *end != '\0')
        return WP_EINVAL;
    *out = v;
    return WP_OK;
}

wp_status_t wp_parse_u64(const char *s, size_t n, uint64_t *out)
{
    char tmp[32], *end;
    if (!to_scratch(s, n, tmp, sizeof(tmp)) || tmp[0] == '-')
        return WP_EINVAL;
    errno = 0;
    unsigned long long v = strtoull(tmp, &end, 10);
    if (errno != 0 || *end != '\0')
        return WP_EINVAL;
    *out = v;
    return WP_OK;
}

wp_status_t wp_parse_double(const char *s, size_t n, double *out)
{
    char tmp[64], *end;
    if (!to_scratch(s, n, tmp, sizeof(tmp)))
        return WP_EINVAL;
    errno = 0;
    double v = strtod(tmp, &end);
    if (errno != 0 || *end != '\0')
        return WP_EINVAL;
    *out = v;
    return WP_OK;
}

bool wp_strlcpy(char *dst, const char *src, size_t cap)
{
    size_t n = strlen(src);
    if (cap == 0)
        return false;
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(dst, src, k);
    dst[k] = '\0';
    return k == n;
}

/* Digits are made from the last, into d, then moved to the front of out. */
static size_t put_digits(char *out, uint64_t v, unsigned base)
{
    static const char digits[] = "0123456789abcdef";
    char d[20];
    size_t k = sizeof(d);
    do {
        d[--k] = digits[v % base];
        v /= base;
    } while (v > 0);
    memcpy(out, d + k, sizeof(d) - k);
    return sizeof(d) - k;
}

size_t wp_str_put_u64(char *out, uint64_t v)
{
    return put_digits(out, v, 10);
}

size_t wp_str_put_hex(char *out, uint64_t v)
{
    return put_digits(out, v, 16);
}

bool wp_str_append(char *dst, size_t cap, size_t *len, const char *src, size_t n)
{
    if (*len >= cap || n >= cap - *len)
        return false;
    memcpy(dst + *len, src, n);
    *len += n;
    dst[*len] = '\0';
    return true;
}
