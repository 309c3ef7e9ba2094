/*
 * engine: one vLLM-like model server, pure. A KV block pool with a prefix cache, a
 * continuous-batching scheduler with chunked prefill and recompute preemption, and step
 * timing from the roofline model (model/model.h). Shells drive it: `sim/` in real time
 * behind HTTP, `des/` on a virtual clock. Time is an argument; nothing here reads a clock.
 *
 * Lifecycle: wp_engine_new, then any number of wp_engine_add / wp_engine_abort /
 * wp_engine_step calls, then wp_engine_free. The engine borrows cfg->perf (it must outlive
 * the engine) and owns everything else. wp_engine_add copies what it needs from the
 * request (the prompt's block hashes, not its tokens); `user` is returned untouched in
 * events and never dereferenced.
 *
 * A step's events array belongs to the engine and stays valid until the next call of
 * wp_engine_step or wp_engine_free (adding or aborting requests in between is fine). Events of a
 * request come in order: FIRST_TOKEN (token_index 0), TOKEN (1, 2, ...), then FINISHED in the same
 * step as its last token. After FINISHED or an abort the id is unknown to the engine and
 * may be reused, except for a request added with `hold` (below), which stays known until
 * wp_engine_release.
 *
 * P/D disaggregation (docs/reference.md §4). A request with `hold` is a remote prefill: when it
 * finishes, its blocks stay referenced (they are the KV a decode server will pull) and the
 * request is HELD: not waiting, not running, not busy, counted in stats num_held /
 * held_blocks, until wp_engine_release (or wp_engine_abort) frees them. A request with
 * `kv_ready` is a remote decode: its prompt's KV arrived from a prefill server, so
 * admission gives it blocks for the whole prompt as if they were cached, except that the
 * last prompt token is run again (as vLLM's NixlConnector does) to produce the first output
 * token: its first step costs a decode step of context prompt_tokens, not a prefill.
 * Its cached_tokens are reported as prompt_tokens (all of the prompt was computed
 * elsewhere). If it is preempted, the transferred KV is gone and it recomputes locally.
 *
 * Invariants (checked by wp_engine_validate): every block is free, cached or referenced;
 * a block's ref count equals the number of request block tables holding it; running
 * requests never exceed max_num_seqs; a step never schedules more than
 * max_num_batched_tokens tokens. Given the same calls, the engine behaves identically.
 */
#ifndef WP_ENGINE_ENGINE_H
#define WP_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "model/model.h"

typedef struct wp_engine_s wp_engine_t;

/* First parent of every block hash chain. */
#define WP_ENGINE_HASH_ROOT 0x77656c6c70617468ULL /* "wellpath" */

/* Hash of one full block: chained on the parent's hash, keyed by the salt (the hash of
 * cache_salt; 0 = none). Same tokens, parent and salt give the same hash. */
uint64_t wp_engine_block_hash(uint64_t parent, const int32_t *tokens, size_t n, uint64_t salt);
/* The chain of a prompt's full blocks as the engine hashes it when the caller gives none:
 * n / block_size hashes, the first min(that, cap) written to out; returns that count. What a
 * virtual-time gateway (des/) matches against the engine's KV events. */
size_t wp_engine_hash_prompt(const int32_t *tokens, size_t n, int32_t block_size, uint64_t salt,
                             uint64_t *out, size_t cap);

typedef struct wp_engine_config_s {
    int32_t block_size;             /* tokens per KV block (16) */
    int32_t num_blocks;             /* KV blocks in the pool */
    int32_t max_num_seqs;           /* running requests at most (256) */
    int32_t max_num_batched_tokens; /* tokens per step at most (8192) */
    int32_t max_model_len;          /* prompt + max_tokens at most */
    bool enable_prefix_caching;
    bool priority_scheduling; /* lower priority value first; else first come, first served */
    bool kv_events;           /* record KV cache events in each step (below) */
    /* CPU KV offload (vLLM's offloading connector, docs/cost-levers.md): a tier of this many
     * blocks in host memory (0 = none). A block the GPU pool evicts is copied there; an
     * admission that runs out of GPU hits goes on matching the prompt's blocks in the tier,
     * and the blocks found are loaded (allocated on the GPU, counted as cached) instead of
     * computed, at host_bw bytes/s per GPU (0: the perf model's GPU's host_bw): the step that
     * admits them lasts that much longer (a synchronous load; docs/cost-levers.md). */
    int32_t cpu_offload_blocks;
    double host_bw;
    const wp_perf_t *perf; /* required, borrowed */
} wp_engine_config_t;

/* vLLM's defaults; num_blocks from the perf model's KV capacity, max_model_len from the
 * model, lowered to the KV capacity when the pool is smaller. max_num_seqs and
 * max_num_batched_tokens as vLLM's OpenAI server sets them by GPU: 1024 and 8192 on a GPU
 * of 70 GiB or more that is not an A100 (H100, H200, B200), else 256 and 2048. Without a
 * perf model: 256 and 8192. */
void wp_engine_config_default(wp_engine_config_t *cfg, const wp_perf_t *perf);

wp_status_t wp_engine_new(const wp_engine_config_t *cfg, wp_engine_t **out, wp_err_t *err);
void wp_engine_free(wp_engine_t *e);

typedef struct wp_engine_req_s {
    uint64_t id;           /* unique among requests in the engine */
    const int32_t *tokens; /* prompt token ids, read during wp_engine_add only */
    int32_t n_tokens;      /* >= 1 */
    int32_t max_tokens;    /* output tokens to generate, >= 1 */
    uint64_t salt;         /* hash of cache_salt; 0 = none */
    int32_t priority;      /* lower runs earlier, with priority scheduling */
    double arrival;        /* seconds; orders equal priorities */
    bool hold;             /* keep the blocks after FINISHED, until wp_engine_release */
    bool kv_ready;         /* the prompt's KV came from a remote prefill: no prefill work */
    /* NULL: the engine hashes the prompt's blocks itself (wp_engine_hash_prompt, with salt).
     * Else n_tokens / block_size hashes of its full blocks, chained and salted by the caller
     * (e.g. vLLM's, wp_kvhash_u64 of kv/kvhash, so that KV events name blocks as a vLLM
     * server would); read during wp_engine_add only. */
    const uint64_t *block_hashes;
    void *user;
} wp_engine_req_t;

/* WP_EINVAL with a message for an empty prompt, max_tokens < 1, a duplicate id, prompt +
 * max_tokens above max_model_len, or a request whose KV can never fit in the pool. */
wp_status_t wp_engine_add(wp_engine_t *e, const wp_engine_req_t *in, wp_err_t *err);
/* Drops a waiting or running request and frees its blocks (counted as finished with
 * reason abort, without an event); a held request is released as by wp_engine_release.
 * WP_ENOTFOUND when the id is unknown. */
wp_status_t wp_engine_abort(wp_engine_t *e, uint64_t id);
/* Frees the blocks of a held request (one added with `hold` that has finished) and forgets
 * its id. WP_ENOTFOUND when the id is unknown; WP_EINVAL when the request is not held yet
 * (still waiting or running: use wp_engine_abort). */
wp_status_t wp_engine_release(wp_engine_t *e, uint64_t id);
/* Copies up to cap of the block ids in the request's block table to out (in order) and
 * returns how many the table holds (which may exceed cap); -1 when the id is unknown. */
int32_t wp_engine_req_blocks(const wp_engine_t *e, uint64_t id, int32_t *out, int32_t cap);

typedef enum {
    WP_ENGINE_EV_FIRST_TOKEN,
    WP_ENGINE_EV_TOKEN,
    WP_ENGINE_EV_FINISHED,
} wp_engine_event_type_t;

typedef enum {
    WP_ENGINE_FINISH_NONE,
    WP_ENGINE_FINISH_LENGTH,
    WP_ENGINE_FINISH_ABORT,
    WP_ENGINE_FINISH_COUNT,
} wp_engine_finish_t;

/* "length", "abort"; "" for NONE. */
const char *wp_engine_finish_str(wp_engine_finish_t f);

typedef struct wp_engine_event_s {
    wp_engine_event_type_t type;
    uint64_t id;
    void *user;
    int32_t token_index;       /* output token number (FIRST_TOKEN: 0; FINISHED: the last) */
    wp_engine_finish_t finish; /* FINISHED only */
    int32_t prompt_tokens;
    int32_t cached_tokens;  /* prompt tokens found in the prefix cache at first admission */
    double first_scheduled; /* `now` of the step that first scheduled the request */
} wp_engine_event_t;

/* KV cache events (cfg.kv_events), what vLLM publishes with --kv-events-config, from the
 * pool's own state: STORED when a full block gets its hash (it becomes findable by later
 * requests: a prompt block once computed, a block of generated tokens once full), REMOVED
 * when a cached block is evicted to make room (its hash is dropped). A block whose hash is
 * already held by another block is not stored again. Within a step removals (planning) come
 * before stores (applying); a consumer that applies every step's events in order holds
 * exactly the engine's set of hashed blocks. A cleared cache (a restart) is the shell's to
 * say: wp_group_reset makes a new engine. */
typedef enum {
    WP_ENGINE_KV_STORED,
    WP_ENGINE_KV_REMOVED,
} wp_engine_kv_type_t;

typedef struct wp_engine_kv_event_s {
    wp_engine_kv_type_t type;
    uint64_t hash;
    /* STORED only: the block before it in its request's sequence (has_parent false for the
     * first block), the request (id, user) and the block's index in its sequence: it holds
     * tokens [block × block_size, (block + 1) × block_size) of prompt then output. */
    bool has_parent;
    uint64_t parent;
    uint64_t id;
    void *user;
    int32_t block;
    /* The CPU tier (medium CPU): STORED when the GPU evicted the block into it, REMOVED when
     * the tier dropped it; no parent, request or block index then. */
    bool cpu;
} wp_engine_kv_event_t;

typedef struct wp_engine_step_s {
    double duration_s; /* wp_perf_step_time of the batch run; 0 when idle */
    const wp_engine_event_t *events;
    size_t n_events;
    /* The step's KV cache events, in the order they happened; none without cfg.kv_events.
     * Owned by the engine, valid as events are. */
    const wp_engine_kv_event_t *kv_events;
    size_t n_kv_events;
    /* KV events that could not be recorded (no memory to grow the log): a consumer's view
     * is wrong from here on and must start over. 0 normally. */
    size_t kv_events_lost;
    wp_perf_batch_t batch;
    double load_s;       /* host-link time of the step's CPU-tier loads, in duration_s */
    int32_t n_scheduled; /* requests that ran this step */
    int32_t n_preempted; /* requests preempted this step */
} wp_engine_step_t;

/* Plans and runs one continuous-batching iteration at time now (seconds). */
wp_status_t wp_engine_step(wp_engine_t *e, double now, wp_engine_step_t *out);
/* Whether any request is waiting or running. */
bool wp_engine_busy(const wp_engine_t *e);

typedef struct wp_engine_stats_s {
    int32_t num_running;
    int32_t num_waiting;
    double kv_usage; /* referenced blocks / num_blocks; cached-only blocks count as free */
    int32_t num_blocks;
    int32_t block_size;
    int32_t num_cached_blocks; /* unreferenced blocks kept for the prefix cache */
    uint64_t prefix_queries;   /* tokens looked up in the prefix cache, cumulative */
    uint64_t prefix_hits;      /* of which found */
    uint64_t prompt_tokens_total;
    uint64_t generation_tokens_total;
    uint64_t num_preemptions_total;
    uint64_t finished[WP_ENGINE_FINISH_COUNT];
    int32_t num_held;    /* finished `hold` requests not yet released */
    int32_t held_blocks; /* block-table entries of held requests (their referenced KV) */
    /* The CPU tier: tokens looked up there (those past the GPU hits) and found, cumulative,
     * as vLLM's external_prefix_cache_{queries,hits}; blocks it holds of its size; blocks
     * stored into it and bytes loaded from it (per GPU). */
    uint64_t cpu_queries, cpu_hits;
    int32_t cpu_blocks, cpu_blocks_used;
    uint64_t cpu_stores;
    double cpu_loaded_bytes;
} wp_engine_stats_t;

void wp_engine_stats(const wp_engine_t *e, wp_engine_stats_t *out);

typedef enum {
    WP_ENGINE_REQ_WAITING,
    WP_ENGINE_REQ_RUNNING,
    WP_ENGINE_REQ_HELD, /* finished with `hold`; blocks kept until wp_engine_release */
} wp_engine_req_state_t;

typedef struct wp_engine_req_info_s {
    wp_engine_req_state_t state;
    int32_t prompt_tokens;
    int32_t cached_tokens;   /* at first admission; 0 before it */
    int32_t output_tokens;   /* generated so far */
    int32_t computed_tokens; /* tokens whose KV is computed now */
    int32_t num_blocks;      /* blocks held */
    int32_t preemptions;
    double first_scheduled; /* -1 when never scheduled */
} wp_engine_req_info_t;

/* WP_ENOTFOUND when the id is unknown (never added, finished or aborted). */
wp_status_t wp_engine_req_info(const wp_engine_t *e, uint64_t id, wp_engine_req_info_t *out);

/* Checks every invariant listed above; WP_EINVAL with the first violation found. */
wp_status_t wp_engine_validate(const wp_engine_t *e, wp_err_t *err);

#endif
