/*
 * engine/engine: lifecycle, adding and aborting requests, stats and validation.
 *
 * wp_engine_add checks the request against vLLM's limits, computes the hash chain of the
 * prompt's full blocks once (the tokens themselves are not kept), sizes the request's
 * block table for its whole life (prompt + max_tokens - 1 slots: the last token's KV is
 * never computed) and queues it. Every allocation the engine will ever need for a request
 * happens here, so wp_engine_step (sched.c) never allocates. A finished `hold` request stays
 * in its slot as REQ_HELD, blocks referenced, until wp_engine_release. Validation recounts each
 * block's holders from the block tables and checks the pool, the heap, the running list
 * and the id map against each other.
 */
#include "engine/engine_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"

uint64_t wp_engine_block_hash(uint64_t parent, const int32_t *tokens, size_t n, uint64_t salt)
{
    uint64_t seed = parent ^ wp_hash_mix(salt ^ 0x73616c74ULL /* "salt" */);
    return wp_hash64(tokens, n * sizeof(int32_t), seed);
}

const char *wp_engine_finish_str(wp_engine_finish_t f)
{
    switch (f) {
    case WP_ENGINE_FINISH_LENGTH:
        return "length";
    case WP_ENGINE_FINISH_ABORT:
        return "abort";
    default:
        return "";
    }
}

/* vLLM's batch defaults for its OpenAI server (EngineArgs.get_batch_defaults): a GPU
 * with at least 70 GiB that is not an A100 gets max_num_seqs 1024 and 8192 batched tokens;
 * any other gets 256 and 2048. */
static bool large_gpu(const wp_gpu_spec_t *g)
{
    return g->hbm_bytes >= 70.0 * 1024 * 1024 * 1024 && strncmp(g->name, "a100", 4) != 0;
}

void wp_engine_config_default(wp_engine_config_t *cfg, const wp_perf_t *perf)
{
    *cfg = (wp_engine_config_t){.block_size = 16,
                                .max_num_seqs = 256,
                                .max_num_batched_tokens = 8192,
                                .enable_prefix_caching = true,
                                .perf = perf};
    if (perf == NULL) {
        return;
    }
    bool large = large_gpu(perf->gpu);
    cfg->max_num_seqs = large ? 1024 : 256;
    cfg->max_num_batched_tokens = large ? 8192 : 2048;
    int64_t cap = wp_perf_kv_capacity_tokens(perf);
    int64_t blocks = cap / cfg->block_size;
    cfg->num_blocks = blocks > INT32_MAX ? INT32_MAX : (int32_t)blocks;
    int64_t len = perf->model->max_model_len;
    int64_t pool = (int64_t)cfg->num_blocks * cfg->block_size;
    cfg->max_model_len = (int32_t)(len < pool ? len : pool);
}

static wp_status_t check_config(const wp_engine_config_t *c, wp_err_t *err)
{
    if (c->perf == NULL) {
        return wp_err_set(err, WP_EINVAL, "engine: a perf model is required");
    }
    if (c->block_size < 1 || c->block_size > 4096) {
        return wp_err_set(err, WP_EINVAL, "engine: block_size %d not in [1, 4096]",
                          (int)c->block_size);
    }
    if (c->num_blocks < 1 || c->max_num_seqs < 1 || c->max_num_seqs > (1 << 24) ||
        c->max_num_batched_tokens < 1 || c->max_model_len < 1) {
        return wp_err_set(err, WP_EINVAL,
                          "engine: num_blocks %d, max_num_seqs %d, max_num_batched_tokens %d and "
                          "max_model_len %d must be >= 1",
                          (int)c->num_blocks, (int)c->max_num_seqs, (int)c->max_num_batched_tokens,
                          (int)c->max_model_len);
    }
    if (c->cpu_offload_blocks < 0 || !(c->host_bw >= 0) || !isfinite(c->host_bw)) {
        return wp_err_set(err, WP_EINVAL,
                          "engine: cpu_offload_blocks %d and host_bw %g must be >= 0",
                          (int)c->cpu_offload_blocks, c->host_bw);
    }
    return WP_OK;
}

wp_status_t wp_engine_new(const wp_engine_config_t *cfg, wp_engine_t **out, wp_err_t *err)
{
    wp_status_t st =
        cfg != NULL ? check_config(cfg, err) : wp_err_set(err, WP_EINVAL, "engine: no config");
    if (st != WP_OK) {
        return st;
    }
    wp_engine_t *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        return wp_err_set(err, WP_ENOMEM, "engine: out of memory");
    }
    e->cfg = *cfg;
    e->free_slot = -1;
    size_t seqs = (size_t)cfg->max_num_seqs;
    e->running = malloc(seqs * sizeof(int32_t));
    e->sched = malloc(seqs * sizeof(int32_t));
    e->events = malloc(2 * seqs * sizeof(wp_engine_event_t));
    if (e->running == NULL || e->sched == NULL || e->events == NULL ||
        wp__kv_init(&e->kv, cfg->num_blocks) != WP_OK ||
        wp__tier_init(&e->tier, cfg->cpu_offload_blocks) != WP_OK) {
        wp_engine_free(e);
        return wp_err_set(err, WP_ENOMEM, "engine: out of memory for %d blocks",
                          (int)cfg->num_blocks);
    }
    *out = e;
    return WP_OK;
}

void wp__engine_kv_log(wp_engine_t *e, const wp_engine_kv_event_t *ev)
{
    if (e->n_kv_log == e->cap_kv_log) {
        size_t cap = e->cap_kv_log ? 2 * e->cap_kv_log : 256;
        wp_engine_kv_event_t *log = realloc(e->kv_log, cap * sizeof(*log));
        if (log == NULL) {
            e->kv_lost++;
            return;
        }
        e->kv_log = log;
        e->cap_kv_log = cap;
    }
    e->kv_log[e->n_kv_log++] = *ev;
}

static void req_free_arrays(wp__req_t *r)
{
    free(r->hashes);
    free(r->blocks);
    r->hashes = NULL;
    r->blocks = NULL;
}

void wp_engine_free(wp_engine_t *e)
{
    if (e == NULL) {
        return;
    }
    for (int32_t i = 0; i < e->n_slots; i++) {
        req_free_arrays(&e->reqs[i]);
    }
    free(e->reqs);
    free(e->heap);
    free(e->running);
    free(e->sched);
    free(e->events);
    free(e->kv_log);
    wp__tier_free(&e->tier);
    wp__map_free(&e->ids);
    wp__kv_free(&e->kv);
    free(e);
}

static wp_status_t check_request(const wp_engine_t *e, const wp_engine_req_t *in, wp_err_t *err)
{
    const wp_engine_config_t *c = &e->cfg;
    if (in->tokens == NULL || in->n_tokens < 1 || in->max_tokens < 1 || !isfinite(in->arrival)) {
        return wp_err_set(err, WP_EINVAL,
                          "request %llu: needs a non-empty prompt, max_tokens >= 1 (got %d) and a "
                          "finite arrival time",
                          (unsigned long long)in->id, (int)in->max_tokens);
    }
    int64_t total = (int64_t)in->n_tokens + in->max_tokens;
    if (total > c->max_model_len) {
        return wp_err_set(err, WP_EINVAL,
                          "This model's maximum context length is %d tokens. However, you "
                          "requested %lld tokens (%d in the prompt, %d in the completion).",
                          (int)c->max_model_len, (long long)total, (int)in->n_tokens,
                          (int)in->max_tokens);
    }
    int64_t blocks = (total - 1 + c->block_size - 1) / c->block_size;
    if (blocks > c->num_blocks) {
        return wp_err_set(err, WP_EINVAL,
                          "request %llu needs %lld KV blocks (%lld tokens) but the pool has %d",
                          (unsigned long long)in->id, (long long)blocks, (long long)total - 1,
                          (int)c->num_blocks);
    }
    if (wp__map_get(&e->ids, in->id) >= 0) {
        return wp_err_set(err, WP_EINVAL, "request id %llu is already in the engine",
                          (unsigned long long)in->id);
    }
    return WP_OK;
}

/* Room for one more live request: a free slot, heap capacity, an id map entry. */
static wp_status_t reserve_one(wp_engine_t *e)
{
    if (e->free_slot < 0) {
        int32_t grow = e->n_slots > 0 ? e->n_slots : 16;
        if (e->n_slots > INT32_MAX / 2) {
            return WP_ELIMIT;
        }
        wp__req_t *reqs = realloc(e->reqs, (size_t)(e->n_slots + grow) * sizeof(wp__req_t));
        if (reqs == NULL) {
            return WP_ENOMEM;
        }
        e->reqs = reqs;
        for (int32_t i = e->n_slots + grow - 1; i >= e->n_slots; i--) {
            reqs[i] = (wp__req_t){.state = REQ_FREE, .next_free = e->free_slot, .heap_pos = -1};
            e->free_slot = i;
        }
        e->n_slots += grow;
    }
    if (e->cap_heap < e->n_slots) {
        int32_t *heap = realloc(e->heap, (size_t)e->n_slots * sizeof(int32_t));
        if (heap == NULL) {
            return WP_ENOMEM;
        }
        e->heap = heap;
        e->cap_heap = e->n_slots;
    }
    return wp__map_reserve(&e->ids, (size_t)e->n_live + 1);
}

size_t wp_engine_hash_prompt(const int32_t *tokens, size_t n, int32_t block_size, uint64_t salt,
                             uint64_t *out, size_t cap)
{
    size_t bs = block_size > 0 ? (size_t)block_size : 1, blocks = n / bs;
    uint64_t parent = WP_ENGINE_HASH_ROOT;
    for (size_t i = 0; i < blocks && i < cap; i++) {
        parent = wp_engine_block_hash(parent, tokens + i * bs, bs, salt);
        out[i] = parent;
    }
    return blocks;
}

static void hash_prompt(const wp_engine_t *e, wp__req_t *r, const wp_engine_req_t *in)
{
    if (r->n_hashes == 0) {
        return;
    }
    if (in->block_hashes != NULL) {
        memcpy(r->hashes, in->block_hashes, (size_t)r->n_hashes * sizeof(uint64_t));
        return;
    }
    wp_engine_hash_prompt(in->tokens, (size_t)in->n_tokens, e->cfg.block_size, in->salt, r->hashes,
                          (size_t)r->n_hashes);
}

static wp_status_t init_request(wp_engine_t *e, wp__req_t *r, const wp_engine_req_t *in)
{
    int32_t bs = e->cfg.block_size;
    int64_t slots = (int64_t)in->n_tokens + in->max_tokens - 1;
    *r = (wp__req_t){.id = in->id,
                     .user = in->user,
                     .n_prompt = in->n_tokens,
                     .max_tokens = in->max_tokens,
                     .heap_pos = -1,
                     .first_scheduled = -1.0,
                     .cap_blocks = (int32_t)((slots + bs - 1) / bs),
                     .n_hashes = e->cfg.enable_prefix_caching ? in->n_tokens / bs : 0,
                     .cap_hashes = e->cfg.enable_prefix_caching ? (int32_t)(slots / bs) : 0,
                     .hold = in->hold,
                     .kv_ready = in->kv_ready};
    r->blocks = malloc((size_t)r->cap_blocks * sizeof(int32_t));
    r->hashes = r->cap_hashes > 0 ? malloc((size_t)r->cap_hashes * sizeof(uint64_t)) : NULL;
    if (r->blocks == NULL || (r->cap_hashes > 0 && r->hashes == NULL)) {
        req_free_arrays(r);
        return WP_ENOMEM;
    }
    hash_prompt(e, r, in);
    if (e->cfg.priority_scheduling) {
        r->prio = in->priority;
        r->arrival = in->arrival;
    }
    r->order = e->next_order++;
    return WP_OK;
}

wp_status_t wp_engine_add(wp_engine_t *e, const wp_engine_req_t *in, wp_err_t *err)
{
    if (in == NULL) {
        return wp_err_set(err, WP_EINVAL, "engine: no request");
    }
    wp_status_t st = check_request(e, in, err);
    if (st != WP_OK) {
        return st;
    }
    if (reserve_one(e) != WP_OK) {
        return wp_err_set(err, WP_ENOMEM, "engine: out of memory adding request %llu",
                          (unsigned long long)in->id);
    }
    int32_t slot = e->free_slot;
    wp__req_t *r = &e->reqs[slot];
    int32_t next_free = r->next_free;
    if (init_request(e, r, in) != WP_OK) {
        *r = (wp__req_t){.state = REQ_FREE, .next_free = next_free, .heap_pos = -1};
        return wp_err_set(err, WP_ENOMEM, "engine: out of memory for request %llu",
                          (unsigned long long)in->id);
    }
    e->free_slot = next_free;
    e->n_live++;
    wp__map_put(&e->ids, in->id, slot);
    wp__queue_push(e, slot);
    return WP_OK;
}

void wp__engine_release_blocks(wp_engine_t *e, wp__req_t *r)
{
    for (int32_t i = r->n_blocks - 1; i >= 0; i--) {
        wp__kv_release(&e->kv, r->blocks[i]);
    }
    r->n_blocks = 0;
    r->n_hashed = 0;
}

void wp__engine_drop(wp_engine_t *e, int32_t slot)
{
    wp__req_t *r = &e->reqs[slot];
    wp__map_del(&e->ids, r->id);
    req_free_arrays(r);
    *r = (wp__req_t){.state = REQ_FREE, .next_free = e->free_slot, .heap_pos = -1};
    e->free_slot = slot;
    e->n_live--;
}

static void release_held(wp_engine_t *e, int32_t slot)
{
    wp__req_t *r = &e->reqs[slot];
    e->n_held--;
    e->held_blocks -= r->n_blocks;
    wp__engine_release_blocks(e, r);
    wp__engine_drop(e, slot);
}

wp_status_t wp_engine_release(wp_engine_t *e, uint64_t id)
{
    int32_t slot = wp__map_get(&e->ids, id);
    if (slot < 0) {
        return WP_ENOTFOUND;
    }
    if (e->reqs[slot].state != REQ_HELD) {
        return WP_EINVAL;
    }
    release_held(e, slot);
    return WP_OK;
}

int32_t wp_engine_req_blocks(const wp_engine_t *e, uint64_t id, int32_t *out, int32_t cap)
{
    int32_t slot = wp__map_get(&e->ids, id);
    if (slot < 0) {
        return -1;
    }
    const wp__req_t *r = &e->reqs[slot];
    for (int32_t i = 0; i < r->n_blocks && i < cap; i++) {
        out[i] = r->blocks[i];
    }
    return r->n_blocks;
}

wp_status_t wp_engine_abort(wp_engine_t *e, uint64_t id)
{
    int32_t slot = wp__map_get(&e->ids, id);
    if (slot < 0) {
        return WP_ENOTFOUND;
    }
    wp__req_t *r = &e->reqs[slot];
    if (r->state == REQ_HELD) {
        release_held(e, slot);
        return WP_OK;
    }
    if (r->state == REQ_WAITING) {
        wp__queue_remove(e, slot);
    } else {
        wp__running_remove_at(e, wp__running_find(e, slot));
    }
    wp__engine_release_blocks(e, r);
    e->finished[WP_ENGINE_FINISH_ABORT]++;
    wp__engine_drop(e, slot);
    return WP_OK;
}

bool wp_engine_busy(const wp_engine_t *e)
{
    return e->n_running > 0 || e->n_waiting > 0;
}

void wp_engine_stats(const wp_engine_t *e, wp_engine_stats_t *out)
{
    *out = (wp_engine_stats_t){
        .num_running = e->n_running,
        .num_waiting = e->n_waiting,
        .kv_usage = (double)e->kv.used / (double)e->kv.num_blocks,
        .num_blocks = e->kv.num_blocks,
        .block_size = e->cfg.block_size,
        .num_cached_blocks = e->kv.lru_count,
        .prefix_queries = e->prefix_queries,
        .prefix_hits = e->prefix_hits,
        .prompt_tokens_total = e->prompt_tokens_total,
        .generation_tokens_total = e->generation_tokens_total,
        .num_preemptions_total = e->num_preemptions_total,
        .num_held = e->n_held,
        .held_blocks = e->held_blocks,
        .cpu_queries = e->cpu_queries,
        .cpu_hits = e->cpu_hits,
        .cpu_blocks = e->tier.cap,
        .cpu_blocks_used = e->tier.count,
        .cpu_stores = e->cpu_stores,
        .cpu_loaded_bytes = e->cpu_loaded_bytes,
    };
    for (int i = 0; i < WP_ENGINE_FINISH_COUNT; i++) {
        out->finished[i] = e->finished[i];
    }
}

wp_status_t wp_engine_req_info(const wp_engine_t *e, uint64_t id, wp_engine_req_info_t *out)
{
    int32_t slot = wp__map_get(&e->ids, id);
    if (slot < 0) {
        return WP_ENOTFOUND;
    }
    const wp__req_t *r = &e->reqs[slot];
    static const wp_engine_req_state_t states[] = {
        [REQ_WAITING] = WP_ENGINE_REQ_WAITING,
        [REQ_RUNNING] = WP_ENGINE_REQ_RUNNING,
        [REQ_HELD] = WP_ENGINE_REQ_HELD,
    };
    *out = (wp_engine_req_info_t){
        .state = states[r->state],
        .prompt_tokens = r->n_prompt,
        .cached_tokens = r->cached_tokens,
        .output_tokens = r->num_output,
        .computed_tokens = r->num_computed,
        .num_blocks = r->n_blocks,
        .preemptions = r->preemptions,
        .first_scheduled = r->first_scheduled,
    };
    return WP_OK;
}

static wp_status_t check_req(const wp_engine_t *e, int32_t slot, int32_t *refs, wp_err_t *err)
{
    const wp__req_t *r = &e->reqs[slot];
    int32_t bs = e->cfg.block_size;
    bool waiting = r->state == REQ_WAITING, held = r->state == REQ_HELD;
    if (wp__map_get(&e->ids, r->id) != slot || r->n_blocks > r->cap_blocks ||
        r->num_computed > r->n_blocks * bs || (held != (r->num_output == r->max_tokens)) ||
        r->num_output > r->max_tokens || (held && !r->hold) || r->remote_step ||
        r->num_computed > r->n_prompt + r->num_output || r->n_hashed > r->n_blocks ||
        (waiting && (r->n_blocks != 0 || r->num_computed != 0)) || r->step_tokens != 0) {
        return wp_err_set(err, WP_EINVAL,
                          "engine: request %llu inconsistent (state %d, blocks %d/%d, computed %d, "
                          "output %d/%d)",
                          (unsigned long long)r->id, (int)r->state, (int)r->n_blocks,
                          (int)r->cap_blocks, (int)r->num_computed, (int)r->num_output,
                          (int)r->max_tokens);
    }
    for (int32_t i = 0; i < r->n_blocks; i++) {
        int32_t b = r->blocks[i];
        if (b < 0 || b >= e->kv.num_blocks) {
            return wp_err_set(err, WP_EINVAL, "engine: request %llu holds bad block %d",
                              (unsigned long long)r->id, (int)b);
        }
        refs[b]++;
    }
    return WP_OK;
}

static wp_status_t check_running(const wp_engine_t *e, uint8_t *seen, wp_err_t *err)
{
    if (e->n_running > e->cfg.max_num_seqs) {
        return wp_err_set(err, WP_EINVAL, "engine: %d running > max_num_seqs %d", (int)e->n_running,
                          (int)e->cfg.max_num_seqs);
    }
    for (int32_t i = 0; i < e->n_running; i++) {
        int32_t s = e->running[i];
        if (s < 0 || s >= e->n_slots || seen[s] || e->reqs[s].state != REQ_RUNNING) {
            return wp_err_set(err, WP_EINVAL, "engine: running entry %d (slot %d) invalid", (int)i,
                              (int)s);
        }
        seen[s] = 1;
    }
    return WP_OK;
}

static wp_status_t check_requests(const wp_engine_t *e, int32_t *refs, wp_err_t *err)
{
    int32_t live = 0, running = 0, held = 0, held_blocks = 0;
    for (int32_t s = 0; s < e->n_slots; s++) {
        const wp__req_t *r = &e->reqs[s];
        if (r->state == REQ_FREE) {
            continue;
        }
        live++;
        running += r->state == REQ_RUNNING;
        if (r->state == REQ_HELD) {
            held++;
            held_blocks += r->n_blocks;
        }
        wp_status_t st = check_req(e, s, refs, err);
        if (st != WP_OK) {
            return st;
        }
    }
    if (live != e->n_live || running != e->n_running ||
        live != e->n_running + e->n_waiting + e->n_held || (size_t)live != e->ids.count ||
        held != e->n_held || held_blocks != e->held_blocks) {
        return wp_err_set(err, WP_EINVAL,
                          "engine: %d live requests, counted %d (running %d/%d, waiting %d, held "
                          "%d/%d with %d/%d blocks, ids %zu)",
                          (int)e->n_live, (int)live, (int)running, (int)e->n_running,
                          (int)e->n_waiting, (int)held, (int)e->n_held, (int)held_blocks,
                          (int)e->held_blocks, e->ids.count);
    }
    return WP_OK;
}

wp_status_t wp_engine_validate(const wp_engine_t *e, wp_err_t *err)
{
    int32_t *refs = calloc((size_t)e->kv.num_blocks, sizeof(int32_t));
    uint8_t *seen = calloc((size_t)e->n_slots + 1, 1);
    wp_status_t st = WP_OK;
    if (refs == NULL || seen == NULL) {
        st = wp_err_set(err, WP_ENOMEM, "engine: validate out of memory");
    }
    if (st == WP_OK) {
        st = check_requests(e, refs, err);
    }
    if (st == WP_OK) {
        st = check_running(e, seen, err);
    }
    if (st == WP_OK) {
        st = wp__queue_check(e, err);
    }
    if (st == WP_OK) {
        st = wp__kv_validate(&e->kv, refs, err);
    }
    if (st == WP_OK) {
        st = wp__tier_validate(&e->tier, err);
    }
    free(refs);
    free(seen);
    return st;
}
