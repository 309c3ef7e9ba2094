/* Unit tests for api/request: wp_api_request_parse on completions and chat bodies,
 * the exact chat rendering, and the 400 errors it reports (param, message, offset). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>
#include <cmocka.h>

#include "api/openai.h"
#include "base/json.h"

/* Parses a NUL-terminated body; the request must be freed by the caller. */
static wp_status_t parse(wp_api_kind_t kind, const char *body, wp_api_request_t *r,
                         wp_api_error_t *e)
{
    return wp_api_request_parse(kind, body, strlen(body), r, e);
}

/* The prompt view holds exactly want (it is not NUL-terminated when read in place). */
static void prompt_is(const wp_api_request_t *r, const char *want)
{
    assert_int_equal(r->prompt.len, strlen(want));
    assert_memory_equal(r->prompt.data, want, r->prompt.len);
}

/* Asserts that body is refused with 400, naming param, with msg_part in the message. */
static void expect_bad(wp_api_kind_t kind, const char *body, const char *param,
                       const char *msg_part)
{
    wp_api_request_t r;
    wp_api_error_t e;
    assert_int_equal(parse(kind, body, &r, &e), WP_EINVAL);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.param, param);
    if (strstr(e.err.msg, msg_part) == NULL) {
        print_error("message '%s' lacks '%s' (body %s)\n", e.err.msg, msg_part, body);
        fail();
    }
    wp_api_request_free(&r);
}

static void test_api_completions_string_prompt(void **state)
{
    (void)state;
    wp_api_request_t r;
    wp_api_error_t e;
    assert_int_equal(
        parse(WP_API_COMPLETIONS, "{\"model\":\"m\",\"prompt\":\"Hello world\"}", &r, &e), WP_OK);
    assert_int_equal(r.kind, WP_API_COMPLETIONS);
    assert_string_equal(r.model, "m");
    prompt_is(&r, "Hello world");
    assert_int_equal(r.prompt.len, 11);
    assert_null(r.prompt_ids);
    assert_int_equal(r.n_prompt_ids, 0);
    /* Defaults when absent. */
    assert_false(r.stream);
    assert_false(r.include_usage);
    assert_int_equal(r.max_tokens, -1);
    assert_int_equal(r.min_tokens, 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.priority, 0);
    assert_false(r.has_priority);
    assert_false(r.ignore_eos);
    assert_null(r.cache_salt);
    assert_null(r.request_id);
    assert_false(r.has_kv_transfer_params);
    assert_null(wp_api_request_kv_params(&r));
    assert_null(r.root); /* no tree until one is asked for */
    assert_int_equal(e.status, 0);
    wp_api_request_free(&r);
}

static void test_api_completions_model_absent(void **state)
{
    (void)state;
    wp_api_request_t r;
    wp_api_error_t e;
    assert_int_equal(parse(WP_API_COMPLETIONS, "{\"prompt\":\"x\"}", &r, &e), WP_OK);
    assert_null(r.model);
    wp_api_request_free(&r);
    expect_bad(WP_API_COMPLETIONS, "{\"model\":\"\",\"prompt\":\"x\"}", "model", "non-empty");
}

static void test_api_completions_list_of_one_string(void **state)
{
    (void)state;
    wp_api_request_t r;
    wp_api_error_t e;
    assert_int_equal(parse(WP_API_COMPLETIONS, "{\"prompt\":[\"only one\"]}", &r, &e), WP_OK);
    prompt_is(&r, "only one");
    assert_null(r.prompt_ids);
    wp_api_request_free(&r);
}

static void test_api_completions_token_ids(void **state)
{
    (void)state;
    wp_api_request_t r;
    wp_api_error_t e;
    assert_int_equal(parse(WP_API_COMPLETIONS, "{\"prompt\":[5, 0, 151935, 2147483647]}", &r, &e),
                     WP_OK);
    assert_int_equal(r.n_prompt_ids, 4);
    assert_int_equal(r.prompt_ids[0], 5);
    assert_int_equal(r.prompt_ids[1], 0);
    assert_int_equal(r.prompt_ids[2], 151935);
    assert_int_equal(r.prompt_ids[3], 2147483647);
    assert_int_equal(r.prompt.len, 0);
    wp_api_request_free(&r);

    /* One list of ids inside a list. */
    assert_int_equal(parse(WP_API_COMPLETIONS, "{\"prompt\":[[7,8,9]]}", &r, &e), WP_OK);
    assert_int_equal(r.n_prompt_ids, 3);
    assert_int_equal(r.prompt_ids[2], 9);
    wp_api_request_free(&r);

    expect_bad(WP_API_COMPLETIONS, "{\"prompt\":[1,-2]}", "prompt", "non-negative integers");
    expect_bad(WP_API_COMPLETIONS, "{\"prompt\":[1,2.5]}", "prompt", "non-negative integers");
    expect_bad(WP_API_COMPLETIONS, "{\"prompt\":[1,\"a\"]}", "prompt", "non-negative integers");
    expect_bad(WP_API_COMPLETIONS, "{\"prompt\":[1,2147483648]}", "prompt",
               "non-negative integers");
    expect_bad(WP_API_COMPLETIONS, "{\"prompt\":[[]]}", "prompt", "1 to 4194304");
}

static void test_api_completions_prompt_errors(void **state)
{
    (void)state;
    expect_bad(WP_API_COMPLETIONS, "{\"prompt\":[\"a\",\"b\"]}", "prompt", "several prompts");
    expect_bad(WP_API_COMPLETIONS, "{\"prompt\":[[1],[2]]}", "prompt", "several prompts");
    expect_bad(WP_API_COMPLETIONS, "{\"model\":\"m\"}", "prompt", "'prompt' is required");
    expect_bad(WP_API_COMPLETIONS, "{\"prompt\":[]}", "prompt", "an empty array");
    expect_bad(WP_API_COMPLETIONS, "{\"prompt\":42}", "prompt", "got a number");
    expect_bad(WP_API_COMPLETIONS, "{\"prompt\":[{}]}", "prompt", "got an object");
}

static void test_api_chat_render_exact(void **state)
{
    (void)state;
    wp_api_request_t r;
    wp_api_error_t e;
    const char *body = "{\"model\":\"m\",\"messages\":["
                       "{\"role\":\"system\",\"content\":\"Be brief.\"},"
                       "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi \"},"
                       "{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}},"
                       "{\"type\":\"text\",\"text\":\"there\"}]},"
                       "{\"role\":\"assistant\",\"content\":null},"
                       "{\"role\":\"assistant\"}]}";
    assert_int_equal(parse(WP_API_CHAT, body, &r, &e), WP_OK);
    assert_int_equal(r.kind, WP_API_CHAT);
    assert_string_equal(r.prompt.data, "<|system|>\nBe brief.\n"
                                       "<|user|>\nHi there\n"
                                       "<|assistant|>\n\n"
                                       "<|assistant|>\n\n"
                                       "<|assistant|>\n");
    assert_int_equal(r.prompt.len, strlen(r.prompt.data));

    /* wp_api_render_chat renders the same bytes from an index of the body. */
    wp_json_t j;
    size_t at;
    wp_err_t err;
    assert_int_equal(wp_json_parse(&j, body, strlen(body), &at, &err), WP_OK);
    wp_buf_t b;
    wp_buf_init(&b, 0);
    assert_int_equal(wp_api_render_chat(&j, wp_json_get(&j, 0, "messages"), &b), WP_OK);
    assert_string_equal(b.data, r.prompt.data);
    wp_buf_free(&b);
    wp_json_free(&j);
    wp_api_request_free(&r);
}

static void test_api_chat_render_cap(void **state)
{
    (void)state;
    const char *text = "[{\"role\":\"user\",\"content\":\"0123456789\"}]";
    wp_json_t j;
    size_t at;
    wp_err_t err;
    assert_int_equal(wp_json_parse(&j, text, strlen(text), &at, &err), WP_OK);
    wp_buf_t b;
    wp_buf_init(&b, 16); /* "<|user|>\n" fits, the content does not */
    assert_int_equal(wp_api_render_chat(&j, 0, &b), WP_ELIMIT);
    wp_buf_free(&b);
    wp_json_free(&j);
}

static void test_api_chat_message_errors(void **state)
{
    (void)state;
    expect_bad(WP_API_CHAT, "{\"model\":\"m\"}", "messages", "'messages' is required");
    expect_bad(WP_API_CHAT, "{\"messages\":[]}", "messages", "an empty array");
    expect_bad(WP_API_CHAT, "{\"messages\":[{\"role\":\"user\"}]}", "messages",
               "messages[0].content is required for role 'user'");
    expect_bad(WP_API_CHAT, "{\"messages\":\"hi\"}", "messages", "got a string");
    expect_bad(WP_API_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},7]}", "messages",
               "messages[1] must be an object, got a number");
    expect_bad(WP_API_CHAT, "{\"messages\":[{\"content\":\"a\"}]}", "messages",
               "messages[0].role must be a string");
    expect_bad(WP_API_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":5}]}", "messages",
               "messages[0].content must be a string or an array of parts, got a number");
}

/* Every checked field with the wrong type: param names the field, status is 400. */
static void test_api_type_errors_name_param(void **state)
{
    (void)state;
    static const struct {
        const char *field, *json, *msg;
    } cases[] = {
        {"model", "5", "'model' must be a string, got a number"},
        {"stream", "\"yes\"", "'stream' must be a boolean, got a string"},
        {"max_tokens", "\"10\"", "'max_tokens' must be an integer, got a string"},
        {"max_tokens", "1.5", "'max_tokens' must be an integer, got a number"},
        {"max_tokens", "0", "'max_tokens' must be between 1 and 16777216, got 0"},
        {"max_completion_tokens", "[]", "'max_completion_tokens' must be an integer, got an array"},
        {"min_tokens", "-1", "'min_tokens' must be between 0"},
        {"n", "true", "'n' must be an integer, got a boolean"},
        {"n", "129", "'n' must be between 1 and 128, got 129"},
        {"priority", "{}", "'priority' must be an integer, got an object"},
        {"ignore_eos", "1", "'ignore_eos' must be a boolean, got a number"},
        {"temperature", "\"hot\"", "'temperature' must be a number, got a string"},
        {"temperature", "2.5", "'temperature' must be between 0 and 2"},
        {"top_p", "-0.1", "'top_p' must be between 0 and 1"},
        {"cache_salt", "3", "'cache_salt' must be a string, got a number"},
        {"request_id", "false", "'request_id' must be a string, got a boolean"},
        {"stream_options", "true", "'stream_options' must be an object, got a boolean"},
        {"kv_transfer_params", "\"x\"", "'kv_transfer_params' must be an object, got a string"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"prompt\":\"p\",\"%s\":%s}", cases[i].field, cases[i].json);
        expect_bad(WP_API_COMPLETIONS, body, cases[i].field, cases[i].msg);
    }
    expect_bad(WP_API_COMPLETIONS,
               "{\"prompt\":\"p\",\"stream_options\":{\"include_usage\":\"y\"}}", "include_usage",
               "'include_usage' must be a boolean");
}

static void test_api_null_fields_are_absent(void **state)
{
    (void)state;
    wp_api_request_t r;
    wp_api_error_t e;
    assert_int_equal(
        parse(WP_API_COMPLETIONS,
              "{\"prompt\":\"p\",\"model\":null,\"max_tokens\":null,\"stream\":null,"
              "\"temperature\":null,\"stream_options\":null,\"kv_transfer_params\":null,"
              "\"priority\":null}",
              &r, &e),
        WP_OK);
    assert_null(r.model);
    assert_int_equal(r.max_tokens, -1);
    assert_false(r.stream);
    assert_null(wp_api_request_kv_params(&r));
    assert_false(r.has_priority);
    wp_api_request_free(&r);
}

static void test_api_invalid_json_offset(void **state)
{
    (void)state;
    /* "{\"model\": x}": the bad token starts at byte 10. */
    expect_bad(WP_API_COMPLETIONS, "{\"model\": x}", "",
               "invalid JSON in the request body at byte 10: expected a value");
    expect_bad(WP_API_COMPLETIONS, "{\"prompt\":\"unterminated", "", "invalid JSON");
    expect_bad(WP_API_CHAT, "[1,2", "", "invalid JSON");
}

static void test_api_trailing_garbage(void **state)
{
    (void)state;
    expect_bad(WP_API_COMPLETIONS, "{\"prompt\":\"p\"} x", "",
               "at byte 15: unexpected data after the value");
    expect_bad(WP_API_COMPLETIONS, "{\"prompt\":\"p\"}{}", "", "at byte 14");
    /* Trailing white space is fine. */
    wp_api_request_t r;
    wp_api_error_t e;
    assert_int_equal(parse(WP_API_COMPLETIONS, "{\"prompt\":\"p\"} \r\n\t", &r, &e), WP_OK);
    wp_api_request_free(&r);
}

static void test_api_body_not_object_or_empty(void **state)
{
    (void)state;
    expect_bad(WP_API_COMPLETIONS, "", "", "the request body is empty");
    expect_bad(WP_API_COMPLETIONS, "[]", "", "must be a JSON object, got an array");
    expect_bad(WP_API_CHAT, "\"s\"", "", "must be a JSON object, got a string");
    /* The length is honoured: bytes past len are not read. */
    wp_api_request_t r;
    wp_api_error_t e;
    const char *body = "{\"prompt\":\"p\"}GARBAGE";
    assert_int_equal(wp_api_request_parse(WP_API_COMPLETIONS, body, 14, &r, &e), WP_OK);
    prompt_is(&r, "p");
    wp_api_request_free(&r);
}

static void test_api_max_tokens_and_max_completion_tokens(void **state)
{
    (void)state;
    wp_api_request_t r;
    wp_api_error_t e;
    assert_int_equal(
        parse(WP_API_CHAT,
              "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":17}", &r, &e),
        WP_OK);
    assert_int_equal(r.max_tokens, 17);
    wp_api_request_free(&r);

    assert_int_equal(
        parse(WP_API_CHAT,
              "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_completion_tokens\":33}",
              &r, &e),
        WP_OK);
    assert_int_equal(r.max_tokens, 33);
    wp_api_request_free(&r);

    /* Both: max_completion_tokens, the newer name, wins. */
    assert_int_equal(parse(WP_API_CHAT,
                           "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":5,"
                           "\"max_completion_tokens\":9}",
                           &r, &e),
                     WP_OK);
    assert_int_equal(r.max_tokens, 9);
    wp_api_request_free(&r);

    /* Upper bound 2^24 is accepted, one more is not. */
    assert_int_equal(
        parse(WP_API_COMPLETIONS, "{\"prompt\":\"p\",\"max_tokens\":16777216}", &r, &e), WP_OK);
    assert_int_equal(r.max_tokens, 16777216);
    wp_api_request_free(&r);
    expect_bad(WP_API_COMPLETIONS, "{\"prompt\":\"p\",\"max_tokens\":16777217}", "max_tokens",
               "got 16777217");
    expect_bad(WP_API_COMPLETIONS, "{\"prompt\":\"p\",\"max_tokens\":1e300}", "max_tokens",
               "must be an integer");
}

static void test_api_stream_options_include_usage(void **state)
{
    (void)state;
    wp_api_request_t r;
    wp_api_error_t e;
    assert_int_equal(
        parse(WP_API_COMPLETIONS,
              "{\"prompt\":\"p\",\"stream\":true,\"stream_options\":{\"include_usage\":true}}", &r,
              &e),
        WP_OK);
    assert_true(r.stream);
    assert_true(r.include_usage);
    wp_api_request_free(&r);

    assert_int_equal(parse(WP_API_COMPLETIONS,
                           "{\"prompt\":\"p\",\"stream\":true,\"stream_options\":{}}", &r, &e),
                     WP_OK);
    assert_true(r.stream);
    assert_false(r.include_usage);
    wp_api_request_free(&r);
}

/* A prompt without escapes is read where it lies in the body; one with escapes is
 * decoded into the request's own buffer. */
static void test_api_prompt_in_place_or_decoded(void **state)
{
    (void)state;
    wp_api_request_t r;
    wp_api_error_t e;
    const char *plain = "{\"prompt\":\"as sent\",\"model\":\"m\\u00e9\"}";
    assert_int_equal(parse(WP_API_COMPLETIONS, plain, &r, &e), WP_OK);
    assert_ptr_equal(r.prompt.data, strstr(plain, "as sent"));
    prompt_is(&r, "as sent");
    assert_string_equal(r.model, "m\xc3\xa9"); /* decoded, NUL-terminated */
    wp_api_request_free(&r);
    const char *esc = "{\"prompt\":\"line\\none \\\"q\\\"\"}";
    assert_int_equal(parse(WP_API_COMPLETIONS, esc, &r, &e), WP_OK);
    assert_true(r.prompt.data == r.rendered.data);
    prompt_is(&r, "line\none \"q\"");
    wp_api_request_free(&r);
}

static void test_api_vllm_extras(void **state)
{
    (void)state;
    wp_api_request_t r;
    wp_api_error_t e;
    assert_int_equal(
        parse(WP_API_COMPLETIONS,
              "{\"prompt\":\"p\",\"cache_salt\":\"tenant-a\",\"request_id\":\"\",\"priority\":-3,"
              "\"min_tokens\":4,\"ignore_eos\":true,\"n\":2,\"top_k\":\"untouched\"}",
              &r, &e),
        WP_OK);
    assert_string_equal(r.cache_salt, "tenant-a");
    assert_string_equal(r.request_id, "");
    assert_int_equal(r.priority, -3);
    assert_true(r.has_priority);
    assert_int_equal(r.min_tokens, 4);
    assert_true(r.ignore_eos);
    assert_int_equal(r.n, 2);
    /* Fields not validated are left in the tree as sent. */
    assert_string_equal(cJSON_GetObjectItem(wp_api_request_tree(&r), "top_k")->valuestring,
                        "untouched");
    wp_api_request_free(&r);
}

static void test_api_cache_salt_empty_rejected(void **state)
{
    (void)state;
    expect_bad(WP_API_COMPLETIONS, "{\"prompt\":\"p\",\"cache_salt\":\"\"}", "cache_salt",
               "'cache_salt' must be a non-empty string");
    expect_bad(WP_API_CHAT,
               "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"cache_salt\":\"\"}",
               "cache_salt", "non-empty");
}

static void test_api_kv_transfer_params_kept(void **state)
{
    (void)state;
    wp_api_request_t r;
    wp_api_error_t e;
    assert_int_equal(
        parse(WP_API_COMPLETIONS,
              "{\"prompt\":\"p\",\"kv_transfer_params\":{\"do_remote_prefill\":true,"
              "\"remote_block_ids\":[1,2,3],\"remote_engine_id\":\"e1\",\"remote_port\":5600}}",
              &r, &e),
        WP_OK);
    assert_true(r.has_kv_transfer_params);
    const cJSON *kv = wp_api_request_kv_params(&r);
    assert_non_null(kv);
    assert_ptr_equal(kv, cJSON_GetObjectItem(r.root, "kv_transfer_params"));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(kv, "do_remote_prefill")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(kv, "remote_block_ids")), 3);
    assert_string_equal(cJSON_GetObjectItem(kv, "remote_engine_id")->valuestring, "e1");
    assert_int_equal(cJSON_GetObjectItem(kv, "remote_port")->valueint, 5600);
    wp_api_request_free(&r);
}

static void test_api_free_twice_is_safe(void **state)
{
    (void)state;
    wp_api_request_t r;
    wp_api_error_t e;
    assert_int_equal(parse(WP_API_COMPLETIONS, "{\"prompt\":[1,2]}", &r, &e), WP_OK);
    wp_api_request_free(&r);
    wp_api_request_free(&r);
    assert_null(r.root);
    assert_null(r.prompt_ids);
}

static void test_api_kind_from_path(void **state)
{
    (void)state;
    wp_api_kind_t k = WP_API_CHAT;
    assert_true(wp_api_kind_from_path("/v1/completions", 15, &k));
    assert_int_equal(k, WP_API_COMPLETIONS);
    assert_true(wp_api_kind_from_path("/v1/chat/completions", 20, &k));
    assert_int_equal(k, WP_API_CHAT);
    assert_false(wp_api_kind_from_path("/v1/completions", 14, &k));
    assert_false(wp_api_kind_from_path("/v1/models", 10, &k));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_completions_string_prompt),
        cmocka_unit_test(test_api_completions_model_absent),
        cmocka_unit_test(test_api_completions_list_of_one_string),
        cmocka_unit_test(test_api_completions_token_ids),
        cmocka_unit_test(test_api_completions_prompt_errors),
        cmocka_unit_test(test_api_chat_render_exact),
        cmocka_unit_test(test_api_chat_render_cap),
        cmocka_unit_test(test_api_chat_message_errors),
        cmocka_unit_test(test_api_type_errors_name_param),
        cmocka_unit_test(test_api_null_fields_are_absent),
        cmocka_unit_test(test_api_invalid_json_offset),
        cmocka_unit_test(test_api_trailing_garbage),
        cmocka_unit_test(test_api_body_not_object_or_empty),
        cmocka_unit_test(test_api_max_tokens_and_max_completion_tokens),
        cmocka_unit_test(test_api_stream_options_include_usage),
        cmocka_unit_test(test_api_prompt_in_place_or_decoded),
        cmocka_unit_test(test_api_vllm_extras),
        cmocka_unit_test(test_api_cache_salt_empty_rejected),
        cmocka_unit_test(test_api_kv_transfer_params_kept),
        cmocka_unit_test(test_api_free_twice_is_safe),
        cmocka_unit_test(test_api_kind_from_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
