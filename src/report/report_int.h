/*
 * report internals shared by report.c, metrics.c, json.c, table.c and html.c. Not part of
 * the public contract; names use the wp__report_ prefix.
 *
 * A run keeps one compact record per request and the ITL gaps of completed requests in one
 * wp_stats_samples_t per stage (so stage percentiles need no copy). server_hit holds
 * n_stages + 1 rates, the last for the summary; NaN means not given.
 */
#ifndef WP_REPORT_REPORT_INT_H
#define WP_REPORT_REPORT_INT_H

#include <cJSON.h>

#include "report/cost.h"

#include "report/report.h"
#include "stats/stats.h"

typedef struct wp__report_rec_s {
    double start_s;
    double ttft_s;
    double e2e_s;
    double mean_itl_s; /* NaN when the request had no gaps */
    double max_itl_s;  /* its largest gap; NaN when it had none */
    uint32_t n_gaps;   /* its ITL gaps, stored or dropped (so the mean ITL is exact) */
    uint32_t stage;
    uint32_t prompt_tokens;
    uint32_t output_tokens;
    uint32_t cached_tokens;
    uint8_t outcome;
} wp__report_rec_t;

struct wp_report_run_s {
    const wp_report_t *owner;
    char *policy;
    wp_report_stage_t *stages;
    size_t n_stages;
    wp__report_rec_t *recs;
    size_t n_recs;
    size_t cap_recs;
    wp_stats_samples_t *itl; /* n_stages */
    size_t itl_total;
    uint64_t itl_dropped;
    double *server_hit; /* n_stages + 1 */
    wp_report_warmup_t warmup;
    bool has_cost; /* wp_report_run_set_cost (report/cost.h) */
    wp_cost_report_t cost;
};

struct wp_report_s {
    wp_report_mode_t mode;
    cJSON *workload;
    wp_report_slo_t slo;
    wp_report_limits_t limits;
    wp_report_run_t **runs;
    size_t n_runs;
};

/* Table columns shared by the text and HTML tables. */
typedef enum {
    WP__REPORT_COL_COUNT, /* uint64_t */
    WP__REPORT_COL_PCT,   /* fraction shown as percent */
    WP__REPORT_COL_MS,    /* seconds shown as milliseconds */
    WP__REPORT_COL_RATE,  /* two decimals */
    WP__REPORT_COL_TOKS   /* no decimals */
} wp__report_col_kind_t;

typedef struct wp__report_col_s {
    const char *head;
    wp__report_col_kind_t kind;
    size_t off; /* offsetof(wp_report_metrics_t, field) */
} wp__report_col_t;

extern const wp__report_col_t WP__REPORT_COLS[];
extern const size_t WP__REPORT_NCOLS;

/* Formats one cell; "-" for NaN. */
void wp__report_cell(char *dst, size_t cap, const wp__report_col_t *c,
                     const wp_report_metrics_t *m);
/* "4 warm-up requests (0 failed) before the measured run, the last ended at 1.234 s; in
 * no metric" for a run with a warm-up; false (dst "") for one without. */
bool wp__report_warmup_text(char *dst, size_t cap, const wp_report_run_t *run);
/* "ttft<=0.2s, itl<=0.05s" or "none". */
void wp__report_slo_text(char *dst, size_t cap, const wp_report_slo_t *slo);
const char *wp__report_mode_name(wp_report_mode_t mode);

#endif
