/*
 * bench: `wellpath bench`, the serving benchmark. It replays a workload (workload/)
 * against an OpenAI-compatible target with the load generator (bench/load.h) and writes
 * the report (report/): a table on stdout, and JSON and HTML files on request.
 *
 * Two ways to name the target: a URL (one run, labelled "target"), or a topology file
 * and a list of policies: then each policy gets its own fresh `wellpath up` (cold
 * caches), the identical request sequence is replayed against it, and the report holds
 * one run per policy.
 *
 * Before a run the target is probed (GET /v1/models: reachable, and the model name when
 * none was given); its prefix-cache counters are read from /metrics before and after,
 * for the server-side hit rate (vLLM's vllm:prefix_cache_* or the gateway's
 * wellpath_endpoint_prefix_cache_*); with a warm-up, "before" is when the warm-up has
 * ended (the run pauses there to read them). SIGINT stops the run; what was measured is
 * still reported.
 */
#ifndef WP_BENCH_BENCH_H
#define WP_BENCH_BENCH_H

#include <stdbool.h>

#include "report/report.h"
#include "workload/workload.h"

#define WP_BENCH_MAX_POLICIES 16 /* = WP_CLI_MAX_POLICIES */

typedef struct wp_bench_opts_s {
    const char *target;   /* URL, or NULL with topology */
    const char *topology; /* file for `wellpath up`, or NULL */
    char policies[WP_BENCH_MAX_POLICIES][64];
    int n_policies;
    const char *model; /* NULL: the target's first model */
    wp_workload_spec_t spec;
    const char *workload_file; /* for relative trace paths; NULL when from flags */
    wp_report_slo_t slo;
    double timeout_s;
    const char *json_path, *html_path;
    bool progress;
} wp_bench_opts_t;

/* Reads and parses the spec's trace file; a relative path is taken from the workload
 * file's folder (workload_file may be NULL: then from the current folder). */
wp_status_t wp_bench_read_trace(const wp_workload_spec_t *spec, const char *workload_file,
                                wp_workload_trace_t *trace, wp_err_t *err);
/* Prints the report's table on stdout and writes the JSON and HTML files that are named
 * (NULL: none); returns 0, or 1 after saying on stderr which file could not be written. */
int wp_bench_write_report(wp_report_t *rep, const char *json_path, const char *html_path,
                          const char *cmd);

/* Runs the benchmark; returns the process exit code (0, 1 on a failed run, 2 on bad
 * input) after printing what went wrong. */
int wp_bench_run(const wp_bench_opts_t *opts);

#endif
