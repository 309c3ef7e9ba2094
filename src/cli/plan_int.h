/*
 * cli/plan_int (internal to `wellpath plan`): the command's state, shared by plan.c (options)
 * and plan_run.c (measure, simulate every candidate, rank, print, write).
 */
#ifndef WP_CLI_PLAN_INT_H
#define WP_CLI_PLAN_INT_H

#include "cli/runopts.h"
#include "plan/plan.h"
#include "workload/workload.h"

typedef struct plan_s {
    wp_cli_run_t run; /* the workload, SLOs, --json, --quiet */
    const wp_model_spec_t *model;
    const wp_gpu_spec_t *gpu;
    int gpus, jobs;
    double price, spot;
    const char *out_dir;
    int argc; /* the command line, for the check command it prints */
    char **argv;
    wp_workload_trace_t trace;
    wp_plan_facts_t facts;
    double idle_share; /* of the arrivals' span, gaps a pool could spend at zero replicas */
    wp_plan_decision_t decision;
    wp_plan_result_t results[WP_PLAN_MAX_CANDIDATES];
    size_t n;
} plan_t;

/* Everything after the options: 0 done, 2 bad input (err says), 1 a failure (err says). */
int wp__plan_run(plan_t *p, wp_err_t *err);

#endif
