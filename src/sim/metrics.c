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

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The replicas of one /metrics answer: their stats and labels, taken once. */
typedef struct view_s {
    sim_replica_t *const *rs;
    int n;
    wp_engine_stats_t *st; /* [n] */
    char (*labels)[160];   /* [n] */
} view_t;

/* The labels of replica k of v with one more label (name="value", in alphabetical place:
 * after engine, before model_name; NULL: none). */
static void labels_with(const view_t *v, int k, const char *name, const char *value, char *out,
                        size_t cap)
{
    const sim_replica_t *r = v->rs[k];
    if (name == NULL)
        snprintf(out, cap, "engine=\"%d\",model_name=\"%s\"", r->rank, r->sim->model->hf_id);
    else if (strcmp(name, "model_name") < 0)
        snprintf(out, cap, "engine=\"%d\",%s=\"%s\",model_name=\"%s\"", r->rank, name, value,
                 r->sim->model->hf_id);
    else
        snprintf(out, cap, "engine=\"%d\",model_name=\"%s\",%s=\"%s\"", r->rank,
                 r->sim->model->hf_id, name, value);
}

/* One family, a sample per replica: value(v, k). */
#define EACH_SAMPLE(out, v, name, type, help, value)                                               \
    do {                                                                                           \
        family(out, name, type, help);                                                             \
        for (int k = 0; k < (v)->n; k++)                                                           \
            sample(out, name, (v)->labels[k], (double)(value));                                    \
    } while (0)

static void hist(wp_buf_t *out, const view_t *v, const char *name, const char *help, size_t field)
{
    family(out, name, "histogram", help);
    for (int k = 0; k < v->n; k++) {
        const wp_stats_hist_t *h =
            (const wp_stats_hist_t *)(const void *)((const char *)v->rs[k] + field);
        wp_stats_hist_write_prom(h, out, name, v->labels[k]);
    }
}

/* A counter family with one sample per replica and value of the label `label`. */
static void counter_by(wp_buf_t *out, const view_t *v, const char *name, const char *help,
                       const char *label, const char *const *values, int n_values,
                       uint64_t (*get)(const sim_replica_t *r, const wp_engine_stats_t *st, int i))
{
    family(out, name, "counter", help);
    for (int k = 0; k < v->n; k++) {
        for (int i = 0; i < n_values; i++) {
            char l[320];
            labels_with(v, k, label, values[i], l, sizeof(l));
            sample(out, name, l, (double)get(v->rs[k], &v->st[k], i));
        }
    }
}

static uint64_t pulls(const sim_replica_t *r, const wp_engine_stats_t *st, int i)
{
    (void)st;
    return i == 0 ? r->kv_pulls_ok : r->kv_pulls_failed;
}

static uint64_t served(const sim_replica_t *r, const wp_engine_stats_t *st, int i)
{
    (void)st;
    return i == 0 ? r->kv_served : r->kv_refused;
}

static uint64_t finished(const sim_replica_t *r, const wp_engine_stats_t *st, int i)
{
    (void)r;
    return st->finished[WP_ENGINE_FINISH_LENGTH + i];
}

static uint64_t injected(const sim_replica_t *r, const wp_engine_stats_t *st, int i)
{
    (void)st;
    return r->faults_injected[i];
}

static void write_kv(const view_t *v, wp_buf_t *out)
{
    static const char *const ok_failed[] = {"ok", "failed"}, *const ok_refused[] = {"ok",
                                                                                    "refused"};
    counter_by(out, v, "wellpath_sim_kv_pulls_total",
               "KV pulls from a remote prefill server, by result.", "result", ok_failed, 2, pulls);
    hist(out, v, "wellpath_sim_kv_pull_seconds",
         "Simulated KV transfer time of successful pulls in seconds.",
         offsetof(sim_replica_t, kv_pull));
    counter_by(out, v, "wellpath_sim_kv_served_total",
               "KV pull requests answered on the side channel, by result.", "result", ok_refused, 2,
               served);
    EACH_SAMPLE(out, v, "wellpath_sim_kv_held_requests", "gauge",
                "Finished remote prefills whose KV blocks wait for a pull.", v->st[k].num_held);
    EACH_SAMPLE(out, v, "wellpath_sim_kv_held_blocks", "gauge",
                "KV blocks held for remote decodes.", v->st[k].held_blocks);
}

static void write_faults(const view_t *v, wp_buf_t *out)
{
    const char *kinds[WP_FAULT_KIND_COUNT];
    for (int k = 0; k < WP_FAULT_KIND_COUNT; k++)
        kinds[k] = wp_fault_kind_name((wp_fault_kind_t)k);
    counter_by(out, v, "wellpath_sim_faults_injected_total",
               "Faults injected into requests of this replica, by kind.", "kind", kinds,
               WP_FAULT_KIND_COUNT, injected);
}

static void write_cache_info(const view_t *v, wp_buf_t *out)
{
    family(out, "vllm:cache_config_info", "gauge", "Information of the LLMEngine CacheConfig");
    for (int k = 0; k < v->n; k++) {
        const wp_sim_t *sim = v->rs[k]->sim;
        char info[512];
        snprintf(info, sizeof(info),
                 "block_size=\"%d\",cache_dtype=\"auto\",enable_prefix_caching=\"%s\",engine="
                 "\"%d\",gpu_memory_utilization=\"%g\",num_gpu_blocks=\"%d\"",
                 v->st[k].block_size, sim->ecfg.enable_prefix_caching ? "True" : "False",
                 v->rs[k]->rank, sim->perf.params.gpu_memory_utilization, v->st[k].num_blocks);
        sample(out, "vllm:cache_config_info", info, 1.0);
    }
}

static void write_latencies(const view_t *v, wp_buf_t *out)
{
    hist(out, v, "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
         offsetof(sim_replica_t, ttft));
    hist(out, v, "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
         offsetof(sim_replica_t, itl));
    hist(out, v, "vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.",
         offsetof(sim_replica_t, e2e));
    hist(out, v, "vllm:request_queue_time_seconds",
         "Histogram of time spent in WAITING phase for request.", offsetof(sim_replica_t, queue));
    hist(out, v, "vllm:request_prefill_time_seconds",
         "Histogram of time spent in PREFILL phase for request.", offsetof(sim_replica_t, prefill));
    hist(out, v, "vllm:request_decode_time_seconds",
         "Histogram of time spent in DECODE phase for request.", offsetof(sim_replica_t, decode));
}

static void write_all(view_t *v, wp_buf_t *out)
{
    for (int k = 0; k < v->n; k++) {
        wp_engine_stats(v->rs[k]->engine, &v->st[k]);
        labels_with(v, k, NULL, NULL, v->labels[k], sizeof(v->labels[k]));
    }
    EACH_SAMPLE(out, v, "vllm:num_requests_running", "gauge",
                "Number of requests in model execution batches.", v->st[k].num_running);
    EACH_SAMPLE(out, v, "vllm:num_requests_waiting", "gauge",
                "Number of requests waiting to be processed.", v->st[k].num_waiting);
    EACH_SAMPLE(out, v, "vllm:kv_cache_usage_perc", "gauge",
                "KV-cache usage. 1 means 100 percent usage.", v->st[k].kv_usage);
    EACH_SAMPLE(out, v, "vllm:prefix_cache_queries_total", "counter",
                "Prefix cache queries, in terms of number of queried tokens.",
                v->st[k].prefix_queries);
    EACH_SAMPLE(out, v, "vllm:prefix_cache_hits_total", "counter",
                "Prefix cache hits, in terms of number of cached tokens.", v->st[k].prefix_hits);
    if (v->st[0].cpu_blocks > 0) { /* CPU KV offload: vLLM's external prefix cache */
        EACH_SAMPLE(out, v, "vllm:external_prefix_cache_queries_total", "counter",
                    "External prefix cache queries from KV connector cross-instance cache "
                    "sharing, in terms of number of queried tokens.",
                    v->st[k].cpu_queries);
        EACH_SAMPLE(out, v, "vllm:external_prefix_cache_hits_total", "counter",
                    "External prefix cache hits from KV connector cross-instance cache sharing, in "
                    "terms of number of cached tokens.",
                    v->st[k].cpu_hits);
        EACH_SAMPLE(out, v, "vllm:cpu_cache_usage_perc", "gauge",
                    "CPU KV-cache usage (the offload tier). 1 means 100 percent usage.",
                    (double)v->st[k].cpu_blocks_used / v->st[k].cpu_blocks);
        EACH_SAMPLE(out, v, "wellpath_sim_kv_offload_stored_blocks_total", "counter",
                    "Blocks the GPU evicted into the CPU tier.", v->st[k].cpu_stores);
        EACH_SAMPLE(out, v, "wellpath_sim_kv_offload_loaded_bytes_total", "counter",
                    "Bytes loaded from the CPU tier over the host link, per GPU.",
                    v->st[k].cpu_loaded_bytes);
    }
    EACH_SAMPLE(out, v, "vllm:prompt_tokens_total", "counter",
                "Number of prefill tokens processed.", v->st[k].prompt_tokens_total);
    EACH_SAMPLE(out, v, "vllm:generation_tokens_total", "counter",
                "Number of generation tokens processed.", v->st[k].generation_tokens_total);
    EACH_SAMPLE(out, v, "vllm:num_preemptions_total", "counter",
                "Cumulative number of preemption from the engine.", v->st[k].num_preemptions_total);
    const char *reasons[WP_ENGINE_FINISH_COUNT];
    int n_reasons = 0;
    for (int f = WP_ENGINE_FINISH_LENGTH; f < WP_ENGINE_FINISH_COUNT; f++)
        reasons[n_reasons++] = wp_engine_finish_str((wp_engine_finish_t)f);
    counter_by(out, v, "vllm:request_success_total", "Count of successfully processed requests.",
               "finished_reason", reasons, n_reasons, finished);
    write_latencies(v, out);
    write_cache_info(v, out);
    EACH_SAMPLE(out, v, "wellpath_sim_steps_total", "counter",
                "Engine steps run by this simulated replica.", v->rs[k]->steps);
    write_kv(v, out);
    write_faults(v, out);
}

void wp__sim_metrics_write(sim_replica_t *const *rs, int n, wp_buf_t *out)
{
    view_t v = {.rs = rs, .n = n};
    v.st = calloc((size_t)n, sizeof(*v.st));
    v.labels = calloc((size_t)n, sizeof(*v.labels));
    if (v.st != NULL && v.labels != NULL)
        write_all(&v, out);
    free(v.st);
    free(v.labels);
}
