/*
 * tok/pretok: the regex split of byte-level BPE tokenizers, written out by hand.
 *
 * Hugging Face tokenizers cut text into pre-tokens with a regular expression before BPE.
 * Three patterns are known here, matched exactly (the text of the pattern in tokenizer.json
 * picks one, see wp_pretok_kind_from_pattern):
 *
 *   QWEN2   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|
 *            ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+          (Qwen2, Qwen3)
 *   LLAMA3  the same with \p{N}{1,3} for \p{N}                          (Llama 3, GPT-4)
 *   GPT2    's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *
 * wp_pretok_next gives the length of the pre-token at the start of its input, the match a
 * backtracking engine finds there (alternatives tried in order). Every character is a
 * letter, a number, whitespace or other, and each class is matched by some alternative, so
 * a pre-token is never empty and the pieces cover the text. Classes come from tok/unicode.
 *
 * Pure functions, no state, no allocation.
 */
#ifndef WP_TOK_PRETOK_H
#define WP_TOK_PRETOK_H

#include <stddef.h>

typedef enum {
    WP_PRETOK_NONE = 0, /* no split: the whole text is one pre-token */
    WP_PRETOK_QWEN2,
    WP_PRETOK_LLAMA3,
    WP_PRETOK_GPT2,
} wp_pretok_kind_t;

/* The kind whose pattern is exactly pattern[0..n), or WP_PRETOK_NONE when it is none of
 * them. */
wp_pretok_kind_t wp_pretok_kind_from_pattern(const char *pattern, size_t n);

/* The length in bytes of the pre-token that starts s[0..n), n > 0, s valid UTF-8. Always
 * at least one whole character. */
size_t wp_pretok_next(wp_pretok_kind_t kind, const unsigned char *s, size_t n);

#endif
