/*
 * gateway/prompt: a request's prompt as the model server will see it, for precise prefix
 * routing. With a tokenizer configured (gateway.h: tokenizer, kv_hash_seed, kv_block_size),
 * the prompt is tokenized as vLLM tokenizes it (tok/model.h: completions with the model's
 * special tokens, chat through its chat template, token-id prompts as given) and its full
 * blocks hashed as vLLM hashes them (kvhash/: sha256_cbor from PYTHONHASHSEED, cache_salt on
 * the first block), in the 64-bit form its KV events carry. Those are the request's
 * kv_hashes for the scheduler; its token count is then exact.
 *
 * A token-id prompt is hashed as it is, with or without a tokenizer. A request the tokenizer
 * refuses (a chat for a model without a supported template, text
 * that is not UTF-8) is routed without kv_hashes, as without a tokenizer, and counted
 * (tokenize_errors): the server, not the gateway, answers it. The tokenizer and its cache
 * are the gateway's, loaded once at start (a reload keeps them).
 */
#include "gateway/internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "kvhash/kvhash.h"
#include "os/tokfiles.h"

wp_status_t wp__gw_prompt_open(wp_gateway_t *gw, wp_err_t *err)
{
    const wp_gateway_config_t *c = &gw->cfg;
    if (wp_kvhash_seed(c->kv_hash_seed, strlen(c->kv_hash_seed), &gw->kv_seed) != WP_OK)
        return wp_err_set(err, WP_EIO, "kvHashSeed: cannot hash it");
    if (!c->tokenizer[0])
        return WP_OK;
    wp_err_t e;
    if (wp_os_tokmodel_load(c->tokenizer, &gw->tok, &e) != WP_OK)
        return wp_err_set(err, WP_EINVAL, "tokenizer: %s", e.msg);
    gw->tok_cache = wp_bpe_cache_new(0);
    if (gw->tok_cache == NULL) {
        wp__gw_prompt_close(gw);
        return wp_err_set(err, WP_ENOMEM, "tokenizer: out of memory");
    }
    return WP_OK;
}

void wp__gw_prompt_close(wp_gateway_t *gw)
{
    wp_bpe_cache_free(gw->tok_cache);
    wp_tokmodel_free(gw->tok);
    gw->tok_cache = NULL;
    gw->tok = NULL;
}

/* The chain of ids[0..n) into p->kv_hashes. */
static bool hash_ids(gw_proxy_t *p, const int32_t *ids, size_t n)
{
    wp_gateway_t *gw = p->gw;
    size_t bs = gw->cfg.kv_block_size > 0 ? (size_t)gw->cfg.kv_block_size : WP_KVHASH_BLOCK_SIZE;
    size_t blocks = n / bs;
    if (blocks == 0)
        return true;
    wp_kvhash_opts_t o = {.block_size = bs, .cache_salt = p->api.cache_salt};
    p->kv_hashes = malloc(blocks * sizeof(uint64_t));
    if (p->kv_hashes == NULL ||
        wp_kvhash_chain_u64(&gw->kv_seed, ids, n, &o, p->kv_hashes, blocks, &blocks) != WP_OK) {
        free(p->kv_hashes);
        p->kv_hashes = NULL;
        return false;
    }
    p->n_kv_hashes = blocks;
    return true;
}

void wp__gw_prompt_hash(gw_proxy_t *p)
{
    wp_gateway_t *gw = p->gw;
    if (p->api.prompt_ids != NULL) { /* the server's ids already: no tokenizer needed */
        p->n_tokens = p->api.n_prompt_ids;
        if (!hash_ids(p, p->api.prompt_ids, p->api.n_prompt_ids))
            gw->tally.tokenize_errors++;
        return;
    }
    if (gw->tok == NULL)
        return;
    int32_t *ids = NULL;
    size_t n = 0;
    wp_err_t e;
    if (wp_tokmodel_encode_request(gw->tok, gw->tok_cache, &p->api, &ids, &n, &e) != WP_OK) {
        if (gw->tally.tokenize_errors++ == 0)
            wp_log(WP_LOG_WARN, "prompt not tokenized: routed without the servers' block hashes",
                   "request=%s error=\"%s\" (later ones: wellpath_gateway_tokenize_errors_total)",
                   p->request_id, e.msg);
        return;
    }
    p->n_tokens = n;
    if (!hash_ids(p, ids, n))
        gw->tally.tokenize_errors++;
    free(ids);
}
