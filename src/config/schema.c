/*
 * config/schema: the table-driven YAML walker (see schema.h).
 *
 * wp__cfg_map looks each key up in the section's table (a linear scan: tables are a dozen
 * entries), keeps a 64-bit mask of the keys seen to catch duplicates and missing required
 * keys, and dispatches on the field's kind. Scalars are typed the YAML 1.2 core way but
 * strictly: numbers and booleans must be plain (unquoted) scalars, so `replicas: "8"` is
 * an error rather than a silent conversion; strings accept any scalar except null. Error
 * positions come from the node's start mark (0-based in libyaml, printed 1-based).
 * wp__cfg_load owns the libyaml parser and document for the duration of one callback.
 */
#include "config/schema.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/str.h"

wp_status_t wp__cfg_fail(wp__cfg_ctx_t *c, const yaml_node_t *n, const char *path,
                         wp_status_t status, const char *fmt, ...)
{
    char msg[WP_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    unsigned long line = n ? (unsigned long)n->start_mark.line + 1 : 1;
    unsigned long col = n ? (unsigned long)n->start_mark.column + 1 : 1;
    return wp_err_set(c->err, status, "%s:%lu:%lu: %s%s%s", c->filename, line, col, path,
                      path[0] ? ": " : "", msg);
}

static bool is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static bool is_null(const yaml_node_t *n)
{
    if (!is_plain(n))
        return false;
    const char *s = (const char *)n->data.scalar.value;
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* What a node is, for "got ..." in messages: "eight" / the string "8" / a list. */
static void describe(const yaml_node_t *n, char *out, size_t cap)
{
    if (n->type == YAML_MAPPING_NODE) {
        wp_strlcpy(out, "a mapping", cap);
    } else if (n->type == YAML_SEQUENCE_NODE) {
        wp_strlcpy(out, "a list", cap);
    } else if (is_null(n)) {
        wp_strlcpy(out, "nothing (null)", cap);
    } else {
        const char *s = (const char *)n->data.scalar.value;
        int w = n->data.scalar.length > 40 ? 40 : (int)n->data.scalar.length;
        snprintf(out, cap, "%s\"%.*s%s\"", is_plain(n) ? "" : "the string ", w, s,
                 n->data.scalar.length > 40 ? "..." : "");
    }
}

static wp_status_t type_error(wp__cfg_ctx_t *c, const yaml_node_t *n, const char *path,
                              const char *expected)
{
    char got[80];
    describe(n, got, sizeof(got));
    return wp__cfg_fail(c, n, path, WP_EINVAL, "expected %s, got %s", expected, got);
}

wp_status_t wp__cfg_scalar(wp__cfg_ctx_t *c, yaml_node_t *n, const char *path, const char **text)
{
    if (n->type != YAML_SCALAR_NODE || is_null(n))
        return type_error(c, n, path, "a string");
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
        return wp__cfg_fail(c, n, path, WP_EINVAL, "string holds a NUL byte");
    *text = (const char *)n->data.scalar.value;
    return WP_OK;
}

wp_status_t wp__cfg_seq(wp__cfg_ctx_t *c, yaml_node_t *n, const char *path,
                        yaml_node_item_t **items, size_t *count)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return type_error(c, n, path, "a list");
    *items = n->data.sequence.items.start;
    *count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    return WP_OK;
}

/* The i-th allowed value of f, NULL past the last (or when f has no list). */
static const char *choice(const wp__cfg_field_t *f, size_t i)
{
    if (f->choice_at != NULL)
        return f->choice_at(i);
    return f->choices != NULL ? f->choices[i] : NULL;
}

static bool has_choices(const wp__cfg_field_t *f)
{
    return f->choices != NULL || f->choice_at != NULL;
}

static void list_choices(const wp__cfg_field_t *f, char *out, size_t cap)
{
    out[0] = '\0';
    size_t len = 0;
    for (size_t i = 0; choice(f, i) != NULL && len + 1 < cap; i++) {
        int k = snprintf(out + len, cap - len, "%s%s", i ? ", " : "", choice(f, i));
        if (k < 0)
            break;
        len += (size_t)k;
    }
}

static int find_choice(const wp__cfg_field_t *f, const char *s)
{
    for (int i = 0; choice(f, (size_t)i) != NULL; i++)
        if (strcmp(choice(f, (size_t)i), s) == 0)
            return i;
    return -1;
}

static wp_status_t set_str(wp__cfg_ctx_t *c, const wp__cfg_field_t *f, yaml_node_t *n, char *dst,
                           const char *path)
{
    const char *s;
    wp_status_t st = wp__cfg_scalar(c, n, path, &s);
    if (st != WP_OK)
        return st;
    if (s[0] == '\0')
        return wp__cfg_fail(c, n, path, WP_EINVAL, "expected a non-empty string");
    if (has_choices(f) && find_choice(f, s) < 0) {
        char all[256];
        list_choices(f, all, sizeof(all));
        return wp__cfg_fail(c, n, path, WP_EINVAL, "\"%s\" is not one of: %s", s, all);
    }
    if (strlen(s) >= f->size)
        return wp__cfg_fail(c, n, path, WP_EINVAL, "too long (%zu bytes, at most %zu)", strlen(s),
                            f->size - 1);
    memset(dst, 0, f->size);
    wp_strlcpy(dst, s, f->size);
    return WP_OK;
}

static wp_status_t set_enum(wp__cfg_ctx_t *c, const wp__cfg_field_t *f, yaml_node_t *n, int *dst,
                            const char *path)
{
    const char *s;
    wp_status_t st = wp__cfg_scalar(c, n, path, &s);
    if (st != WP_OK)
        return st;
    int i = find_choice(f, s);
    if (i < 0) {
        char all[256];
        list_choices(f, all, sizeof(all));
        return wp__cfg_fail(c, n, path, WP_EINVAL, "\"%s\" is not one of: %s", s, all);
    }
    *dst = i;
    return WP_OK;
}

static bool int_allowed(const int64_t *choices, int64_t v)
{
    for (size_t i = 0; choices[i] != 0; i++)
        if (choices[i] == v)
            return true;
    return false;
}

static wp_status_t int_choice_error(wp__cfg_ctx_t *c, const wp__cfg_field_t *f, yaml_node_t *n,
                                    const char *path, int64_t v)
{
    char all[128] = "";
    size_t len = 0;
    for (size_t i = 0; f->int_choices[i] != 0 && len + 1 < sizeof(all); i++) {
        int k = snprintf(all + len, sizeof(all) - len, "%s%lld", i ? ", " : "",
                         (long long)f->int_choices[i]);
        len += k > 0 ? (size_t)k : 0;
    }
    return wp__cfg_fail(c, n, path, WP_EINVAL, "expected one of %s, got %lld", all, (long long)v);
}

static wp_status_t set_int(wp__cfg_ctx_t *c, const wp__cfg_field_t *f, yaml_node_t *n, void *dst,
                           const char *path)
{
    int64_t v;
    if (!is_plain(n) || is_null(n) ||
        wp_parse_i64((const char *)n->data.scalar.value, n->data.scalar.length, &v) != WP_OK)
        return type_error(c, n, path, "an integer");
    if (f->int_choices != NULL && !int_allowed(f->int_choices, v))
        return int_choice_error(c, f, n, path, v);
    if ((double)v < f->min || (double)v > f->max)
        return wp__cfg_fail(c, n, path, WP_EINVAL, "%lld is out of range [%.0f, %.0f]",
                            (long long)v, f->min, f->max);
    if (f->size == sizeof(int)) {
        int iv = (int)v;
        memcpy(dst, &iv, sizeof(iv));
    } else {
        memcpy(dst, &v, sizeof(v));
    }
    return WP_OK;
}

static wp_status_t set_double(wp__cfg_ctx_t *c, const wp__cfg_field_t *f, yaml_node_t *n,
                              double *dst, const char *path)
{
    double v;
    if (!is_plain(n) || is_null(n) ||
        wp_parse_double((const char *)n->data.scalar.value, n->data.scalar.length, &v) != WP_OK ||
        !isfinite(v))
        return type_error(c, n, path, "a number");
    bool low = f->min_exclusive ? !(v > f->min) : !(v >= f->min);
    if (low || v > f->max)
        return wp__cfg_fail(c, n, path, WP_EINVAL, "%g is out of range %s%g, %g]", v,
                            f->min_exclusive ? "(" : "[", f->min, f->max);
    *dst = v;
    return WP_OK;
}

static wp_status_t set_bool(wp__cfg_ctx_t *c, yaml_node_t *n, bool *dst, const char *path)
{
    static const char *const yes[] = {"true", "True", "TRUE", NULL};
    static const char *const no[] = {"false", "False", "FALSE", NULL};
    const char *s = (const char *)n->data.scalar.value;
    const wp__cfg_field_t yes_f = {.choices = yes}, no_f = {.choices = no};
    if (is_plain(n) && find_choice(&yes_f, s) >= 0)
        *dst = true;
    else if (is_plain(n) && find_choice(&no_f, s) >= 0)
        *dst = false;
    else
        return type_error(c, n, path, "true or false");
    return WP_OK;
}

static wp_status_t set_field(wp__cfg_ctx_t *c, const wp__cfg_field_t *f, yaml_node_t *n, char *base,
                             const char *path)
{
    char *dst = base + f->off;
    switch (f->kind) {
    case WP__CFG_STR:
        return set_str(c, f, n, dst, path);
    case WP__CFG_ENUM:
        return set_enum(c, f, n, (int *)(void *)dst, path);
    case WP__CFG_INT:
        return set_int(c, f, n, dst, path);
    case WP__CFG_DOUBLE:
        return set_double(c, f, n, (double *)(void *)dst, path);
    case WP__CFG_BOOL:
        return set_bool(c, n, (bool *)(void *)dst, path);
    case WP__CFG_MAP:
        return wp__cfg_map(c, n, f->sub, f->nsub, dst, path);
    case WP__CFG_CUSTOM:
        return f->custom(c, n, base, path);
    }
    return wp__cfg_fail(c, n, path, WP_EINVAL, "internal: bad field kind");
}

static void join_path(char *out, size_t cap, const char *path, const char *key)
{
    snprintf(out, cap, "%s%s%s", path, path[0] ? "." : "", key);
}

static wp_status_t unknown_key(wp__cfg_ctx_t *c, yaml_node_t *key, const wp__cfg_field_t *fields,
                               size_t nfields, const char *path)
{
    char allowed[320] = "";
    size_t len = 0;
    for (size_t i = 0; i < nfields && len + 1 < sizeof(allowed); i++) {
        int k =
            snprintf(allowed + len, sizeof(allowed) - len, "%s%s", i ? ", " : "", fields[i].key);
        len += k > 0 ? (size_t)k : 0;
    }
    char kp[WP__CFG_PATH_MAX];
    join_path(kp, sizeof(kp), path, (const char *)key->data.scalar.value);
    return wp__cfg_fail(c, key, kp, WP_EINVAL, "unknown key; allowed here: %s", allowed);
}

static const wp__cfg_field_t *find_field(const wp__cfg_field_t *fields, size_t nfields,
                                         const char *key, size_t *index)
{
    for (size_t i = 0; i < nfields; i++) {
        if (strcmp(fields[i].key, key) == 0) {
            *index = i;
            return &fields[i];
        }
    }
    return NULL;
}

static wp_status_t check_required(wp__cfg_ctx_t *c, yaml_node_t *n, const wp__cfg_field_t *fields,
                                  size_t nfields, uint64_t seen, const char *path)
{
    for (size_t i = 0; i < nfields; i++)
        if (fields[i].required && !(seen & ((uint64_t)1 << i)))
            return wp__cfg_fail(c, n, path, WP_EINVAL, "missing required key \"%s\"",
                                fields[i].key);
    return WP_OK;
}

static wp_status_t map_pair(wp__cfg_ctx_t *c, yaml_node_pair_t *pair, const wp__cfg_field_t *fields,
                            size_t nfields, char *base, const char *path, uint64_t *seen)
{
    yaml_node_t *key = yaml_document_get_node(c->doc, pair->key);
    yaml_node_t *val = yaml_document_get_node(c->doc, pair->value);
    if (key == NULL || val == NULL)
        return wp__cfg_fail(c, key, path, WP_EINVAL, "malformed mapping entry");
    if (key->type != YAML_SCALAR_NODE)
        return wp__cfg_fail(c, key, path, WP_EINVAL, "keys must be plain names");
    size_t idx;
    const wp__cfg_field_t *f =
        find_field(fields, nfields, (const char *)key->data.scalar.value, &idx);
    if (f == NULL)
        return unknown_key(c, key, fields, nfields, path);
    char kp[WP__CFG_PATH_MAX];
    join_path(kp, sizeof(kp), path, f->key);
    if (*seen & ((uint64_t)1 << idx))
        return wp__cfg_fail(c, key, kp, WP_EINVAL, "duplicate key");
    *seen |= (uint64_t)1 << idx;
    wp_status_t st = set_field(c, f, val, base, kp);
    if (st == WP_OK && f->flag_off != 0)
        *(bool *)(void *)(base + f->flag_off - 1) = true;
    return st;
}

wp_status_t wp__cfg_map(wp__cfg_ctx_t *c, yaml_node_t *n, const wp__cfg_field_t *fields,
                        size_t nfields, void *base, const char *path)
{
    if (nfields > 64)
        return wp__cfg_fail(c, n, path, WP_EINVAL, "internal: section table too large");
    if (n->type != YAML_MAPPING_NODE)
        return type_error(c, n, path[0] ? path : "top level", "a mapping");
    uint64_t seen = 0;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        wp_status_t st = map_pair(c, p, fields, nfields, base, path, &seen);
        if (st != WP_OK)
            return st;
    }
    return check_required(c, n, fields, nfields, seen, path);
}

static wp_status_t check_value(const wp__cfg_field_t *f, const char *p, const char *path,
                               wp_err_t *err)
{
    int64_t iv = 0;
    double dv = 0;
    int ev = 0;
    size_t nch = 0;
    switch (f->kind) {
    case WP__CFG_STR:
        if (memchr(p, 0, f->size) == NULL || (p[0] == '\0' && !f->zero_unset))
            return wp_err_set(err, WP_EINVAL, "%s: empty or unterminated string", path);
        if (p[0] != '\0' && has_choices(f) && find_choice(f, p) < 0)
            return wp_err_set(err, WP_EINVAL, "%s: \"%s\" is not an allowed value", path, p);
        return WP_OK;
    case WP__CFG_ENUM:
        memcpy(&ev, p, sizeof(ev));
        while (choice(f, nch) != NULL)
            nch++;
        if (ev < 0 || (size_t)ev >= nch)
            return wp_err_set(err, WP_EINVAL, "%s: enum value %d out of range", path, ev);
        return WP_OK;
    case WP__CFG_INT:
        if (f->size == sizeof(int)) {
            int v;
            memcpy(&v, p, sizeof(v));
            iv = v;
        } else {
            memcpy(&iv, p, sizeof(iv));
        }
        if (iv == 0 && f->zero_unset)
            return WP_OK;
        if ((double)iv < f->min || (double)iv > f->max ||
            (f->int_choices != NULL && !int_allowed(f->int_choices, iv)))
            return wp_err_set(err, WP_EINVAL, "%s: %lld is not allowed", path, (long long)iv);
        return WP_OK;
    case WP__CFG_DOUBLE:
        memcpy(&dv, p, sizeof(dv));
        if ((dv == 0 && f->zero_unset) || (dv < 0 && f->negative_unset))
            return WP_OK;
        if (!isfinite(dv) || (f->min_exclusive ? !(dv > f->min) : !(dv >= f->min)) || dv > f->max)
            return wp_err_set(err, WP_EINVAL, "%s: %g is out of range", path, dv);
        return WP_OK;
    case WP__CFG_MAP:
        return wp__cfg_check(f->sub, f->nsub, p, path, err);
    case WP__CFG_BOOL:
    case WP__CFG_CUSTOM:
        return WP_OK;
    }
    return WP_OK;
}

wp_status_t wp__cfg_check(const wp__cfg_field_t *fields, size_t nfields, const void *base,
                          const char *path, wp_err_t *err)
{
    for (size_t i = 0; i < nfields; i++) {
        char kp[WP__CFG_PATH_MAX];
        join_path(kp, sizeof(kp), path, fields[i].key);
        wp_status_t st = check_value(&fields[i], (const char *)base + fields[i].off, kp, err);
        if (st != WP_OK)
            return st;
    }
    return WP_OK;
}

yaml_node_t *wp__cfg_lookup(wp__cfg_ctx_t *c, yaml_node_t *n, const char *key,
                            yaml_node_t **key_node)
{
    if (n == NULL || n->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        if (k != NULL && k->type == YAML_SCALAR_NODE &&
            strcmp((const char *)k->data.scalar.value, key) == 0) {
            if (key_node != NULL)
                *key_node = k;
            return yaml_document_get_node(c->doc, p->value);
        }
    }
    return NULL;
}

static wp_status_t yaml_error(const yaml_parser_t *p, const char *file, wp_err_t *err)
{
    const yaml_mark_t *m = &p->problem_mark;
    return wp_err_set(err, WP_EINVAL, "%s:%lu:%lu: invalid YAML: %s%s%s%s", file,
                      (unsigned long)m->line + 1, (unsigned long)m->column + 1,
                      p->problem ? p->problem : "parse error", p->context ? " (" : "",
                      p->context ? p->context : "", p->context ? ")" : "");
}

/* After the first document: anything but the end of the stream is an error. */
static wp_status_t expect_single_document(yaml_parser_t *p, const char *file, wp_err_t *err)
{
    yaml_document_t next;
    if (!yaml_parser_load(p, &next))
        return yaml_error(p, file, err);
    yaml_node_t *root = yaml_document_get_root_node(&next);
    unsigned long line = root ? (unsigned long)root->start_mark.line + 1 : 0;
    yaml_document_delete(&next);
    if (root != NULL)
        return wp_err_set(err, WP_EINVAL, "%s:%lu:1: a second YAML document; expected one", file,
                          line);
    return WP_OK;
}

static wp_status_t load_document(yaml_parser_t *p, const char *file, wp__cfg_root_fn fn, void *arg,
                                 wp_err_t *err)
{
    yaml_document_t doc;
    if (!yaml_parser_load(p, &doc))
        return yaml_error(p, file, err);
    wp__cfg_ctx_t c = {.filename = file, .doc = &doc, .err = err};
    wp_status_t st = fn(&c, yaml_document_get_root_node(&doc), arg);
    yaml_document_delete(&doc);
    if (st == WP_OK)
        st = expect_single_document(p, file, err);
    return st;
}

wp_status_t wp__cfg_load(const char *data, size_t len, const char *file, wp__cfg_root_fn fn,
                         void *arg, wp_err_t *err)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return wp_err_set(err, WP_ENOMEM, "%s: out of memory", file);
    yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
    wp_status_t st = load_document(&p, file, fn, arg, err);
    yaml_parser_delete(&p);
    return st;
}
