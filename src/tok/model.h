/*
 * tok/model: a model's prompt token ids, exactly as vLLM computes them (docs/tokenizer.md,
 * "Prompt ids as vLLM makes them"), from the model's tokenizer.json and tokenizer_config.json.
 * One module for every caller that must count or hash a prompt as the server will: the
 * simulator (`wellpath sim --tokenizer`) and the gateway.
 *
 * vLLM's rules, and what is read for them:
 *   completions  the prompt text encoded with add_special_tokens true (the request may say
 *                false): the tokenizer's post-processor adds its special tokens. Read from
 *                tokenizer.json's post_processor: null and ByteLevel add nothing;
 *                TemplateProcessing adds what its `single` template puts around the one
 *                Sequence "A" (Llama 3 as published today: <|begin_of_text|> before);
 *                Sequence runs its processors in turn. Anything else (BertProcessing,
 *                RobertaProcessing, a pair-only template...) is refused at load. When
 *                tokenizer_config.json names a LlamaTokenizer(Fast) and says add_bos_token /
 *                add_eos_token, those decide instead (transformers rebuilds the template).
 *   chat         the messages rendered with the model's chat template (tokenizer_config.json
 *                chat_template: a string, or a list of {name, template} whose "default" is
 *                taken), add_generation_prompt true unless the request says otherwise,
 *                chat_template_kwargs.enable_thinking (Qwen3; default on); the text encoded
 *                with add_special_tokens false (the template writes its own BOS). Supported
 *                templates (tok/chat.h): Qwen3's ChatML ("<|im_start|>" and "<think>") and
 *                Llama 3 Instruct ("<|start_header_id|>", but not Llama 3.1's, whose
 *                "Cutting Knowledge Date" system block tok/chat does not write). Any other
 *                template, or none: the model has no supported chat template; chat requests
 *                fail with a message saying so, completions work.
 *   token ids    a prompt given as ids is passed through unchanged.
 *
 * Pure: takes bytes, never paths (os/tokfiles.h reads a model directory). The wp_tokmodel_t
 * is immutable after load and may serve any number of threads, each with its own
 * wp_bpe_cache_t (or NULL). Ids returned are malloc'd and belong to the caller (free()).
 */
#ifndef WP_TOK_MODEL_H
#define WP_TOK_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "tok/bpe.h"
#include "tok/chat.h"

typedef struct cJSON cJSON;
typedef struct wp_api_request_s wp_api_request_t;
typedef struct wp_tokmodel_s wp_tokmodel_t;

/* Special tokens the post-processor puts around a single sequence, at most this many. */
#define WP_TOKMODEL_SPECIAL_MAX 8

/* Builds the model's tokenizer from the bytes of tokenizer.json and of tokenizer_config.json
 * (config may be NULL: no chat template, post-processor alone). On failure *out is NULL and
 * err names the file and key ("tokenizer.json: post_processor: type 'RobertaProcessing' is
 * not supported"). The caller's buffers may go once it returns. */
wp_status_t wp_tokmodel_load(const char *tokenizer_json, size_t len, const char *config_json,
                             size_t config_len, wp_tokmodel_t **out, wp_err_t *err);
void wp_tokmodel_free(wp_tokmodel_t *m);

const wp_bpe_t *wp_tokmodel_bpe(const wp_tokmodel_t *m);
/* The supported chat template of the model (WP_CHAT_QWEN3, WP_CHAT_LLAMA3), or 0: none. */
int wp_tokmodel_chat_kind(const wp_tokmodel_t *m);
/* The ids added before (*n_before) and after (*n_after) a completion prompt with
 * add_special_tokens true; the pointers stay valid as long as m. */
void wp_tokmodel_specials(const wp_tokmodel_t *m, const int32_t **before, size_t *n_before,
                          const int32_t **after, size_t *n_after);

/* Ids of a completion prompt text[0..len), with the post-processor's tokens when
 * add_special_tokens (vLLM's default for completions and /tokenize: true). */
wp_status_t wp_tokmodel_encode_prompt(const wp_tokmodel_t *m, wp_bpe_cache_t *cache,
                                      const char *text, size_t len, bool add_special_tokens,
                                      int32_t **ids, size_t *n, wp_err_t *err);

/* Ids of chat messages msgs[0..n_msgs) rendered with the model's template (opts NULL:
 * add_generation_prompt and enable_thinking on). WP_EINVAL when the model has no supported
 * template. */
wp_status_t wp_tokmodel_encode_chat(const wp_tokmodel_t *m, wp_bpe_cache_t *cache,
                                    const wp_chat_msg_t *msgs, size_t n_msgs,
                                    const wp_chat_opts_t *opts, int32_t **ids, size_t *n,
                                    wp_err_t *err);

/* The same for a request's "messages" array (role and content strings; content parts of
 * type "text" joined with "\n", as vLLM's "string" content format does; null content is
 * empty). Options from the request body `body` (may be NULL): add_generation_prompt (bool)
 * and chat_template_kwargs.enable_thinking (bool). */
wp_status_t wp_tokmodel_encode_messages(const wp_tokmodel_t *m, wp_bpe_cache_t *cache,
                                        const cJSON *messages, const cJSON *body, int32_t **ids,
                                        size_t *n, wp_err_t *err);

/* One call for a parsed request: its token-id prompt copied unchanged; a completion's text
 * with the BOS rule (the body's add_special_tokens, default true); a chat's messages. *ids
 * is malloc'd (non-NULL when *n > 0). */
wp_status_t wp_tokmodel_encode_request(const wp_tokmodel_t *m, wp_bpe_cache_t *cache,
                                       wp_api_request_t *req, int32_t **ids, size_t *n,
                                       wp_err_t *err);

#endif
