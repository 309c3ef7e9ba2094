/*
 * sched/outlier: passive outlier detection and probation, as a load balancer does it, once
 * for the live gateway and the simulator. Health checks see a server that answers
 * /health; this sees one that fails real requests while its /health still answers (a bad
 * GPU, a wedged engine, a server that answers 500 to everything).
 *
 *   well --N faults in a row--> ejected --time up--> probation --success--> well
 *                                  ^                     |
 *                                  +--------fault--------+
 *
 * Ejected: out of the scheduler's pool for base × 2^k s (k = ejections since it last
 * stayed well for max_ejection_s), at most max_ejection_s. Probation: back in the pool
 * with an in-flight limit of 1 while some other endpoint serves fully (with none, the
 * limit would only turn clients away), so each request it gets is a recovery probe. At
 * most max_ejection_percent of the endpoints are ejected at once (at least one when the
 * percentage is above 0). consecutive_failures 0 turns it off: a tick then ends every
 * ejection and probation.
 *
 * What the scheduler sees of an endpoint (in its pool: health checks pass and not
 * ejected; its in-flight limit) is pushed in one place, wp_sched_outlier_apply. Endpoint i
 * here is endpoint i of that scheduler. Time is an argument, in seconds. The object owns
 * its array of n states; callers may read and copy states (a reload carries them over).
 */
#ifndef WP_SCHED_OUTLIER_H
#define WP_SCHED_OUTLIER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "sched/sched.h"

typedef struct wp_sched_outlier_cfg_s {
    int consecutive_failures; /* 5; 0 = off */
    double base_ejection_s;   /* 30 */
    double max_ejection_s;    /* 300 */
    int max_ejection_percent; /* 50 */
} wp_sched_outlier_cfg_t;

typedef struct wp_sched_outlier_ep_s {
    bool healthy;             /* the health checks' verdict; true at start */
    int consecutive_failures; /* faults in a row */
    bool ejected;             /* out of the pool until ejected_until */
    bool probation;           /* back, one request at a time, until one succeeds */
    double ejected_until;
    double recovered_at; /* when it last left probation */
    int ejections;       /* the back-off exponent: ejections since it last stayed well */
    uint64_t ejections_total;
} wp_sched_outlier_ep_t;

typedef enum {
    WP_SCHED_OUTLIER_NONE,
    WP_SCHED_OUTLIER_EJECTED,   /* for *for_s seconds */
    WP_SCHED_OUTLIER_PROBATION, /* its ejection ended */
    WP_SCHED_OUTLIER_RECOVERED, /* a success on probation */
} wp_sched_outlier_event_t;

typedef struct wp_sched_outlier_s wp_sched_outlier_t;

void wp_sched_outlier_cfg_default(wp_sched_outlier_cfg_t *cfg);
/* n endpoints (0..WP_SCHED_MAX_ENDPOINTS), healthy and well. NULL with err. */
wp_sched_outlier_t *wp_sched_outlier_new(int n, const wp_sched_outlier_cfg_t *cfg, wp_err_t *err);
void wp_sched_outlier_free(wp_sched_outlier_t *o);
void wp_sched_outlier_configure(wp_sched_outlier_t *o, const wp_sched_outlier_cfg_t *cfg);
/* Endpoint i's state (NULL out of range), valid until free. */
wp_sched_outlier_ep_t *wp_sched_outlier_ep(wp_sched_outlier_t *o, int i);
const wp_sched_outlier_ep_t *wp_sched_outlier_get(const wp_sched_outlier_t *o, int i);

/* An attempt on endpoint i ended; fault: it counts against the endpoint (sched/retry.h). */
wp_sched_outlier_event_t wp_sched_outlier_note(wp_sched_outlier_t *o, int i, bool fault, double now,
                                               double *for_s);
/* Time passes for endpoint i: an ejection whose time is up ends in probation; an endpoint
 * well for max_ejection_s starts its back-off over. */
wp_sched_outlier_event_t wp_sched_outlier_tick(wp_sched_outlier_t *o, int i, double now);
/* Pushes into s (whose endpoints 0..n-1 are these) what it must know: in the pool or not,
 * and the in-flight limit (max_in_flight, or 1 on probation while another serves fully). */
void wp_sched_outlier_apply(const wp_sched_outlier_t *o, wp_sched_t *s, uint32_t max_in_flight);
/* "none", "ejected", "probation", "recovered". */
const char *wp_sched_outlier_event_name(wp_sched_outlier_event_t ev);

#endif
