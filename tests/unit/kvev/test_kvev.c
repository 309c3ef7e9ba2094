/* Tests for kvev: the msgpack codec (round trips in both layouts, exact bytes of a small
 * batch as msgspec writes it, hand-packed payloads of current and older vLLM, 32-byte and
 * short bytes hashes, unknown keys, malformed input with the error's location, limits),
 * the --kv-events-config parser, and the publisher and subscriber on one loop (inproc). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <zmq.h>

#include "kvev/ctx.h"
#include "kvev/kvev.h"
#include "kvev/pub.h"
#include "kvev/sub.h"

/* ---- helpers ---- */

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static wp_status_t decode_sbuf(wp_kvev_decoder_t *d, const msgpack_sbuffer *sb, wp_kvev_batch_t *b,
                               wp_err_t *err)
{
    return wp_kvev_decode(d, sb->data, sb->size, b, err);
}

static const uint64_t H1[] = {1, UINT64_MAX, (uint64_t)1 << 63};
static const uint64_t H2[] = {42};
static const int32_t TOK[] = {0, 1, 127, 128, 65535, 151935, -5, INT32_MAX};

static void sample(wp_kvev_event_t ev[4], wp_kvev_batch_t *b)
{
    memset(ev, 0, 4 * sizeof(*ev));
    ev[0] = (wp_kvev_event_t){.type = WP_KVEV_STORED,
                              .hashes = H1,
                              .n_hashes = 3,
                              .has_parent = true,
                              .parent = 99,
                              .token_ids = TOK,
                              .n_tokens = 8,
                              .block_size = 16,
                              .has_lora_id = true,
                              .lora_id = 7,
                              .medium = WP_KVEV_MEDIUM_GPU,
                              .lora_name = "sql"};
    ev[1] = (wp_kvev_event_t){.type = WP_KVEV_STORED,
                              .hashes = H2,
                              .n_hashes = 1,
                              .token_ids = TOK,
                              .n_tokens = 2,
                              .block_size = 2,
                              .medium = WP_KVEV_MEDIUM_OTHER,
                              .medium_name = "DISK"};
    ev[2] = (wp_kvev_event_t){
        .type = WP_KVEV_REMOVED, .hashes = H1, .n_hashes = 2, .medium = WP_KVEV_MEDIUM_CPU};
    ev[3] = (wp_kvev_event_t){.type = WP_KVEV_CLEARED};
    *b = (wp_kvev_batch_t){.ts = 1700000000.123, .events = ev, .n_events = 4, .dp_rank = 3};
}

static void assert_same_batch(const wp_kvev_batch_t *a, const wp_kvev_batch_t *b)
{
    assert_true(a->ts == b->ts);
    assert_int_equal(a->dp_rank, b->dp_rank);
    assert_int_equal(a->n_events, b->n_events);
    for (size_t i = 0; i < a->n_events; i++) {
        const wp_kvev_event_t *x = &a->events[i], *y = &b->events[i];
        assert_int_equal(x->type, y->type);
        assert_int_equal(x->n_hashes, y->n_hashes);
        if (x->n_hashes)
            assert_memory_equal(x->hashes, y->hashes, x->n_hashes * sizeof(uint64_t));
        assert_int_equal(x->medium, y->medium);
        if (x->medium == WP_KVEV_MEDIUM_OTHER)
            assert_string_equal(x->medium_name, y->medium_name);
        if (x->type != WP_KVEV_STORED)
            continue;
        assert_int_equal(x->has_parent, y->has_parent);
        if (x->has_parent)
            assert_true(x->parent == y->parent);
        assert_int_equal(x->n_tokens, y->n_tokens);
        assert_memory_equal(x->token_ids, y->token_ids, x->n_tokens * sizeof(int32_t));
        assert_int_equal(x->block_size, y->block_size);
        assert_int_equal(x->has_lora_id, y->has_lora_id);
        if (x->has_lora_id)
            assert_int_equal(x->lora_id, y->lora_id);
        if (x->lora_name == NULL)
            assert_null(y->lora_name);
        else
            assert_string_equal(x->lora_name, y->lora_name);
    }
}

/* ---- codec ---- */

static void round_trip(wp_kvev_encoding_t enc, int32_t rank)
{
    wp_kvev_event_t ev[4];
    wp_kvev_batch_t b, got;
    sample(ev, &b);
    b.dp_rank = rank;
    wp_buf_t out;
    wp_buf_init(&out, WP_BUF_DEFAULT_MAX);
    wp_err_t err;
    assert_int_equal(wp_kvev_encode(&b, enc, &out, &err), WP_OK);
    wp_kvev_decoder_t *d = wp_kvev_decoder_new();
    for (int rep = 0; rep < 3; rep++) { /* the same decoder, warm */
        assert_int_equal(wp_kvev_decode(d, out.data, out.len, &got, &err), WP_OK);
        assert_same_batch(&b, &got);
    }
    wp_kvev_decoder_free(d);
    wp_buf_free(&out);
}

static void test_kvev_round_trip_map(void **state)
{
    round_trip(WP_KVEV_ENC_MAP, 3);
    round_trip(WP_KVEV_ENC_MAP, -1);
}

static void test_kvev_round_trip_array(void **state)
{
    round_trip(WP_KVEV_ENC_ARRAY, 0);
    round_trip(WP_KVEV_ENC_ARRAY, -1);
}

/* {"ts": 1.0, "events": [{"type": "AllBlocksCleared"}]}, as msgspec encodes
 * KVEventBatch(ts=1.0, events=[AllBlocksCleared()]) with data_parallel_rank None; and
 * [1.0, [["AllBlocksCleared"]], 2] for the array layout with rank 2. */
static void test_kvev_exact_bytes(void **state)
{
    static const uint8_t want_map[] = {
        0x82, 0xa2, 't', 's', 0xcb, 0x3f, 0xf0, 0,    0,   0,   0,   0,   0,    0xa6, 'e',
        'v',  'e',  'n', 't', 's',  0x91, 0x81, 0xa4, 't', 'y', 'p', 'e', 0xb0, 'A',  'l',
        'l',  'B',  'l', 'o', 'c',  'k',  's',  'C',  'l', 'e', 'a', 'r', 'e',  'd'};
    static const uint8_t want_array[] = {0x93, 0xcb, 0x3f, 0xf0, 0,   0,   0,   0,   0,   0,
                                         0x91, 0x91, 0xb0, 'A',  'l', 'l', 'B', 'l', 'o', 'c',
                                         'k',  's',  'C',  'l',  'e', 'a', 'r', 'e', 'd', 0x02};
    wp_kvev_event_t ev = {.type = WP_KVEV_CLEARED};
    wp_kvev_batch_t b = {.ts = 1.0, .events = &ev, .n_events = 1, .dp_rank = -1};
    wp_buf_t out;
    wp_buf_init(&out, 1024);
    assert_int_equal(wp_kvev_encode(&b, WP_KVEV_ENC_MAP, &out, NULL), WP_OK);
    assert_int_equal(out.len, sizeof(want_map));
    assert_memory_equal(out.data, want_map, sizeof(want_map));
    wp_buf_reset(&out);
    b.dp_rank = 2;
    assert_int_equal(wp_kvev_encode(&b, WP_KVEV_ENC_ARRAY, &out, NULL), WP_OK);
    assert_int_equal(out.len, sizeof(want_array));
    assert_memory_equal(out.data, want_array, sizeof(want_array));
    wp_buf_free(&out);
}

/* Current vLLM, packed by hand: "type" not first, the optional fields vLLM adds
 * (extra_keys, group_idx, kv_cache_spec_*), unknown keys at both levels, 32-byte and short
 * bytes hashes, an integer ts. */
static void test_kvev_decode_map_by_hand(void **state)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    uint8_t digest[32];
    for (int i = 0; i < 32; i++)
        digest[i] = (uint8_t)i;
    msgpack_pack_map(&pk, 4);
    pack_str(&pk, "future");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 0);
    pack_str(&pk, "events");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_map(&pk, 12);
    pack_str(&pk, "block_hashes");
    msgpack_pack_array(&pk, 3);
    msgpack_pack_bin(&pk, 32);
    msgpack_pack_bin_body(&pk, digest, 32);
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "\x01\x02\x03", 3);
    msgpack_pack_uint8(&pk, 5); /* an int in its shortest form */
    pack_str(&pk, "type");
    pack_str(&pk, "BlockStored");
    pack_str(&pk, "parent_block_hash");
    msgpack_pack_uint64(&pk, UINT64_MAX);
    pack_str(&pk, "token_ids");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_int(&pk, 151935);
    pack_str(&pk, "block_size");
    msgpack_pack_int(&pk, 16);
    pack_str(&pk, "lora_id");
    msgpack_pack_nil(&pk);
    pack_str(&pk, "medium");
    pack_str(&pk, "CPU");
    pack_str(&pk, "lora_name");
    pack_str(&pk, "a\xc3\xa9");
    pack_str(&pk, "extra_keys");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_nil(&pk);
    pack_str(&pk, "group_idx");
    msgpack_pack_int(&pk, 1);
    pack_str(&pk, "kv_cache_spec_kind");
    pack_str(&pk, "sliding_window");
    pack_str(&pk, "kv_cache_spec_sliding_window");
    msgpack_pack_int(&pk, 4096);
    msgpack_pack_map(&pk, 2);
    pack_str(&pk, "type");
    pack_str(&pk, "BlockRemoved");
    pack_str(&pk, "block_hashes");
    msgpack_pack_array(&pk, 0);
    pack_str(&pk, "ts");
    msgpack_pack_int(&pk, 17);
    pack_str(&pk, "data_parallel_rank");
    msgpack_pack_nil(&pk);

    wp_kvev_decoder_t *d = wp_kvev_decoder_new();
    wp_kvev_batch_t b;
    wp_err_t err;
    assert_int_equal(decode_sbuf(d, &sb, &b, &err), WP_OK);
    assert_true(b.ts == 17.0);
    assert_int_equal(b.dp_rank, -1);
    assert_int_equal(b.n_events, 2);
    const wp_kvev_event_t *e = &b.events[0];
    assert_int_equal(e->type, WP_KVEV_STORED);
    assert_int_equal(e->n_hashes, 3);
    assert_true(e->hashes[0] == 0x18191a1b1c1d1e1full); /* the digest's last 8 bytes */
    assert_true(e->hashes[1] == 0x010203);
    assert_true(e->hashes[2] == 5);
    assert_true(e->has_parent && e->parent == UINT64_MAX);
    assert_int_equal(e->n_tokens, 2);
    assert_int_equal(e->token_ids[1], 151935);
    assert_int_equal(e->block_size, 16);
    assert_false(e->has_lora_id);
    assert_int_equal(e->medium, WP_KVEV_MEDIUM_CPU);
    assert_string_equal(e->lora_name, "a\xc3\xa9");
    assert_int_equal(b.events[1].type, WP_KVEV_REMOVED);
    assert_int_equal(b.events[1].n_hashes, 0);
    assert_int_equal(b.events[1].medium, WP_KVEV_MEDIUM_NONE);
    wp_kvev_decoder_free(d);
    msgpack_sbuffer_destroy(&sb);
}

/* Older vLLM (array_like): [ts, events] without a rank, BlockStored without lora_name. */
static void test_kvev_decode_array_by_hand(void **state)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_double(&pk, 2.5);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_array(&pk, 7);
    pack_str(&pk, "BlockStored");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_uint64(&pk, 0x8000000000000001ull);
    msgpack_pack_nil(&pk);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_int(&pk, 9);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_int(&pk, 12);
    pack_str(&pk, "GPU");
    msgpack_pack_array(&pk, 2);
    pack_str(&pk, "BlockRemoved");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_int(&pk, 3);
    msgpack_pack_array(&pk, 1);
    pack_str(&pk, "AllBlocksCleared");

    wp_kvev_decoder_t *d = wp_kvev_decoder_new();
    wp_kvev_batch_t b;
    wp_err_t err;
    assert_int_equal(decode_sbuf(d, &sb, &b, &err), WP_OK);
    assert_true(b.ts == 2.5);
    assert_int_equal(b.dp_rank, -1);
    assert_int_equal(b.n_events, 3);
    assert_true(b.events[0].hashes[0] == 0x8000000000000001ull);
    assert_false(b.events[0].has_parent);
    assert_int_equal(b.events[0].block_size, 1);
    assert_true(b.events[0].has_lora_id && b.events[0].lora_id == 12);
    assert_int_equal(b.events[0].medium, WP_KVEV_MEDIUM_GPU);
    assert_null(b.events[0].lora_name);
    assert_int_equal(b.events[1].type, WP_KVEV_REMOVED);
    assert_int_equal(b.events[1].medium, WP_KVEV_MEDIUM_NONE); /* medium left out */
    assert_int_equal(b.events[2].type, WP_KVEV_CLEARED);
    wp_kvev_decoder_free(d);
    msgpack_sbuffer_destroy(&sb);
}

/* A BlockStored map with block_hashes [1, 2, "x"] as the fourth event. */
static void pack_bad_hash(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    pack_str(pk, "ts");
    msgpack_pack_double(pk, 0);
    pack_str(pk, "events");
    msgpack_pack_array(pk, 4);
    for (int i = 0; i < 3; i++) {
        msgpack_pack_map(pk, 1);
        pack_str(pk, "type");
        pack_str(pk, "AllBlocksCleared");
    }
    msgpack_pack_map(pk, 4);
    pack_str(pk, "type");
    pack_str(pk, "BlockStored");
    pack_str(pk, "block_hashes");
    msgpack_pack_array(pk, 3);
    msgpack_pack_int(pk, 1);
    msgpack_pack_int(pk, 2);
    pack_str(pk, "x");
    pack_str(pk, "token_ids");
    msgpack_pack_array(pk, 0);
    pack_str(pk, "block_size");
    msgpack_pack_int(pk, 16);
}

static void expect_error(const void *data, size_t len, wp_status_t st, const char *msg)
{
    wp_kvev_decoder_t *d = wp_kvev_decoder_new();
    wp_kvev_batch_t b;
    wp_err_t err = {{0}};
    wp_status_t got = wp_kvev_decode(d, data, len, &b, &err);
    if (got != st)
        fail_msg("status %d, want %d (%s), for '%s'", got, st, err.msg, msg);
    if (strstr(err.msg, msg) == NULL)
        fail_msg("error '%s' does not contain '%s'", err.msg, msg);
    assert_int_equal(b.n_events, 0);
    wp_kvev_decoder_free(d);
}

#define EXPECT_ERROR(bytes, st, msg) expect_error(bytes, sizeof(bytes) - 1, st, msg)

static void test_kvev_decode_errors(void **state)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_bad_hash(&pk);
    expect_error(sb.data, sb.size, WP_EINVAL,
                 "events[3].block_hashes[2]: expected an integer or bytes, got a string");
    expect_error(sb.data, sb.size - 1, WP_EINVAL, "truncated");
    msgpack_sbuffer_destroy(&sb);

    EXPECT_ERROR("\xc1", WP_EINVAL, "not valid msgpack");
    /* Counts past the end are refused before msgpack-c would allocate for them. */
    EXPECT_ERROR("\xdd\xff\xff\xff\xff", WP_EINVAL, "count past the end");
    EXPECT_ERROR("\x92\x00\xdf\x10\x00\x00\x00\x00", WP_EINVAL, "count past the end");
    EXPECT_ERROR("\x92\x00\x91\xc6\x7f\xff\xff\xff", WP_EINVAL, "not valid msgpack");
    EXPECT_ERROR("\x05", WP_EINVAL, "batch: expected a map or an array, got an integer");
    EXPECT_ERROR("\x91\x00", WP_EINVAL, "batch: expected [ts, events(, rank)]");
    EXPECT_ERROR("\x92\x00\x00", WP_EINVAL, "events: expected an array, got an integer");
    EXPECT_ERROR("\x92\xa1x\x90", WP_EINVAL, "ts: expected a number, got a string");
    EXPECT_ERROR("\x81\xa2ts\x00", WP_EINVAL, "batch: missing field 'events'");
    EXPECT_ERROR("\x92\x00\x90\x00", WP_EINVAL, "1 bytes after the batch");
    EXPECT_ERROR("\x93\x00\x90\xff", WP_EINVAL, "data_parallel_rank: expected a rank");
    EXPECT_ERROR("\x92\x00\x91\x90", WP_EINVAL, "events[0]: empty event array");
    EXPECT_ERROR("\x92\x00\x91\x80", WP_EINVAL, "events[0]: missing field 'type'");
    EXPECT_ERROR("\x92\x00\x91\x91\xa3"
                 "Foo",
                 WP_EINVAL, "events[0].type: unknown event type 'Foo'");
    EXPECT_ERROR("\x92\x00\x91\x91\x07", WP_EINVAL, "events[0].type: expected a string");
    EXPECT_ERROR("\x92\x00\x91\x91\xac"
                 "BlockRemoved",
                 WP_EINVAL, "events[0]: missing field 'block_hashes'");
    /* ["BlockStored", [], nil, [] ] : no block_size */
    EXPECT_ERROR("\x92\x00\x91\x94\xab"
                 "BlockStored\x90\xc0\x90",
                 WP_EINVAL, "events[0]: missing field 'block_size'");
    /* token 2^31 */
    EXPECT_ERROR("\x92\x00\x91\x95\xab"
                 "BlockStored\x90\xc0\x91\xce\x80\x00\x00\x00\x10",
                 WP_EINVAL, "events[0].token_ids[0]: integer out of range");
    /* block_size 0 */
    EXPECT_ERROR("\x92\x00\x91\x95\xab"
                 "BlockStored\x90\xc0\x90\x00",
                 WP_EINVAL, "events[0].block_size: integer out of range");
    /* negative hash */
    EXPECT_ERROR("\x92\x00\x91\x92\xac"
                 "BlockRemoved\x91\xff",
                 WP_EINVAL, "events[0].block_hashes[0]: expected a non-negative integer or bytes");
    /* medium 5 */
    EXPECT_ERROR("\x92\x00\x91\x93\xac"
                 "BlockRemoved\x90\x05",
                 WP_EINVAL, "events[0].medium: expected a string or nil, got an integer");
    /* parent "p" */
    EXPECT_ERROR("\x92\x00\x91\x95\xab"
                 "BlockStored\x90\xa1p\x90\x10",
                 WP_EINVAL, "events[0].parent_block_hash: expected an integer or bytes");
}

static void test_kvev_limits(void **state)
{
    static const char small[] = "\x92\x00\x90";
    expect_error(small, WP_KVEV_MAX_PAYLOAD + 1, WP_ELIMIT, "at most");

    /* One BlockRemoved with 2^20 + 1 hashes. */
    size_t n = WP_KVEV_MAX_ITEMS + 1;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 0);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_array(&pk, 2);
    pack_str(&pk, "BlockRemoved");
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++)
        msgpack_pack_int(&pk, 0);
    expect_error(sb.data, sb.size, WP_ELIMIT, "events[0].block_hashes: more than 1048576");
    msgpack_sbuffer_destroy(&sb);

    /* The encoder's buffer cap. */
    wp_kvev_event_t ev[4];
    wp_kvev_batch_t b;
    sample(ev, &b);
    wp_buf_t out;
    wp_buf_init(&out, 16);
    wp_err_t err;
    assert_int_equal(wp_kvev_encode(&b, WP_KVEV_ENC_MAP, &out, &err), WP_ELIMIT);
    wp_buf_free(&out);
    ev[1].medium_name = NULL;
    wp_buf_init(&out, 4096);
    assert_int_equal(wp_kvev_encode(&b, WP_KVEV_ENC_MAP, &out, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "events[1].medium"));
    wp_buf_free(&out);
}

static void test_kvev_medium(void **state)
{
    assert_int_equal(wp_kvev_medium_parse(NULL, 0), WP_KVEV_MEDIUM_NONE);
    assert_int_equal(wp_kvev_medium_parse("GPU", 3), WP_KVEV_MEDIUM_GPU);
    assert_int_equal(wp_kvev_medium_parse("CPU", 3), WP_KVEV_MEDIUM_CPU);
    assert_int_equal(wp_kvev_medium_parse("cpu", 3), WP_KVEV_MEDIUM_OTHER);
    assert_int_equal(wp_kvev_medium_parse("GPUX", 4), WP_KVEV_MEDIUM_OTHER);
    assert_null(wp_kvev_medium_name(WP_KVEV_MEDIUM_NONE));
    assert_string_equal(wp_kvev_medium_name(WP_KVEV_MEDIUM_CPU), "CPU");
    assert_string_equal(wp_kvev_type_name(WP_KVEV_REMOVED), "BlockRemoved");
}

/* ---- config ---- */

static wp_status_t parse(const char *json, int rank, wp_kvev_pub_config_t *cfg, wp_err_t *err)
{
    return wp_kvev_pub_config_parse(json, strlen(json), rank, cfg, err);
}

static void test_kvev_config(void **state)
{
    wp_kvev_pub_config_t c;
    wp_err_t err;
    assert_int_equal(parse("{}", 0, &c, &err), WP_OK);
    assert_false(c.enabled);
    assert_string_equal(c.endpoint, "tcp://*:5557");
    assert_string_equal(c.replay_endpoint, "");
    assert_int_equal(c.buffer_steps, 10000);
    assert_int_equal(c.hwm, 100000);
    assert_int_equal(c.max_queue_size, 100000);
    assert_string_equal(c.topic, "");
    assert_int_equal(c.encoding, WP_KVEV_ENC_MAP);

    assert_int_equal(parse("{\"enable_kv_cache_events\": true, \"publisher\": \"zmq\", "
                           "\"endpoint\": \"tcp://*:5557\", \"replay_endpoint\": "
                           "\"tcp://*:5558\", \"buffer_steps\": 500, \"hwm\": 10, "
                           "\"max_queue_size\": 7, \"topic\": \"kv-events\", "
                           "\"encoding\": \"array\"}",
                           2, &c, &err),
                     WP_OK);
    assert_true(c.enabled);
    assert_string_equal(c.endpoint, "tcp://*:5559");
    assert_string_equal(c.replay_endpoint, "tcp://*:5560");
    assert_int_equal(c.buffer_steps, 500);
    assert_int_equal(c.hwm, 10);
    assert_string_equal(c.topic, "kv-events");
    assert_int_equal(c.encoding, WP_KVEV_ENC_ARRAY);

    /* enable alone picks "zmq"; "null" disables; enable false disables. */
    assert_int_equal(parse("{\"enable_kv_cache_events\": true}", 0, &c, &err), WP_OK);
    assert_true(c.enabled);
    assert_int_equal(
        parse("{\"enable_kv_cache_events\": true, \"publisher\": \"null\"}", 0, &c, &err), WP_OK);
    assert_false(c.enabled);
    assert_int_equal(
        parse("{\"enable_kv_cache_events\": false, \"publisher\": \"zmq\"}", 0, &c, &err), WP_OK);
    assert_false(c.enabled);
    assert_int_equal(
        parse("{\"endpoint\": \"inproc://kv\", \"replay_endpoint\": null}", 3, &c, &err), WP_OK);
    assert_string_equal(c.endpoint, "inproc://kv_dp3");
    assert_string_equal(c.replay_endpoint, "");

    assert_int_equal(parse("{\"enable\": true}", 0, &c, &err), WP_EINVAL);
    assert_string_equal(err.msg, "kv-events-config: unknown key 'enable'");
    assert_int_equal(parse("{\"hwm\": \"x\"}", 0, &c, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "key 'hwm'"));
    assert_int_equal(parse("{\"encoding\": \"cbor\"}", 0, &c, &err), WP_EINVAL);
    assert_int_equal(parse("{\"publisher\": \"kafka\"}", 0, &c, &err), WP_EINVAL);
    assert_int_equal(parse("[1]", 0, &c, &err), WP_EINVAL);
    assert_int_equal(parse("{\"endpoint\": \"ipc:///tmp/kv\"}", 1, &c, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "must contain 'inproc' or 'tcp'"));

    char out[64];
    assert_int_equal(wp_kvev_endpoint_offset("tcp://[::1]:5557", 1, out, sizeof(out), &err), WP_OK);
    assert_string_equal(out, "tcp://[::1]:5558");
    assert_int_equal(wp_kvev_endpoint_offset("ipc:///x", 0, out, sizeof(out), &err), WP_OK);
    assert_string_equal(out, "ipc:///x");
}

/* ---- publisher and subscriber on one loop ---- */

typedef struct {
    uint64_t seqs[16];
    int n, resyncs;
    double ts[16];
} got_t;

static void on_batch(void *ud, const wp_kvev_batch_t *b, uint64_t seq)
{
    got_t *g = ud;
    if (g->n < 16) {
        g->ts[g->n] = b->ts;
        g->seqs[g->n++] = seq;
    }
}

static void on_resync(void *ud, const char *why)
{
    ((got_t *)ud)->resyncs++;
}

static void tick(uv_timer_t *t) {}

/* The tests' round timer, one per loop. It repeats: a one-shot timer started on the loop's
 * cached clock can be due already when uv_run(ONCE) updates the clock (a loaded machine), fire
 * before the poll, and leave the poll without a timeout: a wait without end. */
static uv_timer_t rounds;

/* Runs the loop until cond(arg) or 2,000 rounds (each waits for I/O at most 5 ms). */
static void run_until(uv_loop_t *loop, bool (*cond)(void *), void *arg)
{
    uv_timer_start(&rounds, tick, 5, 5);
    for (int i = 0; i < 2000 && !cond(arg); i++)
        uv_run(loop, UV_RUN_ONCE);
    uv_timer_stop(&rounds);
}

static bool subscribed(void *p)
{
    wp_kvev_pub_stats_t st;
    wp_kvev_pub_stats(p, &st);
    return st.subscriptions > 0;
}

static bool three(void *g)
{
    return ((got_t *)g)->n >= 3;
}

static void test_kvev_pub_sub_inproc(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_timer_init(&loop, &rounds);
    wp_err_t err;
    void *ctx = wp_kvev_ctx_new(&err);
    assert_non_null(ctx);
    wp_kvev_pub_config_t cfg;
    assert_int_equal(parse("{\"enable_kv_cache_events\": true, \"endpoint\": \"inproc://kv\", "
                           "\"replay_endpoint\": \"inproc://kv-replay\", \"topic\": \"t\"}",
                           0, &cfg, &err),
                     WP_OK);
    wp_kvev_pub_t *pub = wp_kvev_pub_new(&loop, ctx, &cfg, &err);
    assert_non_null(pub);
    assert_string_equal(wp_kvev_pub_endpoint(pub), "inproc://kv");
    got_t g = {0};
    wp_kvev_sub_cb_t cb = {on_batch, on_resync};
    wp_kvev_sub_t *sub =
        wp_kvev_sub_new(&loop, ctx, "inproc://kv", "inproc://kv-replay", "t", &cb, &g, &err);
    assert_non_null(sub);
    run_until(&loop, subscribed, pub);
    assert_true(subscribed(pub));
    wp_kvev_event_t ev[4];
    wp_kvev_batch_t b;
    sample(ev, &b);
    for (int i = 0; i < 3; i++) {
        b.ts = 100 + i;
        assert_int_equal(wp_kvev_pub_send(pub, &b, &err), WP_OK);
    }
    run_until(&loop, three, &g);
    assert_int_equal(g.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(g.seqs[i], i);
        assert_true(g.ts[i] == 100 + i);
    }
    assert_int_equal(g.resyncs, 0);
    wp_kvev_sub_stats_t ss;
    wp_kvev_sub_stats(sub, &ss);
    assert_int_equal(ss.batches, 3);
    assert_int_equal(ss.events, 12);
    assert_int_equal(ss.last_seq, 2);
    assert_true(ss.last_ts == 102);
    wp_kvev_pub_stats_t ps;
    wp_kvev_pub_stats(pub, &ps);
    assert_int_equal(ps.batches, 3);
    assert_int_equal(ps.next_seq, 3);
    wp_kvev_sub_close(sub);
    wp_kvev_pub_close(pub);
    uv_close((uv_handle_t *)&rounds, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    wp_kvev_ctx_free(ctx);
}

/* A raw publisher (libzmq directly) makes the gaps: one the replay never answers (a DEALER
 * connected where nothing listens: resync after the timeout), a restart (seq back to 0), and
 * with a second subscriber without a replay endpoint, a gap that resyncs at once. */
static void raw_send(void *xpub, uint64_t seq)
{
    wp_kvev_event_t ev = {.type = WP_KVEV_CLEARED};
    wp_kvev_batch_t b = {.ts = (double)seq, .events = &ev, .n_events = 1, .dp_rank = -1};
    wp_buf_t out;
    wp_buf_init(&out, 1024);
    assert_int_equal(wp_kvev_encode(&b, WP_KVEV_ENC_MAP, &out, NULL), WP_OK);
    uint8_t sb[8];
    for (int k = 0; k < 8; k++)
        sb[k] = (uint8_t)(seq >> (56 - 8 * k));
    assert_true(zmq_send(xpub, "t", 1, ZMQ_SNDMORE) == 1);
    assert_true(zmq_send(xpub, sb, 8, ZMQ_SNDMORE) == 8);
    assert_true(zmq_send(xpub, out.data, out.len, 0) == (int)out.len);
    wp_buf_free(&out);
}

typedef struct {
    got_t *g;
    int n, resyncs;
} want_t;

static bool reached(void *arg)
{
    want_t *w = arg;
    return w->g->n >= w->n && w->g->resyncs >= w->resyncs;
}

static void wait_subscription(void *xpub)
{
    char m[8];
    int ms = 5000;
    zmq_setsockopt(xpub, ZMQ_RCVTIMEO, &ms, sizeof(ms));
    assert_true(zmq_recv(xpub, m, sizeof(m), 0) >= 1);
    assert_int_equal(m[0], 1);
}

static void test_kvev_sub_gaps(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_timer_init(&loop, &rounds);
    wp_err_t err;
    void *ctx = wp_kvev_ctx_new(&err);
    void *xpub = zmq_socket(ctx, ZMQ_XPUB);
    int zero = 0;
    zmq_setsockopt(xpub, ZMQ_LINGER, &zero, sizeof(zero));
    assert_int_equal(zmq_bind(xpub, "inproc://raw"), 0);
    got_t g = {0}, g2 = {0};
    wp_kvev_sub_cb_t cb = {on_batch, on_resync};
    wp_kvev_sub_t *sub =
        wp_kvev_sub_new(&loop, ctx, "inproc://raw", "inproc://nobody", "t", &cb, &g, &err);
    assert_non_null(sub);
    wait_subscription(xpub);
    wp_kvev_sub_t *sub2 = wp_kvev_sub_new(&loop, ctx, "inproc://raw", NULL, "", &cb, &g2, &err);
    assert_non_null(sub2);
    wait_subscription(xpub);

    raw_send(xpub, 0);
    raw_send(xpub, 1);
    want_t w = {&g, 2, 0};
    run_until(&loop, reached, &w);
    assert_int_equal(g.n, 2);

    raw_send(xpub, 5); /* the replay goes unanswered: resync after the timeout, then 5 */
    w = (want_t){&g, 3, 1};
    run_until(&loop, reached, &w);
    assert_int_equal(g.resyncs, 1);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.seqs[2], 5);

    raw_send(xpub, 0); /* a restart */
    w = (want_t){&g, 4, 2};
    run_until(&loop, reached, &w);
    assert_int_equal(g.resyncs, 2);
    assert_int_equal(g.seqs[3], 0);

    /* sub2 saw 0, 1, 5 (resync at once: no replay endpoint), 0 (resync). */
    w = (want_t){&g2, 4, 2};
    run_until(&loop, reached, &w);
    assert_int_equal(g2.n, 4);
    assert_int_equal(g2.resyncs, 2);
    wp_kvev_sub_stats_t st;
    wp_kvev_sub_stats(sub, &st);
    assert_int_equal(st.gaps, 1);
    assert_int_equal(st.resyncs, 2);
    assert_int_equal(st.replayed, 0);
    assert_int_equal(st.last_seq, 0);

    wp_kvev_sub_close(sub);
    wp_kvev_sub_close(sub2);
    zmq_close(xpub);
    uv_close((uv_handle_t *)&rounds, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    wp_kvev_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kvev_round_trip_map),
        cmocka_unit_test(test_kvev_round_trip_array),
        cmocka_unit_test(test_kvev_exact_bytes),
        cmocka_unit_test(test_kvev_decode_map_by_hand),
        cmocka_unit_test(test_kvev_decode_array_by_hand),
        cmocka_unit_test(test_kvev_decode_errors),
        cmocka_unit_test(test_kvev_limits),
        cmocka_unit_test(test_kvev_medium),
        cmocka_unit_test(test_kvev_config),
        cmocka_unit_test(test_kvev_pub_sub_inproc),
        cmocka_unit_test(test_kvev_sub_gaps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
