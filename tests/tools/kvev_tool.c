/*
 * kvev_tool: drives kvev/pub and kvev/sub for tests/integration/kvev_vllm.py, which checks
 * them against pyzmq + msgpack-python (an independent implementation of the wire format).
 *
 *   kvev_tool pub CONFIG_JSON BATCHES_JSON
 *     Starts a publisher from CONFIG_JSON (--kv-events-config, rank 0), prints
 *     {"endpoint": ..., "replay_endpoint": ...}, waits for a subscriber, publishes
 *     BATCHES_JSON (an array of batches), prints {"published": n}, then serves replay
 *     requests until stdin closes.
 *   kvev_tool sub ENDPOINT REPLAY_ENDPOINT|- TOPIC
 *     Subscribes and prints {"ready": true}, then one line per batch
 *     {"seq": "6", "batch": {...}} and per resync {"resync": "why"}; when stdin closes,
 *     {"stats": {...}} and exit.
 *
 * Batches and events in JSON use vLLM's field names; hashes are decimal strings (64 bits
 * do not fit a JSON number). Exit status 0 when all went well, 1 otherwise.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "kvev/ctx.h"
#include "kvev/kvev.h"
#include "kvev/pub.h"
#include "kvev/sub.h"

static uv_loop_t *loop;
static void *zctx;
static wp_kvev_pub_t *pub;
static wp_kvev_sub_t *sub;
static cJSON *batches;
static bool published;
static uv_timer_t wait_timer;
static uv_pipe_t in;

/* ---- JSON <-> batch ---- */

static bool get_u64(const cJSON *j, uint64_t *v)
{
    if (cJSON_IsString(j)) {
        char *end;
        *v = strtoull(j->valuestring, &end, 10);
        return *end == 0;
    }
    if (cJSON_IsNumber(j)) {
        *v = (uint64_t)j->valuedouble;
        return true;
    }
    return false;
}

/* Fills b from j, its arrays in ev, hashes and tokens (big enough for the fixtures). */
static bool batch_from_json(const cJSON *j, wp_kvev_batch_t *b, wp_kvev_event_t *ev,
                            uint64_t *hashes, int32_t *tokens)
{
    const cJSON *rank = cJSON_GetObjectItem(j, "data_parallel_rank");
    b->ts = cJSON_GetObjectItem(j, "ts")->valuedouble;
    b->dp_rank = cJSON_IsNumber(rank) ? rank->valueint : -1;
    b->events = ev;
    b->n_events = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "events"))
    {
        wp_kvev_event_t *x = &ev[b->n_events++];
        memset(x, 0, sizeof(*x));
        const char *type = cJSON_GetObjectItem(e, "type")->valuestring;
        x->type = strcmp(type, "BlockStored") == 0    ? WP_KVEV_STORED
                  : strcmp(type, "BlockRemoved") == 0 ? WP_KVEV_REMOVED
                                                      : WP_KVEV_CLEARED;
        const cJSON *it;
        x->hashes = hashes;
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(e, "block_hashes"))
        {
            if (!get_u64(it, hashes++))
                return false;
            x->n_hashes++;
        }
        x->token_ids = tokens;
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(e, "token_ids"))
        {
            *tokens++ = it->valueint;
            x->n_tokens++;
        }
        const cJSON *parent = cJSON_GetObjectItem(e, "parent_block_hash");
        x->has_parent = parent != NULL && !cJSON_IsNull(parent) && get_u64(parent, &x->parent);
        const cJSON *bs = cJSON_GetObjectItem(e, "block_size");
        x->block_size = cJSON_IsNumber(bs) ? bs->valueint : 0;
        const cJSON *lora = cJSON_GetObjectItem(e, "lora_id");
        x->has_lora_id = cJSON_IsNumber(lora);
        x->lora_id = x->has_lora_id ? (int64_t)lora->valuedouble : 0;
        const cJSON *medium = cJSON_GetObjectItem(e, "medium");
        if (cJSON_IsString(medium)) {
            x->medium = wp_kvev_medium_parse(medium->valuestring, strlen(medium->valuestring));
            x->medium_name = x->medium == WP_KVEV_MEDIUM_OTHER ? medium->valuestring : NULL;
        }
        const cJSON *name = cJSON_GetObjectItem(e, "lora_name");
        x->lora_name = cJSON_IsString(name) ? name->valuestring : NULL;
    }
    return true;
}

static void print_u64(const char *key, uint64_t v, bool comma)
{
    printf("\"%s\":\"%" PRIu64 "\"%s", key, v, comma ? "," : "");
}

static void print_str(const char *s)
{
    if (s == NULL) {
        printf("null");
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void print_batch(const wp_kvev_batch_t *b)
{
    printf("{\"ts\":%.17g,\"data_parallel_rank\":", b->ts);
    if (b->dp_rank >= 0)
        printf("%d", b->dp_rank);
    else
        printf("null");
    printf(",\"events\":[");
    for (size_t i = 0; i < b->n_events; i++) {
        const wp_kvev_event_t *e = &b->events[i];
        printf("%s{\"type\":\"%s\"", i ? "," : "", wp_kvev_type_name(e->type));
        if (e->type != WP_KVEV_CLEARED) {
            printf(",\"block_hashes\":[");
            for (size_t k = 0; k < e->n_hashes; k++)
                printf("%s\"%" PRIu64 "\"", k ? "," : "", e->hashes[k]);
            printf("],\"medium\":");
            print_str(e->medium == WP_KVEV_MEDIUM_OTHER ? e->medium_name
                                                        : wp_kvev_medium_name(e->medium));
        }
        if (e->type == WP_KVEV_STORED) {
            printf(",\"parent_block_hash\":");
            if (e->has_parent)
                printf("\"%" PRIu64 "\"", e->parent);
            else
                printf("null");
            printf(",\"token_ids\":[");
            for (size_t k = 0; k < e->n_tokens; k++)
                printf("%s%d", k ? "," : "", e->token_ids[k]);
            printf("],\"block_size\":%d,\"lora_id\":", e->block_size);
            if (e->has_lora_id)
                printf("%" PRId64, e->lora_id);
            else
                printf("null");
            printf(",\"lora_name\":");
            print_str(e->lora_name);
        }
        printf("}");
    }
    printf("]}");
}

/* ---- pub ---- */

static int publish_all(void)
{
    int n = 0;
    const cJSON *j;
    cJSON_ArrayForEach(j, batches)
    {
        static wp_kvev_event_t ev[256];
        static uint64_t hashes[4096];
        static int32_t tokens[65536];
        wp_kvev_batch_t b;
        wp_err_t err;
        if (!batch_from_json(j, &b, ev, hashes, tokens) ||
            wp_kvev_pub_send(pub, &b, &err) != WP_OK) {
            fprintf(stderr, "kvev_tool: publish: %s\n", err.msg);
            return -1;
        }
        n++;
    }
    return n;
}

static void on_wait(uv_timer_t *t)
{
    wp_kvev_pub_stats_t st;
    wp_kvev_pub_stats(pub, &st);
    if (published || st.subscriptions == 0)
        return;
    published = true;
    uv_timer_stop(t);
    int n = publish_all();
    printf("{\"published\":%d}\n", n);
    fflush(stdout);
}

/* ---- sub ---- */

static void on_batch(void *ud, const wp_kvev_batch_t *b, uint64_t seq)
{
    printf("{");
    print_u64("seq", seq, true);
    printf("\"batch\":");
    print_batch(b);
    printf("}\n");
    fflush(stdout);
}

static void on_resync(void *ud, const char *why)
{
    printf("{\"resync\":");
    print_str(why);
    printf("}\n");
    fflush(stdout);
}

/* ---- stdin: EOF ends the run ---- */

static void on_alloc(uv_handle_t *h, size_t n, uv_buf_t *buf)
{
    static char b[256];
    *buf = uv_buf_init(b, sizeof(b));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    if (n >= 0)
        return;
    uv_close((uv_handle_t *)s, NULL);
    if (pub != NULL) {
        uv_close((uv_handle_t *)&wait_timer, NULL);
        wp_kvev_pub_close(pub);
    }
    if (sub != NULL) {
        wp_kvev_sub_stats_t st;
        wp_kvev_sub_stats(sub, &st);
        printf("{\"stats\":{\"batches\":%" PRIu64 ",\"events\":%" PRIu64 ",\"gaps\":%" PRIu64
               ",\"replayed\":%" PRIu64 ",\"resyncs\":%" PRIu64 ",\"decode_errors\":%" PRIu64
               "}}\n",
               st.batches, st.events, st.gaps, st.replayed, st.resyncs, st.decode_errors);
        fflush(stdout);
        wp_kvev_sub_close(sub);
    }
}

int main(int argc, char **argv)
{
    wp_err_t err;
    loop = uv_default_loop();
    if (argc < 2 || (zctx = wp_kvev_ctx_new(&err)) == NULL) {
        fprintf(stderr, "usage: kvev_tool pub CONFIG BATCHES | sub ENDPOINT REPLAY TOPIC\n");
        return 1;
    }
    if (strcmp(argv[1], "pub") == 0 && argc == 4) {
        wp_kvev_pub_config_t cfg;
        batches = cJSON_Parse(argv[3]);
        if (batches == NULL ||
            wp_kvev_pub_config_parse(argv[2], strlen(argv[2]), 0, &cfg, &err) != WP_OK ||
            (pub = wp_kvev_pub_new(loop, zctx, &cfg, &err)) == NULL) {
            fprintf(stderr, "kvev_tool: %s\n", batches ? err.msg : "bad batches JSON");
            return 1;
        }
        printf("{\"endpoint\":");
        print_str(wp_kvev_pub_endpoint(pub));
        printf(",\"replay_endpoint\":");
        print_str(wp_kvev_pub_replay_endpoint(pub));
        printf("}\n");
        fflush(stdout);
        /* Subscriptions arrive through the loop; look at the count every 5 ms. */
        uv_timer_init(loop, &wait_timer);
        uv_timer_start(&wait_timer, on_wait, 0, 5);
    } else if (strcmp(argv[1], "sub") == 0 && argc == 5) {
        wp_kvev_sub_cb_t cb = {on_batch, on_resync};
        const char *replay = strcmp(argv[3], "-") == 0 ? NULL : argv[3];
        sub = wp_kvev_sub_new(loop, zctx, argv[2], replay, argv[4], &cb, NULL, &err);
        if (sub == NULL) {
            fprintf(stderr, "kvev_tool: %s\n", err.msg);
            return 1;
        }
        printf("{\"ready\":true}\n");
        fflush(stdout);
    } else {
        fprintf(stderr, "usage: kvev_tool pub CONFIG BATCHES | sub ENDPOINT REPLAY TOPIC\n");
        return 1;
    }
    uv_pipe_init(loop, &in, 0);
    uv_pipe_open(&in, 0);
    uv_read_start((uv_stream_t *)&in, on_alloc, on_read);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    wp_kvev_ctx_free(zctx);
    cJSON_Delete(batches);
    return 0;
}
