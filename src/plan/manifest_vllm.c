/*
 * plan/manifest_vllm: the `vllm serve` command line of a pool's pods.
 *
 *   vllm serve <hf_id> [--headless] [--port P] --tensor-parallel-size T
 *        --enable-prefix-caching | --no-enable-prefix-caching
 *        --gpu-memory-utilization U [--max-model-len N] [--kv-cache-dtype D]
 *        [--kv-transfer-config '{"kv_connector":"NixlConnector","kv_role":"kv_both"}']  (P/D)
 *        [--data-parallel-size DP --enable-expert-parallel                         (wide-EP)
 *         [--data-parallel-size-local L --data-parallel-address $LWS_LEADER_ADDRESS
 *          --data-parallel-rpc-port 5555 [--data-parallel-start-rank $((i x L))]]
 *         [--api-server-count L]]
 *
 * A wide-EP group on several nodes runs vLLM's "internal load balancing" mode: the leader
 * pod (LWS worker index 0) runs the API server and ranks 0..L-1; every other pod runs
 * `--headless` with the ranks from index x L. Clients, and the gateway, reach every rank
 * through the leader's port with the X-data-parallel-rank header (docs/topology.md,
 * "Data-parallel ranks"). Every flag goes through flag(), which asserts it is in the
 * table of vllm_flags.c.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "plan/manifest_internal.h"

static const char *keep(wp__plan_argv_t *a, const char *s)
{
    size_t n = strlen(s) + 1;
    if (a->used + n > sizeof(a->store)) {
        a->overflow = true;
        return "";
    }
    char *p = a->store + a->used;
    memcpy(p, s, n);
    a->used += n;
    return p;
}

static void push(wp__plan_argv_t *a, const char *s, bool shell)
{
    if (a->n >= WP__PLAN_ARGV_MAX) {
        a->overflow = true;
        return;
    }
    a->shell[a->n] = shell;
    a->arg[a->n++] = keep(a, s);
}

static void flag(wp__plan_argv_t *a, const char *name)
{
    assert(wp_plan_vllm_flag_find(name) != NULL && "a vLLM flag missing from vllm_flags.c");
    push(a, name, false);
}

static void flag_int(wp__plan_argv_t *a, const char *name, int v)
{
    char num[16];
    snprintf(num, sizeof(num), "%d", v);
    flag(a, name);
    push(a, num, false);
}

static void data_parallel(const wp__plan_pool_t *p, wp__plan_cmd_t cmd, wp__plan_argv_t *a)
{
    flag_int(a, "--data-parallel-size", p->dp);
    flag(a, "--enable-expert-parallel");
    if (p->lws) {
        flag_int(a, "--data-parallel-size-local", p->pod_ranks);
        flag(a, "--data-parallel-address");
        push(a, "\"$LWS_LEADER_ADDRESS\"", true);
        flag_int(a, "--data-parallel-rpc-port", WP_PLAN_DP_RPC_PORT);
    }
    if (cmd == WP__PLAN_CMD_WORKER) {
        char start[64];
        snprintf(start, sizeof(start), "\"$((LWS_WORKER_INDEX * %d))\"", p->pod_ranks);
        flag(a, "--data-parallel-start-rank");
        push(a, start, true);
    } else {
        flag_int(a, "--api-server-count", p->pod_ranks);
    }
}

void wp__plan_vllm_argv(const wp__plan_ctx_t *c, const wp__plan_pool_t *p, wp__plan_cmd_t cmd,
                        wp__plan_argv_t *a)
{
    const wp_plan_deploy_t *d = c->d;
    memset(a, 0, sizeof(*a));
    push(a, "serve", false);
    push(a, d->model->hf_id, false);
    if (cmd == WP__PLAN_CMD_WORKER)
        flag(a, "--headless");
    else
        flag_int(a, "--port", c->vllm_port);
    flag_int(a, "--tensor-parallel-size", p->tp);
    flag(a, d->prefix_caching ? "--enable-prefix-caching" : "--no-enable-prefix-caching");
    char gmu[32];
    snprintf(gmu, sizeof(gmu), "%g", c->gmu);
    flag(a, "--gpu-memory-utilization");
    push(a, gmu, false);
    if (d->max_model_len > 0)
        flag_int(a, "--max-model-len", d->max_model_len);
    if (d->kv_cache_dtype != NULL && d->kv_cache_dtype[0] != 0) {
        flag(a, "--kv-cache-dtype");
        push(a, d->kv_cache_dtype, false);
    }
    if (d->cand.pd) {
        flag(a, "--kv-transfer-config");
        push(a, "{\"kv_connector\":\"NixlConnector\",\"kv_role\":\"kv_both\"}", false);
    }
    if (p->dp > 1)
        data_parallel(p, cmd, a);
}

/* A word the shell takes as it is, or NULL: it needs quoting. */
static bool shell_plain(const char *s)
{
    if (*s == 0)
        return false;
    for (; *s != 0; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=,@+-", *s))
            return false;
    return true;
}

wp_status_t wp__plan_vllm_script(const wp__plan_argv_t *a, wp_buf_t *script)
{
    wp_status_t st = wp_buf_puts(script, "exec vllm");
    for (int i = 0; i < a->n && st == WP_OK; i++) {
        st = wp_buf_puts(script, " ");
        if (st != WP_OK)
            break;
        if (a->shell[i] || shell_plain(a->arg[i])) {
            st = wp_buf_puts(script, a->arg[i]);
            continue;
        }
        st = wp_buf_puts(script, "'");
        for (const char *s = a->arg[i]; *s != 0 && st == WP_OK; s++)
            st = *s == '\'' ? wp_buf_puts(script, "'\\''") : wp_buf_append(script, s, 1);
        if (st == WP_OK)
            st = wp_buf_puts(script, "'");
    }
    return st;
}
