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

/* The deployment a candidate becomes, for plan/manifest.h. Strings are borrowed. */
typedef struct wp_plan_deploy_s {
    const char *name;      /* resource name prefix (DNS-1123 label), e.g. "wellpath" */
    const char *namespace_; /* Kubernetes namespace, e.g. "default" */
    const wp_model_spec_t *model;
    const wp_gpu_spec_t *gpu;
    wp_plan_candidate_t cand;
    bool prefix_caching;
    double gpu_memory_utilization; /* vLLM's --gpu-memory-utilization */
    int max_model_len;             /* 0: the model's */
    const char *kv_cache_dtype;    /* "" or NULL: auto */
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

#endif
