/*
 * tok/bpe_encode: encoding with a loaded tokenizer (see bpe.c's head for the whole path).
 *
 * Added tokens are found in the raw text first; each stretch between them is normalized,
 * split into pre-tokens, and each pre-token is a whole vocab entry (one lookup, the hash
 * shared with the cache) or merged: by a scan for pieces of up to 64 bytes, by a heap of
 * candidate pairs for longer ones (the same order: lowest rank, then leftmost). The
 * caller's cache maps pre-tokens already merged to their ids.
 */
#include <stdlib.h>
#include <string.h>

#include "tok/bpe_impl.h"
#include "tok/unicode.h"

enum { CACHE_PIECE_MAX = 128, CACHE_DEFAULT = 65536 };

typedef struct {
    uint64_t h;
    uint32_t off, len; /* len 0: empty slot */
    uint32_t ids_off, nids;
} centry_t;

struct wp_bpe_cache_s {
    size_t max, count, mask;
    centry_t *slots;
    unsigned char *bytes;
    size_t bytes_len, bytes_cap;
    int32_t *ids;
    size_t ids_len, ids_cap;
};

wp_bpe_cache_t *wp_bpe_cache_new(size_t max_entries)
{
    wp_bpe_cache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->max = max_entries ? max_entries : CACHE_DEFAULT;
    c->mask = wp__bpe_pow2(c->max * 2) - 1;
    c->bytes_cap = c->max * 16;
    c->ids_cap = c->max * 4;
    c->slots = calloc(c->mask + 1, sizeof *c->slots);
    c->bytes = malloc(c->bytes_cap);
    c->ids = malloc(c->ids_cap * sizeof *c->ids);
    if (!c->slots || !c->bytes || !c->ids) {
        wp_bpe_cache_free(c);
        return NULL;
    }
    return c;
}

void wp_bpe_cache_free(wp_bpe_cache_t *c)
{
    if (!c)
        return;
    free(c->slots);
    free(c->bytes);
    free(c->ids);
    free(c);
}

static const centry_t *cache_get(const wp_bpe_cache_t *c, uint64_t h, const unsigned char *p,
                                 size_t n)
{
    size_t i = (size_t)h & c->mask;
    for (;;) {
        const centry_t *e = &c->slots[i];
        if (e->len == 0)
            return NULL;
        if (e->h == h && e->len == n && wp__bpe_bytes_eq(c->bytes + e->off, p, n))
            return e;
        i = (i + 1) & c->mask;
    }
}

static void cache_put(wp_bpe_cache_t *c, uint64_t h, const unsigned char *p, size_t n,
                      const int32_t *ids, size_t nids)
{
    if (c->count >= c->max || c->bytes_len + n > c->bytes_cap ||
        c->ids_len + nids > c->ids_cap) { /* full: start again */
        memset(c->slots, 0, (c->mask + 1) * sizeof *c->slots);
        c->count = c->bytes_len = c->ids_len = 0;
        if (n > c->bytes_cap || nids > c->ids_cap)
            return;
    }
    size_t i = (size_t)h & c->mask;
    while (c->slots[i].len)
        i = (i + 1) & c->mask;
    centry_t *e = &c->slots[i];
    e->h = h;
    e->off = (uint32_t)c->bytes_len;
    e->len = (uint32_t)n;
    e->ids_off = (uint32_t)c->ids_len;
    e->nids = (uint32_t)nids;
    memcpy(c->bytes + c->bytes_len, p, n);
    c->bytes_len += n;
    memcpy(c->ids + c->ids_len, ids, nids * sizeof *ids);
    c->ids_len += nids;
    c->count++;
}

typedef struct {
    int32_t *v;
    size_t n, cap;
} ids_t;

static int ids_reserve(ids_t *o, size_t more)
{
    if (o->n + more <= o->cap)
        return 0;
    size_t cap = o->cap ? o->cap : 64;
    while (cap < o->n + more)
        cap *= 2;
    int32_t *nv = realloc(o->v, cap * sizeof *nv);
    if (!nv)
        return -1;
    o->v = nv;
    o->cap = cap;
    return 0;
}

/* Pieces up to SCAN_MAX bytes are merged by scanning for the best pair at each step (no
 * allocation, fastest for words); longer ones with a heap of candidate pairs. */
enum { SCAN_MAX = 64 };

/* Merges p[0..n) (n <= SCAN_MAX) into sym; returns the number of ids. */
static size_t merge_scan(const wp_bpe_t *b, const unsigned char *p, size_t n, int32_t *sym)
{
    /* rank[i], mid[i]: the merge of sym[i] and sym[i+1] */
    uint32_t rank[SCAN_MAX];
    int32_t mid[SCAN_MAX];
    size_t m = n;
    for (size_t i = 0; i < n; i++)
        sym[i] = b->byte_id[p[i]];
    for (size_t i = 0; i + 1 < m; i++) {
        const wp__bpe_merge_t *mg = wp__bpe_merge_find(b, sym[i], sym[i + 1]);
        rank[i] = mg ? mg->rank : UINT32_MAX;
        mid[i] = mg ? mg->id : -1;
    }
    for (;;) {
        size_t best = SIZE_MAX;
        uint32_t best_rank = UINT32_MAX;
        for (size_t i = 0; i + 1 < m; i++)
            if (rank[i] < best_rank) {
                best_rank = rank[i];
                best = i;
            }
        if (best == SIZE_MAX)
            break;
        sym[best] = mid[best];
        memmove(sym + best + 1, sym + best + 2, (m - best - 2) * sizeof *sym);
        if (best + 3 <= m) { /* the pairs after the merged one move down */
            memmove(rank + best + 1, rank + best + 2, (m - best - 3) * sizeof *rank);
            memmove(mid + best + 1, mid + best + 2, (m - best - 3) * sizeof *mid);
        }
        m--;
        for (size_t i = best > 0 ? best - 1 : 0; i <= best && i + 1 < m; i++) {
            const wp__bpe_merge_t *mg = wp__bpe_merge_find(b, sym[i], sym[i + 1]);
            rank[i] = mg ? mg->rank : UINT32_MAX;
            mid[i] = mg ? mg->id : -1;
        }
    }
    return m;
}

/* A candidate merge of the symbols at pos and right, valid while both still hold lid and
 * rid and are still neighbours. Ordered by rank, then position: the scan's order. */
typedef struct {
    uint32_t rank, pos, right;
    int32_t lid, rid, id;
} cand_t;

static int cand_before(const cand_t *a, const cand_t *c)
{
    return a->rank < c->rank || (a->rank == c->rank && a->pos < c->pos);
}

static void heap_push(cand_t *h, size_t *n, cand_t c)
{
    size_t i = (*n)++;
    while (i > 0 && cand_before(&c, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = c;
}

static cand_t heap_pop(cand_t *h, size_t *n)
{
    cand_t top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t k = 2 * i + 1;
        if (k >= *n)
            break;
        if (k + 1 < *n && cand_before(&h[k + 1], &h[k]))
            k++;
        if (!cand_before(&h[k], &last))
            break;
        h[i] = h[k];
        i = k;
    }
    if (*n)
        h[i] = last;
    return top;
}

static void try_candidate(const wp_bpe_t *b, const int32_t *sym, uint32_t l, uint32_t r, cand_t *h,
                          size_t *hn)
{
    const wp__bpe_merge_t *mg = wp__bpe_merge_find(b, sym[l], sym[r]);
    if (mg)
        heap_push(h, hn, (cand_t){mg->rank, l, r, sym[l], sym[r], mg->id});
}

/* Merges p[0..n) into out (room for n ids) with a linked list of symbols and a heap of
 * candidates checked when popped: O(n log n). Returns the number of ids, SIZE_MAX when out
 * of memory. */
static size_t merge_heap(const wp_bpe_t *b, const unsigned char *p, size_t n, int32_t *out)
{
    const uint32_t none = UINT32_MAX;
    int32_t *sym = malloc(n * sizeof *sym);
    uint32_t *next = malloc(n * sizeof *next), *prev = malloc(n * sizeof *prev);
    unsigned char *dead = calloc(n, 1);
    cand_t *h = malloc(3 * n * sizeof *h); /* n - 1 at first, at most 2 per merge */
    size_t hn = 0, m = SIZE_MAX;
    if (!sym || !next || !prev || !dead || !h || n > UINT32_MAX / 4)
        goto out;
    for (uint32_t i = 0; i < n; i++) {
        sym[i] = b->byte_id[p[i]];
        next[i] = i + 1 < n ? i + 1 : none;
        prev[i] = i > 0 ? i - 1 : none;
    }
    for (uint32_t i = 0; i + 1 < n; i++)
        try_candidate(b, sym, i, i + 1, h, &hn);
    while (hn) {
        cand_t c = heap_pop(h, &hn);
        if (dead[c.pos] || dead[c.right] || next[c.pos] != c.right || sym[c.pos] != c.lid ||
            sym[c.right] != c.rid)
            continue;
        sym[c.pos] = c.id;
        dead[c.right] = 1;
        next[c.pos] = next[c.right];
        if (next[c.pos] != none)
            prev[next[c.pos]] = c.pos;
        if (prev[c.pos] != none)
            try_candidate(b, sym, prev[c.pos], c.pos, h, &hn);
        if (next[c.pos] != none)
            try_candidate(b, sym, c.pos, next[c.pos], h, &hn);
    }
    m = 0;
    for (uint32_t i = 0; i != none; i = next[i])
        out[m++] = sym[i];
out:
    free(sym);
    free(next);
    free(prev);
    free(dead);
    free(h);
    return m;
}

size_t wp__bpe_merge(const wp_bpe_t *b, const unsigned char *p, size_t n, int32_t *out)
{
    return n <= SCAN_MAX ? merge_scan(b, p, n, out) : merge_heap(b, p, n, out);
}

/* BPE-merges pre-token p[0..n) and appends its ids to o: a whole vocab entry as it is, a
 * piece the cache knows from it, any other merged (and cached). */
static int encode_piece(const wp_bpe_t *b, wp_bpe_cache_t *cache, const unsigned char *p, size_t n,
                        ids_t *o)
{
    if (ids_reserve(o, n) != 0)
        return -1;
    if (n == 1) {
        o->v[o->n++] = b->byte_id[p[0]];
        return 0;
    }
    uint64_t h = wp__bpe_hash(p, n);
    const wp__bpe_tok_t *t = wp__bpe_vocab_find_h(b, h, p, n);
    if (t && t->whole) {
        o->v[o->n++] = t->id;
        return 0;
    }
    int cached = cache && n <= CACHE_PIECE_MAX;
    if (cached) {
        const centry_t *e = cache_get(cache, h, p, n);
        if (e) {
            memcpy(o->v + o->n, cache->ids + e->ids_off, e->nids * sizeof(int32_t));
            o->n += e->nids;
            return 0;
        }
    }
    int32_t *sym = o->v + o->n; /* built in place: the result is at most n ids */
    size_t m = wp__bpe_merge(b, p, n, sym);
    if (m == SIZE_MAX)
        return -1;
    if (cached)
        cache_put(cache, h, p, n, sym, m);
    o->n += m;
    return 0;
}

static int encode_stretch(const wp_bpe_t *b, wp_bpe_cache_t *cache, const unsigned char *s,
                          size_t n, ids_t *o)
{
    unsigned char *norm = NULL;
    if (b->nfc && wp__nfc_may_change(s, n)) {
        norm = malloc(3 * n + 16);
        if (!norm)
            return -1;
        n = wp__nfc(s, n, norm);
        if (n == SIZE_MAX) {
            free(norm);
            return -1;
        }
        s = norm;
    }
    int rc = 0;
    size_t i = 0;
    while (i < n && rc == 0) {
        size_t k = wp_pretok_next(b->pretok, s + i, n - i);
        rc = encode_piece(b, cache, s + i, k, o);
        i += k;
    }
    free(norm);
    return rc;
}

/* The length of the longest added token at s[0..n), or 0; its id in *id. */
static size_t added_at(const wp_bpe_t *b, const unsigned char *s, size_t n, int32_t *id)
{
    size_t best = 0;
    for (size_t k = 0; k < b->nadded; k++) {
        const wp__bpe_tok_t *t = &b->added[k];
        if (t->len > best && t->len <= n && memcmp(b->blob + t->off, s, t->len) == 0) {
            best = t->len;
            *id = t->id;
        }
    }
    return best;
}

/* The first i' >= i where s[i'] starts some added token, or len. */
static size_t next_added_first(const wp_bpe_t *b, const unsigned char *s, size_t len, size_t i)
{
    if (b->added_byte >= 0) {
        const unsigned char *q = i < len ? memchr(s + i, b->added_byte, len - i) : NULL;
        return q ? (size_t)(q - s) : len;
    }
    while (i < len && !b->added_first[s[i]])
        i++;
    return i;
}

static size_t utf8_invalid_at(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i += wp__ascii_prefix(s + i, n - i);
            continue;
        }
        uint32_t cp;
        size_t len = wp__utf8_decode(s + i, n - i, &cp);
        if (len == 0)
            return i;
        i += len;
    }
    return SIZE_MAX;
}

wp_status_t wp_bpe_encode(const wp_bpe_t *b, wp_bpe_cache_t *cache, const char *text, size_t len,
                          int32_t **ids, size_t *n, wp_err_t *err)
{
    *ids = NULL;
    *n = 0;
    if (len > WP_BPE_TEXT_MAX)
        return wp_err_set(err, WP_ELIMIT, "text: %zu bytes, above the limit of %zu", len,
                          WP_BPE_TEXT_MAX);
    const unsigned char *s = (const unsigned char *)text;
    size_t bad = utf8_invalid_at(s, len);
    if (bad != SIZE_MAX)
        return wp_err_set(err, WP_EINVAL, "text: not valid UTF-8 at byte %zu", bad);
    ids_t o = {0};
    if (ids_reserve(&o, len / 3 + 16) != 0)
        return wp_err_set(err, WP_ENOMEM, "encode: out of memory");
    size_t start = 0, i = 0;
    int rc = 0;
    while ((i = next_added_first(b, s, len, i)) < len && rc == 0) {
        int32_t id;
        size_t k = added_at(b, s + i, len - i, &id);
        if (!k) {
            i++;
            continue;
        }
        rc = encode_stretch(b, cache, s + start, i - start, &o);
        if (rc == 0 && (rc = ids_reserve(&o, 1)) == 0)
            o.v[o.n++] = id;
        i += k;
        start = i;
    }
    if (rc == 0)
        rc = encode_stretch(b, cache, s + start, len - start, &o);
    if (rc != 0) {
        free(o.v);
        return wp_err_set(err, WP_ENOMEM, "encode: out of memory");
    }
    if (o.n == 0) {
        free(o.v);
        o.v = NULL;
    }
    *ids = o.v;
    *n = o.n;
    return WP_OK;
}
