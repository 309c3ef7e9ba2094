/*
 * kvev/decode: msgpack to a batch, with msgpack-c's object unpacker.
 *
 * msgpack_unpack builds the payload's object tree in a zone the decoder keeps (strings and
 * bytes point into the payload, not copied); the walk below checks each object's type and
 * copies what the batch needs into the decoder's own arrays. Those arrays may move while
 * they grow, so events first record offsets and get their pointers when the walk is done.
 * The zone is made big enough for the payload before unpacking (a msgpack object is at
 * least one byte of payload and sizeof(msgpack_object) bytes of tree), so a warm decoder
 * does not allocate.
 *
 * The layout is told by the batch: a map is the current one (keys, any order, unknown
 * keys skipped), an array the older array_like one ([ts, events(, rank)], events
 * [tag, fields...] with trailing fields optional). Errors name the path to the object.
 */
#include "kvev/kvev.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

typedef struct {
    size_t hashes, tokens;
    size_t lora, medium; /* offsets into strs, SIZE_MAX = NULL */
} fix_t;

struct wp_kvev_decoder_s {
    msgpack_zone zone;
    size_t zone_chunk;
    wp_kvev_event_t *events;
    fix_t *fix;
    size_t ev_cap;
    uint64_t *hashes;
    size_t h_len, h_cap;
    int32_t *tokens;
    size_t t_len, t_cap;
    char *strs;
    size_t s_len, s_cap;
    char path[128]; /* where the walk is, for errors */
};

#define ZONE_MIN ((size_t)64 << 10)

wp_kvev_decoder_t *wp_kvev_decoder_new(void)
{
    wp_kvev_decoder_t *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    if (!msgpack_zone_init(&d->zone, ZONE_MIN)) {
        free(d);
        return NULL;
    }
    d->zone_chunk = ZONE_MIN;
    return d;
}

void wp_kvev_decoder_free(wp_kvev_decoder_t *d)
{
    if (d == NULL)
        return;
    msgpack_zone_destroy(&d->zone);
    free(d->events);
    free(d->fix);
    free(d->hashes);
    free(d->tokens);
    free(d->strs);
    free(d);
}

/* Grows *p (elements of size sz, capacity *cap) to hold need elements. */
static bool grow(void **p, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * sz);
    if (q == NULL)
        return false;
    *p = q;
    *cap = n;
    return true;
}

static const char *type_desc(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return "nil";
    case MSGPACK_OBJECT_BOOLEAN:
        return "a boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return "an integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return "a float";
    case MSGPACK_OBJECT_STR:
        return "a string";
    case MSGPACK_OBJECT_ARRAY:
        return "an array";
    case MSGPACK_OBJECT_MAP:
        return "a map";
    case MSGPACK_OBJECT_BIN:
        return "bytes";
    default:
        return "an extension";
    }
}

/* Sets d->path to "events[ev].field" (field NULL: "events[ev]"; ev SIZE_MAX: field). */
static const char *at(wp_kvev_decoder_t *d, size_t ev, const char *field, size_t idx)
{
    int n = 0;
    if (ev != SIZE_MAX)
        n = snprintf(d->path, sizeof(d->path), "events[%zu]%s", ev, field ? "." : "");
    if (field != NULL && n >= 0 && (size_t)n < sizeof(d->path))
        n += snprintf(d->path + n, sizeof(d->path) - (size_t)n, "%s", field);
    if (idx != SIZE_MAX && n >= 0 && (size_t)n < sizeof(d->path))
        snprintf(d->path + n, sizeof(d->path) - (size_t)n, "[%zu]", idx);
    return d->path;
}

static wp_status_t expected(wp_err_t *err, const char *where, const char *what,
                            const msgpack_object *o)
{
    return wp_err_set(err, WP_EINVAL, "%s: expected %s, got %s", where, what, type_desc(o));
}

static bool is_str(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

static wp_status_t get_hash(wp_kvev_decoder_t *d, const msgpack_object *o, size_t ev,
                            const char *field, size_t idx, uint64_t *h, wp_err_t *err)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        *h = o->via.u64;
        return WP_OK;
    }
    if (o->type == MSGPACK_OBJECT_BIN) {
        uint32_t n = o->via.bin.size, k = n < 8 ? n : 8;
        uint64_t v = 0;
        for (uint32_t i = n - k; i < n; i++)
            v = v << 8 | (uint8_t)o->via.bin.ptr[i];
        *h = v;
        return WP_OK;
    }
    return expected(err, at(d, ev, field, idx),
                    o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? "a non-negative integer or bytes"
                                                               : "an integer or bytes",
                    o);
}

static wp_status_t get_int(wp_kvev_decoder_t *d, const msgpack_object *o, size_t ev,
                           const char *field, size_t idx, int64_t lo, int64_t hi, int64_t *v,
                           wp_err_t *err)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= (uint64_t)hi &&
        (lo <= 0 || o->via.u64 >= (uint64_t)lo))
        *v = (int64_t)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && o->via.i64 >= lo)
        *v = o->via.i64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
             o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return wp_err_set(err, WP_EINVAL, "%s: integer out of range [%lld, %lld]",
                          at(d, ev, field, idx), (long long)lo, (long long)hi);
    else
        return expected(err, at(d, ev, field, idx), "an integer", o);
    return WP_OK;
}

/* Copies a string (or nil: SIZE_MAX) into strs; *off is its offset. */
static wp_status_t get_str(wp_kvev_decoder_t *d, const msgpack_object *o, size_t ev,
                           const char *field, size_t *off, wp_err_t *err)
{
    if (o->type == MSGPACK_OBJECT_NIL) {
        *off = SIZE_MAX;
        return WP_OK;
    }
    if (o->type != MSGPACK_OBJECT_STR)
        return expected(err, at(d, ev, field, SIZE_MAX), "a string or nil", o);
    size_t n = o->via.str.size;
    if (!grow((void **)&d->strs, &d->s_cap, d->s_len + n + 1, 1))
        return wp_err_set(err, WP_ENOMEM, "kv events: out of memory");
    memcpy(d->strs + d->s_len, o->via.str.ptr, n);
    d->strs[d->s_len + n] = 0;
    *off = d->s_len;
    d->s_len += n + 1;
    return WP_OK;
}

static wp_status_t get_hashes(wp_kvev_decoder_t *d, const msgpack_object *o, size_t ev,
                              wp_kvev_event_t *e, fix_t *f, wp_err_t *err)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return expected(err, at(d, ev, "block_hashes", SIZE_MAX), "an array", o);
    size_t n = o->via.array.size;
    if (d->h_len + n > WP_KVEV_MAX_ITEMS)
        return wp_err_set(err, WP_ELIMIT, "%s: more than %zu block hashes in one batch",
                          at(d, ev, "block_hashes", SIZE_MAX), WP_KVEV_MAX_ITEMS);
    if (!grow((void **)&d->hashes, &d->h_cap, d->h_len + n, sizeof(uint64_t)))
        return wp_err_set(err, WP_ENOMEM, "kv events: out of memory");
    for (size_t i = 0; i < n; i++) {
        wp_status_t st =
            get_hash(d, &o->via.array.ptr[i], ev, "block_hashes", i, &d->hashes[d->h_len + i], err);
        if (st != WP_OK)
            return st;
    }
    f->hashes = d->h_len;
    e->n_hashes = n;
    d->h_len += n;
    return WP_OK;
}

static wp_status_t get_tokens(wp_kvev_decoder_t *d, const msgpack_object *o, size_t ev,
                              wp_kvev_event_t *e, fix_t *f, wp_err_t *err)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return expected(err, at(d, ev, "token_ids", SIZE_MAX), "an array", o);
    size_t n = o->via.array.size;
    if (d->t_len + n > WP_KVEV_MAX_ITEMS)
        return wp_err_set(err, WP_ELIMIT, "%s: more than %zu token ids in one batch",
                          at(d, ev, "token_ids", SIZE_MAX), WP_KVEV_MAX_ITEMS);
    if (!grow((void **)&d->tokens, &d->t_cap, d->t_len + n, sizeof(int32_t)))
        return wp_err_set(err, WP_ENOMEM, "kv events: out of memory");
    for (size_t i = 0; i < n; i++) {
        int64_t v;
        wp_status_t st =
            get_int(d, &o->via.array.ptr[i], ev, "token_ids", i, INT32_MIN, INT32_MAX, &v, err);
        if (st != WP_OK)
            return st;
        d->tokens[d->t_len + i] = (int32_t)v;
    }
    f->tokens = d->t_len;
    e->n_tokens = n;
    d->t_len += n;
    return WP_OK;
}

/* An event's fields, in BlockStored's declaration order (vLLM's). */
enum { F_HASHES, F_PARENT, F_TOKENS, F_BLOCK_SIZE, F_LORA_ID, F_MEDIUM, F_LORA_NAME, F_COUNT };

typedef struct {
    const char *name;
    uint32_t len;
} name_t;

#define NAME(s)                                                                                    \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }
static const name_t FIELD_NAMES[F_COUNT] = {NAME("block_hashes"), NAME("parent_block_hash"),
                                            NAME("token_ids"),    NAME("block_size"),
                                            NAME("lora_id"),      NAME("medium"),
                                            NAME("lora_name")};
/* The fields of each type, in wire order (the array layout's positions after the tag). */
static const int STORED_FIELDS[] = {F_HASHES,  F_PARENT, F_TOKENS,   F_BLOCK_SIZE,
                                    F_LORA_ID, F_MEDIUM, F_LORA_NAME};
static const int REMOVED_FIELDS[] = {F_HASHES, F_MEDIUM};

static bool is_name(const msgpack_object *o, const name_t *n)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n->len &&
           memcmp(o->via.str.ptr, n->name, n->len) == 0;
}

/* Field f of an event, from either layout. */
static wp_status_t set_field(wp_kvev_decoder_t *d, size_t ev, int f, const msgpack_object *v,
                             wp_kvev_event_t *e, fix_t *fx, wp_err_t *err)
{
    const char *name = FIELD_NAMES[f].name;
    wp_status_t st = WP_OK;
    int64_t x;
    switch (f) {
    case F_HASHES:
        return get_hashes(d, v, ev, e, fx, err);
    case F_PARENT:
        e->has_parent = v->type != MSGPACK_OBJECT_NIL;
        return e->has_parent ? get_hash(d, v, ev, name, SIZE_MAX, &e->parent, err) : WP_OK;
    case F_TOKENS:
        return get_tokens(d, v, ev, e, fx, err);
    case F_BLOCK_SIZE:
        st = get_int(d, v, ev, name, SIZE_MAX, 1, INT32_MAX, &x, err);
        e->block_size = (int32_t)x;
        return st;
    case F_LORA_ID:
        e->has_lora_id = v->type != MSGPACK_OBJECT_NIL;
        return e->has_lora_id
                   ? get_int(d, v, ev, name, SIZE_MAX, INT64_MIN, INT64_MAX, &e->lora_id, err)
                   : WP_OK;
    case F_MEDIUM:
        if (v->type == MSGPACK_OBJECT_STR) {
            e->medium = wp_kvev_medium_parse(v->via.str.ptr, v->via.str.size);
            if (e->medium == WP_KVEV_MEDIUM_OTHER)
                st = get_str(d, v, ev, name, &fx->medium, err);
        } else if (v->type != MSGPACK_OBJECT_NIL) {
            st = expected(err, at(d, ev, name, SIZE_MAX), "a string or nil", v);
        }
        return st;
    default:
        return get_str(d, v, ev, name, &fx->lora, err);
    }
}

static wp_status_t get_type(wp_kvev_decoder_t *d, const msgpack_object *o, size_t ev,
                            wp_kvev_type_t *t, wp_err_t *err)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return expected(err, at(d, ev, "type", SIZE_MAX), "a string", o);
    if (is_str(o, "BlockStored"))
        *t = WP_KVEV_STORED;
    else if (is_str(o, "BlockRemoved"))
        *t = WP_KVEV_REMOVED;
    else if (is_str(o, "AllBlocksCleared"))
        *t = WP_KVEV_CLEARED;
    else
        return wp_err_set(err, WP_EINVAL, "%s: unknown event type '%.*s'",
                          at(d, ev, "type", SIZE_MAX),
                          (int)(o->via.str.size > 64 ? 64 : o->via.str.size), o->via.str.ptr);
    return WP_OK;
}

/* seen: a bit per field id present. */
static wp_status_t check_required(wp_kvev_decoder_t *d, size_t ev, wp_kvev_type_t t, unsigned seen,
                                  wp_err_t *err)
{
    /* block_hashes always; BlockStored also token_ids and block_size. */
    unsigned need = t == WP_KVEV_STORED ? (1u << F_HASHES | 1u << F_TOKENS | 1u << F_BLOCK_SIZE)
                                        : 1u << F_HASHES;
    for (unsigned i = 0; i < F_COUNT; i++)
        if ((need & (1u << i)) && !(seen & (1u << i)))
            return wp_err_set(err, WP_EINVAL, "%s: missing field '%s'", at(d, ev, NULL, SIZE_MAX),
                              FIELD_NAMES[i].name);
    return WP_OK;
}

static wp_status_t get_event(wp_kvev_decoder_t *d, const msgpack_object *o, size_t ev,
                             wp_kvev_event_t *e, fix_t *f, wp_err_t *err)
{
    memset(e, 0, sizeof(*e));
    *f = (fix_t){0, 0, SIZE_MAX, SIZE_MAX};
    wp_status_t st;
    unsigned seen = 0;
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        const msgpack_object_array *a = &o->via.array;
        if (a->size == 0)
            return wp_err_set(err, WP_EINVAL, "%s: empty event array", at(d, ev, NULL, SIZE_MAX));
        if ((st = get_type(d, &a->ptr[0], ev, &e->type, err)) != WP_OK)
            return st;
        const int *ids = e->type == WP_KVEV_STORED ? STORED_FIELDS : REMOVED_FIELDS;
        size_t n = e->type == WP_KVEV_STORED ? 7 : e->type == WP_KVEV_REMOVED ? 2 : 0;
        for (size_t i = 0; i < n && i + 1 < a->size; i++) {
            if ((st = set_field(d, ev, ids[i], &a->ptr[i + 1], e, f, err)) != WP_OK)
                return st;
            seen |= 1u << ids[i];
        }
    } else if (o->type == MSGPACK_OBJECT_MAP) {
        const msgpack_object_map *m = &o->via.map;
        const msgpack_object *type = NULL;
        for (size_t i = 0; i < m->size; i++)
            if (is_str(&m->ptr[i].key, "type"))
                type = &m->ptr[i].val;
        if (type == NULL)
            return wp_err_set(err, WP_EINVAL, "%s: missing field 'type'",
                              at(d, ev, NULL, SIZE_MAX));
        if ((st = get_type(d, type, ev, &e->type, err)) != WP_OK)
            return st;
        const int *ids = e->type == WP_KVEV_STORED ? STORED_FIELDS : REMOVED_FIELDS;
        size_t n = e->type == WP_KVEV_STORED ? 7 : e->type == WP_KVEV_REMOVED ? 2 : 0;
        for (size_t i = 0; i < m->size; i++) {
            for (size_t j = 0; j < n; j++) {
                if (!is_name(&m->ptr[i].key, &FIELD_NAMES[ids[j]]))
                    continue;
                if ((st = set_field(d, ev, ids[j], &m->ptr[i].val, e, f, err)) != WP_OK)
                    return st;
                seen |= 1u << ids[j];
                break;
            }
        }
    } else {
        return expected(err, at(d, ev, NULL, SIZE_MAX), "a map or an array", o);
    }
    return e->type == WP_KVEV_CLEARED ? WP_OK : check_required(d, ev, e->type, seen, err);
}

static wp_status_t get_rank(const msgpack_object *o, int32_t *rank, wp_err_t *err)
{
    if (o->type == MSGPACK_OBJECT_NIL) {
        *rank = -1;
    } else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT32_MAX) {
        *rank = (int32_t)o->via.u64;
    } else {
        return wp_err_set(err, WP_EINVAL, "data_parallel_rank: expected a rank >= 0 or nil, got %s",
                          type_desc(o));
    }
    return WP_OK;
}

static wp_status_t get_ts(const msgpack_object *o, double *ts, wp_err_t *err)
{
    if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32)
        *ts = o->via.f64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        *ts = (double)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *ts = (double)o->via.i64;
    else
        return wp_err_set(err, WP_EINVAL, "ts: expected a number, got %s", type_desc(o));
    return WP_OK;
}

static wp_status_t get_batch(wp_kvev_decoder_t *d, const msgpack_object *root, wp_kvev_batch_t *out,
                             wp_err_t *err)
{
    const msgpack_object *ts = NULL, *events = NULL, *rank = NULL;
    if (root->type == MSGPACK_OBJECT_MAP) {
        for (size_t i = 0; i < root->via.map.size; i++) {
            const msgpack_object_kv *kv = &root->via.map.ptr[i];
            if (is_str(&kv->key, "ts"))
                ts = &kv->val;
            else if (is_str(&kv->key, "events"))
                events = &kv->val;
            else if (is_str(&kv->key, "data_parallel_rank"))
                rank = &kv->val;
        }
        if (ts == NULL || events == NULL)
            return wp_err_set(err, WP_EINVAL, "batch: missing field '%s'",
                              ts == NULL ? "ts" : "events");
    } else if (root->type == MSGPACK_OBJECT_ARRAY) {
        const msgpack_object_array *a = &root->via.array;
        if (a->size < 2)
            return wp_err_set(err, WP_EINVAL, "batch: expected [ts, events(, rank)], got %u items",
                              a->size);
        ts = &a->ptr[0];
        events = &a->ptr[1];
        rank = a->size > 2 ? &a->ptr[2] : NULL;
    } else {
        return wp_err_set(err, WP_EINVAL, "batch: expected a map or an array, got %s",
                          type_desc(root));
    }
    wp_status_t st;
    out->dp_rank = -1;
    if ((st = get_ts(ts, &out->ts, err)) != WP_OK)
        return st;
    if (rank != NULL && (st = get_rank(rank, &out->dp_rank, err)) != WP_OK)
        return st;
    if (events->type != MSGPACK_OBJECT_ARRAY)
        return wp_err_set(err, WP_EINVAL, "events: expected an array, got %s", type_desc(events));
    size_t n = events->via.array.size;
    if (n > WP_KVEV_MAX_ITEMS)
        return wp_err_set(err, WP_ELIMIT, "events: %zu events, at most %zu", n, WP_KVEV_MAX_ITEMS);
    size_t cap = d->ev_cap;
    if (!grow((void **)&d->events, &cap, n, sizeof(*d->events)) ||
        !grow((void **)&d->fix, &d->ev_cap, n, sizeof(*d->fix)))
        return wp_err_set(err, WP_ENOMEM, "kv events: out of memory");
    for (size_t i = 0; i < n; i++)
        if ((st = get_event(d, &events->via.array.ptr[i], i, &d->events[i], &d->fix[i], err)) !=
            WP_OK)
            return st;
    for (size_t i = 0; i < n; i++) {
        wp_kvev_event_t *e = &d->events[i];
        const fix_t *f = &d->fix[i];
        e->hashes = e->n_hashes ? d->hashes + f->hashes : NULL;
        e->token_ids = e->n_tokens ? d->tokens + f->tokens : NULL;
        e->lora_name = f->lora == SIZE_MAX ? NULL : d->strs + f->lora;
        e->medium_name = f->medium == SIZE_MAX ? NULL : d->strs + f->medium;
    }
    out->events = n ? d->events : NULL;
    out->n_events = n;
    return WP_OK;
}

/* Reads n big-endian bytes at p. */
static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* One pass over the payload before msgpack-c sees it: every item is in bounds, and no array
 * or map declares more items than there are bytes left to hold them (each takes one at
 * least). msgpack-c allocates a container's items as soon as it reads its count, so without
 * this a 5-byte array32 head could ask for a hundred GB. pending counts the items still to read,
 * so no stack is needed. Returns false on a bad or truncated payload. */
static bool precheck(const uint8_t *p, size_t len)
{
    size_t i = 0;
    uint64_t pending = 1;
    while (pending > 0) {
        if (i >= len)
            return false;
        uint8_t h = p[i++];
        pending--;
        uint64_t items = 0, skip = 0; /* items to add; bytes to skip after the head */
        size_t arg = 0;               /* bytes of a length argument */
        if (h <= 0x7f || h >= 0xe0 || h == 0xc0 || h == 0xc2 || h == 0xc3) {
        } else if (h <= 0x8f) {
            items = 2u * (h & 0x0f);
        } else if (h <= 0x9f) {
            items = h & 0x0f;
        } else if (h <= 0xbf) {
            skip = h & 0x1f;
        } else {
            switch (h) {
            case 0xc4:
            case 0xd9:
                arg = 1;
                break;
            case 0xc5:
            case 0xda:
                arg = 2;
                break;
            case 0xc6:
            case 0xdb:
                arg = 4;
                break;
            case 0xc7:
                arg = 1;
                skip = 1;
                break;
            case 0xc8:
                arg = 2;
                skip = 1;
                break;
            case 0xc9:
                arg = 4;
                skip = 1;
                break;
            case 0xca:
                skip = 4;
                break;
            case 0xcb:
                skip = 8;
                break;
            case 0xcc:
            case 0xd0:
                skip = 1;
                break;
            case 0xcd:
            case 0xd1:
                skip = 2;
                break;
            case 0xce:
            case 0xd2:
                skip = 4;
                break;
            case 0xcf:
            case 0xd3:
                skip = 8;
                break;
            case 0xd4:
                skip = 2;
                break;
            case 0xd5:
                skip = 3;
                break;
            case 0xd6:
                skip = 5;
                break;
            case 0xd7:
                skip = 9;
                break;
            case 0xd8:
                skip = 17;
                break;
            case 0xdc:
            case 0xde:
                arg = 2;
                break;
            case 0xdd:
            case 0xdf:
                arg = 4;
                break;
            default:
                return false; /* 0xc1: never used */
            }
            if (arg > len - i)
                return false;
            uint64_t n = arg ? be(p + i, arg) : 0;
            i += arg;
            if (h >= 0xdc)
                items = h >= 0xde ? 2 * n : n;
            else if (arg)
                skip += n;
        }
        if (skip > len - i)
            return false;
        i += skip;
        pending += items;
        if (pending > len - i)
            return false;
    }
    return true;
}

wp_status_t wp_kvev_decode(wp_kvev_decoder_t *d, const void *data, size_t len, wp_kvev_batch_t *out,
                           wp_err_t *err)
{
    memset(out, 0, sizeof(*out));
    out->dp_rank = -1;
    if (len > WP_KVEV_MAX_PAYLOAD)
        return wp_err_set(err, WP_ELIMIT, "kv events payload of %zu bytes, at most %zu", len,
                          WP_KVEV_MAX_PAYLOAD);
    if (!precheck(data, len))
        return wp_err_set(err, WP_EINVAL,
                          "kv events payload: not valid msgpack (bad item, truncated, or a "
                          "count past the end)");
    d->h_len = d->t_len = d->s_len = 0;
    size_t need = len * sizeof(msgpack_object) + 4096;
    if (need > d->zone_chunk) {
        size_t c = d->zone_chunk;
        while (c < need)
            c *= 2;
        msgpack_zone_destroy(&d->zone);
        if (!msgpack_zone_init(&d->zone, c)) {
            msgpack_zone_init(&d->zone, ZONE_MIN);
            d->zone_chunk = ZONE_MIN;
            return wp_err_set(err, WP_ENOMEM, "kv events: out of memory");
        }
        d->zone_chunk = c;
    } else {
        msgpack_zone_clear(&d->zone);
    }
    msgpack_object root;
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack(data, len, &off, &d->zone, &root);
    if (r == MSGPACK_UNPACK_CONTINUE)
        return wp_err_set(err, WP_EINVAL, "kv events payload: truncated msgpack (%zu bytes)", len);
    if (r == MSGPACK_UNPACK_NOMEM_ERROR)
        return wp_err_set(err, WP_ENOMEM, "kv events payload: out of memory (or nested too deep)");
    if (r != MSGPACK_UNPACK_SUCCESS && r != MSGPACK_UNPACK_EXTRA_BYTES)
        return wp_err_set(err, WP_EINVAL, "kv events payload: not valid msgpack");
    if (off != len)
        return wp_err_set(err, WP_EINVAL, "kv events payload: %zu bytes after the batch",
                          len - off);
    wp_status_t st = get_batch(d, &root, out, err);
    if (st != WP_OK) {
        memset(out, 0, sizeof(*out));
        out->dp_rank = -1;
    }
    return st;
}
