/*
 * sched/scorer_session: "session-affinity". 1 for the endpoint the request names as its
 * session's previous choice (request.session_ep), 0 for the others and when it names none.
 */
#include "sched/sched_internal.h"

static void session_score(const wp__sched_ctx_t *ctx, double *out)
{
    for (int i = 0; i < ctx->n; i++)
        out[i] = ctx->cand[i] == ctx->req->session_ep ? 1.0 : 0.0;
}

const wp__sched_scorer_t wp__sched_scorer_session = {.name = "session-affinity",
                                                     .score = session_score};
