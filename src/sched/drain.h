/*
 * sched/drain: what the gateway and the simulator make of a server that is going away. A
 * server under a preemption notice, or under SIGTERM with vLLM's --shutdown-timeout,
 * drains: it answers /health with 503 and refuses new requests with 503 while its running
 * streams go on. That answer is definitive, unlike a failed connection or a timeout (which
 * may be a blip and takes two checks in a row): the endpoint leaves the pool at once and
 * comes back at its next good health answer (after a restart, a replacement).
 *
 * A request answered 503 before its first byte is retried elsewhere (sched/retry); the
 * endpoint's health is then checked at once, so a draining server is out after one
 * refused request rather than at the next health interval.
 *
 * Pure: a function of the answer.
 */
#ifndef WP_SCHED_DRAIN_H
#define WP_SCHED_DRAIN_H

#include <stdbool.h>

typedef enum {
    WP_SCHED_HEALTH_OK,       /* 2xx: healthy */
    WP_SCHED_HEALTH_DRAINING, /* 503: shutting down; out of the pool at once */
    WP_SCHED_HEALTH_FAILED,   /* no answer or any other status: counts toward ejection */
} wp_sched_health_t;

/* The verdict of one /health check: answered is false when no status came back. */
wp_sched_health_t wp_sched_health_verdict(bool answered, int status);
/* Whether a request's upstream status before the first byte calls for a health check of
 * that endpoint now (503: it may be draining). */
bool wp_sched_drain_suspect(int status);
const char *wp_sched_health_name(wp_sched_health_t h);

#endif
