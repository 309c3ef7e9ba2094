/*
 * api/prom: see prom.h. Each line is scanned once: name, optional {labels} (quoted
 * values may hold escaped quotes, commas and braces), value, optional timestamp.
 * Values follow the format's spelling: Go/Python floats, NaN, +Inf, -Inf. Anything
 * after the value other than an integer timestamp makes the line malformed.
 */
#include "api/prom.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

static bool name_char(char c, bool first)
{
    return isalpha((unsigned char)c) || c == '_' || c == ':' ||
           (!first && isdigit((unsigned char)c));
}

static bool parse_value(const char *p, size_t n, double *out)
{
    if (n == 3 && strncmp(p, "NaN", 3) == 0) {
        *out = NAN;
        return true;
    }
    if ((n == 4 && strncmp(p, "+Inf", 4) == 0) || (n == 3 && strncmp(p, "Inf", 3) == 0)) {
        *out = INFINITY;
        return true;
    }
    if (n == 4 && strncmp(p, "-Inf", 4) == 0) {
        *out = -INFINITY;
        return true;
    }
    return wp_parse_double(p, n, out) == WP_OK;
}

/* What follows a value: nothing, or white space, an integer timestamp (ms) and white space. */
static bool timestamp_ok(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    size_t ts = i;
    while (i < n && p[i] != ' ' && p[i] != '\t')
        i++;
    int64_t t;
    if (i > ts && wp_parse_i64(p + ts, i - ts, &t) != WP_OK)
        return false;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    return i == n;
}

/* Returns the index just past the closing brace of labels starting at p[0] == '{', or 0. */
static size_t skip_labels(const char *p, size_t n)
{
    bool in_quote = false;
    for (size_t i = 1; i < n; i++) {
        if (in_quote) {
            if (p[i] == '\\')
                i++;
            else if (p[i] == '"')
                in_quote = false;
        } else if (p[i] == '"') {
            in_quote = true;
        } else if (p[i] == '}') {
            return i + 1;
        }
    }
    return 0;
}

static wp_status_t parse_line(const char *p, size_t n, int lineno, wp_api_prom_sample_fn fn,
                              void *ud, wp_err_t *err)
{
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (i == n || p[i] == '#')
        return WP_OK;
    size_t ns = i;
    if (!name_char(p[i], true))
        return wp_err_set(err, WP_EINVAL, "metrics line %d: expected a metric name", lineno);
    while (i < n && name_char(p[i], false))
        i++;
    wp_str_t name = {p + ns, i - ns};
    wp_str_t labels = {"", 0};
    if (i < n && p[i] == '{') {
        size_t k = skip_labels(p + i, n - i);
        if (k == 0)
            return wp_err_set(err, WP_EINVAL, "metrics line %d: unterminated label set of '%.*s'",
                              lineno, (int)name.n, name.p);
        labels = (wp_str_t){p + i + 1, k - 2};
        i += k;
    }
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    size_t vs = i;
    while (i < n && p[i] != ' ' && p[i] != '\t')
        i++;
    double v;
    if (vs == i || !parse_value(p + vs, i - vs, &v))
        return wp_err_set(err, WP_EINVAL, "metrics line %d: bad value for '%.*s'", lineno,
                          (int)name.n, name.p);
    if (!timestamp_ok(p + i, n - i))
        return wp_err_set(err, WP_EINVAL,
                          "metrics line %d: unexpected text after the value of '%.*s'", lineno,
                          (int)name.n, name.p);
    fn(ud, name, labels, v);
    return WP_OK;
}

wp_status_t wp_api_prom_parse(const char *text, size_t len, wp_api_prom_sample_fn on_sample,
                              void *ud, wp_err_t *err)
{
    int lineno = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t n = end - pos;
        if (n > 0 && text[pos + n - 1] == '\r')
            n--;
        lineno++;
        wp_status_t st = parse_line(text + pos, n, lineno, on_sample, ud, err);
        if (st != WP_OK)
            return st;
        pos = end + 1;
    }
    return WP_OK;
}

bool wp_api_prom_label(wp_str_t labels, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key), i = 0;
    const char *p = labels.p;
    while (i < labels.n) {
        while (i < labels.n && (p[i] == ' ' || p[i] == ','))
            i++;
        size_t ks = i;
        while (i < labels.n && p[i] != '=')
            i++;
        size_t kn = i - ks;
        if (i + 1 >= labels.n || p[i + 1] != '"')
            return false;
        i += 2;
        bool match = kn == klen && strncmp(p + ks, key, klen) == 0;
        size_t k = 0;
        while (i < labels.n && p[i] != '"') {
            char c = p[i];
            if (c == '\\' && i + 1 < labels.n) {
                c = p[++i] == 'n' ? '\n' : p[i];
            }
            if (match && k + 1 < cap)
                out[k++] = c;
            i++;
        }
        i++;
        if (match) {
            if (cap)
                out[k] = '\0';
            return true;
        }
    }
    return false;
}
