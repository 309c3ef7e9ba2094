/*
 * sched/scorer_load: "load-aware". With T = load_threshold and q the endpoint's load, what
 * it holds waiting or running (wp__sched_ep_load: the gateway's in-flight count plus, with
 * fresh metrics, what the scrape saw beyond the gateway's own requests,
 * max(0, waiting + running − in_flight at the scrape)): q = 0 scores 0.5, otherwise
 * 0.5 × (1 − min(q, T)/T). Running requests count, so a server with every slot busy and
 * an empty queue never ties with an idle one (llm-d's load-aware scorer reads the waiting
 * queue alone, which stays 0 until all slots are busy; docs/scheduling.md). The score
 * never exceeds 0.5, so with weights prefix 100 / load 50 load can move at most 25 points:
 * it overrides a prefix difference below 0.25.
 */
#include "sched/sched_internal.h"

#include <math.h>

static void load_score(const wp__sched_ctx_t *ctx, double *out)
{
    double t = ctx->cfg->load_threshold;
    for (int i = 0; i < ctx->n; i++) {
        double q = wp__sched_ep_load(ctx, ctx->cand[i]);
        out[i] = q <= 0.0 ? 0.5 : 0.5 * (1.0 - fmin(q, t) / t);
    }
}

const wp__sched_scorer_t wp__sched_scorer_load = {.name = "load-aware", .score = load_score};
