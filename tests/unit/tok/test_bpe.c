/* Tests for tok/bpe and tok/pretok: a tiny byte-level tokenizer built in the test (ids
 * 0..255 are the bytes, six merges above them) with results worked out by hand; the three
 * pre-tokenizer patterns; partial NFC; load errors that name what is wrong.
 *
 * Also the helper of tests/integration/bpe_tokenizer.test.mjs: with WP_BPE_JSON (a
 * tokenizer.json) and WP_BPE_INPUT (one JSON string a line) set, it encodes every line and
 * writes one line of space-separated ids each to WP_BPE_OUTPUT, then exits. With WP_BPE_CHAT
 * (qwen3 or llama3) each line is a conversation instead, {"messages": [{"role", "content"}],
 * "add_generation_prompt", "enable_thinking"}, rendered by tok/chat before encoding; the
 * output line is then the rendered text as a JSON string, a tab, and the ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "tok/bpe.h"
#include "tok/chat.h"
#include "tok/pretok.h"
#include "tok/unicode.h"

/* The GPT-2 byte-level character of byte b, UTF-8, into out (room for 3 bytes + NUL). */
static void byte_char(unsigned b, char *out)
{
    unsigned cp = b;
    int printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae);
    if (!printable) {
        unsigned k = 0;
        for (unsigned x = 0; x < b; x++)
            if (!((x >= '!' && x <= '~') || (x >= 0xa1 && x <= 0xac) || (x >= 0xae)))
                k++;
        cp = 256 + k;
    }
    unsigned char u[4];
    size_t n = wp__utf8_encode(cp, u);
    memcpy(out, u, n);
    out[n] = '\0';
}

static const char *QWEN2_PAT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
                               "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* The tiny tokenizer: bytes are ids 0..255; merges (rank: result id)
 *   0 "h e" 256, 1 "l l" 257, 2 "he ll" 258, 3 "Ġ w" 259, 4 "o r" 260, 5 "Ġw or" 261;
 * the added token "<|x|>" is 300. pairs: merges as [a, b] arrays instead of strings. */
static char *tiny_json(const char *normalizer, const char *pattern, int pairs)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    for (unsigned b = 0; b < 256; b++) {
        char c[5];
        byte_char(b, c);
        cJSON_AddNumberToObject(vocab, c, b);
    }
    static const char *extra[] = {"he", "ll", "hell", "Ġw", "or", "Ġwor"};
    for (int i = 0; i < 6; i++)
        cJSON_AddNumberToObject(vocab, extra[i], 256 + i);
    static const char *merges[][2] = {{"h", "e"}, {"l", "l"}, {"he", "ll"},
                                      {"Ġ", "w"}, {"o", "r"}, {"Ġw", "or"}};
    cJSON *m = cJSON_AddArrayToObject(model, "merges");
    for (int i = 0; i < 6; i++) {
        if (pairs) {
            cJSON *p = cJSON_CreateArray();
            cJSON_AddItemToArray(p, cJSON_CreateString(merges[i][0]));
            cJSON_AddItemToArray(p, cJSON_CreateString(merges[i][1]));
            cJSON_AddItemToArray(m, p);
        } else {
            char s[32];
            snprintf(s, sizeof s, "%s %s", merges[i][0], merges[i][1]);
            cJSON_AddItemToArray(m, cJSON_CreateString(s));
        }
    }
    if (normalizer) {
        cJSON *n = cJSON_AddObjectToObject(root, "normalizer");
        cJSON_AddStringToObject(n, "type", normalizer);
    } else {
        cJSON_AddNullToObject(root, "normalizer");
    }
    cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
    if (pattern) {
        cJSON_AddStringToObject(pre, "type", "Sequence");
        cJSON *list = cJSON_AddArrayToObject(pre, "pretokenizers");
        cJSON *split = cJSON_CreateObject();
        cJSON_AddStringToObject(split, "type", "Split");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(split, "pattern"), "Regex", pattern);
        cJSON_AddStringToObject(split, "behavior", "Isolated");
        cJSON_AddFalseToObject(split, "invert");
        cJSON_AddItemToArray(list, split);
        cJSON *bl = cJSON_CreateObject();
        cJSON_AddStringToObject(bl, "type", "ByteLevel");
        cJSON_AddFalseToObject(bl, "add_prefix_space");
        cJSON_AddFalseToObject(bl, "use_regex");
        cJSON_AddItemToArray(list, bl);
    } else {
        cJSON_AddStringToObject(pre, "type", "ByteLevel");
        cJSON_AddFalseToObject(pre, "add_prefix_space");
        cJSON_AddTrueToObject(pre, "use_regex");
    }
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    cJSON *a = cJSON_CreateObject();
    cJSON_AddNumberToObject(a, "id", 300);
    cJSON_AddStringToObject(a, "content", "<|x|>");
    cJSON_AddFalseToObject(a, "lstrip");
    cJSON_AddFalseToObject(a, "rstrip");
    cJSON_AddItemToArray(added, a);
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

static wp_bpe_t *tiny(const char *normalizer, const char *pattern, int pairs)
{
    char *json = tiny_json(normalizer, pattern, pairs);
    wp_bpe_t *b = NULL;
    wp_err_t err = {{0}};
    wp_status_t st = wp_bpe_load(json, strlen(json), &b, &err);
    free(json);
    if (st != WP_OK)
        fail_msg("load: %s", err.msg);
    assert_int_equal(wp_bpe_validate(b, &err), WP_OK);
    return b;
}

static void expect_ids(const wp_bpe_t *b, wp_bpe_cache_t *cache, const char *text,
                       const int32_t *want, size_t nwant)
{
    int32_t *ids;
    size_t n;
    wp_err_t err = {{0}};
    assert_int_equal(wp_bpe_encode(b, cache, text, strlen(text), &ids, &n, &err), WP_OK);
    if (n != nwant)
        fail_msg("'%s': %zu ids, want %zu", text, n, nwant);
    for (size_t i = 0; i < n; i++)
        if (ids[i] != want[i])
            fail_msg("'%s': id #%zu is %d, want %d", text, i, ids[i], want[i]);
    free(ids);
}

#define EXPECT(b, c, text, ...)                                                                    \
    do {                                                                                           \
        const int32_t w_[] = {__VA_ARGS__};                                                        \
        expect_ids(b, c, text, w_, sizeof w_ / sizeof w_[0]);                                      \
    } while (0)

static void test_bpe_merges_by_rank(void **state)
{
    (void)state;
    for (int pairs = 0; pairs < 2; pairs++) {
        wp_bpe_t *b = tiny(NULL, QWEN2_PAT, pairs);
        wp_bpe_cache_t *c = wp_bpe_cache_new(4);
        for (int round = 0; round < 2; round++) { /* the second round hits the cache */
            wp_bpe_cache_t *cache = round ? c : NULL;
            /* "hello": he, ll, hell -> [hell, o]; " world": Ġw, or, Ġwor -> [Ġwor, l, d] */
            EXPECT(b, cache, "hello world", 258, 'o', 261, 'l', 'd');
            EXPECT(b, cache, "lll", 257, 'l');          /* leftmost first on a tie */
            EXPECT(b, cache, "hehe", 256, 256);         /* no merge of he+he */
            EXPECT(b, cache, "a<|x|>b", 'a', 300, 'b'); /* the added token, not split */
            EXPECT(b, cache, "<|x|><|x|", 300, '<', '|', 'x', '|');
            EXPECT(b, cache, "it's", 'i', 't', '\'', 's');
            EXPECT(b, cache, "\xc3\xa9", 0xc3, 0xa9); /* bytes, not characters */
        }
        int32_t *ids = (int32_t *)1;
        size_t n = 7;
        assert_int_equal(wp_bpe_encode(b, c, "", 0, &ids, &n, NULL), WP_OK);
        assert_null(ids);
        assert_int_equal(n, 0);
        assert_int_equal(wp_bpe_token_id(b, "Ġwor", strlen("Ġwor")), 261);
        assert_int_equal(wp_bpe_token_id(b, "<|x|>", 5), 300);
        assert_int_equal(wp_bpe_token_id(b, "zzz", 3), -1);
        assert_int_equal(wp_bpe_vocab_size(b), 301);
        wp_bpe_cache_free(c);
        wp_bpe_free(b);
    }
}

/* Pieces above 64 bytes are merged with the heap: the same ids as the scan. */
static void test_bpe_long_pieces(void **state)
{
    (void)state;
    wp_bpe_t *b = tiny(NULL, QWEN2_PAT, 0);
    char text[200];
    int32_t want[200];
    size_t nw = 0;
    text[0] = '\0';
    for (int i = 0; i < 20; i++) { /* one 100-byte word */
        strcat(text, "hello");
        want[nw++] = 258;
        want[nw++] = 'o';
    }
    expect_ids(b, NULL, text, want, nw);
    memset(text, 'l', 65); /* leftmost first: 32 x "ll", then "l" */
    text[65] = '\0';
    nw = 0;
    for (int i = 0; i < 32; i++)
        want[nw++] = 257;
    want[nw++] = 'l';
    expect_ids(b, NULL, text, want, nw);
    wp_bpe_free(b);
}

static void test_bpe_bad_utf8(void **state)
{
    (void)state;
    wp_bpe_t *b = tiny(NULL, QWEN2_PAT, 0);
    int32_t *ids;
    size_t n;
    wp_err_t err = {{0}};
    assert_int_equal(wp_bpe_encode(b, NULL, "ab\xff", 3, &ids, &n, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "byte 2"));
    assert_int_equal(wp_bpe_encode(b, NULL, "\xe4\xbd", 2, &ids, &n, &err), WP_EINVAL);
    wp_bpe_free(b);
}

static void test_bpe_nfc(void **state)
{
    (void)state;
    wp_bpe_t *b = tiny("NFC", QWEN2_PAT, 0);
    EXPECT(b, NULL, "e\xcc\x81", 0xc3, 0xa9);    /* e + U+0301 -> U+00E9 */
    EXPECT(b, NULL, "\xe2\x84\xab", 0xc3, 0x85); /* U+212B ANGSTROM SIGN -> U+00C5 */
    /* U+05B0 (class 10) before U+0334 (class 1): out of order, although neither code point
     * changes on its own or composes */
    EXPECT(b, NULL, "a\xd6\xb0\xcc\xb4", 'a', 0xcc, 0xb4, 0xd6, 0xb0);
    wp_bpe_free(b);
    assert_true(wp__nfc_may_change((const unsigned char *)"a\xd6\xb0\xcc\xb4", 5));
    assert_false(wp__nfc_may_change((const unsigned char *)"a\xcc\xb4\xd6\xb0", 5));
    assert_false(wp__nfc_may_change((const unsigned char *)"caf\xc3\xa9 \xe4\xbd\xa0", 9));
    wp_bpe_t *raw = tiny(NULL, QWEN2_PAT, 0);
    EXPECT(raw, NULL, "e\xcc\x81", 'e', 0xcc, 0x81);
    wp_bpe_free(raw);

    unsigned char out[64];
    /* a + U+0323 + U+0302 -> U+1EAD; Hangul jamo L V T -> one syllable U+D4DB */
    const char *in = "a\xcc\xa3\xcc\x82 \xe1\x84\x91\xe1\x85\xb1\xe1\x86\xb6";
    size_t n = wp__nfc((const unsigned char *)in, strlen(in), out);
    assert_int_equal(n, 7);
    assert_memory_equal(out, "\xe1\xba\xad \xed\x93\x9b", 7);
    /* marks out of canonical order (U+0302 class 230 before U+0323 class 220) and a
     * precomposed letter followed by a mark that sorts before its own: both U+1EAD */
    const char *in2 = "a\xcc\x82\xcc\xa3 \xc3\xa2\xcc\xa3";
    n = wp__nfc((const unsigned char *)in2, strlen(in2), out);
    assert_int_equal(n, 7);
    assert_memory_equal(out, "\xe1\xba\xad \xe1\xba\xad", 7);
    /* blocking: U+0346 (class 230, no composite with a) blocks U+0301 (230); U+0316 (220)
     * does not block U+0300 (230); U+0315 (232) sorts after U+0301, which then composes */
    const char *in3 = "a\xcd\x86\xcc\x81 a\xcc\x96\xcc\x80 e\xcc\x95\xcc\x81";
    n = wp__nfc((const unsigned char *)in3, strlen(in3), out);
    const char *want3 = "a\xcd\x86\xcc\x81 \xc3\xa0\xcc\x96 \xc3\xa9\xcc\x95";
    assert_int_equal(n, strlen(want3));
    assert_memory_equal(out, want3, n);
}

/* The pre-tokens of text joined with '|'. */
static void split(wp_pretok_kind_t kind, const char *text, char *out, size_t cap)
{
    size_t n = strlen(text), i = 0, o = 0;
    while (i < n) {
        size_t k = wp_pretok_next(kind, (const unsigned char *)text + i, n - i);
        assert_true(k > 0 && i + k <= n);
        if (o && o < cap - 1)
            out[o++] = '|';
        for (size_t j = 0; j < k && o < cap - 1; j++)
            out[o++] = text[i + j];
        i += k;
    }
    out[o] = '\0';
}

#define SPLIT(kind, text, want)                                                                    \
    do {                                                                                           \
        char got_[256];                                                                            \
        split(kind, text, got_, sizeof got_);                                                      \
        assert_string_equal(got_, want);                                                           \
    } while (0)

static void test_pretok_patterns(void **state)
{
    (void)state;
    const char *pq = QWEN2_PAT;
    assert_int_equal(wp_pretok_kind_from_pattern(pq, strlen(pq)), WP_PRETOK_QWEN2);
    assert_int_equal(wp_pretok_kind_from_pattern("\\s+", 3), WP_PRETOK_NONE);

    SPLIT(WP_PRETOK_QWEN2, "Hello, world!  \n\n  x", "Hello|,| world|!|  \n\n| | x");
    SPLIT(WP_PRETOK_QWEN2, "12345 it's IT'S", "1|2|3|4|5| it|'s| IT|'S");
    SPLIT(WP_PRETOK_QWEN2, "a  ", "a|  ");
    SPLIT(WP_PRETOK_QWEN2, "(word\tx ...\n\ny", "(word|\tx| ...\n\n|y");
    SPLIT(WP_PRETOK_QWEN2, "'sup 're", "'s|up| '|re"); /* contraction first */
    SPLIT(WP_PRETOK_QWEN2, "caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd",
          "caf\xc3\xa9| \xe4\xbd\xa0\xe5\xa5\xbd");
    SPLIT(WP_PRETOK_LLAMA3, "12345 x", "123|45| x");
    SPLIT(WP_PRETOK_GPT2, "Hello, world!  x IT'S 123", "Hello|,| world|!| | x| IT|'|S| 123");
    SPLIT(WP_PRETOK_GPT2, "it's\n\n", "it|'s|\n\n");
}

static void expect_load_error(const char *json, const char *needle)
{
    wp_bpe_t *b = (wp_bpe_t *)1;
    wp_err_t err = {{0}};
    assert_int_not_equal(wp_bpe_load(json, strlen(json), &b, &err), WP_OK);
    assert_null(b);
    if (!strstr(err.msg, needle))
        fail_msg("error '%s' does not mention '%s'", err.msg, needle);
}

/* Replaces the first occurrence of from in the tiny tokenizer's JSON with to. */
static void expect_edit_error(const char *from, const char *to, const char *needle)
{
    char *json = tiny_json("NFC", QWEN2_PAT, 0);
    char *at = strstr(json, from);
    assert_non_null(at);
    size_t n = strlen(json), fl = strlen(from), tl = strlen(to);
    char *edited = malloc(n - fl + tl + 1);
    memcpy(edited, json, (size_t)(at - json));
    memcpy(edited + (at - json), to, tl);
    memcpy(edited + (at - json) + tl, at + fl, n - (size_t)(at - json) - fl + 1);
    expect_load_error(edited, needle);
    free(edited);
    free(json);
}

static void test_bpe_load_errors(void **state)
{
    (void)state;
    expect_load_error("{\"model\":", "not valid JSON");
    expect_load_error("[]", "not an object");
    expect_load_error("{}", "model: missing");
    expect_load_error("{\"model\":{\"type\":\"WordPiece\"}}", "WordPiece");
    expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}",
                      "byte 0x00 has no token");
    expect_edit_error("\"Ġw or\"", "\"Ġw oz\"", "model.merges[5]: 'oz' is not in the vocab");
    expect_edit_error("\"Ġw or\"", "\"Ġwor\"", "model.merges[5]: expected");
    expect_edit_error("\"NFC\"", "\"Lowercase\"", "normalizer: type 'Lowercase'");
    expect_edit_error("\\\\p{N}|", "\\\\p{N}+|", "is not one of the known patterns");
    expect_edit_error("\"Isolated\"", "\"Removed\"", "behavior must be 'Isolated'");
    expect_edit_error("\"rstrip\":false", "\"rstrip\":true", "added_tokens[0] '<|x|>'");
    expect_edit_error("\"hell\":258", "\"hell\":-1", "model.vocab['hell']");
}

/* One conversation of the helper's chat mode. */
static int helper_chat(const wp_bpe_t *b, wp_bpe_cache_t *cache, const char *chat,
                       const cJSON *conv, FILE *out)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(conv, "messages");
    size_t n = (size_t)cJSON_GetArraySize(list);
    wp_chat_msg_t *msgs = calloc(n ? n : 1, sizeof *msgs);
    size_t i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, list)
    {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!cJSON_IsString(role) || !cJSON_IsString(content)) {
            fprintf(stderr, "input: a message without role or content\n");
            free(msgs);
            return 1;
        }
        msgs[i].role = role->valuestring;
        msgs[i].content = content->valuestring;
        msgs[i].content_len = strlen(content->valuestring);
        i++;
    }
    wp_chat_opts_t opts = {
        .add_generation_prompt =
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(conv, "add_generation_prompt")),
        .enable_thinking =
            !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(conv, "enable_thinking")),
    };
    wp_chat_kind_t kind = strcmp(chat, "llama3") == 0 ? WP_CHAT_LLAMA3 : WP_CHAT_QWEN3;
    wp_buf_t text, js;
    wp_buf_init(&text, WP_BUF_DEFAULT_MAX);
    wp_buf_init(&js, WP_BUF_DEFAULT_MAX);
    wp_err_t err = {{0}};
    int32_t *ids = NULL;
    size_t nids = 0;
    if (wp_chat_render(kind, msgs, n, &opts, &text, &err) != WP_OK ||
        wp_bpe_encode(b, cache, text.data ? text.data : "", text.len, &ids, &nids, &err) != WP_OK) {
        fprintf(out, "error: %s\n", err.msg);
    } else {
        wp_buf_json_escape(&js, text.data ? text.data : "", text.len);
        fprintf(out, "\"%s\"\t", js.data ? js.data : "");
        for (size_t k = 0; k < nids; k++)
            fprintf(out, k ? " %d" : "%d", ids[k]);
        fputc('\n', out);
    }
    free(ids);
    wp_buf_free(&text);
    wp_buf_free(&js);
    free(msgs);
    return 0;
}

/* The integration test's helper: see the top of this file. */
static int run_helper(const char *json_path, const char *in_path, const char *out_path,
                      const char *chat)
{
    FILE *f = fopen(json_path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", json_path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *json = malloc((size_t)len + 1);
    if (!json || fread(json, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "%s: cannot read\n", json_path);
        return 1;
    }
    fclose(f);
    wp_bpe_t *b;
    wp_err_t err = {{0}};
    if (wp_bpe_load(json, (size_t)len, &b, &err) != WP_OK) {
        fprintf(stderr, "%s: %s\n", json_path, err.msg);
        return 1;
    }
    free(json);
    if (wp_bpe_validate(b, &err) != WP_OK) {
        fprintf(stderr, "validate: %s\n", err.msg);
        return 1;
    }
    FILE *in = fopen(in_path, "rb"), *out = fopen(out_path, "wb");
    if (!in || !out) {
        fprintf(stderr, "cannot open %s or %s\n", in_path, out_path);
        return 1;
    }
    wp_bpe_cache_t *cache = wp_bpe_cache_new(0);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int rc = 0;
    while ((got = getline(&line, &cap, in)) > 0) {
        cJSON *s = cJSON_ParseWithLength(line, (size_t)got);
        if (chat && cJSON_IsObject(s)) {
            rc = helper_chat(b, cache, chat, s, out);
            cJSON_Delete(s);
            if (rc)
                break;
            continue;
        }
        if (!cJSON_IsString(s)) {
            fprintf(stderr, "input: a line is not a JSON string\n");
            rc = 1;
            break;
        }
        int32_t *ids;
        size_t n;
        /* cJSON strings end at a NUL: the corpus has none */
        if (wp_bpe_encode(b, cache, s->valuestring, strlen(s->valuestring), &ids, &n, &err) !=
            WP_OK) {
            fprintf(out, "error: %s\n", err.msg);
        } else {
            for (size_t i = 0; i < n; i++)
                fprintf(out, i ? " %d" : "%d", ids[i]);
            fputc('\n', out);
            free(ids);
        }
        cJSON_Delete(s);
    }
    free(line);
    fclose(in);
    fclose(out);
    wp_bpe_cache_free(cache);
    wp_bpe_free(b);
    return rc;
}

int main(void)
{
    const char *json = getenv("WP_BPE_JSON"), *in = getenv("WP_BPE_INPUT");
    const char *out = getenv("WP_BPE_OUTPUT");
    if (json && in && out)
        return run_helper(json, in, out, getenv("WP_BPE_CHAT"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bpe_merges_by_rank), cmocka_unit_test(test_bpe_bad_utf8),
        cmocka_unit_test(test_bpe_long_pieces),    cmocka_unit_test(test_bpe_nfc),
        cmocka_unit_test(test_pretok_patterns),    cmocka_unit_test(test_bpe_load_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
