/* tests/unit/api/test_pd: the two bodies of P/D disaggregation (docs/reference.md §4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cJSON.h>
#include <cmocka.h>

#include "api/pd.h"

static const char *request =
    "{\"model\":\"m\",\"prompt\":\"hello\",\"max_tokens\":200,\"min_tokens\":10,"
    "\"max_completion_tokens\":200,\"stream\":true,"
    "\"stream_options\":{\"include_usage\":true},\"temperature\":0.5}";

static void test_api_pd_prefill_body(void **state)
{
    (void)state;
    cJSON *req = cJSON_Parse(request);
    wp_buf_t b;
    wp_buf_init(&b, 0);
    assert_int_equal(wp_api_pd_prefill_body(req, &b), WP_OK);
    cJSON *t = cJSON_Parse(b.data);
    assert_non_null(t);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(t, "stream")));
    assert_null(cJSON_GetObjectItem(t, "stream_options"));
    assert_null(cJSON_GetObjectItem(t, "min_tokens"));
    assert_int_equal(cJSON_GetObjectItem(t, "max_tokens")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(t, "max_completion_tokens")->valueint, 1);
    assert_string_equal(cJSON_GetObjectItem(t, "prompt")->valuestring, "hello");
    assert_float_equal(cJSON_GetObjectItem(t, "temperature")->valuedouble, 0.5, 1e-12);
    const cJSON *kv = cJSON_GetObjectItem(t, "kv_transfer_params");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(kv, "do_remote_decode")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(kv, "do_remote_prefill")));
    const char *nulls[] = {"remote_engine_id", "remote_block_ids", "remote_host", "remote_port"};
    for (int i = 0; i < 4; i++)
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(kv, nulls[i])));
    assert_int_equal(cJSON_GetArraySize(kv), 6);
    /* The original tree is left as it was. */
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(req, "stream")));
    assert_null(cJSON_GetObjectItem(req, "kv_transfer_params"));
    cJSON_Delete(t);
    cJSON_Delete(req);
    wp_buf_free(&b);
}

static void test_api_pd_decode_body(void **state)
{
    (void)state;
    cJSON *req = cJSON_Parse(request);
    const char *answer =
        "{\"id\":\"cmpl-1\",\"choices\":[{\"text\":\"x\"}],\"usage\":{\"prompt_tokens\":5,"
        "\"prompt_tokens_details\":{\"cached_tokens\":3}},\"kv_transfer_params\":{\"do_remote_"
        "prefill\":true,"
        "\"do_remote_decode\":false,\"remote_block_ids\":[1,2,3],\"remote_engine_id\":\"e1\","
        "\"remote_request_id\":\"r1\",\"remote_host\":\"10.0.0.1\",\"remote_port\":5600,\"tp_"
        "size\":2}}";
    wp_buf_t b;
    wp_buf_init(&b, 0);
    long long cached = 0;
    wp_err_t err;
    assert_int_equal(wp_api_pd_decode_body(req, answer, strlen(answer), &b, &cached, &err), WP_OK);
    assert_int_equal(cached, 3);
    cJSON *t = cJSON_Parse(b.data), *a = cJSON_Parse(answer);
    /* The client's own fields stay (stream, limits); the kv object is the answer's, verbatim. */
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(t, "stream")));
    assert_int_equal(cJSON_GetObjectItem(t, "max_tokens")->valueint, 200);
    assert_int_equal(cJSON_GetObjectItem(t, "min_tokens")->valueint, 10);
    assert_true(cJSON_Compare(cJSON_GetObjectItem(t, "kv_transfer_params"),
                              cJSON_GetObjectItem(a, "kv_transfer_params"), 1));
    cJSON_Delete(t);
    cJSON_Delete(a);
    /* An answer without the object, or not JSON: a clear error. */
    wp_buf_reset(&b);
    assert_int_equal(wp_api_pd_decode_body(req, "{\"id\":1}", 8, &b, NULL, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "no kv_transfer_params"));
    assert_int_equal(wp_api_pd_decode_body(req, "<html>", 6, &b, NULL, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "not JSON"));
    cJSON_Delete(req);
    wp_buf_free(&b);
}

static void test_api_pd_fold_cached(void **state)
{
    (void)state;
    const char *sse =
        "data: "
        "{\"usage\":{\"prompt_tokens\":900,\"prompt_tokens_details\":{\"cached_tokens\":896}}}\n\n"
        "data: [DONE]\n\n";
    wp_buf_t b;
    wp_buf_init(&b, 0);
    assert_int_equal(wp_api_pd_fold_cached(sse, strlen(sse), 64, &b), 1);
    assert_non_null(strstr(b.data, "\"cached_tokens\":64}}}"));
    assert_non_null(strstr(b.data, "\"prompt_tokens\":900"));
    assert_non_null(strstr(b.data, "data: [DONE]\n\n"));
    /* A key cut at the end of a piece is left alone; text without the key is copied. */
    wp_buf_reset(&b);
    assert_int_equal(wp_api_pd_fold_cached("x \"cached_tokens\":89", 20, 1, &b), 0);
    assert_string_equal(b.data, "x \"cached_tokens\":89");
    wp_buf_reset(&b);
    assert_int_equal(wp_api_pd_fold_cached("data: {}\n\n", 10, 1, &b), 0);
    assert_string_equal(b.data, "data: {}\n\n");
    wp_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_pd_prefill_body),
        cmocka_unit_test(test_api_pd_decode_body),
        cmocka_unit_test(test_api_pd_fold_cached),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
