/*
 * config/topology: the topology file, parsed into a plain struct. Pure: it parses a byte
 * buffer (the shell reads the file) and does no I/O.
 *
 * The file is the production guide's topology as is (model, gpu, vllm, inferenceScheduler,
 * prefill, decode, nixl, expertParallel; camelCase keys) plus wellpath's own sections
 * (endpoints, gateway, simulation). wp_topology_parse starts from the embedded default and
 * overlays what the file says, except that the file must name `model` unless it lists
 * `endpoints` (then model may be absent and is left ""). A list in the file replaces the
 * default list (scorers). An empty file, or one holding only comments, is an error: an
 * explicit -f that says nothing is more likely a mistake than a wish for the defaults;
 * callers that want the defaults call wp_topology_defaults.
 *
 * Every error is one line naming the file, line and column (1-based) and the key path:
 *   topology.yaml:7:3: vllm.replicas: expected an integer, got "eight"
 * Unknown keys name the key and list the keys allowed at that level; duplicate keys and
 * invalid YAML (libyaml's own message and position) are errors too.
 *
 * Invariants (wp_topology_validate): every string is NUL-terminated within its array;
 * numbers are within the ranges documented on each field; n_scorers <= WP_TOPO_MAX_SCORERS;
 * endpoints is non-NULL exactly when n_endpoints > 0; an endpoint with a data-parallel
 * rank has a group, and no two endpoints share a (group, rank). Addresses (gateway.listen,
 * endpoints[].url) follow config/addr.h.
 *
 * Ownership: the caller owns the wp_topology_t. Strings are fixed-size arrays inside it
 * (too long is an error). The endpoints array is heap memory owned by the struct and
 * released by wp_topology_free; a struct copy is shallow, so free exactly one of them.
 */
#ifndef WP_CONFIG_TOPOLOGY_H
#define WP_CONFIG_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "model/consts.h"
#include "config/addr.h"
#include "fault/fault.h"
#include "model/model.h"

#define WP_TOPO_NAME_MAX 64               /* model, gpu, scorer type, policy, nixl strings */
#define WP_TOPO_HOST_MAX WP_ADDR_HOST_MAX /* host names and addresses, without brackets */
#define WP_TOPO_URL_MAX 512
#define WP_TOPO_PATH_MAX WP_ADDR_PATH_MAX
#define WP_TOPO_TOKEN_MAX 256
#define WP_TOPO_GROUP_MAX (WP_TOPO_HOST_MAX + 8) /* a group name; room for "[v6]:port" */
#define WP_TOPO_MAX_DP_RANK 1023
#define WP_TOPO_MAX_SCORERS 16
#define WP_TOPO_MAX_ENDPOINTS 1024
#define WP_TOPO_MAX_INPUT ((size_t)1 << 20) /* bytes of YAML accepted */

typedef enum {
    WP_TOPO_ENGINE_VLLM = 0,
    WP_TOPO_ENGINE_SGLANG,
    WP_TOPO_ENGINE_TRTLLM,
    WP_TOPO_ENGINE_LLAMACPP,
} wp_topology_engine_t;

typedef enum {
    WP_TOPO_ROLE_BOTH = 0,
    WP_TOPO_ROLE_PREFILL,
    WP_TOPO_ROLE_DECODE,
} wp_topology_role_t;

typedef enum {
    WP_TOPO_LOG_LOGFMT = 0,
    WP_TOPO_LOG_JSON,
} wp_topology_log_format_t;

typedef struct wp_topology_vllm_s {
    int replicas;        /* 1..64 */
    int tensor_parallel; /* 1, 2, 4 or 8 */
    bool prefix_caching;
    /* Optional engine settings: 0 (or 0.0) means "not set, use the engine's default". */
    int max_num_seqs;               /* 1..65536 */
    int max_num_batched_tokens;     /* 1..16777216 */
    int block_size;                 /* 1..1024 */
    int max_model_len;              /* 1..16777216 */
    double gpu_memory_utilization;  /* (0, 1] */
    int max_cudagraph_capture_size; /* 1..65536, 0 = vLLM's min(2 x maxNumSeqs, 512) */
    char kv_cache_dtype[16];        /* kvCacheDtype: "" (auto), auto, bfloat16, fp8, fp8_e4m3,
                                       fp8_e5m2 (vLLM's --kv-cache-dtype) */
    double kv_offloading_size;      /* kvOffloadingSize: GiB of CPU KV offload per server
                                       (vLLM's --kv-offloading-size), 0..65536, 0 = none */
    int shutdown_timeout;           /* shutdownTimeout: seconds a server drains on SIGTERM
                                       (vLLM's --shutdown-timeout), 0..86400, 0 = at once */
} wp_topology_vllm_t;

typedef struct wp_topology_scorer_s {
    char type[WP_TOPO_NAME_MAX]; /* non-empty; the scheduler's registry checks the name */
    double weight;               /* >= 0, finite */
    int line;                    /* 1-based line of the list item, 0 when not from a file */
} wp_topology_scorer_t;

/* inferenceScheduler.kvEvents: where the servers publish their KV events (vLLM's
 * --kv-events-config), for endpoints that do not say: the endpoint's host and port + its
 * data-parallel rank (vLLM offsets the port per rank); 0 = none. */
typedef struct wp_topology_kv_events_s {
    int port;        /* 0..65535, default 0 */
    int replay_port; /* 0..65535, default 0 (no replay) */
    char topic[64];  /* default "" (vLLM's) */
} wp_topology_kv_events_t;

typedef struct wp_topology_scheduler_s {
    /* Names of the scheduler's registry (wp_sched_policy_name, wp_sched_picker_name; the
     * one list, docs/policies.md), hence strings. */
    char policy[WP_TOPO_NAME_MAX];
    char picker[WP_TOPO_NAME_MAX];
    wp_topology_scorer_t scorers[WP_TOPO_MAX_SCORERS];
    size_t n_scorers;       /* >= 1 */
    int scrape_interval_ms; /* 1..60000 */
    int scrape_budget;      /* scrapes per second across the pool, 0..10000000; 0: no limit */
    int stale_after_ms;     /* 1..3600000 */
    int health_interval_ms; /* 10..60000: period of GET /health per endpoint */
    int check_timeout_ms;   /* 10..60000: a check with no whole answer by then failed */
    int unhealthy_after;    /* 1..100: failed checks in a row that take an endpoint out */
    int prefix_block_chars; /* 1..65536 */
    int prefix_lru_blocks;  /* 1..4000000 */
    int pd_threshold;       /* P/D: disaggregate when the prompt and its uncached part on the
                               decode endpoint both reach this many tokens; 0..16777216 */
    /* Precise prefix routing (docs/precise-routing.md): the model's tokenizer (a directory
     * with tokenizer.json, or the file; "" = none), the servers' PYTHONHASHSEED (default
     * "0") and block size (1..1024, default 16), and where their KV events are. */
    char tokenizer[512];
    char kv_hash_seed[64];
    int kv_block_size;
    wp_topology_kv_events_t kv_events;
} wp_topology_scheduler_t;

/* endpoints[].discover: how the URL's host names the servers. */
typedef enum {
    WP_TOPO_DISCOVER_NONE = 0, /* one endpoint, the host resolved when loaded */
    WP_TOPO_DISCOVER_DNS,      /* an endpoint per address of the name, followed on its TTL */
    WP_TOPO_DISCOVER_SRV,      /* the host is an SRV name: an endpoint per target address and
                                  port, followed likewise */
} wp_topology_discover_t;

typedef struct wp_topology_endpoint_s {
    char url[WP_TOPO_URL_MAX];        /* as written */
    char host[WP_TOPO_HOST_MAX];      /* without [] for IPv6 */
    uint16_t port;                    /* 1..65535; 80 when the URL has none */
    char base_path[WP_TOPO_PATH_MAX]; /* "" or "/prefix", no trailing slash */
    wp_topology_engine_t engine;      /* default vllm */
    wp_topology_role_t role;          /* default both */
    char name[WP_TOPO_NAME_MAX];      /* default "host:port"; unique in the file */
    /* Wide-EP (Path 3): the endpoint is data-parallel rank data_parallel_rank (0..1023,
     * meaningful when has_data_parallel_rank) of the group named `group` ("" = none).
     * Endpoints with the same group name are ranks of one group; a rank without a group
     * is in the group "host:port" of its URL (ranks behind one shared port form a group);
     * no two endpoints share a group and a rank. A group without a rank is allowed (a
     * port per rank, the rank left unsaid). */
    int data_parallel_rank;
    bool has_data_parallel_rank;
    char group[WP_TOPO_GROUP_MAX];
    /* kvEvents, kvEventsReplay: the server's KV-event PUB and replay addresses
     * ("tcp://host:port"); "" = inferenceScheduler.kvEvents's default, if any. */
    char kv_events[WP_TOPO_URL_MAX];
    char kv_events_replay[WP_TOPO_URL_MAX];
    /* discover: with dns or srv the entry stands for the endpoints its name resolves to
     * (cli/dnsdisc.h), each named "<name>@<address>:<port>"; with dataParallelRank the name
     * must give one address (a pod's own name), a rank being one server */
    wp_topology_discover_t discover;
    int line;
} wp_topology_endpoint_t;

/* gateway.dns: how endpoints with `discover` are looked up. */
typedef struct wp_topology_dns_s {
    char servers[256];  /* "ip[:port],...", "" = the system's (/etc/resolv.conf) */
    int64_t min_ttl_ms; /* 100..3600000, default 1000: a name is looked up again no sooner */
    int64_t max_ttl_ms; /* 100..86400000, default 30000: ... and no later, whatever its TTL */
} wp_topology_dns_t;

/* gateway.flowControl: requests wait at the gateway while every endpoint is saturated. */
typedef struct wp_topology_flow_s {
    bool enabled;              /* default false */
    int max_queue;             /* 1..16384, default 1024 */
    int64_t queue_timeout_ms;  /* 1..86400000, default 30000: then 429 */
    int queue_depth_threshold; /* 0..1000000, default 5 (0: not used) */
    double kv_cache_threshold; /* 0..1, default 0.8 (0: not used) */
} wp_topology_flow_t;

/* gateway.outlierDetection: passive ejection of endpoints that fail requests. */
typedef struct wp_topology_outlier_s {
    int consecutive_failures; /* 0..1000000, default 5 (0: off) */
    int64_t base_ejection_ms; /* 1..86400000, default 30000; doubles per ejection */
    int64_t max_ejection_ms;  /* 1..86400000, default 300000 */
    int max_ejection_percent; /* 0..100, default 50 */
} wp_topology_outlier_t;

/* gateway.scaleToZero: put an idle pool to sleep (vLLM's sleep mode), hold requests while
 * it wakes or while no endpoint is there, export the demand (docs/cost-levers.md). */
typedef struct wp_topology_s2z_s {
    bool enabled;            /* default false */
    int64_t idle_after_ms;   /* 1..86400000, default 300000 */
    int64_t wake_timeout_ms; /* 1..86400000, default 60000 */
    int max_queue;           /* 1..16384, default 256 */
    int level;               /* 1..2, default 1 */
} wp_topology_s2z_t;

#define WP_TOPO_MAX_WORKERS 64 /* gateway.workers */

typedef struct wp_topology_gateway_s {
    char listen_host[WP_TOPO_HOST_MAX];  /* from listen: host:port ([v6]:port) */
    uint16_t listen_port;                /* 0..65535, 0 = ephemeral */
    int64_t max_body_bytes;              /* 1..1 GiB */
    int64_t max_header_bytes;            /* 256..1 MiB */
    int max_connections;                 /* 1..1000000 */
    int64_t request_timeout_ms;          /* 1..86400000 */
    int64_t connect_timeout_ms;          /* 1..600000 */
    int64_t first_byte_timeout_ms;       /* 0..86400000, 0 = request_timeout_ms */
    int64_t first_token_timeout_ms;      /* 0..86400000, default 120000; 0 = first byte's */
    int64_t idle_timeout_ms;             /* 0..86400000, 0 = request_timeout_ms */
    int64_t drain_timeout_ms;            /* 1..86400000, default 30000 */
    int max_in_flight_per_endpoint;      /* 0..1000000, 0 = no limit */
    int retries;                         /* 0..16 */
    char admin_token[WP_TOPO_TOKEN_MAX]; /* "" = admin API off (unless the environment sets one) */
    char decision_log[512];              /* decisionLog: a file for the decision log, "" = off */
    /* discoveryFile: a file of more endpoints (`endpoints:` alone) that another system writes;
     * the gateway watches it and applies its changes as a reload of the endpoints. "" = none */
    char discovery_file[512];
    wp_topology_dns_t dns;
    wp_topology_flow_t flow;
    wp_topology_outlier_t outlier;
    wp_topology_s2z_t scale_to_zero;
    wp_topology_log_format_t log_format;
    bool log_prompts;
    bool guide_metrics; /* also export the production guide's series on /metrics */
    /* replicas: gateways over the one pool (1..16, default 1), each with its own scheduler
     * state, clients spread over them (`wellpath up` starts them, `simulate` simulates
     * them). shareRoutes (default true): they tell each other where they routed prompts,
     * so that the approximate prefix index of each knows the others' routing too. */
    int replicas;
    bool share_routes;
    /* Replicas run apart (`wellpath gateway` each): routesListen, this one's routes PUB
     * address ("tcp://host:port"), and routesPeers, the others' (comma-separated). */
    char routes_listen[256];
    char routes_peers[2048];
    /* workers: event loops (threads) of one gateway process sharing its port and its view of
     * the pool (1..64, default 1; docs/topology.md) */
    int workers;
} wp_topology_gateway_t;

typedef struct wp_topology_simulation_s {
    int base_port;         /* 0..65535, 0 = ephemeral ports */
    double time_scale;     /* > 0, <= 1e6 */
    uint64_t seed;         /* 0..2^63-1 */
    wp_fault_set_t faults; /* faults: a list of `wellpath sim --fault` specs; none by default */
    uint64_t
        fault_replicas;    /* faultReplicas: indices the faults apply to (bit i); all by default */
    char admin_token[128]; /* adminToken: "" = the simulator's admin endpoint is off */
    /* The engine model's constants (docs/calibration.md); unset: the model's defaults. */
    double prefill_mfu;      /* prefillMfu: (0, 1], 0 = unset */
    double decode_mbu;       /* decodeMbu: (0, 1], 0 = unset */
    double step_overhead_ms; /* stepOverheadMs: 0..1000, < 0 = unset */
    /* engineModel: any constant of model/model.h's table by its key; NaN = unset. Applied
     * after the three keys above. */
    double engine_model[WP_MODEL_MAX_CONSTS];
} wp_topology_simulation_t;

/* cost: the price model of `wellpath simulate`'s cost report (report/cost.h, cli/cost.h);
 * its flags of the same names win over these. */
typedef struct wp_topology_cost_s {
    double price_per_gpu_hour;          /* pricePerGpuHour: >= 0, 0 = no price */
    double spot_discount;               /* spotDiscount: 0..0.95, share off on spot */
    double spot_interruptions_per_hour; /* spotInterruptionsPerHour: 0..3599 per node */
    double spot_notice_s;               /* spotNoticeS: 0.01..86400 (120) */
    double spot_restart_s;              /* spotRestartS: 0..86400 (300) */
} wp_topology_cost_t;

typedef struct wp_topology_pool_s {
    bool present;        /* the section was in the file */
    int replicas;        /* 1..64, required in the section */
    int tensor_parallel; /* 1, 2, 4 or 8; default 1 */
} wp_topology_pool_t;

typedef struct wp_topology_nixl_s {
    bool present;
    char backend[WP_TOPO_NAME_MAX];   /* default "ucx" */
    char transport[WP_TOPO_NAME_MAX]; /* default "rdma" */
} wp_topology_nixl_t;

typedef struct wp_topology_s {
    char model[WP_TOPO_NAME_MAX]; /* default qwen3-8b; "" only when endpoints are given */
    char gpu[WP_TOPO_NAME_MAX];   /* default h100; the shell checks it against the catalog */
    char precision[16]; /* weights: "" (the checkpoint's), bf16, fp8, mxfp4 (model/model.h) */
    wp_topology_vllm_t vllm;
    wp_topology_scheduler_t scheduler; /* the file's inferenceScheduler */
    wp_topology_endpoint_t *endpoints; /* owned; NULL when none */
    size_t n_endpoints;                /* <= WP_TOPO_MAX_ENDPOINTS */
    wp_topology_gateway_t gateway;
    wp_topology_simulation_t simulation;
    wp_topology_cost_t cost;
    wp_topology_pool_t prefill;
    wp_topology_pool_t decode;
    wp_topology_nixl_t nixl;
    int expert_parallel; /* 0 = not set, else 1..1024 */
} wp_topology_t;

/* Fills t with the embedded default: Path 1, qwen3-8b on h100, vllm {replicas 4,
 * tensorParallel 1, prefixCaching true}, scorers prefix-aware 100 + load-aware 50,
 * gateway on 127.0.0.1:8000. t needs no freeing afterwards (no endpoints). */
void wp_topology_defaults(wp_topology_t *t);

/* The embedded default as YAML text (static storage); parses to wp_topology_defaults. */
const char *wp_topology_default_yaml(void);

/* Parses len bytes of YAML; filename only labels errors (NULL: "topology"). On success
 * *out holds the result (free with wp_topology_free); on failure *out is left in a state
 * that needs no freeing and err says what and where. */
wp_status_t wp_topology_parse(const char *data, size_t len, const char *filename,
                              wp_topology_t *out, wp_err_t *err);

/* Releases the endpoints and leaves t with none; safe on a defaults-only struct. */
void wp_topology_free(wp_topology_t *t);

/* Parses a discovery file (gateway.discoveryFile): a YAML mapping with the one key
 * `endpoints`, a list as in a topology file (possibly empty; an empty file is no endpoints).
 * On success out->endpoints holds them (free with wp_topology_free; the rest of out is
 * untouched); on failure none, and err says what and where. */
wp_status_t wp_topology_parse_endpoints(const char *data, size_t len, const char *filename,
                                        wp_topology_t *out, wp_err_t *err);

/* Appends a copy of more's endpoints to t's; `what` names where they came from in an error
 * (a name or a data-parallel rank of a group already in t, or more than
 * WP_TOPO_MAX_ENDPOINTS in all). On failure t is as it was. */
wp_status_t wp_topology_add_endpoints(wp_topology_t *t, const wp_topology_t *more, const char *what,
                                      wp_err_t *err);

wp_status_t wp_topology_validate(const wp_topology_t *t, wp_err_t *err);

#endif
