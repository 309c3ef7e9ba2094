/*
 * kvhash: vLLM's portable prefix-cache block hashes, byte for byte, so that the hashes a
 * vLLM server publishes in its KV events (docs/reference.md §6, docs/kv-hash.md) can be
 * matched to the blocks of a prompt the gateway has tokenized.
 *
 * The format, as vLLM computes it with `--prefix-caching-hash-algo sha256_cbor` (read in
 * vllm/v1/core/kv_cache_utils.py at commit 001cabc1be16a59a70d720ed61a13b678c060a18 and
 * vllm/utils/hashing.py at ac621345a4eb18058bb24b242b457f634d476b40):
 *
 *  - sha256_cbor(x) is SHA-256 over the canonical CBOR of x (Python tuples are CBOR
 *    arrays, bytes byte strings, str text strings, int integers, None null). The full
 *    32-byte digest is the block hash.
 *  - The seed (vLLM's NONE_HASH) is sha256_cbor of the server's PYTHONHASHSEED value, as
 *    the text string it is in the environment ("0" -> SHA-256 of 61 30). A server started
 *    without PYTHONHASHSEED draws 32 random bytes instead: no one else can reproduce its
 *    hashes.
 *  - Block i of a prompt covers tokens [i*B, (i+1)*B) (B = block size, 16 by default);
 *    only full blocks are hashed, a partial last block has no hash. Its hash is
 *    sha256_cbor([parent, [token ids], extra_keys]) with parent = the seed for block 0,
 *    else block i-1's 32-byte hash, and extra_keys null when the block has none.
 *  - extra_keys, when present, is an array in this order: the LoRA adapter's name (every
 *    block of a LoRA request, even an empty name); for each multimodal item the block
 *    overlaps, [item identifier, item start - block start] (the offset may be negative);
 *    the request's cache_salt (block 0 only, and only when not empty); a prompt-embeds
 *    digest (bytes).
 *  - KV events carry a hash as 64 bits by default (VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=1):
 *    the digest read as a big-endian integer, mod 2^64, i.e. its last 8 bytes. With that
 *    variable at 0 they carry the 32 bytes; wp_kvhash_u64 turns either into one key.
 *
 * Pure functions: no state, no clock, no I/O. Buffers belong to the caller; the digest
 * context is made and freed inside each call (OpenSSL's EVP interface allocates it).
 */
#ifndef WP_KVHASH_KVHASH_H
#define WP_KVHASH_KVHASH_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define WP_KVHASH_LEN 32
#define WP_KVHASH_BLOCK_SIZE 16 /* vLLM's default block size */

typedef struct wp_kvhash_s {
    uint8_t b[WP_KVHASH_LEN];
} wp_kvhash_t;

typedef enum {
    WP_KVHASH_KEY_TEXT,  /* a text string: a LoRA name, a cache_salt (UTF-8) */
    WP_KVHASH_KEY_BYTES, /* a byte string: a prompt-embeds digest */
    WP_KVHASH_KEY_MM,    /* [identifier as text, offset]: a multimodal item in the block */
} wp_kvhash_key_kind_t;

/* One element of a block's extra_keys. data[0..len) is borrowed for the call. */
typedef struct wp_kvhash_key_s {
    wp_kvhash_key_kind_t kind;
    const void *data;
    size_t len;
    int64_t offset; /* WP_KVHASH_KEY_MM only: item start minus block start */
} wp_kvhash_key_t;

/* The chain's options. Zeroed, it is vLLM's default: blocks of 16, no salt, no LoRA. */
typedef struct wp_kvhash_opts_s {
    size_t block_size;      /* 0 means WP_KVHASH_BLOCK_SIZE */
    const char *cache_salt; /* NULL or "": none; else a key of block 0 */
    const char *lora_name;  /* NULL: none; else a key of every block ("" included) */
} wp_kvhash_opts_t;

/* vLLM's NONE_HASH for PYTHONHASHSEED = seed[0..len). WP_EIO only if OpenSSL fails. */
wp_status_t wp_kvhash_seed(const char *seed, size_t len, wp_kvhash_t *out);

/* One block's hash: parent is the seed for a prompt's first block, else the previous
 * block's hash; tokens[0..n) its ids; extra[0..n_extra) its extra keys (n_extra 0: null).
 * out may alias parent. WP_EIO only if OpenSSL fails. */
wp_status_t wp_kvhash_block(const wp_kvhash_t *parent, const int32_t *tokens, size_t n,
                            const wp_kvhash_key_t *extra, size_t n_extra, wp_kvhash_t *out);

/* The hashes of a prompt's full blocks, from seed: *n_blocks = n / block size, and the
 * first min(*n_blocks, cap) hashes are written to out (out may be NULL when cap is 0).
 * opts may be NULL (the defaults). WP_EIO only if OpenSSL fails. */
wp_status_t wp_kvhash_chain(const wp_kvhash_t *seed, const int32_t *tokens, size_t n,
                            const wp_kvhash_opts_t *opts, wp_kvhash_t *out, size_t cap,
                            size_t *n_blocks);

/* The same chain in the 64-bit form KV events carry (what a gateway matches and a simulated
 * server publishes): out[i] = wp_kvhash_u64 of block i's hash. */
wp_status_t wp_kvhash_chain_u64(const wp_kvhash_t *seed, const int32_t *tokens, size_t n,
                                const wp_kvhash_opts_t *opts, uint64_t *out, size_t cap,
                                size_t *n_blocks);

/* The 64-bit form KV events carry: the last 8 bytes, big-endian. */
uint64_t wp_kvhash_u64(const wp_kvhash_t *h);

/* The hash as 64 lowercase hex digits and a NUL. */
void wp_kvhash_hex(const wp_kvhash_t *h, char out[2 * WP_KVHASH_LEN + 1]);

#endif
