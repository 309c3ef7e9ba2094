/*
 * sim/metrics: a replica's /metrics with vLLM's names, labels and buckets
 * (docs/reference.md §2). Latencies are in simulated seconds: what a real server on that
 * hardware would report, whatever the time scale. wellpath's own P/D series:
 * wellpath_sim_kv_pulls_total{result="ok|failed"} (decode side),
 * wellpath_sim_kv_pull_seconds (simulated transfer time of the successful pulls),
 * wellpath_sim_kv_served_total{result="ok|refused"} (prefill side),
 * wellpath_sim_kv_held_requests and wellpath_sim_kv_held_blocks (gauges). Fault injection:
 * wellpath_sim_faults_injected_total{kind} (every kind, 0 until injected; kept across a
 * simulated crash, unlike the rest).
 */
#include "sim/internal.h"

#include <stdio.h>

static const double kv_pull_buckets[] = {0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,   0.5,   1,      2.5,   5,    10};

void wp__sim_metrics_init(sim_replica_t *r)
{
    wp_stats_hist_init(&r->kv_pull, kv_pull_buckets,
                       sizeof(kv_pull_buckets) / sizeof(kv_pull_buckets[0]), NULL);
    wp_stats_hist_init(&r->ttft, WP_STATS_BUCKETS_TTFT, WP_STATS_BUCKETS_TTFT_N, NULL);
    wp_stats_hist_init(&r->itl, WP_STATS_BUCKETS_ITL, WP_STATS_BUCKETS_ITL_N, NULL);
    wp_stats_hist_init(&r->e2e, WP_STATS_BUCKETS_E2E, WP_STATS_BUCKETS_E2E_N, NULL);
    wp_stats_hist_init(&r->queue, WP_STATS_BUCKETS_E2E, WP_STATS_BUCKETS_E2E_N, NULL);
    wp_stats_hist_init(&r->prefill, WP_STATS_BUCKETS_E2E, WP_STATS_BUCKETS_E2E_N, NULL);
    wp_stats_hist_init(&r->decode, WP_STATS_BUCKETS_E2E, WP_STATS_BUCKETS_E2E_N, NULL);
}

void wp__sim_metrics_free(sim_replica_t *r)
{
    wp_stats_hist_free(&r->ttft);
    wp_stats_hist_free(&r->itl);
    wp_stats_hist_free(&r->e2e);
    wp_stats_hist_free(&r->queue);
    wp_stats_hist_free(&r->prefill);
    wp_stats_hist_free(&r->decode);
    wp_stats_hist_free(&r->kv_pull);
}

static void family(wp_buf_t *out, const char *name, const char *type, const char *help)
{
    wp_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(wp_buf_t *out, const char *name, const char *labels, double v)
{
    char num[WP_STATS_FMT_MAX];
    wp_stats_fmt_double(num, sizeof(num), v);
    wp_buf_printf(out, "%s{%s} %s\n", name, labels, num);
}

static void gauge(wp_buf_t *out, const char *name, const char *help, const char *labels, double v)
{
    family(out, name, "gauge", help);
    sample(out, name, labels, v);
}

static void counter(wp_buf_t *out, const char *name, const char *help, const char *labels, double v)
{
    family(out, name, "counter", help);
    sample(out, name, labels, v);
}

static void hist(wp_buf_t *out, const char *name, const char *help, const char *labels,
                 const wp_stats_hist_t *h)
{
    family(out, name, "histogram", help);
    wp_stats_hist_write_prom(h, out, name, labels);
}

/* A counter family with one sample per value of the label `result`. */
static void counter_by_result(wp_buf_t *out, const sim_replica_t *r, const char *name,
                              const char *help, const char *const *results, const uint64_t *v)
{
    family(out, name, "counter", help);
    for (int i = 0; i < 2; i++) {
        char l[320];
        snprintf(l, sizeof(l), "engine=\"0\",model_name=\"%s\",result=\"%s\"", r->sim->model->hf_id,
                 results[i]);
        sample(out, name, l, (double)v[i]);
    }
}

static void write_kv(sim_replica_t *r, wp_buf_t *out, const char *labels,
                     const wp_engine_stats_t *st)
{
    static const char *const pulls[] = {"ok", "failed"}, *const served[] = {"ok", "refused"};
    uint64_t p[2] = {r->kv_pulls_ok, r->kv_pulls_failed}, s[2] = {r->kv_served, r->kv_refused};
    counter_by_result(out, r, "wellpath_sim_kv_pulls_total",
                      "KV pulls from a remote prefill server, by result.", pulls, p);
    hist(out, "wellpath_sim_kv_pull_seconds",
         "Simulated KV transfer time of successful pulls in seconds.", labels, &r->kv_pull);
    counter_by_result(out, r, "wellpath_sim_kv_served_total",
                      "KV pull requests answered on the side channel, by result.", served, s);
    gauge(out, "wellpath_sim_kv_held_requests",
          "Finished remote prefills whose KV blocks wait for a pull.", labels, st->num_held);
    gauge(out, "wellpath_sim_kv_held_blocks", "KV blocks held for remote decodes.", labels,
          st->held_blocks);
}

static void write_faults(sim_replica_t *r, wp_buf_t *out)
{
    const char *name = "wellpath_sim_faults_injected_total";
    family(out, name, "counter", "Faults injected into requests of this replica, by kind.");
    for (int k = 0; k < WP_FAULT_KIND_COUNT; k++) {
        char l[320];
        snprintf(l, sizeof(l), "engine=\"0\",kind=\"%s\",model_name=\"%s\"",
                 wp_fault_kind_name((wp_fault_kind_t)k), r->sim->model->hf_id);
        sample(out, name, l, (double)r->faults_injected[k]);
    }
}

void wp__sim_metrics_write(sim_replica_t *r, wp_buf_t *out)
{
    wp_sim_t *sim = r->sim;
    wp_engine_stats_t st;
    wp_engine_stats(r->engine, &st);
    char labels[256];
    snprintf(labels, sizeof(labels), "engine=\"0\",model_name=\"%s\"", sim->model->hf_id);
    gauge(out, "vllm:num_requests_running", "Number of requests in model execution batches.",
          labels, st.num_running);
    gauge(out, "vllm:num_requests_waiting", "Number of requests waiting to be processed.", labels,
          st.num_waiting);
    gauge(out, "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", labels,
          st.kv_usage);
    counter(out, "vllm:prefix_cache_queries_total",
            "Prefix cache queries, in terms of number of queried tokens.", labels,
            (double)st.prefix_queries);
    counter(out, "vllm:prefix_cache_hits_total",
            "Prefix cache hits, in terms of number of cached tokens.", labels,
            (double)st.prefix_hits);
    counter(out, "vllm:prompt_tokens_total", "Number of prefill tokens processed.", labels,
            (double)st.prompt_tokens_total);
    counter(out, "vllm:generation_tokens_total", "Number of generation tokens processed.", labels,
            (double)st.generation_tokens_total);
    counter(out, "vllm:num_preemptions_total", "Cumulative number of preemption from the engine.",
            labels, (double)st.num_preemptions_total);
    family(out, "vllm:request_success_total", "counter",
           "Count of successfully processed requests.");
    for (int f = WP_ENGINE_FINISH_LENGTH; f < WP_ENGINE_FINISH_COUNT; f++) {
        char l[320];
        snprintf(l, sizeof(l), "engine=\"0\",finished_reason=\"%s\",model_name=\"%s\"",
                 wp_engine_finish_str((wp_engine_finish_t)f), sim->model->hf_id);
        sample(out, "vllm:request_success_total", l, (double)st.finished[f]);
    }
    hist(out, "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
         labels, &r->ttft);
    hist(out, "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
         labels, &r->itl);
    hist(out, "vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.",
         labels, &r->e2e);
    hist(out, "vllm:request_queue_time_seconds",
         "Histogram of time spent in WAITING phase for request.", labels, &r->queue);
    hist(out, "vllm:request_prefill_time_seconds",
         "Histogram of time spent in PREFILL phase for request.", labels, &r->prefill);
    hist(out, "vllm:request_decode_time_seconds",
         "Histogram of time spent in DECODE phase for request.", labels, &r->decode);
    char info[512];
    snprintf(info, sizeof(info),
             "block_size=\"%d\",cache_dtype=\"auto\",enable_prefix_caching=\"%s\",engine=\"0\","
             "gpu_memory_utilization=\"%g\",num_gpu_blocks=\"%d\"",
             st.block_size, sim->ecfg.enable_prefix_caching ? "True" : "False",
             sim->perf.params.gpu_memory_utilization, st.num_blocks);
    gauge(out, "vllm:cache_config_info", "Information of the LLMEngine CacheConfig", info, 1.0);
    counter(out, "wellpath_sim_steps_total", "Engine steps run by this simulated replica.", labels,
            (double)r->steps);
    write_kv(r, out, labels, &st);
    write_faults(r, out);
}
