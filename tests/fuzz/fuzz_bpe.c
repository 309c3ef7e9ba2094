/*
 * fuzz_bpe: the model tokenizer's parsers. With the first byte even, the input (less that
 * byte) is encoded by a small byte-level tokenizer built here, once per split pattern and
 * with NFC on, and split by each pre-tokenizer pattern directly (the pieces must be
 * non-empty and cover valid text exactly); it is also rendered as the content of a user
 * message by both chat templates. With the first byte odd, the rest is loaded as a
 * tokenizer.json (and, when it loads, validated and used to encode a fixed text).
 */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "tok/bpe.h"
#include "tok/chat.h"
#include "tok/pretok.h"
#include "tok/unicode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *PATTERNS[] = {
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL, /* ByteLevel with its own GPT-2 regex */
};

static int printable(unsigned b)
{
    return (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
}

static wp_bpe_t *build(const char *pattern)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    unsigned k = 0;
    for (unsigned b = 0; b < 256; b++) {
        unsigned char u[5] = {0};
        wp__utf8_encode(printable(b) ? b : 256 + k++, u);
        cJSON_AddNumberToObject(vocab, (const char *)u, b);
    }
    cJSON_AddNumberToObject(vocab, "th", 256);
    cJSON_AddNumberToObject(vocab, "the", 257);
    cJSON_AddNumberToObject(vocab, "ĠĠ", 258);
    cJSON *merges = cJSON_AddArrayToObject(model, "merges");
    cJSON_AddItemToArray(merges, cJSON_CreateString("t h"));
    cJSON_AddItemToArray(merges, cJSON_CreateString("th e"));
    cJSON_AddItemToArray(merges, cJSON_CreateString("Ġ Ġ"));
    cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "normalizer"), "type", "NFC");
    cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
    if (pattern) {
        cJSON_AddStringToObject(pre, "type", "Sequence");
        cJSON *list = cJSON_AddArrayToObject(pre, "pretokenizers");
        cJSON *split = cJSON_CreateObject();
        cJSON_AddStringToObject(split, "type", "Split");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(split, "pattern"), "Regex", pattern);
        cJSON_AddStringToObject(split, "behavior", "Isolated");
        cJSON_AddItemToArray(list, split);
        cJSON *bl = cJSON_CreateObject();
        cJSON_AddStringToObject(bl, "type", "ByteLevel");
        cJSON_AddFalseToObject(bl, "use_regex");
        cJSON_AddItemToArray(list, bl);
    } else {
        cJSON_AddStringToObject(pre, "type", "ByteLevel");
    }
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    cJSON *a = cJSON_CreateObject();
    cJSON_AddNumberToObject(a, "id", 300);
    cJSON_AddStringToObject(a, "content", "<|im_start|>");
    cJSON_AddItemToArray(added, a);
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    wp_bpe_t *b = NULL;
    wp_err_t err;
    if (wp_bpe_load(json, strlen(json), &b, &err) != WP_OK) {
        fprintf(stderr, "fuzz_bpe: the built tokenizer does not load: %s\n", err.msg);
        abort();
    }
    free(json);
    return b;
}

static void split_check(wp_pretok_kind_t kind, const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = wp_pretok_next(kind, s + i, n - i);
        if (k == 0 || k > n - i)
            abort();
        i += k;
    }
}

static int valid_utf8(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = wp__utf8_decode(s + i, n - i, &cp);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wp_bpe_t *tok[3];
    if (size == 0)
        return 0;
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    wp_err_t err;
    if (data[0] & 1) {
        wp_bpe_t *b = NULL;
        if (wp_bpe_load(text, n, &b, &err) == WP_OK) {
            if (wp_bpe_validate(b, &err) != WP_OK)
                abort();
            int32_t *ids;
            size_t nids;
            if (wp_bpe_encode(b, NULL, "Hello, world!  x", 16, &ids, &nids, &err) == WP_OK)
                free(ids);
            wp_bpe_free(b);
        }
        return 0;
    }
    wp_bpe_cache_t *cache = wp_bpe_cache_new(8);
    for (int k = 0; k < 3; k++) {
        if (!tok[k])
            tok[k] = build(PATTERNS[k]);
        int32_t *ids;
        size_t nids;
        if (wp_bpe_encode(tok[k], cache, text, n, &ids, &nids, &err) == WP_OK) {
            if (nids > 3 * n) /* NFC may expand a code point to three times its bytes */
                abort();
            free(ids);
        }
    }
    wp_bpe_cache_free(cache);
    if (valid_utf8((const uint8_t *)text, n)) {
        split_check(WP_PRETOK_QWEN2, (const uint8_t *)text, n);
        split_check(WP_PRETOK_LLAMA3, (const uint8_t *)text, n);
        split_check(WP_PRETOK_GPT2, (const uint8_t *)text, n);
        wp_chat_msg_t msgs[2] = {{"user", text, n}, {"assistant", text, n}};
        wp_chat_opts_t opts = {1, (int)(data[0] >> 1) & 1};
        wp_buf_t out;
        wp_buf_init(&out, 1u << 20);
        (void)wp_chat_render(WP_CHAT_QWEN3, msgs, 2, &opts, &out, &err);
        (void)wp_chat_render(WP_CHAT_LLAMA3, msgs, 2, &opts, &out, &err);
        wp_buf_free(&out);
    }
    return 0;
}
