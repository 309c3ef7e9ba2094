/*
 * sched/drain: see drain.h. 503 is the status vLLM's API server answers while it drains
 * (/health and new requests, vllm-project/vllm#32420); any other failure stays a failure
 * counted as before, so a flaky server is not ejected on one bad answer.
 */
#include "sched/drain.h"

wp_sched_health_t wp_sched_health_verdict(bool answered, int status)
{
    if (!answered)
        return WP_SCHED_HEALTH_FAILED;
    if (status >= 200 && status <= 299)
        return WP_SCHED_HEALTH_OK;
    return status == 503 ? WP_SCHED_HEALTH_DRAINING : WP_SCHED_HEALTH_FAILED;
}

bool wp_sched_drain_suspect(int status)
{
    return status == 503;
}

const char *wp_sched_health_name(wp_sched_health_t h)
{
    static const char *const names[] = {"ok", "draining", "failed"};
    return (unsigned)h < sizeof(names) / sizeof(names[0]) ? names[h] : "?";
}
