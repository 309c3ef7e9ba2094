/*
 * cli/plan: `wellpath plan --model M --gpu G --gpus N [workload options] [--slo ...]` — the
 * production guide's decision, made by simulation. It measures the workload (input and
 * output lengths, prefix reuse), prints the guide's decision tree with the facts that
 * decided each branch, runs every candidate deployment that fits the GPUs (plan/plan.h)
 * through the virtual-time simulator on the workload — each from the very topology text it
 * would write, through the configuration `wellpath simulate` uses (cli/desconf.h) — on
 * every core, ranks them by goodput per GPU under the SLOs with the reason each loser lost,
 * prices the winner and writes its files (--out DIR: topology.yaml).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/str.h"
#include "bench/bench.h"
#include "cli/cli.h"
#include "cli/desconf.h"
#include "cli/plan_int.h"
#include "cli/runopts.h"
#include "plan/plan.h"

static const char usage_text[] =
    "usage: wellpath plan --model M --gpu G --gpus N [workload options] [options]\n"
    "\n"
    "Picks a deployment for the workload: the production guide's decision tree on facts\n"
    "measured on the workload, then every candidate of every path that fits N GPUs run in\n"
    "virtual time with the production scheduler, ranked by goodput per GPU under the SLOs.\n"
    "  --model M               model from the catalog (docs/models.md)\n"
    "  --gpu G                 a100 | h100 | h200 | b200 | h800\n"
    "  --gpus N                the GPU budget (1..1024)\n" WP_CLI_RUN_USAGE
    "  --trace FILE            a Mooncake trace as the workload (type trace)\n"
    "  --price-per-gpu-hour X  price one GPU-hour, for the cost lines (default 0: none)\n"
    "  --spot-discount F       spot price as a share off, 0..0.95 (default 0: no spot line)\n"
    "  --out DIR               write the plan's topology.yaml into DIR\n"
    "  --jobs N                simulations at once (default: the cores)\n";

enum { O_MODEL = 256, O_GPU, O_GPUS, O_TRACE, O_PRICE, O_SPOT, O_OUT, O_JOBS, O_HELP };

static const wp_cli_opt_t opts[] = {
    {"model", 0, true, O_MODEL},
    {"gpu", 0, true, O_GPU},
    {"gpus", 0, true, O_GPUS},
    {"trace", 0, true, O_TRACE},
    {"price-per-gpu-hour", 0, true, O_PRICE},
    {"spot-discount", 0, true, O_SPOT},
    {"out", 0, true, O_OUT},
    {"jobs", 0, true, O_JOBS},
    {"help", 'h', false, O_HELP},
};

static wp_status_t option(plan_t *p, int c, const char *v, wp_err_t *err)
{
    double x;
    bool handled;
    switch (c) {
    case O_MODEL:
        if ((p->model = wp_model_find(v)) == NULL)
            return wp_err_set(err, WP_EINVAL, "--model: unknown model '%s' (docs/models.md)", v);
        return WP_OK;
    case O_GPU:
        if ((p->gpu = wp_gpu_find(v)) == NULL)
            return wp_err_set(err, WP_EINVAL,
                              "--gpu: unknown gpu '%s': expected a100, h100, h200, "
                              "b200 or h800",
                              v);
        return WP_OK;
    case O_GPUS:
        if (wp_cli_number("gpus", v, 1, 1024, &x, err) != WP_OK || x != floor(x))
            return wp_err_set(err, WP_EINVAL, "--gpus: expected a GPU count 1..1024, got '%s'", v);
        p->gpus = (int)x;
        return WP_OK;
    case O_TRACE:
        return wp_workload_spec_set(&p->run.spec, "type", "trace", err) == WP_OK
                   ? wp_workload_spec_set(&p->run.spec, "path", v, err)
                   : WP_EINVAL;
    case O_PRICE:
        return wp_cli_number("price-per-gpu-hour", v, 0, 1e6, &p->price, err);
    case O_SPOT:
        return wp_cli_number("spot-discount", v, 0, 0.95, &p->spot, err);
    case O_OUT:
        p->out_dir = v;
        return WP_OK;
    case O_JOBS:
        if (wp_cli_number("jobs", v, 1, 256, &x, err) != WP_OK || x != floor(x))
            return wp_err_set(err, WP_EINVAL, "--jobs: expected 1..256, got '%s'", v);
        p->jobs = (int)x;
        return WP_OK;
    }
    return wp_cli_run_option(&p->run, c, v, &handled, err);
}

static wp_status_t parse(plan_t *p, int argc, char **argv, bool *help, wp_err_t *err)
{
    wp_cli_args_t args;
    const char *v;
    int c;
    wp_cli_args_init(&args, argc, argv);
    if (wp_cli_args_add(&args, opts, sizeof(opts) / sizeof(opts[0]), err) != WP_OK ||
        wp_cli_run_add_options(&args, err) != WP_OK ||
        wp_cli_run_init(&p->run, &args, err) != WP_OK)
        return WP_EINVAL;
    while ((c = wp_cli_args_next(&args, &v, err)) > 0) {
        if (c == O_HELP) {
            *help = true;
            return WP_OK;
        }
        if (option(p, c, v, err) != WP_OK)
            return WP_EINVAL;
    }
    if (c < 0)
        return WP_EINVAL;
    if (p->model == NULL || p->gpu == NULL || p->gpus == 0)
        return wp_err_set(err, WP_EINVAL, "--model, --gpu and --gpus are required");
    return wp_workload_spec_validate(&p->run.spec, err);
}

int wp_cli_plan(int argc, char **argv)
{
    static plan_t p; /* large (results); one plan per process */
    wp_err_t err;
    bool help = false;
    p = (plan_t){.jobs = (int)sysconf(_SC_NPROCESSORS_ONLN), .argc = argc, .argv = argv};
    if (parse(&p, argc, argv, &help, &err) != WP_OK)
        return wp_cli_fail("plan", err.msg);
    if (help) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (p.jobs < 1)
        p.jobs = 1;
    int rc = wp__plan_run(&p, &err);
    if (rc == 2)
        return wp_cli_fail("plan", err.msg);
    if (rc != 0)
        fprintf(stderr, "wellpath plan: %s\n", err.msg);
    return rc;
}
