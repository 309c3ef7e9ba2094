/*
 * kvhash: each hash is one SHA-256 over a CBOR item written straight into the digest. The
 * CBOR writer stages bytes in a small stack buffer whose sink is EVP_DigestUpdate, so a
 * block of any size is hashed without an allocation of ours and without building the
 * encoding in memory first. A sink cannot return an error, so the first failed update is
 * remembered in the sink's context and reported at the end.
 */
#include "kvhash/kvhash.h"

#include <string.h>

#include <openssl/evp.h>

#include "kvhash/cbor.h"

/* SHA-256, fetched once per call of ours (a chain's blocks share it: fetching the
 * algorithm for each block, as EVP_sha256() does under OpenSSL 3, was 40 % of a 100k-token
 * prompt's hashing), and one context reset per digest. */
typedef struct digest_s {
    EVP_MD *alg;
    EVP_MD_CTX *md;
    int failed;
} digest_t;

static void digest_close(digest_t *d)
{
    EVP_MD_CTX_free(d->md);
    EVP_MD_free(d->alg);
}

static wp_status_t digest_open(digest_t *d)
{
    d->alg = EVP_MD_fetch(NULL, "SHA256", NULL);
    d->md = EVP_MD_CTX_new();
    if (d->alg == NULL || d->md == NULL) {
        digest_close(d);
        return WP_EIO;
    }
    return WP_OK;
}

static void digest_sink(void *ctx, const uint8_t *p, size_t n)
{
    digest_t *d = ctx;
    if (!d->failed && EVP_DigestUpdate(d->md, p, n) != 1)
        d->failed = 1;
}

static wp_status_t digest_begin(digest_t *d)
{
    d->failed = 0;
    return EVP_DigestInit_ex2(d->md, d->alg, NULL) == 1 ? WP_OK : WP_EIO;
}

static wp_status_t digest_end(digest_t *d, wp_cbor_t *w, wp_kvhash_t *out)
{
    wp_cbor_flush(w);
    unsigned len = 0;
    int ok = !d->failed && EVP_DigestFinal_ex(d->md, out->b, &len) == 1 && len == WP_KVHASH_LEN;
    return ok ? WP_OK : WP_EIO;
}

wp_status_t wp_kvhash_seed(const char *seed, size_t len, wp_kvhash_t *out)
{
    digest_t d;
    uint8_t buf[64];
    wp_cbor_t w;
    if (digest_open(&d) != WP_OK)
        return WP_EIO;
    wp_status_t st = digest_begin(&d);
    if (st == WP_OK) {
        wp_cbor_init(&w, buf, sizeof(buf), digest_sink, &d);
        wp_cbor_text(&w, seed, len);
        st = digest_end(&d, &w, out);
    }
    digest_close(&d);
    return st;
}

static void write_key(wp_cbor_t *w, const wp_kvhash_key_t *k)
{
    switch (k->kind) {
    case WP_KVHASH_KEY_TEXT:
        wp_cbor_text(w, k->data, k->len);
        break;
    case WP_KVHASH_KEY_BYTES:
        wp_cbor_bytes(w, k->data, k->len);
        break;
    case WP_KVHASH_KEY_MM:
        wp_cbor_array(w, 2);
        wp_cbor_text(w, k->data, k->len);
        wp_cbor_int(w, k->offset);
        break;
    }
}

/* [parent, [tokens...], extra or null] */
static void write_block(wp_cbor_t *w, const wp_kvhash_t *parent, const int32_t *tokens, size_t n,
                        const wp_kvhash_key_t *extra, size_t n_extra)
{
    wp_cbor_array(w, 3);
    wp_cbor_bytes(w, parent->b, WP_KVHASH_LEN);
    wp_cbor_array(w, n);
    for (size_t i = 0; i < n; i++)
        wp_cbor_int(w, tokens[i]);
    if (n_extra == 0) {
        wp_cbor_null(w);
        return;
    }
    wp_cbor_array(w, n_extra);
    for (size_t i = 0; i < n_extra; i++)
        write_key(w, &extra[i]);
}

/* One block with an open digest. */
static wp_status_t block_with(digest_t *d, const wp_kvhash_t *parent, const int32_t *tokens,
                              size_t n, const wp_kvhash_key_t *extra, size_t n_extra,
                              wp_kvhash_t *out)
{
    uint8_t buf[512];
    wp_cbor_t w;
    if (digest_begin(d) != WP_OK)
        return WP_EIO;
    wp_cbor_init(&w, buf, sizeof(buf), digest_sink, d);
    write_block(&w, parent, tokens, n, extra, n_extra);
    return digest_end(d, &w, out);
}

wp_status_t wp_kvhash_block(const wp_kvhash_t *parent, const int32_t *tokens, size_t n,
                            const wp_kvhash_key_t *extra, size_t n_extra, wp_kvhash_t *out)
{
    digest_t d;
    if (digest_open(&d) != WP_OK)
        return WP_EIO;
    wp_status_t st = block_with(&d, parent, tokens, n, extra, n_extra, out);
    digest_close(&d);
    return st;
}

/* Block i's extra keys under opts, in vLLM's order (LoRA name, then cache_salt); returns
 * how many. */
static size_t chain_keys(const wp_kvhash_opts_t *opts, size_t i, wp_kvhash_key_t keys[2])
{
    size_t k = 0;
    if (opts->lora_name != NULL)
        keys[k++] =
            (wp_kvhash_key_t){WP_KVHASH_KEY_TEXT, opts->lora_name, strlen(opts->lora_name), 0};
    if (i == 0 && opts->cache_salt != NULL && opts->cache_salt[0] != 0)
        keys[k++] =
            (wp_kvhash_key_t){WP_KVHASH_KEY_TEXT, opts->cache_salt, strlen(opts->cache_salt), 0};
    return k;
}

/* The chain of tokens[0..n)'s full blocks from seed, with one digest for all of them: each
 * block's full digest into full[i] (when full is not NULL) and its 64-bit form into
 * u64[i] (when u64 is not NULL), for the first cap blocks. */
static wp_status_t chain(const wp_kvhash_t *seed, const int32_t *tokens, size_t n,
                         const wp_kvhash_opts_t *opts, wp_kvhash_t *full, uint64_t *u64, size_t cap,
                         size_t *n_blocks)
{
    static const wp_kvhash_opts_t defaults = {0};
    if (opts == NULL)
        opts = &defaults;
    size_t bs = opts->block_size ? opts->block_size : WP_KVHASH_BLOCK_SIZE;
    *n_blocks = n / bs;
    wp_kvhash_t h = *seed;
    digest_t d;
    if (digest_open(&d) != WP_OK)
        return WP_EIO;
    wp_status_t st = WP_OK;
    for (size_t i = 0; i < *n_blocks && i < cap && st == WP_OK; i++) {
        wp_kvhash_key_t keys[2];
        size_t nk = chain_keys(opts, i, keys);
        st = block_with(&d, &h, tokens + i * bs, bs, keys, nk, &h);
        if (full != NULL)
            full[i] = h;
        if (u64 != NULL)
            u64[i] = wp_kvhash_u64(&h);
    }
    digest_close(&d);
    return st;
}

wp_status_t wp_kvhash_chain(const wp_kvhash_t *seed, const int32_t *tokens, size_t n,
                            const wp_kvhash_opts_t *opts, wp_kvhash_t *out, size_t cap,
                            size_t *n_blocks)
{
    return chain(seed, tokens, n, opts, out, NULL, cap, n_blocks);
}

wp_status_t wp_kvhash_chain_u64(const wp_kvhash_t *seed, const int32_t *tokens, size_t n,
                                const wp_kvhash_opts_t *opts, uint64_t *out, size_t cap,
                                size_t *n_blocks)
{
    return chain(seed, tokens, n, opts, NULL, out, cap, n_blocks);
}

uint64_t wp_kvhash_u64(const wp_kvhash_t *h)
{
    uint64_t v = 0;
    for (size_t i = WP_KVHASH_LEN - 8; i < WP_KVHASH_LEN; i++)
        v = v << 8 | h->b[i];
    return v;
}

void wp_kvhash_hex(const wp_kvhash_t *h, char out[2 * WP_KVHASH_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < WP_KVHASH_LEN; i++) {
        out[2 * i] = digits[h->b[i] >> 4];
        out[2 * i + 1] = digits[h->b[i] & 15];
    }
    out[2 * WP_KVHASH_LEN] = 0;
}
