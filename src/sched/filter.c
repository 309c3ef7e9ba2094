/*
 * sched/filter: drops endpoints that may not serve a request. Each filter is one row in the
 * table below; an endpoint is a candidate when every filter keeps it. "healthy" drops
 * endpoints marked unhealthy; "role" keeps an endpoint when the request has no preference
 * (BOTH), when the endpoint serves both, or when the roles are equal; "exclude" drops the
 * endpoints whose bit is set in the request's exclude set (a retry's already-tried ones);
 * "room" drops an endpoint whose in-flight count has reached its limit (when it has one).
 */
#include "sched/sched_internal.h"

/* A filter keeps, in order, the candidates (endpoint indices) for which `keep` holds, with
 * e the endpoint, i its index and req the request; one pass over the candidates each, so a
 * pick over a thousand endpoints makes four calls, not four thousand. */
#define FILTER(fn, keep)                                                                           \
    static int fn(const wp__sched_ep_t *eps, const wp_sched_request_t *req, int *cand, int n)      \
    {                                                                                              \
        (void)req;                                                                                 \
        int k = 0;                                                                                 \
        for (int c = 0; c < n; c++) {                                                              \
            int i = cand[c];                                                                       \
            const wp__sched_ep_t *e = &eps[i];                                                     \
            (void)e;                                                                               \
            if (keep)                                                                              \
                cand[k++] = i;                                                                     \
        }                                                                                          \
        return k;                                                                                  \
    }

FILTER(keep_healthy, e->healthy)
FILTER(keep_role, wp__sched_role_fits(e->role, req->role))
FILTER(keep_not_excluded, !req->exclude || !(req->exclude[i / 64] >> (i % 64) & 1))
FILTER(keep_room, !wp__sched_at_limit(e))

static const wp__sched_filter_t filters[] = {
    {"healthy", keep_healthy},
    {"role", keep_role},
    {"exclude", keep_not_excluded},
    {"room", keep_room},
};

int wp__sched_filter(const wp__sched_ep_t *eps, int n_eps, const wp_sched_request_t *req, int *out)
{
    for (int i = 0; i < n_eps; i++)
        out[i] = i;
    int n = n_eps;
    for (size_t f = 0; f < sizeof(filters) / sizeof(filters[0]) && n > 0; f++)
        n = filters[f].pass(eps, req, out, n);
    return n;
}
