/*
 * sched/retry: see retry.h.
 */
#include "sched/retry.h"

static bool worth_retry(int outcome)
{
    return outcome < 0 || outcome == 429 || outcome == 500 || outcome == 502 || outcome == 503 ||
           outcome == 504;
}

/* The gateway's own answer for a failure it cannot pass on or retry elsewhere. */
static int gateway_status(int outcome)
{
    if (outcome == WP_SCHED_RETRY_TIMEOUT)
        return 504;
    if (outcome == 429 || outcome == 503)
        return outcome;
    return 502;
}

wp_sched_retry_t wp_sched_retry_decide(int outcome, int attempts, int retries, bool responded)
{
    wp_sched_retry_t r = {.judged = outcome != 429, .fault = outcome < 0 || outcome >= 500};
    r.retry = worth_retry(outcome) && !responded && attempts <= retries;
    if (r.retry)
        r.status = gateway_status(outcome);
    else if (outcome > 0)
        r.pass = true, r.status = outcome;
    else
        r.status = outcome == WP_SCHED_RETRY_TIMEOUT ? 504 : 502;
    return r;
}
