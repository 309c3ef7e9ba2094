/*
 * sched/decision: see decision.h.
 */
#include "sched/decision.h"

#include <string.h>

static const char *const names[WP_SCHED_DECISION_KINDS] = {
    [WP_SCHED_DECISION_PICK] = "pick",
    [WP_SCHED_DECISION_QUEUE] = "queue",
    [WP_SCHED_DECISION_DEQUEUE] = "dequeue",
    [WP_SCHED_DECISION_SHED] = "shed",
    [WP_SCHED_DECISION_UNAVAILABLE] = "unavailable",
    [WP_SCHED_DECISION_RETRY] = "retry",
    [WP_SCHED_DECISION_PD] = "pd",
    [WP_SCHED_DECISION_EJECT] = "eject",
    [WP_SCHED_DECISION_PROBATION] = "probation",
    [WP_SCHED_DECISION_RECOVER] = "recover",
    [WP_SCHED_DECISION_RELOAD] = "reload",
};

const char *wp_sched_decision_name(wp_sched_decision_kind_t kind)
{
    return kind < WP_SCHED_DECISION_KINDS ? names[kind] : "unknown";
}

static void string_field(wp_buf_t *out, const char *key, const char *v)
{
    if (v == NULL)
        return;
    wp_buf_printf(out, ",\"%s\":\"", key);
    wp_buf_json_escape(out, v, strlen(v));
    wp_buf_puts(out, "\"");
}

static void pick_fields(wp_buf_t *out, const wp_sched_decision_t *d)
{
    static const char *const roles[] = {"any", "prefill", "decode"};
    const wp_sched_pick_t *p = d->pick;
    wp_buf_printf(out, ",\"role\":\"%s\",\"attempt\":%d", roles[d->role % 3], d->attempt);
    if (p == NULL)
        return;
    wp_buf_printf(out, ",\"prefix\":%.4f,\"candidates\":%d,\"scores\":{", p->prefix_ratio,
                  p->n_candidates);
    for (int i = 0; i < p->n_scores; i++)
        wp_buf_printf(out, "%s\"%s\":%.4f", i ? "," : "", p->scores[i].name, p->scores[i].raw);
    wp_buf_puts(out, "}");
}

void wp_sched_decision_write(wp_buf_t *out, double t, const wp_sched_decision_t *d)
{
    wp_buf_printf(out, "{\"t\":%.6f,\"event\":\"%s\"", t, wp_sched_decision_name(d->kind));
    string_field(out, "request", d->request);
    string_field(out, "endpoint", d->endpoint);
    switch (d->kind) {
    case WP_SCHED_DECISION_PICK:
        pick_fields(out, d);
        break;
    case WP_SCHED_DECISION_SHED:
        string_field(out, "reason", d->detail);
        break;
    case WP_SCHED_DECISION_PD:
        string_field(out, "decision", d->detail);
        break;
    case WP_SCHED_DECISION_RETRY:
        wp_buf_printf(out, ",\"status\":%d", d->status);
        break;
    case WP_SCHED_DECISION_EJECT:
        wp_buf_printf(out, ",\"seconds\":%.3f", d->seconds);
        break;
    case WP_SCHED_DECISION_RELOAD:
        wp_buf_printf(out, ",\"generation\":%llu", d->generation);
        break;
    default:
        break;
    }
    wp_buf_puts(out, "}\n");
}

wp_sched_decision_kind_t wp_sched_decision_of_outlier(wp_sched_outlier_event_t ev)
{
    switch (ev) {
    case WP_SCHED_OUTLIER_EJECTED:
        return WP_SCHED_DECISION_EJECT;
    case WP_SCHED_OUTLIER_PROBATION:
        return WP_SCHED_DECISION_PROBATION;
    case WP_SCHED_OUTLIER_RECOVERED:
        return WP_SCHED_DECISION_RECOVER;
    default:
        return WP_SCHED_DECISION_KINDS;
    }
}
