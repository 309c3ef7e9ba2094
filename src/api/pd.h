/*
 * api/pd: the two request bodies of prefill/decode disaggregation, in vLLM's
 * NixlConnector protocol (docs/reference.md §4). Pure: JSON in, JSON out.
 *
 * Prefill body: the original request with kv_transfer_params = {do_remote_decode: true,
 * do_remote_prefill: false, remote_engine_id, remote_block_ids, remote_host,
 * remote_port: null}, stream false, stream_options removed, max_tokens 1 (and
 * max_completion_tokens 1 when present), min_tokens removed.
 * Decode body: the original request plus the prefill answer's kv_transfer_params,
 * verbatim. The original tree is never modified; out is appended to.
 */
#ifndef WP_API_PD_H
#define WP_API_PD_H

#include "base/buf.h"
#include "base/err.h"

typedef struct cJSON cJSON;

wp_status_t wp_api_pd_prefill_body(const cJSON *request, wp_buf_t *out);
/* WP_EINVAL (err says why) when the prefill answer is not JSON or lacks an object
 * kv_transfer_params. cached_tokens, when not NULL, gets the prefill answer's
 * usage.prompt_tokens_details.cached_tokens (-1 when absent). */
wp_status_t wp_api_pd_decode_body(const cJSON *request, const char *prefill_answer, size_t len,
                                  wp_buf_t *out, long long *cached_tokens, wp_err_t *err);

/* The decode answer reports the whole pulled prompt as cached; the client should see the
 * prefill side's cache hits. Copies a piece of the decode answer (a JSON body or SSE
 * events) into out with the number after every `"cached_tokens":` replaced by cached.
 * Returns how many it replaced (a key cut across two pieces is left as it is). */
int wp_api_pd_fold_cached(const char *piece, size_t n, long long cached, wp_buf_t *out);

#endif
