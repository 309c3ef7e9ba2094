/*
 * gateway/status: the live status page. GET / answers a self-contained HTML page
 * (inline CSS and JS, no external assets) that fetches GET /status every second and
 * renders the pool as a table with bars. GET /status answers a JSON snapshot of the
 * pool, built from what the gateway already holds: its own counters and in-flight
 * counts, the endpoints' last scrape, and a small ring of recent TTFTs per endpoint
 * (fed by wp__gw_status_note_ttft when a request ends).
 *
 * The /status JSON (numbers are JSON numbers; null where there is nothing to show):
 *
 *   {
 *     "policy": "default",             scheduling policy name
 *     "models": ["Qwen/Qwen3-8B"],     models the pool serves
 *     "totals": {
 *       "endpoints": 2, "healthy": 2,  pool size, endpoints in the pool now
 *       "in_flight": 0,                requests being served now
 *       "requests": 10, "errors": 0,   answers sent (all endpoints + unrouted), non-2xx ones
 *       "picks": 10, "retries": 0,     scheduling decisions, attempts moved elsewhere
 *       "queued": 0, "shed": 0,        waiting in the flow-control queue now; 429s it sent
 *       "ttft_p50_ms": 12.5,           exact percentiles of the TTFTs of the last 1024
 *       "ttft_p95_ms": 40.1,           streamed 2xx answers (ttft_samples of them); null
 *       "ttft_samples": 8,             while empty
 *       "ttft_count": 8                streamed 2xx answers since start
 *     },
 *     "endpoints": [{
 *       "name": "replica-0", "role": "both" | "prefill" | "decode",
 *       "group": "g", "data_parallel_rank": 1,  wide-EP: its group and rank (null: none)
 *       "healthy": true, "in_flight": 0,   health checks pass; requests the gateway has there
 *       "draining": false,                 its /health answered 503 (notice.c): out, streams go on
 *       "tokens_in_flight": 0,             prompt tokens of those requests
 *       "outlier": "ok" | "ejected" | "probation",   outlier detection's verdict
 *       "waiting": 0, "running": 0, "kv_usage": 0.12,   last scrape (kv_usage 0..1; null
 *                                                       when the engine exports none)
 *       "cache_queries": 640, "cache_hits": 320,        the endpoint's prefix-cache
 *       "cache_hit_rate": 0.5,                          counters (tokens); hits/queries,
 *                                                       null when unknown
 *       "warning": "",                                  what its metrics lack and how to
 *                                                       fix it ("" when complete)
 *       "picks": 5, "pick_share": 0.5,                  decisions and share of all picks
 *       "requests": 5, "errors": 0,                     answers and non-2xx answers
 *       "ttft_ms": 11.8, "ttft_samples": 5,             mean TTFT of the endpoint's last
 *       "last_error": ""                                GW_TTFT_RECENT streamed 2xx answers
 *     }]
 *   }
 */
#include "gateway/internal.h"

#include <math.h>
#include <string.h>

/* Writes v as a JSON number, or null when it is not finite. */
static void json_num(wp_buf_t *b, const char *key, double v)
{
    if (isfinite(v))
        wp_buf_printf(b, "\"%s\":%.6g", key, v);
    else
        wp_buf_printf(b, "\"%s\":null", key);
}

static void json_str(wp_buf_t *b, const char *key, const char *v)
{
    wp_buf_printf(b, "\"%s\":\"", key);
    wp_buf_json_escape(b, v, strlen(v));
    wp_buf_puts(b, "\"");
}

static const char *role_name(wp_sched_role_t role)
{
    switch (role) {
    case WP_SCHED_ROLE_PREFILL:
        return "prefill";
    case WP_SCHED_ROLE_DECODE:
        return "decode";
    default:
        return "both";
    }
}

/* Sum of counts, and of those outside 2xx. */
static void count_statuses(const gw_status_count_t *arr, uint64_t *all, uint64_t *errors)
{
    for (int i = 0; i < GW_MAX_STATUSES; i++) {
        if (arr[i].status == 0)
            continue; /* a free slot */
        *all += arr[i].count;
        if (arr[i].status < 200 || arr[i].status >= 300)
            *errors += arr[i].count;
    }
}

void wp__gw_status_note_ttft(wp_gateway_t *gw, gw_endpoint_t *ep, double seconds)
{
    ep = wp__gw_ep_current(gw, ep);
    if (ep == NULL || !isfinite(seconds) || seconds < 0)
        return;
    gw->tally.ttft_recent[gw->tally.ttft_next] = seconds;
    gw->tally.ttft_next = (gw->tally.ttft_next + 1) % GW_TTFT_RECENT_ALL;
    if (gw->tally.ttft_n < GW_TTFT_RECENT_ALL)
        gw->tally.ttft_n++;
    gw_ep_counts_t *c = &ep->counts;
    c->ttft_recent[c->ttft_next] = seconds;
    c->ttft_next = (c->ttft_next + 1) % GW_TTFT_RECENT;
    if (c->ttft_n < GW_TTFT_RECENT)
        c->ttft_n++;
}

static double recent_ttft_mean(const gw_ep_counts_t *c)
{
    if (c->ttft_n == 0)
        return NAN;
    double sum = 0;
    for (int i = 0; i < c->ttft_n; i++)
        sum += c->ttft_recent[i];
    return sum / c->ttft_n;
}

static uint64_t total_picks(const wp_gateway_t *gw)
{
    uint64_t n = 0;
    for (int i = 0; i < gw->pool->n_eps; i++)
        n += gw->pool->eps[i].counts.picks;
    return n;
}

/* ,"group":...,"data_parallel_rank":... (null when none). */
static void write_rank(const gw_endpoint_t *ep, wp_buf_t *b)
{
    if (ep->cfg.group[0] != '\0') {
        wp_buf_puts(b, ",");
        json_str(b, "group", ep->cfg.group);
    } else {
        wp_buf_puts(b, ",\"group\":null");
    }
    if (ep->cfg.has_dp_rank)
        wp_buf_printf(b, ",\"data_parallel_rank\":%d", ep->cfg.dp_rank);
    else
        wp_buf_puts(b, ",\"data_parallel_rank\":null");
}

static void write_endpoint(const wp_gateway_t *gw, const gw_endpoint_t *ep, uint64_t picks_all,
                           wp_buf_t *b)
{
    uint64_t requests = 0, errors = 0;
    const gw_probe_t *pr = &ep->probe;
    const gw_ep_counts_t *c = &ep->counts;
    count_statuses(c->statuses, &requests, &errors);
    wp_buf_puts(b, "{");
    json_str(b, "name", ep->cfg.name);
    wp_buf_puts(b, ",");
    json_str(b, "role", role_name(ep->cfg.role));
    write_rank(ep, b);
    const wp_sched_outlier_ep_t *o = gw_ep_outlier(ep);
    wp_buf_printf(b, ",\"healthy\":%s,\"draining\":%s,\"outlier\":\"%s\",\"in_flight\":%u,",
                  o->healthy ? "true" : "false", ep->probe.draining ? "true" : "false",
                  o->ejected     ? "ejected"
                  : o->probation ? "probation"
                                 : "ok",
                  wp_sched_endpoint_in_flight(ep->pool->sched, ep->index));
    json_num(b, "tokens_in_flight",
             wp_sched_endpoint_load(ep->pool->sched, ep->index).tokens_in_flight);
    wp_buf_puts(b, ",");
    json_num(b, "waiting", pr->waiting);
    wp_buf_puts(b, ",");
    json_num(b, "running", pr->running);
    wp_buf_puts(b, ",");
    json_num(b, "kv_usage", pr->kv_known || !pr->metrics_seen ? pr->kv_usage : NAN);
    wp_buf_puts(b, ",");
    json_num(b, "cache_queries", pr->cache_queries);
    wp_buf_puts(b, ",");
    json_num(b, "cache_hits", pr->cache_hits);
    wp_buf_puts(b, ",");
    json_num(b, "cache_hit_rate", pr->cache_queries > 0 ? pr->cache_hits / pr->cache_queries : NAN);
    wp_buf_puts(b, ",");
    json_str(b, "warning", pr->metrics_warning);
    wp_buf_printf(b, ",\"picks\":%llu,", (unsigned long long)c->picks);
    json_num(b, "pick_share", picks_all ? (double)c->picks / (double)picks_all : NAN);
    wp_buf_printf(b, ",\"requests\":%llu,\"errors\":%llu,", (unsigned long long)requests,
                  (unsigned long long)errors);
    json_num(b, "ttft_ms", recent_ttft_mean(c) * 1000.0);
    wp_buf_printf(b, ",\"ttft_samples\":%d,", c->ttft_n);
    json_str(b, "last_error", pr->last_error);
    wp_buf_puts(b, "}");
}

static void write_totals(const wp_gateway_t *gw, uint64_t picks_all, wp_buf_t *b)
{
    uint64_t requests = 0, errors = 0;
    for (int i = 0; i < gw->pool->n_eps; i++)
        count_statuses(gw->pool->eps[i].counts.statuses, &requests, &errors);
    count_statuses(gw->tally.unrouted, &requests, &errors);
    uint64_t shed = 0;
    for (int k = 0; k < WP_SCHED_SHED_KINDS; k++)
        shed += wp__gw_shed(gw, k);
    wp_buf_printf(b,
                  "\"totals\":{\"endpoints\":%d,\"healthy\":%d,\"in_flight\":%llu,"
                  "\"requests\":%llu,\"errors\":%llu,\"picks\":%llu,\"retries\":%llu,"
                  "\"queued\":%llu,\"shed\":%llu,",
                  gw->pool->n_eps, wp__gw_ready_count(gw), (unsigned long long)gw->tally.in_flight,
                  (unsigned long long)requests, (unsigned long long)errors,
                  (unsigned long long)picks_all, (unsigned long long)gw->tally.retries_total,
                  (unsigned long long)wp__gw_queued(gw), (unsigned long long)shed);
    /* Exact percentiles of the recent samples (a histogram's buckets are too coarse for a
     * page a person reads: 1300 ms estimated for a measured 790 ms). */
    wp_stats_samples_t recent;
    wp_stats_samples_init(&recent, GW_TTFT_RECENT_ALL);
    for (int i = 0; i < gw->tally.ttft_n; i++)
        wp_stats_samples_add(&recent, gw->tally.ttft_recent[i]);
    json_num(b, "ttft_p50_ms", wp_stats_samples_quantile(&recent, 0.5) * 1000.0);
    wp_buf_puts(b, ",");
    json_num(b, "ttft_p95_ms", wp_stats_samples_quantile(&recent, 0.95) * 1000.0);
    wp_stats_samples_free(&recent);
    wp_buf_printf(b, ",\"ttft_samples\":%d,\"ttft_count\":%llu}", gw->tally.ttft_n,
                  (unsigned long long)gw->tally.ttft_s.count);
}

void wp__gw_status_write_json(const wp_gateway_t *gw, wp_buf_t *b)
{
    uint64_t picks_all = total_picks(gw);
    wp_buf_puts(b, "{");
    json_str(b, "policy", gw->cfg.sched.policy);
    wp_buf_puts(b, ",\"models\":[");
    for (int i = 0; i < gw->n_models; i++) {
        wp_buf_puts(b, i ? ",\"" : "\"");
        wp_buf_json_escape(b, gw->models[i], strlen(gw->models[i]));
        wp_buf_puts(b, "\"");
    }
    wp_buf_puts(b, "],");
    write_totals(gw, picks_all, b);
    wp_buf_puts(b, ",\"endpoints\":[");
    for (int i = 0; i < gw->pool->n_eps; i++) {
        if (i)
            wp_buf_puts(b, ",");
        write_endpoint(gw, &gw->pool->eps[i], picks_all, b);
    }
    wp_buf_puts(b, "],\"discovery\":[");
    for (int i = 0; i < gw->n_sources; i++) {
        const wp_gateway_source_t *src = &gw->sources[i];
        wp_buf_puts(b, i ? ",{" : "{");
        json_str(b, "source", src->name);
        wp_buf_puts(b, ",");
        json_str(b, "kind", src->kind);
        wp_buf_printf(b, ",\"ok\":%s,\"endpoints\":%u,\"lookups\":%llu,\"failures\":%llu,",
                      src->ok ? "true" : "false", src->endpoints, (unsigned long long)src->lookups,
                      (unsigned long long)src->failures);
        json_str(b, "error", src->error);
        wp_buf_puts(b, "}");
    }
    wp_buf_puts(b, "]}");
}

/* The page: fetches /status every second; every value is set with textContent, so
 * endpoint names from the config cannot inject markup. Rows carry data-endpoint and
 * cells data-field so that tests can read the rendered DOM. */
static const char status_page[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>wellpath gateway status</title>\n"
    "<link rel=\"icon\" href=\"data:,\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;background:#f6f7f9}\n"
    "h1{font-size:20px;margin:0 0 4px}\n"
    "h2{font-size:15px;margin:18px 0 6px}\n"
    ".sub{color:#5b6475;margin-bottom:16px}\n"
    ".cards{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:18px}\n"
    ".card{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:10px 14px;"
    "min-width:110px}\n"
    ".card .v{font-size:22px;font-weight:600}\n"
    ".card .k{color:#5b6475;font-size:12px}\n"
    "table{border-collapse:collapse;background:#fff;width:100%;border:1px solid #dde1e8}\n"
    "th,td{padding:7px 10px;border-bottom:1px solid #eceef2;text-align:right;"
    "white-space:nowrap}\n"
    "th{background:#eef1f5;font-weight:600;font-size:12px;color:#3a4252}\n"
    "th:first-child,td:first-child,th.l,td.l{text-align:left}\n"
    ".up{color:#137333;font-weight:600}.down{color:#b3261e;font-weight:600}\n"
    ".bar{display:inline-block;width:90px;height:10px;background:#e6e9ef;border-radius:5px;"
    "vertical-align:middle;margin-left:6px;overflow:hidden}\n"
    ".bar>i{display:block;height:100%;background:#3b6fd8}\n"
    ".bar.kv>i{background:#d8873b}.bar.hit>i{background:#2f9e5b}\n"
    "#err{color:#b3261e;margin-top:10px}\n"
    "</style></head><body>\n"
    "<h1>wellpath gateway</h1>\n"
    "<div class=\"sub\">policy <b id=\"policy\">-</b> &middot; models <b id=\"models\">-</b>"
    " &middot; updated <span id=\"updated\">never</span></div>\n"
    "<div class=\"cards\" id=\"totals\"></div>\n"
    "<table><thead><tr><th>endpoint</th><th class=\"l\">role</th><th>state</th><th>in flight</th>"
    "<th>waiting</th><th>running</th><th>KV usage</th><th>cache hit rate</th>"
    "<th>recent TTFT</th><th>picks</th><th>share of picks</th><th>errors</th></tr></thead>\n"
    "<tbody id=\"pool\"></tbody></table>\n"
    "<div id=\"discovery\" hidden><h2>where endpoints come from</h2>\n"
    "<table><thead><tr><th>source</th><th class=\"l\">kind</th><th>state</th><th>endpoints</th>"
    "<th>lookups</th><th>failures</th><th class=\"l\">last error</th></tr></thead>\n"
    "<tbody id=\"sources\"></tbody></table></div>\n"
    "<div id=\"err\"></div>\n"
    "<script>\n"
    "'use strict';\n"
    "const $ = (id) => document.getElementById(id);\n"
    "const pct = (v) => (v == null ? '-' : (100 * v).toFixed(1) + '%');\n"
    "const ms = (v) => (v == null ? '-' : v.toFixed(1) + ' ms');\n"
    "const num = (v) => (v == null ? '-' : String(Math.round(v * 100) / 100));\n"
    "function cell(tr, field, text, cls) {\n"
    "  const td = document.createElement('td');\n"
    "  td.dataset.field = field;\n"
    "  if (cls) td.className = cls;\n"
    "  td.textContent = text;\n"
    "  tr.appendChild(td);\n"
    "  return td;\n"
    "}\n"
    "function bar(td, v, kind) {\n"
    "  const b = document.createElement('span');\n"
    "  b.className = 'bar ' + kind;\n"
    "  const i = document.createElement('i');\n"
    "  i.style.width = (v == null ? 0 : Math.max(0, Math.min(1, v)) * 100) + '%';\n"
    "  b.appendChild(i);\n"
    "  td.appendChild(b);\n"
    "}\n"
    "function card(parent, key, value) {\n"
    "  const d = document.createElement('div');\n"
    "  d.className = 'card';\n"
    "  d.dataset.total = key;\n"
    "  const v = document.createElement('div');\n"
    "  v.className = 'v';\n"
    "  v.textContent = value;\n"
    "  const k = document.createElement('div');\n"
    "  k.className = 'k';\n"
    "  k.textContent = key.replace(/_/g, ' ');\n"
    "  d.append(v, k);\n"
    "  parent.appendChild(d);\n"
    "}\n"
    "function render(s) {\n"
    "  $('policy').textContent = s.policy;\n"
    "  $('models').textContent = s.models.join(', ') || '-';\n"
    "  $('updated').textContent = new Date().toLocaleTimeString();\n"
    "  const t = s.totals, tot = $('totals');\n"
    "  tot.replaceChildren();\n"
    "  card(tot, 'healthy', t.healthy + ' / ' + t.endpoints);\n"
    "  card(tot, 'in_flight', t.in_flight);\n"
    "  card(tot, 'requests', t.requests);\n"
    "  card(tot, 'errors', t.errors);\n"
    "  card(tot, 'retries', t.retries);\n"
    "  card(tot, 'queued', t.queued);\n"
    "  card(tot, 'shed', t.shed);\n"
    "  card(tot, 'ttft_p50', ms(t.ttft_p50_ms));\n"
    "  card(tot, 'ttft_p95', ms(t.ttft_p95_ms));\n"
    "  const rows = s.endpoints.map((e) => {\n"
    "    const tr = document.createElement('tr');\n"
    "    tr.dataset.endpoint = e.name;\n"
    "    const nm = cell(tr, 'name', e.warning ? e.name + ' \\u26a0' : e.name);\n"
    "    if (e.warning) nm.title = e.warning;\n"
    "    cell(tr, 'role', e.data_parallel_rank == null ? e.role : e.role + ' \\u00b7 ' +\n"
    "      (e.group || '') + ' rank ' + e.data_parallel_rank, 'l');\n"
    "    const up = e.healthy && e.outlier === 'ok';\n"
    "    const st = cell(tr, 'state', e.draining ? 'draining' : !e.healthy ? 'down' : up ? 'up' : "
    "e.outlier, up ? 'up' : 'down');\n"
    "    if (!e.healthy && e.last_error) st.title = e.last_error;\n"
    "    cell(tr, 'in_flight', e.in_flight);\n"
    "    cell(tr, 'waiting', num(e.waiting));\n"
    "    cell(tr, 'running', num(e.running));\n"
    "    bar(cell(tr, 'kv_usage', pct(e.kv_usage)), e.kv_usage, 'kv');\n"
    "    bar(cell(tr, 'cache_hit_rate', pct(e.cache_hit_rate)), e.cache_hit_rate, 'hit');\n"
    "    cell(tr, 'ttft_ms', ms(e.ttft_ms));\n"
    "    cell(tr, 'picks', e.picks);\n"
    "    bar(cell(tr, 'pick_share', pct(e.pick_share)), e.pick_share, 'share');\n"
    "    cell(tr, 'errors', e.errors);\n"
    "    return tr;\n"
    "  });\n"
    "  $('pool').replaceChildren(...rows);\n"
    "  const src = (s.discovery || []).map((d) => {\n"
    "    const tr = document.createElement('tr');\n"
    "    tr.dataset.source = d.source;\n"
    "    cell(tr, 'source', d.source);\n"
    "    cell(tr, 'kind', d.kind, 'l');\n"
    "    cell(tr, 'state', d.ok ? 'ok' : 'failing: last good kept', d.ok ? 'up' : 'down');\n"
    "    cell(tr, 'endpoints', d.endpoints);\n"
    "    cell(tr, 'lookups', d.lookups);\n"
    "    cell(tr, 'failures', d.failures);\n"
    "    cell(tr, 'error', d.error || '-', 'l');\n"
    "    return tr;\n"
    "  });\n"
    "  $('sources').replaceChildren(...src);\n"
    "  $('discovery').hidden = src.length === 0;\n"
    "}\n"
    "async function poll() {\n"
    "  try {\n"
    "    const r = await fetch('/status', { cache: 'no-store' });\n"
    "    if (!r.ok) throw new Error('GET /status: ' + r.status);\n"
    "    render(await r.json());\n"
    "    $('err').textContent = '';\n"
    "  } catch (e) {\n"
    "    $('err').textContent = String(e);\n"
    "  }\n"
    "  setTimeout(poll, 1000);\n"
    "}\n"
    "poll();\n"
    "</script></body></html>\n";

void wp__gw_status_page(const char **html, size_t *len)
{
    *html = status_page;
    *len = sizeof(status_page) - 1;
}
