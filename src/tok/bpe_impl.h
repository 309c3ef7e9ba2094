/*
 * tok/bpe_impl: the loaded tokenizer's layout, shared by bpe.c (loading) and bpe_encode.c
 * (encoding). Internal to src/tok; callers use tok/bpe.h.
 *
 * Tokens are raw bytes in blob (vocab strings mapped back from the byte-level alphabet);
 * vtab is an open-addressing table of the vocab entries themselves (len 0 empty; at most
 * two thirds full) by the hash of the bytes, each slot holding 16 bits of that hash so a
 * probe touches the blob only for a likely match; mslots maps the id pair (left << 32 | right) to
 * (rank, merged id), rank UINT32_MAX marking an empty slot. A vocab entry is whole when a pre-token
 * of exactly its bytes encodes to it alone (always under ignore_merges; otherwise found at load by
 * merging its bytes), so encoding takes such a pre-token from the vocab without merging.
 * Immutable once loaded.
 */
#ifndef WP_TOK_BPE_IMPL_H
#define WP_TOK_BPE_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#define XXH_INLINE_ALL /* the hash of a short pre-token inlined, no call */
#include <xxhash.h>

#include "tok/bpe.h"
#include "tok/pretok.h"

typedef struct {
    uint32_t off, len; /* raw bytes in blob; len 0: an empty vtab slot */
    int32_t id;
    uint16_t tag;   /* vocab entries: the top 16 bits of wp__bpe_hash of the bytes */
    uint16_t whole; /* vocab entries: 1 when a pre-token of these bytes is this token alone */
} wp__bpe_tok_t;

typedef struct {
    uint64_t key; /* (left << 32) | right; 0 with rank UINT32_MAX: empty */
    uint32_t rank;
    int32_t id;
} wp__bpe_merge_t;

struct wp_bpe_s {
    unsigned char *blob;
    size_t blob_len, blob_cap;
    wp__bpe_tok_t *vtab; /* vmask + 1 slots, nvocab of them used */
    size_t nvocab, vmask;
    wp__bpe_merge_t *mslots;
    size_t mmask, nmerges;
    int32_t byte_id[256];
    wp__bpe_tok_t *added;
    size_t nadded;
    unsigned char added_first[256]; /* 1 where some added token starts with that byte */
    int added_byte; /* the byte all added tokens start with; -1: none, or more than one */
    int nfc;
    int ignore_merges;
    wp_pretok_kind_t pretok;
    size_t vocab_size;
};

static inline uint64_t wp__bpe_hash(const void *p, size_t n)
{
    return XXH3_64bits(p, n);
}

static inline size_t wp__bpe_pow2(size_t n)
{
    size_t s = 16;
    while (s < n)
        s <<= 1;
    return s;
}

/* a[0..n) == b[0..n), eight bytes at a time: pre-tokens are short, a call costs more. */
static inline int wp__bpe_bytes_eq(const unsigned char *a, const unsigned char *b, size_t n)
{
    for (; n >= 8; a += 8, b += 8, n -= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return 0;
    }
    for (; n; n--)
        if (*a++ != *b++)
            return 0;
    return 1;
}

static inline uint16_t wp__bpe_tag(uint64_t h)
{
    return (uint16_t)(h >> 48);
}

/* The vocab entry of raw bytes p[0..n) (n >= 1), or NULL; h is wp__bpe_hash(p, n). The
 * pointer is into b->vtab, valid while b is. */
static inline const wp__bpe_tok_t *wp__bpe_vocab_find_h(const wp_bpe_t *b, uint64_t h,
                                                        const void *p, size_t n)
{
    uint16_t tag = wp__bpe_tag(h);
    for (size_t i = (size_t)h & b->vmask;; i = (i + 1) & b->vmask) {
        const wp__bpe_tok_t *t = &b->vtab[i];
        if (t->len == 0)
            return NULL;
        if (t->tag == tag && t->len == n && wp__bpe_bytes_eq(b->blob + t->off, p, n))
            return t;
    }
}

static inline const wp__bpe_tok_t *wp__bpe_vocab_find(const wp_bpe_t *b, const void *p, size_t n)
{
    return wp__bpe_vocab_find_h(b, wp__bpe_hash(p, n), p, n);
}

/* The merge of ids l and r, or NULL. */
const wp__bpe_merge_t *wp__bpe_merge_find(const wp_bpe_t *b, int32_t l, int32_t r);

/* BPE-merges p[0..n) (n >= 1) from one token per byte into out (room for n ids), without
 * the whole-token shortcut; returns the number of ids, SIZE_MAX when out of memory. */
size_t wp__bpe_merge(const wp_bpe_t *b, const unsigned char *p, size_t n, int32_t *out);

#endif
