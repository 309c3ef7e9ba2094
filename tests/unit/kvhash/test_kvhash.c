/* Tests for kvhash: the seed and block hashes against SHA-256 of CBOR bytes written out by
 * hand (the digests were taken with two independent tools, Python's hashlib and `openssl
 * dgst`, over those bytes), the chain's blocks, salt and LoRA keys, multimodal and bytes
 * keys, the 64-bit form and the hex form.
 *
 * With WELLPATH_KVHASH_VECTORS=<file> and WELLPATH_KVHASH_OUT=<file> set, one more test
 * reads JSON lines from the first file and writes one JSON line per input to the second
 * (tests/integration/vllm_hash.test.mjs compares them with an independent implementation):
 *   {"seed":"0","tokens":[..],"block_size":16,"cache_salt":"s","lora_name":"l"}
 *     -> {"hashes":["<64 hex>",..],"u64":["<decimal>",..]}   (the chain; optional keys)
 *   {"seed":"0","parent":"<64 hex>"|null,"tokens":[..],
 *    "extra":[{"text":"s"},{"bytes":"<hex>"},{"mm":["id",-3]}]|null}
 *     -> {"hashes":["<64 hex>"],"u64":["<decimal>"]}          (one block; null parent: seed)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "kvhash/kvhash.h"

/* ---- fixtures ---- */

static void from_hex(const char *hex, uint8_t *out, size_t n)
{
    assert_int_equal(strlen(hex), 2 * n);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static void assert_hash(const wp_kvhash_t *h, const char *hex)
{
    char got[2 * WP_KVHASH_LEN + 1];
    wp_kvhash_hex(h, got);
    assert_string_equal(got, hex);
}

/* SHA-256 of p[0..n), for comparing against bytes assembled here. */
static void sha256(const void *p, size_t n, wp_kvhash_t *out)
{
    unsigned len = 0;
    assert_int_equal(EVP_Digest(p, n, out->b, &len, EVP_sha256(), NULL), 1);
    assert_int_equal(len, WP_KVHASH_LEN);
}

/* NONE_HASH for PYTHONHASHSEED=0: SHA-256 of 61 30 (the text string "0"). */
#define SEED0 "4e1195df020de59e0d65a33a4279f1183e7ae4e5d980e309f8b55adff2e61c3e"
/* [SEED0 bytes, [1..16], null] */
#define BLOCK1 "202da172482d928bbc42ab25b0151e2b895f13f41002e27b2ceabcfae6d332ea"
/* [BLOCK1 bytes, [0,23,24,255,256,65535,65536,151935,7 x8], null] */
#define BLOCK2 "44c27f5a7353304269a9430a83dadab21b4af7fc77d606c007379bb4010cf688"
/* [SEED0 bytes, [1..16], ["salt"]] and [SEED0 bytes, [1..16], ["lora", "salt"]] */
#define SALTED "0222f5b704a8247ae4068ec648ea39b6a207f22cee65f086f86091a2d25fbd47"
#define LORA_SALTED "1753cda29f41a51b0a0595ec46734e89755609ae1d3c310f4a6d548ec30cc24b"

static const int32_t ONE_TO_16[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const int32_t EDGES[16] = {0, 23, 24, 255, 256, 65535, 65536, 151935,
                                  7, 7,  7,  7,   7,   7,     7,     7};

static void seed0(wp_kvhash_t *s)
{
    assert_int_equal(wp_kvhash_seed("0", 1, s), WP_OK);
}

/* ---- tests ---- */

static void test_kvhash_sha256_known(void **state)
{
    (void)state;
    wp_kvhash_t h;
    sha256("abc", 3, &h); /* FIPS 180-2's example */
    assert_hash(&h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256("", 0, &h);
    assert_hash(&h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_kvhash_seed(void **state)
{
    (void)state;
    wp_kvhash_t s, want;
    seed0(&s);
    assert_hash(&s, SEED0);
    sha256("\x61\x30", 2, &want);
    assert_memory_equal(s.b, want.b, WP_KVHASH_LEN);
    assert_int_equal(wp_kvhash_seed("", 0, &s), WP_OK); /* the text string "": 60 */
    assert_hash(&s, "8d33f520a3c4cef80d2453aef81b612bfe1cb44c8b2025630ad38662763f13d3");
}

static void test_kvhash_block_bytes(void **state)
{
    (void)state;
    wp_kvhash_t s, h, want;
    seed0(&s);
    /* 83 (array of 3) 58 20 (32 bytes) <seed> 90 (array of 16) 01..10 f6 (null) */
    uint8_t cbor[3 + 32 + 1 + 16 + 1] = {0x83, 0x58, 0x20};
    memcpy(cbor + 3, s.b, 32);
    cbor[35] = 0x90;
    for (int i = 0; i < 16; i++)
        cbor[36 + i] = (uint8_t)(i + 1);
    cbor[52] = 0xf6;
    sha256(cbor, sizeof(cbor), &want);
    assert_int_equal(wp_kvhash_block(&s, ONE_TO_16, 16, NULL, 0, &h), WP_OK);
    assert_memory_equal(h.b, want.b, WP_KVHASH_LEN);
    assert_hash(&h, BLOCK1);
}

static void test_kvhash_block_int_widths(void **state)
{
    (void)state;
    wp_kvhash_t parent, h;
    from_hex(BLOCK1, parent.b, WP_KVHASH_LEN);
    assert_int_equal(wp_kvhash_block(&parent, EDGES, 16, NULL, 0, &h), WP_OK);
    assert_hash(&h, BLOCK2);
    /* out may alias parent */
    assert_int_equal(wp_kvhash_block(&parent, EDGES, 16, NULL, 0, &parent), WP_OK);
    assert_hash(&parent, BLOCK2);
}

static void test_kvhash_chain_full_blocks_only(void **state)
{
    (void)state;
    wp_kvhash_t s, out[4];
    int32_t toks[47];
    memcpy(toks, ONE_TO_16, sizeof(ONE_TO_16));
    memcpy(toks + 16, EDGES, sizeof(EDGES));
    for (int i = 32; i < 47; i++)
        toks[i] = 99;
    seed0(&s);
    size_t n = 0;
    assert_int_equal(wp_kvhash_chain(&s, toks, 47, NULL, out, 4, &n), WP_OK);
    assert_int_equal(n, 2); /* 47 tokens: two full blocks, 15 left unhashed */
    assert_hash(&out[0], BLOCK1);
    assert_hash(&out[1], BLOCK2);
    assert_int_equal(wp_kvhash_chain(&s, toks, 15, NULL, NULL, 0, &n), WP_OK);
    assert_int_equal(n, 0);
    /* cap 1: one hash written, the count still says two */
    memset(out, 0, sizeof(out));
    assert_int_equal(wp_kvhash_chain(&s, toks, 32, NULL, out, 1, &n), WP_OK);
    assert_int_equal(n, 2);
    assert_hash(&out[0], BLOCK1);
    wp_kvhash_t zero = {{0}};
    assert_memory_equal(out[1].b, zero.b, WP_KVHASH_LEN);
}

static void test_kvhash_chain_salt_and_lora(void **state)
{
    (void)state;
    wp_kvhash_t s, out[2], plain[2];
    int32_t toks[32];
    memcpy(toks, ONE_TO_16, sizeof(ONE_TO_16));
    memcpy(toks + 16, EDGES, sizeof(EDGES));
    seed0(&s);
    size_t n;
    wp_kvhash_opts_t o = {.cache_salt = "salt"};
    assert_int_equal(wp_kvhash_chain(&s, toks, 32, &o, out, 2, &n), WP_OK);
    assert_hash(&out[0], SALTED);
    /* the salt is a key of block 0 only: block 1 is the plain hash over a salted parent */
    wp_kvhash_t want;
    assert_int_equal(wp_kvhash_block(&out[0], EDGES, 16, NULL, 0, &want), WP_OK);
    assert_memory_equal(out[1].b, want.b, WP_KVHASH_LEN);
    /* "" is no salt */
    o.cache_salt = "";
    assert_int_equal(wp_kvhash_chain(&s, toks, 32, &o, out, 2, &n), WP_OK);
    assert_int_equal(wp_kvhash_chain(&s, toks, 32, NULL, plain, 2, &n), WP_OK);
    assert_memory_equal(out, plain, sizeof(plain));
    /* LoRA name first, then the salt; the name is a key of every block */
    o = (wp_kvhash_opts_t){.cache_salt = "salt", .lora_name = "lora"};
    assert_int_equal(wp_kvhash_chain(&s, toks, 32, &o, out, 2, &n), WP_OK);
    assert_hash(&out[0], LORA_SALTED);
    wp_kvhash_key_t lora = {WP_KVHASH_KEY_TEXT, "lora", 4, 0};
    assert_int_equal(wp_kvhash_block(&out[0], EDGES, 16, &lora, 1, &want), WP_OK);
    assert_memory_equal(out[1].b, want.b, WP_KVHASH_LEN);
}

static void test_kvhash_chain_block_size(void **state)
{
    (void)state;
    wp_kvhash_t s, out[3], want;
    seed0(&s);
    size_t n;
    wp_kvhash_opts_t o = {.block_size = 5};
    assert_int_equal(wp_kvhash_chain(&s, ONE_TO_16, 16, &o, out, 3, &n), WP_OK);
    assert_int_equal(n, 3);
    assert_int_equal(wp_kvhash_block(&out[1], ONE_TO_16 + 10, 5, NULL, 0, &want), WP_OK);
    assert_memory_equal(out[2].b, want.b, WP_KVHASH_LEN);
}

static void test_kvhash_mm_and_bytes_keys(void **state)
{
    (void)state;
    wp_kvhash_t s, h, want;
    seed0(&s);
    static const int32_t toks[2] = {5, 6};
    wp_kvhash_key_t keys[2] = {{WP_KVHASH_KEY_MM, "ab", 2, -3},
                               {WP_KVHASH_KEY_BYTES, "\x01\x02", 2, 0}};
    /* 83 5820 <seed> 82 05 06 82 (82 62 61 62 22) (42 01 02) */
    uint8_t cbor[3 + 32 + 3 + 1 + 5 + 3] = {0x83, 0x58, 0x20};
    memcpy(cbor + 3, s.b, 32);
    static const uint8_t tail[] = {0x82, 0x05, 0x06, 0x82, 0x82, 0x62,
                                   0x61, 0x62, 0x22, 0x42, 0x01, 0x02};
    memcpy(cbor + 35, tail, sizeof(tail));
    sha256(cbor, sizeof(cbor), &want);
    assert_int_equal(wp_kvhash_block(&s, toks, 2, keys, 2, &h), WP_OK);
    assert_memory_equal(h.b, want.b, WP_KVHASH_LEN);
}

static void test_kvhash_u64_and_hex(void **state)
{
    (void)state;
    wp_kvhash_t h;
    from_hex(BLOCK1, h.b, WP_KVHASH_LEN);
    /* the last 8 bytes of BLOCK1, 2ceabcfae6d332ea, as a big-endian integer */
    assert_true(wp_kvhash_u64(&h) == UINT64_C(0x2ceabcfae6d332ea));
    assert_hash(&h, BLOCK1);
}

/* ---- the vectors file (tests/integration/vllm_hash.test.mjs) ---- */

static void print_hashes(FILE *f, const wp_kvhash_t *h, size_t n)
{
    char hex[2 * WP_KVHASH_LEN + 1];
    fputs("{\"hashes\":[", f);
    for (size_t i = 0; i < n; i++) {
        wp_kvhash_hex(&h[i], hex);
        fprintf(f, "%s\"%s\"", i ? "," : "", hex);
    }
    fputs("],\"u64\":[", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\"%" PRIu64 "\"", i ? "," : "", wp_kvhash_u64(&h[i]));
    fputs("]}\n", f);
}

static size_t read_tokens(const cJSON *arr, int32_t **out)
{
    size_t n = (size_t)cJSON_GetArraySize(arr);
    *out = calloc(n ? n : 1, sizeof(int32_t));
    assert_non_null(*out);
    size_t i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, arr)(*out)[i++] = (int32_t)t->valuedouble;
    return n;
}

static const char *opt_string(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void vector_chain(FILE *f, const cJSON *o, const wp_kvhash_t *seed, const int32_t *toks,
                         size_t n)
{
    wp_kvhash_opts_t opts = {0};
    const cJSON *bs = cJSON_GetObjectItemCaseSensitive(o, "block_size");
    if (cJSON_IsNumber(bs))
        opts.block_size = (size_t)bs->valuedouble;
    opts.cache_salt = opt_string(o, "cache_salt");
    opts.lora_name = opt_string(o, "lora_name");
    size_t cap = n / (opts.block_size ? opts.block_size : WP_KVHASH_BLOCK_SIZE), got = 0;
    wp_kvhash_t *h = calloc(cap ? cap : 1, sizeof(*h));
    assert_non_null(h);
    assert_int_equal(wp_kvhash_chain(seed, toks, n, &opts, h, cap, &got), WP_OK);
    assert_int_equal(got, cap);
    print_hashes(f, h, got);
    free(h);
}

/* One extra key; byte strings are decoded from hex into buf. */
static wp_kvhash_key_t read_key(const cJSON *k, uint8_t *buf, size_t cap)
{
    const char *s;
    if ((s = opt_string(k, "text")) != NULL)
        return (wp_kvhash_key_t){WP_KVHASH_KEY_TEXT, s, strlen(s), 0};
    if ((s = opt_string(k, "bytes")) != NULL) {
        assert_true(strlen(s) / 2 <= cap);
        from_hex(s, buf, strlen(s) / 2);
        return (wp_kvhash_key_t){WP_KVHASH_KEY_BYTES, buf, strlen(s) / 2, 0};
    }
    const cJSON *mm = cJSON_GetObjectItemCaseSensitive(k, "mm");
    assert_true(cJSON_IsArray(mm) && cJSON_GetArraySize(mm) == 2);
    const char *id = cJSON_GetArrayItem(mm, 0)->valuestring;
    assert_non_null(id);
    return (wp_kvhash_key_t){WP_KVHASH_KEY_MM, id, strlen(id),
                             (int64_t)cJSON_GetArrayItem(mm, 1)->valuedouble};
}

#define KEYS_MAX 8
#define KEY_BYTES_MAX 64

static void vector_block(FILE *f, const cJSON *o, const wp_kvhash_t *seed, const int32_t *toks,
                         size_t n)
{
    wp_kvhash_t parent = *seed, h;
    const char *p = opt_string(o, "parent");
    if (p != NULL)
        from_hex(p, parent.b, WP_KVHASH_LEN);
    wp_kvhash_key_t keys[KEYS_MAX];
    uint8_t bufs[KEYS_MAX][KEY_BYTES_MAX];
    size_t nk = 0;
    const cJSON *k, *extra = cJSON_GetObjectItemCaseSensitive(o, "extra");
    cJSON_ArrayForEach(k, extra)
    {
        assert_true(nk < KEYS_MAX);
        keys[nk] = read_key(k, bufs[nk], KEY_BYTES_MAX);
        nk++;
    }
    assert_int_equal(wp_kvhash_block(&parent, toks, n, keys, nk, &h), WP_OK);
    print_hashes(f, &h, 1);
}

static void vector_line(FILE *f, const char *line)
{
    cJSON *o = cJSON_Parse(line);
    assert_non_null(o);
    const char *seed_s = opt_string(o, "seed");
    assert_non_null(seed_s);
    wp_kvhash_t seed;
    assert_int_equal(wp_kvhash_seed(seed_s, strlen(seed_s), &seed), WP_OK);
    int32_t *toks;
    size_t n = read_tokens(cJSON_GetObjectItemCaseSensitive(o, "tokens"), &toks);
    if (cJSON_HasObjectItem(o, "extra"))
        vector_block(f, o, &seed, toks, n);
    else
        vector_chain(f, o, &seed, toks, n);
    free(toks);
    cJSON_Delete(o);
}

static void test_kvhash_vectors_file(void **state)
{
    (void)state;
    const char *in = getenv("WELLPATH_KVHASH_VECTORS");
    const char *out = getenv("WELLPATH_KVHASH_OUT");
    if (in == NULL || out == NULL || in[0] == 0 || out[0] == 0)
        skip();
    FILE *fi = fopen(in, "r"), *fo = fopen(out, "w");
    assert_non_null(fi);
    assert_non_null(fo);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, fi) > 0) {
        if (line[0] != '{')
            continue;
        vector_line(fo, line);
    }
    free(line);
    assert_int_equal(fclose(fi), 0);
    assert_int_equal(fclose(fo), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kvhash_sha256_known),
        cmocka_unit_test(test_kvhash_seed),
        cmocka_unit_test(test_kvhash_block_bytes),
        cmocka_unit_test(test_kvhash_block_int_widths),
        cmocka_unit_test(test_kvhash_chain_full_blocks_only),
        cmocka_unit_test(test_kvhash_chain_salt_and_lora),
        cmocka_unit_test(test_kvhash_chain_block_size),
        cmocka_unit_test(test_kvhash_mm_and_bytes_keys),
        cmocka_unit_test(test_kvhash_u64_and_hex),
        cmocka_unit_test(test_kvhash_vectors_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
