/*
 * plan: `wellpath plan`'s decisions, pure. The production guide's decision tree over facts
 * measured on the workload (wp_plan_decide); the candidate deployments of every path that
 * fit a GPU budget (wp_plan_candidates); their ranking by goodput per GPU under the SLOs
 * from the virtual-time runs the shell makes of each (wp_plan_rank); and the deployment the
 * chosen candidate becomes (wp_plan_deploy_t, rendered by plan/manifest.h).
 *
 * Nothing here runs a simulation, reads a file or a clock: the shell (cli/plan.c) runs `des`
 * on each candidate and hands the results back. Every function is deterministic. Structures
 * are plain data owned by the caller; strings are fixed arrays.
 */
#ifndef WP_PLAN_PLAN_H
#define WP_PLAN_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "model/model.h"

#define WP_PLAN_MAX_CANDIDATES 256
#define WP_PLAN_WHY_MAX 6
#define WP_PLAN_TEXT_MAX 200

typedef enum {
    WP_PLAN_PATH_1 = 1, /* inference scheduling: replicas behind the prefix-aware gateway */
    WP_PLAN_PATH_2,     /* prefill/decode disaggregation */
    WP_PLAN_PATH_3,     /* wide expert parallelism */
} wp_plan_path_t;

/* "Path 1 (inference scheduling)" etc. */
const char *wp_plan_path_name(wp_plan_path_t p);

/* One pool of model servers. */
typedef struct wp_plan_pool_s {
    int replicas;        /* servers, or wide-EP groups (>= 1) */
    int tensor_parallel; /* GPUs per server; per rank in a wide-EP group (1) */
    int data_parallel;   /* ranks per wide-EP group; 1: plain servers */
} wp_plan_pool_t;

/* GPUs of a pool: replicas x tensor_parallel x data_parallel. */
int wp_plan_pool_gpus(const wp_plan_pool_t *p);

typedef struct wp_plan_candidate_s {
    wp_plan_path_t path;
    bool pd;                        /* a prefill pool and a decode pool */
    wp_plan_pool_t pool;            /* the one pool when !pd */
    wp_plan_pool_t prefill, decode; /* when pd */
    char label[48];                 /* e.g. "8 x TP2", "4P TP1 + 2D TP4", "EP16 P + EP16 D" */
} wp_plan_candidate_t;

int wp_plan_candidate_gpus(const wp_plan_candidate_t *c);

/* ---- the facts and the guide's decision tree ---- */

typedef struct wp_plan_facts_s {
    const wp_model_spec_t *model;
    const wp_gpu_spec_t *gpu;
    int gpus;                         /* the budget */
    double weight_gb;                 /* the model's weights at its checkpoint precision */
    int min_tp;                       /* the smallest TP (1, 2, 4, 8) a server fits at; 0: none */
    size_t requests;                  /* measured on the workload: */
    double isl_p50, isl_p90, osl_p50; /* tokens */
    double prefix_reuse;              /* share of prompt tokens in blocks an earlier request had */
} wp_plan_facts_t;

typedef struct wp_plan_decision_s {
    wp_plan_path_t path;
    int ratio_p, ratio_d; /* Path 2: the guide's prefill:decode ratio for the ISL/OSL */
    char why[WP_PLAN_WHY_MAX][WP_PLAN_TEXT_MAX]; /* each branch taken, with its facts */
    int n_why;
} wp_plan_decision_t;

/* The guide's tree: a large MoE model (200B+ parameters) on 16+ GPUs -> Path 3; long
 * inputs (ISL p50 >= 4096) with ISL/OSL >= 4 on a 30B+ (active) model -> Path 2 with the
 * guide's xPyD ratio; otherwise Path 1, whose prefix-aware routing pays with the measured
 * prefix reuse. Thresholds and sources in docs/plan.md. */
void wp_plan_decide(const wp_plan_facts_t *f, wp_plan_decision_t *out);

/* Prefix reuse on a workload (plan/reuse.c): the share of prompt tokens in leading 16-token
 * blocks an earlier prompt already had, as an unbounded prefix cache would find them. The
 * set is owned by the wp_plan_reuse_t; new returns NULL without memory. */
typedef struct wp_plan_reuse_s wp_plan_reuse_t;
wp_plan_reuse_t *wp_plan_reuse_new(void);
void wp_plan_reuse_free(wp_plan_reuse_t *r);
void wp_plan_reuse_add(wp_plan_reuse_t *r, const int32_t *ids, size_t n);
double wp_plan_reuse_ratio(const wp_plan_reuse_t *r);

/* ---- the candidates ---- */

/* The candidates of every path on at most `gpus` GPUs of type g, into out (at most cap):
 * Path 1 at each TP a server fits at; Path 2 at the two smallest such TPs per pool, every
 * prefill:decode split that uses the budget; Path 3 (MoE models) with groups of 8, 16, ...
 * ranks that divide the experts and fit, aggregated and as a prefill group + a decode
 * group. Returns how many (0: nothing fits). Deterministic order: Path 1, 2, 3. */
size_t wp_plan_candidates(const wp_model_spec_t *m, const wp_gpu_spec_t *g, int gpus,
                          wp_plan_candidate_t *out, size_t cap);
/* The smallest TP of 1, 2, 4, 8 at which one server of m fits on g (KV room for at least
 * one max-length request); 0 when none. */
int wp_plan_min_tp(const wp_model_spec_t *m, const wp_gpu_spec_t *g);

/* ---- the load each candidate sustains ---- */

/* Whether a run kept up: no failed request, and at least 90 % of its requests met every SLO
 * (attainment = good / requests). Queueing shows as TTFT, so a TTFT objective is what
 * makes an overloaded run fail (the shell sets default SLOs when none are given). */
bool wp_plan_sustains(double attainment, uint64_t failed);

/* The search for the highest sustained rate: start at the workload's rate, double while it
 * is sustained (halve while it is not) until the limit is bracketed (at most 8 times), then
 * 4 geometric bisections. lo: the best rate sustained so far (0: none). */
typedef struct wp_plan_sweep_s {
    double next, lo, hi;
    int runs, grown, bisected;
    bool done;
} wp_plan_sweep_t;
void wp_plan_sweep_init(wp_plan_sweep_t *s, double rate);
/* The rate to run next; false when the search is over (lo is the answer). */
bool wp_plan_sweep_next(const wp_plan_sweep_t *s, double *rate);
void wp_plan_sweep_report(wp_plan_sweep_t *s, bool sustained);

/* ---- the ranking ---- */

/* What the shell measured for a candidate (its `des` run). */
typedef struct wp_plan_result_s {
    wp_plan_candidate_t cand;
    int gpus;
    bool ran; /* false: the run failed (error says why) */
    char error[WP_PLAN_TEXT_MAX];
    double offered_rps; /* the rate of the run kept (the highest sustained one when swept;
                           NaN for a closed-loop or trace load) */
    int runs;           /* simulations made for it */
    double attainment;  /* share of the requests that met every SLO */
    double goodput_rps; /* requests/s meeting every SLO: offered x attainment when swept */
    double output_tps;  /* output tokens/s */
    double ttft_p90, itl_p50, tpot_p90, e2e_p90; /* seconds */
    uint64_t requests, failed;
    double idle_share;      /* GPU time up but not stepping (report/cost.h), NaN when unknown */
    double goodput_per_gpu; /* set by wp_plan_rank */
    char verdict[WP_PLAN_TEXT_MAX]; /* set by wp_plan_rank: why it won or lost */
} wp_plan_result_t;

/* SLOs at p90 (seconds; INFINITY: none). */
typedef struct wp_plan_slo_s {
    double ttft_s, itl_s, tpot_s, e2e_s;
} wp_plan_slo_t;

/* Sorts r best first: by goodput per GPU, then output tokens/s per GPU, then fewer GPUs,
 * then the candidates' order. Writes each verdict: the winner's, and for each loser the
 * first reason (a failed run, failed requests, an SLO its p90 misses, or how much less
 * goodput per GPU it has than the winner). */
void wp_plan_rank(wp_plan_result_t *r, size_t n, const wp_plan_slo_t *slo);

/* The plan as a self-contained HTML page (plan/html.c): facts, the tree, the ranking. */
void wp_plan_write_html(const wp_plan_facts_t *f, const wp_plan_decision_t *d,
                        const wp_plan_result_t *r, size_t n, wp_buf_t *b);

/* ---- the cost levers (plan/levers.c) ---- */

/* Price of a million output tokens: gpus x price per GPU-hour / (output tokens/s x 3600) x
 * 1e6; NaN without throughput. */
double wp_plan_cost_per_mtok(int gpus, double price_per_gpu_hour, double output_tps);
/* Scale-to-zero: the share of the arrivals' span a pool could spend at zero replicas, the
 * gaps between requests longer than window_s, less window_s each (the pool waits that long
 * before it scales down). Sorts arrivals in place. 0 for fewer than two arrivals. */
double wp_plan_idle_share(double *arrivals, size_t n, double window_s);

/* ---- the deployment ---- */

/* The deployment a candidate becomes, for plan/manifest.h. Strings are borrowed. */
typedef struct wp_plan_deploy_s {
    const char *name;       /* resource name prefix (DNS-1123 label), e.g. "wellpath" */
    const char *namespace_; /* Kubernetes namespace, e.g. "default" */
    const wp_model_spec_t *model;
    const wp_gpu_spec_t *gpu;
    wp_plan_candidate_t cand;
    bool prefix_caching;
    double gpu_memory_utilization; /* vLLM's --gpu-memory-utilization */
    int max_model_len;             /* 0: the model's */
    const char *kv_cache_dtype;    /* "" or NULL: auto */
    double kv_offloading_size;     /* GiB of CPU KV offload per server (vLLM's); 0: none */
    const char *topology_yaml;     /* the gateway's topology.yaml, for its ConfigMap */
    const char *vllm_image;        /* e.g. "vllm/vllm-openai:v0.11.0" */
    const char *gateway_image;     /* e.g. "wellpath:latest" */
    int vllm_port;                 /* 8000 */
    int gateway_port;              /* 8000 */
    bool keda;                     /* a KEDA ScaledObject on the gateway's queue metrics */
    bool gateway_api;              /* an InferencePool + HTTPRoute */
    /* For plan/manifest.h; NULL or 0 takes the default named there (WP_PLAN_DEFAULT_*). */
    const char *prometheus_rules_yaml;  /* deploy/prometheus/wellpath-rules.yml's text; NULL:
                                           its PrometheusRule is left out, with a note */
    const char *guide_rules_yaml;       /* deploy/prometheus/guide-rules.yml's; likewise */
    const char *grafana_dashboard_json; /* deploy/grafana/wellpath-dashboard.json's; likewise */
    int gpus_per_node;                  /* 8: a server of more GPUs spans nodes */
    const char *model_cache_pvc; /* PersistentVolumeClaim for the Hugging Face cache; NULL: an
                                    emptyDir (each pod downloads the weights) */
    const char *prometheus_url;  /* where KEDA's prometheus trigger queries */
    int keda_in_flight;          /* requests in flight per server KEDA aims at */
    const char *route_parent;    /* the Gateway the HTTPRoute attaches to */
} wp_plan_deploy_t;

/* The topology file of the deployment (the guide's keys, as docs/topology.md reads them):
 * model, gpu, the pool(s) with expertParallel for wide-EP, nixl for P/D, the scheduler's
 * scorers (prefix-aware 100, load-aware 50, and rank-balance 100 for wide-EP groups), and
 * the gateway's listen address. It runs as is with `wellpath up` and `wellpath simulate`.
 * sim_extra: more YAML lines under `simulation:` (NULL: none). */
wp_status_t wp_plan_topology_yaml(const wp_plan_deploy_t *d, const char *sim_extra, wp_buf_t *out,
                                  wp_err_t *err);

/* The topology of the gateway in the Kubernetes deployment (its ConfigMap): the same
 * scheduler, and the vLLM servers of plan/manifest.h as `endpoints` (by their pod names;
 * wide-EP ranks by `dataParallelRank`); for `wellpath gateway -f`. */
wp_status_t wp_plan_gateway_yaml(const wp_plan_deploy_t *d, wp_buf_t *out, wp_err_t *err);

#endif
