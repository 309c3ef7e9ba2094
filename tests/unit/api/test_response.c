/* Unit tests for api/response: every writer's output parses back with cJSON and holds
 * exactly the fields of docs/reference.md §1; SSE framing; escaping; capped buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cJSON.h>
#include <cmocka.h>

#include "api/openai.h"

static const wp_api_usage_t usage = {
    .prompt_tokens = 120, .completion_tokens = 7, .cached_tokens = 96};

/* Parses json[0..n) strictly (whole input, nothing after); fails the test otherwise. */
static cJSON *parse_exact(const char *json, size_t n)
{
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(json, n, &end, false);
    if (v == NULL || end != json + n) {
        print_error("not one JSON value: %.*s\n", (int)n, json);
        fail();
    }
    return v;
}

/* Strips "data: " and "\n\n" from one SSE event and parses the JSON inside. */
static cJSON *parse_event(const wp_buf_t *b)
{
    assert_true(b->len > 8);
    assert_memory_equal(b->data, "data: ", 6);
    assert_memory_equal(b->data + b->len - 2, "\n\n", 2);
    return parse_exact(b->data + 6, b->len - 8);
}

/* Asserts that obj has exactly the keys listed (NULL-terminated), in any order. */
static void expect_keys(const cJSON *obj, const char *const *keys)
{
    assert_true(cJSON_IsObject(obj));
    int n = 0;
    for (; keys[n] != NULL; n++) {
        if (!cJSON_HasObjectItem(obj, keys[n])) {
            print_error("missing key '%s'\n", keys[n]);
            fail();
        }
    }
    assert_int_equal(cJSON_GetArraySize(obj), n);
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static double num_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static void expect_usage(const cJSON *root)
{
    static const char *const keys[] = {"prompt_tokens", "completion_tokens", "total_tokens",
                                       "prompt_tokens_details", NULL};
    const cJSON *u = cJSON_GetObjectItem(root, "usage");
    expect_keys(u, keys);
    assert_int_equal((int)num_of(u, "prompt_tokens"), 120);
    assert_int_equal((int)num_of(u, "completion_tokens"), 7);
    assert_int_equal((int)num_of(u, "total_tokens"), 127);
    const cJSON *d = cJSON_GetObjectItem(u, "prompt_tokens_details");
    assert_int_equal(cJSON_GetArraySize(d), 1);
    assert_int_equal((int)num_of(d, "cached_tokens"), 96);
}

static void expect_head(const cJSON *root, const char *id, const char *object)
{
    assert_string_equal(str_of(root, "id"), id);
    assert_string_equal(str_of(root, "object"), object);
    assert_int_equal((long long)num_of(root, "created"), 1700000000LL);
    assert_string_equal(str_of(root, "model"), "Qwen/Qwen3-8B");
}

static wp_api_resp_t resp(wp_api_kind_t kind, const char *id, const char *finish)
{
    return (wp_api_resp_t){.kind = kind,
                           .id = id,
                           .model = "Qwen/Qwen3-8B",
                           .created = 1700000000,
                           .finish_reason = finish,
                           .kv_transfer_params = NULL};
}

static void test_api_response_chat(void **state)
{
    (void)state;
    wp_buf_t b;
    wp_buf_init(&b, 0);
    wp_api_resp_t r = resp(WP_API_CHAT, "chatcmpl-1", "stop");
    const char text[] = "Hi \"you\"\n\\ end";
    assert_int_equal(wp_api_write_response(&b, &r, text, sizeof(text) - 1, &usage), WP_OK);
    cJSON *root = parse_exact(b.data, b.len);
    static const char *const top[] = {"id", "object", "created", "model", "choices", "usage", NULL};
    expect_keys(root, top);
    expect_head(root, "chatcmpl-1", "chat.completion");
    const cJSON *choices = cJSON_GetObjectItem(root, "choices");
    assert_int_equal(cJSON_GetArraySize(choices), 1);
    const cJSON *c = cJSON_GetArrayItem(choices, 0);
    assert_int_equal((int)num_of(c, "index"), 0);
    assert_string_equal(str_of(c, "finish_reason"), "stop");
    const cJSON *msg = cJSON_GetObjectItem(c, "message");
    assert_string_equal(str_of(msg, "role"), "assistant");
    assert_string_equal(str_of(msg, "content"), text); /* escaping round-trips */
    assert_null(cJSON_GetObjectItem(c, "text"));
    expect_usage(root);
    cJSON_Delete(root);
    wp_buf_free(&b);
}

static void test_api_response_completion_default_finish(void **state)
{
    (void)state;
    wp_buf_t b;
    wp_buf_init(&b, 0);
    wp_api_resp_t r = resp(WP_API_COMPLETIONS, "cmpl-9", NULL);
    assert_int_equal(wp_api_write_response(&b, &r, "abc", 3, &usage), WP_OK);
    cJSON *root = parse_exact(b.data, b.len);
    expect_head(root, "cmpl-9", "text_completion");
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "choices"), 0);
    assert_string_equal(str_of(c, "text"), "abc");
    assert_string_equal(str_of(c, "finish_reason"), "length"); /* NULL means the limit ended it */
    assert_null(cJSON_GetObjectItem(c, "message"));
    expect_usage(root);
    assert_null(cJSON_GetObjectItem(root, "kv_transfer_params"));
    cJSON_Delete(root);
    wp_buf_free(&b);
}

static void test_api_response_kv_transfer_params(void **state)
{
    (void)state;
    cJSON *kv =
        cJSON_Parse("{\"do_remote_prefill\":true,\"remote_block_ids\":[4,5],\"remote_port\":5601}");
    assert_non_null(kv);
    wp_buf_t b;
    wp_buf_init(&b, 0);
    wp_api_resp_t r = resp(WP_API_COMPLETIONS, "cmpl-2", "length");
    r.kv_transfer_params = kv;
    assert_int_equal(wp_api_write_response(&b, &r, "x", 1, &usage), WP_OK);
    cJSON *root = parse_exact(b.data, b.len);
    const cJSON *got = cJSON_GetObjectItem(root, "kv_transfer_params");
    assert_true(cJSON_Compare(got, kv, true));
    cJSON_Delete(root);
    cJSON_Delete(kv);
    wp_buf_free(&b);
}

static void test_api_chunk_chat_first_and_last(void **state)
{
    (void)state;
    wp_buf_t b;
    wp_buf_init(&b, 0);
    wp_api_resp_t r = resp(WP_API_CHAT, "chatcmpl-3", NULL);

    assert_int_equal(wp_api_write_chunk(&b, &r, "", 0, true), WP_OK);
    cJSON *root = parse_event(&b);
    expect_head(root, "chatcmpl-3", "chat.completion.chunk");
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "choices"), 0);
    static const char *const delta_first[] = {"role", "content", NULL};
    expect_keys(cJSON_GetObjectItem(c, "delta"), delta_first);
    assert_string_equal(str_of(cJSON_GetObjectItem(c, "delta"), "role"), "assistant");
    assert_string_equal(str_of(cJSON_GetObjectItem(c, "delta"), "content"), "");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(c, "finish_reason")));
    assert_null(cJSON_GetObjectItem(root, "usage"));
    cJSON_Delete(root);

    wp_buf_reset(&b);
    r.finish_reason = "length";
    assert_int_equal(wp_api_write_chunk(&b, &r, " tok", 4, false), WP_OK);
    root = parse_event(&b);
    c = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "choices"), 0);
    static const char *const delta_next[] = {"content", NULL};
    expect_keys(cJSON_GetObjectItem(c, "delta"), delta_next);
    assert_string_equal(str_of(cJSON_GetObjectItem(c, "delta"), "content"), " tok");
    assert_string_equal(str_of(c, "finish_reason"), "length");
    cJSON_Delete(root);
    wp_buf_free(&b);
}

static void test_api_chunk_completion(void **state)
{
    (void)state;
    wp_buf_t b;
    wp_buf_init(&b, 0);
    wp_api_resp_t r = resp(WP_API_COMPLETIONS, "cmpl-4", NULL);
    assert_int_equal(wp_api_write_chunk(&b, &r, "a\tb", 3, true), WP_OK);
    cJSON *root = parse_event(&b);
    expect_head(root, "cmpl-4", "text_completion");
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "choices"), 0);
    assert_string_equal(str_of(c, "text"), "a\tb");
    assert_null(cJSON_GetObjectItem(c, "delta"));
    cJSON_Delete(root);
    wp_buf_free(&b);
}

static void test_api_usage_chunk_and_done(void **state)
{
    (void)state;
    wp_buf_t b;
    wp_buf_init(&b, 0);
    wp_api_resp_t r = resp(WP_API_CHAT, "chatcmpl-5", NULL);
    assert_int_equal(wp_api_write_usage_chunk(&b, &r, &usage), WP_OK);
    cJSON *root = parse_event(&b);
    expect_head(root, "chatcmpl-5", "chat.completion.chunk");
    const cJSON *choices = cJSON_GetObjectItem(root, "choices");
    assert_true(cJSON_IsArray(choices));
    assert_int_equal(cJSON_GetArraySize(choices), 0);
    expect_usage(root);
    cJSON_Delete(root);

    wp_buf_reset(&b);
    assert_int_equal(wp_api_write_done(&b), WP_OK);
    assert_string_equal(b.data, "data: [DONE]\n\n");
    wp_buf_free(&b);
}

static void test_api_error_body(void **state)
{
    (void)state;
    wp_buf_t b;
    wp_buf_init(&b, 0);
    assert_int_equal(wp_api_write_error(&b, 400, "'n' must be \"small\"", "n"), WP_OK);
    cJSON *root = parse_exact(b.data, b.len);
    static const char *const top[] = {"error", NULL};
    expect_keys(root, top);
    const cJSON *e = cJSON_GetObjectItem(root, "error");
    static const char *const keys[] = {"message", "type", "param", "code", NULL};
    expect_keys(e, keys);
    assert_string_equal(str_of(e, "message"), "'n' must be \"small\"");
    assert_string_equal(str_of(e, "type"), "BadRequestError");
    assert_string_equal(str_of(e, "param"), "n");
    assert_int_equal((int)num_of(e, "code"), 400);
    cJSON_Delete(root);

    wp_buf_reset(&b);
    assert_int_equal(wp_api_write_error(&b, 404, "no such model", ""), WP_OK);
    root = parse_exact(b.data, b.len);
    e = cJSON_GetObjectItem(root, "error");
    assert_string_equal(str_of(e, "type"), "NotFoundError");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(e, "param")));
    assert_int_equal((int)num_of(e, "code"), 404);
    cJSON_Delete(root);

    wp_buf_reset(&b);
    assert_int_equal(wp_api_write_error(&b, 503, "down", NULL), WP_OK);
    root = parse_exact(b.data, b.len);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "error"), "param")));
    cJSON_Delete(root);
    wp_buf_free(&b);
}

static void test_api_error_types(void **state)
{
    (void)state;
    assert_string_equal(wp_api_error_type(400), "BadRequestError");
    assert_string_equal(wp_api_error_type(404), "NotFoundError");
    assert_string_equal(wp_api_error_type(413), "RequestTooLargeError");
    assert_string_equal(wp_api_error_type(429), "RateLimitError");
    assert_string_equal(wp_api_error_type(502), "BadGatewayError");
    assert_string_equal(wp_api_error_type(503), "ServiceUnavailableError");
    assert_string_equal(wp_api_error_type(504), "GatewayTimeoutError");
    assert_string_equal(wp_api_error_type(500), "InternalServerError");
    assert_string_equal(wp_api_error_type(418), "BadRequestError");
}

/* A writer that does not fit leaves the buffer as it was: never half a document. */
static void test_api_writers_capped_buffer(void **state)
{
    (void)state;
    wp_buf_t b;
    wp_buf_init(&b, 64);
    assert_int_equal(wp_buf_puts(&b, "keep"), WP_OK);
    wp_api_resp_t r = resp(WP_API_CHAT, "chatcmpl-6", "stop");
    assert_int_equal(wp_api_write_response(&b, &r, "text", 4, &usage), WP_ELIMIT);
    assert_string_equal(b.data, "keep");
    assert_int_equal(wp_api_write_chunk(&b, &r, "text", 4, true), WP_ELIMIT);
    assert_string_equal(b.data, "keep");
    assert_int_equal(wp_api_write_usage_chunk(&b, &r, &usage), WP_ELIMIT);
    assert_string_equal(b.data, "keep");
    char longmsg[100];
    memset(longmsg, 'x', sizeof(longmsg) - 1);
    longmsg[sizeof(longmsg) - 1] = '\0';
    assert_int_equal(wp_api_write_error(&b, 400, longmsg, "p"), WP_ELIMIT);
    assert_string_equal(b.data, "keep");
    assert_int_equal(b.len, 4);
    wp_buf_free(&b);
}

static void test_api_usage_scan(void **state)
{
    (void)state;
    long long prompt = -1, completion = -1;
    const char *chunk =
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":123,\"total_tokens\":130,"
        "\"completion_tokens\":7}}\n\n";
    wp_api_usage_scan(chunk, strlen(chunk), &prompt, &completion);
    assert_int_equal(prompt, 123);
    assert_int_equal(completion, 7);
    /* A number at the very end of a piece may go on in the next: left as it was. */
    wp_api_usage_scan("\"completion_tokens\":9", 20, &prompt, &completion);
    assert_int_equal(completion, 7);
    wp_api_usage_scan("no usage here", 13, &prompt, &completion);
    assert_int_equal(prompt, 123);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_usage_scan),
        cmocka_unit_test(test_api_response_chat),
        cmocka_unit_test(test_api_response_completion_default_finish),
        cmocka_unit_test(test_api_response_kv_transfer_params),
        cmocka_unit_test(test_api_chunk_chat_first_and_last),
        cmocka_unit_test(test_api_chunk_completion),
        cmocka_unit_test(test_api_usage_chunk_and_done),
        cmocka_unit_test(test_api_error_body),
        cmocka_unit_test(test_api_error_types),
        cmocka_unit_test(test_api_writers_capped_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
