/* cli/runopts: see runopts.h. */
#include "cli/runopts.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "os/file.h"

static wp_status_t read_workload(const char *path, wp_workload_spec_t *spec, wp_err_t *err)
{
    wp_buf_t b;
    wp_status_t st = wp_os_read_file(path, "workload file", WP_WORKLOAD_MAX_INPUT, &b, err);
    if (st == WP_OK)
        st = wp_workload_parse(b.data, b.len, path, spec, err);
    wp_buf_free(&b);
    return st;
}

static const wp_cli_opt_t run_opts[] = {
    {"workload", 0, true, WP_CLI_O_WORKLOAD}, {"set", 0, true, WP_CLI_O_SET},
    {"type", 0, true, WP_CLI_O_TYPE},         {"rate", 0, true, WP_CLI_O_RATE},
    {"duration", 0, true, WP_CLI_O_DURATION}, {"num-requests", 0, true, WP_CLI_O_NUM},
    {"concurrency", 0, true, WP_CLI_O_CONC},  {"num-warmups", 0, true, WP_CLI_O_WARMUPS},
    {"stages", 0, true, WP_CLI_O_STAGES},     {"seed", 0, true, WP_CLI_O_SEED},
    {"api", 0, true, WP_CLI_O_API},           {"policies", 0, true, WP_CLI_O_POLICIES},
    {"policy", 0, true, WP_CLI_O_POLICY},     {"slo", 0, true, WP_CLI_O_SLO},
    {"json", 0, true, WP_CLI_O_JSON},         {"html", 0, true, WP_CLI_O_HTML},
    {"quiet", 0, false, WP_CLI_O_QUIET},
};

wp_status_t wp_cli_run_add_options(wp_cli_args_t *a, wp_err_t *err)
{
    return wp_cli_args_add(a, run_opts, sizeof(run_opts) / sizeof(run_opts[0]), err);
}

wp_status_t wp_cli_run_init(wp_cli_run_t *r, wp_cli_args_t *a, wp_err_t *err)
{
    memset(r, 0, sizeof(*r));
    r->spec = wp_workload_spec_default();
    wp_report_slo_none(&r->slo);
    r->progress = isatty(2) != 0;
    const char *v;
    int c;
    while ((c = wp_cli_args_next(a, &v, err)) > 0) {
        if (c == WP_CLI_O_WORKLOAD) {
            r->workload_file = v;
            wp_status_t st = read_workload(v, &r->spec, err);
            if (st != WP_OK)
                return st;
        }
    }
    wp_cli_args_rewind(a);
    return c < 0 ? WP_EINVAL : WP_OK;
}

/* "3:20,10:20" -> the YAML list the workload spec takes. */
static wp_status_t stages_yaml(const char *s, char *out, size_t cap, wp_err_t *err)
{
    size_t k = (size_t)snprintf(out, cap, "[");
    const char *p = s;
    while (*p) {
        const char *colon = strchr(p, ':'), *comma = strchr(p, ',');
        if (comma == NULL)
            comma = p + strlen(p);
        if (colon == NULL || colon > comma || k + 64 > cap)
            return wp_err_set(err, WP_EINVAL,
                              "--stages: expected RATE:SECONDS,RATE:SECONDS,..., got '%s'", s);
        k +=
            (size_t)snprintf(out + k, cap - k, "%s{rate: %.*s, duration: %.*s}", p == s ? "" : ", ",
                             (int)(colon - p), p, (int)(comma - colon - 1), colon + 1);
        p = *comma ? comma + 1 : comma;
    }
    snprintf(out + k, cap - k, "]");
    return WP_OK;
}

static wp_status_t set_policies(wp_cli_run_t *r, const char *list, wp_err_t *err)
{
    const char *p = list;
    r->n_policies = 0;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 0 || n >= sizeof(r->policies[0]) || r->n_policies == WP_CLI_MAX_POLICIES)
            return wp_err_set(err, WP_EINVAL,
                              "--policies: expected up to %d names separated by commas",
                              WP_CLI_MAX_POLICIES);
        memcpy(r->policies[r->n_policies], p, n);
        r->policies[r->n_policies++][n] = '\0';
        p += n + (comma ? 1 : 0);
    }
    return r->n_policies ? WP_OK : wp_err_set(err, WP_EINVAL, "--policies: empty list");
}

static wp_status_t set_key_value(wp_workload_spec_t *spec, const char *v, wp_err_t *err)
{
    char key[128];
    const char *eq = strchr(v, '=');
    if (eq == NULL || eq == v || (size_t)(eq - v) >= sizeof(key))
        return wp_err_set(err, WP_EINVAL, "--set: expected KEY=VALUE, got '%s'", v);
    memcpy(key, v, (size_t)(eq - v));
    key[eq - v] = '\0';
    return wp_workload_spec_set(spec, key, eq + 1, err);
}

wp_status_t wp_cli_run_option(wp_cli_run_t *r, int code, const char *v, bool *handled,
                              wp_err_t *err)
{
    char yaml[4096];
    wp_workload_spec_t *s = &r->spec;
    *handled = true;
    switch (code) {
    case WP_CLI_O_WORKLOAD:
        return WP_OK; /* read by wp_cli_run_init */
    case WP_CLI_O_SET:
        return set_key_value(s, v, err);
    case WP_CLI_O_TYPE:
        return wp_workload_spec_set(s, "type", v, err);
    case WP_CLI_O_RATE:
        return wp_workload_spec_set(s, "load.rate", v, err);
    case WP_CLI_O_DURATION:
        return wp_workload_spec_set(s, "load.duration", v, err);
    case WP_CLI_O_NUM:
        return wp_workload_spec_set(s, "load.num_requests", v, err);
    case WP_CLI_O_CONC:
        if (wp_workload_spec_set(s, "load.type", "concurrency", err) != WP_OK)
            return WP_EINVAL;
        return wp_workload_spec_set(s, "load.concurrency", v, err);
    case WP_CLI_O_WARMUPS:
        return wp_workload_spec_set(s, "load.warmup", v, err);
    case WP_CLI_O_STAGES:
        if (stages_yaml(v, yaml, sizeof(yaml), err) != WP_OK ||
            wp_workload_spec_set(s, "load.type", "stages", err) != WP_OK)
            return WP_EINVAL;
        return wp_workload_spec_set(s, "load.stages", yaml, err);
    case WP_CLI_O_SEED:
        return wp_workload_spec_set(s, "seed", v, err);
    case WP_CLI_O_API:
        return wp_workload_spec_set(s, "api", v, err);
    case WP_CLI_O_POLICIES:
    case WP_CLI_O_POLICY:
        return set_policies(r, v, err);
    case WP_CLI_O_SLO:
        return wp_report_slo_parse(v, &r->slo, err);
    case WP_CLI_O_JSON:
        r->json_path = v;
        return WP_OK;
    case WP_CLI_O_HTML:
        r->html_path = v;
        return WP_OK;
    case WP_CLI_O_QUIET:
        r->progress = false;
        return WP_OK;
    }
    *handled = false;
    return WP_OK;
}
