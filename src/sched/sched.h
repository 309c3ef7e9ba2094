/*
 * sched: the gateway's brain. Given the endpoints' state and a request, pick an endpoint.
 *
 * A pick runs: filters (drop unhealthy endpoints, those whose role does not fit and those
 * the request excludes) -> policy. The "topology" policy runs the configured scorers (each returns
 * a value in [0,1]), sums score × weight per endpoint and lets a picker choose ("max-score":
 * highest total, ties broken uniformly at random; "weighted-random": probability proportional to
 * the total, uniform when all are zero). The single-scorer policies ("least-request", "load-aware",
 * "prefix-aware", "queue", "kv-cache-utilization") are that scorer alone with weight 1 and
 * max-score; "round-robin" cycles over the eligible endpoints by index; "random" is uniform.
 * Peer policies (formulas and sources in docs/policies.md): "llm-d" (prefix-aware 3 + queue 2
 * + kv-cache-utilization 2, max-score), "sglang-cache-aware" (shortest in-flight queue
 * when imbalanced, else longest prefix match above a match rate, else smallest index
 * entry) and "dynamo-kv" (lowest overlap_weight × prefill blocks, its own and pending,
 * + the distinct blocks of the requests in flight there with the request's own new ones).
 * The scorer "precise-prefix" reads what the servers say they hold (their KV events, applied
 * to the KV view by the caller: sched/kv_view.h) against the request's kv_hashes, the chain
 * the servers compute from its token ids: an endpoint scores (g + w × (a − g)) / n, with g
 * the leading blocks it holds on the GPU, a those on either medium, w kv_cpu_weight and n the
 * request's blocks. Without kv_hashes (no tokenizer for the model) it scores as prefix-aware.
 * The scorer "rank-balance" (wide-EP, Path 3) balances the data-parallel ranks of a group:
 * among the candidates of an endpoint's group, (max t − t) / (max t − min t) with t its
 * prompt tokens in flight (1 for all when equal); an endpoint in no group scores 0, so the
 * scorer adds nothing to a deployment without groups (source and what differs from it:
 * docs/policies.md). It is in no default list; a topology's scorers may name it.
 * Endpoint state: requests in flight (the gateway's own count, exact and immediate), their
 * prompt tokens, the endpoint's group (wide-EP; none by default) and the last scraped
 * metrics (waiting, running, kv_usage). Metrics are "fresh" when they were set
 * at most stale_after_s before `now`; otherwise (never set, or stale) they are unknown and:
 *   - load-aware uses the endpoint's in-flight count as its load, and queue as its waiting
 *     count. With fresh metrics load-aware's load is in_flight + max(0, waiting + running
 *     − in_flight when the metrics were set): the gateway's own requests, exact and at
 *     once, plus what else the server holds, waiting or running (other clients');
 *   - kv-cache-utilization scores 0.5 (neutral: unknown neither attracts nor repels).
 * KV usage alone may be unknown (an engine without the series, e.g. llama.cpp): set_metrics
 * with kv_usage NaN; kv-cache-utilization then scores 0.5 and saturation ignores KV.
 *
 * Prefix chain: the prompt text is cut into full blocks of block_chars characters; seed =
 * wp_hash64(model bytes, NUL, cache_salt bytes; seed 0) with a NULL salt read as ""; h_0 =
 * wp_hash64(block_0, seed), h_i = wp_hash64(block_i, h_{i-1}). How far the chain goes is the
 * policy's horizon (wp_sched_horizon): the first max_blocks blocks (256 by default, llm-d's
 * maxPrefixBlocksToMatch) for every policy but dynamo-kv and sglang-cache-aware, which see the
 * whole prompt as Dynamo's and SGLang's routers do. An endpoint's prefix score is the number
 * of leading blocks the prefix index says it holds / blocks hashed (0 when the prompt has no
 * full block). The chain is always hashed and matched, whatever the policy.
 *
 * Determinism: no clock, no global state; `now` and the rng are arguments, so a seed gives
 * the same picks. Memory: wp_sched_t owns endpoint names (copied), the prefix index and its
 * scratch space; pick allocates nothing. A wp_sched_t is driven by one thread at a time.
 * Pointers in a request are borrowed for the duration of the call. The chain's hashes live in
 * the caller's memory (the request's hashes or hash_buf): a pick points at them, so the
 * request's blocks travel to on_dispatch and on_complete without re-hashing or copying, and
 * the caller keeps that array unchanged while any pick made with it is dispatched (until its
 * on_complete). The rest of a pick is plain data.
 */
#ifndef WP_SCHED_SCHED_H
#define WP_SCHED_SCHED_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"
#include "sched/kv_view.h"
#include "sched/prefix_index.h"

#define WP_SCHED_MAX_ENDPOINTS WP_SCHED_INDEX_MAX_ENDPOINTS
#define WP_SCHED_MAX_SCORERS 16
/* The default max_blocks: llm-d's maxPrefixBlocksToMatch (docs/policies.md). */
#define WP_SCHED_MATCH_BLOCKS 256
#define WP_SCHED_NAME_MAX 64
#define WP_SCHED_EXCLUDE_WORDS ((WP_SCHED_MAX_ENDPOINTS + 63) / 64)

typedef enum {
    WP_SCHED_ROLE_BOTH = 0, /* endpoint: serves both; request: no preference */
    WP_SCHED_ROLE_PREFILL,
    WP_SCHED_ROLE_DECODE,
} wp_sched_role_t;

/* Kinds of accounting error (wp_sched_accounting_errors). */
typedef enum {
    WP_SCHED_ACCT_COMPLETE = 0, /* on_complete with nothing in flight */
    WP_SCHED_ACCT_PREFILL,      /* on_prefill_done with no prefill pending */
    WP_SCHED_ACCT_KINDS
} wp_sched_acct_t;

typedef struct wp_sched_scorer_cfg_s {
    char type[WP_SCHED_NAME_MAX]; /* prefix-aware, load-aware, queue, kv-cache-utilization,
                                     least-request, session-affinity, cache-headroom,
                                     prefill-queue, rank-balance */
    double weight;                /* finite, >= 0 */
} wp_sched_scorer_cfg_t;

typedef struct wp_sched_config_s {
    char policy[WP_SCHED_NAME_MAX]; /* see the top of this file */
    char picker[WP_SCHED_NAME_MAX]; /* "max-score" or "weighted-random"; topology only */
    wp_sched_scorer_cfg_t scorers[WP_SCHED_MAX_SCORERS]; /* topology only */
    int n_scorers;
    uint32_t block_chars; /* prefix block size in characters, default 64 */
    /* The horizon of every policy that does not see the whole prompt: blocks of the prompt
     * hashed and matched, >= 1, default WP_SCHED_MATCH_BLOCKS. */
    uint32_t max_blocks;
    uint32_t lru_capacity; /* blocks per endpoint, default 31250 */
    double load_threshold; /* load-aware T, > 0, default 128 */
    double stale_after_s;  /* metrics older than this are unknown, >= 0, default 2 */
    /* sglang-cache-aware (SGLang router defaults): match rate above which the longest match
     * wins, in [0,1], default 0.5; imbalance thresholds on in-flight counts, absolute
     * >= 0, default 32, and relative >= 0, default 1.0001. */
    double sglang_cache_threshold;
    double sglang_balance_abs;
    double sglang_balance_rel;
    /* sglang-cache-aware: characters of prompt text each endpoint's entry in the prefix
     * index may hold (SGLang's max_tree_size, counted in characters per worker), >= 1,
     * default 2^24. Its index holds max(1, this / block_chars) blocks per endpoint in place
     * of lru_capacity. */
    uint32_t sglang_max_tree_chars;
    double dynamo_overlap_weight; /* dynamo-kv: weight of uncached prefill blocks, >= 0, 1 */
    /* The KV view (sched/kv_view.h, the servers' own events): blocks per endpoint and medium,
     * >= 1, default 2^20; and what a leading block held on the CPU only is worth to
     * precise-prefix against one on the GPU, in [0,1], default 0.8 (loading it over the host
     * link costs time a GPU hit does not; recomputing it costs more). */
    uint32_t kv_capacity;
    double kv_cpu_weight;
} wp_sched_config_t;

typedef struct wp_sched_request_s {
    const char *model;      /* required */
    const char *cache_salt; /* NULL or "" = none */
    const char *prompt;     /* for chat: the serialized messages; may be NULL when len is 0 */
    size_t prompt_len;
    int session_ep;       /* endpoint chosen before for this session, -1 = none */
    wp_sched_role_t role; /* role wanted; BOTH = any */
    /* NULL, or a bitset of WP_SCHED_MAX_ENDPOINTS bits (WP_SCHED_EXCLUDE_WORDS words, bit i
     * of word i / 64 = endpoint i): endpoints to skip, e.g. those a retry already tried. */
    const uint64_t *exclude;
    /* The prompt's block chain, in the caller's memory, one of two ways. Already hashed:
     * hashes (n_hashes of them, from wp_sched_hash_prompt on this scheduler; past its horizon
     * they are ignored), and prompt is not read. Otherwise (hashes NULL) the pick hashes the
     * prompt into hash_buf, at most hash_cap blocks (wp_sched_chain_blocks(s, prompt_len) are
     * enough; fewer slots hash fewer blocks, none with hash_cap 0). Either way the pick's
     * block_hashes point at that array: see the top of this file for how long it must live. */
    const uint64_t *hashes;
    size_t n_hashes;
    uint64_t *hash_buf;
    size_t hash_cap;
    /* The prompt's blocks as the servers hash them (vLLM's chain of its token ids, the 64-bit
     * event form), kv_block_tokens tokens each (0: 16); NULL when the gateway has no tokenizer
     * for the model: precise-prefix then scores as prefix-aware does. */
    const uint64_t *kv_hashes;
    size_t n_kv_hashes;
    uint32_t kv_block_tokens;
    /* The prompt's length in tokens when the caller knows it; 0: estimated as
     * prompt_len / 4 (or n_hashes blocks when only hashes are given). */
    size_t prompt_tokens;
    /* A look-ahead pick (what would this request get?): the round-robin cursor stays put,
     * so the real pick that follows is not skewed by it. */
    bool dry;
} wp_sched_request_t;

typedef struct wp_sched_score_s {
    const char *name; /* static string, the scorer's type */
    double raw;       /* in [0,1] */
    double weighted;  /* raw × weight */
} wp_sched_score_t;

typedef struct wp_sched_pick_s {
    int endpoint; /* chosen endpoint index */
    double total; /* sum of weighted scores (0 for round-robin and random) */
    int n_scores;
    wp_sched_score_t scores[WP_SCHED_MAX_SCORERS]; /* the winner's, in scorer order */
    int n_candidates;                              /* endpoints left after the filters */
    uint32_t n_blocks;       /* full blocks hashed (<= the policy's horizon) */
    uint32_t matched_blocks; /* leading blocks the winner holds */
    double prefix_ratio;     /* matched_blocks / n_blocks, 0 when n_blocks is 0 */
    /* With kv_hashes and a policy that runs precise-prefix: the request's kv blocks and the
     * leading ones the winner reported holding, on the GPU and on either medium (0 else). */
    uint32_t n_kv_blocks;
    uint32_t kv_gpu_blocks;
    uint32_t kv_any_blocks;
    double prefill_tokens; /* prompt tokens the winner must prefill (estimated) */
    double prompt_tokens;  /* the whole prompt's tokens, as the pick took them */
    /* The chain, n_blocks hashes: borrowed from the request (its hashes or hash_buf); NULL
     * when n_blocks is 0. */
    const uint64_t *block_hashes;
} wp_sched_pick_t;

typedef struct wp_sched_s wp_sched_t;

/* Topology policy, prefix-aware 100 + load-aware 50, max-score, and the defaults above. */
void wp_sched_config_default(wp_sched_config_t *cfg);
/* Set the policy or picker name, append a scorer; each checks the name against the registry
 * (WP_EINVAL names it and lists the valid ones). Adding a scorer past the limit: WP_ELIMIT. */
wp_status_t wp_sched_config_set_policy(wp_sched_config_t *cfg, const char *name, wp_err_t *err);
wp_status_t wp_sched_config_set_picker(wp_sched_config_t *cfg, const char *name, wp_err_t *err);
wp_status_t wp_sched_config_add_scorer(wp_sched_config_t *cfg, const char *type, double weight,
                                       wp_err_t *err);
/* The registry's names in its order: the i-th policy or picker, NULL past the last. The
 * one list of what set_policy / set_picker accept, for other modules' checks and messages
 * (the topology file's inferenceScheduler.policy and .picker). Static storage. */
const char *wp_sched_policy_name(size_t i);
const char *wp_sched_picker_name(size_t i);
/* Checks every name and number; wp_sched_new calls it. */
wp_status_t wp_sched_config_validate(const wp_sched_config_t *cfg, wp_err_t *err);

/* The config is copied. NULL (err set) on a bad config or no memory. */
wp_sched_t *wp_sched_new(const wp_sched_config_t *cfg, wp_err_t *err);
void wp_sched_free(wp_sched_t *s);

/* Adds a healthy endpoint with no metrics and nothing in flight; returns its index (0, 1, ...)
 * or a negative wp_status_t (WP_ELIMIT when full, WP_EINVAL on an empty or NULL name,
 * WP_ENOMEM). The name is copied. */
int wp_sched_endpoint_add(wp_sched_t *s, const char *name, wp_sched_role_t role);
int wp_sched_endpoint_count(const wp_sched_t *s);
/* NULL when ep is out of range; valid until wp_sched_free. */
const char *wp_sched_endpoint_name(const wp_sched_t *s, int ep);
/* -1 when no endpoint has that name. */
int wp_sched_endpoint_find(const wp_sched_t *s, const char *name);

/* Setters return WP_EINVAL on an out-of-range endpoint or (metrics) a value that is NaN,
 * infinite, negative, or a kv_usage above 1 (kv_usage is clamped when within 1e-6 of
 * [0,1]). kv_usage NaN is allowed: KV usage unknown (the engine exports no such series). */
wp_status_t wp_sched_endpoint_set_healthy(wp_sched_t *s, int ep, bool healthy);
/* A scrape of ep was sent now (a live gateway: its answer comes later). The load scorers
 * subtract the gateway's own requests from the scraped counts; a request dispatched while
 * the scrape is on its way may be in those counts even if it has ended by the time the
 * answer comes, so what is subtracted is the most requests in flight at once from the send
 * to the answer (the count at the send, raised by every dispatch until set_metrics). A
 * caller whose scrape is instantaneous (the simulator) need not call it. */
wp_status_t wp_sched_endpoint_scrape_sent(wp_sched_t *s, int ep);
wp_status_t wp_sched_endpoint_set_metrics(wp_sched_t *s, int ep, double now, double waiting,
                                          double running, double kv_usage);
uint32_t wp_sched_endpoint_in_flight(const wp_sched_t *s, int ep);
/* Sets the in-flight count outright (the other counts stay; a reload takes all of an
 * endpoint's over with wp_sched_endpoint_adopt); at 0 the active set and the tokens in
 * flight are emptied too. WP_EINVAL out of range. */
wp_status_t wp_sched_endpoint_set_in_flight(wp_sched_t *s, int ep, uint32_t n);
/* What an endpoint has outstanding by the scheduler's own bookkeeping: dispatches less
 * completions (in_flight, and tokens_in_flight: the sum of their picks' prompt_tokens, 0
 * when in_flight is), and less prefill-dones (prefilling, with their prompt tokens still to
 * prefill; pending_prefill is 0 when prefilling is). */
typedef struct wp_sched_load_s {
    uint32_t in_flight;
    uint32_t prefilling;
    double pending_prefill;
    double tokens_in_flight;
} wp_sched_load_t;
/* All zero when ep is out of range. */
wp_sched_load_t wp_sched_endpoint_load(const wp_sched_t *s, int ep);
/* Sets it outright: a caller that keeps a newer scheduler in step with requests an older one
 * dispatched (a reload); with in_flight 0 the active set is emptied too. WP_EINVAL out of
 * range, or on a pending_prefill (tokens_in_flight) that is negative, not finite, or not 0
 * while prefilling (in_flight) is 0. */
wp_status_t wp_sched_endpoint_set_load(wp_sched_t *s, int ep, const wp_sched_load_t *load);
/* The blocks of pick's request join (held) or leave ep's active set, and nothing else
 * changes: for a caller that keeps a newer scheduler in step with requests an older one
 * dispatched or completed (a reload; on_dispatch and on_complete do this themselves).
 * ep, not pick->endpoint, names the endpoint. WP_EINVAL out of range; WP_ENOMEM or
 * WP_ELIMIT when the set could not grow (nothing joins). */
wp_status_t wp_sched_endpoint_hold(wp_sched_t *s, int ep, const wp_sched_pick_t *pick, bool held);
/* The active set's size: distinct hashes plus the blocks they do not name. 0 out of range,
 * and always 0 under a policy that does not read it (only dynamo-kv does: the set is kept
 * for it alone). */
uint64_t wp_sched_endpoint_active_blocks(const wp_sched_t *s, int ep);
/* Wide-EP: ep is a data-parallel rank of group `group` (0..WP_SCHED_MAX_ENDPOINTS−1: there
 * are never more groups than endpoints; a caller may number a group by the index of its
 * first endpoint), or of none (-1, every endpoint's initial state). Endpoints with the same
 * group are balanced against one another by "rank-balance". WP_EINVAL on an endpoint or a
 * group out of range. */
wp_status_t wp_sched_endpoint_set_group(wp_sched_t *s, int ep, int group);
/* ep's group, -1 when none or ep is out of range. */
int wp_sched_endpoint_group(const wp_sched_t *s, int ep);

/* Whether ep's own KV events feed the KV view (a caller subscribed to them, or des applies
 * its engine's; false, the initial state, until a caller says so). Where they do, a pick
 * counts ep's cached prompt tokens from the view (wp__sched_uncached_tokens: dynamo-kv's
 * prefill term, prefill-queue); where they do not, from the prefix index, the gateway's own
 * record of where it sent each prefix. WP_EINVAL out of range. */
wp_status_t wp_sched_endpoint_set_kv_events(wp_sched_t *s, int ep, bool fed);

/* The endpoint's KV cache size in blocks (vllm:cache_config_info num_gpu_blocks; 0 =
 * unknown, the initial state). No policy reads it now (dynamo-kv counts the blocks of its own
 * requests in flight instead); kept for the gateway's checks. WP_EINVAL out of range. */
wp_status_t wp_sched_endpoint_set_capacity(wp_sched_t *s, int ep, uint32_t blocks);

/* The most requests the gateway may have in flight on ep at once (0 = no limit, the
 * initial state). An endpoint at its limit is no candidate ("room" filter) until one ends.
 * WP_EINVAL on an out-of-range endpoint. */
wp_status_t wp_sched_endpoint_set_limit(wp_sched_t *s, int ep, uint32_t max_in_flight);

/* Saturation (flow control): when is an endpoint too busy to take another request now?
 * At its in-flight limit; or, with fresh metrics, when its waiting queue reaches
 * queue_depth or its KV usage (when known) reaches kv_usage (either threshold <= 0: not used). The
 * waiting count is the larger of the scraped one and (in flight - scraped running): what
 * the gateway sent since the scrape counts at once, so a burst cannot overshoot the
 * threshold on a 50 ms old number. Unknown (stale) metrics count as room: an endpoint
 * without /metrics is limited by its in-flight limit alone. The defaults are the reference
 * endpoint picker's saturation detector's: queue depth 5, KV usage 0.8. */
typedef struct wp_sched_saturation_s {
    double queue_depth;
    double kv_usage;
} wp_sched_saturation_t;

/* Healthy endpoints of the role (BOTH: any) that are not saturated; *n_healthy (may be
 * NULL) gets the healthy ones of the role, saturated or not. 0 with *n_healthy > 0: the
 * pool is saturated (queue the request); 0 with *n_healthy == 0: nothing can serve it. */
int wp_sched_room(const wp_sched_t *s, double now, wp_sched_role_t role,
                  const wp_sched_saturation_t *th, int *n_healthy);

/* Picks an endpoint for req. WP_ENOTFOUND when no endpoint passes the filters, WP_EINVAL on
 * a bad request (NULL model, prompt NULL with len > 0, hash_buf NULL with hash_cap > 0, NULL
 * rng). out is fully written on success; its block_hashes point into the request's array.
 * Allocates nothing; updates only the round-robin cursor of the request's role (one cursor
 * per role, so prefill and decode picks of P/D do not move each other's), and not even that
 * for a dry pick. */
wp_status_t wp_sched_pick(wp_sched_t *s, double now, const wp_sched_request_t *req, wp_rng_t *rng,
                          wp_sched_pick_t *out, wp_err_t *err);
/* The request was sent to pick->endpoint: in_flight++, tokens_in_flight += its
 * prompt_tokens, one more prefill pending (its prefill_tokens), its blocks join the endpoint's
 * active set (below), and the prefix index records the pick's block hashes on that endpoint.
 * WP_ENOMEM when the index or the active set could not grow (the counts are still updated). Active
 * set: per endpoint, the block hashes of the requests in flight there, each distinct hash once
 * however many requests hold it, plus the KV blocks the hashes do not name (floor(prompt_tokens /
 * (block_chars / 4)) less n_blocks, when positive: a prompt longer than the horizon, or one whose
 * text runs short of 4 characters a token), counted per request. dynamo-kv reads it; it leaves with
 * on_complete of the same pick. */
wp_status_t wp_sched_on_dispatch(wp_sched_t *s, const wp_sched_pick_t *pick);
/* The request of this pick produced its first token (or failed before one): the prompt
 * tokens it had to prefill leave the endpoint's pending prefill work. Call it once per
 * dispatched request, before or with on_complete. WP_ELIMIT, and nothing changes but the
 * endpoint's WP_SCHED_ACCT_PREFILL error count, when no prefill was pending there. */
wp_status_t wp_sched_on_prefill_done(wp_sched_t *s, const wp_sched_pick_t *pick);
/* The request of this pick (the one given to on_dispatch, unchanged) ended on
 * pick->endpoint, success or not: in_flight--, tokens_in_flight −= its prompt_tokens (never
 * below 0; 0 with nothing left in flight), and its blocks leave the endpoint's active
 * set (hashes the set no longer holds are skipped; with nothing left in flight the set is
 * emptied). WP_ELIMIT, and nothing changes but the endpoint's WP_SCHED_ACCT_COMPLETE error
 * count, when nothing was in flight there; WP_EINVAL on a NULL pick or a bad endpoint. */
wp_status_t wp_sched_on_complete(wp_sched_t *s, const wp_sched_pick_t *pick);

/* Another gateway (a replica over the same pool) routed a request with this block chain to
 * ep: the prefix index records it as on_dispatch would, and nothing else changes (the other
 * gateway counts its own requests in flight). What approximate replicas tell each other so
 * that each knows where the others sent prompts. WP_EINVAL out of range; WP_ENOMEM as
 * on_dispatch. */
wp_status_t wp_sched_learn_route(wp_sched_t *s, int ep, const uint64_t *hashes, size_t n);

/* Accounting errors: a completion or a prefill-done the scheduler's counts say cannot be
 * (a double completion, or one for a request never dispatched here). The counts stay at
 * 0, so routing goes on, but each such call is counted here for the caller to export:
 * a non-zero count is a bug in the caller's bookkeeping, never a property of the load. */
uint64_t wp_sched_accounting_errors(const wp_sched_t *s, int ep, wp_sched_acct_t kind);
/* "complete", "prefill"; NULL out of range. */
const char *wp_sched_acct_name(wp_sched_acct_t kind);

/* A reload: endpoint dst_ep of a new scheduler takes over what src (an older scheduler)
 * knows of src_ep by its own bookkeeping: in-flight, tokens-in-flight and pending-prefill
 * counts, the active set and the prefix index's blocks (added as the most recent of dst_ep, in
 * src_ep's LRU order, so the older ones go first if dst's LRU is smaller), and the last
 * scraped metrics as they were taken (their time, and the requests in flight they may count,
 * also of a scrape still on its way). Health, limits, the group (the new config's) and error
 * counts are not copied. src is read only. WP_EINVAL
 * on an endpoint out of range; WP_ENOMEM when dst's index or active set could not grow (it stays
 * valid, with part of the blocks). */
wp_status_t wp_sched_endpoint_adopt(wp_sched_t *dst, int dst_ep, const wp_sched_t *src, int src_ep);

/* Whether picks run the scorer of that type (in the topology list or a policy's preset,
 * with a weight above 0): a caller feeds what only that scorer reads (session_ep). */
bool wp_sched_uses_scorer(const wp_sched_t *s, const char *type);
/* Whether picks read the KV view built from the servers' KV events (the precise-prefix
 * scorer, or a policy whose source router consumes them: dynamo-kv): a caller subscribes to
 * the events and gives requests their kv_hashes only then. */
bool wp_sched_reads_kv_events(const wp_sched_t *s);
/* The policy's turn (round-robin's next endpoint), one per role, kept in turns[0..role
 * DECODE] from now on instead of in the scheduler: schedulers over the same pool on several
 * threads (a gateway's workers) that share it take their turns exactly, each pick claiming
 * the turn it read with a compare-and-swap (and choosing again when another scheduler took
 * it first). turns is the caller's and outlives s; NULL: back to s's own turn. The only
 * shared memory a scheduler writes. */
void wp_sched_share_turns(wp_sched_t *s, _Atomic uint32_t *turns);
/* Whether completions read the pick's block chain (the policy keeps the blocks of the requests
 * in flight: dynamo-kv); else on_complete needs only the pick's endpoint and token counts. */
bool wp_sched_reads_active(const wp_sched_t *s);
/* Whether picks read the prompt's token count (request.prompt_tokens): a scorer or policy
 * that weighs prefill work (prefill-queue, rank-balance, dynamo-kv). Where none does, a
 * caller may leave it 0 and save counting: the scheduler then estimates it from the
 * prompt's length (4 characters a token) for its in-flight token counts. The P/D decider
 * (wp_sched_pd_decide) reads it whatever this says. */
bool wp_sched_reads_prompt_tokens(const wp_sched_t *s);

/* Hashes a prompt's block chain as described above into out; returns the number of blocks
 * (len / block_chars, at most max_blocks). */
size_t wp_sched_hash_chain(const char *model, const char *cache_salt, const char *text, size_t len,
                           uint32_t block_chars, size_t max_blocks, uint64_t *out);
/* The most blocks of a prompt a pick of s hashes and matches: the config's max_blocks, or
 * SIZE_MAX for a policy that sees the whole prompt (dynamo-kv, sglang-cache-aware). */
size_t wp_sched_horizon(const wp_sched_t *s);
/* The blocks a pick of s hashes for a prompt of len characters: len / block_chars, at most
 * the horizon. What a caller's hash_buf needs. */
size_t wp_sched_chain_blocks(const wp_sched_t *s, size_t len);
/* Hashes the prompt as a pick of s would (its block size and horizon), at most cap blocks,
 * into out; returns how many. For a caller that hashes once and passes hashes to picks. */
size_t wp_sched_hash_prompt(const wp_sched_t *s, const char *model, const char *cache_salt,
                            const char *text, size_t len, uint64_t *out, size_t cap);

/* The prefix index (owned by s), e.g. to forget an endpoint's blocks or read its size. */
wp_sched_index_t *wp_sched_index(wp_sched_t *s);
/* The KV view (owned by s): callers apply each endpoint's KV events to it (sched/kv_view.h),
 * by the endpoint's index in s. */
wp_sched_kv_t *wp_sched_kv(wp_sched_t *s);

/* Checks the endpoints, the plan and the prefix index. Debug builds (NDEBUG unset) run it,
 * sampled by its cost, after each dispatch, prefill-done, completion and adoption, and
 * assert that it passes. */
wp_status_t wp_sched_validate(const wp_sched_t *s, wp_err_t *err);

#endif
