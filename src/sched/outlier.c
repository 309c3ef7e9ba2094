/*
 * sched/outlier: see outlier.h.
 */
#include "sched/outlier.h"

#include <stdlib.h>

struct wp_sched_outlier_s {
    wp_sched_outlier_cfg_t cfg;
    int n;
    wp_sched_outlier_ep_t *eps;
};

void wp_sched_outlier_cfg_default(wp_sched_outlier_cfg_t *cfg)
{
    *cfg = (wp_sched_outlier_cfg_t){5, 30.0, 300.0, 50};
}

wp_sched_outlier_t *wp_sched_outlier_new(int n, const wp_sched_outlier_cfg_t *cfg, wp_err_t *err)
{
    if (n < 0 || n > WP_SCHED_MAX_ENDPOINTS) {
        wp_err_set(err, WP_EINVAL, "outlier detection: %d endpoints (at most %d)", n,
                   WP_SCHED_MAX_ENDPOINTS);
        return NULL;
    }
    wp_sched_outlier_t *o = calloc(1, sizeof(*o));
    wp_sched_outlier_ep_t *eps = calloc(n > 0 ? (size_t)n : 1, sizeof(*eps));
    if (o == NULL || eps == NULL) {
        free(o);
        free(eps);
        wp_err_set(err, WP_ENOMEM, "out of memory");
        return NULL;
    }
    o->cfg = *cfg;
    o->n = n;
    o->eps = eps;
    for (int i = 0; i < n; i++)
        eps[i].healthy = true;
    return o;
}

void wp_sched_outlier_free(wp_sched_outlier_t *o)
{
    if (o == NULL)
        return;
    free(o->eps);
    free(o);
}

void wp_sched_outlier_configure(wp_sched_outlier_t *o, const wp_sched_outlier_cfg_t *cfg)
{
    o->cfg = *cfg;
}

wp_sched_outlier_ep_t *wp_sched_outlier_ep(wp_sched_outlier_t *o, int i)
{
    return i >= 0 && i < o->n ? &o->eps[i] : NULL;
}

const wp_sched_outlier_ep_t *wp_sched_outlier_get(const wp_sched_outlier_t *o, int i)
{
    return i >= 0 && i < o->n ? &o->eps[i] : NULL;
}

const char *wp_sched_outlier_event_name(wp_sched_outlier_event_t ev)
{
    static const char *const names[] = {"none", "ejected", "probation", "recovered"};
    return (unsigned)ev < sizeof(names) / sizeof(names[0]) ? names[ev] : "unknown";
}

/* In the pool and not held back. */
static bool serves_fully(const wp_sched_outlier_ep_t *e)
{
    return e->healthy && !e->ejected && !e->probation;
}

/* Ejecting one more keeps the ejected share within max_ejection_percent (at least one). */
static bool may_eject(const wp_sched_outlier_t *o)
{
    int pct = o->cfg.max_ejection_percent, ejected = 0;
    if (pct <= 0)
        return false;
    for (int i = 0; i < o->n; i++)
        ejected += o->eps[i].ejected;
    int cap = o->n * pct / 100;
    return ejected < (cap > 0 ? cap : 1);
}

static double ejection_s(const wp_sched_outlier_cfg_t *c, int ejections)
{
    double s = c->base_ejection_s;
    for (int k = 0; k < ejections && s < c->max_ejection_s; k++)
        s *= 2;
    return s < c->max_ejection_s ? s : c->max_ejection_s;
}

wp_sched_outlier_event_t wp_sched_outlier_note(wp_sched_outlier_t *o, int i, bool fault, double now,
                                               double *for_s)
{
    wp_sched_outlier_ep_t *e = wp_sched_outlier_ep(o, i);
    if (e == NULL || o->cfg.consecutive_failures <= 0)
        return WP_SCHED_OUTLIER_NONE;
    if (!fault) {
        e->consecutive_failures = 0;
        if (!e->probation)
            return WP_SCHED_OUTLIER_NONE;
        e->probation = false;
        e->recovered_at = now;
        return WP_SCHED_OUTLIER_RECOVERED;
    }
    e->consecutive_failures++;
    if (e->ejected)
        return WP_SCHED_OUTLIER_NONE;
    bool due = e->probation || e->consecutive_failures >= o->cfg.consecutive_failures;
    if (!due || !may_eject(o))
        return WP_SCHED_OUTLIER_NONE;
    double s = ejection_s(&o->cfg, e->ejections);
    e->ejected = true;
    e->probation = false;
    e->ejected_until = now + s;
    e->ejections++;
    e->ejections_total++;
    if (for_s != NULL)
        *for_s = s;
    return WP_SCHED_OUTLIER_EJECTED;
}

wp_sched_outlier_event_t wp_sched_outlier_tick(wp_sched_outlier_t *o, int i, double now)
{
    wp_sched_outlier_ep_t *e = wp_sched_outlier_ep(o, i);
    if (e == NULL)
        return WP_SCHED_OUTLIER_NONE;
    if (o->cfg.consecutive_failures <= 0) { /* off: nothing would ever end these */
        e->ejected = e->probation = false;
        e->consecutive_failures = e->ejections = 0;
        return WP_SCHED_OUTLIER_NONE;
    }
    if (!e->ejected) {
        if (e->ejections > 0 && !e->probation && now - e->recovered_at >= o->cfg.max_ejection_s)
            e->ejections = 0; /* well long enough: the back-off starts over */
        return WP_SCHED_OUTLIER_NONE;
    }
    if (now < e->ejected_until)
        return WP_SCHED_OUTLIER_NONE;
    e->ejected = false;
    e->probation = true;
    return WP_SCHED_OUTLIER_PROBATION;
}

void wp_sched_outlier_apply(const wp_sched_outlier_t *o, wp_sched_t *s, uint32_t max_in_flight)
{
    int full = 0;
    for (int i = 0; i < o->n; i++)
        full += serves_fully(&o->eps[i]);
    for (int i = 0; i < o->n; i++) {
        const wp_sched_outlier_ep_t *e = &o->eps[i];
        bool one = e->probation && full > 0;
        wp_sched_endpoint_set_healthy(s, i, e->healthy && !e->ejected);
        wp_sched_endpoint_set_limit(s, i, one ? 1 : max_in_flight);
    }
}
