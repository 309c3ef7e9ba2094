/*
 * sched/filter: drops endpoints that may not serve a request. Each filter is one row in the
 * table below; an endpoint is a candidate when every filter keeps it. "healthy" drops
 * endpoints marked unhealthy; "role" keeps an endpoint when the request has no preference
 * (BOTH), when the endpoint serves both, or when the roles are equal; "exclude" drops the
 * endpoints whose bit is set in the request's exclude set (a retry's already-tried ones);
 * "room" drops an endpoint whose in-flight count has reached its limit (when it has one).
 */
#include "sched/sched_internal.h"

/* The filters, one row each: a name, and when it keeps endpoint e (index i) for req. */
#define FILTERS(X)                                                                                 \
    X(healthy, e->healthy)                                                                         \
    X(role, wp__sched_role_fits(e->role, req->role))                                               \
    X(exclude, !req->exclude || !(req->exclude[i / 64] >> (i % 64) & 1))                           \
    X(room, !wp__sched_at_limit(e))

#define AND_KEEP(name, keep) &&(keep)

/* One pass over the endpoints, every filter's test inline: a pick over a thousand endpoints
 * reads each once. */
int wp__sched_filter(const wp__sched_ep_t *eps, int n_eps, const wp_sched_request_t *req, int *out)
{
    int k = 0;
    for (int i = 0; i < n_eps; i++) {
        const wp__sched_ep_t *e = &eps[i];
        if (true FILTERS(AND_KEEP))
            out[k++] = i;
    }
    return k;
}
