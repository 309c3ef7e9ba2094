/*
 * tok/unicode: the Unicode facts the BPE tokenizer needs, and its NFC normalizer.
 *
 * Character classes for the pre-tokenizer (letters \p{L}, numbers \p{N}, whitespace \s as
 * JavaScript defines it) and NFC for the normalizer, from tables generated out of node's
 * Unicode data by scripts/gen_unicode_tables.mjs into unicode_tables.c (never edited by
 * hand). The reference implementation the tests compare against runs on the same data.
 *
 * NFC here is partial, and says so (docs/tokenizer.md): code points that NFC changes on
 * their own (singletons, composition exclusions) are replaced, then each code point is
 * composed with the one just before it (primary composites and Hangul). Canonical
 * reordering of combining marks and composition across an intervening mark are not done;
 * text whose marks are already in canonical order, each right after what it composes
 * with, comes out as NFC would give it. Text below U+0300 is returned untouched.
 *
 * Pure functions, no state; the caller owns every buffer. Internal to src/tok (wp__).
 */
#ifndef WP_TOK_UNICODE_H
#define WP_TOK_UNICODE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t lo, hi; /* inclusive */
} wp__uc_range_t;

typedef struct {
    uint32_t cp;
    uint32_t n;
    uint32_t seq[4];
} wp__uc_single_t;

typedef struct {
    uint32_t a, b, composed;
} wp__uc_pair_t;

extern const wp__uc_range_t wp__uc_letters[];
extern const size_t wp__uc_letters_n;
extern const wp__uc_range_t wp__uc_numbers[];
extern const size_t wp__uc_numbers_n;
extern const wp__uc_range_t wp__uc_spaces[];
extern const size_t wp__uc_spaces_n;
extern const wp__uc_single_t wp__uc_nfc_single[];
extern const size_t wp__uc_nfc_single_n;
extern const wp__uc_pair_t wp__uc_nfc_pairs[];
extern const size_t wp__uc_nfc_pairs_n;
extern const wp__uc_range_t wp__uc_nfc_maybe[];
extern const size_t wp__uc_nfc_maybe_n;

enum { WP__UC_OTHER = 0, WP__UC_LETTER = 1, WP__UC_NUMBER = 2, WP__UC_SPACE = 3 };

/* The class of code point cp: one of WP__UC_*. */
int wp__uc_class(uint32_t cp);

/* Decodes one UTF-8 sequence at s[0..n) (n > 0) into *cp; returns its length, or 0 when
 * the bytes there are not valid UTF-8 (overlong, surrogate, above U+10FFFF, cut short). */
size_t wp__utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Encodes cp into out (room for 4 bytes); returns the length. */
size_t wp__utf8_encode(uint32_t cp, unsigned char *out);

/* Whether NFC could change valid UTF-8 s[0..n): false when no code point of it is in
 * wp__uc_nfc_maybe (checked only for lead bytes from 0xCC, code points from U+0300: below,
 * NFC changes nothing). */
int wp__nfc_may_change(const unsigned char *s, size_t n);

/* Writes the NFC form (as described above) of valid UTF-8 s[0..n) into out, which has room
 * for 3 * n + 16 bytes (an expansion grows a code point to at most three times its bytes);
 * returns the bytes written. */
size_t wp__nfc(const unsigned char *s, size_t n, unsigned char *out);

#endif
