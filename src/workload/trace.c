/*
 * workload/trace: Mooncake JSONL traces (see workload.h).
 *
 * The buffer is cut into lines; each non-blank line is parsed on its own with cJSON (so a
 * broken line cannot swallow the next) and its four fields checked and copied. Hash ids
 * of all entries go into one pool that grows by doubling; entries keep their offset into
 * it and get their pointer once the pool stops moving. Entries are then sorted by
 * timestamp, ties in file order, so the generator can replay them in arrival order. Sizes
 * are capped (bytes, ids per entry, ids in all, entries, lengths) so a hostile file cannot
 * make memory grow without bound.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "workload/internal.h"

#define MAX_LINE ((size_t)16 << 20)

typedef struct parser_s {
    const char *file;
    size_t line;
    wp_workload_trace_t *t;
    size_t cap_entries, cap_pool;
    wp_err_t *err;
} parser_t;

static wp_status_t line_error(parser_t *p, wp_status_t st, const char *field, const char *what)
{
    return wp_err_set(p->err, st, "%s:%zu: %s%s%s", p->file, p->line, field, field[0] ? ": " : "",
                      what);
}

static bool whole(double v, double lo, double hi)
{
    return isfinite(v) && v == floor(v) && v >= lo && v <= hi;
}

static wp_status_t get_length(parser_t *p, const cJSON *o, const char *key, double hi, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v == NULL)
        return line_error(p, WP_EINVAL, key, "missing");
    if (!cJSON_IsNumber(v) || !whole(v->valuedouble, 1, hi))
        return wp_err_set(p->err, WP_EINVAL, "%s:%zu: %s: expected a whole number in [1, %.0f]",
                          p->file, p->line, key, hi);
    *out = (int64_t)v->valuedouble;
    return WP_OK;
}

static wp_status_t grow(void **ptr, size_t *cap, size_t need, size_t size, size_t max)
{
    if (need <= *cap)
        return WP_OK;
    if (need > max)
        return WP_ELIMIT;
    size_t n = *cap ? *cap : 1024;
    while (n < need)
        n *= 2;
    n = n > max ? max : n;
    void *q = realloc(*ptr, n * size);
    if (q == NULL)
        return WP_ENOMEM;
    *ptr = q;
    *cap = n;
    return WP_OK;
}

static wp_status_t add_ids(parser_t *p, const cJSON *ids, wp_workload_trace_entry_t *e)
{
    if (!cJSON_IsArray(ids))
        return line_error(p, WP_EINVAL, "hash_ids", ids ? "expected a list" : "missing");
    size_t n = (size_t)cJSON_GetArraySize(ids);
    if (n > WP_WORKLOAD_TRACE_MAX_IDS)
        return line_error(p, WP_ELIMIT, "hash_ids", "more than 65536 ids");
    wp_workload_trace_t *t = p->t;
    wp_status_t st = grow((void **)&t->pool, &p->cap_pool, t->n_pool + n, sizeof(*t->pool),
                          WP_WORKLOAD_TRACE_MAX_POOL);
    if (st != WP_OK)
        return line_error(p, st, "hash_ids", "too many ids in the whole trace");
    e->hash_off = t->n_pool;
    e->n_hash_ids = n;
    size_t i = 0;
    for (const cJSON *v = ids->child; v != NULL; v = v->next, i++) {
        if (!cJSON_IsNumber(v) || !whole(v->valuedouble, 0, 9007199254740992.0))
            return wp_err_set(p->err, WP_EINVAL,
                              "%s:%zu: hash_ids[%zu]: expected a non-negative integer", p->file,
                              p->line, i);
        t->pool[t->n_pool + i] = (uint64_t)v->valuedouble;
    }
    t->n_pool += n;
    return WP_OK;
}

static wp_status_t parse_object(parser_t *p, const cJSON *o, wp_workload_trace_entry_t *e)
{
    if (!cJSON_IsObject(o))
        return line_error(p, WP_EINVAL, "", "expected a JSON object");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "timestamp");
    if (ts == NULL)
        return line_error(p, WP_EINVAL, "timestamp", "missing");
    if (!cJSON_IsNumber(ts) || !isfinite(ts->valuedouble) || ts->valuedouble < 0 ||
        ts->valuedouble > 1e15)
        return line_error(p, WP_EINVAL, "timestamp", "expected milliseconds >= 0");
    e->timestamp_ms = ts->valuedouble;
    e->line = p->line;
    wp_status_t st = get_length(p, o, "input_length", WP_WORKLOAD_MAX_PROMPT, &e->input_length);
    if (st == WP_OK)
        st = get_length(p, o, "output_length", WP_WORKLOAD_MAX_LEN, &e->output_length);
    if (st == WP_OK)
        st = add_ids(p, cJSON_GetObjectItemCaseSensitive(o, "hash_ids"), e);
    return st;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

static wp_status_t parse_line(parser_t *p, const char *s, size_t n)
{
    if (blank(s, n))
        return WP_OK;
    if (n > MAX_LINE)
        return line_error(p, WP_ELIMIT, "", "line longer than 16 MiB");
    wp_workload_trace_t *t = p->t;
    wp_status_t st = grow((void **)&t->entries, &p->cap_entries, t->n + 1, sizeof(*t->entries),
                          WP_WORKLOAD_MAX_REQUESTS);
    if (st != WP_OK)
        return line_error(p, st, "", "too many entries");
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(s, n, &end, false);
    if (o == NULL) {
        size_t col = end && end >= s ? (size_t)(end - s) + 1 : 1;
        return wp_err_set(p->err, WP_EINVAL, "%s:%zu:%zu: not valid JSON", p->file, p->line, col);
    }
    while (end != NULL && end < s + n && blank(end, 1))
        end++;
    if (end != NULL && end < s + n) {
        cJSON_Delete(o);
        return wp_err_set(p->err, WP_EINVAL, "%s:%zu:%zu: text after the JSON object", p->file,
                          p->line, (size_t)(end - s) + 1);
    }
    wp_workload_trace_entry_t *e = &t->entries[t->n];
    memset(e, 0, sizeof(*e));
    st = parse_object(p, o, e);
    cJSON_Delete(o);
    if (st == WP_OK)
        t->n++;
    return st;
}

static int by_time(const void *a, const void *b)
{
    const wp_workload_trace_entry_t *x = a, *y = b;
    if (x->timestamp_ms != y->timestamp_ms)
        return x->timestamp_ms < y->timestamp_ms ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static wp_status_t parse_all(parser_t *p, const char *data, size_t len)
{
    size_t at = 0;
    while (at < len) {
        const char *nl = memchr(data + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - (data + at)) : len - at;
        p->line++;
        wp_status_t st = parse_line(p, data + at, n);
        if (st != WP_OK)
            return st;
        at += n + 1;
    }
    if (p->t->n == 0)
        return wp_err_set(p->err, WP_EINVAL, "%s: no entries", p->file);
    return WP_OK;
}

wp_status_t wp_workload_trace_parse(const char *data, size_t len, const char *filename,
                                    wp_workload_trace_t *out, wp_err_t *err)
{
    memset(out, 0, sizeof(*out));
    parser_t p = {.file = filename ? filename : "trace", .t = out, .err = err};
    if (len > WP_WORKLOAD_TRACE_MAX_BYTES)
        return wp_err_set(err, WP_ELIMIT, "%s: %zu bytes, more than the %zu allowed", p.file, len,
                          WP_WORKLOAD_TRACE_MAX_BYTES);
    wp_status_t st = parse_all(&p, data, len);
    if (st != WP_OK) {
        wp_workload_trace_free(out);
        return st;
    }
    qsort(out->entries, out->n, sizeof(*out->entries), by_time);
    for (size_t i = 0; i < out->n; i++)
        out->entries[i].hash_ids = out->pool + out->entries[i].hash_off;
    return WP_OK;
}

void wp_workload_trace_free(wp_workload_trace_t *t)
{
    free(t->entries);
    free(t->pool);
    memset(t, 0, sizeof(*t));
}

wp_status_t wp_workload_trace_validate(const wp_workload_trace_t *t, wp_err_t *err)
{
    if ((t->entries == NULL) != (t->n == 0) || t->n > WP_WORKLOAD_MAX_REQUESTS)
        return wp_err_set(err, WP_EINVAL, "trace: entries pointer and count disagree");
    for (size_t i = 0; i < t->n; i++) {
        const wp_workload_trace_entry_t *e = &t->entries[i];
        if (i > 0 && by_time(&t->entries[i - 1], e) > 0)
            return wp_err_set(err, WP_EINVAL, "trace: entry %zu out of order", i);
        if (e->input_length < 1 || e->input_length > WP_WORKLOAD_MAX_PROMPT ||
            e->output_length < 1 || e->output_length > WP_WORKLOAD_MAX_LEN)
            return wp_err_set(err, WP_EINVAL, "trace: entry %zu: length out of range", i);
        if (e->hash_off > t->n_pool || e->n_hash_ids > t->n_pool - e->hash_off ||
            (e->n_hash_ids > 0 && e->hash_ids != t->pool + e->hash_off))
            return wp_err_set(err, WP_EINVAL, "trace: entry %zu: hash ids outside the pool", i);
    }
    return WP_OK;
}
