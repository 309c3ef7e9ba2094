/* api/pd: see pd.h. Each body is a copy of the request tree, changed and printed. */
#include "api/pd.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

static wp_status_t print_into(cJSON *tree, wp_buf_t *out)
{
    char *s = cJSON_PrintUnformatted(tree);
    cJSON_Delete(tree);
    if (s == NULL)
        return WP_ENOMEM;
    wp_status_t st = wp_buf_puts(out, s);
    free(s);
    return st;
}

/* Removes every member named key (case-sensitive, as the server reads keys): a key the
 * client sent twice must not survive, since JSON parsers that keep the last duplicate
 * would read the client's value instead of ours. */
static void delete_all(cJSON *obj, const char *key)
{
    cJSON *c = obj->child;
    while (c != NULL) {
        cJSON *next = c->next;
        if (c->string != NULL && strcmp(c->string, key) == 0)
            cJSON_Delete(cJSON_DetachItemViaPointer(obj, c));
        c = next;
    }
}

/* Sets obj[key] = value; obj takes value. value NULL (no memory): only deletes. */
static void set_item(cJSON *obj, const char *key, cJSON *value)
{
    delete_all(obj, key);
    if (value != NULL && !cJSON_AddItemToObject(obj, key, value))
        cJSON_Delete(value);
}

wp_status_t wp_api_pd_prefill_body(const cJSON *request, wp_buf_t *out)
{
    cJSON *t = cJSON_Duplicate(request, 1);
    cJSON *kv = cJSON_CreateObject();
    if (t == NULL || kv == NULL) {
        cJSON_Delete(t);
        cJSON_Delete(kv);
        return WP_ENOMEM;
    }
    cJSON_AddTrueToObject(kv, "do_remote_decode");
    cJSON_AddFalseToObject(kv, "do_remote_prefill");
    cJSON_AddNullToObject(kv, "remote_engine_id");
    cJSON_AddNullToObject(kv, "remote_block_ids");
    cJSON_AddNullToObject(kv, "remote_host");
    cJSON_AddNullToObject(kv, "remote_port");
    set_item(t, "kv_transfer_params", kv);
    set_item(t, "stream", cJSON_CreateFalse());
    delete_all(t, "stream_options");
    delete_all(t, "min_tokens");
    set_item(t, "max_tokens", cJSON_CreateNumber(1));
    if (cJSON_GetObjectItemCaseSensitive(t, "max_completion_tokens") != NULL)
        set_item(t, "max_completion_tokens", cJSON_CreateNumber(1));
    return print_into(t, out);
}

wp_status_t wp_api_pd_decode_body(const cJSON *request, const char *prefill_answer, size_t len,
                                  wp_buf_t *out, long long *cached_tokens, wp_err_t *err)
{
    cJSON *answer = cJSON_ParseWithLength(prefill_answer, len);
    const cJSON *kv = cJSON_GetObjectItemCaseSensitive(answer, "kv_transfer_params");
    if (!cJSON_IsObject(kv)) {
        cJSON_Delete(answer);
        return wp_err_set(err, WP_EINVAL, "the prefill answer has no kv_transfer_params object%s",
                          answer ? "" : " (not JSON)");
    }
    if (cached_tokens != NULL) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(answer, "usage"),
                                             "prompt_tokens_details"),
            "cached_tokens");
        *cached_tokens = cJSON_IsNumber(c) ? (long long)c->valuedouble : -1;
    }
    cJSON *t = cJSON_Duplicate(request, 1);
    cJSON *copy = cJSON_Duplicate(kv, 1);
    cJSON_Delete(answer);
    if (t == NULL || copy == NULL) {
        cJSON_Delete(t);
        cJSON_Delete(copy);
        return wp_err_set(err, WP_ENOMEM, "out of memory");
    }
    set_item(t, "kv_transfer_params", copy);
    return print_into(t, out);
}

int wp_api_pd_fold_cached(const char *piece, size_t n, long long cached, wp_buf_t *out)
{
    static const char key[] = "\"cached_tokens\":";
    const size_t klen = sizeof(key) - 1;
    int replaced = 0;
    size_t i = 0, from = 0;
    while (i + klen <= n) {
        if (memcmp(piece + i, key, klen) != 0) {
            i++;
            continue;
        }
        size_t j = i + klen;
        while (j < n && piece[j] == ' ')
            j++;
        size_t digits = j;
        while (digits < n && piece[digits] >= '0' && piece[digits] <= '9')
            digits++;
        if (digits == j || digits == n) { /* no number here, or it may go on in the next piece */
            i = j;
            continue;
        }
        wp_buf_append(out, piece + from, j - from);
        wp_buf_printf(out, "%lld", cached);
        from = i = digits;
        replaced++;
    }
    wp_buf_append(out, piece + from, n - from);
    return replaced;
}
