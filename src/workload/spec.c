/*
 * workload/spec: the workload file and its rules (see workload.h).
 *
 * Parsing reuses config/schema's table-driven walker, so errors read like the topology's
 * ("file:line:col: key: message", unknown keys listed). The keys allowed depend on `type`,
 * so the root function reads `type` first and walks the document against a table built for
 * that type (common keys + the type's keys): an unknown key names exactly the keys the
 * type takes. Lengths given as a number or a distribution and the stage list are custom
 * fields. Rules across keys (load type against its keys, request counts, prompt sizes) live
 * in one function, check_rules, that names a key path; wp_workload_spec_validate prints it
 * as "path: message", and parsing finds the path's node in the document to add the
 * position. wp_workload_spec_set wraps one flag as a tiny YAML document ("key: value") and
 * walks it the same way, so flags accept exactly what the file accepts.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/str.h"
#include "config/schema.h"
#include "workload/internal.h"

_Static_assert(sizeof(wp_workload_type_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(wp_workload_load_type_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(wp_workload_dist_kind_t) == sizeof(int), "enums are stored as int");

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_FIELDS 16
#define NATURAL_RANDOM 100

typedef wp_workload_spec_t spec_t;
typedef wp_workload_load_t load_t;
typedef wp_workload_stage_t stage_t;
typedef wp_workload_dist_t dist_t;

static const char *const type_names[] = {"shared_prefix", "multi_turn", "random", "trace", NULL};
static const char *const load_names[] = {"poisson",     "constant", "stages",
                                         "concurrency", "trace",    NULL};
static const char *const api_names[] = {"completions", "chat", NULL};
static const char *const dist_names[] = {"fixed", "uniform", "normal", "lognormal", NULL};
static const char *const format_names[] = {"mooncake", NULL};

#define F_INT(k, field, lo, hi)                                                                    \
    {                                                                                              \
        .key = k, .kind = WP__CFG_INT, .off = offsetof(spec_t, field), .size = sizeof(int),        \
        .min = lo, .max = hi                                                                       \
    }
#define F_POS(k, type, field, hi)                                                                  \
    {                                                                                              \
        .key = k, .kind = WP__CFG_DOUBLE, .off = offsetof(type, field), .min = 0, .max = hi,       \
        .min_exclusive = true, .zero_unset = true                                                  \
    }
#define F_DOUBLE(k, field, lo, hi)                                                                 \
    {                                                                                              \
        .key = k, .kind = WP__CFG_DOUBLE, .off = offsetof(dist_t, field), .min = lo, .max = hi     \
    }

static wp_status_t parse_stages(wp__cfg_ctx_t *c, yaml_node_t *n, void *base, const char *path);
static wp_status_t parse_input_len(wp__cfg_ctx_t *c, yaml_node_t *n, void *base, const char *path);
static wp_status_t parse_output_len(wp__cfg_ctx_t *c, yaml_node_t *n, void *base, const char *path);

static const wp__cfg_field_t stage_fields[] = {
    {.key = "rate",
     .kind = WP__CFG_DOUBLE,
     .off = offsetof(stage_t, rate),
     .min = 0,
     .max = 1e6,
     .min_exclusive = true,
     .required = true},
    {.key = "duration",
     .kind = WP__CFG_DOUBLE,
     .off = offsetof(stage_t, duration),
     .min = 0,
     .max = 1e7,
     .min_exclusive = true,
     .required = true},
};

static const wp__cfg_field_t load_fields[] = {
    {.key = "type",
     .kind = WP__CFG_ENUM,
     .off = offsetof(load_t, type),
     .choices = load_names,
     .flag_off = offsetof(load_t, has_type) + 1},
    {.key = "rate",
     .kind = WP__CFG_DOUBLE,
     .off = offsetof(load_t, rate),
     .min = 0,
     .max = 1e6,
     .min_exclusive = true,
     .flag_off = offsetof(load_t, has_rate) + 1},
    F_POS("duration", load_t, duration, 1e7),
    {.key = "num_requests",
     .kind = WP__CFG_INT,
     .off = offsetof(load_t, num_requests),
     .size = sizeof(int64_t),
     .min = 1,
     .max = WP_WORKLOAD_MAX_REQUESTS,
     .zero_unset = true},
    {.key = "concurrency",
     .kind = WP__CFG_INT,
     .off = offsetof(load_t, concurrency),
     .size = sizeof(int),
     .min = 1,
     .max = 100000,
     .zero_unset = true},
    {.key = "max_concurrency",
     .kind = WP__CFG_INT,
     .off = offsetof(load_t, max_concurrency),
     .size = sizeof(int),
     .min = 1,
     .max = 1000000,
     .zero_unset = true},
    {.key = "warmup",
     .kind = WP__CFG_INT,
     .off = offsetof(load_t, warmup),
     .size = sizeof(int64_t),
     .min = 0,
     .max = WP_WORKLOAD_MAX_REQUESTS},
    {.key = "sequential", .kind = WP__CFG_BOOL, .off = offsetof(load_t, sequential)},
    {.key = "interval",
     .kind = WP__CFG_DOUBLE,
     .off = offsetof(load_t, interval),
     .min = 0,
     .max = 1e6},
    {.key = "stages", .kind = WP__CFG_CUSTOM, .custom = parse_stages},
};

static const wp__cfg_field_t common_fields[] = {
    {.key = "type", .kind = WP__CFG_ENUM, .off = offsetof(spec_t, type), .choices = type_names},
    {.key = "seed",
     .kind = WP__CFG_INT,
     .off = offsetof(spec_t, seed),
     .size = sizeof(int64_t),
     .min = 0,
     .max = 9.2e18},
    {.key = "api", .kind = WP__CFG_ENUM, .off = offsetof(spec_t, api), .choices = api_names},
    {.key = "load",
     .kind = WP__CFG_MAP,
     .off = offsetof(spec_t, load),
     .sub = load_fields,
     .nsub = N(load_fields)},
};

static const wp__cfg_field_t input_len_field = {
    .key = "input_len", .kind = WP__CFG_CUSTOM, .custom = parse_input_len};
static const wp__cfg_field_t output_len_field = {
    .key = "output_len", .kind = WP__CFG_CUSTOM, .custom = parse_output_len};

static const wp__cfg_field_t shared_prefix_fields[] = {
    F_INT("num_groups", num_groups, 1, 100000),
    F_INT("num_prompts_per_group", num_prompts_per_group, 1, 100000),
    F_INT("system_prompt_len", system_prompt_len, 1, WP_WORKLOAD_MAX_LEN),
    F_INT("question_len", question_len, 1, WP_WORKLOAD_MAX_LEN),
    {.key = "fixed_prompts", .kind = WP__CFG_BOOL, .off = offsetof(spec_t, fixed_prompts)},
};

static const wp__cfg_field_t multi_turn_fields[] = {
    F_INT("num_sessions", num_sessions, 1, 100000),
    F_INT("turns_per_session", turns_per_session, 1, 1000),
    F_INT("system_prompt_len", system_prompt_len, 1, WP_WORKLOAD_MAX_LEN),
    F_INT("user_turn_len", user_turn_len, 1, WP_WORKLOAD_MAX_LEN),
};

static const wp__cfg_field_t trace_fields[] = {
    {.key = "format",
     .kind = WP__CFG_STR,
     .off = offsetof(spec_t, trace_format),
     .size = sizeof(((spec_t *)0)->trace_format),
     .choices = format_names},
    {.key = "path",
     .kind = WP__CFG_STR,
     .off = offsetof(spec_t, trace_path),
     .size = sizeof(((spec_t *)0)->trace_path)},
    {.key = "speed",
     .kind = WP__CFG_DOUBLE,
     .off = offsetof(spec_t, trace_speed),
     .min = 0,
     .max = 1e6,
     .min_exclusive = true},
};

static const wp__cfg_field_t dist_fields[] = {
    {.key = "dist",
     .kind = WP__CFG_ENUM,
     .off = offsetof(dist_t, kind),
     .choices = dist_names,
     .required = true},
    F_DOUBLE("mean", mean, 0, WP_WORKLOAD_MAX_LEN),
    F_DOUBLE("std", std, 0, WP_WORKLOAD_MAX_LEN),
    F_DOUBLE("min", min, 1, WP_WORKLOAD_MAX_LEN),
    F_DOUBLE("max", max, 1, WP_WORKLOAD_MAX_LEN),
};

static size_t add(wp__cfg_field_t *out, size_t n, const wp__cfg_field_t *f, size_t count)
{
    memcpy(out + n, f, count * sizeof(*f));
    return n + count;
}

/* The table for one type: common keys, then the type's. */
static size_t build_table(wp_workload_type_t type, wp__cfg_field_t out[MAX_FIELDS])
{
    size_t n = add(out, 0, common_fields, N(common_fields));
    switch (type) {
    case WP_WORKLOAD_SHARED_PREFIX:
        n = add(out, n, shared_prefix_fields, N(shared_prefix_fields));
        return add(out, n, &output_len_field, 1);
    case WP_WORKLOAD_MULTI_TURN:
        n = add(out, n, multi_turn_fields, N(multi_turn_fields));
        return add(out, n, &output_len_field, 1);
    case WP_WORKLOAD_RANDOM:
        n = add(out, n, &input_len_field, 1);
        return add(out, n, &output_len_field, 1);
    case WP_WORKLOAD_TRACE:
        return add(out, n, trace_fields, N(trace_fields));
    }
    return n;
}

/* ---- custom fields ---- */

static wp_status_t parse_stages(wp__cfg_ctx_t *c, yaml_node_t *n, void *base, const char *path)
{
    load_t *l = base;
    yaml_node_item_t *items;
    size_t count;
    wp_status_t st = wp__cfg_seq(c, n, path, &items, &count);
    if (st != WP_OK)
        return st;
    if (count == 0 || count > WP_WORKLOAD_MAX_STAGES)
        return wp__cfg_fail(c, n, path, WP_EINVAL,
                            "expected 1 to %d stages {rate, duration}, got %zu",
                            WP_WORKLOAD_MAX_STAGES, count);
    memset(l->stages, 0, sizeof(l->stages));
    l->n_stages = count;
    for (size_t i = 0; i < count && st == WP_OK; i++) {
        char ip[WP__CFG_PATH_MAX];
        snprintf(ip, sizeof(ip), "%s[%zu]", path, i);
        st = wp__cfg_map(c, yaml_document_get_node(c->doc, items[i]), stage_fields, N(stage_fields),
                         &l->stages[i], ip);
    }
    return st;
}

/* After the walk: derived fields so that every kind is fully described. */
static void complete_dist(dist_t *d)
{
    if (d->kind == WP_WORKLOAD_DIST_FIXED) {
        d->min = d->max = d->mean;
        d->std = 0;
    } else if (d->kind == WP_WORKLOAD_DIST_UNIFORM) {
        d->mean = (d->min + d->max) / 2;
        d->std = (d->max - d->min) / sqrt(12.0);
    } else {
        d->min = isnan(d->min) ? 1 : d->min;
        d->max = isnan(d->max) ? WP_WORKLOAD_MAX_LEN : d->max;
    }
}

static wp_status_t parse_dist(wp__cfg_ctx_t *c, yaml_node_t *n, dist_t *out, const char *path)
{
    dist_t d = {.kind = WP_WORKLOAD_DIST_FIXED, .mean = NAN, .std = NAN, .min = NAN, .max = NAN};
    if (n->type == YAML_SCALAR_NODE) {
        int64_t v;
        if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
            wp_parse_i64((const char *)n->data.scalar.value, n->data.scalar.length, &v) != WP_OK)
            return wp__cfg_fail(c, n, path, WP_EINVAL,
                                "expected a number of tokens or {dist, mean, std, min, max}, got "
                                "\"%.40s\"",
                                (const char *)n->data.scalar.value);
        d.mean = (double)v;
    } else {
        wp_status_t st = wp__cfg_map(c, n, dist_fields, N(dist_fields), &d, path);
        if (st != WP_OK)
            return st;
    }
    complete_dist(&d);
    const char *why = wp__workload_dist_problem(&d);
    if (why != NULL)
        return wp__cfg_fail(c, n, path, WP_EINVAL, "%s %s", dist_names[d.kind], why);
    *out = d;
    return WP_OK;
}

static wp_status_t parse_input_len(wp__cfg_ctx_t *c, yaml_node_t *n, void *base, const char *path)
{
    return parse_dist(c, n, &((spec_t *)base)->input_len, path);
}

static wp_status_t parse_output_len(wp__cfg_ctx_t *c, yaml_node_t *n, void *base, const char *path)
{
    return parse_dist(c, n, &((spec_t *)base)->output_len, path);
}

/* ---- rules across keys ---- */

typedef struct problem_s {
    char path[64];
    char msg[WP_ERR_MAX - 80];
} problem_t;

static wp_status_t fail(problem_t *p, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static wp_status_t fail(problem_t *p, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
    va_end(ap);
    wp_strlcpy(p->path, path, sizeof(p->path));
    return WP_EINVAL;
}

wp_workload_load_type_t wp__workload_load_type(const spec_t *s)
{
    if (s->type == WP_WORKLOAD_TRACE && !s->load.has_type)
        return WP_WORKLOAD_LOAD_TRACE;
    return s->load.type;
}

size_t wp__workload_natural_size(const spec_t *s)
{
    switch (s->type) {
    case WP_WORKLOAD_SHARED_PREFIX:
        return (size_t)s->num_groups * (size_t)s->num_prompts_per_group;
    case WP_WORKLOAD_MULTI_TURN:
        return (size_t)s->num_sessions * (size_t)s->turns_per_session;
    case WP_WORKLOAD_RANDOM:
    case WP_WORKLOAD_TRACE:
        break;
    }
    return NATURAL_RANDOM;
}

size_t wp__workload_rate_stages(const spec_t *s, stage_t *out, size_t *limit)
{
    const load_t *l = &s->load;
    size_t n = 1;
    if (l->n_stages > 0) {
        n = l->n_stages;
        memcpy(out, l->stages, n * sizeof(*out));
    } else {
        out[0] = (stage_t){.rate = l->rate, .duration = l->duration};
    }
    if (l->num_requests > 0)
        *limit = (size_t)l->num_requests;
    else if (out[0].duration == 0)
        *limit = wp__workload_natural_size(s);
    else
        *limit = SIZE_MAX;
    return n;
}

static wp_status_t check_load_keys(const load_t *l, wp_workload_load_type_t t, problem_t *p)
{
    bool stages = l->n_stages > 0, timed = l->has_rate || l->duration > 0;
    const char *name = load_names[t];
    switch (t) {
    case WP_WORKLOAD_LOAD_POISSON:
    case WP_WORKLOAD_LOAD_CONSTANT:
        if (stages && timed)
            return fail(p, "load.stages", "give rate and duration, or stages, not both");
        if (l->duration > 0 && l->num_requests > 0)
            return fail(p, "load.num_requests", "give duration or num_requests, not both");
        break;
    case WP_WORKLOAD_LOAD_STAGES:
        if (!stages)
            return fail(p, "load.stages",
                        "a stages load needs a non-empty list of "
                        "{rate, duration}");
        if (timed)
            return fail(p, "load", "stages take no rate or duration of their own");
        break;
    case WP_WORKLOAD_LOAD_CONCURRENCY:
    case WP_WORKLOAD_LOAD_TRACE:
        if (t == WP_WORKLOAD_LOAD_CONCURRENCY && l->concurrency == 0)
            return fail(p, "load.concurrency", "missing: how many requests to keep in flight");
        if (timed || stages)
            return fail(p, "load", "%s arrivals take no rate, duration or stages", name);
        break;
    }
    if (l->concurrency > 0 && t != WP_WORKLOAD_LOAD_CONCURRENCY)
        return fail(p, "load.concurrency", "only for load type concurrency (this is %s)", name);
    if (l->sequential && (t == WP_WORKLOAD_LOAD_CONCURRENCY || t == WP_WORKLOAD_LOAD_TRACE))
        return fail(p, "load.sequential", "only for rate-driven loads (this is %s)", name);
    if (l->sequential && l->num_requests > 0)
        return fail(p, "load.sequential", "counts come from rate x duration: no num_requests");
    if (l->interval > 0 && !l->sequential)
        return fail(p, "load.interval", "a pause between stages needs sequential: true");
    return WP_OK;
}

static wp_status_t check_count(const spec_t *s, problem_t *p)
{
    stage_t st[WP_WORKLOAD_MAX_STAGES];
    size_t limit;
    size_t n = wp__workload_rate_stages(s, st, &limit);
    double expect = (double)s->load.warmup;
    for (size_t i = 0; i < n; i++)
        expect += st[i].rate * st[i].duration;
    if (limit == SIZE_MAX && expect > 0.9 * WP_WORKLOAD_MAX_REQUESTS)
        return fail(p, "load", "about %.0f requests (rate x duration), more than the %d allowed",
                    expect, (int)(0.9 * WP_WORKLOAD_MAX_REQUESTS));
    return WP_OK;
}

/* Warm-up and measured requests together stay within the limit, where the count is known. */
static wp_status_t check_warmup(const spec_t *s, problem_t *p)
{
    const load_t *l = &s->load;
    int64_t measured = l->num_requests;
    if (measured == 0 && l->duration == 0 && l->n_stages == 0)
        measured = (int64_t)wp__workload_natural_size(s);
    if (s->type == WP_WORKLOAD_TRACE || l->warmup + measured <= WP_WORKLOAD_MAX_REQUESTS)
        return WP_OK;
    return fail(p, "load.warmup",
                "%lld warm-up and %lld measured requests are more than the %d allowed",
                (long long)l->warmup, (long long)measured, WP_WORKLOAD_MAX_REQUESTS);
}

static wp_status_t check_load(const spec_t *s, problem_t *p)
{
    wp_workload_load_type_t t = wp__workload_load_type(s);
    if (s->type == WP_WORKLOAD_TRACE && t != WP_WORKLOAD_LOAD_TRACE)
        return fail(p, "load.type",
                    "a trace workload arrives at the trace's timestamps: use "
                    "load type trace, or leave it out");
    if (s->type != WP_WORKLOAD_TRACE && t == WP_WORKLOAD_LOAD_TRACE)
        return fail(p, "load.type", "trace arrivals need type: trace");
    if (s->load.n_stages > WP_WORKLOAD_MAX_STAGES)
        return fail(p, "load.stages", "more than %d stages", WP_WORKLOAD_MAX_STAGES);
    wp_status_t st = check_load_keys(&s->load, t, p);
    if (st == WP_OK)
        st = check_warmup(s, p);
    if (st == WP_OK && (t == WP_WORKLOAD_LOAD_POISSON || t == WP_WORKLOAD_LOAD_CONSTANT ||
                        t == WP_WORKLOAD_LOAD_STAGES))
        st = check_count(s, p);
    return st;
}

static wp_status_t check_dist(const dist_t *d, const char *path, problem_t *p)
{
    const char *why = (unsigned)d->kind < N(dist_names) - 1 ? wp__workload_dist_problem(d)
                                                            : "unknown distribution";
    return why ? fail(p, path, "%s", why) : WP_OK;
}

static wp_status_t check_type(const spec_t *s, problem_t *p)
{
    if (s->type == WP_WORKLOAD_SHARED_PREFIX &&
        wp__workload_natural_size(s) > WP_WORKLOAD_MAX_REQUESTS)
        return fail(p, "num_prompts_per_group", "%d groups x %d prompts is more than %d requests",
                    s->num_groups, s->num_prompts_per_group, WP_WORKLOAD_MAX_REQUESTS);
    if (s->type == WP_WORKLOAD_MULTI_TURN) {
        double last = s->system_prompt_len + (double)s->turns_per_session * s->user_turn_len +
                      (s->turns_per_session - 1.0) * s->output_len.max;
        if (last > WP_WORKLOAD_MAX_PROMPT)
            return fail(p, "turns_per_session",
                        "the last turn's prompt could reach %.0f tokens, more than %d", last,
                        WP_WORKLOAD_MAX_PROMPT);
    }
    if (s->type == WP_WORKLOAD_RANDOM && check_dist(&s->input_len, "input_len", p) != WP_OK)
        return WP_EINVAL;
    if (s->type != WP_WORKLOAD_TRACE)
        return check_dist(&s->output_len, "output_len", p);
    if (s->trace_path[0] == '\0')
        return fail(p, "path", "missing: the trace file");
    return WP_OK;
}

static wp_status_t check_rules(const spec_t *s, problem_t *p)
{
    wp_status_t st = check_type(s, p);
    return st == WP_OK ? check_load(s, p) : st;
}

/* ---- parsing ---- */

typedef struct parse_arg_s {
    spec_t *spec;
    bool rules;
} parse_arg_t;

/* The node the key path names ("load.stages"), or the deepest part of it that exists. */
static yaml_node_t *path_node(wp__cfg_ctx_t *c, yaml_node_t *root, const char *path)
{
    char buf[64];
    wp_strlcpy(buf, path, sizeof(buf));
    yaml_node_t *at = root, *val = root;
    for (char *part = buf, *dot; part != NULL && val != NULL; part = dot ? dot + 1 : NULL) {
        dot = strchr(part, '.');
        if (dot != NULL)
            *dot = '\0';
        yaml_node_t *key = NULL;
        val = wp__cfg_lookup(c, val, part, &key);
        at = key ? key : at;
    }
    return at;
}

static wp_status_t read_type(wp__cfg_ctx_t *c, yaml_node_t *root, spec_t *s)
{
    yaml_node_t *n = wp__cfg_lookup(c, root, "type", NULL);
    if (n == NULL)
        return WP_OK;
    const char *text;
    wp_status_t st = wp__cfg_scalar(c, n, "type", &text);
    if (st != WP_OK)
        return st;
    for (int i = 0; type_names[i] != NULL; i++) {
        if (strcmp(text, type_names[i]) == 0) {
            s->type = (wp_workload_type_t)i;
            return WP_OK;
        }
    }
    return wp__cfg_fail(c, n, "type", WP_EINVAL,
                        "\"%s\" is not one of: shared_prefix, multi_turn, random, trace", text);
}

static wp_status_t parse_root(wp__cfg_ctx_t *c, yaml_node_t *root, void *arg)
{
    parse_arg_t *a = arg;
    if (root == NULL)
        return wp_err_set(c->err, WP_EINVAL, "%s:1:1: empty file; expected a workload (type: ...)",
                          c->filename);
    if (root->type == YAML_MAPPING_NODE) {
        wp_status_t st = read_type(c, root, a->spec);
        if (st != WP_OK)
            return st;
    }
    wp__cfg_field_t table[MAX_FIELDS];
    size_t n = build_table(a->spec->type, table);
    wp_status_t st = wp__cfg_map(c, root, table, n, a->spec, "");
    problem_t p;
    if (st == WP_OK && a->rules && check_rules(a->spec, &p) != WP_OK)
        st = wp__cfg_fail(c, path_node(c, root, p.path), p.path, WP_EINVAL, "%s", p.msg);
    return st;
}

wp_workload_spec_t wp_workload_spec_default(void)
{
    spec_t s;
    memset(&s, 0, sizeof(s)); /* padding too: specs compare with memcmp */
    s.type = WP_WORKLOAD_SHARED_PREFIX;
    s.seed = 1;
    s.num_groups = 10;
    s.num_prompts_per_group = 10;
    s.system_prompt_len = 100;
    s.question_len = 50;
    s.num_sessions = 10;
    s.turns_per_session = 5;
    s.user_turn_len = 50;
    s.input_len = (dist_t){.kind = WP_WORKLOAD_DIST_FIXED, .mean = 100, .min = 100, .max = 100};
    s.output_len = (dist_t){.kind = WP_WORKLOAD_DIST_FIXED, .mean = 50, .min = 50, .max = 50};
    wp_strlcpy(s.trace_format, "mooncake", sizeof(s.trace_format));
    s.trace_speed = 1.0;
    s.load.type = WP_WORKLOAD_LOAD_POISSON;
    s.load.rate = 5;
    s.api = WP_WORKLOAD_API_COMPLETIONS;
    return s;
}

wp_status_t wp_workload_parse(const char *data, size_t len, const char *filename, spec_t *out,
                              wp_err_t *err)
{
    const char *file = filename ? filename : "workload";
    *out = wp_workload_spec_default();
    if (len > WP_WORKLOAD_MAX_INPUT)
        return wp_err_set(err, WP_ELIMIT, "%s: %zu bytes, more than the %zu allowed", file, len,
                          WP_WORKLOAD_MAX_INPUT);
    parse_arg_t a = {.spec = out, .rules = true};
    return wp__cfg_load(data, len, file, parse_root, &a, err);
}

static bool is_key(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > 40)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(key[i] == '_' || (key[i] >= 'a' && key[i] <= 'z')))
            return false;
    return true;
}

/* "value:1:7: load.rate: ..." -> "load.rate: ..." (positions in a made-up line mislead). */
static void drop_position(wp_err_t *err)
{
    if (err == NULL)
        return;
    char *p = err->msg;
    for (int colons = 0; colons < 3 && p != NULL; colons++)
        p = strchr(p + (colons > 0), ':');
    if (p != NULL && p[1] == ' ')
        memmove(err->msg, p + 2, strlen(p + 2) + 1);
}

wp_status_t wp_workload_spec_set(spec_t *spec, const char *key, const char *value, wp_err_t *err)
{
    const char *sub = strncmp(key, "load.", 5) == 0 ? key + 5 : NULL;
    if (!is_key(sub ? sub : key))
        return wp_err_set(err, WP_EINVAL, "%s: not a workload key", key);
    if (value[0] == '\0' || strpbrk(value, "\r\n") != NULL)
        return wp_err_set(err, WP_EINVAL, "%s: expected a one-line value", key);
    char doc[1024];
    int n = sub ? snprintf(doc, sizeof(doc), "load:\n  %s: %s\n", sub, value)
                : snprintf(doc, sizeof(doc), "%s: %s\n", key, value);
    if (n < 0 || (size_t)n >= sizeof(doc))
        return wp_err_set(err, WP_EINVAL, "%s: value too long", key);
    spec_t tmp = *spec;
    parse_arg_t a = {.spec = &tmp, .rules = false};
    wp_status_t st = wp__cfg_load(doc, (size_t)n, "value", parse_root, &a, err);
    if (st != WP_OK) {
        drop_position(err);
        return st;
    }
    *spec = tmp;
    return WP_OK;
}

wp_status_t wp_workload_spec_validate(const spec_t *s, wp_err_t *err)
{
    if ((unsigned)s->type >= N(type_names) - 1)
        return wp_err_set(err, WP_EINVAL, "type: %d is not a workload type", (int)s->type);
    wp__cfg_field_t table[MAX_FIELDS];
    size_t n = build_table(s->type, table);
    if (wp__cfg_check(table, n, s, "", err) != WP_OK)
        return WP_EINVAL;
    for (size_t i = 0; i < s->load.n_stages && i < WP_WORKLOAD_MAX_STAGES; i++)
        if (wp__cfg_check(stage_fields, N(stage_fields), &s->load.stages[i], "load.stages[]",
                          err) != WP_OK)
            return WP_EINVAL;
    problem_t p;
    if (check_rules(s, &p) != WP_OK)
        return wp_err_set(err, WP_EINVAL, "%s: %s", p.path, p.msg);
    return WP_OK;
}

/* ---- JSON ---- */

static wp_status_t json_dist(wp_buf_t *b, const char *key, const dist_t *d)
{
    if ((unsigned)d->kind >= N(dist_names) - 1)
        return WP_EINVAL;
    if (d->kind == WP_WORKLOAD_DIST_FIXED)
        return wp_buf_printf(b, ",\"%s\":%.0f", key, d->mean);
    return wp_buf_printf(b,
                         ",\"%s\":{\"dist\":\"%s\",\"mean\":%.10g,\"std\":%.10g,\"min\":%.10g,"
                         "\"max\":%.10g}",
                         key, dist_names[d->kind], d->mean, d->std, d->min, d->max);
}

static wp_status_t json_type_keys(const spec_t *s, wp_buf_t *b)
{
    switch (s->type) {
    case WP_WORKLOAD_SHARED_PREFIX:
        if (wp_buf_printf(b,
                          ",\"num_groups\":%d,\"num_prompts_per_group\":%d,"
                          "\"system_prompt_len\":%d,\"question_len\":%d",
                          s->num_groups, s->num_prompts_per_group, s->system_prompt_len,
                          s->question_len) != WP_OK)
            return WP_ELIMIT;
        if (s->fixed_prompts && wp_buf_puts(b, ",\"fixed_prompts\":true") != WP_OK)
            return WP_ELIMIT;
        return json_dist(b, "output_len", &s->output_len);
    case WP_WORKLOAD_MULTI_TURN:
        if (wp_buf_printf(b,
                          ",\"num_sessions\":%d,\"turns_per_session\":%d,"
                          "\"system_prompt_len\":%d,\"user_turn_len\":%d",
                          s->num_sessions, s->turns_per_session, s->system_prompt_len,
                          s->user_turn_len) != WP_OK)
            return WP_ELIMIT;
        return json_dist(b, "output_len", &s->output_len);
    case WP_WORKLOAD_RANDOM:
        if (json_dist(b, "input_len", &s->input_len) != WP_OK)
            return WP_ELIMIT;
        return json_dist(b, "output_len", &s->output_len);
    case WP_WORKLOAD_TRACE:
        break;
    }
    wp_status_t st = wp_buf_printf(b, ",\"format\":\"%s\",\"path\":\"", s->trace_format);
    if (st == WP_OK)
        st = wp_buf_json_escape(b, s->trace_path, strlen(s->trace_path));
    if (st == WP_OK)
        st = wp_buf_printf(b, "\",\"speed\":%.10g", s->trace_speed);
    return st;
}

static wp_status_t json_load(const spec_t *s, wp_buf_t *b)
{
    const load_t *l = &s->load;
    wp_workload_load_type_t t = wp__workload_load_type(s);
    if ((unsigned)t >= N(load_names) - 1)
        return WP_EINVAL;
    wp_status_t st = wp_buf_printf(b, ",\"load\":{\"type\":\"%s\"", load_names[t]);
    if (st == WP_OK && (t == WP_WORKLOAD_LOAD_POISSON || t == WP_WORKLOAD_LOAD_CONSTANT) &&
        l->n_stages == 0)
        st = wp_buf_printf(b, ",\"rate\":%.10g", l->rate);
    if (st == WP_OK && l->duration > 0)
        st = wp_buf_printf(b, ",\"duration\":%.10g", l->duration);
    if (st == WP_OK && l->num_requests > 0)
        st = wp_buf_printf(b, ",\"num_requests\":%lld", (long long)l->num_requests);
    if (st == WP_OK && l->concurrency > 0)
        st = wp_buf_printf(b, ",\"concurrency\":%d", l->concurrency);
    if (st == WP_OK && l->max_concurrency > 0)
        st = wp_buf_printf(b, ",\"max_concurrency\":%d", l->max_concurrency);
    if (st == WP_OK && l->warmup > 0)
        st = wp_buf_printf(b, ",\"warmup\":%lld", (long long)l->warmup);
    if (st == WP_OK && l->sequential)
        st = wp_buf_printf(b, ",\"sequential\":true,\"interval\":%.10g", l->interval);
    if (st == WP_OK && l->n_stages > 0)
        st = wp_buf_puts(b, ",\"stages\":[");
    for (size_t i = 0; st == WP_OK && i < l->n_stages; i++)
        st = wp_buf_printf(b, "%s{\"rate\":%.10g,\"duration\":%.10g}", i ? "," : "",
                           l->stages[i].rate, l->stages[i].duration);
    if (st == WP_OK && l->n_stages > 0)
        st = wp_buf_puts(b, "]");
    return st == WP_OK ? wp_buf_puts(b, "}") : st;
}

wp_status_t wp_workload_spec_json(const spec_t *s, wp_buf_t *out)
{
    if ((unsigned)s->type >= N(type_names) - 1 || (unsigned)s->api >= N(api_names) - 1)
        return WP_EINVAL;
    wp_status_t st = wp_buf_printf(out, "{\"type\":\"%s\",\"seed\":%lld,\"api\":\"%s\"",
                                   type_names[s->type], (long long)s->seed, api_names[s->api]);
    if (st == WP_OK)
        st = json_type_keys(s, out);
    if (st == WP_OK)
        st = json_load(s, out);
    return st == WP_OK ? wp_buf_puts(out, "}") : st;
}
