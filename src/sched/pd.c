/*
 * sched/pd: see pd.h.
 */
#include "sched/pd.h"

#include "sched/retry.h"

const char *wp_sched_pd_name(wp_sched_pd_verdict_t v)
{
    static const char *const names[] = {"decode_only", "disaggregate", "no_prefill_endpoint"};
    return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "unknown";
}

wp_sched_pd_verdict_t wp_sched_pd_decide(wp_sched_t *s, double now, const wp_sched_request_t *req,
                                         double threshold, wp_rng_t *rng, wp_sched_pick_t *prefill)
{
    wp_sched_request_t sr = *req;
    sr.role = WP_SCHED_ROLE_DECODE;
    sr.dry = true;
    wp_sched_pick_t dry;
    if (wp_sched_pick(s, now, &sr, rng, &dry, NULL) != WP_OK)
        return WP_SCHED_PD_DECODE_ONLY; /* no decode endpoint: the decode pick answers */
    if ((double)req->prompt_tokens < threshold || dry.prefill_tokens < threshold)
        return WP_SCHED_PD_DECODE_ONLY;
    sr.role = WP_SCHED_ROLE_PREFILL;
    sr.dry = false;
    if (wp_sched_pick(s, now, &sr, rng, prefill, NULL) != WP_OK)
        return WP_SCHED_PD_NO_PREFILL;
    return WP_SCHED_PD_DISAGGREGATE;
}

wp_sched_pd_prefill_t wp_sched_pd_prefill_outcome(int outcome)
{
    wp_sched_retry_t r = wp_sched_retry_decide(outcome, 1, 0, true); /* never retried */
    wp_sched_pd_prefill_t p = {.judged = r.judged, .fault = r.fault};
    p.ok = outcome >= 200 && outcome < 300;
    p.to_client = outcome >= 400 && outcome < 500;
    p.fall_back = !p.ok && !p.to_client;
    return p;
}
