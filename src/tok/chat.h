/*
 * tok/chat: a model's chat template applied to messages, as vLLM applies it before
 * tokenizing a chat completion (the text then goes to wp_bpe_encode, whose added tokens
 * pick out the template's special tokens).
 *
 * Not a Jinja engine: each supported template is written out as code and must give, byte
 * for byte, what the model's own template gives (tests/integration/bpe_tokenizer.test.mjs
 * renders both). Two templates:
 *
 *   QWEN3   Qwen3's ChatML without tools: a first system message, user and system turns,
 *           assistant turns (the <think> block of turns after the last user query kept,
 *           earlier ones dropped, as the template does with "</think>" in the content),
 *           tool results grouped into one user turn; the generation prompt, with an empty
 *           think block when thinking is off
 *   LLAMA3  Llama 3 Instruct: <|begin_of_text|>, a header per message, the content trimmed
 *           of whitespace (Python's str.strip, as Jinja's trim in vLLM), <|eot_id|>; the
 *           assistant header always follows (that template has no condition on it)
 *
 * Tools, tool calls and reasoning_content fields are not supported.
 *
 * Pure: the caller owns msgs and the output buffer (which is reset first).
 */
#ifndef WP_TOK_CHAT_H
#define WP_TOK_CHAT_H

#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

typedef enum { WP_CHAT_QWEN3 = 1, WP_CHAT_LLAMA3 } wp_chat_kind_t;

typedef struct {
    const char *role; /* "system", "user", "assistant", "tool": NUL-terminated */
    const char *content;
    size_t content_len;
} wp_chat_msg_t;

typedef struct {
    int add_generation_prompt;
    int enable_thinking; /* Qwen3 only; the template's default is on */
} wp_chat_opts_t;

/* Renders msgs[0..n) with template kind into out. WP_EINVAL for an unknown kind or a
 * message without role or content; WP_ELIMIT when out's cap is reached. */
wp_status_t wp_chat_render(wp_chat_kind_t kind, const wp_chat_msg_t *msgs, size_t n,
                           const wp_chat_opts_t *opts, wp_buf_t *out, wp_err_t *err);

#endif
