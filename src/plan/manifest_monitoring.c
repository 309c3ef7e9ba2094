/*
 * plan/manifest_monitoring: monitoring.yaml, for the Prometheus Operator and Grafana.
 *
 * A ServiceMonitor scrapes the gateway's /metrics through its Service (so its series carry
 * job="<name>-gateway", which keda.yaml queries); a PodMonitor scrapes every pod that serves
 * the API (label wellpath/api, port "http": vLLM's /metrics). The rules files become
 * PrometheusRules: a rules file is a mapping with a top-level `groups:`, and a
 * PrometheusRule's spec is that same mapping, so the text goes under `spec:` indented by
 * two, comments and all (manifest.c checked it is one block mapping). The dashboard goes
 * into a ConfigMap labelled grafana_dashboard: "1", the label Grafana's dashboard sidecar
 * watches by default. A text not given leaves its object out, with a comment saying so.
 */
#include <stdio.h>
#include <string.h>

#include "plan/manifest_internal.h"

static wp__plan_labels_t monitoring_labels(void)
{
    return (wp__plan_labels_t){.app = "wellpath", .component = "monitoring"};
}

static void service_monitor(wp__yw_t *w, const wp__plan_ctx_t *c)
{
    wp__plan_labels_t l = monitoring_labels();
    wp__plan_labels_t g = {.app = "wellpath-gateway", .component = "gateway"};
    wp__yw_doc(w, "monitoring.coreos.com/v1", "ServiceMonitor");
    wp__plan_meta(w, c, c->gateway, &l);
    wp__yw_key(w, 0, "spec");
    wp__yw_key(w, 2, "selector");
    wp__yw_key(w, 4, "matchLabels");
    wp__plan_labels(w, c, 6, &g, true);
    wp__yw_key(w, 2, "endpoints");
    wp__yw_item_str(w, 2, "port", "http");
    wp__yw_str(w, 4, "path", "/metrics");
    wp__yw_str(w, 4, "interval", "15s");
}

static void pod_monitor(wp__yw_t *w, const wp__plan_ctx_t *c)
{
    char name[WP__PLAN_OBJ_NAME_MAX];
    snprintf(name, sizeof(name), "%s-model-servers", c->name);
    wp__plan_labels_t l = monitoring_labels();
    wp__yw_doc(w, "monitoring.coreos.com/v1", "PodMonitor");
    wp__plan_meta(w, c, name, &l);
    wp__yw_key(w, 0, "spec");
    wp__yw_key(w, 2, "selector");
    wp__yw_key(w, 4, "matchLabels");
    wp__yw_str(w, 6, "app.kubernetes.io/instance", c->name);
    wp__yw_str(w, 6, "wellpath/api", "true");
    wp__yw_key(w, 2, "podMetricsEndpoints");
    wp__yw_item_str(w, 2, "port", "http");
    wp__yw_str(w, 4, "path", "/metrics");
    wp__yw_str(w, 4, "interval", "15s");
}

/* The rules text under spec:, every non-empty line indented by two. */
static void indented(wp__yw_t *w, const char *text)
{
    const char *p = text;
    while (*p != 0) {
        size_t n = strcspn(p, "\n");
        if (n > 0) {
            wp__yw_indent(w, 2);
            if (w->st == WP_OK)
                w->st = wp_buf_append(&w->buf, p, n);
        }
        wp__yw_printf(w, "\n");
        p += n + (p[n] == '\n' ? 1 : 0);
    }
}

static void prometheus_rule(wp__yw_t *w, const wp__plan_ctx_t *c, const char *suffix,
                            const char *text, const char *source)
{
    char name[WP__PLAN_OBJ_NAME_MAX];
    snprintf(name, sizeof(name), "%s-%s", c->name, suffix);
    if (text == NULL) {
        char note[WP__PLAN_OBJ_NAME_MAX + 96];
        snprintf(note, sizeof(note), "PrometheusRule %s left out: no rules text given (%s).", name,
                 source);
        wp__yw_printf(w, "\n");
        wp__yw_comment(w, note);
        return;
    }
    wp__plan_labels_t l = monitoring_labels();
    wp__yw_doc(w, "monitoring.coreos.com/v1", "PrometheusRule");
    wp__plan_meta(w, c, name, &l);
    wp__yw_key(w, 0, "spec");
    indented(w, text);
}

static void dashboard(wp__yw_t *w, const wp__plan_ctx_t *c)
{
    char name[WP__PLAN_OBJ_NAME_MAX];
    snprintf(name, sizeof(name), "%s-grafana-dashboard", c->name);
    if (c->d->grafana_dashboard_json == NULL) {
        wp__yw_printf(w, "\n");
        wp__yw_comment(w, "ConfigMap left out: no Grafana dashboard given "
                          "(deploy/grafana/wellpath-dashboard.json).");
        return;
    }
    wp__plan_labels_t l = monitoring_labels();
    wp__yw_doc(w, "v1", "ConfigMap");
    wp__yw_key(w, 0, "metadata");
    wp__yw_str(w, 2, "name", name);
    wp__yw_str(w, 2, "namespace", c->ns);
    wp__yw_key(w, 2, "labels");
    wp__plan_labels(w, c, 4, &l, false);
    wp__yw_str(w, 4, "grafana_dashboard", "1");
    wp__yw_key(w, 0, "data");
    wp__yw_text(w, 2, "wellpath-dashboard.json", c->d->grafana_dashboard_json);
}

wp_status_t wp__plan_monitoring(const wp__plan_ctx_t *c, wp__yw_t *w)
{
    service_monitor(w, c);
    pod_monitor(w, c);
    prometheus_rule(w, c, "slo", c->d->prometheus_rules_yaml,
                    "deploy/prometheus/wellpath-rules.yml");
    prometheus_rule(w, c, "guide", c->d->guide_rules_yaml, "deploy/prometheus/guide-rules.yml");
    dashboard(w, c);
    return w->st;
}
