/*
 * fault: see fault.h.
 *
 * Both spellings (the flag's KIND[:RATE][,param=value...] and the admin endpoint's JSON)
 * go through one table of parameters, `params`: which kinds take a parameter, where it
 * lives in wp_fault_t and its range. So a flag and a JSON body accept exactly the same
 * faults and reject them with the same words; only the prefix naming the place differs
 * ("fault 'latency:1,ms=x'" or "faults[0]").
 */
#include "fault/fault.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/str.h"

static const char *const kind_names[WP_FAULT_KIND_COUNT] = {
    "429", "500", "503", "context-length", "latency", "hang", "disconnect", "crash"};

#define KIND_LIST "429, 500, 503, context-length, latency, hang, disconnect or crash"

typedef struct param_s {
    const char *name;
    uint32_t kinds; /* bit per kind that takes it */
    size_t off;     /* an int64_t in wp_fault_t */
    int64_t min, max;
} param_t;

#define BIT(k) (1u << (k))

static const param_t params[] = {
    {"ms", BIT(WP_FAULT_LATENCY), offsetof(wp_fault_t, ms), 0, 3600000},
    {"after", BIT(WP_FAULT_DISCONNECT) | BIT(WP_FAULT_CRASH), offsetof(wp_fault_t, after), 0,
     1000000000000},
    {"restart_ms", BIT(WP_FAULT_CRASH), offsetof(wp_fault_t, restart_ms), -1, 86400000},
};
#define N_PARAMS (sizeof(params) / sizeof(params[0]))

const char *wp_fault_kind_name(wp_fault_kind_t kind)
{
    return (unsigned)kind < WP_FAULT_KIND_COUNT ? kind_names[kind] : "?";
}

int wp_fault_status(wp_fault_kind_t kind)
{
    switch (kind) {
    case WP_FAULT_429:
        return 429;
    case WP_FAULT_500:
        return 500;
    case WP_FAULT_503:
        return 503;
    case WP_FAULT_CONTEXT_LENGTH:
        return 400;
    default:
        return 0;
    }
}

void wp_fault_init(wp_fault_t *f, wp_fault_kind_t kind)
{
    memset(f, 0, sizeof(*f));
    f->kind = kind;
    f->rate = 1.0;
    f->ms = WP_FAULT_LATENCY_MS;
    f->after = kind == WP_FAULT_DISCONNECT ? WP_FAULT_DISCONNECT_AFTER : 0;
    f->restart_ms = -1;
}

static wp_status_t kind_parse(const char *where, const char *s, size_t n, wp_fault_kind_t *out,
                              wp_err_t *err)
{
    for (int k = 0; k < WP_FAULT_KIND_COUNT; k++) {
        if (strlen(kind_names[k]) == n && memcmp(kind_names[k], s, n) == 0) {
            *out = (wp_fault_kind_t)k;
            return WP_OK;
        }
    }
    return wp_err_set(err, WP_EINVAL, "%s: unknown fault kind '%.*s' (expected " KIND_LIST ")",
                      where, (int)(n > 40 ? 40 : n), s);
}

static wp_status_t rate_check(const char *where, double v, wp_err_t *err)
{
    if (!(v >= 0 && v <= 1))
        return wp_err_set(err, WP_EINVAL, "%s: rate must be a number in [0, 1]", where);
    return WP_OK;
}

/* The parameters of f's kind, for messages: "ms", "after, restart_ms" or "none". */
static void params_of(wp_fault_kind_t kind, char *out, size_t cap)
{
    out[0] = '\0';
    size_t len = 0;
    for (size_t i = 0; i < N_PARAMS; i++) {
        if (!(params[i].kinds & BIT(kind)))
            continue;
        int k = snprintf(out + len, cap - len, "%s%s", len ? ", " : "", params[i].name);
        if (k < 0 || (size_t)k >= cap - len)
            break;
        len += (size_t)k;
    }
    if (len == 0)
        snprintf(out, cap, "none");
}

/* Sets parameter `name` (n bytes) of f to v, checking that f's kind takes it and the range. */
static wp_status_t param_set(const char *where, wp_fault_t *f, const char *name, size_t n, double v,
                             wp_err_t *err)
{
    for (size_t i = 0; i < N_PARAMS; i++) {
        const param_t *p = &params[i];
        if (strlen(p->name) != n || memcmp(p->name, name, n) != 0 || !(p->kinds & BIT(f->kind)))
            continue;
        if (!(v == floor(v) && v >= (double)p->min && v <= (double)p->max))
            return wp_err_set(err, WP_EINVAL, "%s: %s must be an integer in %lld..%lld", where,
                              p->name, (long long)p->min, (long long)p->max);
        int64_t iv = (int64_t)v;
        memcpy((char *)f + p->off, &iv, sizeof(iv));
        return WP_OK;
    }
    char allowed[64];
    params_of(f->kind, allowed, sizeof(allowed));
    return wp_err_set(err, WP_EINVAL, "%s: '%.*s' is not a parameter of %s (its parameters: %s)",
                      where, (int)(n > 40 ? 40 : n), name, wp_fault_kind_name(f->kind), allowed);
}

/* One "name=value" of a spec. */
static wp_status_t spec_param(const char *where, wp_fault_t *f, const char *s, size_t n,
                              wp_err_t *err)
{
    const char *eq = memchr(s, '=', n);
    if (eq == NULL || eq == s)
        return wp_err_set(err, WP_EINVAL, "%s: expected param=value, got '%.*s'", where,
                          (int)(n > 40 ? 40 : n), s);
    size_t name_n = (size_t)(eq - s);
    int64_t v;
    if (wp_parse_i64(eq + 1, n - name_n - 1, &v) != WP_OK)
        return wp_err_set(err, WP_EINVAL, "%s: %.*s must be an integer, got '%.*s'", where,
                          (int)name_n, s, (int)(n - name_n - 1 > 40 ? 40 : n - name_n - 1), eq + 1);
    return param_set(where, f, s, name_n, (double)v, err);
}

wp_status_t wp_fault_parse_spec(const char *spec, wp_fault_t *out, wp_err_t *err)
{
    char where[96];
    snprintf(where, sizeof(where), "fault '%.60s%s'", spec, strlen(spec) > 60 ? "..." : "");
    size_t head = strcspn(spec, ",");
    const char *colon = memchr(spec, ':', head);
    size_t kind_n = colon ? (size_t)(colon - spec) : head;
    wp_fault_t f;
    wp_fault_kind_t kind;
    wp_status_t st = kind_parse(where, spec, kind_n, &kind, err);
    if (st != WP_OK)
        return st;
    wp_fault_init(&f, kind);
    if (colon != NULL) {
        size_t rn = head - kind_n - 1;
        if (wp_parse_double(colon + 1, rn, &f.rate) != WP_OK)
            return wp_err_set(err, WP_EINVAL, "%s: rate must be a number in [0, 1], got '%.*s'",
                              where, (int)(rn > 40 ? 40 : rn), colon + 1);
        if ((st = rate_check(where, f.rate, err)) != WP_OK)
            return st;
    }
    for (const char *p = spec + head; *p == ',';) {
        p++;
        size_t n = strcspn(p, ",");
        if ((st = spec_param(where, &f, p, n, err)) != WP_OK)
            return st;
        p += n;
    }
    *out = f;
    return WP_OK;
}

/* The shortest of %.15g and %.17g that reads back the same. */
static void format_rate(double rate, char *out, size_t cap)
{
    snprintf(out, cap, "%.15g", rate);
    double back;
    if (wp_parse_double(out, strlen(out), &back) != WP_OK || back != rate)
        snprintf(out, cap, "%.17g", rate);
}

static int64_t param_get(const wp_fault_t *f, const param_t *p)
{
    int64_t v;
    memcpy(&v, (const char *)f + p->off, sizeof(v));
    return v;
}

bool wp_fault_format_spec(const wp_fault_t *f, char *out, size_t cap)
{
    char rate[32];
    format_rate(f->rate, rate, sizeof(rate));
    int n = snprintf(out, cap, "%s:%s", wp_fault_kind_name(f->kind), rate);
    for (size_t i = 0; i < N_PARAMS && n >= 0 && (size_t)n < cap; i++) {
        if (!(params[i].kinds & BIT(f->kind)))
            continue;
        int k = snprintf(out + n, cap - (size_t)n, ",%s=%lld", params[i].name,
                         (long long)param_get(f, &params[i]));
        n = k < 0 ? k : n + k;
    }
    return n >= 0 && (size_t)n < cap;
}

wp_status_t wp_fault_set_add(wp_fault_set_t *set, const wp_fault_t *f, wp_err_t *err)
{
    if (set->n >= WP_FAULT_MAX)
        return wp_err_set(err, WP_ELIMIT, "at most %d faults at once", WP_FAULT_MAX);
    set->f[set->n++] = *f;
    return WP_OK;
}

/* ---- JSON ---- */

static wp_status_t json_fault(const cJSON *o, int index, wp_fault_t *out, wp_err_t *err)
{
    char where[32];
    snprintf(where, sizeof(where), "faults[%d]", index);
    if (!cJSON_IsObject(o))
        return wp_err_set(err, WP_EINVAL, "%s: expected an object", where);
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    if (!cJSON_IsString(kind))
        return wp_err_set(err, WP_EINVAL, "%s.kind: expected a string (" KIND_LIST ")", where);
    char at[64];
    snprintf(at, sizeof(at), "%s.kind", where);
    wp_fault_kind_t k;
    wp_status_t st = kind_parse(at, kind->valuestring, strlen(kind->valuestring), &k, err);
    if (st != WP_OK)
        return st;
    wp_fault_t f;
    wp_fault_init(&f, k);
    for (const cJSON *c = o->child; c != NULL; c = c->next) {
        if (strcmp(c->string, "kind") == 0)
            continue;
        snprintf(at, sizeof(at), "%s.%.16s", where, c->string);
        if (!cJSON_IsNumber(c))
            return wp_err_set(err, WP_EINVAL, "%s: expected a number", at);
        if (strcmp(c->string, "rate") == 0) {
            f.rate = c->valuedouble;
            st = rate_check(at, f.rate, err);
        } else {
            st = param_set(where, &f, c->string, strlen(c->string), c->valuedouble, err);
        }
        if (st != WP_OK)
            return st;
    }
    *out = f;
    return WP_OK;
}

static wp_status_t json_set(const cJSON *root, wp_fault_set_t *out, wp_err_t *err)
{
    if (!cJSON_IsObject(root))
        return wp_err_set(err, WP_EINVAL, "body: expected a JSON object {\"faults\":[...]}");
    for (const cJSON *c = root->child; c != NULL; c = c->next)
        if (strcmp(c->string, "faults") != 0)
            return wp_err_set(err, WP_EINVAL, "%.32s: unknown field (expected \"faults\")",
                              c->string);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "faults");
    if (!cJSON_IsArray(list))
        return wp_err_set(err, WP_EINVAL, "faults: expected a list");
    wp_fault_set_t set = {.n = 0};
    int i = 0;
    for (const cJSON *c = list->child; c != NULL; c = c->next, i++) {
        wp_fault_t f;
        wp_status_t st = json_fault(c, i, &f, err);
        if (st == WP_OK)
            st = wp_fault_set_add(&set, &f, err);
        if (st != WP_OK)
            return st;
    }
    *out = set;
    return WP_OK;
}

wp_status_t wp_fault_set_parse_json(const char *data, size_t len, wp_fault_set_t *out,
                                    wp_err_t *err)
{
    cJSON *root = data != NULL ? cJSON_ParseWithLength(data, len) : NULL;
    if (root == NULL)
        return wp_err_set(err, WP_EINVAL, "body: not valid JSON");
    wp_status_t st = json_set(root, out, err);
    cJSON_Delete(root);
    return st;
}

wp_status_t wp_fault_crash_parse_json(const char *data, size_t len, int64_t *restart_ms,
                                      wp_err_t *err)
{
    size_t skip = 0;
    while (skip < len && strchr(" \t\r\n", data[skip]) != NULL)
        skip++;
    wp_fault_t f;
    wp_fault_init(&f, WP_FAULT_CRASH);
    if (skip == len) {
        *restart_ms = f.restart_ms;
        return WP_OK;
    }
    cJSON *root = cJSON_ParseWithLength(data, len);
    wp_status_t st = WP_OK;
    if (!cJSON_IsObject(root))
        st = wp_err_set(err, WP_EINVAL, "body: expected a JSON object {\"restart_ms\":N}");
    for (const cJSON *c = root ? root->child : NULL; st == WP_OK && c != NULL; c = c->next) {
        if (strcmp(c->string, "restart_ms") != 0)
            st = wp_err_set(err, WP_EINVAL, "%.32s: unknown field (expected \"restart_ms\")",
                            c->string);
        else if (!cJSON_IsNumber(c))
            st = wp_err_set(err, WP_EINVAL, "restart_ms: expected a number");
        else
            st = param_set("body", &f, c->string, strlen(c->string), c->valuedouble, err);
    }
    cJSON_Delete(root);
    if (st == WP_OK)
        *restart_ms = f.restart_ms;
    return st;
}

wp_status_t wp_fault_set_write_json(const wp_fault_set_t *set, wp_buf_t *out)
{
    wp_status_t st = wp_buf_puts(out, "{\"faults\":[");
    for (int i = 0; st == WP_OK && i < set->n; i++) {
        const wp_fault_t *f = &set->f[i];
        char rate[32];
        format_rate(f->rate, rate, sizeof(rate));
        st = wp_buf_printf(out, "%s{\"kind\":\"%s\",\"rate\":%s", i ? "," : "",
                           wp_fault_kind_name(f->kind), rate);
        for (size_t p = 0; st == WP_OK && p < N_PARAMS; p++)
            if (params[p].kinds & BIT(f->kind))
                st = wp_buf_printf(out, ",\"%s\":%lld", params[p].name,
                                   (long long)param_get(f, &params[p]));
        if (st == WP_OK)
            st = wp_buf_puts(out, "}");
    }
    return st == WP_OK ? wp_buf_puts(out, "]}") : st;
}

/* ---- the decision ---- */

void wp_fault_decide(const wp_fault_set_t *set, wp_rng_t *rng, uint64_t request_no,
                     wp_fault_decision_t *out)
{
    memset(out, 0, sizeof(*out));
    out->disconnect_after = -1;
    const wp_fault_t *crash = NULL, *error = NULL, *disconnect = NULL;
    bool hang = false, slow = false;
    int64_t latency = 0;
    for (int i = 0; i < set->n; i++) {
        const wp_fault_t *f = &set->f[i];
        bool drawn = wp_rng_double(rng) < f->rate; /* one draw per fault, always */
        if (!drawn)
            continue;
        switch (f->kind) {
        case WP_FAULT_CRASH:
            if (crash == NULL && request_no > (uint64_t)f->after)
                crash = f;
            break;
        case WP_FAULT_HANG:
            hang = true;
            break;
        case WP_FAULT_LATENCY:
            slow = true;
            latency += f->ms;
            break;
        case WP_FAULT_DISCONNECT:
            if (disconnect == NULL)
                disconnect = f;
            break;
        default:
            if (error == NULL)
                error = f;
            break;
        }
    }
    if (crash != NULL) {
        out->crash = true;
        out->restart_ms = crash->restart_ms;
        out->injected = BIT(WP_FAULT_CRASH);
        return;
    }
    if (hang) {
        out->hang = true;
        out->injected = BIT(WP_FAULT_HANG);
        return;
    }
    if (slow) {
        out->latency_ms = latency;
        out->injected |= BIT(WP_FAULT_LATENCY);
    }
    if (error != NULL) {
        out->status = wp_fault_status(error->kind);
        out->error = error->kind;
        out->injected |= BIT(error->kind);
    } else if (disconnect != NULL) {
        out->disconnect_after = disconnect->after;
        out->injected |= BIT(WP_FAULT_DISCONNECT);
    }
}
