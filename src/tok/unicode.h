/*
 * tok/unicode: the Unicode facts the BPE tokenizer needs, and its NFC normalizer.
 *
 * Character classes for the pre-tokenizer (letters \p{L}, numbers \p{N}, whitespace \s as
 * JavaScript defines it) and NFC for the normalizer, from tables generated out of node's
 * Unicode data by scripts/gen_unicode_tables.mjs into unicode_tables.c (never edited by
 * hand). The reference implementation the tests compare against runs on the same data.
 *
 * NFC is the standard algorithm (UAX #15): full canonical decomposition (tables, Hangul
 * arithmetically), canonical reordering of combining marks by class, then canonical
 * composition with blocking. The classes are ranks, not Unicode's numbers (node does not
 * expose those), which is all the algorithm compares. Text without a code point that NFC
 * may change (wp__nfc_may_change) is left alone.
 *
 * Pure functions, no state; the caller owns every buffer. Internal to src/tok (wp__).
 */
#ifndef WP_TOK_UNICODE_H
#define WP_TOK_UNICODE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

typedef struct {
    uint32_t lo, hi, cls;
} wp__uc_class_range_t;

extern const wp__uc_range_t wp__uc_letters[];
extern const size_t wp__uc_letters_n;
extern const wp__uc_range_t wp__uc_numbers[];
extern const size_t wp__uc_numbers_n;
extern const wp__uc_range_t wp__uc_spaces[];
extern const size_t wp__uc_spaces_n;
extern const wp__uc_single_t wp__uc_nfd[];
extern const size_t wp__uc_nfd_n;
extern const wp__uc_class_range_t wp__uc_ccc[];
extern const size_t wp__uc_ccc_n;
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

/* The length of the ASCII bytes (below 0x80) that s[0..n) starts with, eight at a time:
 * text is mostly ASCII, and the checks before pre-tokenizing skip it this way. */
static inline size_t wp__ascii_prefix(const unsigned char *s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080ULL)
            break;
    }
    while (i < n && s[i] < 0x80)
        i++;
    return i;
}

/* Encodes cp into out (room for 4 bytes); returns the length. */
size_t wp__utf8_encode(uint32_t cp, unsigned char *out);

/* Whether NFC could change valid UTF-8 s[0..n): true when a code point of it is in
 * wp__uc_nfc_maybe or two combining marks are out of canonical order (the quick check of
 * UAX #15, with "maybe" taken as "yes"). Code points below U+0300 are not looked up. */
int wp__nfc_may_change(const unsigned char *s, size_t n);

/* Writes the NFC form of valid UTF-8 s[0..n) into out, which has room for 3 * n + 16 bytes
 * (NFC grows a code point to at most three times its bytes); returns the bytes written, or
 * SIZE_MAX when out of memory (it needs a scratch array of 16 * n bytes). */
size_t wp__nfc(const unsigned char *s, size_t n, unsigned char *out);

#endif
