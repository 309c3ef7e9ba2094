/*
 * cli/runopts: the options `wellpath bench` and `wellpath simulate` share — the
 * workload (a file, then flags over it in the order given), the policies to compare,
 * the SLOs and the report files — parsed in one place so both commands read the same.
 */
#ifndef WP_CLI_RUNOPTS_H
#define WP_CLI_RUNOPTS_H

#include <stdbool.h>

#include "cli/args.h"
#include "report/report.h"
#include "workload/workload.h"

#define WP_CLI_MAX_POLICIES 16

typedef struct wp_cli_run_s {
    wp_workload_spec_t spec;
    const char *workload_file; /* NULL when the workload comes from flags only */
    char policies[WP_CLI_MAX_POLICIES][64];
    int n_policies;
    wp_report_slo_t slo;
    const char *json_path, *html_path;
    bool progress; /* a live line on a terminal */
} wp_cli_run_t;

enum {
    WP_CLI_O_WORKLOAD = 300,
    WP_CLI_O_SET,
    WP_CLI_O_TYPE,
    WP_CLI_O_RATE,
    WP_CLI_O_DURATION,
    WP_CLI_O_NUM,
    WP_CLI_O_CONC,
    WP_CLI_O_WARMUPS,
    WP_CLI_O_STAGES,
    WP_CLI_O_SEED,
    WP_CLI_O_API,
    WP_CLI_O_POLICIES,
    WP_CLI_O_POLICY,
    WP_CLI_O_SLO,
    WP_CLI_O_JSON,
    WP_CLI_O_HTML,
    WP_CLI_O_QUIET,
};

/* Registers the options above with a command's parser. */
wp_status_t wp_cli_run_add_options(wp_cli_args_t *a, wp_err_t *err);

/* Their --help lines. */
#define WP_CLI_RUN_USAGE                                                                           \
    "  --workload FILE         workload YAML (type, its keys, seed, load, api); see "              \
    "docs/bench.md\n"                                                                              \
    "  --set KEY=VALUE         set one workload key (repeatable), e.g. --set num_groups=20\n"      \
    "  --type TYPE             shared_prefix | multi_turn | random | trace\n"                      \
    "  --rate R                Poisson arrivals at R requests/s\n"                                 \
    "  --duration S            seconds of arrivals\n"                                              \
    "  --num-requests N        number of requests\n"                                               \
    "  --concurrency N         closed loop: N requests in flight\n"                                \
    "  --num-warmups N         N warm-up requests first, in no metric (load.warmup)\n"             \
    "  --stages R:S,R:S,...    Poisson stages of rate R for S seconds\n"                           \
    "  --seed N                workload seed (same seed, same requests)\n"                         \
    "  --api completions|chat  which endpoint the requests call (default completions)\n"           \
    "  --policies A,B,...      one run per scheduling policy, in one report (--policy A: one)\n"   \
    "  --slo ttft=0.2,itl=0.05 objectives for goodput (ttft, itl, tpot, e2e; seconds or ms)\n"     \
    "  --json FILE             write the JSON report\n"                                            \
    "  --html FILE             write a self-contained HTML report\n"                               \
    "  --quiet                 no progress line\n"

/* Defaults; then reads the --workload file if the arguments name one (before the flags,
 * whatever their order), and rewinds the parser. The parser must know all the command's
 * options; a bad one is an error here already. */
wp_status_t wp_cli_run_init(wp_cli_run_t *r, wp_cli_args_t *a, wp_err_t *err);
/* Applies one option; *handled is false for a code that is not one of these. */
wp_status_t wp_cli_run_option(wp_cli_run_t *r, int code, const char *value, bool *handled,
                              wp_err_t *err);

#endif
