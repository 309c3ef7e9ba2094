/*
 * cli/bench: `wellpath bench` argument parsing; the benchmark itself is bench/.
 */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/str.h"
#include "bench/bench.h"
#include "cli/cli.h"
#include "cli/runopts.h"

static const char usage_text[] =
    "usage: wellpath bench (--target URL | --topology FILE --policies A,B,...) [options]\n"
    "\n"
    "Replays a workload against an OpenAI-compatible server (streaming) and reports TTFT,\n"
    "ITL, TPOT, E2E, throughput, goodput and cache hit rate, per stage and overall.\n"
    "  --target URL            the server or gateway, e.g. http://127.0.0.1:8000\n"
    "  --topology FILE         start `wellpath up -f FILE` once per policy (cold "
    "caches)\n" WP_CLI_RUN_USAGE
    "  --model NAME            model to ask for (default: the target's first model)\n"
    "  --timeout S             per request, to the first byte and between chunks (default 600)\n"
    "  --log-level LEVEL       debug|info|warn|error\n";

enum { O_HELP = 'h', O_TARGET = 256, O_TOPO, O_MODEL, O_TIMEOUT, O_LOG };

static const wp_cli_opt_t opts[] = {
    {"target", 0, true, O_TARGET},   {"topology", 0, true, O_TOPO}, {"model", 0, true, O_MODEL},
    {"timeout", 0, true, O_TIMEOUT}, {"log-level", 0, true, O_LOG}, {"help", 'h', false, O_HELP},
};

static wp_status_t apply(wp_bench_opts_t *o, int c, const char *v, wp_err_t *err)
{
    switch (c) {
    case O_TARGET:
        o->target = v;
        return WP_OK;
    case O_TOPO:
        o->topology = v;
        return WP_OK;
    case O_MODEL:
        o->model = v;
        return WP_OK;
    case O_TIMEOUT:
        if (wp_parse_double(v, strlen(v), &o->timeout_s) != WP_OK || !(o->timeout_s > 0))
            return wp_err_set(err, WP_EINVAL, "--timeout: expected seconds > 0, got '%s'", v);
        return WP_OK;
    }
    return WP_OK;
}

int wp_cli_bench(int argc, char **argv)
{
    static wp_bench_opts_t o;
    static wp_cli_run_t run;
    memset(&o, 0, sizeof(o));
    o.timeout_s = 600;
    wp_err_t err;
    wp_cli_args_t args;
    const char *v;
    int c;
    wp_cli_args_init(&args, argc, argv);
    if (wp_cli_args_add(&args, opts, sizeof(opts) / sizeof(opts[0]), &err) != WP_OK ||
        wp_cli_run_add_options(&args, &err) != WP_OK || wp_cli_run_init(&run, &args, &err) != WP_OK)
        return wp_cli_fail("bench", err.msg);
    while ((c = wp_cli_args_next(&args, &v, &err)) > 0) {
        bool handled;
        wp_log_level_t level;
        if (c == O_HELP) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (c == O_LOG) {
            if (!wp_cli_log_level("bench", v, &level))
                return 2;
            wp_log_setup(level, false);
            continue;
        }
        if (wp_cli_run_option(&run, c, v, &handled, &err) != WP_OK ||
            (!handled && apply(&o, c, v, &err) != WP_OK))
            return wp_cli_fail("bench", err.msg);
    }
    if (c < 0)
        return wp_cli_fail("bench", err.msg);
    if ((o.target == NULL) == (o.topology == NULL))
        return wp_cli_fail("bench",
                           "give either --target URL or --topology FILE (with --policies)");
    if (o.target != NULL && run.n_policies > 0)
        return wp_cli_fail("bench", "--policies needs --topology (a target URL is one deployment)");
    if (run.n_policies == 0)
        wp_strlcpy(run.policies[run.n_policies++], "topology", sizeof(run.policies[0]));
    o.spec = run.spec;
    o.workload_file = run.workload_file;
    memcpy(o.policies, run.policies, sizeof(o.policies));
    o.n_policies = o.topology != NULL ? run.n_policies : 0;
    o.slo = run.slo;
    o.json_path = run.json_path;
    o.html_path = run.html_path;
    o.progress = run.progress;
    return wp_bench_run(&o);
}
