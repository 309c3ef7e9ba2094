/*
 * sched/retry: see retry.h.
 */
#include "sched/retry.h"

static bool worth_retry(int outcome)
{
    return outcome < 0 || outcome == 429 || outcome == 500 || outcome == 502 || outcome == 503 ||
           outcome == 504;
}

/* What the client hears when nothing more is tried. */
static int client_status(int outcome)
{
    if (outcome == WP_SCHED_RETRY_TIMEOUT)
        return 504;
    if (outcome == 429 || outcome == 503)
        return outcome;
    return 502;
}

wp_sched_retry_t wp_sched_retry_decide(int outcome, int attempts, int retries, bool responded)
{
    wp_sched_retry_t r = {.status = outcome, .fault = outcome < 0 || outcome >= 500};
    if (!worth_retry(outcome))
        return r; /* an answer: 2xx, 4xx, or a 5xx that is no reason to go elsewhere */
    r.is_failure = true;
    r.retry = !responded && attempts <= retries;
    r.status = client_status(outcome);
    return r;
}
