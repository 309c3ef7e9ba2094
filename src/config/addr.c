/*
 * config/addr: see addr.h for the rules. The host is split off first (a bracketed IPv6
 * literal, or everything up to the first ':' or '/'), then checked by its kind: inet_pton
 * for the two IP forms (pure: it parses text, it resolves nothing), the label rules for a
 * name. Then the port, which must be all digits.
 */
#include "config/addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

#include "base/str.h"

static wp_status_t check_name(const char *h, size_t n, wp_err_t *err)
{
    if (n > 253)
        return wp_err_set(err, WP_EINVAL, "host name longer than 253 bytes");
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = i < n ? h[i] : '.';
        if (c == '.') {
            if (label == 0 || label > 63 || h[i - label] == '-' || h[i - 1] == '-')
                return wp_err_set(err, WP_EINVAL,
                                  "bad host name \"%.*s\" (labels of 1..63 letters, digits, '-' "
                                  "or '_', not starting or ending with '-')",
                                  (int)n, h);
            label = 0;
        } else if (isalnum((unsigned char)c) || c == '-' || c == '_') {
            label++;
        } else {
            return wp_err_set(err, WP_EINVAL, "bad character '%c' in host \"%.*s\"", c, (int)n, h);
        }
    }
    return WP_OK;
}

/* Checks host h (n bytes, without brackets) of the kind v6 says. */
static wp_status_t check_host(const char *h, size_t n, bool v6, wp_err_t *err)
{
    char tmp[WP_ADDR_HOST_MAX];
    unsigned char bin[16];
    if (n == 0)
        return wp_err_set(err, WP_EINVAL, "missing host");
    if (n >= WP_ADDR_HOST_MAX)
        return wp_err_set(err, WP_EINVAL, "host too long (%zu bytes)", n);
    memcpy(tmp, h, n);
    tmp[n] = '\0';
    if (v6)
        return inet_pton(AF_INET6, tmp, bin) == 1
                   ? WP_OK
                   : wp_err_set(err, WP_EINVAL, "bad IPv6 address \"%s\"", tmp);
    if (strspn(tmp, "0123456789.") == n)
        return inet_pton(AF_INET, tmp, bin) == 1
                   ? WP_OK
                   : wp_err_set(err, WP_EINVAL, "bad IPv4 address \"%s\"", tmp);
    return check_name(h, n, err);
}

/* Splits "host" / "[v6]" off s (up to end) and checks it; *rest points after it. */
static wp_status_t split_host(const char *s, const char *end, char host[WP_ADDR_HOST_MAX],
                              const char **rest, wp_err_t *err)
{
    const char *h = s, *he;
    bool v6 = *s == '[';
    if (v6) {
        he = memchr(s, ']', (size_t)(end - s));
        if (he == NULL)
            return wp_err_set(err, WP_EINVAL, "unclosed '[' in \"%.*s\"", (int)(end - s), s);
        h = s + 1;
        *rest = he + 1;
    } else {
        he = s;
        while (he < end && *he != ':' && *he != '/')
            he++;
        *rest = he;
        const char *colon2 = *he == ':' ? memchr(he + 1, ':', (size_t)(end - he - 1)) : NULL;
        if (colon2 != NULL)
            return wp_err_set(err, WP_EINVAL,
                              "\"%.*s\": an IPv6 address needs brackets, e.g. [::1]:8000",
                              (int)(end - s), s);
    }
    size_t n = (size_t)(he - h);
    wp_status_t st = check_host(h, n, v6, err);
    if (st != WP_OK)
        return st;
    memcpy(host, h, n);
    host[n] = '\0';
    return WP_OK;
}

static wp_status_t parse_port(const char *p, size_t n, wp_addr_port0_t port0, uint16_t *port,
                              wp_err_t *err)
{
    uint64_t v = 0;
    bool digits = n > 0 && n <= 5 && strspn(p, "0123456789") >= n;
    if (!digits || wp_parse_u64(p, n, &v) != WP_OK || v > 65535 ||
        (v == 0 && port0 != WP_ADDR_PORT0_OK))
        return wp_err_set(err, WP_EINVAL, "bad port \"%.*s\" (expected %s..65535)", (int)n, p,
                          port0 == WP_ADDR_PORT0_OK ? "0" : "1");
    *port = (uint16_t)v;
    return WP_OK;
}

wp_status_t wp_addr_parse_hostport(const char *s, wp_addr_port0_t port0,
                                   char host[WP_ADDR_HOST_MAX], uint16_t *port, wp_err_t *err)
{
    char h[WP_ADDR_HOST_MAX] = {0};
    const char *end = s + strlen(s), *rest;
    wp_status_t st = split_host(s, end, h, &rest, err);
    if (st != WP_OK)
        return st;
    if (*rest != ':')
        return wp_err_set(err, WP_EINVAL, "expected host:port, got \"%s\"", s);
    uint16_t p = 0;
    st = parse_port(rest + 1, (size_t)(end - rest - 1), port0, &p, err);
    if (st != WP_OK)
        return st;
    memcpy(host, h, sizeof(h));
    *port = p;
    return WP_OK;
}

/* Copies the path after the authority, dropping trailing slashes. */
static wp_status_t take_path(const char *p, char out[WP_ADDR_PATH_MAX], wp_err_t *err)
{
    size_t n = strlen(p);
    if (strpbrk(p, "?# ") != NULL)
        return wp_err_set(err, WP_EINVAL, "no query, fragment or space allowed in the path");
    while (n > 0 && p[n - 1] == '/')
        n--;
    if (n >= WP_ADDR_PATH_MAX)
        return wp_err_set(err, WP_EINVAL, "path too long (%zu bytes)", n);
    memcpy(out, p, n);
    out[n] = '\0';
    return WP_OK;
}

wp_status_t wp_addr_parse_url(const char *url, char host[WP_ADDR_HOST_MAX], uint16_t *port,
                              char base_path[WP_ADDR_PATH_MAX], wp_err_t *err)
{
    static const char scheme[] = "http://";
    if (strncmp(url, scheme, sizeof(scheme) - 1) != 0)
        return wp_err_set(err, WP_EINVAL, "expected http://host:port[/prefix], got \"%s\"", url);
    const char *auth = url + sizeof(scheme) - 1;
    const char *end = auth + strcspn(auth, "/");
    if (memchr(auth, '@', (size_t)(end - auth)) != NULL)
        return wp_err_set(err, WP_EINVAL, "user info is not supported in \"%s\"", url);
    char h[WP_ADDR_HOST_MAX] = {0}, path[WP_ADDR_PATH_MAX] = {0};
    const char *rest;
    wp_status_t st = split_host(auth, end, h, &rest, err);
    uint16_t p = 80;
    if (st == WP_OK && rest < end && *rest == ':')
        st = parse_port(rest + 1, (size_t)(end - rest - 1), WP_ADDR_PORT0_NO, &p, err);
    else if (st == WP_OK && rest != end)
        st = wp_err_set(err, WP_EINVAL, "unexpected text after the host in \"%s\"", url);
    if (st == WP_OK)
        st = take_path(end, path, err);
    if (st != WP_OK)
        return st;
    memcpy(host, h, sizeof(h));
    *port = p;
    memcpy(base_path, path, sizeof(path));
    return WP_OK;
}
