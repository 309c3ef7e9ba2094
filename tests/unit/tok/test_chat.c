/* Tests for tok/chat: the Qwen3 and Llama 3 templates on conversations worked out by hand
 * from the templates' text, with Python's string methods (strip('\n') strips newlines only;
 * trim strips str.isspace(), U+001C and U+0085 included), as vLLM renders them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "base/buf.h"
#include "tok/chat.h"

#define MSG(r, c)                                                                                  \
    {                                                                                              \
        .role = (r), .content = (c), .content_len = sizeof(c) - 1                                  \
    }

static void expect(wp_chat_kind_t kind, const wp_chat_msg_t *msgs, size_t n, wp_chat_opts_t opts,
                   const char *want)
{
    wp_buf_t out;
    wp_buf_init(&out, WP_BUF_DEFAULT_MAX);
    wp_err_t err = {{0}};
    assert_int_equal(wp_chat_render(kind, msgs, n, &opts, &out, &err), WP_OK);
    assert_int_equal(out.len, strlen(want));
    assert_string_equal(out.data, want);
    wp_buf_free(&out);
}

static void test_chat_qwen3_think_kept_after_last_query(void **state)
{
    (void)state;
    const wp_chat_msg_t msgs[] = {
        MSG("user", "Hi"),
        MSG("assistant", "<think>\n \nx \n</think>\n\n\fy"),
    };
    /* reasoning: before the first </think>, rstrip('\n'), after the last <think>,
     * lstrip('\n') -> " \nx "; content after the last </think>, lstrip('\n') -> "\fy" */
    expect(WP_CHAT_QWEN3, msgs, 2, (wp_chat_opts_t){0, 1},
           "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n \nx "
           "\n</think>\n\n\fy<|im_end|>\n");
}

static void test_chat_qwen3_think_dropped_before_last_query(void **state)
{
    (void)state;
    const wp_chat_msg_t msgs[] = {
        MSG("user", "a"),
        MSG("assistant", "<think>r</think>\n\nb"),
        MSG("user", "c"),
    };
    expect(WP_CHAT_QWEN3, msgs, 3, (wp_chat_opts_t){1, 1},
           "<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\nb<|im_end|>\n"
           "<|im_start|>user\nc<|im_end|>\n<|im_start|>assistant\n");
}

static void test_chat_qwen3_tools_and_no_thinking(void **state)
{
    (void)state;
    const wp_chat_msg_t msgs[] = {
        MSG("system", "S"), MSG("user", "Q"),  MSG("assistant", "A"),
        MSG("tool", "r1"),  MSG("tool", "r2"),
    };
    expect(WP_CHAT_QWEN3, msgs, 5, (wp_chat_opts_t){1, 0},
           "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n"
           "<|im_start|>assistant\nA<|im_end|>\n<|im_start|>user\n<tool_response>\nr1\n"
           "</tool_response>\n<tool_response>\nr2\n</tool_response><|im_end|>\n"
           "<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

static void test_chat_llama3_trim(void **state)
{
    (void)state;
    const wp_chat_msg_t msgs[] = {
        MSG("system", "\t S \n"),
        MSG("user", " \x1c hi \xc2\x85"),
    };
    expect(WP_CHAT_LLAMA3, msgs, 2, (wp_chat_opts_t){0, 1},
           "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
           "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
           "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

static void test_chat_errors(void **state)
{
    (void)state;
    wp_buf_t out;
    wp_buf_init(&out, 64);
    wp_err_t err = {{0}};
    const wp_chat_msg_t msgs[] = {MSG("user", "a long enough message to pass the cap of 64 b")};
    wp_chat_opts_t o = {1, 1};
    assert_int_equal(wp_chat_render((wp_chat_kind_t)9, msgs, 1, &o, &out, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "unknown"));
    assert_int_equal(wp_chat_render(WP_CHAT_QWEN3, msgs, 1, &o, &out, &err), WP_ELIMIT);
    const wp_chat_msg_t bad[] = {{.role = NULL, .content = "x", .content_len = 1}};
    assert_int_equal(wp_chat_render(WP_CHAT_QWEN3, bad, 1, &o, &out, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "messages[0]"));
    wp_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat_qwen3_think_kept_after_last_query),
        cmocka_unit_test(test_chat_qwen3_think_dropped_before_last_query),
        cmocka_unit_test(test_chat_qwen3_tools_and_no_thinking),
        cmocka_unit_test(test_chat_llama3_trim),
        cmocka_unit_test(test_chat_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
