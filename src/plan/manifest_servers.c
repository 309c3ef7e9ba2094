/*
 * plan/manifest_servers: model-servers.yaml, the vLLM pods of every pool.
 *
 * A pool is a headless Service and, when a server fits a node, a StatefulSet: its pods
 * have stable names (<pool>-<i>.<pool>), which is what the gateway's topology lists, each
 * with `discover: dns` so that the gateway follows a restarted pod's new address
 * (cli/dnsdisc.h; a Deployment's pods have no such names). A
 * wide-EP group that spans nodes is a LeaderWorkerSet of `nodes` pods per group; the
 * LeaderWorkerSet controller uses the headless Service of the same name (it makes one only
 * when none exists), so leader pods get the same kind of name.
 *
 * Every pod: the vLLM image, its command (manifest_vllm.c), GPUs as a limit, probes on
 * /health (startup for loading the weights, readiness, liveness; none on headless workers,
 * which serve no HTTP), /dev/shm in memory, the Hugging Face cache, HF_TOKEN from an
 * optional Secret. P/D pods add NIXL's side channel (pod IP and port 5600); P/D and wide-EP
 * pods add IPC_LOCK for RDMA memory registration. The RDMA network itself (devices,
 * network attachments) is the cluster's to provide (docs/plan.md).
 */
#include <stdio.h>

#include "plan/manifest_internal.h"

#define SHM_SIZE "16Gi"
#define HF_CACHE "/root/.cache/huggingface"

static wp__plan_labels_t pool_labels(const wp__plan_pool_t *p, bool api)
{
    return (wp__plan_labels_t){
        .app = "vllm", .component = "model-server", .pool = p->suffix, .api = api};
}

static void env_items(wp__yw_t *w, const wp__plan_ctx_t *c, int ind)
{
    char secret[WP__PLAN_OBJ_NAME_MAX];
    snprintf(secret, sizeof(secret), "%s-hf-token", c->name);
    wp__yw_key(w, ind, "env");
    wp__yw_item_str(w, ind, "name", "HF_TOKEN");
    wp__yw_key(w, ind + 2, "valueFrom");
    wp__yw_key(w, ind + 4, "secretKeyRef");
    wp__yw_str(w, ind + 6, "name", secret);
    wp__yw_str(w, ind + 6, "key", "HF_TOKEN");
    wp__yw_bool(w, ind + 6, "optional", true);
    if (!c->d->cand.pd)
        return;
    char port[16];
    snprintf(port, sizeof(port), "%d", WP_PLAN_NIXL_SIDE_PORT);
    wp__yw_item_str(w, ind, "name", "VLLM_NIXL_SIDE_CHANNEL_HOST");
    wp__yw_key(w, ind + 2, "valueFrom");
    wp__yw_key(w, ind + 4, "fieldRef");
    wp__yw_str(w, ind + 6, "fieldPath", "status.podIP");
    wp__yw_item_str(w, ind, "name", "VLLM_NIXL_SIDE_CHANNEL_PORT");
    wp__yw_str(w, ind + 2, "value", port);
}

static void port_item(wp__yw_t *w, int ind, const char *name, int port)
{
    wp__yw_item_str(w, ind, "name", name);
    wp__yw_int(w, ind + 2, "containerPort", port);
    wp__yw_str(w, ind + 2, "protocol", "TCP");
}

static void ports(wp__yw_t *w, const wp__plan_ctx_t *c, const wp__plan_pool_t *p,
                  wp__plan_cmd_t cmd, int ind)
{
    if (cmd == WP__PLAN_CMD_WORKER && !c->d->cand.pd)
        return;
    wp__yw_key(w, ind, "ports");
    if (cmd != WP__PLAN_CMD_WORKER)
        port_item(w, ind, "http", c->vllm_port);
    if (c->d->cand.pd)
        port_item(w, ind, "nixl", WP_PLAN_NIXL_SIDE_PORT);
    if (cmd == WP__PLAN_CMD_LEADER && p->lws)
        port_item(w, ind, "dp-rpc", WP_PLAN_DP_RPC_PORT);
}

static void command(wp__yw_t *w, const wp__plan_ctx_t *c, const wp__plan_pool_t *p,
                    wp__plan_cmd_t cmd, int ind)
{
    wp__plan_argv_t a;
    wp__plan_vllm_argv(c, p, cmd, &a);
    if (a.overflow) {
        w->st = WP_ELIMIT;
        return;
    }
    wp__yw_key(w, ind, "command");
    if (cmd == WP__PLAN_CMD_SERVER) {
        wp__yw_item(w, ind, "vllm");
        wp__yw_key(w, ind, "args");
        for (int i = 0; i < a.n; i++)
            wp__yw_item(w, ind, a.arg[i]);
        return;
    }
    wp_buf_t script;
    wp_buf_init(&script, 8192);
    wp_status_t st = wp__plan_vllm_script(&a, &script);
    wp__yw_item(w, ind, "/bin/sh");
    wp__yw_item(w, ind, "-c");
    wp__yw_key(w, ind, "args");
    if (st == WP_OK)
        wp__yw_item(w, ind, script.data);
    else if (w->st == WP_OK)
        w->st = st;
    wp_buf_free(&script);
}

static void resources(wp__yw_t *w, const wp__plan_ctx_t *c, const wp__plan_pool_t *p, int ind)
{
    char gpus[16];
    snprintf(gpus, sizeof(gpus), "%d", p->pod_gpus);
    wp__yw_key(w, ind, "resources");
    wp__yw_key(w, ind + 2, "limits");
    wp__yw_str(w, ind + 4, "nvidia.com/gpu", gpus);
    if (c->d->cand.pd || p->dp > 1) {
        wp__yw_key(w, ind, "securityContext");
        wp__yw_key(w, ind + 2, "capabilities");
        wp__yw_key(w, ind + 4, "add");
        wp__yw_item(w, ind + 4, "IPC_LOCK");
    }
}

static void probes(wp__yw_t *w, const wp__plan_pool_t *p, wp__plan_cmd_t cmd, int ind)
{
    if (cmd == WP__PLAN_CMD_WORKER)
        return;
    /* Loading the weights: up to 30 minutes for a server, 60 for a multi-node group. */
    wp__plan_probe(w, ind, "startupProbe", 10, p->lws ? 360 : 180);
    wp__plan_probe(w, ind, "readinessProbe", 5, 3);
    wp__plan_probe(w, ind, "livenessProbe", 10, 3);
}

static void volumes(wp__yw_t *w, const wp__plan_ctx_t *c, int ind)
{
    wp__yw_key(w, ind, "volumes");
    wp__yw_item_str(w, ind, "name", "shm");
    wp__yw_key(w, ind + 2, "emptyDir");
    wp__yw_str(w, ind + 4, "medium", "Memory");
    wp__yw_str(w, ind + 4, "sizeLimit", SHM_SIZE);
    wp__yw_item_str(w, ind, "name", "hf-cache");
    if (c->d->model_cache_pvc != NULL) {
        wp__yw_key(w, ind + 2, "persistentVolumeClaim");
        wp__yw_str(w, ind + 4, "claimName", c->d->model_cache_pvc);
    } else {
        wp__yw_indent(w, ind + 2);
        wp__yw_printf(w, "emptyDir: {}\n");
    }
}

/* The pod spec's entries, at ind. */
static void pod_spec(wp__yw_t *w, const wp__plan_ctx_t *c, const wp__plan_pool_t *p,
                     wp__plan_cmd_t cmd, int ind)
{
    wp__yw_key(w, ind, "tolerations");
    wp__yw_item_str(w, ind, "key", "nvidia.com/gpu");
    wp__yw_str(w, ind + 2, "operator", "Exists");
    wp__yw_str(w, ind + 2, "effect", "NoSchedule");
    wp__yw_key(w, ind, "containers");
    wp__yw_item_str(w, ind, "name", "vllm");
    int k = ind + 2;
    wp__yw_str(w, k, "image", c->vllm_image);
    command(w, c, p, cmd, k);
    env_items(w, c, k);
    ports(w, c, p, cmd, k);
    resources(w, c, p, k);
    probes(w, p, cmd, k);
    wp__yw_key(w, k, "volumeMounts");
    wp__yw_item_str(w, k, "name", "shm");
    wp__yw_str(w, k + 2, "mountPath", "/dev/shm");
    wp__yw_item_str(w, k, "name", "hf-cache");
    wp__yw_str(w, k + 2, "mountPath", HF_CACHE);
    volumes(w, c, ind);
}

static void headless_service(wp__yw_t *w, const wp__plan_ctx_t *c, const wp__plan_pool_t *p)
{
    wp__plan_labels_t l = pool_labels(p, false);
    wp__yw_doc(w, "v1", "Service");
    wp__plan_meta(w, c, p->name, &l);
    wp__yw_key(w, 0, "spec");
    wp__yw_str(w, 2, "clusterIP", "None");
    wp__yw_bool(w, 2, "publishNotReadyAddresses", true);
    wp__yw_key(w, 2, "selector");
    wp__plan_labels(w, c, 4, &l, true);
    wp__yw_key(w, 2, "ports");
    wp__yw_item_str(w, 2, "name", "http");
    wp__yw_int(w, 4, "port", c->vllm_port);
    wp__yw_int(w, 4, "targetPort", c->vllm_port);
}

static void statefulset(wp__yw_t *w, const wp__plan_ctx_t *c, const wp__plan_pool_t *p)
{
    wp__plan_labels_t l = pool_labels(p, true);
    wp__yw_doc(w, "apps/v1", "StatefulSet");
    wp__plan_meta(w, c, p->name, &l);
    wp__yw_key(w, 0, "spec");
    wp__yw_str(w, 2, "serviceName", p->name);
    wp__yw_int(w, 2, "replicas", p->replicas);
    wp__yw_str(w, 2, "podManagementPolicy", "Parallel");
    wp__plan_pod_labels(w, c, &l);
    wp__yw_key(w, 4, "spec");
    pod_spec(w, c, p, WP__PLAN_CMD_SERVER, 6);
}

static void lws_template(wp__yw_t *w, const wp__plan_ctx_t *c, const wp__plan_pool_t *p,
                         wp__plan_cmd_t cmd)
{
    wp__plan_labels_t l = pool_labels(p, cmd == WP__PLAN_CMD_LEADER);
    wp__yw_key(w, 4, cmd == WP__PLAN_CMD_LEADER ? "leaderTemplate" : "workerTemplate");
    wp__yw_key(w, 6, "metadata");
    wp__yw_key(w, 8, "labels");
    wp__plan_labels(w, c, 10, &l, false);
    wp__yw_key(w, 6, "spec");
    pod_spec(w, c, p, cmd, 8);
}

static void leaderworkerset(wp__yw_t *w, const wp__plan_ctx_t *c, const wp__plan_pool_t *p)
{
    wp__plan_labels_t l = pool_labels(p, false);
    wp__yw_doc(w, "leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet");
    wp__plan_meta(w, c, p->name, &l);
    wp__yw_key(w, 0, "spec");
    wp__yw_int(w, 2, "replicas", p->replicas);
    wp__yw_str(w, 2, "startupPolicy", "LeaderCreated");
    wp__yw_key(w, 2, "leaderWorkerTemplate");
    wp__yw_int(w, 4, "size", p->nodes);
    wp__yw_str(w, 4, "restartPolicy", "RecreateGroupOnPodRestart");
    lws_template(w, c, p, WP__PLAN_CMD_LEADER);
    lws_template(w, c, p, WP__PLAN_CMD_WORKER);
}

static void pool_comment(wp__yw_t *w, const wp__plan_pool_t *p)
{
    char line[256];
    if (p->dp > 1)
        snprintf(line, sizeof(line),
                 "Pool %s: %d wide-EP group(s) of %d data-parallel ranks x TP%d "
                 "(%d GPUs each), %d pod(s) of %d GPUs per group.",
                 p->suffix, p->replicas, p->dp, p->tp, p->server_gpus, p->nodes, p->pod_gpus);
    else
        snprintf(line, sizeof(line), "Pool %s: %d server(s) of TP%d, one pod of %d GPUs each.",
                 p->suffix, p->replicas, p->tp, p->pod_gpus);
    wp__yw_printf(w, "\n");
    wp__yw_comment(w, line);
}

wp_status_t wp__plan_servers(const wp__plan_ctx_t *c, wp__yw_t *w)
{
    for (int i = 0; i < c->n_pools; i++) {
        const wp__plan_pool_t *p = &c->pools[i];
        pool_comment(w, p);
        headless_service(w, c, p);
        if (p->lws)
            leaderworkerset(w, c, p);
        else
            statefulset(w, c, p);
    }
    return w->st;
}
