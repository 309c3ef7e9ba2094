/*
 * api/engines: what each model-server engine exports on its Prometheus endpoint, and a
 * reader that turns one scrape into the signals the gateway uses. One row per engine,
 * names taken from docs/engines.md (which cites the engine source each was read from).
 *
 * Signals: waiting and running requests (summed over all series of the name: several
 * data-parallel engines or label sets), KV cache usage in [0,1] (the largest series, capped
 * at 1), and the prefix-cache counters in tokens or blocks (hits and queries, summed).
 * A reading for one data-parallel rank (rank >= 0: an endpoint that is that rank of a
 * wide-EP group, docs/topology.md) takes only the samples whose WP_API_ENGINE_RANK_LABEL
 * label is that rank, in decimal; samples without the label are taken as they are (a
 * server that reports one engine unlabelled). rank -1 takes every sample, as above.
 * Waiting and running are required for the metrics to count at all; KV usage and the
 * cache counters are optional: a scrape without them leaves them unknown (the `seen` bits).
 * Some engines count queries apart from hits (llama.cpp's prompt_tokens_total excludes
 * cached tokens; TensorRT-LLM counts missed blocks): then queries = hits + that series.
 *
 * Pure: no I/O, no allocation; the table is static and immutable.
 */
#ifndef WP_API_ENGINES_H
#define WP_API_ENGINES_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "config/topology.h"

typedef struct wp_api_engine_s {
    const char *label;        /* "vLLM", "llama.cpp", ... */
    const char *metrics_path; /* appended to the endpoint's base path */
    const char *waiting, *running;
    const char *kv, *kv_old;   /* KV usage 0..1; kv_old: an older name, or NULL */
    const char *hits;          /* prefix-cache hits counter, or NULL */
    const char *queries;       /* prefix-cache queries counter, or NULL */
    bool queries_exclude_hits; /* `queries` counts misses only: add the hits */
    const char *fix;           /* how to turn the metrics on, for the warning */
} wp_api_engine_t;

/* The row of an engine; never NULL for a value of wp_topology_engine_t. */
const wp_api_engine_t *wp_api_engine(wp_topology_engine_t engine);

enum {
    WP_API_ENGINE_SEEN_WAITING = 1,
    WP_API_ENGINE_SEEN_RUNNING = 2,
    WP_API_ENGINE_SEEN_KV = 4,
    WP_API_ENGINE_SEEN_CACHE = 8, /* the hits or the queries series */
    WP_API_ENGINE_SEEN_BLOCKS = 16,
    WP_API_ENGINE_SEEN_LOAD = WP_API_ENGINE_SEEN_WAITING | WP_API_ENGINE_SEEN_RUNNING,
};

typedef struct wp_api_engine_reading_s {
    double waiting, running;
    double kv_usage;                  /* 0..1; 0 when not seen */
    double cache_hits, cache_queries; /* 0 when not seen */
    double kv_blocks;                 /* vllm:cache_config_info num_gpu_blocks, 0 = unknown */
    unsigned seen;                    /* WP_API_ENGINE_SEEN_* bits */
} wp_api_engine_reading_t;

/* vLLM's data-parallel index label: engine="<rank>" on every per-engine series. */
#define WP_API_ENGINE_RANK_LABEL "engine"

/* Reads one scrape of `text` (Prometheus text) with the names of `e`, for data-parallel
 * rank `rank` (0..; -1 = every sample; see above). WP_EINVAL with the parser's message when
 * the text is not Prometheus text; out is then all zero. A text that parses but lacks series
 * (or has none for the rank) is WP_OK: the caller reads out->seen. NaN samples are
 * skipped. */
wp_status_t wp_api_engine_read(const wp_api_engine_t *e, int rank, const char *text, size_t len,
                               wp_api_engine_reading_t *out, wp_err_t *err);

/* The series of `e` that a reading lacks, as "name, name" (the required ones first; the
 * optional ones only with `optional`), written into buf (cut to cap); "" when none. */
const char *wp_api_engine_missing(const wp_api_engine_t *e, unsigned seen, bool optional, char *buf,
                                  size_t cap);

#endif
