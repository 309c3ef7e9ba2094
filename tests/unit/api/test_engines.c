/* Tests for api/engines: each engine's scrape, with the series and label shapes its
 * source exports (docs/engines.md), read into waiting, running, KV usage and the
 * prefix-cache counters; optional series missing; a scrape that is not Prometheus text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/engines.h"

static wp_api_engine_reading_t read_rank(wp_topology_engine_t engine, int rank, const char *text)
{
    wp_api_engine_reading_t r;
    wp_err_t err;
    assert_int_equal(wp_api_engine_read(wp_api_engine(engine), rank, text, strlen(text), &r, &err),
                     WP_OK);
    return r;
}

static wp_api_engine_reading_t read_ok(wp_topology_engine_t engine, const char *text)
{
    return read_rank(engine, -1, text);
}

static void test_engines_vllm_two_engines(void **state)
{
    const char *text =
        "# TYPE vllm:num_requests_running gauge\n"
        "vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 3.0\n"
        "vllm:num_requests_running{engine=\"1\",model_name=\"m\"} 2.0\n"
        "vllm:num_requests_waiting{engine=\"0\",model_name=\"m\"} 1.0\n"
        "vllm:num_requests_waiting{engine=\"1\",model_name=\"m\"} 0.0\n"
        "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} 0.25\n"
        "vllm:kv_cache_usage_perc{engine=\"1\",model_name=\"m\"} 0.5\n"
        "vllm:prefix_cache_queries_total{engine=\"0\",model_name=\"m\"} 100.0\n"
        "vllm:prefix_cache_hits_total{engine=\"0\",model_name=\"m\"} 40.0\n"
        "vllm:cache_config_info{block_size=\"16\",engine=\"0\",num_gpu_blocks=\"2048\"} 1.0\n";
    wp_api_engine_reading_t r = read_ok(WP_TOPO_ENGINE_VLLM, text);
    assert_float_equal(r.running, 5, 0);
    assert_float_equal(r.waiting, 1, 0);
    assert_float_equal(r.kv_usage, 0.5, 0);
    assert_float_equal(r.cache_queries, 100, 0);
    assert_float_equal(r.cache_hits, 40, 0);
    assert_float_equal(r.kv_blocks, 2048, 0);
    assert_int_equal(r.seen, 31);
}

/* A data-parallel rank's endpoint reads its own engine's samples: on a shared port that
 * reports every rank (engine="0", engine="1"), rank 1 gets rank 1's numbers; samples with
 * no engine label count for every rank; a rank the text does not report sees nothing. */
static void test_engines_rank_filter(void **state)
{
    const char *text = "# TYPE vllm:num_requests_running gauge\n"
                       "vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 3.0\n"
                       "vllm:num_requests_running{model_name=\"m\",engine=\"1\"} 2.0\n"
                       "vllm:num_requests_waiting{engine=\"0\",model_name=\"m\"} 7.0\n"
                       "vllm:num_requests_waiting{engine=\"1\",model_name=\"m\"} 4.0\n"
                       "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} 0.75\n"
                       "vllm:kv_cache_usage_perc{engine=\"1\",model_name=\"m\"} 0.25\n"
                       "vllm:prefix_cache_queries_total{engine=\"0\",model_name=\"m\"} 100.0\n"
                       "vllm:prefix_cache_queries_total{engine=\"1\",model_name=\"m\"} 60.0\n"
                       "vllm:prefix_cache_hits_total{engine=\"0\",model_name=\"m\"} 40.0\n"
                       "vllm:prefix_cache_hits_total{engine=\"1\",model_name=\"m\"} 30.0\n"
                       "vllm:cache_config_info{engine=\"0\",num_gpu_blocks=\"2048\"} 1.0\n"
                       "vllm:cache_config_info{engine=\"1\",num_gpu_blocks=\"1024\"} 1.0\n";
    wp_api_engine_reading_t r = read_rank(WP_TOPO_ENGINE_VLLM, 1, text);
    assert_float_equal(r.running, 2, 0);
    assert_float_equal(r.waiting, 4, 0);
    assert_float_equal(r.kv_usage, 0.25, 0);
    assert_float_equal(r.cache_queries, 60, 0);
    assert_float_equal(r.cache_hits, 30, 0);
    assert_float_equal(r.kv_blocks, 1024, 0);
    assert_int_equal(r.seen, 31);
    r = read_rank(WP_TOPO_ENGINE_VLLM, 0, text);
    assert_float_equal(r.running, 3, 0);
    assert_float_equal(r.waiting, 7, 0);
    assert_float_equal(r.kv_usage, 0.75, 0);
    assert_float_equal(r.kv_blocks, 2048, 0);
    /* no rank: every engine, summed (KV: the largest) */
    r = read_ok(WP_TOPO_ENGINE_VLLM, text);
    assert_float_equal(r.running, 5, 0);
    assert_float_equal(r.waiting, 11, 0);
    assert_float_equal(r.kv_usage, 0.75, 0);
    assert_float_equal(r.cache_queries, 160, 0);
    /* a rank the server does not report: nothing seen */
    r = read_rank(WP_TOPO_ENGINE_VLLM, 2, text);
    assert_int_equal(r.seen, 0);
    /* unlabelled samples are taken for any rank; a label that is no number is no rank */
    const char *mixed = "vllm:num_requests_running 6\n"
                        "vllm:num_requests_waiting{engine=\"x1\"} 9\n"
                        "vllm:num_requests_waiting{engine=\"01\"} 5\n";
    r = read_rank(WP_TOPO_ENGINE_VLLM, 1, mixed);
    assert_float_equal(r.running, 6, 0);
    assert_float_equal(r.waiting, 5, 0);
    assert_int_equal(r.seen, WP_API_ENGINE_SEEN_LOAD);
}

/* The current llama-server set: no KV series; prompt_tokens_total excludes cached ones. */
static void test_engines_llamacpp_current_set(void **state)
{
    const char *text = "# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed\n"
                       "# TYPE llamacpp:prompt_tokens_total counter\n"
                       "llamacpp:prompt_tokens_total 300\n"
                       "llamacpp:prompt_tokens_cached_total 700\n"
                       "llamacpp:prompt_seconds_total 1.5\n"
                       "llamacpp:tokens_predicted_total 64\n"
                       "llamacpp:n_decode_total 80\n"
                       "llamacpp:prompt_tokens_seconds 200\n"
                       "llamacpp:requests_processing 2\n"
                       "llamacpp:requests_deferred 1\n"
                       "llamacpp:n_busy_slots_per_decode 1.5\n";
    wp_api_engine_reading_t r = read_ok(WP_TOPO_ENGINE_LLAMACPP, text);
    assert_float_equal(r.waiting, 1, 0);
    assert_float_equal(r.running, 2, 0);
    assert_float_equal(r.cache_hits, 700, 0);
    assert_float_equal(r.cache_queries, 1000, 0);
    assert_int_equal(r.seen & WP_API_ENGINE_SEEN_LOAD, WP_API_ENGINE_SEEN_LOAD);
    assert_int_equal(r.seen & WP_API_ENGINE_SEEN_KV, 0);
    char buf[200];
    assert_string_equal(wp_api_engine_missing(wp_api_engine(WP_TOPO_ENGINE_LLAMACPP), r.seen, true,
                                              buf, sizeof(buf)),
                        "llamacpp:kv_cache_usage_ratio");
    assert_string_equal(wp_api_engine_missing(wp_api_engine(WP_TOPO_ENGINE_LLAMACPP), r.seen, false,
                                              buf, sizeof(buf)),
                        "");
}

static void test_engines_sglang_labels(void **state)
{
    const char *text =
        "sglang:num_running_reqs{engine_type=\"unified\",model_name=\"m\",tp_rank=\"0\"} 4.0\n"
        "sglang:num_queue_reqs{engine_type=\"unified\",model_name=\"m\",tp_rank=\"0\"} 2.0\n"
        "sglang:token_usage{engine_type=\"unified\",model_name=\"m\",tp_rank=\"0\"} 0.3\n"
        "sglang:cache_hit_rate{engine_type=\"unified\",model_name=\"m\",tp_rank=\"0\"} 0.6\n"
        "sglang:prompt_tokens_total{model_name=\"m\"} 1000.0\n"
        "sglang:cached_tokens_total{model_name=\"m\"} 600.0\n";
    wp_api_engine_reading_t r = read_ok(WP_TOPO_ENGINE_SGLANG, text);
    assert_float_equal(r.running, 4, 0);
    assert_float_equal(r.waiting, 2, 0);
    assert_float_equal(r.kv_usage, 0.3, 1e-12);
    assert_float_equal(r.cache_hits, 600, 0);
    assert_float_equal(r.cache_queries, 1000, 0);
}

static void test_engines_trtllm_blocks(void **state)
{
    const char *text =
        "trtllm_num_requests_running{engine_type=\"trtllm\",model_name=\"m\"} 6.0\n"
        "trtllm_num_requests_waiting{engine_type=\"trtllm\",model_name=\"m\"} 0.0\n"
        "trtllm_kv_cache_utilization{engine_type=\"trtllm\",model_name=\"m\"} 1.5\n"
        "trtllm_kv_cache_reused_blocks_total{engine_type=\"trtllm\",model_name=\"m\"} 30.0\n"
        "trtllm_kv_cache_missed_blocks_total{engine_type=\"trtllm\",model_name=\"m\"} 10.0\n";
    wp_api_engine_reading_t r = read_ok(WP_TOPO_ENGINE_TRTLLM, text);
    assert_float_equal(r.running, 6, 0);
    assert_float_equal(r.kv_usage, 1.0, 0); /* capped */
    assert_float_equal(r.cache_hits, 30, 0);
    assert_float_equal(r.cache_queries, 40, 0);
    assert_string_equal(wp_api_engine(WP_TOPO_ENGINE_TRTLLM)->metrics_path, "/prometheus/metrics");
}

static void test_engines_missing_and_bad_text(void **state)
{
    /* The right text for another engine: nothing seen, both required names listed. */
    wp_api_engine_reading_t r = read_ok(WP_TOPO_ENGINE_VLLM, "llamacpp:requests_processing 1\n");
    assert_int_equal(r.seen, 0);
    char buf[200];
    assert_string_equal(
        wp_api_engine_missing(wp_api_engine(WP_TOPO_ENGINE_VLLM), r.seen, false, buf, sizeof(buf)),
        "vllm:num_requests_waiting, vllm:num_requests_running");
    /* A short buffer is cut, never overrun. */
    assert_true(
        strlen(wp_api_engine_missing(wp_api_engine(WP_TOPO_ENGINE_VLLM), 0, true, buf, 10)) < 10);
    /* NaN samples are skipped. */
    r = read_ok(WP_TOPO_ENGINE_VLLM, "vllm:num_requests_waiting NaN\n");
    assert_int_equal(r.seen, 0);
    /* JSON (trtllm-serve's /metrics) is not Prometheus text. */
    wp_err_t err;
    const char *json = "[{\"numActiveRequests\": 1}]";
    assert_int_equal(
        wp_api_engine_read(wp_api_engine(WP_TOPO_ENGINE_TRTLLM), -1, json, strlen(json), &r, &err),
        WP_EINVAL);
    assert_int_equal(r.seen, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engines_vllm_two_engines),
        cmocka_unit_test(test_engines_rank_filter),
        cmocka_unit_test(test_engines_llamacpp_current_set),
        cmocka_unit_test(test_engines_sglang_labels),
        cmocka_unit_test(test_engines_trtllm_blocks),
        cmocka_unit_test(test_engines_missing_and_bad_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
