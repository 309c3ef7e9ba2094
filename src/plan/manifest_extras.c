/*
 * plan/manifest_extras: the optional files, keda.yaml and gateway-api.yaml.
 *
 * KEDA: a ScaledObject on the serving pool (decode for P/D, the one pool otherwise; a
 * StatefulSet or a LeaderWorkerSet, both have the scale subresource), from 1 to the planned
 * replicas, with two prometheus triggers on the gateway's own series: requests in flight
 * (wellpath_gateway_in_flight, queued ones included) over keda_in_flight per server, and
 * the flow-control queue (wellpath_gateway_queue_length, any request waiting asks for one
 * more server). KEDA takes the larger. The upper bound is the plan's count because the
 * gateway's topology lists exactly those servers.
 *
 * Gateway API: an InferencePool (inference.networking.k8s.io/v1, the Gateway API
 * Inference Extension's GA API) selecting the serving pool's API pods on the vLLM port,
 * and an HTTPRoute (gateway.networking.k8s.io/v1) from the Gateway named route_parent to
 * the wellpath gateway's Service: wellpath picks the server, so the route goes through it.
 * The pool has no endpointPickerRef (wellpath does not speak the Endpoint Picker protocol);
 * the field is optional from the extension's v1.6.0 CRD on (docs/plan.md).
 */
#include <stdio.h>

#include "plan/manifest_internal.h"

static void trigger(wp__yw_t *w, const wp__plan_ctx_t *c, const char *metric, int threshold)
{
    char query[256], thr[16];
    snprintf(query, sizeof(query), "sum(%s{namespace=\"%s\",job=\"%s\"})", metric, c->ns,
             c->gateway);
    snprintf(thr, sizeof(thr), "%d", threshold);
    wp__yw_item_str(w, 2, "type", "prometheus");
    wp__yw_key(w, 4, "metadata");
    wp__yw_str(w, 6, "serverAddress", c->prometheus_url);
    wp__yw_str(w, 6, "query", query);
    wp__yw_str(w, 6, "threshold", thr);
}

wp_status_t wp__plan_keda(const wp__plan_ctx_t *c, wp__yw_t *w)
{
    const wp__plan_pool_t *p = c->serving;
    wp__plan_labels_t l = {.app = "vllm", .component = "autoscaling", .pool = p->suffix};
    wp__yw_doc(w, "keda.sh/v1alpha1", "ScaledObject");
    wp__plan_meta(w, c, p->name, &l);
    wp__yw_key(w, 0, "spec");
    wp__yw_key(w, 2, "scaleTargetRef");
    wp__yw_str(w, 4, "apiVersion", p->lws ? "leaderworkerset.x-k8s.io/v1" : "apps/v1");
    wp__yw_str(w, 4, "kind", p->lws ? "LeaderWorkerSet" : "StatefulSet");
    wp__yw_str(w, 4, "name", p->name);
    wp__yw_int(w, 2, "pollingInterval", 15);
    wp__yw_int(w, 2, "cooldownPeriod", 300);
    wp__yw_int(w, 2, "minReplicaCount", 1);
    wp__yw_int(w, 2, "maxReplicaCount", p->replicas);
    wp__yw_key(w, 2, "triggers");
    trigger(w, c, "wellpath_gateway_in_flight", c->keda_in_flight);
    trigger(w, c, "wellpath_gateway_queue_length", 1);
    return w->st;
}

wp_status_t wp__plan_gateway_api(const wp__plan_ctx_t *c, wp__yw_t *w)
{
    const wp__plan_pool_t *p = c->serving;
    wp__plan_labels_t l = {.app = "wellpath", .component = "routing"};
    wp__yw_doc(w, "inference.networking.k8s.io/v1", "InferencePool");
    wp__plan_meta(w, c, c->name, &l);
    wp__yw_key(w, 0, "spec");
    wp__yw_key(w, 2, "selector");
    wp__yw_key(w, 4, "matchLabels");
    wp__yw_str(w, 6, "app.kubernetes.io/instance", c->name);
    wp__yw_str(w, 6, "wellpath/pool", p->suffix);
    wp__yw_str(w, 6, "wellpath/api", "true");
    wp__yw_key(w, 2, "targetPorts");
    wp__yw_indent(w, 2);
    wp__yw_printf(w, "- number: %d\n", c->vllm_port);

    wp__yw_doc(w, "gateway.networking.k8s.io/v1", "HTTPRoute");
    wp__plan_meta(w, c, c->name, &l);
    wp__yw_key(w, 0, "spec");
    wp__yw_key(w, 2, "parentRefs");
    wp__yw_item_str(w, 2, "name", c->route_parent);
    wp__yw_key(w, 2, "rules");
    wp__yw_indent(w, 2);
    wp__yw_printf(w, "- matches:\n");
    wp__yw_key(w, 6, "- path");
    wp__yw_str(w, 10, "type", "PathPrefix");
    wp__yw_str(w, 10, "value", "/");
    wp__yw_key(w, 4, "backendRefs");
    wp__yw_item_str(w, 4, "name", c->gateway);
    wp__yw_int(w, 6, "port", c->gateway_port);
    return w->st;
}
