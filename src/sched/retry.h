/*
 * sched/retry: what an attempt's outcome means, once for the live gateway
 * (gateway/proxy.c, gateway/pd.c) and the simulator (des/).
 *
 * An attempt ends at the transport (connect error, reset, a cut answer:
 * WP_SCHED_RETRY_TRANSPORT; no answer in time: WP_SCHED_RETRY_TIMEOUT) or with an HTTP
 * status. Worth another endpoint: a transport failure, a timeout, 500, 502, 503, 504, and
 * 429 (a server that sheds load). Such a failure is retried on an endpoint the request
 * has not tried, only before any byte of the answer has reached the client, and at most
 * `retries` times: attempts run from 1 to 1 + retries.
 *
 * What the client hears:
 *   - retried, but no other endpoint can take it: 429 and 503 keep their meaning (load
 *     shed, unavailable), a timeout is 504, anything else 502;
 *   - not retried, an HTTP answer: that answer, passed on as it came;
 *   - not retried, a transport failure: 502; a timeout: 504.
 * Outlier detection hears of every outcome but a 429 (a server shedding load is no fault
 * of it, nor a sign of health): a transport failure, a timeout and any 5xx (also one
 * passed on) count against the endpoint; anything else is a success.
 *
 * Pure functions of their arguments.
 */
#ifndef WP_SCHED_RETRY_H
#define WP_SCHED_RETRY_H

#include <stdbool.h>

#define WP_SCHED_RETRY_TRANSPORT (-1) /* connect error, reset, cut answer */
#define WP_SCHED_RETRY_TIMEOUT (-2)

typedef struct wp_sched_retry_s {
    bool retry;  /* try another endpoint */
    bool pass;   /* not retried, and the upstream's answer goes to the client as it is */
    int status;  /* the client's status (see above) */
    bool judged; /* outlier detection hears of it */
    bool fault;  /* ... as a failure of the endpoint (else as a success) */
} wp_sched_retry_t;

/* outcome: an HTTP status, or WP_SCHED_RETRY_TRANSPORT / _TIMEOUT. attempts: made so far,
 * this one included; responded: a byte has reached the client. */
wp_sched_retry_t wp_sched_retry_decide(int outcome, int attempts, int retries, bool responded);

#endif
