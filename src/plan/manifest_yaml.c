/*
 * plan/manifest_yaml: a small YAML writer for the manifests, and the metadata, labels and
 * probes every object shares.
 *
 * Output only, so no YAML library: the writer never emits a plain scalar that a reader
 * could take for another type. Strings are double-quoted, with escapes for '"', '\\' and
 * every character YAML does not allow as is (C0 and C1 controls, DEL, U+2028/9, the BOM).
 * Multi-line texts (the gateway's topology, the rules, the dashboard) go into literal block
 * scalars with an explicit indentation indicator, so a first line that starts with spaces
 * cannot shift the block, and the chomping indicator that gives back the text's trailing
 * newlines exactly. A text a literal block cannot carry (a carriage return, a control
 * character) is written double-quoted instead.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "plan/manifest_internal.h"

#define WP__YW_MAX ((size_t)8 << 20) /* a rendered file: 8 MiB */

void wp__yw_init(wp__yw_t *w)
{
    wp_buf_init(&w->buf, WP__YW_MAX);
    w->st = WP_OK;
    w->objects = 0;
}

static void put(wp__yw_t *w, const char *s, size_t n)
{
    if (w->st == WP_OK)
        w->st = wp_buf_append(&w->buf, s, n);
}

void wp__yw_printf(wp__yw_t *w, const char *fmt, ...)
{
    if (w->st != WP_OK)
        return;
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        w->st = WP_ELIMIT; /* every formatted piece is short; a long one is a bug */
        return;
    }
    put(w, tmp, (size_t)n);
}

void wp__yw_indent(wp__yw_t *w, int ind)
{
    static const char spaces[] = "                                        ";
    while (ind > 0) {
        int k = ind < (int)sizeof(spaces) - 1 ? ind : (int)sizeof(spaces) - 1;
        put(w, spaces, (size_t)k);
        ind -= k;
    }
}

/* Length of the UTF-8 sequence at s and its code point; 0 when it is not valid UTF-8
 * (overlong forms, surrogates and values past U+10FFFF included). */
static size_t utf8_next(const unsigned char *s, unsigned *cp)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (n == 0 || c > 0xF4)
        return 0;
    unsigned v = c & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

bool wp__yw_utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != 0) {
        unsigned cp;
        size_t n = utf8_next(p, &cp);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

/* A code point YAML lets stand as it is inside a scalar (tab and line feed aside). */
static bool printable(unsigned cp)
{
    if (cp < 0x20 || cp == 0x7F)
        return false;
    if (cp >= 0x80 && cp <= 0x9F)
        return false;
    return cp != 0x2028 && cp != 0x2029 && cp != 0xFEFF;
}

void wp__yw_quoted(wp__yw_t *w, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    put(w, "\"", 1);
    while (*p != 0 && w->st == WP_OK) {
        unsigned cp;
        size_t n = utf8_next(p, &cp);
        if (n == 0) { /* not UTF-8: the byte as a code point (resolve checks inputs first) */
            cp = *p;
            n = 1;
        }
        if (cp == '"' || cp == '\\') {
            put(w, "\\", 1);
            put(w, (const char *)p, 1);
        } else if (cp == '\n') {
            put(w, "\\n", 2);
        } else if (cp == '\t') {
            put(w, "\\t", 2);
        } else if (cp == '\r') {
            put(w, "\\r", 2);
        } else if (!printable(cp) || (n == 1 && cp >= 0x80)) {
            wp__yw_printf(w, "\\u%04X", cp);
        } else {
            put(w, (const char *)p, n);
        }
        p += n;
    }
    put(w, "\"", 1);
}

void wp__yw_key(wp__yw_t *w, int ind, const char *key)
{
    wp__yw_indent(w, ind);
    wp__yw_printf(w, "%s:\n", key);
}

void wp__yw_str(wp__yw_t *w, int ind, const char *key, const char *val)
{
    wp__yw_indent(w, ind);
    wp__yw_printf(w, "%s: ", key);
    wp__yw_quoted(w, val);
    put(w, "\n", 1);
}

void wp__yw_int(wp__yw_t *w, int ind, const char *key, long long val)
{
    wp__yw_indent(w, ind);
    wp__yw_printf(w, "%s: %lld\n", key, val);
}

void wp__yw_bool(wp__yw_t *w, int ind, const char *key, bool val)
{
    wp__yw_indent(w, ind);
    wp__yw_printf(w, "%s: %s\n", key, val ? "true" : "false");
}

void wp__yw_item(wp__yw_t *w, int ind, const char *val)
{
    wp__yw_indent(w, ind);
    put(w, "- ", 2);
    wp__yw_quoted(w, val);
    put(w, "\n", 1);
}

void wp__yw_item_str(wp__yw_t *w, int ind, const char *key, const char *val)
{
    wp__yw_indent(w, ind);
    wp__yw_printf(w, "- %s: ", key);
    wp__yw_quoted(w, val);
    put(w, "\n", 1);
}

/* A literal block can carry text: printable characters, tabs and line feeds only. */
static bool literal_ok(const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    while (*p != 0) {
        unsigned cp;
        size_t n = utf8_next(p, &cp);
        if (n == 0 || (cp != '\n' && cp != '\t' && !printable(cp)))
            return false;
        p += n;
    }
    return true;
}

void wp__yw_text(wp__yw_t *w, int ind, const char *key, const char *text)
{
    size_t len = strlen(text);
    if (len == 0 || !literal_ok(text)) {
        wp__yw_str(w, ind, key, text);
        return;
    }
    size_t trailing = 0;
    while (trailing < len && text[len - 1 - trailing] == '\n')
        trailing++;
    const char *chomp = trailing == 0 ? "-" : trailing == 1 ? "" : "+";
    wp__yw_indent(w, ind);
    wp__yw_printf(w, "%s: |2%s\n", key, chomp);
    const char *p = text;
    const char *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl != NULL ? nl : end;
        size_t n = (size_t)(eol - p);
        if (eol != p) { /* an empty line is written empty */
            wp__yw_indent(w, ind + 2);
            put(w, p, n);
        }
        put(w, "\n", 1);
        p += n + (nl ? 1 : 0);
    }
}

void wp__yw_comment(wp__yw_t *w, const char *text)
{
    const char *p = text;
    while (*p != 0) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        put(w, n > 0 ? "# " : "#", n > 0 ? 2 : 1);
        put(w, p, n);
        put(w, "\n", 1);
        p += n + (nl ? 1 : 0);
    }
}

void wp__yw_doc(wp__yw_t *w, const char *api_version, const char *kind)
{
    put(w, "---\n", 4);
    wp__yw_printf(w, "apiVersion: %s\nkind: %s\n", api_version, kind);
    w->objects++;
}

/* ---- shared pieces ---- */

void wp__plan_labels(wp__yw_t *w, const wp__plan_ctx_t *c, int ind, const wp__plan_labels_t *l,
                     bool selector)
{
    wp__yw_str(w, ind, "app.kubernetes.io/name", l->app);
    wp__yw_str(w, ind, "app.kubernetes.io/instance", c->name);
    if (!selector) {
        wp__yw_str(w, ind, "app.kubernetes.io/component", l->component);
        wp__yw_str(w, ind, "app.kubernetes.io/part-of", "wellpath");
        wp__yw_str(w, ind, "app.kubernetes.io/managed-by", "wellpath-plan");
    }
    if (l->pool != NULL)
        wp__yw_str(w, ind, "wellpath/pool", l->pool);
    if (l->api && !selector)
        wp__yw_str(w, ind, "wellpath/api", "true");
}

void wp__plan_meta(wp__yw_t *w, const wp__plan_ctx_t *c, const char *name,
                   const wp__plan_labels_t *l)
{
    wp__yw_key(w, 0, "metadata");
    wp__yw_str(w, 2, "name", name);
    wp__yw_str(w, 2, "namespace", c->ns);
    wp__yw_key(w, 2, "labels");
    wp__plan_labels(w, c, 4, l, false);
}

void wp__plan_probe(wp__yw_t *w, int ind, const char *key, int period_s, int failures)
{
    wp__yw_key(w, ind, key);
    wp__yw_key(w, ind + 2, "httpGet");
    wp__yw_str(w, ind + 4, "path", "/health");
    wp__yw_str(w, ind + 4, "port", "http");
    wp__yw_int(w, ind + 2, "periodSeconds", period_s);
    wp__yw_int(w, ind + 2, "timeoutSeconds", 5);
    wp__yw_int(w, ind + 2, "failureThreshold", failures);
}

void wp__plan_pod_labels(wp__yw_t *w, const wp__plan_ctx_t *c, const wp__plan_labels_t *l)
{
    wp__yw_key(w, 2, "selector");
    wp__yw_key(w, 4, "matchLabels");
    wp__plan_labels(w, c, 6, l, true);
    wp__yw_key(w, 2, "template");
    wp__yw_key(w, 4, "metadata");
    wp__yw_key(w, 6, "labels");
    wp__plan_labels(w, c, 8, l, false);
}
