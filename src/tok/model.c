/*
 * tok/model: the BPE tokenizer (tok/bpe.h), the special tokens its post-processor adds to a
 * single sequence, and the chat template (tok/chat.h), put together as vLLM's serving code
 * puts them (model.h says which rule comes from where).
 *
 * The post-processor is reduced at load to two id lists, `before` and `after` the sequence:
 * TemplateProcessing's `single` is a list of SpecialToken pieces (each looked up in its
 * special_tokens map, whose `ids` may hold several ids) around exactly one Sequence "A";
 * ByteLevel only moves offsets, which we do not report; a Sequence of processors adds what
 * each adds, in order. tokenizer.json is parsed a second time here (tok/bpe reads the rest):
 * once, at load.
 */
#include "tok/model.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "api/openai.h"
#include "base/buf.h"

struct wp_tokmodel_s {
    wp_bpe_t *bpe;
    int chat; /* wp_chat_kind_t, 0: none */
    int32_t before[WP_TOKMODEL_SPECIAL_MAX], after[WP_TOKMODEL_SPECIAL_MAX];
    size_t n_before, n_after;
};

/* ---- load: the post-processor ---- */

static wp_status_t push_ids(wp_tokmodel_t *m, bool seen_a, const cJSON *ids, const char *name,
                            wp_err_t *err)
{
    int32_t *to = seen_a ? m->after : m->before;
    size_t *n = seen_a ? &m->n_after : &m->n_before;
    const cJSON *id;
    cJSON_ArrayForEach(id, ids)
    {
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > 2147483646.0)
            return wp_err_set(err, WP_EINVAL,
                              "tokenizer.json: post_processor: special token '%.64s' has an id "
                              "that is not a non-negative integer",
                              name);
        if (*n >= WP_TOKMODEL_SPECIAL_MAX)
            return wp_err_set(err, WP_ELIMIT,
                              "tokenizer.json: post_processor: more than %d special tokens",
                              WP_TOKMODEL_SPECIAL_MAX);
        to[(*n)++] = (int32_t)id->valuedouble;
    }
    return WP_OK;
}

static wp_status_t template_processing(wp_tokmodel_t *m, const cJSON *pp, wp_err_t *err)
{
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(pp, "single");
    const cJSON *specials = cJSON_GetObjectItemCaseSensitive(pp, "special_tokens");
    if (!cJSON_IsArray(single))
        return wp_err_set(err, WP_EINVAL,
                          "tokenizer.json: post_processor: TemplateProcessing without a "
                          "'single' list");
    bool seen_a = false;
    const cJSON *piece;
    cJSON_ArrayForEach(piece, single)
    {
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(piece, "Sequence");
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(piece, "SpecialToken");
        if (seq != NULL) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(seq, "id");
            if (seen_a || !cJSON_IsString(id) || strcmp(id->valuestring, "A") != 0)
                return wp_err_set(err, WP_EINVAL,
                                  "tokenizer.json: post_processor: the 'single' template must "
                                  "hold one Sequence \"A\"");
            seen_a = true;
            continue;
        }
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(sp, "id");
        if (!cJSON_IsString(name))
            return wp_err_set(err, WP_EINVAL,
                              "tokenizer.json: post_processor: a 'single' piece that is neither "
                              "SpecialToken nor Sequence");
        const cJSON *def = cJSON_GetObjectItemCaseSensitive(specials, name->valuestring);
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(def, "ids");
        if (!cJSON_IsArray(ids))
            return wp_err_set(err, WP_EINVAL,
                              "tokenizer.json: post_processor: special token '%.64s' is not in "
                              "special_tokens (with its ids)",
                              name->valuestring);
        wp_status_t st = push_ids(m, seen_a, ids, name->valuestring, err);
        if (st != WP_OK)
            return st;
    }
    if (!seen_a)
        return wp_err_set(err, WP_EINVAL,
                          "tokenizer.json: post_processor: the 'single' template has no "
                          "Sequence \"A\"");
    return WP_OK;
}

static wp_status_t post_processor(wp_tokmodel_t *m, const cJSON *pp, int depth, wp_err_t *err)
{
    if (pp == NULL || cJSON_IsNull(pp))
        return WP_OK;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(pp, "type");
    const char *t = cJSON_IsString(type) ? type->valuestring : "";
    if (strcmp(t, "ByteLevel") == 0)
        return WP_OK; /* offsets only */
    if (strcmp(t, "TemplateProcessing") == 0)
        return template_processing(m, pp, err);
    if (strcmp(t, "Sequence") == 0 && depth == 0) {
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(pp, "processors"))
        {
            wp_status_t st = post_processor(m, p, depth + 1, err);
            if (st != WP_OK)
                return st;
        }
        return WP_OK;
    }
    return wp_err_set(err, WP_EINVAL,
                      "tokenizer.json: post_processor: type '%.64s' is not supported (null, "
                      "ByteLevel, TemplateProcessing or a Sequence of them)",
                      t);
}

/* ---- load: tokenizer_config.json ---- */

/* transformers' LlamaTokenizerFast rebuilds its post-processor from add_bos_token and
 * add_eos_token (update_post_processor), whatever tokenizer.json says. */
static wp_status_t llama_flags(wp_tokmodel_t *m, const cJSON *cfg, wp_err_t *err)
{
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(cfg, "tokenizer_class");
    if (!cJSON_IsString(cls) || (strcmp(cls->valuestring, "LlamaTokenizerFast") != 0 &&
                                 strcmp(cls->valuestring, "LlamaTokenizer") != 0))
        return WP_OK;
    static const char *const keys[2][2] = {{"add_bos_token", "bos_token"},
                                           {"add_eos_token", "eos_token"}};
    for (int k = 0; k < 2; k++) {
        const cJSON *flag = cJSON_GetObjectItemCaseSensitive(cfg, keys[k][0]);
        if (!cJSON_IsBool(flag))
            continue;
        size_t *n = k == 0 ? &m->n_before : &m->n_after;
        int32_t *to = k == 0 ? m->before : m->after;
        *n = 0;
        if (cJSON_IsFalse(flag))
            continue;
        const cJSON *tok = cJSON_GetObjectItemCaseSensitive(cfg, keys[k][1]);
        if (cJSON_IsObject(tok)) /* {"content": "<s>", ...} */
            tok = cJSON_GetObjectItemCaseSensitive(tok, "content");
        int32_t id = cJSON_IsString(tok)
                         ? wp_bpe_token_id(m->bpe, tok->valuestring, strlen(tok->valuestring))
                         : -1;
        if (id < 0)
            return wp_err_set(err, WP_EINVAL,
                              "tokenizer_config.json: %s is true but %s is not a token", keys[k][0],
                              keys[k][1]);
        to[(*n)++] = id;
    }
    return WP_OK;
}

/* The "default" template of a list of {name, template}, or the string itself. */
static const char *chat_template(const cJSON *cfg)
{
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(cfg, "chat_template");
    if (cJSON_IsString(ct))
        return ct->valuestring;
    const cJSON *list = cJSON_IsArray(ct) ? ct : NULL, *e;
    cJSON_ArrayForEach(e, list)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
        const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(e, "template");
        if (cJSON_IsString(name) && strcmp(name->valuestring, "default") == 0 &&
            cJSON_IsString(tpl))
            return tpl->valuestring;
    }
    return NULL;
}

static int chat_kind(const char *tpl)
{
    if (tpl == NULL)
        return 0;
    if (strstr(tpl, "<|im_start|>") != NULL && strstr(tpl, "<think>") != NULL)
        return WP_CHAT_QWEN3;
    if (strstr(tpl, "<|start_header_id|>") != NULL && strstr(tpl, "Knowledge Date") == NULL)
        return WP_CHAT_LLAMA3;
    return 0;
}

wp_status_t wp_tokmodel_load(const char *tokenizer_json, size_t len, const char *config_json,
                             size_t config_len, wp_tokmodel_t **out, wp_err_t *err)
{
    *out = NULL;
    wp_tokmodel_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return wp_err_set(err, WP_ENOMEM, "out of memory");
    wp_err_t e;
    wp_status_t st = wp_bpe_load(tokenizer_json, len, &m->bpe, &e);
    if (st != WP_OK) {
        free(m);
        return wp_err_set(err, st, "tokenizer.json: %s", e.msg);
    }
    cJSON *tj = cJSON_ParseWithLength(tokenizer_json, len);
    cJSON *cfg = NULL;
    if (tj == NULL)
        st = wp_err_set(err, WP_EINVAL, "tokenizer.json: not valid JSON");
    else
        st = post_processor(m, cJSON_GetObjectItemCaseSensitive(tj, "post_processor"), 0, err);
    if (st == WP_OK && config_json != NULL) {
        cfg = cJSON_ParseWithLength(config_json, config_len);
        if (!cJSON_IsObject(cfg))
            st = wp_err_set(err, WP_EINVAL, "tokenizer_config.json: not a JSON object");
        else if ((st = llama_flags(m, cfg, err)) == WP_OK)
            m->chat = chat_kind(chat_template(cfg));
    }
    cJSON_Delete(tj);
    cJSON_Delete(cfg);
    if (st != WP_OK) {
        wp_tokmodel_free(m);
        return st;
    }
    *out = m;
    return WP_OK;
}

void wp_tokmodel_free(wp_tokmodel_t *m)
{
    if (m == NULL)
        return;
    wp_bpe_free(m->bpe);
    free(m);
}

const wp_bpe_t *wp_tokmodel_bpe(const wp_tokmodel_t *m)
{
    return m->bpe;
}

int wp_tokmodel_chat_kind(const wp_tokmodel_t *m)
{
    return m->chat;
}

void wp_tokmodel_specials(const wp_tokmodel_t *m, const int32_t **before, size_t *n_before,
                          const int32_t **after, size_t *n_after)
{
    *before = m->before;
    *n_before = m->n_before;
    *after = m->after;
    *n_after = m->n_after;
}

/* ---- encoding ---- */

wp_status_t wp_tokmodel_encode_prompt(const wp_tokmodel_t *m, wp_bpe_cache_t *cache,
                                      const char *text, size_t len, bool add_special_tokens,
                                      int32_t **ids, size_t *n, wp_err_t *err)
{
    int32_t *body = NULL;
    size_t nb = 0;
    *ids = NULL;
    *n = 0;
    wp_status_t st = wp_bpe_encode(m->bpe, cache, text, len, &body, &nb, err);
    if (st != WP_OK || !add_special_tokens || m->n_before + m->n_after == 0) {
        *ids = body;
        *n = st == WP_OK ? nb : 0;
        return st;
    }
    size_t total = m->n_before + nb + m->n_after;
    int32_t *all = malloc(total * sizeof(int32_t));
    if (all == NULL) {
        free(body);
        return wp_err_set(err, WP_ENOMEM, "out of memory");
    }
    memcpy(all, m->before, m->n_before * sizeof(int32_t));
    if (nb > 0)
        memcpy(all + m->n_before, body, nb * sizeof(int32_t));
    memcpy(all + m->n_before + nb, m->after, m->n_after * sizeof(int32_t));
    free(body);
    *ids = all;
    *n = total;
    return WP_OK;
}

wp_status_t wp_tokmodel_encode_chat(const wp_tokmodel_t *m, wp_bpe_cache_t *cache,
                                    const wp_chat_msg_t *msgs, size_t n_msgs,
                                    const wp_chat_opts_t *opts, int32_t **ids, size_t *n,
                                    wp_err_t *err)
{
    *ids = NULL;
    *n = 0;
    if (m->chat == 0)
        return wp_err_set(err, WP_EINVAL,
                          "this model's tokenizer has no supported chat template (Qwen3 or "
                          "Llama 3 Instruct in tokenizer_config.json); use /v1/completions");
    wp_chat_opts_t dflt = {.add_generation_prompt = 1, .enable_thinking = 1};
    wp_buf_t text;
    wp_buf_init(&text, WP_BPE_TEXT_MAX);
    wp_status_t st =
        wp_chat_render((wp_chat_kind_t)m->chat, msgs, n_msgs, opts ? opts : &dflt, &text, err);
    if (st == WP_OK)
        st = wp_bpe_encode(m->bpe, cache, text.data ? text.data : "", text.len, ids, n, err);
    wp_buf_free(&text);
    return st;
}

static bool body_bool(const cJSON *obj, const char *key, bool dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

/* Text parts of an array content joined with "\n" into b; *p, *len point at the content. */
static wp_status_t content_of(const cJSON *c, wp_buf_t *b, const char **p, size_t *len)
{
    *p = "";
    *len = 0;
    if (cJSON_IsString(c)) {
        *p = c->valuestring;
        *len = strlen(c->valuestring);
        return WP_OK;
    }
    if (!cJSON_IsArray(c))
        return WP_OK;
    size_t start = b->len, parts = 0;
    const cJSON *part;
    cJSON_ArrayForEach(part, c)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsString(t))
            continue;
        if ((parts++ > 0 && wp_buf_puts(b, "\n") != WP_OK) || wp_buf_puts(b, t->valuestring))
            return WP_ELIMIT;
    }
    /* offsets, not pointers: b may move while later messages are appended */
    *p = NULL;
    *len = b->len - start;
    return WP_OK;
}

wp_status_t wp_tokmodel_encode_messages(const wp_tokmodel_t *m, wp_bpe_cache_t *cache,
                                        const cJSON *messages, const cJSON *body, int32_t **ids,
                                        size_t *n, wp_err_t *err)
{
    *ids = NULL;
    *n = 0;
    size_t count = cJSON_IsArray(messages) ? (size_t)cJSON_GetArraySize(messages) : 0;
    if (count == 0)
        return wp_err_set(err, WP_EINVAL, "messages: expected a non-empty array");
    wp_chat_msg_t *msgs = calloc(count, sizeof(*msgs));
    size_t *offs = calloc(count, sizeof(*offs));
    wp_buf_t parts;
    wp_buf_init(&parts, WP_BPE_TEXT_MAX);
    wp_status_t st = msgs && offs ? WP_OK : wp_err_set(err, WP_ENOMEM, "out of memory");
    size_t i = 0;
    const cJSON *msg;
    cJSON_ArrayForEach(msg, messages)
    {
        if (st != WP_OK)
            break;
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(msg, "role");
        if (!cJSON_IsString(role)) {
            st = wp_err_set(err, WP_EINVAL, "messages[%zu].role must be a string", i);
            break;
        }
        msgs[i].role = role->valuestring;
        offs[i] = parts.len;
        if (content_of(cJSON_GetObjectItemCaseSensitive(msg, "content"), &parts, &msgs[i].content,
                       &msgs[i].content_len) != WP_OK)
            st = wp_err_set(err, WP_ELIMIT, "messages: content too long");
        i++;
    }
    for (size_t k = 0; st == WP_OK && k < count; k++)
        if (msgs[k].content == NULL)
            msgs[k].content = parts.data != NULL ? parts.data + offs[k] : "";
    if (st == WP_OK) {
        const cJSON *kw = cJSON_GetObjectItemCaseSensitive(body, "chat_template_kwargs");
        wp_chat_opts_t opts = {.add_generation_prompt =
                                   body_bool(body, "add_generation_prompt", true),
                               .enable_thinking = body_bool(kw, "enable_thinking", true)};
        st = wp_tokmodel_encode_chat(m, cache, msgs, count, &opts, ids, n, err);
    }
    wp_buf_free(&parts);
    free(offs);
    free(msgs);
    return st;
}

wp_status_t wp_tokmodel_encode_request(const wp_tokmodel_t *m, wp_bpe_cache_t *cache,
                                       wp_api_request_t *req, int32_t **ids, size_t *n,
                                       wp_err_t *err)
{
    *ids = NULL;
    *n = 0;
    if (req->prompt_ids != NULL) {
        *ids = malloc(req->n_prompt_ids * sizeof(int32_t));
        if (*ids == NULL)
            return wp_err_set(err, WP_ENOMEM, "out of memory");
        memcpy(*ids, req->prompt_ids, req->n_prompt_ids * sizeof(int32_t));
        *n = req->n_prompt_ids;
        return WP_OK;
    }
    if (req->kind == WP_API_CHAT) {
        const cJSON *body = wp_api_request_tree(req);
        if (body == NULL)
            return wp_err_set(err, WP_ENOMEM, "out of memory");
        return wp_tokmodel_encode_messages(
            m, cache, cJSON_GetObjectItemCaseSensitive(body, "messages"), body, ids, n, err);
    }
    return wp_tokmodel_encode_prompt(m, cache, req->prompt.data ? req->prompt.data : "",
                                     req->prompt.len, req->add_special_tokens, ids, n, err);
}
