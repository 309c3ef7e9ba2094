/* Unit tests for config/topology: the guide's Path 1 file, defaults, the embedded YAML,
 * and errors that name the file, line, column and key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/topology.h"
#include "sched/sched.h"

static wp_status_t parse(const char *yaml, wp_topology_t *t, wp_err_t *err)
{
    return wp_topology_parse(yaml, strlen(yaml), "topology.yaml", t, err);
}

/* Parses yaml, expects WP_EINVAL and an error message starting with `prefix` and
 * containing `part` (when not NULL). */
static void expect_error(const char *yaml, const char *prefix, const char *part)
{
    wp_topology_t t;
    wp_err_t err = {{0}};
    assert_int_equal(parse(yaml, &t, &err), WP_EINVAL);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0 ||
        (part != NULL && strstr(err.msg, part) == NULL))
        fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", err.msg, prefix, part ? part : "");
    assert_null(t.endpoints); /* nothing to free after a failure */
}

static const char path1_yaml[] = "model: qwen3-32b\n"
                                 "gpu: h100\n"
                                 "vllm:\n"
                                 "  replicas: 8\n"
                                 "  tensorParallel: 2\n"
                                 "  prefixCaching: true\n"
                                 "inferenceScheduler:\n"
                                 "  scorers:\n"
                                 "    - type: prefix-aware\n"
                                 "      weight: 100\n"
                                 "    - type: load-aware\n"
                                 "      weight: 50\n";

static void test_config_path1_guide_block(void **state)
{
    (void)state;
    wp_topology_t t;
    wp_err_t err;
    assert_int_equal(parse(path1_yaml, &t, &err), WP_OK);
    assert_string_equal(t.model, "qwen3-32b");
    assert_string_equal(t.gpu, "h100");
    assert_int_equal(t.vllm.replicas, 8);
    assert_int_equal(t.vllm.tensor_parallel, 2);
    assert_true(t.vllm.prefix_caching);
    assert_int_equal(t.vllm.max_num_seqs, 0); /* not set: engine default */
    assert_int_equal(t.scheduler.n_scorers, 2);
    assert_string_equal(t.scheduler.scorers[0].type, "prefix-aware");
    assert_true(t.scheduler.scorers[0].weight == 100.0);
    assert_int_equal(t.scheduler.scorers[0].line, 9);
    assert_string_equal(t.scheduler.scorers[1].type, "load-aware");
    assert_true(t.scheduler.scorers[1].weight == 50.0);
    assert_int_equal(t.scheduler.scorers[1].line, 11);
    /* untouched sections keep their defaults */
    assert_string_equal(t.scheduler.policy, "topology");
    assert_string_equal(t.gateway.listen_host, "127.0.0.1");
    assert_int_equal(t.gateway.listen_port, 8000);
    assert_int_equal(t.n_endpoints, 0);
    assert_false(t.prefill.present);
    assert_int_equal(wp_topology_validate(&t, &err), WP_OK);
    wp_topology_free(&t);
}

static void test_config_defaults(void **state)
{
    (void)state;
    wp_topology_t t;
    wp_err_t err;
    wp_topology_defaults(&t);
    assert_string_equal(t.model, "qwen3-8b");
    assert_string_equal(t.gpu, "h100");
    assert_int_equal(t.vllm.replicas, 4);
    assert_int_equal(t.vllm.tensor_parallel, 1);
    assert_true(t.vllm.prefix_caching);
    assert_int_equal(t.scheduler.n_scorers, 2);
    assert_string_equal(t.scheduler.scorers[0].type, "prefix-aware");
    assert_true(t.scheduler.scorers[0].weight == 100.0);
    assert_string_equal(t.scheduler.scorers[1].type, "load-aware");
    assert_true(t.scheduler.scorers[1].weight == 50.0);
    assert_int_equal(t.scheduler.scrape_interval_ms, 50);
    assert_int_equal(t.scheduler.stale_after_ms, 2000);
    assert_int_equal(t.scheduler.health_interval_ms, 1000);
    assert_int_equal(t.scheduler.check_timeout_ms, 2000);
    assert_int_equal(t.scheduler.unhealthy_after, 2);
    assert_int_equal(t.scheduler.prefix_block_chars, 64);
    assert_int_equal(t.scheduler.prefix_lru_blocks, 31250);
    assert_string_equal(t.gateway.listen_host, "127.0.0.1");
    assert_int_equal(t.gateway.listen_port, 8000);
    assert_int_equal(t.gateway.max_body_bytes, 4194304);
    assert_int_equal(t.gateway.retries, 2);
    assert_int_equal(t.simulation.base_port, 8100);
    assert_int_equal(t.simulation.seed, 1);
    assert_null(t.endpoints);
    assert_int_equal(wp_topology_validate(&t, &err), WP_OK);
    wp_topology_free(&t); /* harmless */
}

static void test_config_default_yaml_equals_defaults(void **state)
{
    (void)state;
    wp_topology_t parsed, def;
    wp_err_t err = {{0}};
    const char *y = wp_topology_default_yaml();
    if (wp_topology_parse(y, strlen(y), "default", &parsed, &err) != WP_OK)
        fail_msg("%s", err.msg);
    wp_topology_defaults(&def);
    /* defaults and the parser zero every string tail and all padding, so bytes compare;
     * the scorers' line numbers are the one thing the file adds */
    assert_int_equal(parsed.scheduler.scorers[0].line, 13);
    parsed.scheduler.scorers[0].line = parsed.scheduler.scorers[1].line = 0;
    assert_memory_equal(&parsed, &def, sizeof(def));
    wp_topology_free(&parsed);
}

static void test_config_unknown_key(void **state)
{
    (void)state;
    expect_error("model: m\nvllm:\n  replica: 8\n",
                 "topology.yaml:3:3: vllm.replica: unknown key; allowed here: replicas, "
                 "tensorParallel, prefixCaching, maxNumSeqs",
                 NULL);
    expect_error("model: m\ninferenceScheduler:\n  scorers:\n    - type: queue\n      wieght: 1\n",
                 "topology.yaml:5:7: inferenceScheduler.scorers[0].wieght: unknown key",
                 "allowed here: type, weight");
    expect_error("modle: m\n", "topology.yaml:1:1: modle: unknown key; allowed here: model, gpu",
                 "expertParallel");
}

static void test_config_wrong_type(void **state)
{
    (void)state;
    expect_error("model: m\ngpu: h100\nvllm:\n  replicas: eight\n",
                 "topology.yaml:4:13: vllm.replicas: expected an integer, got \"eight\"", NULL);
    expect_error("model: m\nvllm:\n  replicas: \"8\"\n",
                 "topology.yaml:3:13: vllm.replicas: expected an integer, got the string \"8\"",
                 NULL);
    expect_error("model: m\nvllm:\n  prefixCaching: yes\n",
                 "topology.yaml:3:18: vllm.prefixCaching: expected true or false, got \"yes\"",
                 NULL);
    expect_error("model: [a, b]\n", "topology.yaml:1:8: model: expected a string, got a list",
                 NULL);
    expect_error("model: m\nvllm: 4\n", "topology.yaml:2:7: vllm: expected a mapping, got \"4\"",
                 NULL);
    expect_error("model: m\nvllm:\n", "topology.yaml:2:6: vllm: expected a mapping, got nothing",
                 NULL);
    expect_error("model: m\ninferenceScheduler:\n  scorers:\n    - type: q\n      weight: heavy\n",
                 "topology.yaml:5:15: inferenceScheduler.scorers[0].weight: expected a number",
                 NULL);
    expect_error("- a\n- b\n", "topology.yaml:1:1: top level: expected a mapping", NULL);
}

static void test_config_ranges_and_choices(void **state)
{
    (void)state;
    expect_error("model: m\nvllm:\n  tensorParallel: 3\n",
                 "topology.yaml:3:19: vllm.tensorParallel: expected one of 1, 2, 4, 8, got 3",
                 NULL);
    expect_error("model: m\nvllm:\n  replicas: 65\n",
                 "topology.yaml:3:13: vllm.replicas: 65 is out of range [1, 64]", NULL);
    expect_error("model: m\ninferenceScheduler:\n  checkTimeoutMs: 5\n",
                 "topology.yaml:3:19: inferenceScheduler.checkTimeoutMs: 5 is out of range "
                 "[10, 60000]",
                 NULL);
    expect_error("model: m\ngateway:\n  workers: 0\n",
                 "topology.yaml:3:12: gateway.workers: 0 is out of range [1, 64]", NULL);
    expect_error("model: m\nvllm:\n  gpuMemoryUtilization: 0\n",
                 "topology.yaml:3:25: vllm.gpuMemoryUtilization: 0 is out of range (0, 1]", NULL);
    expect_error("model: m\ninferenceScheduler:\n  policy: fastest\n",
                 "topology.yaml:3:11: inferenceScheduler.policy: \"fastest\" is not one of: "
                 "topology, round-robin",
                 NULL);
    expect_error("model: m\ninferenceScheduler:\n  scorers:\n    - type: q\n      weight: -1\n",
                 "topology.yaml:5:15: inferenceScheduler.scorers[0].weight: -1 is out of range",
                 NULL);
    expect_error("model: m\ninferenceScheduler:\n  scorers: []\n",
                 "topology.yaml:3:12: inferenceScheduler.scorers: expected 1 to 16 scorers", NULL);
    expect_error("model: m\nsimulation:\n  basePort: 65534\n",
                 "topology.yaml:2:1: simulation.basePort: 4 replicas from port 65534", NULL);
    expect_error(
        "model: m\ngpu: a-very-long-gpu-name-that-goes-on-and-on-and-on-and-on-and-on-xyz\n",
        "topology.yaml:2:6: gpu: too long (65 bytes, at most 63)", NULL);
    wp_topology_t t;
    wp_err_t err;
    assert_int_equal(parse("model: m\nvllm:\n  gpuMemoryUtilization: 1.0\n  maxNumSeqs: 128\n"
                           "inferenceScheduler:\n  scorers:\n    - {type: queue, weight: 2.5}\n",
                           &t, &err),
                     WP_OK);
    assert_true(t.vllm.gpu_memory_utilization == 1.0);
    assert_int_equal(t.vllm.max_num_seqs, 128);
    assert_int_equal(t.scheduler.n_scorers, 1); /* the file's list replaces the default */
    assert_true(t.scheduler.scorers[0].weight == 2.5);
    wp_topology_free(&t);
}

static void test_config_required_and_duplicates(void **state)
{
    (void)state;
    expect_error("gpu: h100\n", "topology.yaml:1:1: model: missing required key", NULL);
    expect_error("model: m\ninferenceScheduler:\n  scorers:\n    - type: queue\n",
                 "topology.yaml:4:7: inferenceScheduler.scorers[0]: missing required key "
                 "\"weight\"",
                 NULL);
    expect_error("model: m\nvllm:\n  replicas: 2\n  replicas: 3\n",
                 "topology.yaml:4:3: vllm.replicas: duplicate key", NULL);
    expect_error("model: \"\"\n", "topology.yaml:1:8: model: expected a non-empty string", NULL);
    expect_error("model: m\n---\nmodel: n\n", "topology.yaml:3:1: a second YAML document", NULL);
}

static void test_config_invalid_yaml_and_empty(void **state)
{
    (void)state;
    expect_error("model: m\nvllm:\n\treplicas: 2\n", "topology.yaml:3:", "invalid YAML");
    expect_error("model: [unclosed\n", "topology.yaml:", "invalid YAML");
    expect_error("", "topology.yaml:1:1: empty file", NULL);
    expect_error("# only a comment\n\n", "topology.yaml:1:1: empty file", NULL);
}

static void test_config_endpoints(void **state)
{
    (void)state;
    wp_topology_t t;
    wp_err_t err = {{0}};
    const char *y = "endpoints:\n"
                    "  - url: http://10.0.0.5:8000\n"
                    "  - url: http://[::1]:9000/v1/\n"
                    "    engine: sglang\n"
                    "    role: decode\n"
                    "  - url: http://pod-c.svc\n"
                    "    name: pod-c\n";
    if (parse(y, &t, &err) != WP_OK)
        fail_msg("%s", err.msg);
    assert_string_equal(t.model, ""); /* no model needed with endpoints */
    assert_int_equal(t.n_endpoints, 3);
    assert_string_equal(t.endpoints[0].host, "10.0.0.5");
    assert_int_equal(t.endpoints[0].port, 8000);
    assert_string_equal(t.endpoints[0].base_path, "");
    assert_string_equal(t.endpoints[0].name, "10.0.0.5:8000");
    assert_int_equal(t.endpoints[0].engine, WP_TOPO_ENGINE_VLLM);
    assert_int_equal(t.endpoints[0].role, WP_TOPO_ROLE_BOTH);
    assert_int_equal(t.endpoints[0].line, 2);
    assert_string_equal(t.endpoints[1].host, "::1");
    assert_int_equal(t.endpoints[1].port, 9000);
    assert_string_equal(t.endpoints[1].base_path, "/v1");
    assert_string_equal(t.endpoints[1].name, "[::1]:9000");
    assert_int_equal(t.endpoints[1].engine, WP_TOPO_ENGINE_SGLANG);
    assert_int_equal(t.endpoints[1].role, WP_TOPO_ROLE_DECODE);
    assert_int_equal(t.endpoints[2].port, 80);
    assert_string_equal(t.endpoints[2].name, "pod-c");
    assert_string_equal(t.endpoints[2].url, "http://pod-c.svc");
    assert_int_equal(wp_topology_validate(&t, &err), WP_OK);
    wp_topology_free(&t);
    assert_null(t.endpoints);
}

static void test_config_bad_url(void **state)
{
    (void)state;
    expect_error("endpoints:\n  - url: ftp://h:1\n",
                 "topology.yaml:2:10: endpoints[0].url: expected http://host:port", NULL);
    expect_error("endpoints:\n  - url: http://h:1\n  - url: http://h:abc\n",
                 "topology.yaml:3:10: endpoints[1].url: bad port \"abc\"", NULL);
    expect_error("endpoints:\n  - url: http://h:70000\n", "topology.yaml:2:10:", "bad port");
    expect_error("endpoints:\n  - url: http://:80\n", "topology.yaml:2:10:", "missing host");
    expect_error("endpoints:\n  - url: http://u@h:80\n", "topology.yaml:2:10:", "user info");
    expect_error("endpoints:\n  - url: http://h:80/x?y=1\n", "topology.yaml:2:10:", "query");
    expect_error("endpoints:\n  - engine: vllm\n",
                 "topology.yaml:2:5: endpoints[0]: missing required key \"url\"", NULL);
    expect_error("endpoints:\n  - url: http://h:1\n    engine: vllm2\n",
                 "topology.yaml:3:13: endpoints[0].engine: \"vllm2\" is not one of: vllm, sglang",
                 NULL);
    expect_error("endpoints:\n  - url: http://h:1\n  - url: http://h:1/v1\n",
                 "topology.yaml:3:5: endpoints[1]: endpoint name \"h:1\" already used on line 2",
                 NULL);
    expect_error("model: m\ngateway:\n  listen: localhost\n",
                 "topology.yaml:3:11: gateway.listen: expected host:port", NULL);
}

static void test_config_pd_and_ep(void **state)
{
    (void)state;
    wp_topology_t t;
    wp_err_t err = {{0}};
    const char *y = "model: qwen3-32b\n"
                    "prefill: {replicas: 4, tensorParallel: 1}\n"
                    "decode: {replicas: 2, tensorParallel: 4}\n"
                    "nixl: {backend: ucx, transport: tcp}\n"
                    "expertParallel: 8\n"
                    "gateway:\n  listen: \"[::]:0\"\n  logFormat: json\n  logPrompts: True\n"
                    "simulation:\n  timeScale: 0.5\n  seed: 42\n  decodeMbu: 0.8\n"
                    "  stepOverheadMs: 0\n";
    if (parse(y, &t, &err) != WP_OK)
        fail_msg("%s", err.msg);
    assert_true(t.prefill.present && t.decode.present && t.nixl.present);
    assert_int_equal(t.prefill.replicas, 4);
    assert_int_equal(t.decode.replicas, 2);
    assert_int_equal(t.decode.tensor_parallel, 4);
    assert_string_equal(t.nixl.transport, "tcp");
    assert_int_equal(t.expert_parallel, 8);
    assert_string_equal(t.gateway.listen_host, "::");
    assert_int_equal(t.gateway.listen_port, 0);
    assert_int_equal(t.gateway.log_format, WP_TOPO_LOG_JSON);
    assert_true(t.gateway.log_prompts);
    assert_true(t.simulation.time_scale == 0.5);
    assert_int_equal(t.simulation.seed, 42);
    assert_true(t.simulation.decode_mbu == 0.8 && t.simulation.step_overhead_ms == 0.0);
    assert_true(t.simulation.prefill_mfu == 0.0); /* unset: the engine model's default */
    assert_int_equal(wp_topology_validate(&t, &err), WP_OK);
    wp_topology_free(&t);
    if (parse("model: m\n", &t, &err) != WP_OK)
        fail_msg("%s", err.msg);
    assert_true(t.simulation.step_overhead_ms < 0 && t.simulation.decode_mbu == 0.0);
    wp_topology_free(&t);
    expect_error("model: m\nsimulation:\n  prefillMfu: 0\n",
                 "topology.yaml:3:15: simulation.prefillMfu:", NULL);
    expect_error("model: m\nsimulation:\n  stepOverheadMs: 1001\n",
                 "topology.yaml:3:19: simulation.stepOverheadMs:", NULL);
    expect_error("model: m\nprefill: {replicas: 4}\n",
                 "topology.yaml:2:1: prefill: P/D needs both prefill and decode", NULL);
    expect_error("model: m\ndecode: {tensorParallel: 2}\n",
                 "topology.yaml:2:9: decode: missing required key \"replicas\"", NULL);
}

static void test_config_validate_catches_breakage(void **state)
{
    (void)state;
    wp_topology_t t;
    wp_err_t err = {{0}};
    wp_topology_defaults(&t);
    t.vllm.tensor_parallel = 3;
    assert_int_equal(wp_topology_validate(&t, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "vllm.tensorParallel"));
    wp_topology_defaults(&t);
    t.scheduler.scorers[1].weight = -2;
    assert_int_equal(wp_topology_validate(&t, &err), WP_EINVAL);
    wp_topology_defaults(&t);
    t.n_endpoints = 1; /* count without array */
    assert_int_equal(wp_topology_validate(&t, &err), WP_EINVAL);
    wp_topology_defaults(&t);
    memset(t.gpu, 'x', sizeof(t.gpu)); /* unterminated */
    assert_int_equal(wp_topology_validate(&t, &err), WP_EINVAL);
    wp_topology_defaults(&t);
    t.model[0] = '\0';
    assert_int_equal(wp_topology_validate(&t, &err), WP_EINVAL);
}

/* inferenceScheduler.policy and .picker accept exactly the scheduler registry's names:
 * each one parses, an unknown one is refused with the registry's list, and validate
 * checks a stored name against the same list. */
static void test_config_policy_names_are_the_registry(void **state)
{
    (void)state;
    char yaml[256], list[512] = "";
    wp_topology_t t;
    wp_err_t err;
    size_t n = 0;
    for (const char *name; (name = wp_sched_policy_name(n)) != NULL; n++) {
        snprintf(yaml, sizeof(yaml), "model: m\ninferenceScheduler:\n  policy: %s\n", name);
        assert_int_equal(parse(yaml, &t, &err), WP_OK);
        assert_string_equal(t.scheduler.policy, name);
        assert_int_equal(wp_topology_validate(&t, &err), WP_OK);
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", n ? ", " : "", name);
    }
    assert_true(n >= 11);
    char want[700];
    snprintf(want, sizeof(want),
             "topology.yaml:3:11: inferenceScheduler.policy: \"fastest\" is not one of: %s", list);
    expect_error("model: m\ninferenceScheduler:\n  policy: fastest\n", want, NULL);
    for (size_t i = 0; wp_sched_picker_name(i) != NULL; i++) {
        snprintf(yaml, sizeof(yaml), "model: m\ninferenceScheduler:\n  picker: %s\n",
                 wp_sched_picker_name(i));
        assert_int_equal(parse(yaml, &t, &err), WP_OK);
    }
    wp_topology_defaults(&t);
    snprintf(t.scheduler.policy, sizeof(t.scheduler.policy), "fastest");
    assert_int_equal(wp_topology_validate(&t, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "fastest"));
}

/* The robustness keys: timeouts, drain, limits, admin token, flow control, outlier
 * detection; their defaults and their errors. */
static void test_config_gateway_robustness_keys(void **state)
{
    (void)state;
    wp_topology_t t;
    wp_err_t err = {{0}};
    wp_topology_defaults(&t);
    assert_false(t.gateway.flow.enabled);
    assert_int_equal(t.gateway.flow.max_queue, 1024);
    assert_int_equal(t.gateway.flow.queue_depth_threshold, 5);
    assert_true(t.gateway.flow.kv_cache_threshold == 0.8);
    assert_int_equal(t.gateway.outlier.consecutive_failures, 5);
    assert_int_equal(t.gateway.outlier.max_ejection_percent, 50);
    assert_int_equal(t.gateway.drain_timeout_ms, 30000);
    assert_string_equal(t.gateway.admin_token, "");
    assert_int_equal(wp_topology_validate(&t, &err), WP_OK);
    const char *y = "model: m\n"
                    "gateway:\n"
                    "  firstByteTimeoutMs: 1500\n"
                    "  idleTimeoutMs: 800\n"
                    "  drainTimeoutMs: 2000\n"
                    "  maxInFlightPerEndpoint: 64\n"
                    "  adminToken: s3cret\n"
                    "  flowControl:\n"
                    "    enabled: true\n"
                    "    maxQueue: 10\n"
                    "    queueTimeoutMs: 250\n"
                    "    queueDepthThreshold: 0\n"
                    "    kvCacheThreshold: 0.95\n"
                    "  outlierDetection: {consecutiveFailures: 3, baseEjectionMs: 100,\n"
                    "                     maxEjectionMs: 400, maxEjectionPercent: 100}\n";
    if (parse(y, &t, &err) != WP_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(t.gateway.first_byte_timeout_ms, 1500);
    assert_int_equal(t.gateway.idle_timeout_ms, 800);
    assert_int_equal(t.gateway.drain_timeout_ms, 2000);
    assert_int_equal(t.gateway.max_in_flight_per_endpoint, 64);
    assert_string_equal(t.gateway.admin_token, "s3cret");
    assert_true(t.gateway.flow.enabled);
    assert_int_equal(t.gateway.flow.max_queue, 10);
    assert_int_equal(t.gateway.flow.queue_timeout_ms, 250);
    assert_int_equal(t.gateway.flow.queue_depth_threshold, 0);
    assert_true(t.gateway.flow.kv_cache_threshold == 0.95);
    assert_int_equal(t.gateway.outlier.consecutive_failures, 3);
    assert_int_equal(t.gateway.outlier.base_ejection_ms, 100);
    assert_int_equal(t.gateway.outlier.max_ejection_ms, 400);
    assert_int_equal(t.gateway.outlier.max_ejection_percent, 100);
    assert_int_equal(wp_topology_validate(&t, &err), WP_OK);
    wp_topology_free(&t);
    expect_error("model: m\ngateway:\n  flowControl:\n    kvCacheThreshold: 2\n",
                 "topology.yaml:4:23: gateway.flowControl.kvCacheThreshold", NULL);
    expect_error("model: m\ngateway:\n  flowControl: {maxQueue: 0}\n",
                 "topology.yaml:3:27: gateway.flowControl.maxQueue", NULL);
    expect_error("model: m\ngateway:\n  outlierDetection: {consecutive: 3}\n",
                 "topology.yaml:3:22: gateway.outlierDetection", "consecutive");
    expect_error("model: m\ngateway:\n  maxInFlightPerEndpoint: -1\n",
                 "topology.yaml:3:27: gateway.maxInFlightPerEndpoint", NULL);
}

static void test_config_simulation_faults_and_admin_token(void **state)
{
    (void)state;
    wp_topology_t t;
    wp_err_t err = {{0}};
    const char *y = "model: qwen3-8b\n"
                    "simulation:\n"
                    "  faults: [\"503:0.2\", \"latency:0.1,ms=500\", \"crash:0,restart_ms=2000\"]\n"
                    "  adminToken: s3cret\n";
    if (parse(y, &t, &err) != WP_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(t.simulation.faults.n, 3);
    assert_int_equal(t.simulation.faults.f[0].kind, WP_FAULT_503);
    assert_true(t.simulation.faults.f[0].rate == 0.2);
    assert_int_equal(t.simulation.faults.f[1].ms, 500);
    assert_int_equal(t.simulation.faults.f[2].restart_ms, 2000);
    assert_string_equal(t.simulation.admin_token, "s3cret");
    assert_int_equal(wp_topology_validate(&t, &err), WP_OK);
    wp_topology_free(&t);
    /* By default: no faults, no token, and that validates. */
    wp_topology_defaults(&t);
    assert_int_equal(t.simulation.faults.n, 0);
    assert_string_equal(t.simulation.admin_token, "");
    assert_int_equal(wp_topology_validate(&t, &err), WP_OK);
    expect_error("model: m\nsimulation:\n  faults:\n    - 503\n    - \"latency,ms=x\"\n",
                 "topology.yaml:5:7: simulation.faults[1]: fault 'latency,ms=x': ms must be an "
                 "integer, got 'x'",
                 NULL);
    expect_error("model: m\nsimulation:\n  faults: 503\n",
                 "topology.yaml:3:11: simulation.faults: expected a list", NULL);
    expect_error("model: m\nsimulation:\n  faults: [teapot]\n",
                 "topology.yaml:3:12: simulation.faults[0]: fault 'teapot': unknown fault kind",
                 NULL);
    expect_error("model: m\nsimulation:\n  adminToken: \"\"\n",
                 "topology.yaml:3:15: simulation.adminToken: expected a non-empty string", NULL);
}

/* simulation.faultReplicas: the replicas the faults apply to, as a bit mask; all when
 * absent; a bad index names its item and line. gateway.decisionLog: a path, off when
 * absent. */
static void test_config_fault_replicas_and_decision_log(void **state)
{
    (void)state;
    wp_topology_t t;
    wp_err_t err;
    assert_int_equal(parse("model: m\n", &t, &err), WP_OK);
    assert_true(t.simulation.fault_replicas == ~0ULL);
    assert_string_equal(t.gateway.decision_log, "");
    wp_topology_free(&t);
    assert_int_equal(parse("model: m\nsimulation:\n  faultReplicas: [1, 3, 63]\n"
                           "gateway:\n  decisionLog: /tmp/decisions.jsonl\n",
                           &t, &err),
                     WP_OK);
    assert_true(t.simulation.fault_replicas == ((1ULL << 1) | (1ULL << 3) | (1ULL << 63)));
    assert_string_equal(t.gateway.decision_log, "/tmp/decisions.jsonl");
    wp_topology_free(&t);
    expect_error("model: m\nsimulation:\n  faultReplicas: [0, 64]\n",
                 "topology.yaml:3:22: simulation.faultReplicas[1]: expected a replica index", NULL);
    expect_error("model: m\nsimulation:\n  faultReplicas: []\n", "topology.yaml:3:18",
                 "at least one");
    expect_error("model: m\nsimulation:\n  faultReplicas: [x]\n", "topology.yaml:3", "got 'x'");
}

/* Wide-EP ranks: dataParallelRank and group, the group's default (the URL's host:port),
 * a group without a rank, and a rank that is absent (no flag). */
static void test_config_endpoint_ranks(void **state)
{
    (void)state;
    wp_topology_t t;
    wp_err_t err = {{0}};
    const char *y = "endpoints:\n"
                    "  - url: http://10.0.0.5:8000\n"
                    "    name: r0\n"
                    "    dataParallelRank: 0\n"
                    "  - url: http://10.0.0.5:8000\n"
                    "    name: r1\n"
                    "    dataParallelRank: 1\n"
                    "  - url: http://10.0.0.6:8001\n"
                    "    dataParallelRank: 1\n"
                    "    group: ep-a\n"
                    "  - url: http://10.0.0.6:8002\n"
                    "    group: ep-a\n"
                    "  - url: http://[::1]:9000\n"
                    "    dataParallelRank: 1023\n"
                    "  - url: http://10.0.0.7:8000\n";
    if (parse(y, &t, &err) != WP_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(t.n_endpoints, 6);
    assert_true(t.endpoints[0].has_data_parallel_rank);
    assert_int_equal(t.endpoints[0].data_parallel_rank, 0);
    assert_string_equal(t.endpoints[0].group, "10.0.0.5:8000"); /* the shared port's group */
    assert_int_equal(t.endpoints[1].data_parallel_rank, 1);
    assert_string_equal(t.endpoints[1].group, "10.0.0.5:8000");
    assert_int_equal(t.endpoints[2].data_parallel_rank, 1); /* rank 1 again, another group */
    assert_string_equal(t.endpoints[2].group, "ep-a");
    assert_false(t.endpoints[3].has_data_parallel_rank); /* a group without a rank */
    assert_string_equal(t.endpoints[3].group, "ep-a");
    assert_int_equal(t.endpoints[4].data_parallel_rank, 1023);
    assert_string_equal(t.endpoints[4].group, "[::1]:9000");
    assert_false(t.endpoints[5].has_data_parallel_rank); /* neither: as before */
    assert_string_equal(t.endpoints[5].group, "");
    assert_int_equal(wp_topology_validate(&t, &err), WP_OK);
    t.endpoints[1].data_parallel_rank = 0; /* (10.0.0.5:8000, 0) twice */
    assert_int_equal(wp_topology_validate(&t, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "endpoints[1]"));
    t.endpoints[1].data_parallel_rank = 1;
    t.endpoints[0].group[0] = '\0'; /* a rank with no group */
    assert_int_equal(wp_topology_validate(&t, &err), WP_EINVAL);
    wp_topology_free(&t);
}

static void test_config_endpoint_rank_errors(void **state)
{
    (void)state;
    expect_error("endpoints:\n  - url: http://h:1\n    dataParallelRank: 1024\n",
                 "topology.yaml:3:23: endpoints[0].dataParallelRank: 1024 is out of range [0, "
                 "1023]",
                 NULL);
    expect_error("endpoints:\n  - url: http://h:1\n    dataParallelRank: -1\n",
                 "topology.yaml:3:23: endpoints[0].dataParallelRank:", "out of range");
    expect_error("endpoints:\n  - url: http://h:1\n    dataParallelRank: \"1\"\n",
                 "topology.yaml:3:23: endpoints[0].dataParallelRank: expected an integer, got "
                 "the string \"1\"",
                 NULL);
    expect_error("endpoints:\n  - url: http://h:1\n    dataParallelRank: 1.5\n",
                 "topology.yaml:3:23: endpoints[0].dataParallelRank: expected an integer", NULL);
    expect_error("endpoints:\n  - url: http://h:1\n    group: \"\"\n",
                 "topology.yaml:3:12: endpoints[0].group: expected a non-empty string", NULL);
    expect_error("endpoints:\n  - url: http://h:1\n    group: [a]\n",
                 "topology.yaml:3:12: endpoints[0].group: expected a string, got a list", NULL);
    /* the same rank twice in a group: the second names the first's line */
    expect_error("endpoints:\n"
                 "  - url: http://h:1\n"
                 "    name: a\n"
                 "    dataParallelRank: 3\n"
                 "  - url: http://h:1\n"
                 "    name: b\n"
                 "    dataParallelRank: 3\n",
                 "topology.yaml:5:5: endpoints[1]: dataParallelRank 3 of group \"h:1\" already "
                 "used on line 2",
                 NULL);
    expect_error("endpoints:\n"
                 "  - url: http://h:1\n"
                 "    dataParallelRank: 0\n"
                 "    group: g\n"
                 "  - url: http://h:2\n"
                 "    dataParallelRank: 0\n"
                 "    group: g\n",
                 "topology.yaml:5:5: endpoints[1]: dataParallelRank 0 of group \"g\" already used "
                 "on line 2",
                 NULL);
}

/* A discovery file: `endpoints` alone, added to a topology's with names and ranks unique. */
static void test_config_discovery_endpoints(void **state)
{
    (void)state;
    wp_topology_t t, d, none;
    wp_err_t err = {{0}};
    assert_int_equal(parse("gateway:\n  discoveryFile: /etc/wellpath/endpoints.yaml\n", &t, &err),
                     WP_OK);
    assert_string_equal(t.gateway.discovery_file, "/etc/wellpath/endpoints.yaml");
    assert_string_equal(t.model, ""); /* the discovered endpoints say what they serve */
    assert_int_equal(t.n_endpoints, 0);

    const char eps[] = "endpoints:\n"
                       "  - {url: \"http://10.0.0.1:8000\", name: a}\n"
                       "  - {url: \"http://10.0.0.2:8000\"}\n";
    assert_int_equal(wp_topology_parse_endpoints(eps, strlen(eps), "eps.yaml", &d, &err), WP_OK);
    assert_int_equal(d.n_endpoints, 2);
    assert_string_equal(d.endpoints[1].name, "10.0.0.2:8000");
    assert_int_equal(wp_topology_parse_endpoints("", 0, "eps.yaml", &none, &err), WP_OK);
    assert_int_equal(none.n_endpoints, 0);

    wp_topology_t w;
    assert_int_equal(parse("endpoints:\n  - {url: \"http://10.0.0.9:8000\", name: w}\n", &w, &err),
                     WP_OK);
    assert_int_equal(wp_topology_add_endpoints(&w, &d, "eps.yaml", &err), WP_OK);
    assert_int_equal(w.n_endpoints, 3);
    assert_string_equal(w.endpoints[0].name, "w");
    assert_string_equal(w.endpoints[1].name, "a");
    assert_int_equal(wp_topology_validate(&w, &err), WP_OK);
    /* a second time: every name is taken; w stays as it was */
    assert_int_equal(wp_topology_add_endpoints(&w, &d, "eps.yaml", &err), WP_EINVAL);
    assert_string_equal(err.msg, "eps.yaml: line 2: endpoint name \"a\" is also in the topology");
    assert_int_equal(w.n_endpoints, 3);
    wp_topology_free(&w);
    wp_topology_free(&d);
    wp_topology_free(&t);

    /* anything but endpoints, or a bad entry, is refused with its place */
    const char other[] = "endpoints: []\nmodel: qwen3-8b\n";
    assert_int_equal(wp_topology_parse_endpoints(other, strlen(other), "eps.yaml", &d, &err),
                     WP_EINVAL);
    assert_non_null(strstr(err.msg, "eps.yaml:2:1: model: unknown key; allowed here: endpoints"));
    assert_null(d.endpoints);
    const char bad[] = "endpoints:\n  - {url: \"http://10.0.0.1:99999\"}\n";
    assert_int_equal(wp_topology_parse_endpoints(bad, strlen(bad), "eps.yaml", &d, &err),
                     WP_EINVAL);
    assert_non_null(strstr(err.msg, "eps.yaml:2:"));
    assert_null(d.endpoints);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_gateway_robustness_keys),
        cmocka_unit_test(test_config_discovery_endpoints),
        cmocka_unit_test(test_config_path1_guide_block),
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_default_yaml_equals_defaults),
        cmocka_unit_test(test_config_unknown_key),
        cmocka_unit_test(test_config_wrong_type),
        cmocka_unit_test(test_config_ranges_and_choices),
        cmocka_unit_test(test_config_required_and_duplicates),
        cmocka_unit_test(test_config_invalid_yaml_and_empty),
        cmocka_unit_test(test_config_endpoints),
        cmocka_unit_test(test_config_bad_url),
        cmocka_unit_test(test_config_endpoint_ranks),
        cmocka_unit_test(test_config_endpoint_rank_errors),
        cmocka_unit_test(test_config_pd_and_ep),
        cmocka_unit_test(test_config_policy_names_are_the_registry),
        cmocka_unit_test(test_config_validate_catches_breakage),
        cmocka_unit_test(test_config_simulation_faults_and_admin_token),
        cmocka_unit_test(test_config_fault_replicas_and_decision_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
