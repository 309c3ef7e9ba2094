/*
 * engine/sched: one continuous-batching step, planned then applied.
 *
 * Planning follows vLLM's V1 scheduler. A token budget of max_num_batched_tokens is
 * shared by everything that runs in the step. Running requests go first, decodes (one
 * token left to compute) before unfinished prefills, in admission order; each gets
 * min(tokens left, budget) tokens, so a long prompt is prefilled in chunks over several
 * steps. When a running request needs a block and none is free or cached, the newest
 * running request (with priority scheduling, the lowest-priority one) is preempted: its
 * blocks are released, its KV forgotten, and it goes back to the front of the waiting
 * queue to be recomputed; if that was the request itself, planning of running requests
 * stops. Only when nothing was preempted are waiting requests admitted, in queue order,
 * while max_num_seqs, the budget and the blocks allow; admission stops at the first
 * request that does not fit (no skipping ahead). An admitted request first takes the
 * longest chain of its prompt's blocks found in the prefix cache, at most (tokens - 1)
 * rounded down to whole blocks, because the last token is always recomputed. A kv_ready
 * request (its KV pulled from a remote prefill) takes blocks for its whole prompt and
 * computes only the last token, accounted as a decode.
 *
 * Applying advances every scheduled request's computed tokens, registers the hashes of
 * blocks that became full (prompt and, as in vLLM v1, generated tokens: a preempted request
 * that comes back finds its own blocks while they stay cached), and samples a token for each
 * request whose known tokens are all computed: FIRST_TOKEN or TOKEN, then FINISHED at max_tokens,
 * when the request's blocks are released (hashed ones stay cached) and its slot freed, unless it
 * was added with hold: then it becomes held with its blocks referenced. The step's duration is the
 * roofline time of the batch actually run.
 */
#include "engine/engine_int.h"

#include <assert.h>
#include <math.h>

#include "base/hash.h"

#define OUTPUT_KEY 0x6f75747075747321ULL /* "outputs!" */

typedef struct plan_s {
    int32_t budget;
    int32_t preempted;
    double now;
} plan_t;

static int32_t ceil_div(int32_t a, int32_t b)
{
    return (a + b - 1) / b;
}

/* Tokens of the sequence so far: the prompt and what was generated. */
static int32_t known(const wp__req_t *r)
{
    return r->n_prompt + r->num_output;
}

static void schedule(wp_engine_t *e, plan_t *p, int32_t slot, int32_t n)
{
    e->reqs[slot].step_tokens = n;
    e->sched[e->n_sched++] = slot;
    p->budget -= n;
}

/* The GPU pool evicted hash: its KV goes to the CPU tier (when there is one), which may drop
 * its oldest block to make room; each move is a KV event. */
static void evict_to_tier(wp_engine_t *e, uint64_t hash)
{
    bool dropped = false;
    uint64_t gone = 0;
    if (e->tier.cap > 0) {
        wp__tier_put(&e->tier, hash, &dropped, &gone);
        e->cpu_stores++;
    }
    if (!e->cfg.kv_events) {
        return;
    }
    wp__engine_kv_log(e, &(wp_engine_kv_event_t){.type = WP_ENGINE_KV_REMOVED, .hash = hash});
    if (e->tier.cap > 0) {
        wp__engine_kv_log(e,
                          &(wp_engine_kv_event_t){
                              .type = WP_ENGINE_KV_STORED, .hash = hash, .block = -1, .cpu = true});
    }
    if (dropped) {
        wp__engine_kv_log(
            e, &(wp_engine_kv_event_t){.type = WP_ENGINE_KV_REMOVED, .hash = gone, .cpu = true});
    }
}

/* Grows the block table to cover `slots` tokens: all the blocks or none. */
static bool grow_blocks(wp_engine_t *e, wp__req_t *r, int32_t slots)
{
    int32_t need = ceil_div(slots, e->cfg.block_size) - r->n_blocks;
    if (need <= 0) {
        return true;
    }
    if (need > wp__kv_available(&e->kv)) {
        return false;
    }
    while (need-- > 0) {
        bool evicted;
        uint64_t hash;
        r->blocks[r->n_blocks++] = wp__kv_alloc(&e->kv, &evicted, &hash);
        if (evicted) {
            evict_to_tier(e, hash);
        }
    }
    return true;
}

static int32_t victim_pos(const wp_engine_t *e)
{
    int32_t worst = e->n_running - 1;
    if (!e->cfg.priority_scheduling) {
        return worst;
    }
    for (int32_t i = e->n_running - 2; i >= 0; i--) {
        if (wp__queue_before(&e->reqs[e->running[worst]], &e->reqs[e->running[i]])) {
            worst = i;
        }
    }
    return worst;
}

static void preempt(wp_engine_t *e, plan_t *p, int32_t pos)
{
    int32_t slot = e->running[pos];
    wp__req_t *r = &e->reqs[slot];
    p->budget += r->step_tokens; /* its entry in sched is skipped when applying */
    r->step_tokens = 0;
    r->remote_step = false;
    wp__engine_release_blocks(e, r);
    r->num_computed = 0;
    r->preemptions++;
    e->num_preemptions_total++;
    p->preempted++;
    wp__running_remove_at(e, pos);
    if (!e->cfg.priority_scheduling) {
        r->order = --e->front_order;
    }
    wp__queue_push(e, slot);
}

/* Schedules running requests with one token left (decodes) or more (prefill chunks).
 * Returns false when a request had to preempt itself: planning of running stops. */
static bool run_pass(wp_engine_t *e, plan_t *p, bool decodes)
{
    for (int32_t i = 0; i < e->n_running && p->budget > 0; i++) {
        int32_t slot = e->running[i];
        wp__req_t *r = &e->reqs[slot];
        int32_t left = known(r) - r->num_computed;
        if (r->step_tokens > 0 || (left == 1) != decodes) {
            continue;
        }
        int32_t n = left < p->budget ? left : p->budget;
        while (!grow_blocks(e, r, r->num_computed + n)) {
            int32_t vpos = victim_pos(e);
            bool self = e->running[vpos] == slot;
            if (vpos < i) {
                i--;
            }
            preempt(e, p, vpos);
            if (self) {
                return false;
            }
        }
        schedule(e, p, slot, n);
    }
    return true;
}

/* Leading prompt blocks found in the prefix cache, and how many of them sit unreferenced
 * in the LRU (taking those shrinks what allocation can get). The blocks found are noted in
 * r->blocks, which a waiting request does not use (it holds none), for take_hits. */
static int32_t count_hits(const wp_engine_t *e, wp__req_t *r, int32_t *in_lru)
{
    int32_t max = (known(r) - 1) / e->cfg.block_size;
    if (max > r->n_hashes) {
        max = r->n_hashes;
    }
    int32_t hits = 0;
    *in_lru = 0;
    while (hits < max) {
        int32_t b = wp__kv_lookup(&e->kv, r->hashes[hits]);
        if (b < 0) {
            break;
        }
        *in_lru += e->kv.ref[b] == 0;
        r->blocks[hits++] = b;
    }
    return hits;
}

/* Block j of r's table gets its hash: findable by later requests, and a KV event (unless
 * another block holds the hash already). */
static void register_block(wp_engine_t *e, wp__req_t *r, int32_t j)
{
    if (wp__kv_register(&e->kv, r->blocks[j], r->hashes[j]) && e->cfg.kv_events) {
        wp__engine_kv_log(e, &(wp_engine_kv_event_t){.type = WP_ENGINE_KV_STORED,
                                                     .hash = r->hashes[j],
                                                     .has_parent = j > 0,
                                                     .parent = j > 0 ? r->hashes[j - 1] : 0,
                                                     .id = r->id,
                                                     .user = r->user,
                                                     .block = j});
    }
}

/* Blocks past the GPU hits that the CPU tier holds, consecutive from block `from` (a
 * request's prompt blocks, never its last token's). */
static int32_t count_cpu_hits(const wp_engine_t *e, const wp__req_t *r, int32_t from)
{
    int32_t max = (known(r) - 1) / e->cfg.block_size;
    if (max > r->n_hashes) {
        max = r->n_hashes;
    }
    int32_t n = 0;
    while (from + n < max && wp__tier_has(&e->tier, r->hashes[from + n])) {
        n++;
    }
    return n;
}

/* The cpu blocks after the GPU hits were loaded into the blocks just allocated for them:
 * they hold their hashes now (findable, and KV events), the tier keeps its copies (touched),
 * and the step pays the load over the host link. */
static void take_cpu_hits(wp_engine_t *e, wp__req_t *r, int32_t hits, int32_t cpu)
{
    for (int32_t j = hits; j < hits + cpu; j++) {
        wp__tier_put(&e->tier, r->hashes[j], NULL, NULL);
        register_block(e, r, j);
    }
    if (hits + cpu > r->n_hashed) {
        r->n_hashed = hits + cpu;
    }
    double bytes = (double)cpu * e->cfg.block_size * e->cfg.perf->kv_bytes_token_gpu;
    e->step_load_bytes += bytes;
    e->cpu_loaded_bytes += bytes;
}

/* Takes the blocks count_hits just found (nothing changed the cache in between). */
static void take_hits(wp_engine_t *e, wp__req_t *r, int32_t hits)
{
    for (int32_t j = 0; j < hits; j++) {
        wp__kv_ref(&e->kv, r->blocks[j]);
    }
    r->n_blocks = hits;
    r->n_hashed = hits;
    r->num_computed = hits * e->cfg.block_size;
}

/* Where a request admitted with `hits` prefix-cache blocks starts computing (a kv_ready
 * one with everything but its last known token computed: the remote KV fills the blocks
 * past the local hits), how many tokens its first chunk takes, and how many new blocks
 * that needs. */
static int32_t first_chunk(const wp_engine_t *e, const wp__req_t *r, int32_t hits, int32_t budget,
                           int32_t *start, int32_t *n)
{
    int32_t bs = e->cfg.block_size;
    *start = r->kv_ready ? known(r) - 1 : hits * bs; /* hits never exceed known - 1 tokens */
    *n = known(r) - *start < budget ? known(r) - *start : budget;
    return ceil_div(*start + *n, bs) - hits;
}

/* Admits the head of the waiting queue when it fits; returns whether it did. */
static bool admit_one(wp_engine_t *e, plan_t *p)
{
    int32_t slot = wp__queue_top(e);
    if (slot < 0) {
        return false;
    }
    wp__req_t *r = &e->reqs[slot];
    int32_t bs = e->cfg.block_size, in_lru = 0, start, n;
    int32_t hits = e->cfg.enable_prefix_caching ? count_hits(e, r, &in_lru) : 0;
    bool remote = r->kv_ready;
    int32_t cpu = e->cfg.enable_prefix_caching && !remote ? count_cpu_hits(e, r, hits) : 0;
    int32_t cached = (hits + cpu) * bs;
    if (first_chunk(e, r, hits + cpu, p->budget, &start, &n) + cpu >
        wp__kv_available(&e->kv) - in_lru) {
        return false;
    }
    wp__queue_remove(e, slot);
    take_hits(e, r, hits);
    grow_blocks(e, r, start + n); /* fits: checked above */
    take_cpu_hits(e, r, hits, cpu);
    r->num_computed = start;
    r->remote_step = remote;
    if (e->cfg.enable_prefix_caching) {
        e->prefix_queries += (uint64_t)known(r);
        e->prefix_hits += (uint64_t)(hits * bs);
        if (e->tier.cap > 0 && !remote) {
            e->cpu_queries += (uint64_t)(known(r) - hits * bs);
            e->cpu_hits += (uint64_t)(cpu * bs);
        }
    }
    if (r->first_scheduled < 0.0) {
        r->first_scheduled = p->now;
        r->cached_tokens = r->kv_ready ? r->n_prompt : cached;
    }
    r->kv_ready = false; /* a preempted request recomputes: the remote KV is gone */
    r->state = REQ_RUNNING;
    e->running[e->n_running++] = slot;
    schedule(e, p, slot, n);
    return true;
}

static void admit(wp_engine_t *e, plan_t *p)
{
    while (p->budget > 0 && e->n_running < e->cfg.max_num_seqs && admit_one(e, p)) {
    }
}

/* The hash of block j once it holds generated tokens. The engine samples no real token
 * ids, so the block is keyed by the request's id: unique to the request (sampled outputs
 * differ), the same for it after a preemption. */
static uint64_t output_block_hash(const wp__req_t *r, int32_t j)
{
    uint64_t parent = j > 0 ? r->hashes[j - 1] : WP_ENGINE_HASH_ROOT;
    return wp_hash_mix(parent ^ wp_hash_mix(r->id ^ ((uint64_t)(uint32_t)j << 32) ^ OUTPUT_KEY));
}

/* Gives the blocks that became full their hashes, so later requests (and this one, after a
 * preemption) find them: prompt blocks and, as vLLM v1 does, blocks of generated tokens. */
static void register_blocks(wp_engine_t *e, wp__req_t *r)
{
    int32_t limit = r->num_computed / e->cfg.block_size;
    if (limit > r->cap_hashes) {
        limit = r->cap_hashes;
    }
    while (r->n_hashes < limit) {
        r->hashes[r->n_hashes] = output_block_hash(r, r->n_hashes);
        r->n_hashes++;
    }
    for (int32_t j = r->n_hashed; j < limit; j++) {
        register_block(e, r, j);
    }
    if (limit > r->n_hashed) {
        r->n_hashed = limit;
    }
}

static void emit(wp_engine_t *e, const wp__req_t *r, wp_engine_event_type_t type, int32_t index)
{
    e->events[e->n_events++] = (wp_engine_event_t){
        .type = type,
        .id = r->id,
        .user = r->user,
        .token_index = index,
        .finish = type == WP_ENGINE_EV_FINISHED ? WP_ENGINE_FINISH_LENGTH : WP_ENGINE_FINISH_NONE,
        .prompt_tokens = r->n_prompt,
        .cached_tokens = r->cached_tokens,
        .first_scheduled = r->first_scheduled,
    };
}

static void sample(wp_engine_t *e, int32_t slot)
{
    wp__req_t *r = &e->reqs[slot];
    int32_t index = r->num_output++;
    e->generation_tokens_total++;
    if (index == 0) {
        e->prompt_tokens_total += (uint64_t)r->n_prompt;
    }
    emit(e, r, index == 0 ? WP_ENGINE_EV_FIRST_TOKEN : WP_ENGINE_EV_TOKEN, index);
    if (r->num_output == r->max_tokens) {
        emit(e, r, WP_ENGINE_EV_FINISHED, index);
        e->finished[WP_ENGINE_FINISH_LENGTH]++;
        if (r->hold) { /* REQ_HELD: compacted out of running, blocks kept */
            r->state = REQ_HELD;
            e->n_held++;
            e->held_blocks += r->n_blocks;
            return;
        }
        wp__engine_release_blocks(e, r);
        wp__engine_drop(e, slot); /* state becomes REQ_FREE: compacted out of running */
    }
}

static void account(wp_perf_batch_t *b, const wp__req_t *r, int32_t n)
{
    if (n == 1 && (r->num_output > 0 || r->remote_step) && known(r) - r->num_computed == 1) {
        b->decode_seqs++;
        b->decode_ctx += r->num_computed + 1;
        return;
    }
    b->prefill_tokens += n;
    b->prefill_attn += (double)n * r->num_computed + (double)n * (n + 1) / 2.0;
}

static int32_t apply(wp_engine_t *e, wp_perf_batch_t *batch)
{
    int32_t ran = 0;
    for (int32_t k = 0; k < e->n_sched; k++) {
        int32_t slot = e->sched[k];
        wp__req_t *r = &e->reqs[slot];
        int32_t n = r->step_tokens;
        if (n == 0) {
            continue; /* preempted after it was scheduled */
        }
        ran++;
        r->step_tokens = 0;
        account(batch, r, n);
        r->remote_step = false;
        r->num_computed += n;
        if (e->cfg.enable_prefix_caching) {
            register_blocks(e, r);
        }
        if (r->num_computed == known(r)) {
            sample(e, slot);
        }
    }
    int32_t kept = 0;
    for (int32_t i = 0; i < e->n_running; i++) {
        if (e->reqs[e->running[i]].state == REQ_RUNNING) {
            e->running[kept++] = e->running[i];
        }
    }
    e->n_running = kept;
    return ran;
}

/* Debug builds: wp_engine_validate after a step, every step for a small engine and about
 * once per 4096 blocks and slots otherwise (a check costs that much), so the sanitizer
 * suite exercises the invariants without turning quadratic. */
static void debug_check(wp_engine_t *e)
{
#ifndef NDEBUG
    uint64_t every = 1 + ((uint64_t)e->kv.num_blocks + (uint64_t)e->n_slots) / 4096;
    if (++e->debug_steps < every) {
        return;
    }
    e->debug_steps = 0;
    wp_err_t err;
    wp_status_t st = wp_engine_validate(e, &err);
    assert(st == WP_OK && "wp_engine_validate failed (see err.msg)");
    (void)st;
#else
    (void)e;
#endif
}

wp_status_t wp_engine_step(wp_engine_t *e, double now, wp_engine_step_t *out)
{
    if (e == NULL || out == NULL || !isfinite(now)) {
        return WP_EINVAL;
    }
    e->n_events = 0;
    e->step_load_bytes = 0.0;
    e->n_kv_log = 0;
    e->kv_lost = 0;
    e->n_sched = 0;
    plan_t p = {.budget = e->cfg.max_num_batched_tokens, .now = now};
    if (run_pass(e, &p, true)) {
        run_pass(e, &p, false);
    }
    if (p.preempted == 0) {
        admit(e, &p);
    }
    *out = (wp_engine_step_t){.n_preempted = p.preempted};
    out->n_scheduled = apply(e, &out->batch);
    out->duration_s = wp_perf_step_time(e->cfg.perf, &out->batch);
    if (e->step_load_bytes > 0.0) {
        double bw = e->cfg.host_bw > 0.0 ? e->cfg.host_bw : e->cfg.perf->gpu->host_bw;
        out->load_s = e->step_load_bytes / bw;
        out->duration_s += out->load_s;
    }
    out->events = e->events;
    out->n_events = e->n_events;
    out->kv_events = e->kv_log;
    out->n_kv_events = e->n_kv_log;
    out->kv_events_lost = e->kv_lost;
    debug_check(e);
    return WP_OK;
}
