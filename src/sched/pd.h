/*
 * sched/pd: the P/D decider, once for the live gateway (gateway/pd.c) and the simulator
 * (des/): is a request worth prefilling on a prefill endpoint before it is decoded?
 *
 * It looks at the decode endpoint the scheduler would pick (a dry pick: no count and no
 * round-robin cursor moves, but it draws from rng as any pick does, so a tie may break
 * differently at the real decode pick):
 * when the prompt and its uncached part there both reach `threshold` tokens, the prompt is
 * prefilled apart, and the prefill endpoint is picked (a real pick) into *prefill.
 * Otherwise the request goes to a decode endpoint alone. The prompt's length is the
 * caller's exact token count (req->prompt_tokens: the gateway counts with tok/, as the
 * simulated servers do; des has the workload's ids), never a guess from bytes.
 *
 * The prefill stage's outcome (wp_sched_pd_prefill_outcome): its answer is a 4xx, the
 * client's request is at fault and the client gets that answer; any other failure
 * (transport, timeout, 5xx, a bad answer) falls back to decoding without it. Outlier
 * detection hears of it as of any attempt (sched/retry.h: never of a 429; a fault at a
 * transport failure, a timeout or a 5xx).
 *
 * Pure: time and randomness are arguments; nothing is allocated; the scheduler's state is
 * read (the prefill pick moves only its round-robin cursor, as any pick does).
 */
#ifndef WP_SCHED_PD_H
#define WP_SCHED_PD_H

#include <stdbool.h>

#include "sched/sched.h"

typedef enum {
    WP_SCHED_PD_DECODE_ONLY,  /* not worth it, or no decode endpoint (its pick answers) */
    WP_SCHED_PD_DISAGGREGATE, /* *prefill holds the prefill endpoint's pick */
    WP_SCHED_PD_NO_PREFILL,   /* worth it, but no prefill endpoint can take it: decode only */
} wp_sched_pd_verdict_t;

/* req: the request as a decode pick would see it (role is ignored; prompt_tokens > 0).
 * *prefill is written only for DISAGGREGATE. */
wp_sched_pd_verdict_t wp_sched_pd_decide(wp_sched_t *s, double now, const wp_sched_request_t *req,
                                         double threshold, wp_rng_t *rng, wp_sched_pick_t *prefill);
typedef struct wp_sched_pd_prefill_s {
    bool ok;        /* a 2xx: decode with its KV */
    bool to_client; /* a 4xx: the client gets the prefill endpoint's answer */
    bool fall_back; /* anything else: decode without it */
    bool judged;    /* outlier detection hears of it */
    bool fault;     /* ... as a failure of the prefill endpoint */
} wp_sched_pd_prefill_t;

/* outcome: the prefill answer's HTTP status, or WP_SCHED_RETRY_TRANSPORT / _TIMEOUT. */
wp_sched_pd_prefill_t wp_sched_pd_prefill_outcome(int outcome);

/* "decode_only", "disaggregate", "no_prefill_endpoint". */
const char *wp_sched_pd_name(wp_sched_pd_verdict_t v);

#endif
