/*
 * tok: see tok.h for the contract.
 *
 * One pass over the bytes. next_pretoken() finds the next pre-token (word, punctuation or
 * whitespace run) starting at a position; emit_word() cuts a word into pieces whose
 * lengths (3..6 bytes) come two bits at a time from a 64-bit hash of the whole word,
 * re-mixed when the bits run out; every piece is hashed to an id. Counting and encoding
 * share the same code path (encoding with a NULL output writes nothing), so the count
 * always equals the encoded length.
 */
#include "tok/tok.h"

#include <stdbool.h>

#include "base/hash.h"

#define PIECE_SEED 0x746f6b656e730001ULL /* "tokens" */
#define SPLIT_SEED 0x73706c6974000002ULL /* "split" */
#define SINGLE_MAX 6                     /* words up to this many bytes are one token */
#define WS_RUN_MAX 4

typedef struct sink_s {
    int32_t *out;
    size_t cap;
    size_t count;
    uint32_t vocab;
} sink_t;

static bool is_word_byte(unsigned char c)
{
    return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_continuation(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

static uint32_t norm_vocab(uint32_t vocab)
{
    return vocab == 0 || vocab > INT32_MAX ? INT32_MAX : vocab;
}

/* vocab already normalised. */
static int32_t piece_id(const void *p, size_t len, uint32_t vocab)
{
    return (int32_t)(wp_hash64(p, len, PIECE_SEED) % vocab);
}

int32_t wp_tok_piece_id(const char *piece, size_t n, uint32_t vocab)
{
    return piece_id(piece, n, norm_vocab(vocab));
}

static void emit(sink_t *s, const unsigned char *p, size_t len)
{
    if (s->count < s->cap) {
        s->out[s->count] = piece_id(p, len, s->vocab);
    }
    s->count++;
}

/* Cuts a word of len bytes into hash-chosen pieces, never inside a UTF-8 sequence. */
static void emit_word(sink_t *s, const unsigned char *p, size_t len)
{
    if (len <= SINGLE_MAX) {
        emit(s, p, len);
        return;
    }
    uint64_t h = wp_hash64(p, len, SPLIT_SEED);
    unsigned bits = 64;
    size_t at = 0;
    while (at < len) {
        if (bits < 2) {
            h = wp_hash_mix(h + 0x9e3779b97f4a7c15ULL);
            bits = 64;
        }
        size_t piece = 3 + (size_t)(h & 3);
        h >>= 2;
        bits -= 2;
        size_t end = len - at <= piece + 1 ? len : at + piece; /* no 1-byte tail */
        while (end < len && is_continuation(p[end])) {
            end++;
        }
        emit(s, p + at, end - at);
        at = end;
    }
}

static size_t run_of(const unsigned char *p, size_t i, size_t n, bool (*cls)(unsigned char))
{
    while (i < n && cls(p[i])) {
        i++;
    }
    return i;
}

/* A whitespace run of at most WS_RUN_MAX bytes; a final ' ' before a non-space byte is
 * left for the next word or punctuation. */
static size_t space_end(const unsigned char *p, size_t i, size_t n)
{
    size_t j = i;
    while (j < n && j - i < WS_RUN_MAX && is_space(p[j])) {
        if (j > i && p[j] == ' ' && j + 1 < n && !is_space(p[j + 1])) {
            break;
        }
        j++;
    }
    return j;
}

/* Returns the end of the pre-token starting at i; *word says whether it is a word. */
static size_t next_pretoken(const unsigned char *p, size_t i, size_t n, bool *word)
{
    *word = false;
    size_t j = i;
    if (p[j] == ' ' && j + 1 < n && !is_space(p[j + 1])) {
        j++; /* the leading space joins what follows */
    } else if (is_space(p[j])) {
        return space_end(p, i, n);
    }
    if (is_word_byte(p[j])) {
        *word = true;
        return run_of(p, j, n, is_word_byte);
    }
    return j + 1; /* one punctuation byte */
}

static size_t encode(const unsigned char *p, size_t n, sink_t *s)
{
    size_t i = 0;
    while (i < n) {
        bool word;
        size_t end = next_pretoken(p, i, n, &word);
        if (word) {
            emit_word(s, p + i, end - i);
        } else {
            emit(s, p + i, end - i);
        }
        i = end;
    }
    return s->count;
}

size_t wp_tok_encode(const char *text, size_t n, uint32_t vocab, int32_t *out, size_t cap)
{
    if (text == NULL || n == 0) {
        return 0;
    }
    sink_t s = {.out = out, .cap = out != NULL ? cap : 0, .count = 0, .vocab = norm_vocab(vocab)};
    return encode((const unsigned char *)text, n, &s);
}

size_t wp_tok_count(const char *text, size_t n)
{
    return wp_tok_encode(text, n, 0, NULL, 0);
}

/* Short common words (at most four letters, so " word" is one token), weighted by
 * repetition toward the most frequent. */
static const char *const filler_words[] = {
    "the",  "of",   "and",  "to",   "a",    "in",   "is",   "it",   "that", "for",  "on",
    "as",   "with", "was",  "be",   "by",   "this", "are",  "or",   "from", "at",   "an",
    "but",  "not",  "have", "we",   "can",  "you",  "all",  "one",  "more", "will", "they",
    "each", "time", "data", "new",  "way",  "use",  "two",  "then", "than", "also", "into",
    "its",  "may",  "some", "what", "when", "how",  "most", "such", "only", "over", "work",
    "so",   "if",   "our",  "part", "much", "like", "used", "well", "make", "the",  "of",
};

#define N_FILLER (sizeof(filler_words) / sizeof(filler_words[0]))

static size_t put(const char *src, size_t len, char *out, size_t cap)
{
    if (cap > 0) {
        size_t k = len < cap - 1 ? len : cap - 1;
        for (size_t i = 0; i < k; i++) {
            out[i] = src[i];
        }
        out[k] = '\0';
    }
    return len;
}

size_t wp_tok_filler(uint64_t seed, uint64_t index, char *out, size_t cap)
{
    uint64_t r = wp_hash_mix(seed ^ wp_hash_mix(index + 0x66696c6c6572ULL));
    if (out == NULL) {
        cap = 0;
    }
    switch (r % 16) {
    case 0:
        return put(".", 1, out, cap);
    case 1:
        return put(",", 1, out, cap);
    default:
        break;
    }
    const char *w = filler_words[(r >> 8) % N_FILLER];
    char tmp[WP_TOK_FILLER_MAX + 1];
    size_t len = 0;
    tmp[len++] = ' ';
    while (*w != '\0' && len < WP_TOK_FILLER_MAX) {
        tmp[len++] = *w++;
    }
    return put(tmp, len, out, cap);
}
