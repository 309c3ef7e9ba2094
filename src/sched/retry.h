/*
 * sched/retry: what a failed attempt means, once for the live gateway (gateway/proxy.c)
 * and the simulator (des/).
 *
 * An attempt fails at the transport (connect error, reset: WP_SCHED_RETRY_TRANSPORT;
 * timeout: WP_SCHED_RETRY_TIMEOUT) or with an HTTP status. A failure is retried on
 * another endpoint (one the request has not tried) only before any byte of the answer has
 * reached the client, and at most `retries` times: attempts run from 1 to 1 + retries.
 * Worth a retry: a transport failure, a timeout, 500, 502, 503, 504, and 429 (a server
 * that sheds load). Any other status is the answer. When no retry is left, the client
 * hears: 429 and 503 as they are (load shed, unavailable: their meaning holds), 504 for a
 * timeout, 502 for anything else. Outlier detection counts a transport failure, a timeout
 * and any 5xx (also one passed on as the answer) against the endpoint, never a 429 (a
 * server shedding load is no fault of it).
 *
 * Pure functions of their arguments.
 */
#ifndef WP_SCHED_RETRY_H
#define WP_SCHED_RETRY_H

#include <stdbool.h>

#define WP_SCHED_RETRY_TRANSPORT (-1) /* connect error, reset, cut answer */
#define WP_SCHED_RETRY_TIMEOUT (-2)

typedef struct wp_sched_retry_s {
    bool retry;      /* try another endpoint */
    int status;      /* when not retried: what the client gets */
    bool fault;      /* counts against the endpoint (outlier detection) */
    bool is_failure; /* the attempt failed (false: the status is the answer to pass on) */
} wp_sched_retry_t;

/* outcome: an HTTP status, or WP_SCHED_RETRY_TRANSPORT / _TIMEOUT. attempts: made so far,
 * this one included; responded: a byte has reached the client. */
wp_sched_retry_t wp_sched_retry_decide(int outcome, int attempts, int retries, bool responded);

#endif
