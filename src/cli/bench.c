/*
 * cli/bench: `wellpath bench` argument parsing; the benchmark itself is bench/.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/str.h"
#include "bench/bench.h"
#include "cli/cli.h"
#include "os/file.h"

static const char usage_text[] =
    "usage: wellpath bench (--target URL | --topology FILE --policies A,B,...) [options]\n"
    "\n"
    "Replays a workload against an OpenAI-compatible server (streaming) and reports TTFT,\n"
    "ITL, TPOT, E2E, throughput, goodput and cache hit rate, per stage and overall.\n"
    "  --target URL            the server or gateway, e.g. http://127.0.0.1:8000\n"
    "  --topology FILE         start `wellpath up -f FILE` once per policy (cold caches)\n"
    "  --policies A,B,...      topology, round-robin, random, load-aware, prefix-aware, ...\n"
    "  --workload FILE         workload YAML (type, its keys, seed, load, api); see docs/bench.md\n"
    "  --set KEY=VALUE         set one workload key (repeatable), e.g. --set num_groups=20\n"
    "  --type TYPE             shared_prefix | multi_turn | random | trace\n"
    "  --rate R                Poisson arrivals at R requests/s\n"
    "  --duration S            seconds of arrivals\n"
    "  --num-requests N        number of requests\n"
    "  --concurrency N         closed loop: N requests in flight\n"
    "  --stages R:S,R:S,...    Poisson stages of rate R for S seconds\n"
    "  --seed N                workload seed (same seed, same requests)\n"
    "  --api completions|chat  which endpoint to call (default completions)\n"
    "  --model NAME            model to ask for (default: the target's first model)\n"
    "  --slo ttft=0.2,itl=0.05 objectives for goodput (ttft, itl, tpot, e2e; seconds or ms)\n"
    "  --json FILE             write the JSON report\n"
    "  --html FILE             write a self-contained HTML report\n"
    "  --timeout S             per request, to the first byte and between chunks (default 600)\n"
    "  --quiet                 no progress line\n";

enum {
    O_TARGET = 256,
    O_TOPO,
    O_POLICIES,
    O_WORKLOAD,
    O_SET,
    O_TYPE,
    O_RATE,
    O_DURATION,
    O_NUM,
    O_CONC,
    O_STAGES,
    O_SEED,
    O_API,
    O_MODEL,
    O_SLO,
    O_JSON,
    O_HTML,
    O_TIMEOUT,
    O_QUIET,
    O_LOG
};

static const struct option opts[] = {{"target", required_argument, NULL, O_TARGET},
                                     {"topology", required_argument, NULL, O_TOPO},
                                     {"policies", required_argument, NULL, O_POLICIES},
                                     {"workload", required_argument, NULL, O_WORKLOAD},
                                     {"set", required_argument, NULL, O_SET},
                                     {"type", required_argument, NULL, O_TYPE},
                                     {"rate", required_argument, NULL, O_RATE},
                                     {"duration", required_argument, NULL, O_DURATION},
                                     {"num-requests", required_argument, NULL, O_NUM},
                                     {"concurrency", required_argument, NULL, O_CONC},
                                     {"stages", required_argument, NULL, O_STAGES},
                                     {"seed", required_argument, NULL, O_SEED},
                                     {"api", required_argument, NULL, O_API},
                                     {"model", required_argument, NULL, O_MODEL},
                                     {"slo", required_argument, NULL, O_SLO},
                                     {"json", required_argument, NULL, O_JSON},
                                     {"html", required_argument, NULL, O_HTML},
                                     {"timeout", required_argument, NULL, O_TIMEOUT},
                                     {"quiet", no_argument, NULL, O_QUIET},
                                     {"log-level", required_argument, NULL, O_LOG},
                                     {"help", no_argument, NULL, 'h'},
                                     {NULL, 0, NULL, 0}};

static wp_status_t read_workload(const char *path, wp_workload_spec_t *spec, wp_err_t *err)
{
    wp_buf_t b;
    wp_status_t st = wp_os_read_file(path, "workload file", WP_WORKLOAD_MAX_INPUT, &b, err);
    if (st == WP_OK)
        st = wp_workload_parse(b.data, b.len, path, spec, err);
    wp_buf_free(&b);
    return st;
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

static wp_status_t set_policies(wp_bench_opts_t *o, const char *list, wp_err_t *err)
{
    const char *p = list;
    o->n_policies = 0;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 0 || n >= sizeof(o->policies[0]) || o->n_policies == WP_BENCH_MAX_POLICIES)
            return wp_err_set(err, WP_EINVAL,
                              "--policies: expected up to %d names separated by commas",
                              WP_BENCH_MAX_POLICIES);
        memcpy(o->policies[o->n_policies], p, n);
        o->policies[o->n_policies++][n] = '\0';
        p += n + (comma ? 1 : 0);
    }
    return o->n_policies ? WP_OK : wp_err_set(err, WP_EINVAL, "--policies: empty list");
}

static wp_status_t apply(wp_bench_opts_t *o, int c, const char *v, wp_err_t *err)
{
    char yaml[4096], key[128];
    switch (c) {
    case O_TARGET:
        o->target = v;
        return WP_OK;
    case O_TOPO:
        o->topology = v;
        return WP_OK;
    case O_POLICIES:
        return set_policies(o, v, err);
    case O_WORKLOAD:
        return WP_OK; /* read first, see below */
    case O_SET: {
        const char *eq = strchr(v, '=');
        if (eq == NULL || eq == v || (size_t)(eq - v) >= sizeof(key))
            return wp_err_set(err, WP_EINVAL, "--set: expected KEY=VALUE, got '%s'", v);
        memcpy(key, v, (size_t)(eq - v));
        key[eq - v] = '\0';
        return wp_workload_spec_set(&o->spec, key, eq + 1, err);
    }
    case O_TYPE:
        return wp_workload_spec_set(&o->spec, "type", v, err);
    case O_RATE:
        return wp_workload_spec_set(&o->spec, "load.rate", v, err);
    case O_DURATION:
        return wp_workload_spec_set(&o->spec, "load.duration", v, err);
    case O_NUM:
        return wp_workload_spec_set(&o->spec, "load.num_requests", v, err);
    case O_CONC:
        if (wp_workload_spec_set(&o->spec, "load.type", "concurrency", err) != WP_OK)
            return WP_EINVAL;
        return wp_workload_spec_set(&o->spec, "load.concurrency", v, err);
    case O_STAGES:
        if (stages_yaml(v, yaml, sizeof(yaml), err) != WP_OK ||
            wp_workload_spec_set(&o->spec, "load.type", "stages", err) != WP_OK)
            return WP_EINVAL;
        return wp_workload_spec_set(&o->spec, "load.stages", yaml, err);
    case O_SEED:
        return wp_workload_spec_set(&o->spec, "seed", v, err);
    case O_API:
        return wp_workload_spec_set(&o->spec, "api", v, err);
    case O_MODEL:
        o->model = v;
        return WP_OK;
    case O_SLO:
        return wp_report_slo_parse(v, &o->slo, err);
    case O_JSON:
        o->json_path = v;
        return WP_OK;
    case O_HTML:
        o->html_path = v;
        return WP_OK;
    case O_TIMEOUT:
        if (wp_parse_double(v, strlen(v), &o->timeout_s) != WP_OK || !(o->timeout_s > 0))
            return wp_err_set(err, WP_EINVAL, "--timeout: expected seconds > 0, got '%s'", v);
        return WP_OK;
    case O_QUIET:
        o->progress = false;
        return WP_OK;
    }
    return WP_OK;
}

int wp_cli_bench(int argc, char **argv)
{
    static wp_bench_opts_t o;
    memset(&o, 0, sizeof(o));
    o.spec = wp_workload_spec_default();
    wp_report_slo_none(&o.slo);
    o.timeout_s = 600;
    o.progress = isatty(2) != 0;
    wp_err_t err;
    /* The workload file first, then every flag over it in the order given. */
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--workload") == 0) {
            o.workload_file = argv[i + 1];
            if (read_workload(argv[i + 1], &o.spec, &err) != WP_OK)
                return wp_cli_fail("bench", err.msg);
        }
    }
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage_text, stdout);
            return 0;
        }
        if (c == '?')
            return 2;
        if (c == O_LOG) {
            wp_log_level_t level;
            if (!wp_cli_log_level("bench", optarg, &level))
                return 2;
            wp_log_setup(level, false);
            continue;
        }
        if (apply(&o, c, optarg, &err) != WP_OK)
            return wp_cli_fail("bench", err.msg);
    }
    if (optind < argc)
        return wp_cli_fail("bench", "unexpected argument; see --help");
    if ((o.target == NULL) == (o.topology == NULL))
        return wp_cli_fail("bench",
                           "give either --target URL or --topology FILE (with --policies)");
    if (o.topology != NULL && o.n_policies == 0)
        set_policies(&o, "topology", &err);
    if (o.target != NULL && o.n_policies > 0)
        return wp_cli_fail("bench", "--policies needs --topology (a target URL is one deployment)");
    return wp_bench_run(&o);
}
