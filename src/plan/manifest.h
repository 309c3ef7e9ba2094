/*
 * plan/manifest: the Kubernetes manifests of a deployment (wp_plan_deploy_t in plan/plan.h),
 * as YAML text, for `wellpath plan` to hand to the user. Pure: no file is read or written
 * here; the texts of the Prometheus rules, the Grafana dashboard and the gateway's topology
 * come in as strings, and what comes out is a set of named buffers.
 *
 * What is rendered (docs/plan.md, "Manifests"):
 *   model-servers.yaml  per pool ("vllm" for one pool; "prefill" and "decode" for P/D): a
 *                       headless Service and a StatefulSet of vLLM pods when a server fits
 *                       one node, a LeaderWorkerSet when a wide-EP group spans nodes
 *   gateway.yaml        the gateway's topology in a ConfigMap, its Deployment and Service
 *   monitoring.yaml     ServiceMonitor, PodMonitor, PrometheusRules, the Grafana dashboard
 *   keda.yaml           (d->keda) a ScaledObject on the serving pool
 *   gateway-api.yaml    (d->gateway_api) an InferencePool and an HTTPRoute
 * Every vLLM flag written is in the table below (vllm_flags.c, docs/vllm-flags.md).
 *
 * Names: the objects of pool P are "<name>-P"; its pods are reached by the gateway at
 * "<name>-P-<i>.<name>-P.<namespace>.svc.cluster.local" (a StatefulSet's pod, or the leader
 * pod of LeaderWorkerSet group i; wp_plan_server_host). wp_plan_render_endpoints writes the
 * `endpoints:` section of a topology that uses those names.
 *
 * Invariants of the output: every file is UTF-8 YAML, documents separated by "---", strings
 * double-quoted or in literal blocks with an explicit indentation indicator; the same
 * deployment renders to the same bytes. Ownership: wp_plan_render fills caller-owned
 * wp_plan_file_t slots whose `text` it allocates; the caller frees them with
 * wp_plan_files_free (also after a failure: slots not filled hold NULL). Strings in
 * wp_plan_deploy_t are borrowed for the call only.
 */
#ifndef WP_PLAN_MANIFEST_H
#define WP_PLAN_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"
#include "plan/plan.h"

#define WP_PLAN_FILES_MAX 5 /* files one render can produce */
#define WP_PLAN_FILE_NAME_MAX 32
#define WP_PLAN_NOTES_MAX 8
#define WP_PLAN_NOTE_MAX 200
#define WP_PLAN_NAME_MAX 30              /* d->name: object names add "-prefill-<i>" and more */
#define WP_PLAN_TEXT_BYTES_MAX (1 << 20) /* a ConfigMap holds at most 1 MiB */

/* Defaults for the fields of wp_plan_deploy_t left NULL or 0. */
#define WP_PLAN_DEFAULT_NAME "wellpath"
#define WP_PLAN_DEFAULT_NAMESPACE "default"
#define WP_PLAN_DEFAULT_VLLM_IMAGE "vllm/vllm-openai:v0.12.0"
#define WP_PLAN_DEFAULT_GATEWAY_IMAGE "wellpath:latest"
#define WP_PLAN_DEFAULT_PORT 8000
#define WP_PLAN_DEFAULT_GMU 0.9 /* vLLM's own default --gpu-memory-utilization */
#define WP_PLAN_DEFAULT_GPUS_PER_NODE 8
#define WP_PLAN_DEFAULT_PROMETHEUS "http://prometheus-operated.monitoring.svc:9090"
#define WP_PLAN_DEFAULT_ROUTE_PARENT "inference-gateway"
#define WP_PLAN_DEFAULT_KEDA_IN_FLIGHT 32
#define WP_PLAN_DP_RPC_PORT 5555    /* --data-parallel-rpc-port of multi-node groups */
#define WP_PLAN_NIXL_SIDE_PORT 5600 /* VLLM_NIXL_SIDE_CHANNEL_PORT */

/* One rendered file. */
typedef struct wp_plan_file_s {
    char name[WP_PLAN_FILE_NAME_MAX]; /* "model-servers.yaml" */
    char *text;                       /* owned, NUL-terminated; NULL when not filled */
    size_t len;
    int objects; /* Kubernetes objects (YAML documents) in text */
} wp_plan_file_t;

/* Renders d into files[0..*n). cap must be at least WP_PLAN_FILES_MAX for every optional
 * file to fit (WP_ELIMIT otherwise). Checks d first: a missing model or GPU or topology,
 * a pool with no replicas, a tensor-parallel degree that does not divide a node, a wide-EP
 * group that does not fill whole nodes, expert parallelism on a dense model, a name that
 * is not a DNS-1123 label: WP_EINVAL with one line saying which field and why.
 * On any failure *n is 0 and nothing stays allocated. */
wp_status_t wp_plan_render(const wp_plan_deploy_t *d, wp_plan_file_t *files, size_t cap, size_t *n,
                           wp_err_t *err);

/* Frees the text of files[0..n) and leaves the slots empty. */
void wp_plan_files_free(wp_plan_file_t *files, size_t n);

/* Notes for the user, one line each: the objects left out (no rules text, no dashboard;
 * their files say so in a comment too) and what is left to the cluster (a shared weights
 * cache, the RDMA network). Up to cap lines go into notes; returns how many there are (may
 * exceed cap). Reads only the fields named; d need not have passed wp_plan_render. */
size_t wp_plan_notes(const wp_plan_deploy_t *d, char (*notes)[WP_PLAN_NOTE_MAX], size_t cap);

/* A pool of a deployment. */
typedef enum {
    WP_PLAN_ROLE_BOTH,    /* the one pool of a candidate without P/D: "vllm" */
    WP_PLAN_ROLE_PREFILL, /* "prefill" */
    WP_PLAN_ROLE_DECODE,  /* "decode" */
} wp_plan_role_t;

/* The DNS name of server i (0-based; a wide-EP group's leader) of a pool, e.g.
 * "wellpath-decode-0.wellpath-decode.default.svc.cluster.local". WP_EINVAL when d fails
 * wp_plan_render's checks, the role is not one of d's pools or i is out of range;
 * WP_ELIMIT when cap is too small. */
wp_status_t wp_plan_server_host(const wp_plan_deploy_t *d, wp_plan_role_t role, int i, char *out,
                                size_t cap, wp_err_t *err);

/* Appends to out the `endpoints:` section of a gateway topology (docs/topology.md) for d:
 * one endpoint per server, with its role for P/D; for a wide-EP group one per rank, all on
 * the leader's URL, with `dataParallelRank` and the group named after the leader. */
wp_status_t wp_plan_render_endpoints(const wp_plan_deploy_t *d, wp_buf_t *out, wp_err_t *err);

/* The vLLM command-line flags the renderer may write (vllm_flags.c). */
typedef struct wp_plan_vllm_flag_s {
    const char *flag;   /* "--tensor-parallel-size" */
    bool value;         /* takes a value */
    const char *source; /* where vLLM defines it, a path in vllm-project/vllm at the tag below */
} wp_plan_vllm_flag_t;

#define WP_PLAN_VLLM_VERSION "v0.12.0" /* the release the table was checked against */

size_t wp_plan_vllm_flag_count(void);
const wp_plan_vllm_flag_t *wp_plan_vllm_flag_at(size_t i); /* NULL when i >= count */
const wp_plan_vllm_flag_t *wp_plan_vllm_flag_find(const char *flag);
/* --kv-cache-dtype values the renderer accepts ("auto", "bfloat16", "fp8", ...). */
bool wp_plan_vllm_kv_dtype_known(const char *dtype);

#endif
