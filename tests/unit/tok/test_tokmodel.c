/* Tests for tok/model: the post-processor's special tokens (the BOS rule of completions),
 * transformers' LlamaTokenizerFast flags, chat template detection from tokenizer_config.json,
 * chat encoding and the one-call request path, on a tiny hand-made tokenizer.json (bytes are
 * ids 0..255, no merges; added tokens from 256). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/openai.h"
#include "base/buf.h"
#include "tok/model.h"
#include "tok/unicode.h"

static const char *ADDED[] = {"<s>",
                              "</s>",
                              "<|im_start|>",
                              "<|im_end|>",
                              "<|begin_of_text|>",
                              "<|start_header_id|>",
                              "<|end_header_id|>",
                              "<|eot_id|>"};
#define N_ADDED (sizeof(ADDED) / sizeof(ADDED[0]))

/* The GPT-2 byte-level character of byte b, UTF-8, into out (room for 3 bytes + NUL). */
static void byte_char(unsigned b, char *out)
{
    unsigned cp = b, k = 0;
#define PRINTABLE(x) (((x) >= '!' && (x) <= '~') || ((x) >= 0xa1 && (x) <= 0xac) || (x) >= 0xae)
    if (!PRINTABLE(b)) {
        for (unsigned x = 0; x < b; x++)
            k += !PRINTABLE(x);
        cp = 256 + k;
    }
    unsigned char u[4];
    size_t n = wp__utf8_encode(cp, u);
    memcpy(out, u, n);
    out[n] = '\0';
}

/* tokenizer.json with post_processor pp (JSON text, NULL: null). Caller frees. */
static char *tiny_json(const char *pp)
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
    cJSON_AddArrayToObject(model, "merges");
    cJSON_AddNullToObject(root, "normalizer");
    cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "ByteLevel");
    cJSON_AddFalseToObject(pre, "add_prefix_space");
    cJSON_AddTrueToObject(pre, "use_regex");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    for (size_t i = 0; i < N_ADDED; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", 256 + (double)i);
        cJSON_AddStringToObject(a, "content", ADDED[i]);
        cJSON_AddFalseToObject(a, "lstrip");
        cJSON_AddFalseToObject(a, "rstrip");
        cJSON_AddTrueToObject(a, "special");
        cJSON_AddItemToArray(added, a);
    }
    if (pp != NULL) {
        cJSON *p = cJSON_Parse(pp);
        assert_non_null(p);
        cJSON_AddItemToObject(root, "post_processor", p);
    } else {
        cJSON_AddNullToObject(root, "post_processor");
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

static wp_status_t load(const char *pp, const char *cfg, wp_tokmodel_t **m, wp_err_t *err)
{
    char *json = tiny_json(pp);
    wp_status_t st =
        wp_tokmodel_load(json, strlen(json), cfg, cfg != NULL ? strlen(cfg) : 0, m, err);
    free(json);
    return st;
}

static wp_tokmodel_t *must_load(const char *pp, const char *cfg)
{
    wp_tokmodel_t *m = NULL;
    wp_err_t err = {{0}};
    if (load(pp, cfg, &m, &err) != WP_OK)
        fail_msg("load: %s", err.msg);
    return m;
}

/* The ids of "hi" as a completion prompt must be want[0..n). */
static void expect_prompt(const wp_tokmodel_t *m, bool add_special, const int32_t *want, size_t n)
{
    int32_t *ids = NULL;
    size_t got = 0;
    wp_err_t err = {{0}};
    assert_int_equal(wp_tokmodel_encode_prompt(m, NULL, "hi", 2, add_special, &ids, &got, &err),
                     WP_OK);
    assert_int_equal(got, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ids[i], want[i]);
    free(ids);
}

#define BOS_TEMPLATE                                                                               \
    "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":"  \
    "0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}%s],\"pair\":[],\"special_tokens\":{\"<s>\":"  \
    "{\"id\":\"<s>\",\"ids\":[256],\"tokens\":[\"<s>\"]},\"</s>\":{\"id\":\"</s>\",\"ids\":[257]," \
    "\"tokens\":[\"</s>\"]}}}"

static void test_tokmodel_post_processor_none(void **state)
{
    (void)state;
    static const int32_t hi[] = {'h', 'i'};
    const char *pps[] = {NULL, "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
                               "\"trim_offsets\":false,\"use_regex\":false}"};
    for (int i = 0; i < 2; i++) {
        wp_tokmodel_t *m = must_load(pps[i], NULL);
        expect_prompt(m, true, hi, 2); /* Qwen3: nothing added */
        expect_prompt(m, false, hi, 2);
        assert_int_equal(wp_tokmodel_chat_kind(m), 0);
        wp_tokmodel_free(m);
    }
}

static void test_tokmodel_template_processing(void **state)
{
    (void)state;
    char pp[1024];
    static const int32_t bos[] = {256, 'h', 'i'}, both[] = {256, 'h', 'i', 257}, hi[] = {'h', 'i'};
    snprintf(pp, sizeof(pp), BOS_TEMPLATE, "");
    wp_tokmodel_t *m = must_load(pp, NULL);
    expect_prompt(m, true, bos, 3);
    expect_prompt(m, false, hi, 2);
    wp_tokmodel_free(m);
    /* with an EOS after the sequence */
    snprintf(pp, sizeof(pp), BOS_TEMPLATE, ",{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}}");
    m = must_load(pp, NULL);
    expect_prompt(m, true, both, 4);
    wp_tokmodel_free(m);
    /* Llama 3 as published today: Sequence [ByteLevel, TemplateProcessing] */
    char seq[1200];
    snprintf(pp, sizeof(pp), BOS_TEMPLATE, "");
    snprintf(seq, sizeof(seq),
             "{\"type\":\"Sequence\",\"processors\":[{\"type\":\"ByteLevel\"},%s]}", pp);
    m = must_load(seq, NULL);
    expect_prompt(m, true, bos, 3);
    wp_tokmodel_free(m);
}

static void expect_load_error(const char *pp, const char *cfg, const char *needle)
{
    wp_tokmodel_t *m = (wp_tokmodel_t *)1;
    wp_err_t err = {{0}};
    assert_int_not_equal(load(pp, cfg, &m, &err), WP_OK);
    assert_null(m);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("error '%s' does not say '%s'", err.msg, needle);
}

static void test_tokmodel_refused(void **state)
{
    (void)state;
    expect_load_error("{\"type\":\"RobertaProcessing\"}", NULL, "'RobertaProcessing' is not");
    expect_load_error("{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":"
                      "\"<s>\"}}],\"special_tokens\":{\"<s>\":{\"ids\":[256]}}}",
                      NULL, "no Sequence \"A\"");
    expect_load_error("{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":"
                      "\"<x>\"}},{\"Sequence\":{\"id\":\"A\"}}],\"special_tokens\":{}}",
                      NULL, "'<x>' is not in special_tokens");
    expect_load_error("{\"type\":\"TemplateProcessing\",\"single\":[{\"Sequence\":{\"id\":\"B\"}}"
                      "],\"special_tokens\":{}}",
                      NULL, "one Sequence \"A\"");
    expect_load_error(NULL, "[1]", "tokenizer_config.json: not a JSON object");
    expect_load_error(NULL,
                      "{\"tokenizer_class\":\"LlamaTokenizerFast\",\"add_bos_token\":true,"
                      "\"bos_token\":\"<nope>\"}",
                      "bos_token is not a token");
    wp_tokmodel_t *m = NULL;
    wp_err_t err = {{0}};
    assert_int_not_equal(wp_tokmodel_load("{}", 2, NULL, 0, &m, &err), WP_OK);
    assert_non_null(strstr(err.msg, "tokenizer.json: "));
}

static void test_tokmodel_llama_flags(void **state)
{
    (void)state;
    static const int32_t bos[] = {256, 'h', 'i'}, hi[] = {'h', 'i'};
    /* LlamaTokenizerFast: add_bos_token decides, bos_token as a string or an object */
    wp_tokmodel_t *m =
        must_load(NULL, "{\"tokenizer_class\":\"LlamaTokenizerFast\","
                        "\"add_bos_token\":true,\"bos_token\":{\"content\":\"<s>\"}}");
    expect_prompt(m, true, bos, 3);
    wp_tokmodel_free(m);
    char pp[1024];
    snprintf(pp, sizeof(pp), BOS_TEMPLATE, "");
    m = must_load(pp, "{\"tokenizer_class\":\"LlamaTokenizerFast\",\"add_bos_token\":false}");
    expect_prompt(m, true, hi, 2);
    wp_tokmodel_free(m);
    /* another class: the flags are not read, the post-processor decides */
    m = must_load(pp, "{\"tokenizer_class\":\"PreTrainedTokenizerFast\",\"add_bos_token\":false}");
    expect_prompt(m, true, bos, 3);
    wp_tokmodel_free(m);
}

static int kind_of(const char *cfg)
{
    wp_tokmodel_t *m = must_load(NULL, cfg);
    int k = wp_tokmodel_chat_kind(m);
    wp_tokmodel_free(m);
    return k;
}

static void test_tokmodel_template_detection(void **state)
{
    (void)state;
    assert_int_equal(kind_of("{\"chat_template\":\"{{'<|im_start|>'}}{{'<think>'}}\"}"),
                     WP_CHAT_QWEN3);
    assert_int_equal(kind_of("{\"chat_template\":\"{{'<|im_start|>' + role}}\"}"), 0); /* Qwen2.5 */
    assert_int_equal(kind_of("{\"chat_template\":\"{{'<|start_header_id|>'}}\"}"), WP_CHAT_LLAMA3);
    assert_int_equal(
        kind_of("{\"chat_template\":\"Cutting Knowledge Date: {{'<|start_header_id|>'}}\"}"), 0);
    assert_int_equal(
        kind_of("{\"chat_template\":[{\"name\":\"tool_use\",\"template\":\"<|im_start|>"
                "<think>\"},{\"name\":\"default\",\"template\":\"<|start_header_id|>"
                "\"}]}"),
        WP_CHAT_LLAMA3);
    assert_int_equal(kind_of("{\"chat_template\":\"{{ messages }}\"}"), 0);
    assert_int_equal(kind_of("{}"), 0);
}

/* Renders msgs with kind and opts, encodes without special tokens: what vLLM sends. */
static void reference(const wp_tokmodel_t *m, wp_chat_kind_t kind, const wp_chat_msg_t *msgs,
                      size_t n, wp_chat_opts_t opts, int32_t **ids, size_t *n_ids)
{
    wp_buf_t text;
    wp_buf_init(&text, WP_BUF_DEFAULT_MAX);
    wp_err_t err = {{0}};
    assert_int_equal(wp_chat_render(kind, msgs, n, &opts, &text, &err), WP_OK);
    assert_int_equal(wp_bpe_encode(wp_tokmodel_bpe(m), NULL, text.data, text.len, ids, n_ids, &err),
                     WP_OK);
    wp_buf_free(&text);
}

static void expect_same(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof(int32_t));
}

static void test_tokmodel_chat(void **state)
{
    (void)state;
    char pp[1024];
    snprintf(pp, sizeof(pp), BOS_TEMPLATE, ""); /* not applied to chat prompts */
    wp_tokmodel_t *m = must_load(pp, "{\"chat_template\":\"<|im_start|><think>\"}");
    const wp_chat_msg_t msgs[] = {{"system", "Be brief.", 9}, {"user", "Hi\nthere", 8}};
    int32_t *want = NULL, *got = NULL;
    size_t nw = 0, ng = 0;
    wp_err_t err = {{0}};
    reference(m, WP_CHAT_QWEN3, msgs, 2, (wp_chat_opts_t){1, 1}, &want, &nw);
    assert_int_equal(want[0], 258); /* <|im_start|>, no BOS */
    assert_int_equal(wp_tokmodel_encode_chat(m, NULL, msgs, 2, NULL, &got, &ng, &err), WP_OK);
    expect_same(want, nw, got, ng);
    free(got);
    /* the same messages as a request body; content parts joined with "\n" */
    cJSON *body = cJSON_Parse("{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
                              "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"},"
                              "{\"type\":\"text\",\"text\":\"there\"}]}]}");
    assert_int_equal(wp_tokmodel_encode_messages(m, NULL, cJSON_GetObjectItem(body, "messages"),
                                                 body, &got, &ng, &err),
                     WP_OK);
    expect_same(want, nw, got, ng);
    free(got);
    free(want);
    /* enable_thinking false and add_generation_prompt false, from the body */
    cJSON_AddItemToObject(body, "chat_template_kwargs", cJSON_Parse("{\"enable_thinking\":false}"));
    reference(m, WP_CHAT_QWEN3, msgs, 2, (wp_chat_opts_t){1, 0}, &want, &nw);
    assert_int_equal(wp_tokmodel_encode_messages(m, NULL, cJSON_GetObjectItem(body, "messages"),
                                                 body, &got, &ng, &err),
                     WP_OK);
    expect_same(want, nw, got, ng);
    free(got);
    free(want);
    cJSON_AddFalseToObject(body, "add_generation_prompt");
    reference(m, WP_CHAT_QWEN3, msgs, 2, (wp_chat_opts_t){0, 0}, &want, &nw);
    assert_int_equal(wp_tokmodel_encode_messages(m, NULL, cJSON_GetObjectItem(body, "messages"),
                                                 body, &got, &ng, &err),
                     WP_OK);
    expect_same(want, nw, got, ng);
    free(got);
    free(want);
    cJSON_Delete(body);
    wp_tokmodel_free(m);
    /* no supported template: a clear error */
    m = must_load(NULL, NULL);
    assert_int_equal(wp_tokmodel_encode_chat(m, NULL, msgs, 2, NULL, &got, &ng, &err), WP_EINVAL);
    assert_null(got);
    assert_non_null(strstr(err.msg, "no supported chat template"));
    wp_tokmodel_free(m);
}

static void encode_body(const wp_tokmodel_t *m, wp_api_kind_t kind, const char *body, int32_t **ids,
                        size_t *n)
{
    wp_api_request_t req;
    wp_api_error_t e;
    assert_int_equal(wp_api_request_parse(kind, body, strlen(body), &req, &e), WP_OK);
    wp_err_t err = {{0}};
    assert_int_equal(wp_tokmodel_encode_request(m, NULL, &req, ids, n, &err), WP_OK);
    wp_api_request_free(&req);
}

static void test_tokmodel_request(void **state)
{
    (void)state;
    char pp[1024];
    snprintf(pp, sizeof(pp), BOS_TEMPLATE, "");
    wp_tokmodel_t *m = must_load(pp, "{\"chat_template\":\"<|start_header_id|>\"}");
    int32_t *ids = NULL;
    size_t n = 0;
    static const int32_t bos[] = {256, 'h', 'i'}, hi[] = {'h', 'i'}, given[] = {7, 300000, 0};
    encode_body(m, WP_API_COMPLETIONS, "{\"prompt\":\"hi\"}", &ids, &n);
    expect_same(bos, 3, ids, n);
    free(ids);
    encode_body(m, WP_API_COMPLETIONS, "{\"prompt\":\"hi\",\"add_special_tokens\":false}", &ids,
                &n);
    expect_same(hi, 2, ids, n);
    free(ids);
    encode_body(m, WP_API_COMPLETIONS, "{\"prompt\":[7,300000,0]}", &ids, &n);
    expect_same(given, 3, ids, n); /* passed through, unchecked */
    free(ids);
    encode_body(m, WP_API_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &ids,
                &n);
    const wp_chat_msg_t msgs[] = {{"user", "hi", 2}};
    int32_t *want = NULL;
    size_t nw = 0;
    reference(m, WP_CHAT_LLAMA3, msgs, 1, (wp_chat_opts_t){1, 1}, &want, &nw);
    assert_int_equal(want[0], 260); /* the template's own <|begin_of_text|>, once */
    expect_same(want, nw, ids, n);
    free(want);
    free(ids);
    wp_tokmodel_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokmodel_post_processor_none),
        cmocka_unit_test(test_tokmodel_template_processing),
        cmocka_unit_test(test_tokmodel_refused),
        cmocka_unit_test(test_tokmodel_llama_flags),
        cmocka_unit_test(test_tokmodel_template_detection),
        cmocka_unit_test(test_tokmodel_chat),
        cmocka_unit_test(test_tokmodel_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
