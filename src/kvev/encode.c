/*
 * kvev/encode: a batch to msgpack with msgpack-c's packer, writing into a wp_buf_t.
 *
 * The map layout follows msgspec's output for vLLM's structs: the batch is a map of "ts"
 * (always float64), "events" and "data_parallel_rank" (left out when none, as
 * omit_defaults does); an event is a map whose first key is "type" (the class name, from
 * tag=True) and then every field without a default, in declaration order. The array
 * layout (array_like=True) is the same fields in the same order without the keys, the tag
 * first, and trailing fields at their default left out. Integers take msgpack's shortest
 * form, as msgspec writes them.
 */
#include "kvev/kvev.h"

#include <string.h>

#include <msgpack.h>

typedef struct {
    wp_buf_t *out;
    wp_status_t st;
} sink_t;

static int sink_write(void *data, const char *p, size_t n)
{
    sink_t *s = data;
    wp_buf_t *b = s->out;
    if (s->st == WP_OK && b->cap - b->len > n) { /* room for the bytes and the NUL */
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = 0;
        return 0;
    }
    if (s->st == WP_OK)
        s->st = wp_buf_append(b, p, n);
    return s->st == WP_OK ? 0 : -1;
}

static void pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_key(msgpack_packer *pk, wp_kvev_encoding_t enc, const char *key)
{
    if (enc == WP_KVEV_ENC_MAP)
        pack_cstr(pk, key);
}

static void pack_medium(msgpack_packer *pk, const wp_kvev_event_t *e)
{
    if (e->medium == WP_KVEV_MEDIUM_NONE)
        msgpack_pack_nil(pk);
    else if (e->medium == WP_KVEV_MEDIUM_OTHER)
        pack_cstr(pk, e->medium_name);
    else
        pack_cstr(pk, wp_kvev_medium_name(e->medium));
}

static void pack_hashes(msgpack_packer *pk, const uint64_t *h, size_t n)
{
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        msgpack_pack_uint64(pk, h[i]);
}

static void pack_event(msgpack_packer *pk, wp_kvev_encoding_t enc, const wp_kvev_event_t *e)
{
    size_t fields = e->type == WP_KVEV_STORED ? 7 : e->type == WP_KVEV_REMOVED ? 2 : 0;
    if (enc == WP_KVEV_ENC_MAP)
        msgpack_pack_map(pk, 1 + fields);
    else
        msgpack_pack_array(pk, 1 + fields);
    pack_key(pk, enc, "type");
    pack_cstr(pk, wp_kvev_type_name(e->type));
    if (e->type == WP_KVEV_CLEARED)
        return;
    pack_key(pk, enc, "block_hashes");
    pack_hashes(pk, e->hashes, e->n_hashes);
    if (e->type == WP_KVEV_REMOVED) {
        pack_key(pk, enc, "medium");
        pack_medium(pk, e);
        return;
    }
    pack_key(pk, enc, "parent_block_hash");
    if (e->has_parent)
        msgpack_pack_uint64(pk, e->parent);
    else
        msgpack_pack_nil(pk);
    pack_key(pk, enc, "token_ids");
    msgpack_pack_array(pk, e->n_tokens);
    for (size_t i = 0; i < e->n_tokens; i++)
        msgpack_pack_int32(pk, e->token_ids[i]);
    pack_key(pk, enc, "block_size");
    msgpack_pack_int32(pk, e->block_size);
    pack_key(pk, enc, "lora_id");
    if (e->has_lora_id)
        msgpack_pack_int64(pk, e->lora_id);
    else
        msgpack_pack_nil(pk);
    pack_key(pk, enc, "medium");
    pack_medium(pk, e);
    pack_key(pk, enc, "lora_name");
    if (e->lora_name != NULL)
        pack_cstr(pk, e->lora_name);
    else
        msgpack_pack_nil(pk);
}

wp_status_t wp_kvev_encode(const wp_kvev_batch_t *b, wp_kvev_encoding_t enc, wp_buf_t *out,
                           wp_err_t *err)
{
    if (b->n_events > WP_KVEV_MAX_ITEMS)
        return wp_err_set(err, WP_EINVAL, "events: %zu events, at most %zu", b->n_events,
                          WP_KVEV_MAX_ITEMS);
    for (size_t i = 0; i < b->n_events; i++) {
        const wp_kvev_event_t *e = &b->events[i];
        if (e->type != WP_KVEV_STORED && e->type != WP_KVEV_REMOVED && e->type != WP_KVEV_CLEARED)
            return wp_err_set(err, WP_EINVAL, "events[%zu]: unknown type %d", i, (int)e->type);
        if (e->medium == WP_KVEV_MEDIUM_OTHER && e->medium_name == NULL)
            return wp_err_set(err, WP_EINVAL, "events[%zu].medium: OTHER without a name", i);
        if (e->n_hashes > WP_KVEV_MAX_ITEMS || e->n_tokens > WP_KVEV_MAX_ITEMS)
            return wp_err_set(err, WP_EINVAL, "events[%zu]: more than %zu hashes or tokens", i,
                              WP_KVEV_MAX_ITEMS);
    }
    sink_t s = {out, WP_OK};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &s, sink_write);
    bool rank = b->dp_rank >= 0;
    if (enc == WP_KVEV_ENC_MAP)
        msgpack_pack_map(&pk, rank ? 3 : 2);
    else
        msgpack_pack_array(&pk, rank ? 3 : 2);
    pack_key(&pk, enc, "ts");
    msgpack_pack_double(&pk, b->ts);
    pack_key(&pk, enc, "events");
    msgpack_pack_array(&pk, b->n_events);
    for (size_t i = 0; i < b->n_events && s.st == WP_OK; i++)
        pack_event(&pk, enc, &b->events[i]);
    if (rank) {
        pack_key(&pk, enc, "data_parallel_rank");
        msgpack_pack_int32(&pk, b->dp_rank);
    }
    if (s.st != WP_OK)
        return wp_err_set(err, s.st, "kv events payload: %s (buffer cap %zu bytes)",
                          wp_status_str(s.st), out->max);
    return WP_OK;
}

const char *wp_kvev_medium_name(wp_kvev_medium_t m)
{
    switch (m) {
    case WP_KVEV_MEDIUM_GPU:
        return "GPU";
    case WP_KVEV_MEDIUM_CPU:
        return "CPU";
    case WP_KVEV_MEDIUM_OTHER:
        return "OTHER";
    default:
        return NULL;
    }
}

wp_kvev_medium_t wp_kvev_medium_parse(const char *s, size_t n)
{
    if (s == NULL)
        return WP_KVEV_MEDIUM_NONE;
    if (n == 3 && memcmp(s, "GPU", 3) == 0)
        return WP_KVEV_MEDIUM_GPU;
    if (n == 3 && memcmp(s, "CPU", 3) == 0)
        return WP_KVEV_MEDIUM_CPU;
    return WP_KVEV_MEDIUM_OTHER;
}

const char *wp_kvev_type_name(wp_kvev_type_t t)
{
    switch (t) {
    case WP_KVEV_STORED:
        return "BlockStored";
    case WP_KVEV_REMOVED:
        return "BlockRemoved";
    default:
        return "AllBlocksCleared";
    }
}
