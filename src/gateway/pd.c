/*
 * gateway/pd: prefill/decode disaggregation (docs/pd.md, docs/reference.md §4), the stage
 * that runs before the decode endpoint is called.
 *
 * The decider (sched/pd.h, shared with the simulator) looks at the decode endpoint the
 * scheduler would pick: when the prompt and its uncached part there both reach
 * pd_threshold tokens, a prefill endpoint is picked and sent the prefill body (max_tokens 1, not
 * streamed, do_remote_decode). Its answer's kv_transfer_params go into the decode body, and
 * wp__gw_proxy_attempt sends that to a decode endpoint and streams the answer back. A prefill 4xx
 * goes to the client as it is; any other prefill failure falls back to decode-only with the
 * client's own body, counted by reason and logged. Both stages carry the same X-Request-Id.
 */
#include "gateway/internal.h"

#include <stdio.h>
#include <string.h>

#include "api/pd.h"
#include "sched/pd.h"
#include "sched/retry.h"
#include "base/log.h"

static const char *const fallback_names[GW_PD_FALLBACK_KINDS] = {
    "no_prefill_endpoint", "connect", "timeout", "http_5xx", "bad_response"};

const char *wp__gw_pd_fallback_name(int kind)
{
    return fallback_names[kind];
}

static void release_prefill(gw_proxy_t *p)
{
    if (!p->pf_dispatched)
        return;
    wp__gw_ep_prefilled(p->gw, p->pool, p->pf_ep, &p->pf_pick);
    wp__gw_ep_done(p->gw, p->pool, p->pf_ep, &p->pf_pick);
    p->pf_dispatched = false;
}

void wp__gw_pd_end(gw_proxy_t *p)
{
    if (p->pf_call != NULL)
        wp_http_call_cancel(p->pf_call);
    p->pf_call = NULL;
    release_prefill(p);
}

static void fall_back(gw_proxy_t *p, gw_pd_fallback_t why, const char *detail)
{
    p->pf_cached = -1;
    p->gw->tally.pd_fallbacks[why]++;
    p->gw->tally.pd_decode_only++;
    wp_buf_reset(&p->send_body);
    char q[300];
    wp_log(WP_LOG_WARN, "prefill failed, decoding without it", "id=%s reason=%s detail=%s",
           p->request_id, fallback_names[why], wp_log_quote(q, sizeof(q), detail));
    wp__gw_proxy_attempt(p);
}

static void pf_head(void *ud, int status, const wp_http_headers_t *h)
{
    gw_proxy_t *p = ud;
    p->pf_status = status;
    wp_buf_reset(&p->pf_answer);
}

static void pf_body(void *ud, const char *data, size_t len)
{
    gw_proxy_t *p = ud;
    wp_buf_append(&p->pf_answer, data, len); /* past the cap the JSON is cut: bad_response */
}

/* A prefill 4xx: the client's request is at fault, so the client gets that answer. */
static void pass_prefill_error(gw_proxy_t *p)
{
    char extra[256];
    snprintf(extra, sizeof(extra), "X-Request-Id: %s\r\nX-Wellpath-Endpoint: %s\r\n", p->request_id,
             p->pf_ep->cfg.name);
    p->status = p->pf_status;
    p->ep = p->pf_ep;
    wp_http_res_send(p->req, p->pf_status, "application/json", p->pf_answer.data, p->pf_answer.len,
                     extra);
    wp__gw_proxy_finish(p, "prefill-4xx");
}

static void pf_done(void *ud, wp_status_t st, const char *why)
{
    gw_proxy_t *p = ud;
    p->pf_call = NULL;
    release_prefill(p);
    int outcome = st == WP_OK          ? p->pf_status
                  : st == WP_ETIMEDOUT ? WP_SCHED_RETRY_TIMEOUT
                                       : WP_SCHED_RETRY_TRANSPORT;
    wp_sched_pd_prefill_t o = wp_sched_pd_prefill_outcome(outcome);
    if (o.judged)
        wp__gw_outlier_note(p->gw, p->pf_ep, o.fault);
    if (st != WP_OK) {
        fall_back(p, st == WP_ETIMEDOUT ? GW_PD_TIMEOUT : GW_PD_CONNECT, why ? why : "");
        return;
    }
    if (o.to_client) {
        pass_prefill_error(p);
        return;
    }
    if (o.fall_back) {
        char d[64];
        snprintf(d, sizeof(d), "HTTP %d", p->pf_status);
        fall_back(p, GW_PD_HTTP_5XX, d);
        return;
    }
    wp_err_t err;
    wp_buf_reset(&p->send_body);
    if (wp_api_pd_decode_body(wp_api_request_tree(&p->api),
                              p->pf_answer.data ? p->pf_answer.data : "", p->pf_answer.len,
                              &p->send_body, &p->pf_cached, &err) != WP_OK) {
        fall_back(p, GW_PD_BAD_RESPONSE, err.msg);
        return;
    }
    p->gw->tally.pd_disaggregated++;
    wp__gw_proxy_attempt(p);
}

bool wp__gw_pd_begin(gw_proxy_t *p)
{
    wp_gateway_t *gw = p->gw;
    if (!p->pool->has_prefill)
        return false;
    wp_sched_request_t sr;
    wp__gw_proxy_sched_request(p, &sr);
    wp_sched_pd_verdict_t v = wp_sched_pd_decide(p->pool->sched, wp__gw_now(gw), &sr,
                                                 gw->cfg.pd_threshold, &gw->rng, &p->pf_pick);
    wp__gw_decision(gw, &(wp_sched_decision_t){.kind = WP_SCHED_DECISION_PD,
                                               .request = p->request_id,
                                               .detail = wp_sched_pd_name(v)});
    if (v != WP_SCHED_PD_DISAGGREGATE) {
        if (v == WP_SCHED_PD_NO_PREFILL)
            gw->tally.pd_fallbacks[GW_PD_NO_PREFILL_ENDPOINT]++;
        gw->tally.pd_decode_only++;
        return false;
    }
    p->pf_ep = &p->pool->eps[p->pf_pick.endpoint];
    wp_buf_reset(&p->send_body);
    if (wp_api_pd_prefill_body(wp_api_request_tree(&p->api), &p->send_body) != WP_OK) {
        fall_back(p, GW_PD_BAD_RESPONSE, "out of memory building the prefill body");
        return true;
    }
    p->pf_dispatched = true;
    static const wp_http_call_cbs_t cbs = {pf_head, pf_body, pf_done};
    p->pf_call =
        wp__gw_proxy_send(p, p->pf_ep, &p->pf_pick, WP_SCHED_ROLE_PREFILL, 1, &p->send_body, &cbs);
    if (p->pf_call == NULL) {
        release_prefill(p);
        fall_back(p, GW_PD_CONNECT, "out of memory starting the prefill call");
    }
    return true;
}
