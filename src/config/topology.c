/*
 * config/topology: the schema of the topology file and the public API (see topology.h).
 *
 * The file is loaded with libyaml's document API (which gives every node its line and
 * column), then walked by config/schema against the tables below, one per section. The
 * tables are the single statement of each key's type, range and destination: parsing
 * and wp_topology_validate both read them. Lists (scorers, endpoints) and composite
 * values (gateway.listen, endpoints[].url) are custom fields. Rules that span sections
 * (model or endpoints; prefill with decode; simulated ports fit under 65536) run after
 * the walk. Parsing starts from wp_topology_defaults, so absent keys keep their default.
 */
#include "config/topology.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/str.h"
#include "config/schema.h"
#include "sched/sched.h"

_Static_assert(sizeof(wp_topology_engine_t) == sizeof(int), "enums are stored as int");

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define SZ(type, field) sizeof(((type *)0)->field)
#define F_STR(k, type, field, ch)                                                                  \
    {                                                                                              \
        .key = k, .kind = WP__CFG_STR, .off = offsetof(type, field), .size = SZ(type, field),      \
        .choices = ch                                                                              \
    }
/* A string that may be left out (then ""). */
#define F_STR_OPT(k, type, field)                                                                  \
    {                                                                                              \
        .key = k, .kind = WP__CFG_STR, .off = offsetof(type, field), .size = SZ(type, field),      \
        .zero_unset = true                                                                         \
    }
#define F_ENUM(k, type, field, ch)                                                                 \
    {                                                                                              \
        .key = k, .kind = WP__CFG_ENUM, .off = offsetof(type, field), .choices = ch                \
    }
#define F_INT(k, type, field, lo, hi)                                                              \
    {                                                                                              \
        .key = k, .kind = WP__CFG_INT, .off = offsetof(type, field), .size = SZ(type, field),      \
        .min = lo, .max = hi                                                                       \
    }
#define F_BOOL(k, type, field)                                                                     \
    {                                                                                              \
        .key = k, .kind = WP__CFG_BOOL, .off = offsetof(type, field)                               \
    }
#define F_MAP(k, type, field, tab)                                                                 \
    {                                                                                              \
        .key = k, .kind = WP__CFG_MAP, .off = offsetof(type, field), .sub = tab, .nsub = N(tab)    \
    }
#define F_CUSTOM(k, fn)                                                                            \
    {                                                                                              \
        .key = k, .kind = WP__CFG_CUSTOM, .custom = fn                                             \
    }

/* A share in (0, 1] where a stored 0 means "not set": the model's default applies. */
#define F_SHARE(k, type, field)                                                                    \
    {                                                                                              \
        .key = k, .kind = WP__CFG_DOUBLE, .off = offsetof(type, field), .min = 0, .max = 1,        \
        .min_exclusive = true, .zero_unset = true                                                  \
    }

static const int64_t tp_choices[] = {1, 2, 4, 8, 0};
static const char *const engine_choices[] = {"vllm", "sglang", "trtllm", "llamacpp", NULL};
static const char *const role_choices[] = {"both", "prefill", "decode", NULL};
static const char *const discover_choices[] = {"none", "dns", "srv", NULL};
static const char *const log_choices[] = {"logfmt", "json", NULL};
/* The catalog's precision names (model/model.h), NULL past the last. */
static const char *precision_at(size_t i)
{
    return i < WP_PREC_LAST ? wp_precision_name((wp_precision_t)(i + 1)) : NULL;
}
static const char *const kv_dtype_choices[] = {"auto",     "bfloat16", "fp8",
                                               "fp8_e4m3", "fp8_e5m2", NULL};
/* An optional string out of a list (left out: ""). */
#define F_CHOICE_OPT(k, type, field, ch)                                                           \
    {                                                                                              \
        .key = k, .kind = WP__CFG_STR, .off = offsetof(type, field), .size = SZ(type, field),      \
        .choices = ch, .zero_unset = true                                                          \
    }

static wp_status_t parse_scorers(wp__cfg_ctx_t *c, yaml_node_t *n, void *base, const char *path);
static wp_status_t parse_endpoints(wp__cfg_ctx_t *c, yaml_node_t *n, void *base, const char *path);
static wp_status_t parse_listen(wp__cfg_ctx_t *c, yaml_node_t *n, void *base, const char *path);
static wp_status_t parse_url(wp__cfg_ctx_t *c, yaml_node_t *n, void *base, const char *path);
static wp_status_t parse_faults(wp__cfg_ctx_t *c, yaml_node_t *n, void *base, const char *path);
static wp_status_t parse_fault_replicas(wp__cfg_ctx_t *c, yaml_node_t *n, void *base,
                                        const char *path);
static wp_status_t parse_engine_model(wp__cfg_ctx_t *c, yaml_node_t *n, void *base,
                                      const char *path);

typedef wp_topology_vllm_t vllm_t;
static const wp__cfg_field_t vllm_fields[] = {
    F_INT("replicas", vllm_t, replicas, 1, 64),
    {.key = "tensorParallel",
     .kind = WP__CFG_INT,
     .off = offsetof(vllm_t, tensor_parallel),
     .size = sizeof(int),
     .min = 1,
     .max = 8,
     .int_choices = tp_choices},
    F_BOOL("prefixCaching", vllm_t, prefix_caching),
    {.key = "maxNumSeqs",
     .kind = WP__CFG_INT,
     .off = offsetof(vllm_t, max_num_seqs),
     .size = sizeof(int),
     .min = 1,
     .max = 65536,
     .zero_unset = true},
    {.key = "maxNumBatchedTokens",
     .kind = WP__CFG_INT,
     .off = offsetof(vllm_t, max_num_batched_tokens),
     .size = sizeof(int),
     .min = 1,
     .max = 16777216,
     .zero_unset = true},
    {.key = "blockSize",
     .kind = WP__CFG_INT,
     .off = offsetof(vllm_t, block_size),
     .size = sizeof(int),
     .min = 1,
     .max = 1024,
     .zero_unset = true},
    F_SHARE("gpuMemoryUtilization", vllm_t, gpu_memory_utilization),
    F_CHOICE_OPT("kvCacheDtype", vllm_t, kv_cache_dtype, kv_dtype_choices),
    {.key = "kvOffloadingSize",
     .kind = WP__CFG_DOUBLE,
     .off = offsetof(vllm_t, kv_offloading_size),
     .min = 0,
     .max = 65536},
    F_INT("shutdownTimeout", vllm_t, shutdown_timeout, 0, 86400),
    {.key = "maxCudagraphCaptureSize",
     .kind = WP__CFG_INT,
     .off = offsetof(vllm_t, max_cudagraph_capture_size),
     .size = sizeof(int),
     .min = 1,
     .max = 65536,
     .zero_unset = true},
    {.key = "maxModelLen",
     .kind = WP__CFG_INT,
     .off = offsetof(vllm_t, max_model_len),
     .size = sizeof(int),
     .min = 1,
     .max = 16777216,
     .zero_unset = true},
};

typedef wp_topology_scorer_t scorer_t;
static const wp__cfg_field_t scorer_fields[] = {
    {.key = "type",
     .kind = WP__CFG_STR,
     .off = offsetof(scorer_t, type),
     .size = SZ(scorer_t, type),
     .required = true},
    {.key = "weight",
     .kind = WP__CFG_DOUBLE,
     .off = offsetof(scorer_t, weight),
     .min = 0,
     .max = 1e9,
     .required = true},
};

typedef wp_topology_kv_events_t kvev_t;
static const wp__cfg_field_t kv_events_fields[] = {
    F_INT("port", kvev_t, port, 0, 65535),
    F_INT("replayPort", kvev_t, replay_port, 0, 65535),
    F_STR_OPT("topic", kvev_t, topic),
};

typedef wp_topology_scheduler_t sched_t;
static const wp__cfg_field_t sched_fields[] = {
    /* The names are the scheduler registry's: a policy added there is accepted here. */
    {.key = "policy",
     .kind = WP__CFG_STR,
     .off = offsetof(sched_t, policy),
     .size = SZ(sched_t, policy),
     .choice_at = wp_sched_policy_name},
    {.key = "picker",
     .kind = WP__CFG_STR,
     .off = offsetof(sched_t, picker),
     .size = SZ(sched_t, picker),
     .choice_at = wp_sched_picker_name},
    F_CUSTOM("scorers", parse_scorers),
    F_INT("scrapeIntervalMs", sched_t, scrape_interval_ms, 1, 60000),
    F_INT("scrapeBudget", sched_t, scrape_budget, 0, 10000000),
    F_INT("staleAfterMs", sched_t, stale_after_ms, 1, 3600000),
    F_INT("healthIntervalMs", sched_t, health_interval_ms, 10, 60000),
    F_INT("checkTimeoutMs", sched_t, check_timeout_ms, 10, 60000),
    F_INT("unhealthyAfter", sched_t, unhealthy_after, 1, 100),
    F_INT("prefixBlockChars", sched_t, prefix_block_chars, 1, 65536),
    F_INT("prefixLruBlocks", sched_t, prefix_lru_blocks, 1, 4000000),
    F_INT("pdThreshold", sched_t, pd_threshold, 0, 16777216),
    F_STR_OPT("tokenizer", sched_t, tokenizer),
    F_STR_OPT("kvHashSeed", sched_t, kv_hash_seed),
    F_INT("kvBlockSize", sched_t, kv_block_size, 1, 1024),
    F_MAP("kvEvents", sched_t, kv_events, kv_events_fields),
};

typedef wp_topology_endpoint_t endpoint_t;
static const wp__cfg_field_t endpoint_fields[] = {
    {.key = "url", .kind = WP__CFG_CUSTOM, .custom = parse_url, .required = true},
    F_ENUM("engine", endpoint_t, engine, engine_choices),
    F_ENUM("role", endpoint_t, role, role_choices),
    F_STR("name", endpoint_t, name, NULL),
    {.key = "dataParallelRank",
     .kind = WP__CFG_INT,
     .off = offsetof(endpoint_t, data_parallel_rank),
     .size = sizeof(int),
     .min = 0,
     .max = WP_TOPO_MAX_DP_RANK,
     .flag_off = offsetof(endpoint_t, has_data_parallel_rank) + 1},
    F_STR_OPT("group", endpoint_t, group),
    F_STR_OPT("kvEvents", endpoint_t, kv_events),
    F_STR_OPT("kvEventsReplay", endpoint_t, kv_events_replay),
    F_ENUM("discover", endpoint_t, discover, discover_choices),
};

typedef wp_topology_dns_t dns_t;
static const wp__cfg_field_t dns_fields[] = {
    F_STR_OPT("servers", dns_t, servers),
    F_INT("minTtlMs", dns_t, min_ttl_ms, 100, 3600000),
    F_INT("maxTtlMs", dns_t, max_ttl_ms, 100, 86400000),
};

typedef wp_topology_flow_t flow_t;
static const wp__cfg_field_t flow_fields[] = {
    F_BOOL("enabled", flow_t, enabled),
    F_INT("maxQueue", flow_t, max_queue, 1, 16384),
    F_INT("queueTimeoutMs", flow_t, queue_timeout_ms, 1, 86400000),
    F_INT("queueDepthThreshold", flow_t, queue_depth_threshold, 0, 1000000),
    {.key = "kvCacheThreshold",
     .kind = WP__CFG_DOUBLE,
     .off = offsetof(flow_t, kv_cache_threshold),
     .min = 0,
     .max = 1},
};

typedef wp_topology_outlier_t outlier_t;
static const wp__cfg_field_t outlier_fields[] = {
    F_INT("consecutiveFailures", outlier_t, consecutive_failures, 0, 1000000),
    F_INT("baseEjectionMs", outlier_t, base_ejection_ms, 1, 86400000),
    F_INT("maxEjectionMs", outlier_t, max_ejection_ms, 1, 86400000),
    F_INT("maxEjectionPercent", outlier_t, max_ejection_percent, 0, 100),
};

typedef wp_topology_s2z_t s2z_t;
static const wp__cfg_field_t s2z_fields[] = {
    F_BOOL("enabled", s2z_t, enabled),
    F_INT("idleAfterMs", s2z_t, idle_after_ms, 1, 86400000),
    F_INT("wakeTimeoutMs", s2z_t, wake_timeout_ms, 1, 86400000),
    F_INT("maxQueue", s2z_t, max_queue, 1, 16384),
    F_INT("level", s2z_t, level, 1, 2),
};

typedef wp_topology_gateway_t gateway_t;
static const wp__cfg_field_t gateway_fields[] = {
    F_CUSTOM("listen", parse_listen),
    F_INT("maxBodyBytes", gateway_t, max_body_bytes, 1, 1073741824),
    F_INT("maxHeaderBytes", gateway_t, max_header_bytes, 256, 1048576),
    F_INT("maxConnections", gateway_t, max_connections, 1, 1000000),
    F_INT("requestTimeoutMs", gateway_t, request_timeout_ms, 1, 86400000),
    F_INT("connectTimeoutMs", gateway_t, connect_timeout_ms, 1, 600000),
    F_INT("firstByteTimeoutMs", gateway_t, first_byte_timeout_ms, 0, 86400000),
    F_INT("firstTokenTimeoutMs", gateway_t, first_token_timeout_ms, 0, 86400000),
    F_INT("idleTimeoutMs", gateway_t, idle_timeout_ms, 0, 86400000),
    F_INT("drainTimeoutMs", gateway_t, drain_timeout_ms, 1, 86400000),
    F_INT("maxInFlightPerEndpoint", gateway_t, max_in_flight_per_endpoint, 0, 1000000),
    F_INT("retries", gateway_t, retries, 0, 16),
    F_STR_OPT("adminToken", gateway_t, admin_token),
    F_STR_OPT("decisionLog", gateway_t, decision_log),
    F_STR_OPT("discoveryFile", gateway_t, discovery_file),
    F_MAP("dns", gateway_t, dns, dns_fields),
    F_MAP("flowControl", gateway_t, flow, flow_fields),
    F_MAP("outlierDetection", gateway_t, outlier, outlier_fields),
    F_MAP("scaleToZero", gateway_t, scale_to_zero, s2z_fields),
    F_ENUM("logFormat", gateway_t, log_format, log_choices),
    F_BOOL("logPrompts", gateway_t, log_prompts),
    F_BOOL("guideMetrics", gateway_t, guide_metrics),
    F_INT("replicas", gateway_t, replicas, 1, 16),
    F_BOOL("shareRoutes", gateway_t, share_routes),
    F_STR_OPT("routesListen", gateway_t, routes_listen),
    F_STR_OPT("routesPeers", gateway_t, routes_peers),
    F_INT("workers", gateway_t, workers, 1, WP_TOPO_MAX_WORKERS),
};

typedef wp_topology_simulation_t sim_t;
static const wp__cfg_field_t sim_fields[] = {
    F_INT("basePort", sim_t, base_port, 0, 65535),
    {.key = "timeScale",
     .kind = WP__CFG_DOUBLE,
     .off = offsetof(sim_t, time_scale),
     .min = 0,
     .max = 1e6,
     .min_exclusive = true},
    F_INT("seed", sim_t, seed, 0, 9.2e18),
    F_CUSTOM("faults", parse_faults),
    F_CUSTOM("faultReplicas", parse_fault_replicas),
    F_STR_OPT("adminToken", sim_t, admin_token),
    F_SHARE("prefillMfu", sim_t, prefill_mfu),
    F_SHARE("decodeMbu", sim_t, decode_mbu),
    {.key = "stepOverheadMs",
     .kind = WP__CFG_DOUBLE,
     .off = offsetof(sim_t, step_overhead_ms),
     .min = 0,
     .max = 1000,
     .negative_unset = true},
    F_CUSTOM("engineModel", parse_engine_model),
};

typedef wp_topology_cost_t cost_t;
#define F_DBL(k, field, lo, hi)                                                                    \
    {                                                                                              \
        .key = k, .kind = WP__CFG_DOUBLE, .off = offsetof(cost_t, field), .min = lo, .max = hi     \
    }
static const wp__cfg_field_t cost_fields[] = {
    F_DBL("pricePerGpuHour", price_per_gpu_hour, 0, 1e6),
    F_DBL("spotDiscount", spot_discount, 0, 0.95),
    F_DBL("spotInterruptionsPerHour", spot_interruptions_per_hour, 0, 3599),
    F_DBL("spotNoticeS", spot_notice_s, 0.01, 86400),
    F_DBL("spotRestartS", spot_restart_s, 0, 86400),
};
#undef F_DBL

typedef wp_topology_pool_t pool_t;
static const wp__cfg_field_t pool_fields[] = {
    {.key = "replicas",
     .kind = WP__CFG_INT,
     .off = offsetof(pool_t, replicas),
     .size = sizeof(int),
     .min = 1,
     .max = 64,
     .required = true},
    {.key = "tensorParallel",
     .kind = WP__CFG_INT,
     .off = offsetof(pool_t, tensor_parallel),
     .size = sizeof(int),
     .min = 1,
     .max = 8,
     .int_choices = tp_choices},
};

typedef wp_topology_nixl_t nixl_t;
static const wp__cfg_field_t nixl_fields[] = {
    F_STR("backend", nixl_t, backend, NULL),
    F_STR("transport", nixl_t, transport, NULL),
};

#define F_SECTION(k, field, tab)                                                                   \
    {                                                                                              \
        .key = k, .kind = WP__CFG_MAP, .off = offsetof(wp_topology_t, field), .sub = tab,          \
        .nsub = N(tab), .flag_off = offsetof(wp_topology_t, field.present) + 1                     \
    }

static const wp__cfg_field_t top_fields[] = {
    F_STR("model", wp_topology_t, model, NULL),
    F_STR("gpu", wp_topology_t, gpu, NULL),
    {.key = "precision",
     .kind = WP__CFG_STR,
     .off = offsetof(wp_topology_t, precision),
     .size = SZ(wp_topology_t, precision),
     .choice_at = precision_at,
     .zero_unset = true},
    F_MAP("vllm", wp_topology_t, vllm, vllm_fields),
    F_MAP("inferenceScheduler", wp_topology_t, scheduler, sched_fields),
    F_CUSTOM("endpoints", parse_endpoints),
    F_MAP("gateway", wp_topology_t, gateway, gateway_fields),
    F_MAP("simulation", wp_topology_t, simulation, sim_fields),
    F_MAP("cost", wp_topology_t, cost, cost_fields),
    F_SECTION("prefill", prefill, pool_fields),
    F_SECTION("decode", decode, pool_fields),
    F_SECTION("nixl", nixl, nixl_fields),
    {.key = "expertParallel",
     .kind = WP__CFG_INT,
     .off = offsetof(wp_topology_t, expert_parallel),
     .size = sizeof(int),
     .min = 1,
     .max = 1024,
     .zero_unset = true},
};

/* ---- custom fields ---- */

static void item_path(char *out, size_t cap, const char *path, size_t i)
{
    snprintf(out, cap, "%s[%zu]", path, i);
}

static wp_status_t parse_scorers(wp__cfg_ctx_t *c, yaml_node_t *n, void *base, const char *path)
{
    wp_topology_scheduler_t *s = base;
    yaml_node_item_t *items;
    size_t count;
    wp_status_t st = wp__cfg_seq(c, n, path, &items, &count);
    if (st != WP_OK)
        return st;
    if (count == 0 || count > WP_TOPO_MAX_SCORERS)
        return wp__cfg_fail(c, n, path, WP_EINVAL, "expected 1 to %d scorers, got %zu",
                            WP_TOPO_MAX_SCORERS, count);
    memset(s->scorers, 0, sizeof(s->scorers));
    s->n_scorers = count;
    for (size_t i = 0; i < count && st == WP_OK; i++) {
        yaml_node_t *item = yaml_document_get_node(c->doc, items[i]);
        char ip[WP__CFG_PATH_MAX];
        item_path(ip, sizeof(ip), path, i);
        s->scorers[i].line = (int)item->start_mark.line + 1;
        st = wp__cfg_map(c, item, scorer_fields, N(scorer_fields), &s->scorers[i], ip);
    }
    return st;
}

/* Calls fn on each item of a sequence of scalars (items[0..count) of path), stopping at
 * the first error; each item's path is path[i]. */
typedef wp_status_t (*scalar_fn)(wp__cfg_ctx_t *c, yaml_node_t *item, const char *ip,
                                 const char *text, void *base);

static wp_status_t each_scalar(wp__cfg_ctx_t *c, const yaml_node_item_t *items, size_t count,
                               const char *path, scalar_fn fn, void *base)
{
    wp_status_t st = WP_OK;
    for (size_t i = 0; i < count && st == WP_OK; i++) {
        yaml_node_t *item = yaml_document_get_node(c->doc, items[i]);
        char ip[WP__CFG_PATH_MAX];
        item_path(ip, sizeof(ip), path, i);
        const char *text;
        st = wp__cfg_scalar(c, item, ip, &text);
        if (st == WP_OK)
            st = fn(c, item, ip, text, base);
    }
    return st;
}

static wp_status_t add_fault(wp__cfg_ctx_t *c, yaml_node_t *item, const char *ip, const char *spec,
                             void *base)
{
    sim_t *sim = base;
    wp_fault_t f;
    wp_err_t e;
    if (wp_fault_parse_spec(spec, &f, &e) != WP_OK)
        return wp__cfg_fail(c, item, ip, WP_EINVAL, "%s", e.msg);
    return wp_fault_set_add(&sim->faults, &f, c->err);
}

/* simulation.faults: a list of specs, each read as `wellpath sim --fault` reads it. */
static wp_status_t parse_faults(wp__cfg_ctx_t *c, yaml_node_t *n, void *base, const char *path)
{
    sim_t *sim = base;
    yaml_node_item_t *items;
    size_t count;
    wp_status_t st = wp__cfg_seq(c, n, path, &items, &count);
    if (st != WP_OK)
        return st;
    if (count > WP_FAULT_MAX)
        return wp__cfg_fail(c, n, path, WP_EINVAL, "at most %d faults, got %zu", WP_FAULT_MAX,
                            count);
    sim->faults.n = 0;
    return each_scalar(c, items, count, path, add_fault, base);
}

static wp_status_t add_fault_replica(wp__cfg_ctx_t *c, yaml_node_t *item, const char *ip,
                                     const char *v, void *base)
{
    sim_t *sim = base;
    int64_t k = -1;
    if (wp_parse_i64(v, strlen(v), &k) != WP_OK || k < 0 || k > 63)
        return wp__cfg_fail(c, item, ip, WP_EINVAL, "expected a replica index 0..63, got '%s'", v);
    sim->fault_replicas |= (uint64_t)1 << k;
    return WP_OK;
}

/* simulation.faultReplicas: the replica indices (0..63) the faults apply to. */
static wp_status_t parse_fault_replicas(wp__cfg_ctx_t *c, yaml_node_t *n, void *base,
                                        const char *path)
{
    sim_t *sim = base;
    yaml_node_item_t *items;
    size_t count;
    wp_status_t st = wp__cfg_seq(c, n, path, &items, &count);
    if (st != WP_OK)
        return st;
    if (count == 0)
        return wp__cfg_fail(c, n, path, WP_EINVAL, "expected at least one replica index");
    sim->fault_replicas = 0;
    return each_scalar(c, items, count, path, add_fault_replica, base);
}

/* engineModel: {key: number, ...} with the keys of the engine model's table. */
static wp_status_t unknown_constant(wp__cfg_ctx_t *c, yaml_node_t *k, const char *path)
{
    char all[1024] = "";
    for (size_t j = 0, len = 0; j < wp_model_const_count() && len < sizeof(all); j++)
        len += (size_t)snprintf(all + len, sizeof(all) - len, "%s%s", j ? ", " : "",
                                wp_model_const_at(j)->key);
    return wp__cfg_fail(c, k, path, WP_EINVAL, "unknown constant; allowed: %s", all);
}

/* A plain decimal number (no quotes, no hex, no inf/nan) in the constant's range. */
static wp_status_t engine_value(wp__cfg_ctx_t *c, yaml_node_t *v, const char *path, size_t i,
                                double *out)
{
    const char *text;
    wp_status_t st = wp__cfg_scalar(c, v, path, &text);
    if (st != WP_OK)
        return st;
    if (v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return wp__cfg_fail(c, v, path, WP_EINVAL, "expected a number, got the string \"%s\"",
                            text);
    char *end;
    double x = strtod(text, &end);
    if (end == text || *end != '\0' || !isfinite(x) || strpbrk(text, "xXnN") != NULL)
        return wp__cfg_fail(c, v, path, WP_EINVAL, "expected a number, got \"%s\"", text);
    wp_err_t e = {{0}};
    if (wp_model_const_check(i, x, &e) != WP_OK)
        return wp__cfg_fail(c, v, path, WP_EINVAL, "%s", e.msg);
    *out = x;
    return WP_OK;
}

/* engineModel: {key: number, ...} with the keys of the engine model's table, each once. */
static wp_status_t parse_engine_model(wp__cfg_ctx_t *c, yaml_node_t *n, void *base,
                                      const char *path)
{
    sim_t *sim = base;
    bool seen[WP_MODEL_MAX_CONSTS] = {false};
    if (n->type != YAML_MAPPING_NODE)
        return wp__cfg_fail(c, n, path, WP_EINVAL, "expected a map of engine-model constants");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        const char *key;
        wp_status_t st = wp__cfg_scalar(c, k, path, &key);
        if (st != WP_OK)
            return st;
        char sub[WP__CFG_PATH_MAX];
        snprintf(sub, sizeof(sub), "%s.%s", path, key);
        int i = wp_model_const_find(key);
        if (i < 0)
            return unknown_constant(c, k, sub);
        if (seen[i])
            return wp__cfg_fail(c, k, sub, WP_EINVAL, "duplicate key");
        seen[i] = true;
        st = engine_value(c, yaml_document_get_node(c->doc, p->value), sub, (size_t)i,
                          &sim->engine_model[i]);
        if (st != WP_OK)
            return st;
    }
    return WP_OK;
}

static wp_status_t parse_url(wp__cfg_ctx_t *c, yaml_node_t *n, void *base, const char *path)
{
    endpoint_t *e = base;
    const char *s;
    wp_err_t why;
    wp_status_t st = wp__cfg_scalar(c, n, path, &s);
    if (st != WP_OK)
        return st;
    if (strlen(s) >= sizeof(e->url))
        return wp__cfg_fail(c, n, path, WP_EINVAL, "URL too long (%zu bytes)", strlen(s));
    if (wp_addr_parse_url(s, e->host, &e->port, e->base_path, &why) != WP_OK)
        return wp__cfg_fail(c, n, path, WP_EINVAL, "%s", why.msg);
    wp_strlcpy(e->url, s, sizeof(e->url));
    return WP_OK;
}

static wp_status_t parse_listen(wp__cfg_ctx_t *c, yaml_node_t *n, void *base, const char *path)
{
    gateway_t *g = base;
    const char *s;
    wp_err_t why;
    wp_status_t st = wp__cfg_scalar(c, n, path, &s);
    if (st != WP_OK)
        return st;
    if (wp_addr_parse_hostport(s, WP_ADDR_PORT0_OK, g->listen_host, &g->listen_port, &why) != WP_OK)
        return wp__cfg_fail(c, n, path, WP_EINVAL, "%s", why.msg);
    return WP_OK;
}

/* "host:port" ("[v6]:port") of e's URL, cut to cap. */
static void host_port(const endpoint_t *e, char *out, size_t cap)
{
    bool v6 = strchr(e->host, ':') != NULL;
    char hp[WP_TOPO_GROUP_MAX];
    snprintf(hp, sizeof(hp), "%s%s%s:%u", v6 ? "[" : "", e->host, v6 ? "]" : "", (unsigned)e->port);
    wp_strlcpy(out, hp, cap);
}

/* The endpoint before eps[i] with eps[i]'s group and data-parallel rank; -1 when none (or
 * eps[i] has no rank). */
static int rank_clash(const endpoint_t *eps, size_t i)
{
    const endpoint_t *e = &eps[i];
    for (size_t k = 0; e->has_data_parallel_rank && k < i; k++)
        if (eps[k].has_data_parallel_rank && eps[k].data_parallel_rank == e->data_parallel_rank &&
            strcmp(eps[k].group, e->group) == 0)
            return (int)k;
    return -1;
}

/* A rank without a group is a rank of its URL's host:port; no (group, rank) twice. */
static wp_status_t endpoint_rank(wp__cfg_ctx_t *c, yaml_node_t *item, endpoint_t *eps, size_t i,
                                 const char *ip)
{
    endpoint_t *e = &eps[i];
    if (e->has_data_parallel_rank && e->group[0] == '\0')
        host_port(e, e->group, sizeof(e->group));
    int k = rank_clash(eps, i);
    if (k >= 0)
        return wp__cfg_fail(c, item, ip, WP_EINVAL,
                            "dataParallelRank %d of group \"%s\" already used on line %d",
                            e->data_parallel_rank, e->group, eps[k].line);
    return WP_OK;
}

static wp_status_t parse_endpoint(wp__cfg_ctx_t *c, yaml_node_t *item, endpoint_t *eps, size_t i,
                                  const char *ip)
{
    endpoint_t *e = &eps[i];
    e->line = (int)item->start_mark.line + 1;
    wp_status_t st = wp__cfg_map(c, item, endpoint_fields, N(endpoint_fields), e, ip);
    if (st != WP_OK)
        return st;
    if (e->name[0] == '\0')
        host_port(e, e->name, sizeof(e->name));
    for (size_t k = 0; k < i; k++)
        if (strcmp(eps[k].name, e->name) == 0)
            return wp__cfg_fail(c, item, ip, WP_EINVAL,
                                "endpoint name \"%s\" already used on line %d", e->name,
                                eps[k].line);
    return endpoint_rank(c, item, eps, i, ip);
}

static wp_status_t parse_endpoints(wp__cfg_ctx_t *c, yaml_node_t *n, void *base, const char *path)
{
    wp_topology_t *t = base;
    yaml_node_item_t *items;
    size_t count;
    wp_status_t st = wp__cfg_seq(c, n, path, &items, &count);
    if (st != WP_OK || count == 0)
        return st;
    if (count > WP_TOPO_MAX_ENDPOINTS)
        return wp__cfg_fail(c, n, path, WP_EINVAL, "%zu endpoints, at most %d", count,
                            WP_TOPO_MAX_ENDPOINTS);
    t->endpoints = calloc(count, sizeof(*t->endpoints));
    if (t->endpoints == NULL)
        return wp__cfg_fail(c, n, path, WP_ENOMEM, "out of memory");
    t->n_endpoints = count;
    for (size_t i = 0; i < count && st == WP_OK; i++) {
        char ip[WP__CFG_PATH_MAX];
        item_path(ip, sizeof(ip), path, i);
        st = parse_endpoint(c, yaml_document_get_node(c->doc, items[i]), t->endpoints, i, ip);
    }
    return st;
}

/* ---- rules across sections ---- */

static yaml_node_t *top_key_node(wp__cfg_ctx_t *c, yaml_node_t *root, const char *key)
{
    yaml_node_t *k = NULL;
    return wp__cfg_lookup(c, root, key, &k) != NULL ? k : root;
}

static wp_status_t check_across(wp__cfg_ctx_t *c, yaml_node_t *root, const wp_topology_t *t)
{
    if (t->model[0] == '\0' && t->n_endpoints == 0 && t->gateway.discovery_file[0] == '\0')
        return wp__cfg_fail(
            c, root, "model", WP_EINVAL,
            "missing required key (name the model, or list endpoints, or gateway.discoveryFile)");
    if (t->gateway.dns.min_ttl_ms > t->gateway.dns.max_ttl_ms)
        return wp__cfg_fail(c, top_key_node(c, root, "gateway"), "gateway.dns", WP_EINVAL,
                            "minTtlMs %lld is above maxTtlMs %lld",
                            (long long)t->gateway.dns.min_ttl_ms,
                            (long long)t->gateway.dns.max_ttl_ms);
    if (t->prefill.present != t->decode.present) {
        const char *has = t->prefill.present ? "prefill" : "decode";
        return wp__cfg_fail(c, top_key_node(c, root, has), has, WP_EINVAL,
                            "P/D needs both prefill and decode sections");
    }
    int ports = t->prefill.present ? t->prefill.replicas + t->decode.replicas : t->vllm.replicas;
    if (t->simulation.base_port > 0 && t->simulation.base_port + ports - 1 > 65535)
        return wp__cfg_fail(c, top_key_node(c, root, "simulation"), "simulation.basePort",
                            WP_EINVAL, "%d replicas from port %d run past 65535", ports,
                            t->simulation.base_port);
    return WP_OK;
}

/* ---- public API ---- */

static void set_scorer(wp_topology_scorer_t *s, const char *type, double weight)
{
    wp_strlcpy(s->type, type, sizeof(s->type));
    s->weight = weight;
}

void wp_topology_defaults(wp_topology_t *t)
{
    memset(t, 0, sizeof(*t)); /* also zeroes padding and string tails: structs compare */
    wp_strlcpy(t->model, "qwen3-8b", sizeof(t->model));
    wp_strlcpy(t->gpu, "h100", sizeof(t->gpu));
    t->vllm = (wp_topology_vllm_t){.replicas = 4, .tensor_parallel = 1, .prefix_caching = true};
    wp_topology_scheduler_t *s = &t->scheduler;
    wp_strlcpy(s->policy, "topology", sizeof(s->policy));
    wp_strlcpy(s->picker, "max-score", sizeof(s->picker));
    set_scorer(&s->scorers[0], "prefix-aware", 100);
    set_scorer(&s->scorers[1], "load-aware", 50);
    s->n_scorers = 2;
    s->scrape_interval_ms = 50;
    s->scrape_budget = 2000;
    s->stale_after_ms = 2000;
    s->health_interval_ms = 1000;
    s->check_timeout_ms = 2000;
    s->unhealthy_after = 2;
    s->prefix_block_chars = 64;
    s->prefix_lru_blocks = 31250;
    s->pd_threshold = 512;
    wp_strlcpy(s->kv_hash_seed, "0", sizeof(s->kv_hash_seed));
    s->kv_block_size = 16;
    wp_topology_gateway_t *g = &t->gateway;
    wp_strlcpy(g->listen_host, "127.0.0.1", sizeof(g->listen_host));
    g->listen_port = 8000;
    g->max_body_bytes = 4194304;
    g->max_header_bytes = 16384;
    g->max_connections = 4096;
    g->request_timeout_ms = 600000;
    g->first_token_timeout_ms = 120000;
    g->connect_timeout_ms = 2000;
    g->retries = 2;
    g->drain_timeout_ms = 30000;
    g->workers = 1;
    g->flow = (wp_topology_flow_t){.max_queue = 1024,
                                   .queue_timeout_ms = 30000,
                                   .queue_depth_threshold = 5,
                                   .kv_cache_threshold = 0.8};
    g->outlier = (wp_topology_outlier_t){.consecutive_failures = 5,
                                         .base_ejection_ms = 30000,
                                         .max_ejection_ms = 300000,
                                         .max_ejection_percent = 50};
    g->scale_to_zero = (wp_topology_s2z_t){
        .idle_after_ms = 300000, .wake_timeout_ms = 60000, .max_queue = 256, .level = 1};
    g->dns = (wp_topology_dns_t){.min_ttl_ms = 1000, .max_ttl_ms = 30000};
    g->log_format = WP_TOPO_LOG_LOGFMT;
    g->replicas = 1;
    g->share_routes = true;
    t->simulation = (wp_topology_simulation_t){.base_port = 8100,
                                               .time_scale = 1.0,
                                               .seed = 1,
                                               .step_overhead_ms = -1.0,
                                               .fault_replicas = ~0ULL};
    for (size_t i = 0; i < WP_MODEL_MAX_CONSTS; i++)
        t->simulation.engine_model[i] = NAN;
    t->cost = (wp_topology_cost_t){.spot_notice_s = 120.0, .spot_restart_s = 300.0};
    t->prefill.replicas = t->decode.replicas = 1;
    t->prefill.tensor_parallel = t->decode.tensor_parallel = 1;
    wp_strlcpy(t->nixl.backend, "ucx", sizeof(t->nixl.backend));
    wp_strlcpy(t->nixl.transport, "rdma", sizeof(t->nixl.transport));
}

const char *wp_topology_default_yaml(void)
{
    return "# wellpath's embedded default: Path 1 (inference scheduling), four simulated\n"
           "# replicas of a small model behind the gateway.\n"
           "model: qwen3-8b\n"
           "gpu: h100\n"
           "vllm:\n"
           "  replicas: 4\n"
           "  tensorParallel: 1\n"
           "  prefixCaching: true\n"
           "inferenceScheduler:\n"
           "  policy: topology\n"
           "  picker: max-score\n"
           "  scorers:\n"
           "    - type: prefix-aware\n"
           "      weight: 100\n"
           "    - type: load-aware\n"
           "      weight: 50\n"
           "  scrapeIntervalMs: 50\n"
           "  scrapeBudget: 2000\n"
           "  staleAfterMs: 2000\n"
           "  healthIntervalMs: 1000\n"
           "  checkTimeoutMs: 2000\n"
           "  unhealthyAfter: 2\n"
           "  prefixBlockChars: 64\n"
           "  prefixLruBlocks: 31250\n"
           "  pdThreshold: 512\n"
           "gateway:\n"
           "  listen: 127.0.0.1:8000\n"
           "  maxBodyBytes: 4194304\n"
           "  maxHeaderBytes: 16384\n"
           "  maxConnections: 4096\n"
           "  requestTimeoutMs: 600000\n"
           "  connectTimeoutMs: 2000\n"
           "  firstTokenTimeoutMs: 120000\n"
           "  retries: 2\n"
           "  logFormat: logfmt\n"
           "  logPrompts: false\n"
           "  guideMetrics: false\n"
           "simulation:\n"
           "  basePort: 8100\n"
           "  timeScale: 1.0\n"
           "  seed: 1\n";
}

static wp_status_t parse_root(wp__cfg_ctx_t *c, yaml_node_t *root, void *arg)
{
    wp_topology_t *out = arg;
    if (root == NULL)
        return wp_err_set(c->err, WP_EINVAL,
                          "%s:1:1: empty file; expected a topology (at least model)", c->filename);
    wp_status_t st = wp__cfg_map(c, root, top_fields, N(top_fields), out, "");
    if (st == WP_OK)
        st = check_across(c, root, out);
    return st;
}

wp_status_t wp_topology_parse(const char *data, size_t len, const char *filename,
                              wp_topology_t *out, wp_err_t *err)
{
    const char *file = filename ? filename : "topology";
    wp_topology_defaults(out);
    memset(out->model, 0, sizeof(out->model)); /* the file must say, unless endpoints */
    if (len > WP_TOPO_MAX_INPUT)
        return wp_err_set(err, WP_ELIMIT, "%s: %zu bytes, more than the %zu allowed", file, len,
                          WP_TOPO_MAX_INPUT);
    wp_status_t st = wp__cfg_load(data, len, file, parse_root, out, err);
    if (st != WP_OK)
        wp_topology_free(out);
    return st;
}

/* ---- discovery files: endpoints alone ---- */

static const wp__cfg_field_t discovery_fields[] = {
    F_CUSTOM("endpoints", parse_endpoints),
};

static wp_status_t parse_discovery_root(wp__cfg_ctx_t *c, yaml_node_t *root, void *arg)
{
    if (root == NULL)
        return WP_OK; /* an empty file: no endpoints */
    return wp__cfg_map(c, root, discovery_fields, N(discovery_fields), arg, "");
}

wp_status_t wp_topology_parse_endpoints(const char *data, size_t len, const char *filename,
                                        wp_topology_t *out, wp_err_t *err)
{
    const char *file = filename ? filename : "discovery file";
    out->endpoints = NULL;
    out->n_endpoints = 0;
    if (len > WP_TOPO_MAX_INPUT)
        return wp_err_set(err, WP_ELIMIT, "%s: %zu bytes, more than the %zu allowed", file, len,
                          WP_TOPO_MAX_INPUT);
    wp_status_t st = wp__cfg_load(data, len, file, parse_discovery_root, out, err);
    if (st != WP_OK)
        wp_topology_free(out);
    return st;
}

wp_status_t wp_topology_add_endpoints(wp_topology_t *t, const wp_topology_t *more, const char *what,
                                      wp_err_t *err)
{
    size_t n = t->n_endpoints, m = more->n_endpoints;
    if (m == 0)
        return WP_OK;
    if (n + m > WP_TOPO_MAX_ENDPOINTS)
        return wp_err_set(err, WP_EINVAL, "%s: %zu endpoints and %zu in the topology, at most %d",
                          what, m, n, WP_TOPO_MAX_ENDPOINTS);
    endpoint_t *all = calloc(n + m, sizeof(*all));
    if (all == NULL)
        return wp_err_set(err, WP_ENOMEM, "out of memory");
    if (n > 0)
        memcpy(all, t->endpoints, n * sizeof(*all));
    memcpy(all + n, more->endpoints, m * sizeof(*all));
    wp_status_t st = WP_OK;
    for (size_t i = n; i < n + m && st == WP_OK; i++) {
        for (size_t k = 0; k < n && st == WP_OK; k++)
            if (strcmp(all[k].name, all[i].name) == 0)
                st = wp_err_set(err, WP_EINVAL,
                                "%s: line %d: endpoint name \"%s\" is also in the topology", what,
                                all[i].line, all[i].name);
        if (st == WP_OK && rank_clash(all, i) >= 0)
            st = wp_err_set(err, WP_EINVAL,
                            "%s: line %d: group \"%s\" rank %d is also in the topology", what,
                            all[i].line, all[i].group, all[i].data_parallel_rank);
    }
    if (st != WP_OK) {
        free(all);
        return st;
    }
    free(t->endpoints);
    t->endpoints = all;
    t->n_endpoints = n + m;
    return WP_OK;
}

void wp_topology_free(wp_topology_t *t)
{
    free(t->endpoints);
    t->endpoints = NULL;
    t->n_endpoints = 0;
}

static wp_status_t validate_lists(const wp_topology_t *t, wp_err_t *err)
{
    const wp_topology_scheduler_t *s = &t->scheduler;
    if (s->n_scorers == 0 || s->n_scorers > WP_TOPO_MAX_SCORERS)
        return wp_err_set(err, WP_EINVAL, "scorers: %zu scorers", s->n_scorers);
    for (size_t i = 0; i < s->n_scorers; i++)
        if (wp__cfg_check(scorer_fields, N(scorer_fields), &s->scorers[i], "scorers[]", err) !=
            WP_OK)
            return WP_EINVAL;
    if ((t->endpoints != NULL) != (t->n_endpoints > 0) || t->n_endpoints > WP_TOPO_MAX_ENDPOINTS)
        return wp_err_set(err, WP_EINVAL, "endpoints: pointer and count disagree");
    for (size_t i = 0; i < t->n_endpoints; i++) {
        const endpoint_t *e = &t->endpoints[i];
        if (wp__cfg_check(endpoint_fields, N(endpoint_fields), e, "endpoints[]", err) != WP_OK)
            return WP_EINVAL;
        if (memchr(e->host, 0, sizeof(e->host)) == NULL || e->host[0] == '\0' || e->port == 0 ||
            memchr(e->base_path, 0, sizeof(e->base_path)) == NULL)
            return wp_err_set(err, WP_EINVAL, "endpoints[%zu]: bad address", i);
        if (e->has_data_parallel_rank && e->group[0] == '\0')
            return wp_err_set(err, WP_EINVAL,
                              "endpoints[%zu]: a data-parallel rank without a group", i);
        if (rank_clash(t->endpoints, i) >= 0)
            return wp_err_set(err, WP_EINVAL, "endpoints[%zu]: group \"%s\" rank %d twice", i,
                              e->group, e->data_parallel_rank);
    }
    return WP_OK;
}

wp_status_t wp_topology_validate(const wp_topology_t *t, wp_err_t *err)
{
    if (memchr(t->model, 0, sizeof(t->model)) == NULL ||
        (t->model[0] == '\0' && t->n_endpoints == 0 && t->gateway.discovery_file[0] == '\0'))
        return wp_err_set(err, WP_EINVAL, "model: empty and no endpoints");
    /* model may legitimately be "" with endpoints: check the other top fields only. */
    if (wp__cfg_check(top_fields + 1, N(top_fields) - 1, t, "", err) != WP_OK)
        return WP_EINVAL;
    const wp_topology_gateway_t *g = &t->gateway;
    if (memchr(g->listen_host, 0, sizeof(g->listen_host)) == NULL || g->listen_host[0] == '\0')
        return wp_err_set(err, WP_EINVAL, "gateway.listen: empty host");
    return validate_lists(t, err);
}
