/*
 * plan/manifest_internal: what the manifest files share. Not a public contract.
 *
 * wp__plan_ctx_t is a checked wp_plan_deploy_t with every default applied and its pools
 * sized (wp__plan_resolve, manifest.c). wp__yw_t writes YAML into a growable buffer with a
 * sticky status: after the first failure every write is a no-op, and the caller looks at
 * `st` once at the end. Indentation is explicit (the `ind` arguments, in spaces); strings
 * are always double-quoted, multi-line texts go into literal blocks (manifest_yaml.c).
 */
#ifndef WP_PLAN_MANIFEST_INTERNAL_H
#define WP_PLAN_MANIFEST_INTERNAL_H

#include <stdbool.h>

#include "base/buf.h"
#include "plan/manifest.h"

#define WP__PLAN_POOLS_MAX 2
#define WP__PLAN_OBJ_NAME_MAX 64
#define WP__PLAN_ARGV_MAX 48

/* One pool of model servers, sized. */
typedef struct wp__plan_pool_s {
    wp_plan_role_t role;
    const char *suffix;               /* "vllm", "prefill", "decode" */
    char name[WP__PLAN_OBJ_NAME_MAX]; /* "<name>-<suffix>": workload and headless Service */
    int replicas;                     /* servers, or wide-EP groups */
    int tp, dp;                       /* dp > 1: a wide-EP group of dp ranks */
    int server_gpus;                  /* tp x dp */
    bool lws;                         /* the server spans nodes: a LeaderWorkerSet */
    int nodes;                        /* pods per server (1 unless lws) */
    int pod_gpus;                     /* GPUs per pod */
    int pod_ranks;                    /* data-parallel ranks per pod (dp / nodes) */
} wp__plan_pool_t;

typedef struct wp__plan_ctx_s {
    const wp_plan_deploy_t *d;
    const char *name, *ns;
    const char *vllm_image, *gateway_image;
    const char *prometheus_url, *route_parent;
    int vllm_port, gateway_port, gpus_per_node, keda_in_flight;
    double gmu;
    wp__plan_pool_t pools[WP__PLAN_POOLS_MAX];
    int n_pools;
    const wp__plan_pool_t *serving;      /* the pool clients' requests end on: decode or the one */
    char gateway[WP__PLAN_OBJ_NAME_MAX]; /* "<name>-gateway" */
} wp__plan_ctx_t;

/* Checks d and fills c (manifest.c). */
wp_status_t wp__plan_resolve(const wp_plan_deploy_t *d, wp__plan_ctx_t *c, wp_err_t *err);

/* ---- the YAML writer (manifest_yaml.c) ---- */

typedef struct wp__yw_s {
    wp_buf_t buf;
    wp_status_t st; /* first failure; WP_OK while every write went in */
    int objects;    /* documents started */
} wp__yw_t;

void wp__yw_init(wp__yw_t *w);
void wp__yw_printf(wp__yw_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void wp__yw_indent(wp__yw_t *w, int ind);
/* s as a double-quoted YAML scalar (escapes for quotes, backslashes and anything that is
 * not printable). */
void wp__yw_quoted(wp__yw_t *w, const char *s);
void wp__yw_key(wp__yw_t *w, int ind, const char *key);                  /* key:        */
void wp__yw_str(wp__yw_t *w, int ind, const char *key, const char *val); /* key: "val"  */
void wp__yw_int(wp__yw_t *w, int ind, const char *key, long long val);   /* key: 5      */
void wp__yw_bool(wp__yw_t *w, int ind, const char *key, bool val);
void wp__yw_item(wp__yw_t *w, int ind, const char *val);                      /* - "val"     */
void wp__yw_item_str(wp__yw_t *w, int ind, const char *key, const char *val); /* - key: "val" */
/* key: followed by text as a literal block (content at ind + 2, chomping that keeps the
 * text's trailing newlines exactly), or as a double-quoted scalar when a literal block
 * cannot carry it (carriage returns, control characters). */
void wp__yw_text(wp__yw_t *w, int ind, const char *key, const char *text);
/* Comment lines ("# ..."), one per line of text. */
void wp__yw_comment(wp__yw_t *w, const char *text);
/* "---", apiVersion and kind of a new document. */
void wp__yw_doc(wp__yw_t *w, const char *api_version, const char *kind);

/* True when every byte sequence of s is UTF-8 a YAML stream may hold. */
bool wp__yw_utf8_ok(const char *s);

/* ---- shared pieces of objects (manifest_yaml.c) ---- */

/* Labels of an object: the app.kubernetes.io set and, for a pool's objects, wellpath/pool. */
typedef struct wp__plan_labels_s {
    const char *app;       /* app.kubernetes.io/name */
    const char *component; /* app.kubernetes.io/component */
    const char *pool;      /* wellpath/pool, or NULL */
    bool api;              /* wellpath/api: "true" (the pod serves the OpenAI API) */
} wp__plan_labels_t;

/* metadata: name, namespace, labels (at ind 0). */
void wp__plan_meta(wp__yw_t *w, const wp__plan_ctx_t *c, const char *name,
                   const wp__plan_labels_t *l);
/* The labels map (its entries at ind); `selector` leaves out the ones that may change. */
void wp__plan_labels(wp__yw_t *w, const wp__plan_ctx_t *c, int ind, const wp__plan_labels_t *l,
                     bool selector);
/* A workload's `selector.matchLabels` and `template.metadata.labels` (under `spec`, at 2):
 * the pods it selects are the pods of its template. */
void wp__plan_pod_labels(wp__yw_t *w, const wp__plan_ctx_t *c, const wp__plan_labels_t *l);
/* A container's httpGet probe on /health, port "http". */
void wp__plan_probe(wp__yw_t *w, int ind, const char *key, int period_s, int failures);

/* ---- the files (one source file each) ---- */

wp_status_t wp__plan_servers(const wp__plan_ctx_t *c, wp__yw_t *w);     /* manifest_servers.c */
wp_status_t wp__plan_gateway(const wp__plan_ctx_t *c, wp__yw_t *w);     /* manifest_gateway.c */
wp_status_t wp__plan_monitoring(const wp__plan_ctx_t *c, wp__yw_t *w);  /* manifest_monitoring.c */
wp_status_t wp__plan_keda(const wp__plan_ctx_t *c, wp__yw_t *w);        /* manifest_extras.c */
wp_status_t wp__plan_gateway_api(const wp__plan_ctx_t *c, wp__yw_t *w); /* manifest_extras.c */

/* ---- vLLM's command line (manifest_vllm.c) ---- */

typedef enum {
    WP__PLAN_CMD_SERVER, /* a server in one pod */
    WP__PLAN_CMD_LEADER, /* a multi-node group's leader: the API server and its local ranks */
    WP__PLAN_CMD_WORKER, /* a multi-node group's other pods: --headless, later ranks */
} wp__plan_cmd_t;

/* vllm's argv after "vllm": "serve", the model, the flags. An element marked `shell` is an
 * expression for sh ("$LWS_LEADER_ADDRESS"), written unquoted in a script. */
typedef struct wp__plan_argv_s {
    const char *arg[WP__PLAN_ARGV_MAX];
    bool shell[WP__PLAN_ARGV_MAX];
    int n;
    char store[1024];
    size_t used;
    bool overflow;
} wp__plan_argv_t;

void wp__plan_vllm_argv(const wp__plan_ctx_t *c, const wp__plan_pool_t *p, wp__plan_cmd_t cmd,
                        wp__plan_argv_t *a);
/* Appends "exec vllm serve ..." for sh -c to script, every plain element quoted for the
 * shell. */
wp_status_t wp__plan_vllm_script(const wp__plan_argv_t *a, wp_buf_t *script);

#endif
