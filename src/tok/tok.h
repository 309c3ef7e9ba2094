/*
 * tok: the default tokenizer, fast and deterministic, and a filler for generated text.
 *
 * It stands in for a model's BPE tokenizer where only counts and prefix identity matter
 * (KV blocks, prefix-cache hits, usage numbers). Text is split into pre-tokens: a word
 * (ASCII letters and digits, and any UTF-8 multi-byte sequence) keeps one leading space;
 * punctuation is one byte, optionally with its leading space; other whitespace goes in
 * runs of at most four bytes. Words of up to six bytes are one token; longer words are
 * cut into pieces of three to six bytes whose lengths come from a hash of the word, so
 * boundaries do not fall on fixed character counts but the same word always splits the
 * same way. English text comes out at about four bytes per token. A cut never falls
 * inside a UTF-8 sequence (it moves forward past continuation bytes). Token id = hash of
 * the piece's bytes mod vocab.
 *
 * Pure functions, no state, no allocation: callers own every buffer.
 */
#ifndef WP_TOK_TOK_H
#define WP_TOK_TOK_H

#include <stddef.h>
#include <stdint.h>

/* Tokenizes text[0..n) into out[0..cap) and returns the number of tokens, which may exceed
 * cap: then only the first cap ids are written and the caller may retry with a larger
 * array. out may be NULL when cap is 0. Ids are in [0, vocab); vocab 0 or above INT32_MAX
 * means [0, INT32_MAX). */
size_t wp_tok_encode(const char *text, size_t n, uint32_t vocab, int32_t *out, size_t cap);

/* The id wp_tok_encode gives a piece of n bytes that it emits as one token (a filler
 * piece, a short word with its leading space, one punctuation byte): the hash of the bytes
 * mod vocab, with vocab normalised as in wp_tok_encode. For callers that know their text is
 * made of such pieces and want its ids without tokenizing it. */
int32_t wp_tok_piece_id(const char *piece, size_t n, uint32_t vocab);

/* The number of tokens wp_tok_encode would return. */
size_t wp_tok_count(const char *text, size_t n);

/* Writes the text of generated token #index of the stream seeded by seed: a short English
 * word with a leading space (" the"), or sometimes "," or ".". Returns its length in bytes
 * (at most WP_TOK_FILLER_MAX); writes at most cap-1 bytes and a NUL when cap > 0. Each
 * filler piece tokenizes back to exactly one token. */
size_t wp_tok_filler(uint64_t seed, uint64_t index, char *out, size_t cap);

#define WP_TOK_FILLER_MAX 5

#endif
