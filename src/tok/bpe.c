/*
 * tok/bpe: loading tokenizer.json (encoding is in bpe_encode.c).
 *
 * Tokens are kept as raw bytes: every vocab string is mapped back from the GPT-2
 * byte-level alphabet (the 188 printable bytes stand for themselves, the other 68 were
 * moved to U+0100 and up) when the file is loaded, so encoding never builds byte-level
 * strings. The vocab is an open-addressing table of the entries by the hash of their bytes
 * (16 bytes a slot with 16 bits of the hash, so a probe reads the blob only for a likely
 * match); the merges a table from the id pair (left, right) to (rank, merged id). Once the
 * merges are in, every vocab entry is merged from its bytes once: those that come out as
 * themselves are marked whole (all of them under ignore_merges).
 *
 * Encoding: added tokens are found in the raw text first (at each byte whose value starts
 * some added token, the longest one that matches there); each stretch between them is
 * normalized (NFC when asked, and only when it has code points at or above U+0300), cut
 * into pre-tokens (tok/pretok), and each pre-token is BPE-merged: start from one token per
 * byte, then repeatedly merge the adjacent pair with the lowest rank (leftmost on ties)
 * until no pair has a rank. A pre-token that is a whole vocab entry is that token without
 * merging (most English words: in this project's docs the no-cache path merges about one
 * pre-token in 25). A pre-token's ids depend on its bytes alone, so the caller's cache maps the
 * others already seen to their ids.
 *
 * Merging a pre-token of up to 64 bytes scans its symbols for the best pair at each step
 * (quadratic, but words are short and this needs no allocation); a longer one (a run of
 * spaces, a long word) keeps its symbols in a linked list and the candidate pairs in a
 * heap ordered by (rank, position), each checked when popped: O(n log n), the same order.
 */
#include "tok/bpe.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "tok/bpe_impl.h"
#include "tok/pretok.h"
#include "tok/unicode.h"

/* ---- the byte-level alphabet ---- */

static int printable_byte(unsigned b)
{
    return (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

/* The byte that code point cp stands for, or -1. */
static int byte_of_cp(uint32_t cp)
{
    if (cp < 256)
        return printable_byte(cp) ? (int)cp : -1;
    if (cp >= 256 + 68)
        return -1;
    unsigned k = cp - 256, seen = 0;
    for (unsigned b = 0; b < 256; b++)
        if (!printable_byte(b) && seen++ == k)
            return (int)b;
    return -1;
}

/* Maps byte-level string s into raw bytes at out (room for n bytes); returns the length,
 * or -1 when a character is not in the alphabet. */
static long from_byte_level(const char *s, size_t n, unsigned char *out, const int *inv)
{
    size_t i = 0, o = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = wp__utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (len == 0 || cp >= 512 || inv[cp] < 0)
            return -1;
        out[o++] = (unsigned char)inv[cp];
        i += len;
    }
    return (long)o;
}

/* ---- tables ---- */

static int blob_add(wp_bpe_t *b, const unsigned char *p, size_t n, uint32_t *off)
{
    if (b->blob_len + n > b->blob_cap) {
        size_t cap = b->blob_cap ? b->blob_cap * 2 : 1 << 16;
        while (cap < b->blob_len + n)
            cap *= 2;
        if (cap > UINT32_MAX)
            return -1;
        unsigned char *nb = realloc(b->blob, cap);
        if (!nb)
            return -1;
        b->blob = nb;
        b->blob_cap = cap;
    }
    *off = (uint32_t)b->blob_len;
    if (n == 0)
        return 0;
    memcpy(b->blob + b->blob_len, p, n);
    b->blob_len += n;
    return 0;
}

/* Puts t (its off, len and id set) into its slot; the bytes must not be there already. */
static wp__bpe_tok_t *vocab_insert(wp_bpe_t *b, wp__bpe_tok_t t)
{
    uint64_t h = wp__bpe_hash(b->blob + t.off, t.len);
    size_t i = (size_t)h & b->vmask;
    while (b->vtab[i].len)
        i = (i + 1) & b->vmask;
    t.tag = wp__bpe_tag(h);
    b->vtab[i] = t;
    b->nvocab++;
    return &b->vtab[i];
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

const wp__bpe_merge_t *wp__bpe_merge_find(const wp_bpe_t *b, int32_t l, int32_t r)
{
    uint64_t key = ((uint64_t)(uint32_t)l << 32) | (uint32_t)r;
    size_t i = (size_t)mix64(key) & b->mmask;
    for (;;) {
        const wp__bpe_merge_t *m = &b->mslots[i];
        if (m->rank == UINT32_MAX)
            return NULL;
        if (m->key == key)
            return m;
        i = (i + 1) & b->mmask;
    }
}

/* Inserts unless the pair is there already (the lower rank, seen first, stays). */
static void merge_insert(wp_bpe_t *b, int32_t l, int32_t r, uint32_t rank, int32_t id)
{
    uint64_t key = ((uint64_t)(uint32_t)l << 32) | (uint32_t)r;
    size_t i = (size_t)mix64(key) & b->mmask;
    while (b->mslots[i].rank != UINT32_MAX) {
        if (b->mslots[i].key == key)
            return;
        i = (i + 1) & b->mmask;
    }
    b->mslots[i] = (wp__bpe_merge_t){key, rank, id};
    b->nmerges++;
}

/* ---- loading ---- */

static int is_true(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static int empty_or_null(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return !v || cJSON_IsNull(v) || (cJSON_IsString(v) && v->valuestring[0] == '\0');
}

static const char *type_of(const cJSON *o)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

static wp_status_t load_normalizer(wp_bpe_t *b, const cJSON *n, wp_err_t *err)
{
    if (!n || cJSON_IsNull(n))
        return WP_OK;
    const char *t = type_of(n);
    if (t && strcmp(t, "NFC") == 0) {
        b->nfc = 1;
        return WP_OK;
    }
    if (t && strcmp(t, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(n, "normalizers");
        const cJSON *e;
        cJSON_ArrayForEach(e, list)
        {
            wp_status_t st = load_normalizer(b, e, err);
            if (st != WP_OK)
                return st;
        }
        return WP_OK;
    }
    return wp_err_set(err, WP_EINVAL, "normalizer: type '%s' is not supported (NFC only)",
                      t ? t : "(none)");
}

static wp_status_t load_byte_level(const cJSON *p, int in_sequence, wp_bpe_t *b, wp_err_t *err)
{
    if (is_true(p, "add_prefix_space"))
        return wp_err_set(err, WP_EINVAL,
                          "pre_tokenizer: ByteLevel add_prefix_space true is not supported");
    const cJSON *ur = cJSON_GetObjectItemCaseSensitive(p, "use_regex");
    int use_regex = !ur || cJSON_IsTrue(ur); /* the default is true */
    if (use_regex && in_sequence)
        return wp_err_set(err, WP_EINVAL,
                          "pre_tokenizer: a ByteLevel with use_regex true after a Split "
                          "is not supported");
    if (use_regex)
        b->pretok = WP_PRETOK_GPT2;
    return WP_OK;
}

static wp_status_t load_split(const cJSON *p, wp_bpe_t *b, wp_err_t *err)
{
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(p, "pattern");
    const cJSON *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
    if (!cJSON_IsString(re))
        return wp_err_set(err, WP_EINVAL, "pre_tokenizer: Split pattern must be a Regex");
    const cJSON *beh = cJSON_GetObjectItemCaseSensitive(p, "behavior");
    if (!cJSON_IsString(beh) || strcmp(beh->valuestring, "Isolated") != 0)
        return wp_err_set(err, WP_EINVAL,
                          "pre_tokenizer: Split behavior must be 'Isolated' (found '%s')",
                          cJSON_IsString(beh) ? beh->valuestring : "(none)");
    if (is_true(p, "invert"))
        return wp_err_set(err, WP_EINVAL, "pre_tokenizer: Split invert true is not supported");
    b->pretok = wp_pretok_kind_from_pattern(re->valuestring, strlen(re->valuestring));
    if (b->pretok == WP_PRETOK_NONE)
        return wp_err_set(err, WP_EINVAL,
                          "pre_tokenizer: Split pattern '%.200s' is not one of the known "
                          "patterns (Qwen2, Llama 3, GPT-2)",
                          re->valuestring);
    return WP_OK;
}

static wp_status_t load_pre_tokenizer(wp_bpe_t *b, const cJSON *p, wp_err_t *err)
{
    const char *t = p ? type_of(p) : NULL;
    if (!p || cJSON_IsNull(p))
        return wp_err_set(err, WP_EINVAL, "pre_tokenizer: missing (a byte-level BPE has one)");
    if (t && strcmp(t, "ByteLevel") == 0)
        return load_byte_level(p, 0, b, err);
    if (!t || strcmp(t, "Sequence") != 0)
        return wp_err_set(err, WP_EINVAL,
                          "pre_tokenizer: type '%s' is not supported (ByteLevel or Sequence)",
                          t ? t : "(none)");
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers");
    int n = cJSON_GetArraySize(list);
    const cJSON *a = cJSON_GetArrayItem(list, 0), *c = cJSON_GetArrayItem(list, 1);
    if (n != 2 || !type_of(a) || strcmp(type_of(a), "Split") != 0 || !type_of(c) ||
        strcmp(type_of(c), "ByteLevel") != 0)
        return wp_err_set(err, WP_EINVAL,
                          "pre_tokenizer: a Sequence must be [Split, ByteLevel] (found %d "
                          "entries)",
                          n);
    wp_status_t st = load_split(a, b, err);
    return st != WP_OK ? st : load_byte_level(c, 1, b, err);
}

static wp_status_t load_vocab(wp_bpe_t *b, const cJSON *vocab, const int *inv, wp_err_t *err)
{
    if (!cJSON_IsObject(vocab))
        return wp_err_set(err, WP_EINVAL, "model.vocab: missing or not an object");
    size_t n = (size_t)cJSON_GetArraySize(vocab);
    b->vmask = wp__bpe_pow2(n + n / 2 + 1) - 1;
    b->vtab = calloc(b->vmask + 1, sizeof *b->vtab);
    if (!b->vtab)
        return wp_err_set(err, WP_ENOMEM, "model.vocab: out of memory (%zu tokens)", n);
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab)
    {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= INT32_MAX ||
            e->valuedouble != (double)(int32_t)e->valuedouble)
            return wp_err_set(err, WP_EINVAL,
                              "model.vocab['%.100s']: id must be an integer in "
                              "[0, 2^31-1)",
                              e->string);
        size_t len = strlen(e->string);
        unsigned char stackbuf[256];
        unsigned char *raw = len <= sizeof stackbuf ? stackbuf : malloc(len);
        if (!raw)
            return wp_err_set(err, WP_ENOMEM, "model.vocab: out of memory");
        long rl = from_byte_level(e->string, len, raw, inv);
        wp_status_t st = WP_OK;
        if (rl <= 0) {
            /* empty, or not a byte-level string (a special token kept in the vocab):
             * BPE never produces it, wp_bpe_token_id does not know it */
        } else if (wp__bpe_vocab_find(b, raw, (size_t)rl)) {
            st = wp_err_set(err, WP_EINVAL, "model.vocab: '%.100s' appears twice", e->string);
        } else {
            wp__bpe_tok_t t = {.len = (uint32_t)rl, .id = (int32_t)e->valuedouble};
            if (blob_add(b, raw, (size_t)rl, &t.off) != 0)
                st = wp_err_set(err, WP_ENOMEM, "model.vocab: out of memory");
            else {
                vocab_insert(b, t);
                if ((size_t)t.id + 1 > b->vocab_size)
                    b->vocab_size = (size_t)t.id + 1;
            }
        }
        if (raw != stackbuf)
            free(raw);
        if (st != WP_OK)
            return st;
    }
    for (unsigned byte = 0; byte < 256; byte++) {
        unsigned char c = (unsigned char)byte;
        const wp__bpe_tok_t *t = wp__bpe_vocab_find(b, &c, 1);
        if (!t)
            return wp_err_set(err, WP_EINVAL,
                              "model.vocab: byte 0x%02x has no token (a byte-level vocab "
                              "has all 256)",
                              byte);
        b->byte_id[byte] = t->id;
    }
    return WP_OK;
}

/* Splits merge entry e into its two sides. */
static int merge_sides(const cJSON *e, const char **l, size_t *ll, const char **r, size_t *rl)
{
    if (cJSON_IsString(e)) {
        const char *s = e->valuestring;
        const char *sp = strchr(s, ' ');
        if (!sp || sp == s || !sp[1] || strchr(sp + 1, ' '))
            return -1;
        *l = s, *ll = (size_t)(sp - s), *r = sp + 1, *rl = strlen(sp + 1);
        return 0;
    }
    if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2) {
        const cJSON *a = cJSON_GetArrayItem(e, 0), *c = cJSON_GetArrayItem(e, 1);
        if (!cJSON_IsString(a) || !cJSON_IsString(c))
            return -1;
        *l = a->valuestring, *ll = strlen(a->valuestring);
        *r = c->valuestring, *rl = strlen(c->valuestring);
        return 0;
    }
    return -1;
}

static wp_status_t load_merges(wp_bpe_t *b, const cJSON *merges, const int *inv, wp_err_t *err)
{
    if (!cJSON_IsArray(merges))
        return wp_err_set(err, WP_EINVAL, "model.merges: missing or not an array");
    size_t n = (size_t)cJSON_GetArraySize(merges);
    b->mmask = wp__bpe_pow2(n * 2) - 1;
    b->mslots = malloc((b->mmask + 1) * sizeof *b->mslots);
    if (!b->mslots)
        return wp_err_set(err, WP_ENOMEM, "model.merges: out of memory (%zu merges)", n);
    for (size_t i = 0; i <= b->mmask; i++)
        b->mslots[i] = (wp__bpe_merge_t){0, UINT32_MAX, -1};
    unsigned char *buf = NULL;
    size_t cap = 0;
    uint32_t rank = 0;
    const cJSON *e;
    wp_status_t st = WP_OK;
    cJSON_ArrayForEach(e, merges)
    {
        const char *l, *r;
        size_t ll, rl;
        if (merge_sides(e, &l, &ll, &r, &rl) != 0) {
            st = wp_err_set(err, WP_EINVAL, "model.merges[%u]: expected \"a b\" or [\"a\", \"b\"]",
                            rank);
            break;
        }
        if (ll + rl > cap) {
            cap = (ll + rl) * 2;
            free(buf);
            buf = malloc(cap);
            if (!buf) {
                st = wp_err_set(err, WP_ENOMEM, "model.merges: out of memory");
                break;
            }
        }
        long a = from_byte_level(l, ll, buf, inv);
        long c = a < 0 ? -1 : from_byte_level(r, rl, buf + a, inv);
        const wp__bpe_tok_t *ka = a <= 0 ? NULL : wp__bpe_vocab_find(b, buf, (size_t)a);
        const wp__bpe_tok_t *kc = c <= 0 ? NULL : wp__bpe_vocab_find(b, buf + a, (size_t)c);
        const wp__bpe_tok_t *km = !ka || !kc ? NULL : wp__bpe_vocab_find(b, buf, (size_t)(a + c));
        if (!ka || !kc || !km) {
            const char *what = !ka ? l : !kc ? r : "their concatenation";
            int wl = !ka ? (int)ll : !kc ? (int)rl : 19;
            st = wp_err_set(err, WP_EINVAL, "model.merges[%u]: '%.*s' is not in the vocab", rank,
                            wl > 100 ? 100 : wl, what);
            break;
        }
        merge_insert(b, ka->id, kc->id, rank, km->id);
        rank++;
    }
    free(buf);
    return st;
}

/* Marks the vocab entries whose bytes, as a pre-token, encode to them alone. */
static wp_status_t mark_whole(wp_bpe_t *b, wp_err_t *err)
{
    size_t cap = 0;
    int32_t *out = NULL;
    for (size_t i = 0; i <= b->vmask; i++) {
        wp__bpe_tok_t *t = &b->vtab[i];
        if (t->len == 0)
            continue;
        if (b->ignore_merges || t->len == 1) {
            t->whole = 1;
            continue;
        }
        if (t->len > cap) {
            free(out);
            cap = t->len * 2;
            out = malloc(cap * sizeof *out);
            if (!out)
                return wp_err_set(err, WP_ENOMEM, "model.vocab: out of memory");
        }
        size_t m = wp__bpe_merge(b, b->blob + t->off, t->len, out);
        if (m == SIZE_MAX) {
            free(out);
            return wp_err_set(err, WP_ENOMEM, "model.vocab: out of memory");
        }
        t->whole = m == 1 && out[0] == t->id;
    }
    free(out);
    return WP_OK;
}

static wp_status_t load_added(wp_bpe_t *b, const cJSON *added, wp_err_t *err)
{
    b->added_byte = -1;
    if (!added || cJSON_IsNull(added))
        return WP_OK;
    if (!cJSON_IsArray(added))
        return wp_err_set(err, WP_EINVAL, "added_tokens: not an array");
    size_t n = (size_t)cJSON_GetArraySize(added);
    b->added = calloc(n ? n : 1, sizeof *b->added);
    if (!b->added)
        return wp_err_set(err, WP_ENOMEM, "added_tokens: out of memory");
    const cJSON *e;
    size_t i = 0;
    cJSON_ArrayForEach(e, added)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble >= INT32_MAX ||
            !cJSON_IsString(content) || content->valuestring[0] == '\0')
            return wp_err_set(err, WP_EINVAL,
                              "added_tokens[%zu]: needs an integer id and a non-empty content", i);
        if (is_true(e, "lstrip") || is_true(e, "rstrip") || is_true(e, "single_word"))
            return wp_err_set(err, WP_EINVAL,
                              "added_tokens[%zu] '%.100s': lstrip, rstrip and single_word "
                              "must be false",
                              i, content->valuestring);
        wp__bpe_tok_t *t = &b->added[b->nadded++];
        size_t len = strlen(content->valuestring);
        if (blob_add(b, (const unsigned char *)content->valuestring, len, &t->off) != 0)
            return wp_err_set(err, WP_ENOMEM, "added_tokens: out of memory");
        t->len = (uint32_t)len;
        t->id = (int32_t)id->valuedouble;
        unsigned char first = (unsigned char)content->valuestring[0];
        b->added_first[first] = 1;
        b->added_byte = b->nadded == 1 || b->added_byte == first ? first : -1;
        if ((size_t)t->id + 1 > b->vocab_size)
            b->vocab_size = (size_t)t->id + 1;
        i++;
    }
    return WP_OK;
}

static wp_status_t load_model(wp_bpe_t *b, const cJSON *m, wp_err_t *err)
{
    if (!cJSON_IsObject(m))
        return wp_err_set(err, WP_EINVAL, "model: missing or not an object");
    const char *t = type_of(m);
    if (t && strcmp(t, "BPE") != 0)
        return wp_err_set(err, WP_EINVAL, "model.type: '%s' is not supported (BPE only)", t);
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(m, "dropout");
    if (dropout && !cJSON_IsNull(dropout))
        return wp_err_set(err, WP_EINVAL, "model.dropout: must be null");
    if (is_true(m, "byte_fallback"))
        return wp_err_set(err, WP_EINVAL, "model.byte_fallback: true is not supported");
    if (!empty_or_null(m, "continuing_subword_prefix") || !empty_or_null(m, "end_of_word_suffix"))
        return wp_err_set(err, WP_EINVAL,
                          "model: continuing_subword_prefix and "
                          "end_of_word_suffix must be empty");
    b->ignore_merges = is_true(m, "ignore_merges");
    int inv[512];
    for (uint32_t cp = 0; cp < 512; cp++)
        inv[cp] = byte_of_cp(cp);
    wp_status_t st = load_vocab(b, cJSON_GetObjectItemCaseSensitive(m, "vocab"), inv, err);
    if (st == WP_OK)
        st = load_merges(b, cJSON_GetObjectItemCaseSensitive(m, "merges"), inv, err);
    return st != WP_OK ? st : mark_whole(b, err);
}

wp_status_t wp_bpe_load(const char *json, size_t len, wp_bpe_t **out, wp_err_t *err)
{
    *out = NULL;
    if (len > WP_BPE_JSON_MAX)
        return wp_err_set(err, WP_ELIMIT, "tokenizer.json: %zu bytes, above the limit of %zu", len,
                          WP_BPE_JSON_MAX);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at && at >= json && at <= json + len ? (size_t)(at - json) : 0;
        return wp_err_set(err, WP_EINVAL, "tokenizer.json: not valid JSON (near byte %zu)", off);
    }
    wp_bpe_t *b = calloc(1, sizeof *b);
    wp_status_t st = WP_OK;
    if (!b)
        st = wp_err_set(err, WP_ENOMEM, "tokenizer: out of memory");
    else if (!cJSON_IsObject(root))
        st = wp_err_set(err, WP_EINVAL, "tokenizer.json: not an object");
    if (st == WP_OK)
        st = load_model(b, cJSON_GetObjectItemCaseSensitive(root, "model"), err);
    if (st == WP_OK)
        st = load_normalizer(b, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), err);
    if (st == WP_OK)
        st = load_pre_tokenizer(b, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), err);
    if (st == WP_OK)
        st = load_added(b, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), err);
    cJSON_Delete(root);
    if (st != WP_OK) {
        wp_bpe_free(b);
        return st;
    }
    *out = b;
    return WP_OK;
}

void wp_bpe_free(wp_bpe_t *b)
{
    if (!b)
        return;
    free(b->blob);
    free(b->vtab);
    free(b->mslots);
    free(b->added);
    free(b);
}

int32_t wp_bpe_token_id(const wp_bpe_t *b, const char *text, size_t len)
{
    for (size_t i = 0; i < b->nadded; i++)
        if (b->added[i].len == len && memcmp(b->blob + b->added[i].off, text, len) == 0)
            return b->added[i].id;
    int inv[512];
    for (uint32_t cp = 0; cp < 512; cp++)
        inv[cp] = byte_of_cp(cp);
    unsigned char *raw = malloc(len ? len : 1);
    if (!raw)
        return -1;
    long rl = from_byte_level(text, len, raw, inv);
    const wp__bpe_tok_t *t = rl <= 0 ? NULL : wp__bpe_vocab_find(b, raw, (size_t)rl);
    free(raw);
    return t ? t->id : -1;
}

size_t wp_bpe_vocab_size(const wp_bpe_t *b)
{
    return b->vocab_size;
}

/* Whether the bytes of vocab entry t merge to t alone. */
static int merges_to_itself(const wp_bpe_t *b, const wp__bpe_tok_t *t)
{
    int32_t *out = malloc(t->len * sizeof *out);
    size_t m = out ? wp__bpe_merge(b, b->blob + t->off, t->len, out) : SIZE_MAX;
    int same = m == 1 && out[0] == t->id;
    free(out);
    return same;
}

wp_status_t wp_bpe_validate(const wp_bpe_t *b, wp_err_t *err)
{
    for (unsigned c = 0; c < 256; c++) {
        unsigned char byte = (unsigned char)c;
        const wp__bpe_tok_t *t = wp__bpe_vocab_find(b, &byte, 1);
        if (!t || t->id != b->byte_id[c])
            return wp_err_set(err, WP_EINVAL, "byte 0x%02x: no token or a stale id", c);
    }
    size_t merges = 0;
    for (size_t i = 0; i <= b->mmask; i++) {
        if (b->mslots[i].rank == UINT32_MAX)
            continue;
        merges++;
        if (b->mslots[i].id < 0 || (size_t)b->mslots[i].id >= b->vocab_size)
            return wp_err_set(err, WP_EINVAL, "merge rank %u: id %d out of range",
                              b->mslots[i].rank, b->mslots[i].id);
    }
    if (merges != b->nmerges)
        return wp_err_set(err, WP_EINVAL, "merges: %zu in the table, %zu counted", merges,
                          b->nmerges);
    size_t used = 0;
    for (size_t i = 0; i <= b->vmask; i++) {
        const wp__bpe_tok_t *t = &b->vtab[i];
        if (t->len == 0)
            continue;
        used++;
        if (wp__bpe_vocab_find(b, b->blob + t->off, t->len) != t)
            return wp_err_set(err, WP_EINVAL, "vocab slot %zu: not found by its bytes", i);
        if (t->whole > 1 || (t->whole && !b->ignore_merges && !merges_to_itself(b, t)))
            return wp_err_set(err, WP_EINVAL,
                              "vocab slot %zu (id %d): marked whole, but its bytes "
                              "do not merge to it",
                              i, t->id);
    }
    if (used != b->nvocab || used > b->vmask)
        return wp_err_set(err, WP_EINVAL, "vocab: %zu slots used, %zu counted, %zu in all", used,
                          b->nvocab, b->vmask + 1);
    return WP_OK;
}
