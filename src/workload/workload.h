/*
 * workload: the request sequence of a benchmark, generated purely from a spec and a seed.
 *
 * Three parts. (1) The spec (wp_workload_spec_t): what requests look like (type
 * shared_prefix | multi_turn | random | trace, with inference-perf's key names) and when
 * they arrive (load: poisson | constant | stages | concurrency | trace), parsed from YAML
 * or set key by key from command-line flags. (2) A Mooncake JSONL trace parsed from a byte
 * buffer the shell read. (3) The generator: wp_workload_next returns requests in arrival
 * order, each with its prompt text, its exact token count and max_tokens.
 *
 * Tokens and text. Lengths are in tokens of our tokenizer (tok/tok.h). Text is made of
 * wp_tok_filler pieces (" the", " data", ",", "."), each exactly one token, so a prompt of
 * n tokens is exactly n tokens under wp_tok and concatenating texts adds their counts: a
 * shared prefix of k tokens is k identical leading tokens. That is about 3.8 bytes per
 * token. On a real model's BPE tokenizer these are common single-token English words, so
 * counts come out close to (usually within a few percent of) the requested lengths. For chat
 * the prompt is one user message; the server's chat template adds its own few tokens.
 *   text(key, n): the first 16 tokens are drawn from a hash of key (so two keys diverge at
 *   once), the rest is a window of a fixed 64K-token corpus at an offset from key.
 *   Mooncake hash id h: a 512-token block text(h), independent of the seed, so equal ids
 *   give equal text; a prompt is its blocks concatenated and cut to input_length tokens
 *   (padded with text unique to the request if the blocks are too few).
 * Token ids: after wp_workload_set_vocab each request also carries its prompt's ids,
 * exactly what wp_tok_encode returns for the full text under that vocab, at the cost of a
 * memcpy (no tokenizing). wp_workload_set_max_text_bytes caps the text handed out (the ids
 * and prompt_tokens still cover the whole prompt), for a simulator that only hashes the
 * first KiB of each prompt.
 *
 * Determinism. Same spec (seed included) and trace -> byte-identical sequence. Arrivals
 * and content draw from separate streams of the seed, so changing the load does not
 * change the prompts of shared_prefix and multi_turn.
 *
 * Ownership. Specs are plain values (copy freely). A trace owns its arrays; release with
 * wp_workload_trace_free. A generator copies the spec, borrows the trace (which must
 * outlive it) and owns everything else; the prompt in a wp_workload_req_t belongs to the
 * generator and stays valid until the next wp_workload_next or wp_workload_free; so do
 * its ids.
 */
#ifndef WP_WORKLOAD_WORKLOAD_H
#define WP_WORKLOAD_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define WP_WORKLOAD_MAX_STAGES 64
#define WP_WORKLOAD_MAX_REQUESTS 4000000        /* per run */
#define WP_WORKLOAD_MAX_LEN 1000000             /* tokens, any single length */
#define WP_WORKLOAD_MAX_PROMPT 4000000          /* tokens, a whole prompt (multi_turn grows) */
#define WP_WORKLOAD_MAX_INPUT ((size_t)1 << 20) /* bytes of workload YAML */
#define WP_WORKLOAD_PATH_MAX 1024
#define WP_WORKLOAD_BLOCK_TOKENS 512 /* Mooncake hash-id block */

typedef enum {
    WP_WORKLOAD_SHARED_PREFIX,
    WP_WORKLOAD_MULTI_TURN,
    WP_WORKLOAD_RANDOM,
    WP_WORKLOAD_TRACE,
} wp_workload_type_t;

typedef enum {
    WP_WORKLOAD_LOAD_POISSON,
    WP_WORKLOAD_LOAD_CONSTANT,
    WP_WORKLOAD_LOAD_STAGES, /* poisson within each stage */
    WP_WORKLOAD_LOAD_CONCURRENCY,
    WP_WORKLOAD_LOAD_TRACE,
} wp_workload_load_type_t;

typedef enum { WP_WORKLOAD_API_COMPLETIONS, WP_WORKLOAD_API_CHAT } wp_workload_api_t;

typedef enum {
    WP_WORKLOAD_DIST_FIXED, /* always mean (min = max = mean) */
    WP_WORKLOAD_DIST_UNIFORM,
    WP_WORKLOAD_DIST_NORMAL,
    WP_WORKLOAD_DIST_LOGNORMAL, /* mean and std are those of the length itself */
} wp_workload_dist_kind_t;

/* A length in tokens. YAML: a number, or {dist, mean, std, min, max}. Samples are rounded
 * and kept in [min, max] (redrawn, then clamped); min defaults to 1 and max to
 * WP_WORKLOAD_MAX_LEN for normal/lognormal; uniform needs min and max. */
typedef struct wp_workload_dist_s {
    wp_workload_dist_kind_t kind;
    double mean, std, min, max;
} wp_workload_dist_t;

typedef struct wp_workload_stage_s {
    double rate;     /* requests per second; 0: not rate-driven (concurrency) */
    double duration; /* seconds; 0: open-ended (ends after num_requests) */
} wp_workload_stage_t;

/* The `load` section. Zero means "not given" for duration, num_requests and concurrency.
 * poisson/constant: rate (default 5) with duration or num_requests, or a stages list;
 * stages: the list; concurrency: concurrency with num_requests; trace: the trace's
 * timestamps (num_requests keeps the first N). Without duration or num_requests the count
 * is the workload's natural size: groups x prompts, sessions x turns, 100 for random.
 * These count measured requests; warm-up requests come on top of them. */
typedef struct wp_workload_load_s {
    wp_workload_load_type_t type;
    double rate;
    double duration;
    int64_t num_requests;
    int concurrency;
    /* Open loop with a client-side cap (inference-perf's worker pool): a request whose
     * arrival comes while max_concurrency are in flight waits in the client until one
     * ends, and its latencies count from when it is sent (it bounds a closed loop too;
     * workload/arrivals paces both). 0: no cap. */
    int max_concurrency;
    /* Stages one after another, as inference-perf runs them with workers: stage k sends
     * exactly floor(rate x duration) requests (Poisson gaps, not cut at the duration), and
     * stage k + 1 starts only when every request of stage k has ended, `interval` seconds
     * later. The arrival times handed out are nominal (stage k starting where the last
     * one's arrivals ended); the pacer shifts each stage to its real start
     * (workload/arrivals, for bench/ and des/).
     * Only for poisson, constant and stages loads. */
    bool sequential;
    double interval; /* seconds between a stage's last answer and the next stage; >= 0 */
    /* Warm-up requests, as `vllm bench serve --num-warmups` (0: none): the workload's first
     * `warmup` requests, sent with the same load (arrivals, concurrency, cap) before the
     * num_requests (or duration, or natural size) measured ones, which start only when
     * every warm-up request has ended (workload/arrivals); the report counts them apart,
     * in no metric. Open loop: they arrive as the first stage's do (their own random
     * stream), and the measured arrivals follow as they would without a warm-up; trace:
     * the trace's first entries. */
    int64_t warmup;
    wp_workload_stage_t stages[WP_WORKLOAD_MAX_STAGES];
    size_t n_stages;
    bool has_type; /* type was given (else a trace workload uses trace arrivals) */
    bool has_rate; /* rate was given (rate and stages exclude each other) */
} wp_workload_load_t;

typedef struct wp_workload_spec_s {
    wp_workload_type_t type;
    int64_t seed;
    /* shared_prefix (inference-perf names) */
    int num_groups, num_prompts_per_group, question_len;
    /* As inference-perf: the groups x prompts prompts are made once (one shuffle) and sent
     * again in the same order from the start of every stage, so a repeated prompt can hit
     * the cache whole. false (the default): each pass asks new questions. */
    bool fixed_prompts;
    /* shared_prefix and multi_turn */
    int system_prompt_len;
    /* multi_turn: each session has its own system prompt */
    int num_sessions, turns_per_session, user_turn_len;
    wp_workload_dist_t input_len;  /* random */
    wp_workload_dist_t output_len; /* all but trace */
    /* trace: the shell reads path (relative to the workload file) and parses it */
    char trace_format[16]; /* "mooncake" */
    char trace_path[WP_WORKLOAD_PATH_MAX];
    double trace_speed; /* 2.0 replays twice as fast */
    wp_workload_load_t load;
    wp_workload_api_t api;
} wp_workload_spec_t;

/* Defaults: shared_prefix 10 groups x 10 prompts, system 100, question 50, output 50;
 * multi_turn 10 sessions x 5 turns, system 100, user turn 50; random input 100; seed 1;
 * poisson at 5 req/s; completions; trace speed 1, format mooncake. */
wp_workload_spec_t wp_workload_spec_default(void);

/* Parses a workload file into *out (starting from the defaults). Errors are
 * "file:line:col: key.path: message"; unknown keys list those allowed for the type. */
wp_status_t wp_workload_parse(const char *data, size_t len, const char *filename,
                              wp_workload_spec_t *out, wp_err_t *err);

/* Sets one key from a command-line flag, the value read as YAML: ("num_groups", "20"),
 * ("load.rate", "8"), ("load.stages", "[{rate: 3, duration: 20}]"), ("input_len",
 * "{dist: normal, mean: 500, std: 100}"). Keys are those of the file (dotted under load);
 * set "type" first: the keys allowed are the current type's. Cross-key rules are checked
 * by wp_workload_spec_validate (and wp_workload_new), not here. */
wp_status_t wp_workload_spec_set(wp_workload_spec_t *spec, const char *key, const char *value,
                                 wp_err_t *err);

/* Checks ranges and cross-key rules ("load.stages: ..."). */
wp_status_t wp_workload_spec_validate(const wp_workload_spec_t *spec, wp_err_t *err);

/* Appends the spec as a JSON object (the report's "workload"), only the type's keys. */
wp_status_t wp_workload_spec_json(const wp_workload_spec_t *spec, wp_buf_t *out);

/* ---- Mooncake trace ---- */

#define WP_WORKLOAD_TRACE_MAX_BYTES ((size_t)1 << 30)
#define WP_WORKLOAD_TRACE_MAX_IDS 65536        /* hash ids in one entry */
#define WP_WORKLOAD_TRACE_MAX_POOL (64u << 20) /* hash ids in the whole trace */

typedef struct wp_workload_trace_entry_s {
    double timestamp_ms; /* as in the file */
    int64_t input_length;
    int64_t output_length;
    const uint64_t *hash_ids; /* into the trace's pool */
    size_t n_hash_ids;
    size_t hash_off; /* offset of hash_ids in the pool */
    size_t line;     /* 1-based line of the file */
} wp_workload_trace_entry_t;

/* Entries sorted by timestamp (ties in file order). */
typedef struct wp_workload_trace_s {
    wp_workload_trace_entry_t *entries;
    size_t n;
    uint64_t *pool;
    size_t n_pool;
} wp_workload_trace_t;

/* Parses JSONL: one object per line with timestamp (ms, >= 0), input_length (>= 1),
 * output_length (>= 1), hash_ids (non-negative integers); other keys are ignored, blank
 * lines skipped. An error names the line: "trace.jsonl:17: hash_ids[3]: expected a
 * non-negative integer". On error *out is left empty. */
wp_status_t wp_workload_trace_parse(const char *data, size_t len, const char *filename,
                                    wp_workload_trace_t *out, wp_err_t *err);
void wp_workload_trace_free(wp_workload_trace_t *t);
wp_status_t wp_workload_trace_validate(const wp_workload_trace_t *t, wp_err_t *err);

/* ---- generator ---- */

typedef struct wp_workload_s wp_workload_t;

typedef struct wp_workload_req_s {
    size_t index;         /* 0, 1, 2, ... (warm-up requests first) */
    double arrival_s;     /* seconds from the start; -1 in closed loop (issue when a slot frees) */
    size_t stage;         /* index into wp_workload_stages (0 for a warm-up request) */
    double stage_start_s; /* nominal start of its stage: arrival_s - stage_start_s is its
                             offset into the stage (0 in closed loop and for warm-ups) */
    bool warmup;          /* one of the load.warmup first requests */
    int64_t group;        /* shared_prefix: the group; else -1 */
    int64_t session;      /* multi_turn: the session (unique over the run); else -1 */
    int turn;             /* multi_turn: 0-based turn; else 0 */
    const char *prompt;   /* NUL-terminated, owned by the generator (see top) */
    size_t prompt_len;    /* bytes; at most max_text_bytes when set (then the text is only
                             the prompt's first prompt_len bytes) */
    size_t prompt_tokens; /* exact, under wp_tok, of the whole prompt (never truncated) */
    const int32_t *ids;   /* the whole prompt's token ids (n_ids == prompt_tokens) once a
                             vocab is set, owned by the generator; else NULL */
    size_t n_ids;
    size_t prefix_tokens; /* leading tokens shared by design with other requests (system
                             prompt, earlier turns); for trace: 0 */
    size_t max_tokens;
} wp_workload_req_t;

/* Validates the spec, draws all arrival times, builds the text corpus. trace is needed
 * (and borrowed) for type trace, ignored otherwise. NULL on error (err says why). */
wp_workload_t *wp_workload_new(const wp_workload_spec_t *spec, const wp_workload_trace_t *trace,
                               wp_err_t *err);
void wp_workload_free(wp_workload_t *w);

/* The next request in arrival order; WP_ENOTFOUND when all were returned. */
wp_status_t wp_workload_next(wp_workload_t *w, wp_workload_req_t *out);

/* From the next request on, fill ids with the prompt's token ids under vocab, equal to
 * wp_tok_encode(prompt, full length, vocab, ...) (vocab 0 or above INT32_MAX means
 * [0, INT32_MAX), as there). Costs one hash per corpus piece now (64K) and a copy per
 * token later. WP_ENOMEM leaves ids off. May be called again to change the vocab. */
wp_status_t wp_workload_set_vocab(wp_workload_t *w, uint32_t vocab);

/* From the next request on, hand out at most the first max_text_bytes bytes of each
 * prompt (prompt_len is then the truncated length; prompt_tokens and ids stay those of
 * the whole prompt). 0: the whole text (the default). */
void wp_workload_set_max_text_bytes(wp_workload_t *w, size_t max_text_bytes);

/* Number of requests in the run, warm-up ones included (always known: arrivals are drawn
 * up front). */
size_t wp_workload_total(const wp_workload_t *w);

/* The stages of the measured requests, for the report: one for poisson/constant without
 * a list (duration 0 when bounded by num_requests), one with rate 0 for concurrency, one
 * spanning the trace's measured entries. */
size_t wp_workload_stages(const wp_workload_t *w, const wp_workload_stage_t **out);

const wp_workload_spec_t *wp_workload_spec(const wp_workload_t *w);

/* Appends text(key, ntokens) (see top) to out: exactly ntokens wp_tok tokens. */
wp_status_t wp_workload_text(const wp_workload_t *w, uint64_t key, size_t ntokens, wp_buf_t *out);

/* Invariants: arrivals non-decreasing (or all -1), stage ranges cover [0, total), cursor
 * within, corpus offsets increasing. */
wp_status_t wp_workload_validate(const wp_workload_t *w, wp_err_t *err);

#endif
