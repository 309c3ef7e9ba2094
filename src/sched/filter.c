/*
 * sched/filter: drops endpoints that may not serve a request. Each filter is one row in the
 * table below; an endpoint is a candidate when every filter keeps it. "healthy" drops
 * endpoints marked unhealthy; "role" keeps an endpoint when the request has no preference
 * (BOTH), when the endpoint serves both, or when the roles are equal; "exclude" drops the
 * endpoints whose bit is set in the request's exclude set (a retry's already-tried ones);
 * "room" drops an endpoint whose in-flight count has reached its limit (when it has one).
 */
#include "sched/sched_internal.h"

static bool keep_healthy(const wp__sched_ep_t *ep, int index, const wp_sched_request_t *req)
{
    return ep->healthy;
}

static bool keep_role(const wp__sched_ep_t *ep, int index, const wp_sched_request_t *req)
{
    return wp__sched_role_fits(ep->role, req->role);
}

static bool keep_not_excluded(const wp__sched_ep_t *ep, int index, const wp_sched_request_t *req)
{
    return !req->exclude || !(req->exclude[index / 64] >> (index % 64) & 1);
}

static bool keep_room(const wp__sched_ep_t *ep, int index, const wp_sched_request_t *req)
{
    return !wp__sched_at_limit(ep);
}

static const wp__sched_filter_t filters[] = {
    {"healthy", keep_healthy},
    {"role", keep_role},
    {"exclude", keep_not_excluded},
    {"room", keep_room},
};

static bool keep_all(const wp__sched_ep_t *ep, int index, const wp_sched_request_t *req)
{
    for (size_t f = 0; f < sizeof(filters) / sizeof(filters[0]); f++)
        if (!filters[f].keep(ep, index, req))
            return false;
    return true;
}

int wp__sched_filter(const wp__sched_ep_t *eps, int n_eps, const wp_sched_request_t *req, int *out)
{
    int n = 0;
    for (int i = 0; i < n_eps; i++)
        if (keep_all(&eps[i], i, req))
            out[n++] = i;
    return n;
}
