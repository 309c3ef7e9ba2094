/*
 * cli/sim: `wellpath sim` — N simulated vLLM-compatible servers in one process, on
 * consecutive ports. When every replica listens it prints one line on stdout,
 *   wellpath sim: ready model=NAME ports=8100,8101,... kv_ports=P0,P1,...
 * which `wellpath up` (and tests) read to learn the ports; kv_ports are the P/D side
 * channels (protocol in sim/sim.h). Fault injection (--fault, --fault-replicas,
 * --admin-token or WELLPATH_ADMIN_TOKEN) is described in sim/sim.h and fault/fault.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <signal.h>

#include "base/log.h"
#include "base/str.h"
#include "cli/args.h"
#include "cli/cli.h"

static const char usage_text[] =
    "usage: wellpath sim [options]\n"
    "\n"
    "Simulated vLLM-compatible model servers (OpenAI API, /metrics, /health, /tokenize).\n"
    "  -f, --file FILE              take model, gpu, vllm.* and simulation.* from a topology file\n"
    "      --model NAME             model from the catalog (default qwen3-8b)\n"
    "      --gpu NAME               a100|h100|h200|b200 (default h100)\n"
    "      --tp N                   tensor parallel size 1|2|4|8 (default 1)\n"
    "      --replicas N             servers to run, on consecutive ports (default 1)\n"
    "      --host ADDR              address to bind (default 127.0.0.1)\n"
    "      --port P                 first port (default 8100; 0: any free ports)\n"
    "      --time-scale F           factor on every simulated duration (default 1)\n"
    "      --seed N                 seed for generated text (default 1)\n"
    "      --max-num-seqs N         like vLLM (default vLLM's for the GPU: 1024 on\n"
    "                               h100/h200/b200, 256 on a100)\n"
    "      --max-num-batched-tokens N  like vLLM (default 8192 on h100/h200/b200, 2048 on a100)\n"
    "      --max-model-len N        like vLLM (default: the model's)\n"
    "      --block-size N           KV block size in tokens (default 16)\n"
    "      --gpu-memory-utilization F  like vLLM (default 0.9)\n"
    "      --prefill-mfu F          engine model: prefill model FLOPs utilisation (default 0.5)\n"
    "      --decode-mbu F           engine model: memory bandwidth utilisation (default 0.75)\n"
    "      --step-overhead-ms F     engine model: fixed CPU time per step (default 3)\n"
    "      --no-prefix-caching      disable the prefix cache\n"
    "      --default-max-tokens N   for requests without max_tokens (default 256)\n"
    "      --role ROLE              prefill|decode|both: which side of P/D disaggregation\n"
    "                               this server plays (default both)\n"
    "      --kv-transport T         KV link: rdma (400 Gb/s = 50 GB/s, 5 us; the default)\n"
    "                               or tcp (25 Gb/s = 3.125 GB/s, 50 us)\n"
    "      --kv-timeout-ms N        held KV blocks are released after (default 30000)\n"
    "      --kv-port P              first side-channel port (default 0: any free ports)\n"
    "      --fault SPEC             inject a fault, KIND[:RATE][,param=value...] (repeatable):\n"
    "                               429|500|503|context-length|hang, latency (ms=N),\n"
    "                               disconnect (after=TOKENS), crash (after=REQUESTS,\n"
    "                               restart_ms=N); RATE in [0,1], default 1\n"
    "      --fault-replicas LIST    replica indices the --fault flags apply to, e.g. 0,2\n"
    "                               (default all)\n"
    "      --admin-token TOKEN      turn on /admin/faults and /admin/crash, behind\n"
    "                               Authorization: Bearer TOKEN (or env WELLPATH_ADMIN_TOKEN)\n"
    "      --log-level LEVEL        debug|info|warn|error\n";

typedef struct sim_run_s {
    wp_sim_t *sim;
    wp_cli_signals_t sig;
} sim_run_t;

static void on_signal(void *ud, int signum)
{
    sim_run_t *r = ud;
    wp_sim_free(r->sim);
    wp_cli_signals_close(&r->sig);
}

static wp_status_t int_arg(const char *name, const char *v, int64_t lo, int64_t hi, int *out,
                           wp_err_t *err)
{
    int64_t x;
    if (wp_parse_i64(v, strlen(v), &x) != WP_OK || x < lo || x > hi)
        return wp_err_set(err, WP_EINVAL, "--%s: expected an integer in %lld..%lld, got '%s'", name,
                          (long long)lo, (long long)hi, v);
    *out = (int)x;
    return WP_OK;
}

/* A number in (lo, hi], or [lo, hi] when lo_in. */
static wp_status_t range_arg(const char *name, const char *v, double lo, bool lo_in, double hi,
                             double *out, wp_err_t *err)
{
    double x;
    if (wp_parse_double(v, strlen(v), &x) != WP_OK || !(lo_in ? x >= lo : x > lo) || !(x <= hi))
        return wp_err_set(err, WP_EINVAL, "--%s: expected a number in %c%g, %g], got '%s'", name,
                          lo_in ? '[' : '(', lo, hi, v);
    *out = x;
    return WP_OK;
}

static wp_status_t double_arg(const char *name, const char *v, double lo, double hi, double *out,
                              wp_err_t *err)
{
    return range_arg(name, v, lo, false, hi, out, err);
}

enum {
    O_FILE = 'f',
    O_HELP = 'h',
    O_MODEL = 256,
    O_GPU,
    O_TP,
    O_REPLICAS,
    O_HOST,
    O_PORT,
    O_SCALE,
    O_SEED,
    O_SEQS,
    O_BATCH,
    O_MAXLEN,
    O_BLOCK,
    O_UTIL,
    O_MFU,
    O_MBU,
    O_OVERHEAD,
    O_NOPC,
    O_DEFMAX,
    O_ROLE,
    O_KVT,
    O_KVTIMEOUT,
    O_KVPORT,
    O_FAULT,
    O_FAULT_REPLICAS,
    O_ADMIN_TOKEN,
    O_LOG
};

/* "0,2,5" into a bit per replica index. */
static wp_status_t replica_list(const char *v, uint64_t *mask, wp_err_t *err)
{
    uint64_t m = 0;
    for (const char *p = v;; p++) {
        size_t n = strcspn(p, ",");
        int64_t i;
        if (wp_parse_i64(p, n, &i) != WP_OK || i < 0 || i >= WP_SIM_MAX_REPLICAS)
            return wp_err_set(err, WP_EINVAL,
                              "--fault-replicas: expected replica indices 0..%d separated by "
                              "commas, got '%s'",
                              WP_SIM_MAX_REPLICAS - 1, v);
        m |= (uint64_t)1 << i;
        p += n;
        if (*p == '\0')
            break;
    }
    *mask = m;
    return WP_OK;
}

static wp_status_t admin_token(wp_sim_config_t *sc, const char *what, const char *v, wp_err_t *err)
{
    if (v[0] == '\0' || !wp_strlcpy(sc->admin_token, v, sizeof(sc->admin_token)))
        return wp_err_set(err, WP_EINVAL, "%s: expected a token of 1..%zu bytes", what,
                          sizeof(sc->admin_token) - 1);
    return WP_OK;
}

static wp_status_t add_fault(wp_sim_config_t *sc, const char *v, wp_err_t *err)
{
    wp_fault_t f;
    wp_err_t e;
    if (wp_fault_parse_spec(v, &f, &e) != WP_OK || wp_fault_set_add(&sc->faults, &f, &e) != WP_OK)
        return wp_err_set(err, WP_EINVAL, "--fault: %s", e.msg);
    return WP_OK;
}

static wp_status_t apply(wp_sim_config_t *sc, int c, const char *v, wp_err_t *err)
{
    uint64_t seed;
    switch (c) {
    case O_MODEL:
        return wp_strlcpy(sc->model, v, sizeof(sc->model))
                   ? WP_OK
                   : wp_err_set(err, WP_EINVAL, "--model: name too long");
    case O_GPU:
        return wp_strlcpy(sc->gpu, v, sizeof(sc->gpu))
                   ? WP_OK
                   : wp_err_set(err, WP_EINVAL, "--gpu: name too long");
    case O_TP:
        return int_arg("tp", v, 1, 8, &sc->tensor_parallel, err);
    case O_REPLICAS:
        return int_arg("replicas", v, 1, WP_SIM_MAX_REPLICAS, &sc->replicas, err);
    case O_HOST:
        return wp_strlcpy(sc->host, v, sizeof(sc->host))
                   ? WP_OK
                   : wp_err_set(err, WP_EINVAL, "--host: too long");
    case O_PORT:
        return int_arg("port", v, 0, 65535, &sc->port, err);
    case O_SCALE:
        return double_arg("time-scale", v, 0, 1e6, &sc->time_scale, err);
    case O_SEED:
        if (wp_parse_u64(v, strlen(v), &seed) != WP_OK || seed > (uint64_t)INT64_MAX)
            return wp_err_set(err, WP_EINVAL, "--seed: expected an integer in 0..2^63-1, got '%s'",
                              v);
        sc->seed = seed;
        return WP_OK;
    case O_SEQS:
        return int_arg("max-num-seqs", v, 1, 65536, &sc->max_num_seqs, err);
    case O_BATCH:
        return int_arg("max-num-batched-tokens", v, 1, 1 << 24, &sc->max_num_batched_tokens, err);
    case O_MAXLEN:
        return int_arg("max-model-len", v, 1, 1 << 24, &sc->max_model_len, err);
    case O_BLOCK:
        return int_arg("block-size", v, 1, 1024, &sc->block_size, err);
    case O_UTIL:
        return double_arg("gpu-memory-utilization", v, 0, 1, &sc->gpu_memory_utilization, err);
    case O_MFU:
        return double_arg("prefill-mfu", v, 0, 1, &sc->prefill_mfu, err);
    case O_MBU:
        return double_arg("decode-mbu", v, 0, 1, &sc->decode_mbu, err);
    case O_OVERHEAD:
        return range_arg("step-overhead-ms", v, 0, true, 1000, &sc->step_overhead_ms, err);
    case O_NOPC:
        sc->prefix_caching = false;
        return WP_OK;
    case O_DEFMAX:
        return int_arg("default-max-tokens", v, 1, 1 << 20, &sc->default_max_tokens, err);
    case O_ROLE:
        return wp_sim_role_parse(v, &sc->role, err);
    case O_KVT:
        return wp_sim_kv_transport(v, &sc->kv_bandwidth, &sc->kv_latency_s, err);
    case O_KVTIMEOUT:
        return int_arg("kv-timeout-ms", v, 1, 86400000, &sc->kv_timeout_ms, err);
    case O_KVPORT:
        return int_arg("kv-port", v, 0, 65535, &sc->kv_port, err);
    case O_FAULT:
        return add_fault(sc, v, err);
    case O_FAULT_REPLICAS:
        return replica_list(v, &sc->fault_replicas, err);
    case O_ADMIN_TOKEN:
        return admin_token(sc, "--admin-token", v, err);
    }
    return WP_OK;
}

static const wp_cli_opt_t opts[] = {
    {"file", 'f', true, O_FILE},
    {"model", 0, true, O_MODEL},
    {"gpu", 0, true, O_GPU},
    {"tp", 0, true, O_TP},
    {"replicas", 0, true, O_REPLICAS},
    {"host", 0, true, O_HOST},
    {"port", 0, true, O_PORT},
    {"time-scale", 0, true, O_SCALE},
    {"seed", 0, true, O_SEED},
    {"max-num-seqs", 0, true, O_SEQS},
    {"max-num-batched-tokens", 0, true, O_BATCH},
    {"max-model-len", 0, true, O_MAXLEN},
    {"block-size", 0, true, O_BLOCK},
    {"gpu-memory-utilization", 0, true, O_UTIL},
    {"prefill-mfu", 0, true, O_MFU},
    {"decode-mbu", 0, true, O_MBU},
    {"step-overhead-ms", 0, true, O_OVERHEAD},
    {"no-prefix-caching", 0, false, O_NOPC},
    {"default-max-tokens", 0, true, O_DEFMAX},
    {"role", 0, true, O_ROLE},
    {"kv-transport", 0, true, O_KVT},
    {"kv-timeout-ms", 0, true, O_KVTIMEOUT},
    {"kv-port", 0, true, O_KVPORT},
    {"fault", 0, true, O_FAULT},
    {"fault-replicas", 0, true, O_FAULT_REPLICAS},
    {"admin-token", 0, true, O_ADMIN_TOKEN},
    {"log-level", 0, true, O_LOG},
    {"help", 'h', false, O_HELP},
};

int wp_cli_sim(int argc, char **argv)
{
    wp_sim_config_t sc;
    wp_sim_config_default(&sc);
    wp_err_t err;
    wp_cli_args_t args;
    const char *v;
    int c;
    wp_cli_args_init(&args, argc, argv);
    if (wp_cli_args_add(&args, opts, sizeof(opts) / sizeof(opts[0]), &err) != WP_OK)
        return wp_cli_fail("sim", err.msg);
    /* A topology file first, then the flags over it, whatever their order. */
    while ((c = wp_cli_args_next(&args, &v, &err)) > 0) {
        if (c != O_FILE)
            continue;
        wp_topology_t t;
        if (wp_cli_load_topology(v, &t, &err) != WP_OK || wp_cli_sim_config(&t, &sc, &err) != WP_OK)
            return wp_cli_fail("sim", err.msg);
        wp_topology_free(&t);
    }
    if (c < 0)
        return wp_cli_fail("sim", err.msg);
    wp_cli_args_rewind(&args);
    /* The environment over the file, the flags over both. */
    const char *env_token = wp_cli_env_admin_token();
    if (env_token != NULL && admin_token(&sc, "WELLPATH_ADMIN_TOKEN", env_token, &err) != WP_OK)
        return wp_cli_fail("sim", err.msg);
    bool flag_faults = false, flag_replicas = false;
    while ((c = wp_cli_args_next(&args, &v, &err)) > 0) {
        if (c == O_HELP) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (c == O_LOG) {
            wp_log_level_t level;
            if (!wp_cli_log_level("sim", v, &level))
                return 2;
            wp_log_setup(level, false);
            continue;
        }
        if (c == O_FAULT && !flag_faults) { /* --fault flags replace the file's faults */
            sc.faults.n = 0;
            flag_faults = true;
        }
        flag_replicas |= c == O_FAULT_REPLICAS;
        if (c != O_FILE && apply(&sc, c, v, &err) != WP_OK)
            return wp_cli_fail("sim", err.msg);
    }
    if (c < 0)
        return wp_cli_fail("sim", err.msg);
    if (flag_replicas && sc.replicas < 64 && (sc.fault_replicas >> sc.replicas) != 0) {
        snprintf(err.msg, sizeof(err.msg),
                 "--fault-replicas: replica %d does not exist (replicas 0..%d)",
                 63 - __builtin_clzll(sc.fault_replicas), sc.replicas - 1);
        return wp_cli_fail("sim", err.msg);
    }
    if (getenv("WELLPATH_PARENT_DEATH") != NULL)
        prctl(PR_SET_PDEATHSIG, SIGTERM);
    uv_loop_t *loop = uv_default_loop();
    sim_run_t run = {0};
    run.sim = wp_sim_new(loop, &sc, &err);
    if (run.sim == NULL)
        return wp_cli_fail("sim", err.msg);
    if (wp_sim_start(run.sim, &err) != WP_OK) {
        wp_sim_free(run.sim);
        uv_run(loop, UV_RUN_DEFAULT);
        return wp_cli_fail("sim", err.msg);
    }
    /* Caught from before the ready line on: a SIGTERM right after it stops cleanly. */
    wp_cli_signals_start(loop, &run.sig, on_signal, &run);
    printf("wellpath sim: ready model=%s ports=", wp_sim_served_name(run.sim));
    for (int i = 0; i < wp_sim_replicas(run.sim); i++)
        printf("%s%d", i ? "," : "", wp_sim_port(run.sim, i));
    printf(" kv_ports=");
    for (int i = 0; i < wp_sim_replicas(run.sim); i++)
        printf("%s%d", i ? "," : "", wp_sim_kv_port(run.sim, i));
    printf("\n");
    fflush(stdout);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return 0;
}
