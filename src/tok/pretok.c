/*
 * tok/pretok: the pre-tokenizer patterns as code.
 *
 * Each pattern is a list of alternatives tried in order at the start of the input; the
 * first that matches wins, with the greedy quantifiers backtracking as a regex engine
 * would. Worked out once per alternative:
 *
 *   [^\r\n\p{L}\p{N}]?\p{L}+   a letter run, or one non-letter, non-number, non-newline
 *                              character followed by a letter run
 *   ' ?[^\s\p{L}\p{N}]+[\r\n]*' an optional space, a run of "other" characters, then any
 *                              newlines
 *   \s*[\r\n]+                 the whitespace run up to and including its last \r or \n
 *   \s+(?!\S)                  the whole whitespace run at the end of the text, or all of
 *                              it but its last character when something else follows
 *   \s+                        the whole whitespace run (a single space before a word)
 *
 * The contractions are ASCII apostrophe plus s, t, re, ve, m, ll, d; case-insensitive in
 * Qwen2 and Llama 3, where U+017F (long s) folds to s as well.
 */
#include "tok/pretok.h"

#include <string.h>

#include "tok/unicode.h"

static const char PAT_QWEN2[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char PAT_LLAMA3[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char PAT_GPT2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

wp_pretok_kind_t wp_pretok_kind_from_pattern(const char *pattern, size_t n)
{
    if (n == sizeof PAT_QWEN2 - 1 && memcmp(pattern, PAT_QWEN2, n) == 0)
        return WP_PRETOK_QWEN2;
    if (n == sizeof PAT_LLAMA3 - 1 && memcmp(pattern, PAT_LLAMA3, n) == 0)
        return WP_PRETOK_LLAMA3;
    if (n == sizeof PAT_GPT2 - 1 && memcmp(pattern, PAT_GPT2, n) == 0)
        return WP_PRETOK_GPT2;
    return WP_PRETOK_NONE;
}

/* WP__UC_* of each ASCII byte (letters, digits, the six whitespace bytes). */
static const unsigned char ASCII_CLASS[128] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
};

/* One character at s[i..n): its code point, class and length (1 for a byte that is not
 * valid UTF-8, treated as "other"; callers pass valid text). */
typedef struct {
    uint32_t cp;
    int cls;
    size_t len;
} ch_t;

static inline __attribute__((always_inline)) ch_t at(const unsigned char *s, size_t n, size_t i)
{
    ch_t c;
    if (s[i] < 0x80) {
        c.cp = s[i];
        c.len = 1;
        c.cls = ASCII_CLASS[s[i]];
        return c;
    } else {
        c.len = wp__utf8_decode(s + i, n - i, &c.cp);
        if (c.len == 0) {
            c.cp = 0xfffd;
            c.len = 1;
            c.cls = WP__UC_OTHER;
            return c;
        }
    }
    c.cls = wp__uc_class(c.cp);
    return c;
}

/* The end of the run of class cls that starts at i (at most max characters). */
static size_t run_end(const unsigned char *s, size_t n, size_t i, int cls, size_t max)
{
    size_t k = 0;
    if (max == SIZE_MAX) /* ASCII first, a byte at a time */
        while (i < n && s[i] < 0x80 && ASCII_CLASS[s[i]] == cls)
            i++;
    while (i < n && k < max) {
        ch_t c = at(s, n, i);
        if (c.cls != cls)
            break;
        i += c.len;
        k++;
    }
    return i;
}

/* The length of the contraction at s[0..n) ("'s", "'re", ...), or 0. */
static size_t contraction(const unsigned char *s, size_t n, int fold)
{
    if (n < 2 || s[0] != '\'')
        return 0;
    if (s[1] >= 0x80) /* U+017F folds to 's' */
        return fold && n >= 3 && s[1] == 0xc5 && s[2] == 0xbf ? 3 : 0;
    unsigned char a = fold ? (unsigned char)(s[1] | 0x20) : s[1];
    unsigned char b = n >= 3 ? (fold ? (unsigned char)(s[2] | 0x20) : s[2]) : 0;
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    if (b && ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')))
        return 3;
    return 0;
}

/* The whitespace alternatives, at a whitespace character. with_newline_rule: \s*[\r\n]+. */
static size_t whitespace(const unsigned char *s, size_t n, int with_newline_rule)
{
    size_t i = 0, last_nl_end = 0, last_start = 0, count = 0;
    while (i < n) {
        ch_t c = at(s, n, i);
        if (c.cls != WP__UC_SPACE)
            break;
        last_start = i;
        i += c.len;
        count++;
        if (c.cp == '\r' || c.cp == '\n')
            last_nl_end = i;
    }
    if (with_newline_rule && last_nl_end > 0)
        return last_nl_end;
    if (i == n || count < 2)
        return i;
    return last_start;
}

static int ascii_letter(unsigned char c)
{
    return c < 0x80 && ASCII_CLASS[c] == WP__UC_LETTER;
}

static size_t next_qwen_llama(const unsigned char *s, size_t n, size_t max_digits)
{
    /* most of English: an ASCII word, alone or after a space ([^\r\n\p{L}\p{N}]?\p{L}+) */
    size_t j = s[0] == ' ' && n > 1 ? 1 : 0;
    if (ascii_letter(s[j])) {
        size_t e = j + 1;
        while (e < n && ascii_letter(s[e]))
            e++;
        return e == n || s[e] < 0x80 ? e : run_end(s, n, e, WP__UC_LETTER, SIZE_MAX);
    }
    size_t k = contraction(s, n, 1);
    if (k)
        return k;
    ch_t c0 = at(s, n, 0);
    if (c0.cls == WP__UC_LETTER)
        return run_end(s, n, 0, WP__UC_LETTER, SIZE_MAX);
    if (c0.cls != WP__UC_NUMBER && c0.cp != '\r' && c0.cp != '\n' && c0.len < n) {
        ch_t c1 = at(s, n, c0.len);
        if (c1.cls == WP__UC_LETTER)
            return run_end(s, n, c0.len, WP__UC_LETTER, SIZE_MAX);
    }
    if (c0.cls == WP__UC_NUMBER)
        return run_end(s, n, 0, WP__UC_NUMBER, max_digits);
    j = c0.cp == ' ' ? 1 : 0;
    size_t e = j < n ? run_end(s, n, j, WP__UC_OTHER, SIZE_MAX) : j;
    if (e > j) {
        while (e < n && (s[e] == '\r' || s[e] == '\n'))
            e++;
        return e;
    }
    return whitespace(s, n, 1);
}

static size_t next_gpt2(const unsigned char *s, size_t n)
{
    size_t k = contraction(s, n, 0);
    if (k)
        return k;
    size_t j = s[0] == ' ' ? 1 : 0;
    if (j < n) {
        ch_t c = at(s, n, j);
        if (c.cls != WP__UC_SPACE)
            return run_end(s, n, j, c.cls, SIZE_MAX);
    }
    return whitespace(s, n, 0);
}

size_t wp_pretok_next(wp_pretok_kind_t kind, const unsigned char *s, size_t n)
{
    switch (kind) {
    case WP_PRETOK_QWEN2:
        return next_qwen_llama(s, n, 1);
    case WP_PRETOK_LLAMA3:
        return next_qwen_llama(s, n, 3);
    case WP_PRETOK_GPT2:
        return next_gpt2(s, n);
    case WP_PRETOK_NONE:
        break;
    }
    return n;
}
