/*
 * kvev: vLLM's KV-cache events (`--kv-events-config`), byte-compatible on the wire
 * (docs/kv-events.md): the msgpack payload of one batch, encoded and decoded.
 *
 * A batch carries a timestamp, the data-parallel rank that sent it (-1 = none) and a list
 * of events: BlockStored (a chain of block hashes, its parent, the tokens, the block size,
 * LoRA and medium), BlockRemoved (hashes, medium) and AllBlocksCleared. A block hash is
 * always one uint64 here: the last 8 bytes of vLLM's 32-byte digest, read big-endian,
 * which is what vLLM publishes by default (VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=1); a hash
 * sent as bytes is reduced to the same key when decoded.
 *
 * Two layouts: WP_KVEV_ENC_MAP (current vLLM: msgspec structs with tag=True and
 * omit_defaults, a map per event with "type" first) and WP_KVEV_ENC_ARRAY (older vLLM,
 * array_like=True: [tag, fields...]). The decoder accepts both, tells them apart by the
 * batch's msgpack type, and ignores map keys it does not know.
 *
 * Pure: no I/O, no clock, no globals. wp_kvev_encode appends to the caller's buffer. A
 * decoder owns everything a decoded batch points to (events, hashes, tokens, strings);
 * the batch stays valid until the next wp_kvev_decode on the same decoder or its free.
 * Once its arrays have grown to the largest batch seen, decoding allocates nothing.
 */
#ifndef WP_KVEV_KVEV_H
#define WP_KVEV_KVEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define WP_KVEV_MAX_PAYLOAD ((size_t)64 << 20) /* bytes of one batch */
#define WP_KVEV_MAX_ITEMS ((size_t)1 << 20)    /* hashes, tokens or events in one batch */

typedef enum { WP_KVEV_STORED, WP_KVEV_REMOVED, WP_KVEV_CLEARED } wp_kvev_type_t;

typedef enum {
    WP_KVEV_MEDIUM_NONE, /* nil */
    WP_KVEV_MEDIUM_GPU,  /* "GPU" */
    WP_KVEV_MEDIUM_CPU,  /* "CPU": vLLM's offloading connector */
    WP_KVEV_MEDIUM_OTHER /* any other string: medium_name says which */
} wp_kvev_medium_t;

typedef struct wp_kvev_event_s {
    wp_kvev_type_t type;
    const uint64_t *hashes; /* STORED, REMOVED */
    size_t n_hashes;
    bool has_parent; /* STORED: parent_block_hash is not nil */
    uint64_t parent;
    const int32_t *token_ids; /* STORED */
    size_t n_tokens;
    int32_t block_size; /* STORED */
    bool has_lora_id;   /* STORED */
    int64_t lora_id;
    wp_kvev_medium_t medium; /* STORED, REMOVED */
    const char *medium_name; /* MEDIUM_OTHER: the string (NUL-terminated); else NULL */
    const char *lora_name;   /* STORED: NULL = nil */
} wp_kvev_event_t;

typedef struct wp_kvev_batch_s {
    double ts; /* seconds since the epoch, the publisher's clock */
    const wp_kvev_event_t *events;
    size_t n_events;
    int32_t dp_rank; /* -1 = none (omitted on the wire) */
} wp_kvev_batch_t;

typedef enum { WP_KVEV_ENC_MAP, WP_KVEV_ENC_ARRAY } wp_kvev_encoding_t;

/* Appends b's msgpack payload to out. WP_EINVAL names the event that cannot be encoded
 * (MEDIUM_OTHER without a name, a count past WP_KVEV_MAX_ITEMS); WP_ELIMIT when out's cap
 * is reached (out is then left with a partial payload: reset it). */
wp_status_t wp_kvev_encode(const wp_kvev_batch_t *b, wp_kvev_encoding_t enc, wp_buf_t *out,
                           wp_err_t *err);

typedef struct wp_kvev_decoder_s wp_kvev_decoder_t;

wp_kvev_decoder_t *wp_kvev_decoder_new(void); /* NULL when out of memory */
void wp_kvev_decoder_free(wp_kvev_decoder_t *d);
/* Decodes one payload into *out, which points into d until the next decode. Errors say
 * where: "events[3].block_hashes[2]: expected an integer or bytes, got a string". */
wp_status_t wp_kvev_decode(wp_kvev_decoder_t *d, const void *data, size_t len, wp_kvev_batch_t *out,
                           wp_err_t *err);

/* "GPU", "CPU", NULL for NONE, "OTHER" for OTHER. */
const char *wp_kvev_medium_name(wp_kvev_medium_t m);
/* n bytes of s: "GPU" -> GPU, "CPU" -> CPU, anything else OTHER; s == NULL -> NONE. */
wp_kvev_medium_t wp_kvev_medium_parse(const char *s, size_t n);
/* "BlockStored", "BlockRemoved", "AllBlocksCleared". */
const char *wp_kvev_type_name(wp_kvev_type_t t);

#endif
