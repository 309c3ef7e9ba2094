/*
 * cli/simopts: the table (see simopts.h) and the four readers of it. The generic kinds
 * cover numbers, strings and the one negative flag; the rows whose value is a list or a
 * choice (faults, replicas, role, KV transport) bring their own parse function, and the
 * admin token its own pass function (the child inherits WELLPATH_ADMIN_TOKEN, which must
 * win over the file's token).
 */
#include "cli/simopts.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "cli/cli.h"
#include "kvev/pub.h"

/* ---- the custom rows ---- */

static wp_status_t parse_role(wp_sim_config_t *sc, const char *what, const char *v, wp_err_t *err)
{
    return wp_sim_role_parse(v, &sc->role, err);
}

static wp_status_t parse_kv_events(wp_sim_config_t *sc, const char *what, const char *v,
                                   wp_err_t *err)
{
    wp_kvev_pub_config_t c;
    wp_err_t e;
    if (wp_kvev_pub_config_parse(v, strlen(v), 0, &c, &e) != WP_OK)
        return wp_err_set(err, WP_EINVAL, "%s: %s", what, e.msg);
    if (!wp_strlcpy(sc->kv_events_config, v, sizeof(sc->kv_events_config)))
        return wp_err_set(err, WP_EINVAL, "%s: longer than %zu bytes", what,
                          sizeof(sc->kv_events_config) - 1);
    return WP_OK;
}

static wp_status_t parse_transport(wp_sim_config_t *sc, const char *what, const char *v,
                                   wp_err_t *err)
{
    return wp_sim_kv_transport(v, &sc->kv_bandwidth, &sc->kv_latency_s, err);
}

static wp_status_t parse_fault(wp_sim_config_t *sc, const char *what, const char *v, wp_err_t *err)
{
    wp_fault_t f;
    wp_err_t e;
    if (wp_fault_parse_spec(v, &f, &e) != WP_OK || wp_fault_set_add(&sc->faults, &f, &e) != WP_OK)
        return wp_err_set(err, WP_EINVAL, "%s: %s", what, e.msg);
    return WP_OK;
}

static wp_status_t pass_faults(const wp_cli_simopt_t *o, const wp_sim_config_t *sc,
                               wp_cli_argv_t *av, wp_err_t *err)
{
    for (int i = 0; i < sc->faults.n; i++) {
        char spec[WP_FAULT_SPEC_MAX];
        wp_fault_format_spec(&sc->faults.f[i], spec, sizeof(spec));
        wp_status_t st = wp_cli_argv_push(av, err, "--%s=%s", o->flag, spec);
        if (st != WP_OK)
            return st;
    }
    return WP_OK;
}

/* "moeMfu=0.2,attnMbu=0.6": engine-model constants by their table key. */
/* One KEY=VALUE item of p (n bytes) into *i and *x; false when it is malformed. */
static bool engine_item(const char *p, size_t n, char key[64], int *i, double *x)
{
    size_t k = strcspn(p, "=");
    char num[64], *end;
    if (k >= n || k == 0 || k >= 64 || n - k - 1 == 0 || n - k - 1 >= sizeof(num))
        return false;
    memcpy(key, p, k);
    key[k] = '\0';
    memcpy(num, p + k + 1, n - k - 1);
    num[n - k - 1] = '\0';
    *i = wp_model_const_find(key);
    *x = strtod(num, &end);
    return isdigit((unsigned char)num[0]) || num[0] == '.' || num[0] == '-'
               ? end != num && *end == '\0' && isfinite(*x) && !strpbrk(num, "xX")
               : false;
}

/* "moeMfu=0.2,attnMbu=0.6": engine-model constants by their table key, each once. */
static wp_status_t parse_engine_model(wp_sim_config_t *sc, const char *what, const char *v,
                                      wp_err_t *err)
{
    bool seen[WP_MODEL_MAX_CONSTS] = {false};
    const char *p = v;
    do {
        size_t n = strcspn(p, ",");
        char key[64] = "";
        int i = -1;
        double x = 0;
        wp_err_t e = {{0}};
        if (!engine_item(p, n, key, &i, &x) && i < 0 && key[0] == '\0')
            return wp_err_set(err, WP_EINVAL, "%s: expected KEY=VALUE[,KEY=VALUE...], got '%s'",
                              what, v);
        if (i < 0)
            return wp_err_set(err, WP_EINVAL, "%s: unknown constant '%s' (docs/calibration.md)",
                              what, key);
        if (seen[i])
            return wp_err_set(err, WP_EINVAL, "%s: %s given twice", what, key);
        if (!engine_item(p, n, key, &i, &x) || wp_model_const_check((size_t)i, x, &e) != WP_OK)
            return wp_err_set(err, WP_EINVAL, "%s: %s: expected a number in range, got '%.*s'",
                              what, key, (int)(n - strlen(key) - 1), p + strlen(key) + 1);
        seen[i] = true;
        sc->engine_model[i] = x;
        p += n;
    } while (*p++ == ',');
    return WP_OK;
}

static wp_status_t pass_engine_model(const wp_cli_simopt_t *o, const wp_sim_config_t *sc,
                                     wp_cli_argv_t *av, wp_err_t *err)
{
    for (size_t i = 0; i < wp_model_const_count(); i++) {
        if (isnan(sc->engine_model[i]))
            continue;
        wp_status_t st = wp_cli_argv_push(av, err, "--%s=%s=%.17g", o->flag,
                                          wp_model_const_at(i)->key, sc->engine_model[i]);
        if (st != WP_OK)
            return st;
    }
    return WP_OK;
}

/* "0,2,5" into a bit per replica index. */
static wp_status_t parse_replica_list(wp_sim_config_t *sc, const char *what, const char *v,
                                      wp_err_t *err)
{
    uint64_t m = 0;
    for (const char *p = v;; p++) {
        size_t n = strcspn(p, ",");
        int64_t i;
        if (wp_parse_i64(p, n, &i) != WP_OK || i < 0 || i >= WP_SIM_FAULT_REPLICAS)
            return wp_err_set(err, WP_EINVAL,
                              "%s: expected replica indices 0..%d separated by commas, got '%s'",
                              what, WP_SIM_FAULT_REPLICAS - 1, v);
        m |= (uint64_t)1 << i;
        p += n;
        if (*p == '\0')
            break;
    }
    sc->fault_replicas = m;
    return WP_OK;
}

/* All replicas (the default) is said by leaving the flag out. */
static wp_status_t pass_fault_replicas(const wp_cli_simopt_t *o, const wp_sim_config_t *sc,
                                       wp_cli_argv_t *av, wp_err_t *err)
{
    if (sc->fault_replicas == ~0ULL)
        return WP_OK;
    char list[WP_SIM_FAULT_REPLICAS * 3 + 1] = "";
    size_t n = 0;
    for (int i = 0; i < WP_SIM_FAULT_REPLICAS; i++)
        if (sc->fault_replicas >> i & 1)
            n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%d", n ? "," : "", i);
    return wp_cli_argv_push(av, err, "--%s=%s", o->flag, list);
}

/* The child inherits the environment's token, which wins over the file's: pass the
 * file's only when the environment has none. */
static wp_status_t pass_admin_token(const wp_cli_simopt_t *o, const wp_sim_config_t *sc,
                                    wp_cli_argv_t *av, wp_err_t *err)
{
    if (sc->admin_token[0] == '\0' || wp_cli_env_admin_token() != NULL)
        return WP_OK;
    return wp_cli_argv_push(av, err, "--%s=%s", o->flag, sc->admin_token);
}

/* ---- the table ---- */

#define SC(field)                                                                                  \
    .off = offsetof(wp_sim_config_t, field), .size = sizeof(((wp_sim_config_t *)0)->field)
#define TOPO(key, field)                                                                           \
    .topo_key = key, .topo_off = offsetof(wp_topology_t, field),                                   \
    .topo_size = sizeof(((wp_topology_t *)0)->field)
#define INT(lo_, hi_) .kind = WP_CLI_SIMOPT_INT, .lo = lo_, .hi = hi_
#define SHARE .kind = WP_CLI_SIMOPT_DOUBLE, .lo = 0, .hi = 1, .unset = WP_CLI_SIMOPT_UNSET_ZERO

static const wp_cli_simopt_t rows[] = {
    {.flag = "model",
     .metavar = "NAME",
     TOPO("model", model),
     .kind = WP_CLI_SIMOPT_STR,
     SC(model),
     .help = "model from the catalog (default qwen3-8b)"},
    {.flag = "tokenizer",
     .metavar = "PATH",
     TOPO("inferenceScheduler.tokenizer", scheduler.tokenizer),
     .kind = WP_CLI_SIMOPT_STR,
     .unset = WP_CLI_SIMOPT_UNSET_ZERO,
     SC(tokenizer),
     .help = "the model's own tokenizer: a directory with tokenizer.json\n(and "
             "tokenizer_config.json) or that file; prompt ids\nthen as vLLM makes them "
             "(docs/tokenizer.md)"},
    {.flag = "kv-events-config",
     .metavar = "JSON",
     .kind = WP_CLI_SIMOPT_STR,
     .unset = WP_CLI_SIMOPT_UNSET_ZERO,
     SC(kv_events_config),
     .parse = parse_kv_events,
     .help = "vLLM's --kv-events-config: publish KV events over ZeroMQ\n"
             "('{\"enable_kv_cache_events\":true,\"publisher\":\"zmq\",\n"
             "\"endpoint\":\"tcp://*:5557\"}'); replica i's ports + i; block\n"
             "hashes from PYTHONHASHSEED (docs/kv-events.md)"},
    {.flag = "gpu",
     .metavar = "NAME",
     TOPO("gpu", gpu),
     .kind = WP_CLI_SIMOPT_STR,
     SC(gpu),
     .help = "a100|h100|h200|b200|h800 (default h100)"},
    {.flag = "precision",
     .metavar = "P",
     TOPO("precision", precision),
     .kind = WP_CLI_SIMOPT_STR,
     .unset = WP_CLI_SIMOPT_UNSET_ZERO,
     SC(precision),
     .help = "weights: bf16|fp8|mxfp4|nvfp4 (default: the checkpoint's,\ndocs/models.md)"},
    {.flag = "kv-cache-dtype",
     .metavar = "D",
     TOPO("vllm.kvCacheDtype", vllm.kv_cache_dtype),
     .kind = WP_CLI_SIMOPT_STR,
     .unset = WP_CLI_SIMOPT_UNSET_ZERO,
     SC(kv_cache_dtype),
     .help = "like vLLM: auto|bfloat16|fp8|fp8_e4m3|fp8_e5m2\n(default auto: BF16)"},
    {.flag = "tp",
     .metavar = "N",
     TOPO("vllm.tensorParallel", vllm.tensor_parallel),
     INT(1, 8),
     SC(tensor_parallel),
     .help = "tensor parallel size 1|2|4|8 (default 1)"},
    {.flag = "replicas",
     .metavar = "N",
     TOPO("vllm.replicas", vllm.replicas),
     INT(1, WP_SIM_MAX_REPLICAS),
     SC(replicas),
     .help = "servers to run, on consecutive ports (default 1; at most\n1024 here, 64 in a "
             "topology file, which `wellpath up`\nand `simulate` also run)"},
    {.flag = "data-parallel",
     .metavar = "N",
     TOPO("expertParallel", expert_parallel),
     INT(1, WP_SIM_MAX_REPLICAS),
     .unset = WP_CLI_SIMOPT_UNSET_ZERO,
     SC(data_parallel),
     .help = "ranks per server: a wide-EP group of N data-parallel\nranks (MoE models, tp 1), rank "
             "k of server g on\nport + g x N + k (default 1: plain replicas)"},
    {.flag = "host",
     .metavar = "ADDR",
     .kind = WP_CLI_SIMOPT_STR,
     SC(host),
     .help = "address to bind (default 127.0.0.1)"},
    {.flag = "port",
     .metavar = "P",
     TOPO("simulation.basePort", simulation.base_port),
     INT(0, 65535),
     SC(port),
     .help = "first port (default 8100; 0: any free ports)"},
    {.flag = "time-scale",
     .metavar = "F",
     TOPO("simulation.timeScale", simulation.time_scale),
     .kind = WP_CLI_SIMOPT_DOUBLE,
     .lo = 0,
     .hi = 1e6,
     SC(time_scale),
     .help = "factor on every simulated duration (default 1)"},
    {.flag = "seed",
     .metavar = "N",
     TOPO("simulation.seed", simulation.seed),
     .kind = WP_CLI_SIMOPT_U64,
     .lo = 0,
     .hi = 9223372036854775807.0,
     SC(seed),
     .help = "seed for generated text (default 1)"},
    {.flag = "max-num-seqs",
     .metavar = "N",
     TOPO("vllm.maxNumSeqs", vllm.max_num_seqs),
     INT(1, 65536),
     .unset = WP_CLI_SIMOPT_UNSET_ZERO,
     SC(max_num_seqs),
     .help = "like vLLM (default vLLM's for the GPU: 1024 on\nh100/h200/b200, 256 on a100)"},
    {.flag = "max-num-batched-tokens",
     .metavar = "N",
     TOPO("vllm.maxNumBatchedTokens", vllm.max_num_batched_tokens),
     INT(1, 1 << 24),
     .unset = WP_CLI_SIMOPT_UNSET_ZERO,
     SC(max_num_batched_tokens),
     .help = "like vLLM (default 8192 on h100/h200/b200, 2048 on a100)"},
    {.flag = "max-model-len",
     .metavar = "N",
     TOPO("vllm.maxModelLen", vllm.max_model_len),
     INT(1, 1 << 24),
     .unset = WP_CLI_SIMOPT_UNSET_ZERO,
     SC(max_model_len),
     .help = "like vLLM (default: the model's)"},
    {.flag = "block-size",
     .metavar = "N",
     TOPO("vllm.blockSize", vllm.block_size),
     INT(1, 1024),
     .unset = WP_CLI_SIMOPT_UNSET_ZERO,
     SC(block_size),
     .help = "KV block size in tokens (default 16)"},
    {.flag = "gpu-memory-utilization",
     .metavar = "F",
     TOPO("vllm.gpuMemoryUtilization", vllm.gpu_memory_utilization),
     SHARE,
     SC(gpu_memory_utilization),
     .help = "like vLLM (default 0.9)"},
    {.flag = "kv-offloading-size",
     .metavar = "GIB",
     TOPO("vllm.kvOffloadingSize", vllm.kv_offloading_size),
     .kind = WP_CLI_SIMOPT_DOUBLE,
     .lo = 0,
     .hi = 65536,
     .lo_closed = true,
     .unset = WP_CLI_SIMOPT_UNSET_ZERO,
     SC(kv_offloading_size),
     .help = "like vLLM: GiB of CPU memory for offloaded KV blocks\n(native backend; "
             "docs/cost-levers.md); default 0: none"},
    {.flag = "prefill-mfu",
     .metavar = "F",
     TOPO("simulation.prefillMfu", simulation.prefill_mfu),
     SHARE,
     SC(prefill_mfu),
     .help = "engine model: matmul share of peak FLOP/s (default:\ndocs/calibration.md)"},
    {.flag = "decode-mbu",
     .metavar = "F",
     TOPO("simulation.decodeMbu", simulation.decode_mbu),
     SHARE,
     SC(decode_mbu),
     .help = "engine model: HBM share of weight reads (default:\ndocs/calibration.md)"},
    {.flag = "step-overhead-ms",
     .metavar = "F",
     TOPO("simulation.stepOverheadMs", simulation.step_overhead_ms),
     .kind = WP_CLI_SIMOPT_DOUBLE,
     .lo = 0,
     .lo_closed = true,
     .hi = 1000,
     .unset = WP_CLI_SIMOPT_UNSET_NEGATIVE,
     SC(step_overhead_ms),
     .help = "engine model: CPU time per step (default:\ndocs/calibration.md)"},
    {.flag = "max-cudagraph-capture-size",
     .metavar = "N",
     TOPO("vllm.maxCudagraphCaptureSize", vllm.max_cudagraph_capture_size),
     INT(1, 65536),
     .unset = WP_CLI_SIMOPT_UNSET_ZERO,
     SC(max_cudagraph_capture_size),
     .help = "like vLLM: steps of more tokens run without a CUDA\ngraph (default min(2 x "
             "max-num-seqs, 512))"},
    {.flag = "engine-model",
     .metavar = "K=V,...",
     TOPO("simulation.engineModel", simulation.engine_model),
     .kind = WP_CLI_SIMOPT_CUSTOM,
     SC(engine_model),
     .parse = parse_engine_model,
     .pass = pass_engine_model,
     .help = "engine-model constants by key (docs/calibration.md),\ne.g. moeMfu=0.2,attnMbu=0.6"},
    {.flag = "no-prefix-caching",
     TOPO("vllm.prefixCaching", vllm.prefix_caching),
     .kind = WP_CLI_SIMOPT_OFF,
     SC(prefix_caching),
     .help = "disable the prefix cache"},
    {.flag = "default-max-tokens",
     .metavar = "N",
     INT(1, 1 << 20),
     SC(default_max_tokens),
     .help = "for requests without max_tokens (default 256)"},
    {.flag = "role",
     .metavar = "ROLE",
     .kind = WP_CLI_SIMOPT_CUSTOM,
     .parse = parse_role,
     .help = "prefill|decode|both: which side of P/D disaggregation\nthis server plays (default "
             "both)"},
    {.flag = "kv-transport",
     .metavar = "T",
     .kind = WP_CLI_SIMOPT_CUSTOM,
     .parse = parse_transport,
     .help = "KV link: rdma (400 Gb/s = 50 GB/s, 5 us; the default)\nor tcp (25 Gb/s = 3.125 "
             "GB/s, 50 us)"},
    {.flag = "kv-timeout-ms",
     .metavar = "N",
     INT(1, 86400000),
     SC(kv_timeout_ms),
     .help = "held KV blocks are released after (default 30000)"},
    {.flag = "kv-port",
     .metavar = "P",
     INT(0, 65535),
     SC(kv_port),
     .help = "first side-channel port (default 0: any free ports)"},
    {.flag = "fault",
     .metavar = "SPEC",
     TOPO("simulation.faults", simulation.faults),
     .kind = WP_CLI_SIMOPT_CUSTOM,
     SC(faults),
     .parse = parse_fault,
     .pass = pass_faults,
     .help = "inject a fault, KIND[:RATE][,param=value...] (repeatable):\n429|500|503|context-"
             "length|hang, latency (ms=N),\ndisconnect (after=TOKENS), crash (after=REQUESTS,\n"
             "restart_ms=N); RATE in [0,1], default 1"},
    {.flag = "fault-replicas",
     .metavar = "LIST",
     TOPO("simulation.faultReplicas", simulation.fault_replicas),
     .kind = WP_CLI_SIMOPT_CUSTOM,
     SC(fault_replicas),
     .parse = parse_replica_list,
     .pass = pass_fault_replicas,
     .help = "replica indices the --fault flags apply to, e.g. 0,2\n(default all)"},
    {.flag = "shutdown-timeout",
     .metavar = "S",
     TOPO("vllm.shutdownTimeout", vllm.shutdown_timeout),
     INT(0, 86400),
     .unset = WP_CLI_SIMOPT_UNSET_ZERO,
     SC(shutdown_timeout_s),
     .help = "like vLLM: on SIGTERM drain up to S seconds (/health and new\nrequests 503, running "
             "streams finish), then stop (default 0: at\nonce; a second signal stops at once)"},
    {.flag = "admin-token",
     .metavar = "TOKEN",
     TOPO("simulation.adminToken", simulation.admin_token),
     .kind = WP_CLI_SIMOPT_STR,
     SC(admin_token),
     .pass = pass_admin_token,
     .help =
         "turn on /admin/faults, /admin/crash and /admin/preempt,\nbehind Authorization: Bearer "
         "TOKEN (or env\nWELLPATH_ADMIN_TOKEN)"},
};

#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

size_t wp_cli_simopt_count(void)
{
    return N_ROWS;
}

const wp_cli_simopt_t *wp_cli_simopt_at(size_t i)
{
    return i < N_ROWS ? &rows[i] : NULL;
}

const wp_cli_simopt_t *wp_cli_simopt_find(const char *flag)
{
    for (size_t i = 0; i < N_ROWS; i++)
        if (strcmp(rows[i].flag, flag) == 0)
            return &rows[i];
    return NULL;
}

_Static_assert(N_ROWS <= WP_CLI_SIMOPT_MAX, "raise WP_CLI_SIMOPT_MAX");

wp_status_t wp_cli_simopt_add_options(wp_cli_args_t *a, wp_cli_opt_t opts[WP_CLI_SIMOPT_MAX],
                                      int code_base, wp_err_t *err)
{
    for (size_t i = 0; i < N_ROWS; i++)
        opts[i] = (wp_cli_opt_t){rows[i].flag, 0, rows[i].metavar != NULL, code_base + (int)i};
    return wp_cli_args_add(a, opts, N_ROWS, err);
}

/* "a token", "a name": the metavar in lower case, for messages. */
static void noun(const wp_cli_simopt_t *o, char *out, size_t cap)
{
    size_t i = 0;
    for (; o->metavar != NULL && o->metavar[i] != '\0' && i + 1 < cap; i++)
        out[i] = (char)tolower((unsigned char)o->metavar[i]);
    out[i] = '\0';
}

static wp_status_t apply_number(const wp_cli_simopt_t *o, char *field, const char *what,
                                const char *v, wp_err_t *err)
{
    int64_t i;
    uint64_t u;
    double d;
    switch (o->kind) {
    case WP_CLI_SIMOPT_INT:
        if (wp_parse_i64(v, strlen(v), &i) != WP_OK || i < (int64_t)o->lo || i > (int64_t)o->hi)
            return wp_err_set(err, WP_EINVAL, "%s: expected an integer in %.0f..%.0f, got '%s'",
                              what, o->lo, o->hi, v);
        int iv = (int)i;
        memcpy(field, &iv, sizeof(iv));
        return WP_OK;
    case WP_CLI_SIMOPT_U64:
        if (wp_parse_u64(v, strlen(v), &u) != WP_OK || (double)u < o->lo || (double)u > o->hi ||
            u > (uint64_t)INT64_MAX)
            return wp_err_set(err, WP_EINVAL, "%s: expected an integer in %.0f..2^63-1, got '%s'",
                              what, o->lo, v);
        memcpy(field, &u, sizeof(u));
        return WP_OK;
    default:
        if (wp_parse_double(v, strlen(v), &d) != WP_OK ||
            !(o->lo_closed ? d >= o->lo : d > o->lo) || !(d <= o->hi))
            return wp_err_set(err, WP_EINVAL, "%s: expected a number in %c%g, %g], got '%s'", what,
                              o->lo_closed ? '[' : '(', o->lo, o->hi, v);
        memcpy(field, &d, sizeof(d));
        return WP_OK;
    }
}

wp_status_t wp_cli_simopt_apply(const wp_cli_simopt_t *o, wp_sim_config_t *sc, const char *what,
                                const char *v, wp_err_t *err)
{
    char flag[80], n[32];
    if (what == NULL) {
        snprintf(flag, sizeof(flag), "--%s", o->flag);
        what = flag;
    }
    char *field = (char *)sc + o->off;
    switch (o->kind) {
    case WP_CLI_SIMOPT_STR:
        if (v[0] == '\0' || strlen(v) >= o->size) {
            noun(o, n, sizeof(n));
            return wp_err_set(err, WP_EINVAL, "%s: expected a %s of 1..%zu bytes", what, n,
                              o->size - 1);
        }
        memset(field, 0, o->size);
        memcpy(field, v, strlen(v));
        return WP_OK;
    case WP_CLI_SIMOPT_OFF:
        memset(field, 0, sizeof(bool));
        return WP_OK;
    case WP_CLI_SIMOPT_CUSTOM:
        return o->parse(sc, what, v, err);
    default:
        return apply_number(o, field, what, v, err);
    }
}

wp_status_t wp_cli_simopt_from_topology(const wp_topology_t *t, wp_sim_config_t *sc, wp_err_t *err)
{
    for (size_t i = 0; i < N_ROWS; i++) {
        const wp_cli_simopt_t *o = &rows[i];
        if (o->topo_key == NULL)
            continue;
        const char *from = (const char *)t + o->topo_off;
        char *to = (char *)sc + o->off;
        if (o->kind == WP_CLI_SIMOPT_STR) {
            if (!wp_strlcpy(to, from, o->size))
                return wp_err_set(err, WP_EINVAL, "%s: \"%s\" is longer than %zu bytes",
                                  o->topo_key, from, o->size - 1);
        } else {
            if (o->topo_size != o->size)
                return wp_err_set(err, WP_EINVAL, "%s: field sizes differ (a bug)", o->topo_key);
            memcpy(to, from, o->size);
        }
    }
    return WP_OK;
}

/* Whether sc's value of o means "not set", so that `up` leaves the flag off. */
static bool is_unset(const wp_cli_simopt_t *o, const char *field)
{
    int i;
    double d;
    bool b;
    switch (o->kind) {
    case WP_CLI_SIMOPT_STR:
        return field[0] == '\0';
    case WP_CLI_SIMOPT_OFF:
        memcpy(&b, field, sizeof(b));
        return b; /* the flag says "off": nothing to say when on */
    case WP_CLI_SIMOPT_INT:
        memcpy(&i, field, sizeof(i));
        return (o->unset == WP_CLI_SIMOPT_UNSET_ZERO && i == 0) ||
               (o->unset == WP_CLI_SIMOPT_UNSET_NEGATIVE && i < 0);
    case WP_CLI_SIMOPT_DOUBLE:
        memcpy(&d, field, sizeof(d));
        return (o->unset == WP_CLI_SIMOPT_UNSET_ZERO && d == 0) ||
               (o->unset == WP_CLI_SIMOPT_UNSET_NEGATIVE && d < 0);
    default:
        return false;
    }
}

static wp_status_t pass_value(const wp_cli_simopt_t *o, const wp_sim_config_t *sc,
                              wp_cli_argv_t *av, wp_err_t *err)
{
    const char *field = (const char *)sc + o->off;
    int i;
    uint64_t u;
    double d;
    if (is_unset(o, field))
        return WP_OK;
    switch (o->kind) {
    case WP_CLI_SIMOPT_STR:
        return wp_cli_argv_push(av, err, "--%s=%s", o->flag, field);
    case WP_CLI_SIMOPT_OFF:
        return wp_cli_argv_push(av, err, "--%s", o->flag);
    case WP_CLI_SIMOPT_INT:
        memcpy(&i, field, sizeof(i));
        return wp_cli_argv_push(av, err, "--%s=%d", o->flag, i);
    case WP_CLI_SIMOPT_U64:
        memcpy(&u, field, sizeof(u));
        return wp_cli_argv_push(av, err, "--%s=%llu", o->flag, (unsigned long long)u);
    case WP_CLI_SIMOPT_DOUBLE:
        memcpy(&d, field, sizeof(d));
        return wp_cli_argv_push(av, err, "--%s=%.17g", o->flag, d);
    case WP_CLI_SIMOPT_CUSTOM:
        break;
    }
    return wp_err_set(err, WP_EINVAL, "--%s: no way to pass it on (a bug)", o->flag);
}

wp_status_t wp_cli_simopt_to_argv(const wp_sim_config_t *sc, wp_cli_argv_t *av, wp_err_t *err)
{
    for (size_t i = 0; i < N_ROWS; i++) {
        const wp_cli_simopt_t *o = &rows[i];
        if (o->topo_key == NULL)
            continue;
        wp_status_t st = o->pass != NULL ? o->pass(o, sc, av, err) : pass_value(o, sc, av, err);
        if (st != WP_OK)
            return st;
    }
    return WP_OK;
}

#define USAGE_COL 31

void wp_cli_simopt_usage(FILE *out)
{
    for (size_t i = 0; i < N_ROWS; i++) {
        const wp_cli_simopt_t *o = &rows[i];
        int w = fprintf(out, "      --%s%s%s", o->flag, o->metavar ? " " : "",
                        o->metavar ? o->metavar : "");
        fprintf(out, "%*s", w < USAGE_COL - 1 ? USAGE_COL - w : 2, "");
        for (const char *p = o->help; *p; p++) {
            fputc(*p, out);
            if (*p == '\n')
                fprintf(out, "%*s", USAGE_COL, "");
        }
        if (o->topo_key != NULL)
            fprintf(out, "\n%*s(file: %s)", USAGE_COL, "", o->topo_key);
        fputc('\n', out);
    }
}
