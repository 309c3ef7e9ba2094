/*
 * sim: simulated vLLM-compatible model servers, in real time.
 *
 * Each replica is an HTTP server in front of one engine/ core: requests are tokenized
 * (tok/: the fake tokenizer, or with cfg.tokenizer the model's own, tok/model.h, whose ids
 * are vLLM's), added to the engine, and the engine is stepped on a libuv timer whose delay
 * is the step's simulated duration times time_scale. Tokens produced by a step are
 * delivered when the step ends: streamed as SSE chunks or gathered into one JSON
 * answer. The API is vLLM's (docs/reference.md §1): /v1/completions, /v1/chat/completions,
 * /v1/models, /health, /tokenize, /metrics (§2 names, labels and buckets).
 *
 * The generated text is deterministic filler; a request without max_tokens gets
 * default_max_tokens (a real model would stop at its end-of-sequence token). A request's
 * X-Request-Id header is echoed on its answer.
 *
 * P/D roles (docs/reference.md §4). role prefill (or both): a request whose kv_transfer_params
 * has do_remote_decode=true runs with max_tokens 1 and the engine's `hold` flag, and is
 * answered non-streamed with a top-level kv_transfer_params {do_remote_prefill: true,
 * do_remote_decode: false, remote_block_ids: the engine's block ids, remote_engine_id:
 * "sim-<http port>", remote_request_id: the engine request id in decimal, remote_host,
 * remote_port: this replica's side-channel port, tp_size}. Its blocks stay held until a
 * decode server pulls them or kv_timeout_ms passes. role decode (or both): a request with
 * do_remote_prefill=true pulls from remote_host:remote_port first; the pull costs
 * kv_bytes / kv_bandwidth + kv_latency simulated seconds, then the request runs with the
 * engine's `kv_ready` flag (cached_tokens = prompt tokens). When the pull fails,
 * kv_transfer_params.kv_load_failure_policy decides: "fail" answers 500 with a JSON error,
 * anything else ("recompute", the default) prefills locally. A prefill replica ignores
 * do_remote_prefill and a decode replica ignores do_remote_decode (both compute locally).
 *
 * Side-channel protocol (one TCP port per replica; lines end in "\n", at most
 * WP_SIM_KV_LINE_MAX bytes; each side gives up after WP_SIM_KV_IO_TIMEOUT_MS):
 *   decode -> prefill   PULL <remote_request_id> <n_tokens>
 *   prefill -> decode   OK <kv_bytes>          the held request is released
 *                       ERR <reason>           reason: unknown, expired, tokens, bad-request,
 *                                              line-too-long; nothing is released
 * then the prefill side closes the connection. kv_bytes = n_tokens × the model's KV bytes per
 * token (all layers and heads: what the tp ranks hold together); n_tokens must equal the held
 * request's prompt tokens.
 *
 * Fault injection (kinds, parameters and the decision in fault/fault.h). Each replica keeps
 * its own fault set, its own RNG (seeded from seed and the replica's index) and its own
 * counts, in wellpath_sim_faults_injected_total{kind} on its /metrics. Only completion
 * requests (/v1/completions, /v1/chat/completions) are subject to faults; /health,
 * /metrics, /v1/models, /tokenize and /admin are not. cfg.faults is installed at start on
 * the replicas whose bit is set in cfg.fault_replicas. A crash closes the replica's HTTP
 * listener and every HTTP connection (in-flight requests get nothing more), drops its
 * held KV blocks and starts it over with an empty engine and fresh vLLM series (as a
 * restarted process would); its fault set and fault counts survive. With restart_ms >= 0
 * it listens again on the same port after that many milliseconds. Its siblings are not
 * touched. The P/D side channel keeps listening.
 *
 * Wide-EP groups (data_parallel > 1; DESIGN.md Path 3, engine/group.h): each of the
 * `replicas` servers is a group of data_parallel ranks that step in lock step (the model's
 * MoE layers expert-parallel over the ranks, model/ep.h), each rank a replica with its own
 * engine, KV pool, port and side channel: group g's rank k is replica g x data_parallel + k
 * and listens on port + that index (vLLM's external load balancing: a server per rank). A
 * request carrying `X-data-parallel-rank: k` goes to rank k of the group of the port it came
 * to (vLLM's header on a shared port); a rank out of range or not an integer is a 400, a
 * rank that is down a 503. /metrics on a group's first port (its base port) reports every
 * rank of the group, each with its `engine="<rank>"` label, as vLLM's one API server of a
 * DP deployment does; any other rank's port reports that rank alone. A plain replica is
 * rank 0 of a group of one (engine="0"). Ranks crash alone: a crashed rank's requests end
 * (also those that came through another rank's port) and the others keep serving.
 *
 * Admin endpoint, per replica, only when cfg.admin_token is set (otherwise /admin/... is
 * an unknown path, 404); every call needs "Authorization: Bearer <token>" (401 with a
 * JSON error and "WWW-Authenticate: Bearer" otherwise):
 *   GET    /admin/faults   200 {"faults":[...]} (the replica's set, as fault.h writes it)
 *   PUT    /admin/faults   replaces the set with the body's {"faults":[...]}: 200 and the
 *                          new set; 400 naming the field that is wrong
 *   DELETE /admin/faults   clears the set: 200 {"faults":[]}
 *   POST   /admin/crash    optional body {"restart_ms":N}: 202 {"crash":true,"restart_ms":N},
 *                          then the replica crashes (counted as an injected crash)
 *   POST   /admin/preempt  optional body {"notice_ms":N,"restart_ms":M} (120000, -1): 202
 *                          {"preempt":true,...}; the replica drains for N ms (/health and
 *                          new completions 503, running streams go on), then crashes as
 *                          above; 409 while a notice runs or it is down (sim/notice.c)
 * Replacing or clearing the set reseeds the replica's RNG and restarts its request count.
 * Ownership: wp_sim_t owns its replicas, engines and servers; free with wp_sim_free
 * and run the loop until the handles are closed.
 */
#ifndef WP_SIM_SIM_H
#define WP_SIM_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/err.h"
#include "engine/engine.h"
#include "fault/fault.h"
#include "model/consts.h"
#include "model/ep.h"
#include "model/model.h"
#include "http/server.h"

/* Servers (ranks) one process runs: a pool of a thousand endpoints fits in one `wellpath sim`. */
#define WP_SIM_MAX_REPLICAS 1024
/* The fault lists (fault_replicas) name replicas 0..63, a bit each; replicas past 63 get the
 * faults only when the list is left at its default, all of them (wp_sim_fault_applies). */
#define WP_SIM_FAULT_REPLICAS 64
#define WP_SIM_KV_LINE_MAX 128
#define WP_SIM_KV_IO_TIMEOUT_MS 5000

typedef enum { WP_SIM_ROLE_BOTH, WP_SIM_ROLE_PREFILL, WP_SIM_ROLE_DECODE } wp_sim_role_t;

/* KV link figures by transport name (documented defaults):
 *   rdma: 400 Gb/s = 50e9 bytes/s, 5 µs latency (one InfiniBand NDR / RoCE NIC)
 *   tcp:  25 Gb/s = 3.125e9 bytes/s, 50 µs latency
 * WP_EINVAL for any other name. */
wp_status_t wp_sim_kv_transport(const char *name, double *bandwidth, double *latency_s,
                                wp_err_t *err);
/* "prefill" | "decode" | "both". */
wp_status_t wp_sim_role_parse(const char *name, wp_sim_role_t *out, wp_err_t *err);
const char *wp_sim_role_str(wp_sim_role_t role);
/* Simulated seconds a pull of kv_bytes takes over the link: kv_bytes / bandwidth + latency. */
double wp_sim_kv_pull_seconds(double kv_bytes, double bandwidth, double latency_s);

typedef struct wp_sim_config_s {
    char host[64];
    int port;          /* first replica's port; replica i listens on port + i (0: ephemeral) */
    int replicas;      /* servers: plain replicas, or wide-EP groups */
    int data_parallel; /* ranks per wide-EP group (0 or 1: plain replicas); replicas x it <=
                          WP_SIM_MAX_REPLICAS */
    char model[64];    /* catalog name, e.g. qwen3-8b */
    char gpu[16];      /* a100|h100|h200|b200|h800 */
    int tensor_parallel;
    double time_scale;
    uint64_t seed;
    bool prefix_caching;
    /* 0 = the engine's default */
    int max_num_seqs, max_num_batched_tokens, block_size, max_model_len;
    double gpu_memory_utilization;
    /* GiB of CPU KV offload per server (vLLM's --kv-offloading-size with the native backend,
     * split over its tensor-parallel ranks); 0 = none (engine.h: cpu_offload_blocks) */
    double kv_offloading_size;
    char precision[16];      /* weights: "" = the checkpoint's; bf16 | fp8 | mxfp4 */
    char kv_cache_dtype[16]; /* "" or auto | bfloat16 = BF16; fp8, fp8_e4m3, fp8_e5m2 = 1 byte */
    /* engine model constants: 0 (mfu, mbu) or < 0 (overhead) = the model's defaults */
    double prefill_mfu, decode_mbu, step_overhead_ms;
    double engine_model[WP_MODEL_MAX_CONSTS]; /* by model/consts.h's index; NaN = default */
    int max_cudagraph_capture_size;           /* 0 = vLLM's min(2 x max_num_seqs, 512) */
    int default_max_tokens;
    wp_sim_role_t role;  /* both */
    double kv_bandwidth; /* bytes per second (rdma: 50e9) */
    double kv_latency_s; /* seconds (rdma: 5e-6) */
    int kv_timeout_ms;   /* held blocks are released after (30000) */
    int kv_port;         /* first side-channel port, replica i on kv_port + i (0: ephemeral) */
    wp_http_server_config_t server;
    /* fault injection */
    wp_fault_set_t faults;   /* installed at start (empty: none) */
    uint64_t fault_replicas; /* bit i: replica i gets `faults` (default: all) */
    char admin_token[128];   /* "": no admin endpoint */
    /* like vLLM's --shutdown-timeout: on SIGTERM the command drains (wp_sim_drain) up to
     * this many seconds, then stops; 0: stops at once */
    int shutdown_timeout_s;
    /* the model's own tokenizer (os/tokfiles.h: a directory or a tokenizer.json); "": the
     * default fake tokenizer (tok/tok.h) */
    char tokenizer[1024];
    /* vLLM's --kv-events-config (kvev/pub.h); "" or disabled: no KV events. Replica i of the
     * process publishes on the endpoints' ports + i (a wide-EP rank is a replica); block
     * hashes are vLLM's sha256_cbor from PYTHONHASHSEED (kvhash/kvhash.h). */
    char kv_events_config[2048];
} wp_sim_config_t;

typedef struct wp_sim_s wp_sim_t;

void wp_sim_config_default(wp_sim_config_t *cfg);
/* Bytes per KV element for vLLM's --kv-cache-dtype name ("" and auto: the BF16 activations'
 * 2); WP_EINVAL for a name vLLM's CUDA backends do not take. */
wp_status_t wp_sim_kv_dtype_bytes(const char *name, double *bytes);
/* The model, its perf model and the engine config that cfg describes (catalog names,
 * TP, memory utilisation, engine overrides). With data_parallel > 1 also the wide-EP model
 * of a group (ep must not be NULL then; tensor_parallel must be 1): perf is then ep's
 * per-token model and ecfg a rank's (its own KV pool). Shared with the virtual-time
 * simulator. */
wp_status_t wp_sim_engine_setup(const wp_sim_config_t *cfg, const wp_model_spec_t **model,
                                wp_perf_t *perf, wp_ep_t *ep, wp_engine_config_t *ecfg,
                                wp_err_t *err);
wp_sim_t *wp_sim_new(uv_loop_t *loop, const wp_sim_config_t *cfg, wp_err_t *err);
wp_status_t wp_sim_start(wp_sim_t *sim, wp_err_t *err);
/* Ranks per server of cfg: data_parallel, where 0 and 1 both say plain replicas. */
int wp_sim_ranks(const wp_sim_config_t *cfg);
/* Replicas (ranks, in wide-EP groups), each with its own port. */
/* Whether replica `index` gets cfg.faults under the list `fault_replicas`. */
static inline bool wp_sim_fault_applies(uint64_t fault_replicas, int index)
{
    return index < WP_SIM_FAULT_REPLICAS ? (fault_replicas >> index & 1) != 0
                                         : fault_replicas == ~(uint64_t)0;
}
int wp_sim_replicas(const wp_sim_t *sim);
int wp_sim_port(const wp_sim_t *sim, int replica);
/* The replica's side-channel (KV pull) port. */
int wp_sim_kv_port(const wp_sim_t *sim, int replica);
/* The name clients use (the catalog's Hugging Face id) and its short alias. */
const char *wp_sim_served_name(const wp_sim_t *sim);
/* Replica's KV-event PUB endpoint (replay: its ROUTER) as bound ("tcp://127.0.0.1:41234");
 * "" without KV events (or replay). */
const char *wp_sim_kv_events_endpoint(const wp_sim_t *sim, int replica, bool replay);
void wp_sim_free(wp_sim_t *sim);
/* A preemption notice of notice_ms on every replica that is up and not noticed yet, with no
 * restart (sim/notice.c): they drain, then close. Returns how many were noticed. */
int wp_sim_drain(wp_sim_t *sim, int64_t notice_ms);
/* Whether no replica has a request in flight (a drain can stop early). */
bool wp_sim_idle(const wp_sim_t *sim);

#endif
