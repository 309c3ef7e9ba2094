/*
 * config/addr: the two address forms the topology file uses, "host:port" (gateway.listen)
 * and "http://host[:port][/prefix]" (endpoints[].url).
 *
 * Both split off an optional bracketed IPv6 literal first, then the port, which must be
 * all digits. Only http is accepted: the gateway speaks plain HTTP/1.1 upstream. Outputs
 * are written only once the whole input has been accepted.
 */
#include <string.h>

#include "base/str.h"
#include "config/topology.h"

/* Splits "host" / "[v6]" off s (up to end); *rest points after it. */
static wp_status_t split_host(const char *s, const char *end, char host[WP_TOPO_HOST_MAX],
                              const char **rest, wp_err_t *err)
{
    const char *h = s, *he;
    if (*s == '[') {
        he = memchr(s, ']', (size_t)(end - s));
        if (he == NULL)
            return wp_err_set(err, WP_EINVAL, "unclosed '[' in \"%s\"", s);
        h = s + 1;
        *rest = he + 1;
    } else {
        he = s;
        while (he < end && *he != ':' && *he != '/')
            he++;
        *rest = he;
    }
    size_t n = (size_t)(he - h);
    if (n == 0)
        return wp_err_set(err, WP_EINVAL, "missing host");
    if (n >= WP_TOPO_HOST_MAX)
        return wp_err_set(err, WP_EINVAL, "host too long (%zu bytes)", n);
    for (size_t i = 0; i < n; i++)
        if (h[i] == '@' || h[i] == ' ' || h[i] == '?' || h[i] == '#' || h[i] == '[')
            return wp_err_set(err, WP_EINVAL, "bad character '%c' in host", h[i]);
    memcpy(host, h, n);
    host[n] = '\0';
    return WP_OK;
}

static wp_status_t parse_port(const char *p, size_t n, uint16_t *port, wp_err_t *err)
{
    uint64_t v;
    if (n == 0 || n > 5 || p[0] == '+' || wp_parse_u64(p, n, &v) != WP_OK || v > 65535)
        return wp_err_set(err, WP_EINVAL, "bad port \"%.*s\" (expected 0..65535)", (int)n, p);
    *port = (uint16_t)v;
    return WP_OK;
}

wp_status_t wp_topology_parse_hostport(const char *s, char host[WP_TOPO_HOST_MAX], uint16_t *port,
                                       wp_err_t *err)
{
    char h[WP_TOPO_HOST_MAX] = {0};
    const char *end = s + strlen(s), *rest;
    wp_status_t st = split_host(s, end, h, &rest, err);
    if (st != WP_OK)
        return st;
    if (*rest != ':')
        return wp_err_set(err, WP_EINVAL, "expected host:port, got \"%s\"", s);
    uint16_t p = 0;
    st = parse_port(rest + 1, (size_t)(end - rest - 1), &p, err);
    if (st != WP_OK)
        return st;
    memcpy(host, h, sizeof(h));
    *port = p;
    return WP_OK;
}

/* Copies the path after the authority, dropping trailing slashes. */
static wp_status_t take_path(const char *p, char out[WP_TOPO_PATH_MAX], wp_err_t *err)
{
    size_t n = strlen(p);
    if (strpbrk(p, "?# ") != NULL)
        return wp_err_set(err, WP_EINVAL, "no query, fragment or space allowed in the path");
    while (n > 0 && p[n - 1] == '/')
        n--;
    if (n >= WP_TOPO_PATH_MAX)
        return wp_err_set(err, WP_EINVAL, "path too long (%zu bytes)", n);
    memcpy(out, p, n);
    out[n] = '\0';
    return WP_OK;
}

wp_status_t wp_topology_parse_url(const char *url, char host[WP_TOPO_HOST_MAX], uint16_t *port,
                                  char base_path[WP_TOPO_PATH_MAX], wp_err_t *err)
{
    static const char scheme[] = "http://";
    if (strncmp(url, scheme, sizeof(scheme) - 1) != 0)
        return wp_err_set(err, WP_EINVAL, "expected http://host:port[/prefix], got \"%s\"", url);
    const char *auth = url + sizeof(scheme) - 1;
    const char *end = auth + strcspn(auth, "/");
    if (memchr(auth, '@', (size_t)(end - auth)) != NULL)
        return wp_err_set(err, WP_EINVAL, "user info is not supported in \"%s\"", url);
    char h[WP_TOPO_HOST_MAX] = {0}, path[WP_TOPO_PATH_MAX] = {0};
    const char *rest;
    wp_status_t st = split_host(auth, end, h, &rest, err);
    uint16_t p = 80;
    if (st == WP_OK && rest < end && *rest == ':')
        st = parse_port(rest + 1, (size_t)(end - rest - 1), &p, err);
    else if (st == WP_OK && rest != end)
        st = wp_err_set(err, WP_EINVAL, "unexpected text after the host in \"%s\"", url);
    if (st == WP_OK && p == 0)
        st = wp_err_set(err, WP_EINVAL, "port 0 is not a server port");
    if (st == WP_OK)
        st = take_path(end, path, err);
    if (st != WP_OK)
        return st;
    memcpy(host, h, sizeof(h));
    *port = p;
    memcpy(base_path, path, sizeof(path));
    return WP_OK;
}
