/*
 * plan/manifest_gateway: gateway.yaml, the wellpath gateway in front of the pools.
 *
 * A ConfigMap holds the topology (d->topology_yaml, byte for byte, in a literal block); a
 * Deployment of one replica runs `wellpath gateway -f /etc/wellpath/topology.yaml --listen
 * 0.0.0.0:<port>` with it mounted; a ClusterIP Service exposes the port. One replica: the
 * gateway's prefix index and in-flight counts live in the process, and two gateways would
 * each see half the traffic. The pod template carries a hash of the topology as an
 * annotation, so applying a changed topology rolls the pod (the gateway also rereads its
 * file on SIGHUP, but a ConfigMap reaches a mounted volume only after a delay).
 */
#include <stdio.h>
#include <string.h>

#include "base/hash.h"
#include "plan/manifest_internal.h"

#define CONFIG_DIR "/etc/wellpath"

static wp__plan_labels_t gateway_labels(void)
{
    return (wp__plan_labels_t){.app = "wellpath-gateway", .component = "gateway"};
}

static void config_map(wp__yw_t *w, const wp__plan_ctx_t *c, const char *name)
{
    wp__plan_labels_t l = gateway_labels();
    wp__yw_doc(w, "v1", "ConfigMap");
    wp__plan_meta(w, c, name, &l);
    wp__yw_key(w, 0, "data");
    wp__yw_text(w, 2, "topology.yaml", c->d->topology_yaml);
}

static void container(wp__yw_t *w, const wp__plan_ctx_t *c, int ind)
{
    char listen[32];
    snprintf(listen, sizeof(listen), "0.0.0.0:%d", c->gateway_port);
    wp__yw_item_str(w, ind, "name", "gateway");
    int k = ind + 2;
    wp__yw_str(w, k, "image", c->gateway_image);
    wp__yw_key(w, k, "command");
    wp__yw_item(w, k, "wellpath");
    wp__yw_key(w, k, "args");
    wp__yw_item(w, k, "gateway");
    wp__yw_item(w, k, "-f");
    wp__yw_item(w, k, CONFIG_DIR "/topology.yaml");
    wp__yw_item(w, k, "--listen");
    wp__yw_item(w, k, listen);
    wp__yw_key(w, k, "ports");
    wp__yw_item_str(w, k, "name", "http");
    wp__yw_int(w, k + 2, "containerPort", c->gateway_port);
    wp__yw_str(w, k + 2, "protocol", "TCP");
    wp__plan_probe(w, k, "readinessProbe", 5, 3);
    wp__plan_probe(w, k, "livenessProbe", 10, 3);
    wp__yw_key(w, k, "resources");
    wp__yw_key(w, k + 2, "requests");
    wp__yw_str(w, k + 4, "cpu", "1");
    wp__yw_str(w, k + 4, "memory", "512Mi");
    wp__yw_key(w, k, "volumeMounts");
    wp__yw_item_str(w, k, "name", "topology");
    wp__yw_str(w, k + 2, "mountPath", CONFIG_DIR);
    wp__yw_bool(w, k + 2, "readOnly", true);
}

static void deployment(wp__yw_t *w, const wp__plan_ctx_t *c, const char *config)
{
    wp__plan_labels_t l = gateway_labels();
    const char *topo = c->d->topology_yaml;
    char hash[24];
    snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)wp_hash64(topo, strlen(topo), 0));
    wp__yw_doc(w, "apps/v1", "Deployment");
    wp__plan_meta(w, c, c->gateway, &l);
    wp__yw_key(w, 0, "spec");
    wp__yw_int(w, 2, "replicas", 1);
    wp__plan_pod_labels(w, c, &l);
    wp__yw_key(w, 6, "annotations");
    wp__yw_str(w, 8, "wellpath/topology-hash", hash);
    wp__yw_key(w, 4, "spec");
    wp__yw_key(w, 6, "containers");
    container(w, c, 6);
    wp__yw_key(w, 6, "volumes");
    wp__yw_item_str(w, 6, "name", "topology");
    wp__yw_key(w, 8, "configMap");
    wp__yw_str(w, 10, "name", config);
}

static void service(wp__yw_t *w, const wp__plan_ctx_t *c)
{
    wp__plan_labels_t l = gateway_labels();
    wp__yw_doc(w, "v1", "Service");
    wp__plan_meta(w, c, c->gateway, &l);
    wp__yw_key(w, 0, "spec");
    wp__yw_str(w, 2, "type", "ClusterIP");
    wp__yw_key(w, 2, "selector");
    wp__plan_labels(w, c, 4, &l, true);
    wp__yw_key(w, 2, "ports");
    wp__yw_item_str(w, 2, "name", "http");
    wp__yw_int(w, 4, "port", c->gateway_port);
    wp__yw_str(w, 4, "targetPort", "http");
}

wp_status_t wp__plan_gateway(const wp__plan_ctx_t *c, wp__yw_t *w)
{
    char config[WP__PLAN_OBJ_NAME_MAX + 16];
    snprintf(config, sizeof(config), "%s-topology", c->gateway);
    config_map(w, c, config);
    deployment(w, c, config);
    service(w, c);
    return w->st;
}
