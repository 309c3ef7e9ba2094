/*
 * gateway/metrics: the gateway's own /metrics in the Prometheus text format.
 *
 * Families (all prefixed wellpath_gateway_ or wellpath_endpoint_):
 *   requests_total{endpoint,model,status}  answers ("none" endpoint when unrouted; "none"
 *                                        model when the request named none the pool serves)
 *   picks_total{endpoint}                scheduling decisions per endpoint
 *   retries_total                        attempts moved to another endpoint
 *   preemption_notices_total             endpoints seen starting to drain (notice.c)
 *   decision_seconds                     time of one scheduling decision (histogram)
 *   ttft_seconds, itl_seconds, e2e_seconds  seen at the gateway (vLLM's buckets)
 *   prefix_match_ratio                   matched / total prefix blocks on the winner
 *   cache_hit_rate                       sum of the endpoints' prefix-cache hits / queries
 *   in_flight                            requests being served now
 *   wellpath_endpoint_{healthy,draining,in_flight,waiting,running,kv_usage}{endpoint}
 *   wellpath_endpoint_tokens_in_flight{endpoint}  prompt tokens of the requests in flight
 *   wellpath_endpoint_info{endpoint,group,data_parallel_rank} 1   wide-EP: the endpoint's
 *                                        group and rank ("" when none)
 *   wellpath_endpoint_prefix_cache_{queries,hits}_total{endpoint}  re-exported vLLM counters
 *   wellpath_endpoint_connections{endpoint}  open upstream connections of requests (reused)
 *   wellpath_gateway_pd_requests_total{path}, wellpath_gateway_pd_fallbacks_total{reason}  (P/D
 *   pools), wellpath_endpoint_upstream_errors_total{endpoint}
 *   queue_length, queue_wait_seconds     flow control: requests waiting now; time they waited
 *   shed_total{reason}                   429s of flow control and limits (sched/admit's reasons)
 *   pool_{demand,sleeping,ready}, pool_{asleep_seconds,sleeps,wakeups,sleep_refusals}_total
 *                                        scale-to-zero (wake.c): requests held for a pool that
 *                                        cannot serve, its sleeps and wake-ups
 *   reloads_total                        configs applied (SIGHUP, POST /admin/reload)
 *   prefix_index_bytes                   memory of the prefix index (bounded by the LRUs)
 *   wellpath_endpoint_prefix_index_blocks{endpoint}  blocks the index tracks per endpoint
 *   kv_index_bytes, wellpath_endpoint_kv_index_{gpu,cpu}_blocks{endpoint}  the KV view: what
 *                                        the endpoints' KV events say they hold (precise-prefix)
 *   tokenize_errors_total                prompts the tokenizer refused (gateway.h: tokenizer)
 *   routes_{shared,learned}_total        routing shared with other gateway replicas (routes.c)
 *   wellpath_endpoint_kv_event_{batches,gaps,replayed,resyncs,decode_errors}_total{endpoint},
 *   wellpath_endpoint_kv_events_total, wellpath_endpoint_kv_event_lag_seconds  its KV events
 *   wellpath_endpoint_{ejected,ejections_total}{endpoint}  outlier detection (outlier.c)
 *   wellpath_gateway_discovery_{ok,endpoints,lookups_total,failures_total}{source,kind}  where
 *   endpoints come from (DNS names, a discovery file: wp_gateway_set_sources)
 *   accounting_errors_total{endpoint,kind}  completions ("complete") and first bytes
 *                                        ("prefill") reported with nothing pending on the
 *                                        endpoint: a gateway bug, so alert on any (pool.c)
 *
 * With gateway.guideMetrics the production guide's own names follow (docs/reference.md §10), so
 * its rules run unchanged: vllm_ttft (histogram: the gateway's TTFT, vLLM's buckets),
 * kv_cache_hit and kv_cache_lookup (counters: the endpoints' prefix-cache hits and queries
 * summed, in tokens) and vllm_kv_utilization (gauge: the highest KV usage among the
 * endpoints scraped so far; the highest rather than the mean, because the alert is about
 * one server running out of KV memory and a mean would hide it behind idle ones).
 */
#include "gateway/internal.h"

#include <math.h>

#include "base/str.h"

#include <stddef.h>
#include <string.h>

static const double decision_bounds[] = {1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5,
                                         1e-4, 2e-4, 5e-4, 1e-3, 1e-2};
static const double ratio_bounds[] = {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99, 1.0};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The tally's histograms and their buckets. */
static const struct {
    size_t at; /* offsetof in gw_tally_t */
    const double *bounds;
    size_t n;
} hists[] = {
    {offsetof(gw_tally_t, decision_s), decision_bounds, N(decision_bounds)},
    {offsetof(gw_tally_t, ttft_s), WP_STATS_BUCKETS_TTFT, WP_STATS_BUCKETS_TTFT_N},
    {offsetof(gw_tally_t, itl_s), WP_STATS_BUCKETS_ITL, WP_STATS_BUCKETS_ITL_N},
    {offsetof(gw_tally_t, e2e_s), WP_STATS_BUCKETS_E2E, WP_STATS_BUCKETS_E2E_N},
    {offsetof(gw_tally_t, prefix_ratio), ratio_bounds, N(ratio_bounds)},
    {offsetof(gw_tally_t, queue_wait_s), WP_STATS_BUCKETS_TTFT, WP_STATS_BUCKETS_TTFT_N},
};

static wp_stats_hist_t *hist_of(gw_tally_t *t, size_t i)
{
    return (wp_stats_hist_t *)((char *)t + hists[i].at);
}

wp_status_t wp__gw_tally_init(gw_tally_t *t)
{
    memset(t, 0, sizeof(*t));
    wp_status_t st = WP_OK;
    for (size_t i = 0; i < N(hists); i++) {
        if (wp_stats_hist_init(hist_of(t, i), hists[i].bounds, hists[i].n, NULL) != WP_OK)
            st = WP_ENOMEM;
    }
    if (st != WP_OK)
        wp__gw_tally_free(t);
    return st;
}

void wp__gw_tally_free(gw_tally_t *t)
{
    for (size_t i = 0; i < N(hists); i++)
        wp_stats_hist_free(hist_of(t, i));
}

void wp__gw_metrics_init(wp_gateway_t *gw)
{
    wp__gw_tally_init(&gw->tally); /* out of memory: histograms that observe nothing */
}

void wp__gw_metrics_free(wp_gateway_t *gw)
{
    wp__gw_tally_free(&gw->tally);
}

/* Counts n into arr[from, to): the pair's slot, or a free one; false when full. */
static bool count_in(gw_status_count_t *arr, int from, int to, const char *model, int status,
                     uint64_t n)
{
    for (int i = from; i < to; i++) {
        if (arr[i].status == 0) {
            arr[i].status = status;
            wp_strlcpy(arr[i].model, model, sizeof(arr[i].model));
        } else if (arr[i].status != status || strcmp(arr[i].model, model) != 0) {
            continue;
        }
        arr[i].count += n;
        return true;
    }
    return false;
}

static void count_n(gw_status_count_t *arr, const char *model, int status, uint64_t n)
{
    char m[GW_MODEL_LABEL_MAX];
    wp_strlcpy(m, model, sizeof(m));
    if (!count_in(arr, 0, GW_MAX_STATUSES - GW_OTHER_STATUSES, m, status, n))
        count_in(arr, GW_MAX_STATUSES - GW_OTHER_STATUSES, GW_MAX_STATUSES, "other", status, n);
}

static void count(gw_status_count_t *arr, const char *model, int status)
{
    count_n(arr, model, status, 1);
}

static void statuses_add(gw_status_count_t *dst, const gw_status_count_t *src)
{
    for (int i = 0; i < GW_MAX_STATUSES; i++) {
        if (src[i].status != 0)
            count_n(dst, src[i].model, src[i].status, src[i].count);
    }
}

/* Appends src's ring of recent values to dst's (oldest first). */
static void ring_add(double *dst, int *dst_n, int *dst_next, int cap, const double *src, int src_n,
                     int src_next)
{
    for (int k = 0; k < src_n; k++) {
        dst[*dst_next] = src[(src_next - src_n + k + cap) % cap];
        *dst_next = (*dst_next + 1) % cap;
        if (*dst_n < cap)
            (*dst_n)++;
    }
}

void wp__gw_tally_add(gw_tally_t *dst, const gw_tally_t *src)
{
    for (size_t i = 0; i < N(hists); i++)
        wp_stats_hist_merge(hist_of(dst, i), hist_of((gw_tally_t *)src, i));
    statuses_add(dst->unrouted, src->unrouted);
    dst->in_flight += src->in_flight;
    for (int w = 0; w < WP_GATEWAY_MAX_WORKERS; w++)
        dst->accepted[w] += src->accepted[w];
    dst->retries_total += src->retries_total;
    dst->pd_disaggregated += src->pd_disaggregated;
    dst->pd_decode_only += src->pd_decode_only;
    for (int k = 0; k < GW_PD_FALLBACK_KINDS; k++)
        dst->pd_fallbacks[k] += src->pd_fallbacks[k];
    dst->tokenize_errors += src->tokenize_errors;
    dst->routes_sent += src->routes_sent;
    dst->routes_learned += src->routes_learned;
    dst->held += src->held;
    dst->queued += src->queued;
    for (int k = 0; k < WP_SCHED_SHED_KINDS; k++)
        dst->shed[k] += src->shed[k];
    ring_add(dst->ttft_recent, &dst->ttft_n, &dst->ttft_next, GW_TTFT_RECENT_ALL, src->ttft_recent,
             src->ttft_n, src->ttft_next);
}

uint64_t wp__gw_queued(const wp_gateway_t *gw)
{
    return wp_sched_admit_queued(gw->admit) + gw->tally.queued;
}

uint64_t wp__gw_shed(const wp_gateway_t *gw, int reason)
{
    return wp_sched_admit_shed_count(gw->admit, (wp_sched_shed_t)reason) + gw->tally.shed[reason];
}

void wp__gw_counts_add(gw_ep_counts_t *dst, const gw_ep_counts_t *src)
{
    statuses_add(dst->statuses, src->statuses);
    dst->picks += src->picks;
    dst->upstream_errors += src->upstream_errors;
    dst->connections += src->connections;
    for (int k = 0; k < WP_SCHED_ACCT_KINDS; k++)
        dst->acct_errors[k] += src->acct_errors[k];
    ring_add(dst->ttft_recent, &dst->ttft_n, &dst->ttft_next, GW_TTFT_RECENT, src->ttft_recent,
             src->ttft_n, src->ttft_next);
}

void wp__gw_count_unrouted(wp_gateway_t *gw, int status)
{
    count(gw->tally.unrouted, "none", status);
}

void wp__gw_count_answer(wp_gateway_t *gw, gw_endpoint_t *ep, const char *model, int status)
{
    ep = wp__gw_ep_current(gw, ep);
    bool known =
        model != NULL && model[0] != '\0' && (gw->n_models == 0 || wp__gw_model_known(gw, model));
    count(ep != NULL ? ep->counts.statuses : gw->tally.unrouted, known ? model : "none", status);
}

void wp__gw_count_pick(wp_gateway_t *gw, gw_endpoint_t *ep)
{
    wp__gw_ep_current(gw, ep)->counts.picks++;
}

void wp__gw_count_upstream_error(wp_gateway_t *gw, gw_endpoint_t *ep)
{
    wp__gw_ep_current(gw, ep)->counts.upstream_errors++;
}

static void family(wp_buf_t *out, const char *name, const char *type, const char *help)
{
    wp_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Endpoint names come from the config; escape them as label values. */
static void label(wp_buf_t *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            wp_buf_printf(out, "\\%c", *v);
        else if (*v == '\n')
            wp_buf_puts(out, "\\n");
        else
            wp_buf_append(out, v, 1);
    }
}

static void status_lines(wp_buf_t *out, const char *endpoint, const gw_status_count_t *arr)
{
    for (int i = 0; i < GW_MAX_STATUSES; i++) {
        if (arr[i].status == 0)
            continue;
        wp_buf_puts(out, "wellpath_gateway_requests_total{endpoint=\"");
        label(out, endpoint);
        wp_buf_puts(out, "\",model=\"");
        label(out, arr[i].model);
        wp_buf_printf(out, "\",status=\"%d\"} %llu\n", arr[i].status,
                      (unsigned long long)arr[i].count);
    }
}

typedef double (*ep_value_fn)(const gw_endpoint_t *ep);

static double v_healthy(const gw_endpoint_t *ep)
{
    return gw_ep_outlier(ep)->healthy;
}
static double v_draining(const gw_endpoint_t *ep)
{
    return ep->probe.draining;
}
static double v_in_flight(const gw_endpoint_t *ep)
{
    return wp_sched_endpoint_in_flight(ep->pool->sched, ep->index);
}
static double v_tokens_in_flight(const gw_endpoint_t *ep)
{
    return wp_sched_endpoint_load(ep->pool->sched, ep->index).tokens_in_flight;
}
static double v_waiting(const gw_endpoint_t *ep)
{
    return ep->probe.waiting;
}
static double v_running(const gw_endpoint_t *ep)
{
    return ep->probe.running;
}
/* NaN: the endpoint does not export it (per_endpoint then writes no sample). */
static double v_kv(const gw_endpoint_t *ep)
{
    return ep->probe.kv_known ? ep->probe.kv_usage : NAN;
}
static double v_cache_queries(const gw_endpoint_t *ep)
{
    return ep->probe.cache_known ? ep->probe.cache_queries : NAN;
}
static double v_cache_hits(const gw_endpoint_t *ep)
{
    return ep->probe.cache_known ? ep->probe.cache_hits : NAN;
}
static double v_picks(const gw_endpoint_t *ep)
{
    return (double)ep->counts.picks;
}
static double v_connections(const gw_endpoint_t *ep)
{
    return (double)wp_http_upstream_open_connections(wp__gw_ep_upstream(ep)) +
           (double)ep->counts.connections;
}
static double v_errors(const gw_endpoint_t *ep)
{
    return (double)ep->counts.upstream_errors;
}
static double v_index_blocks(const gw_endpoint_t *ep)
{
    return (double)wp_sched_index_endpoint_blocks(wp_sched_index(ep->pool->sched), ep->index);
}
static double v_kv_blocks(const gw_endpoint_t *ep, wp_sched_medium_t m)
{
    return (double)wp_sched_kv_blocks(wp_sched_kv(ep->pool->sched), ep->index, m);
}
static double v_kv_gpu(const gw_endpoint_t *ep)
{
    return v_kv_blocks(ep, WP_SCHED_MEDIUM_GPU);
}
static double v_kv_cpu(const gw_endpoint_t *ep)
{
    return v_kv_blocks(ep, WP_SCHED_MEDIUM_CPU);
}
static double v_ejected(const gw_endpoint_t *ep)
{
    return gw_ep_outlier(ep)->ejected;
}
static double v_ejections(const gw_endpoint_t *ep)
{
    return (double)gw_ep_outlier(ep)->ejections_total;
}

/* A family with one sample per endpoint of the current generation. */
typedef struct ep_family_s {
    const char *name, *type, *help;
    ep_value_fn value;
} ep_family_t;

static void per_endpoint(const wp_gateway_t *gw, wp_buf_t *out, const ep_family_t *f)
{
    family(out, f->name, f->type, f->help);
    const gw_pool_t *pool = gw->pool;
    for (int i = 0; i < pool->n_eps; i++) {
        double v = f->value(&pool->eps[i]);
        if (v != v)
            continue; /* unknown for this endpoint's engine: no sample rather than a false 0 */
        wp_buf_printf(out, "%s{endpoint=\"", f->name);
        label(out, pool->eps[i].cfg.name);
        wp_buf_printf(out, "\"} %.17g\n", v);
    }
}

static const ep_family_t picks_family = {"wellpath_gateway_picks_total", "counter",
                                         "Scheduling decisions per endpoint.", v_picks};

/* The wellpath_endpoint_ families, in the order they are written. */
static const ep_family_t endpoint_families[] = {
    {"wellpath_endpoint_healthy", "gauge", "1 when the endpoint is in the pool.", v_healthy},
    {"wellpath_endpoint_draining", "gauge",
     "1 while the endpoint drains (its /health answered 503: shutting down, a preemption "
     "notice); out of the pool, its streams finishing.",
     v_draining},
    {"wellpath_endpoint_in_flight", "gauge", "Requests the gateway has on the endpoint.",
     v_in_flight},
    {"wellpath_endpoint_tokens_in_flight", "gauge",
     "Prompt tokens of the requests the gateway has on the endpoint.", v_tokens_in_flight},
    {"wellpath_endpoint_waiting", "gauge",
     "Waiting requests, last scrape (a data-parallel rank's: its engine's series).", v_waiting},
    {"wellpath_endpoint_running", "gauge", "Running requests, last scrape.", v_running},
    {"wellpath_endpoint_kv_usage", "gauge", "KV cache usage 0..1, last scrape.", v_kv},
    {"wellpath_endpoint_prefix_cache_queries_total", "counter",
     "The endpoint's prefix-cache queries, last scrape (the engine's counter, docs/engines.md).",
     v_cache_queries},
    {"wellpath_endpoint_prefix_cache_hits_total", "counter",
     "The endpoint's prefix-cache hits, last scrape (the engine's counter, docs/engines.md).",
     v_cache_hits},
    {"wellpath_endpoint_connections", "gauge",
     "Open connections that carry requests to the endpoint (kept alive and reused; the "
     "checks thread's own are not counted).",
     v_connections},
    {"wellpath_endpoint_upstream_errors_total", "counter",
     "Failed upstream attempts (connect, timeout, 5xx, cut streams).", v_errors},
    {"wellpath_endpoint_prefix_index_blocks", "gauge",
     "Prompt blocks the prefix index remembers on the endpoint (LRU-bounded).", v_index_blocks},
    {"wellpath_endpoint_kv_index_gpu_blocks", "gauge",
     "KV blocks the endpoint's own KV events say it holds on the GPU (precise-prefix's view).",
     v_kv_gpu},
    {"wellpath_endpoint_kv_index_cpu_blocks", "gauge",
     "KV blocks the endpoint's own KV events say it holds on the CPU (offloaded).", v_kv_cpu},
    {"wellpath_endpoint_ejected", "gauge",
     "1 while outlier detection keeps the endpoint out of the pool.", v_ejected},
    {"wellpath_endpoint_ejections_total", "counter",
     "Times outlier detection ejected the endpoint.", v_ejections},
};

/* The endpoints' KV-event subscriptions (kvevents.c), one family per counter; an endpoint
 * without a subscription has no sample. */
enum { KV_BATCHES, KV_EVENTS, KV_GAPS, KV_REPLAYED, KV_RESYNCS, KV_DECODE_ERRORS, KV_LAG };

static const struct {
    const char *name, *type, *help;
} kv_families[] = {
    [KV_BATCHES] = {"wellpath_endpoint_kv_event_batches_total", "counter",
                    "KV-event batches received from the endpoint (each seq once, in order)."},
    [KV_EVENTS] = {"wellpath_endpoint_kv_events_total", "counter",
                   "KV events (BlockStored, BlockRemoved, AllBlocksCleared) from the endpoint."},
    [KV_GAPS] = {"wellpath_endpoint_kv_event_gaps_total", "counter",
                 "Sequence gaps seen in the endpoint's KV events (then replayed, or a resync)."},
    [KV_REPLAYED] = {"wellpath_endpoint_kv_event_replayed_total", "counter",
                     "KV-event batches recovered from the endpoint's replay socket."},
    [KV_RESYNCS] = {"wellpath_endpoint_kv_event_resyncs_total", "counter",
                    "Times the endpoint's KV view started over (events lost, a restarted "
                    "publisher)."},
    [KV_DECODE_ERRORS] = {"wellpath_endpoint_kv_event_decode_errors_total", "counter",
                          "KV-event payloads from the endpoint that did not decode."},
    [KV_LAG] = {"wellpath_endpoint_kv_event_lag_seconds", "gauge",
                "At the last batch: the gateway's clock less the batch's timestamp."},
};

static double kv_value(const gw_kvsub_t *k, int what)
{
    wp_kvev_sub_stats_t st;
    wp_kvev_sub_stats(k->sub, &st);
    double v[] = {[KV_BATCHES] = (double)st.batches,
                  [KV_EVENTS] = (double)st.events,
                  [KV_GAPS] = (double)st.gaps,
                  [KV_REPLAYED] = (double)st.replayed,
                  [KV_RESYNCS] = (double)st.resyncs,
                  [KV_DECODE_ERRORS] = (double)st.decode_errors,
                  [KV_LAG] = k->lag_s};
    return v[what];
}

static void write_kv_events(const wp_gateway_t *gw, wp_buf_t *out)
{
    if (gw->n_kvsubs == 0)
        return;
    for (int f = 0; f < (int)N(kv_families); f++) {
        family(out, kv_families[f].name, kv_families[f].type, kv_families[f].help);
        for (int i = 0; i < gw->pool->n_eps; i++) {
            const gw_kvsub_t *k = wp__gw_kvev_find(gw, gw->pool->eps[i].cfg.name);
            if (k == NULL)
                continue;
            wp_buf_printf(out, "%s{endpoint=\"", kv_families[f].name);
            label(out, k->name);
            wp_buf_printf(out, "\"} %.17g\n", kv_value(k, f));
        }
    }
}

static void hist(wp_buf_t *out, const wp_stats_hist_t *h, const char *name, const char *help)
{
    family(out, name, "histogram", help);
    wp_stats_hist_write_prom(h, out, name, "");
}

static void scalar(wp_buf_t *out, const char *name, const char *type, const char *help, double v)
{
    char num[WP_STATS_FMT_MAX];
    wp_stats_fmt_double(num, sizeof(num), v);
    family(out, name, type, help);
    wp_buf_printf(out, "%s %s\n", name, num);
}

/* The endpoints' prefix-cache counters summed, and the highest KV usage scraped. */
typedef struct {
    double hits, queries, kv_max;
} pool_sums_t;

static pool_sums_t pool_sums(const wp_gateway_t *gw)
{
    pool_sums_t s = {0, 0, 0};
    for (int i = 0; i < gw->pool->n_eps; i++) {
        const gw_probe_t *pr = &gw->pool->eps[i].probe;
        s.hits += pr->cache_hits;
        s.queries += pr->cache_queries;
        if (pr->metrics_seen && pr->kv_known && pr->kv_usage > s.kv_max)
            s.kv_max = pr->kv_usage;
    }
    return s;
}

/* The production guide's series (gateway.guideMetrics). */
static void write_guide(wp_gateway_t *gw, wp_buf_t *out, const pool_sums_t *s)
{
    hist(out, &gw->tally.ttft_s, "vllm_ttft",
         "The production guide's name for TTFT: the gateway's wellpath_gateway_ttft_seconds.");
    scalar(out, "kv_cache_hit", "counter",
           "The production guide's name: the endpoints' prefix-cache hits summed (tokens).",
           s->hits);
    scalar(out, "kv_cache_lookup", "counter",
           "The production guide's name: the endpoints' prefix-cache queries summed (tokens).",
           s->queries);
    scalar(out, "vllm_kv_utilization", "gauge",
           "The production guide's name: the highest KV cache usage (0..1) among the endpoints.",
           s->kv_max);
}

/* A counter family with one label whose values are name(0..n-1). */
static void by_reason(wp_buf_t *out, const char *name, const char *help, const char *label,
                      const char *(*value_name)(int), const uint64_t *v, int n)
{
    family(out, name, "counter", help);
    for (int k = 0; k < n; k++)
        wp_buf_printf(out, "%s{%s=\"%s\"} %llu\n", name, label, value_name(k),
                      (unsigned long long)v[k]);
}

/* One sample per endpoint naming its wide-EP group and data-parallel rank. */
static void write_info(const wp_gateway_t *gw, wp_buf_t *out)
{
    family(out, "wellpath_endpoint_info", "gauge",
           "1 per endpoint; labels: its wide-EP group and data-parallel rank (\"\" when none).");
    const gw_pool_t *pool = gw->pool;
    for (int i = 0; i < pool->n_eps; i++) {
        const wp_gateway_endpoint_cfg_t *c = &pool->eps[i].cfg;
        wp_buf_puts(out, "wellpath_endpoint_info{endpoint=\"");
        label(out, c->name);
        wp_buf_puts(out, "\",group=\"");
        label(out, c->group);
        if (c->has_dp_rank)
            wp_buf_printf(out, "\",data_parallel_rank=\"%d\"} 1\n", c->dp_rank);
        else
            wp_buf_puts(out, "\",data_parallel_rank=\"\"} 1\n");
    }
}

static void write_accounting(wp_gateway_t *gw, wp_buf_t *out)
{
    family(out, "wellpath_gateway_accounting_errors_total", "counter",
           "Completions or prefill ends reported with nothing pending on the endpoint (a bug: "
           "the in-flight and pending-prefill counts would drift without it).");
    const gw_pool_t *pool = gw->pool;
    for (int i = 0; i < pool->n_eps; i++) {
        for (int k = 0; k < WP_SCHED_ACCT_KINDS; k++) {
            wp_buf_puts(out, "wellpath_gateway_accounting_errors_total{endpoint=\"");
            label(out, pool->eps[i].cfg.name);
            wp_buf_printf(out, "\",kind=\"%s\"} %llu\n", wp_sched_acct_name((wp_sched_acct_t)k),
                          (unsigned long long)pool->eps[i].counts.acct_errors[k]);
        }
    }
}

/* Only for a pool with prefill endpoints. */
static void write_pd(wp_gateway_t *gw, wp_buf_t *out)
{
    family(out, "wellpath_gateway_pd_requests_total", "counter",
           "Requests of a P/D pool by path: prefilled on a prefill endpoint, or decode-only.");
    wp_buf_printf(out, "wellpath_gateway_pd_requests_total{path=\"disaggregated\"} %llu\n",
                  (unsigned long long)gw->tally.pd_disaggregated);
    wp_buf_printf(out, "wellpath_gateway_pd_requests_total{path=\"decode_only\"} %llu\n",
                  (unsigned long long)gw->tally.pd_decode_only);
    by_reason(out, "wellpath_gateway_pd_fallbacks_total",
              "Prefill stages that failed, so the request was decoded without them, by reason.",
              "reason", wp__gw_pd_fallback_name, gw->tally.pd_fallbacks, GW_PD_FALLBACK_KINDS);
}

/* wellpath_gateway_discovery_*{source,kind}: the sources of endpoints (DNS names, a
 * discovery file) and how their lookups go. */
static void write_sources(const wp_gateway_t *gw, wp_buf_t *out)
{
    static const struct {
        const char *name, *type, *help;
    } fams[] = {
        {"wellpath_gateway_discovery_ok", "gauge",
         "1 when the source's last lookup or read succeeded (else its last good endpoints stay)."},
        {"wellpath_gateway_discovery_endpoints", "gauge", "Endpoints the source gives now."},
        {"wellpath_gateway_discovery_lookups_total", "counter",
         "Lookups (DNS) or reads (file) of the source."},
        {"wellpath_gateway_discovery_failures_total", "counter",
         "Lookups or reads of the source that failed."},
    };
    if (gw->n_sources == 0)
        return;
    for (size_t f = 0; f < N(fams); f++) {
        family(out, fams[f].name, fams[f].type, fams[f].help);
        for (int i = 0; i < gw->n_sources; i++) {
            const wp_gateway_source_t *s = &gw->sources[i];
            double v = f == 0   ? (double)s->ok
                       : f == 1 ? (double)s->endpoints
                       : f == 2 ? (double)s->lookups
                                : (double)s->failures;
            wp_buf_printf(out, "%s{source=\"", fams[f].name);
            label(out, s->name);
            wp_buf_printf(out, "\",kind=\"%s\"} %.0f\n", s->kind, v);
        }
    }
}

void wp__gw_metrics_write(wp_gateway_t *gw, wp_buf_t *out)
{
    family(out, "wellpath_gateway_requests_total", "counter",
           "Requests answered, by endpoint, model and HTTP status.");
    for (int i = 0; i < gw->pool->n_eps; i++)
        status_lines(out, gw->pool->eps[i].cfg.name, gw->pool->eps[i].counts.statuses);
    status_lines(out, "none", gw->tally.unrouted);
    per_endpoint(gw, out, &picks_family);
    family(out, "wellpath_gateway_retries_total", "counter",
           "Attempts moved to another endpoint before the first byte.");
    wp_buf_printf(out, "wellpath_gateway_retries_total %llu\n",
                  (unsigned long long)gw->tally.retries_total);
    family(out, "wellpath_gateway_preemption_notices_total", "counter",
           "Endpoints seen starting to drain (/health answered 503): out of the pool at once.");
    wp_buf_printf(out, "wellpath_gateway_preemption_notices_total %llu\n",
                  (unsigned long long)gw->preemption_notices);
    if (gw->pool->has_prefill)
        write_pd(gw, out);
    family(out, "wellpath_gateway_worker_requests_total", "counter",
           "Completion requests accepted, by the worker (event loop) whose connection they came "
           "on (gateway.workers).");
    for (int w = 0; w < gw->cfg.workers; w++)
        wp_buf_printf(out, "wellpath_gateway_worker_requests_total{worker=\"%d\"} %llu\n", w,
                      (unsigned long long)gw->tally.accepted[w]);
    scalar(out, "wellpath_gateway_in_flight", "gauge",
           "Requests accepted and not answered yet (those waiting in the queue included).",
           (double)gw->tally.in_flight);
    scalar(out, "wellpath_gateway_queue_length", "gauge",
           "Requests waiting for an endpoint with room (flow control).", (double)wp__gw_queued(gw));
    wp__gw_wake_metrics(gw, out);
    hist(out, &gw->tally.queue_wait_s, "wellpath_gateway_queue_wait_seconds",
         "Time a request waited in the flow-control queue before it was sent.");
    family(out, "wellpath_gateway_shed_total", "counter",
           "Requests answered 429 by flow control or the in-flight limit, by reason.");
    for (int k = 0; k < WP_SCHED_SHED_KINDS; k++)
        wp_buf_printf(out, "wellpath_gateway_shed_total{reason=\"%s\"} %llu\n",
                      wp_sched_shed_name((wp_sched_shed_t)k),
                      (unsigned long long)wp__gw_shed(gw, k));
    scalar(out, "wellpath_gateway_reloads_total", "counter",
           "Configurations applied while running (SIGHUP or POST /admin/reload).",
           (double)gw->reloads);
    scalar(out, "wellpath_gateway_prefix_index_bytes", "gauge",
           "Memory held by the prefix index (at most prefixLruBlocks blocks per endpoint).",
           (double)wp_sched_index_bytes(wp_sched_index(gw->pool->sched)));
    scalar(out, "wellpath_gateway_kv_index_bytes", "gauge",
           "Memory held by the KV view built from the endpoints' KV events (precise-prefix).",
           (double)wp_sched_kv_bytes(wp_sched_kv(gw->pool->sched)));
    scalar(out, "wellpath_gateway_routes_shared_total", "counter",
           "Routing decisions published to the other gateway replicas (gateway.shareRoutes).",
           (double)gw->tally.routes_sent);
    scalar(out, "wellpath_gateway_routes_learned_total", "counter",
           "Routing decisions of other gateway replicas taken into the prefix index.",
           (double)gw->tally.routes_learned);
    scalar(out, "wellpath_gateway_tokenize_errors_total", "counter",
           "Prompts the model's tokenizer refused (routed without the servers' block hashes).",
           (double)gw->tally.tokenize_errors);
    hist(out, &gw->tally.decision_s, "wellpath_gateway_decision_seconds",
         "Time of one scheduling decision.");
    hist(out, &gw->tally.ttft_s, "wellpath_gateway_ttft_seconds",
         "Time to the first response byte, seen at the gateway.");
    hist(out, &gw->tally.itl_s, "wellpath_gateway_itl_seconds",
         "Gaps between streamed pieces, seen at the gateway.");
    hist(out, &gw->tally.e2e_s, "wellpath_gateway_e2e_seconds",
         "Whole request latency, seen at the gateway.");
    hist(out, &gw->tally.prefix_ratio, "wellpath_gateway_prefix_match_ratio",
         "Share of the prompt's prefix blocks the chosen endpoint was expected to hold.");
    pool_sums_t sums = pool_sums(gw);
    scalar(out, "wellpath_gateway_cache_hit_rate", "gauge",
           "Prefix-cache hit rate estimated from the endpoints' counters: sum of hits / sum of "
           "queries since they started (0 before any query).",
           sums.queries > 0 ? sums.hits / sums.queries : 0);
    write_info(gw, out);
    for (size_t k = 0; k < N(endpoint_families); k++)
        per_endpoint(gw, out, &endpoint_families[k]);
    write_kv_events(gw, out);
    write_accounting(gw, out);
    write_sources(gw, out);
    if (gw->cfg.guide_metrics)
        write_guide(gw, out, &sums);
}
