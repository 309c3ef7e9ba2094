/*
 * tok/bpe: a model's own tokenizer, from its Hugging Face tokenizer.json, giving exactly the
 * ids the reference gives.
 *
 * Supported: byte-level BPE as Qwen2/Qwen3, Llama 3 and GPT-2 use it. The pieces of
 * tokenizer.json read:
 *   model          type "BPE", vocab (token -> id), merges ("a b" strings or [a, b] pairs,
 *                  rank = position), ignore_merges (a pre-token found whole in the vocab
 *                  is that token); dropout, unk_token, byte_fallback, prefixes and suffixes
 *                  must be off or empty
 *   normalizer     null, or NFC (tok/unicode.h), or a Sequence of those
 *   pre_tokenizer  ByteLevel (its own GPT-2 regex when use_regex is true), or a Sequence of
 *                  a Split on one of the patterns of tok/pretok.h (behavior Isolated) and a
 *                  ByteLevel with use_regex false; add_prefix_space must be false
 *   added_tokens   matched in the raw text before anything else, leftmost and then longest
 *                  first; the text between them is normalized, split and BPE-encoded.
 *                  lstrip, rstrip and single_word must be false.
 * Anything else is refused at load with a message naming the key and what was found.
 * Post-processing (BOS tokens) is not applied: encode gives the ids of the text alone, as
 * the reference does with add_special_tokens false.
 *
 * Invariants (wp_bpe_validate): every byte has a token; every merge's two sides and their
 * concatenation are tokens; ids are in [0, INT32_MAX); a vocab entry encode takes whole
 * (without merging) is one its bytes merge to, unless ignore_merges says to take it.
 *
 * Ownership: wp_bpe_load copies what it needs from the JSON (the caller's buffer may go
 * once it returns); the wp_bpe_t is immutable after load, so one may serve any number of
 * threads, each with its own wp_bpe_cache_t. Ids from wp_bpe_encode are malloc'd and
 * belong to the caller (free()).
 */
#ifndef WP_TOK_BPE_H
#define WP_TOK_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct wp_bpe_s wp_bpe_t;
typedef struct wp_bpe_cache_s wp_bpe_cache_t;

/* Refuses tokenizer.json files above this size, and texts above WP_BPE_TEXT_MAX. */
#define WP_BPE_JSON_MAX ((size_t)256 << 20)
#define WP_BPE_TEXT_MAX ((size_t)64 << 20)

/* Builds a tokenizer from the bytes of a tokenizer.json. On failure *out is NULL and err
 * says what is wrong ("model.merges[12]: 'ab c': 'c' is not in the vocab"). */
wp_status_t wp_bpe_load(const char *json, size_t len, wp_bpe_t **out, wp_err_t *err);

void wp_bpe_free(wp_bpe_t *bpe);

/* Encodes text[0..len) (UTF-8) into a malloc'd array of *n ids (*ids NULL when *n is 0).
 * cache may be NULL; when given, pre-tokens already seen are not BPE-merged again (its
 * size is bounded: it empties itself when full). Fails with WP_EINVAL on text that is not
 * valid UTF-8 (err names the byte offset), WP_ELIMIT above WP_BPE_TEXT_MAX. */
wp_status_t wp_bpe_encode(const wp_bpe_t *bpe, wp_bpe_cache_t *cache, const char *text, size_t len,
                          int32_t **ids, size_t *n, wp_err_t *err);

/* A cache for one thread's encodes with bpe: at most max_entries pre-tokens (0: a default
 * of 65536). NULL when out of memory. */
wp_bpe_cache_t *wp_bpe_cache_new(size_t max_entries);
void wp_bpe_cache_free(wp_bpe_cache_t *cache);

/* The id of added token or vocab entry text[0..len) (as written in tokenizer.json, in the
 * byte-level alphabet for vocab entries), or -1. */
int32_t wp_bpe_token_id(const wp_bpe_t *bpe, const char *text, size_t len);

/* The number of ids: one past the largest id in the vocab and the added tokens. */
size_t wp_bpe_vocab_size(const wp_bpe_t *bpe);

/* Checks the invariants above; WP_OK or WP_EINVAL with what is broken. */
wp_status_t wp_bpe_validate(const wp_bpe_t *bpe, wp_err_t *err);

#endif
