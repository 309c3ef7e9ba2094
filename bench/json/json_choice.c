/*
 * bench/json/json_choice: picks the JSON library by measuring, not by taste.
 *
 * Builds one realistic ~32 KB OpenAI chat request (model, 14 messages of English-like
 * text with a few escapes and UTF-8, stream, stream_options, max_tokens, temperature,
 * cache_salt) and times, for jansson, json-c and cJSON:
 *   (a) parse + read model/stream/max_tokens + walk messages (role, content);
 *   (b) parse + P/D prefill rewrite (max_tokens=1, stream=false, add kv_transfer_params,
 *       delete stream_options) + compact serialization.
 * Each case runs WARMUP untimed and ITERS timed iterations; it prints mean and p99 in
 * microseconds and the heap retained by one parsed tree (glibc mallinfo2 delta).
 * jansson and json-c export clashing symbols (json_object_get, json_object_iter...), so
 * one source builds three binaries, one library each (-DWP_JSON_LIB=1|2|3); the request
 * text is built by hand so that all three parse the same bytes.
 * Standalone, not part of CMake; build and run:
 *   for l in 1:jansson 2:json-c 3:cjson; do gcc -O2 -std=c11 -D_GNU_SOURCE \
 *     -DWP_JSON_LIB=${l%%:*} -o /tmp/json_choice_${l#*:} bench/json/json_choice.c \
 *     -l${l#*:}; done; for b in jansson json-c cjson; do /tmp/json_choice_$b; done
 */
#if WP_JSON_LIB == 1
#include <jansson.h>
#elif WP_JSON_LIB == 2
#include <json-c/json.h>
#elif WP_JSON_LIB == 3
#include <cjson/cJSON.h>
#else
#error "define WP_JSON_LIB to 1 (jansson), 2 (json-c) or 3 (cJSON)"
#endif
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ITERS 2000
#define WARMUP 200
#define TARGET_BYTES (32 * 1024)

static volatile size_t g_sink;

static const char *const words[] = {
    "the",        "model",   "server",     "cache",      "request", "token",  "prefix",  "latency",
    "gateway",    "replica", "and",        "of",         "to",      "a",      "in",      "is",
    "that",       "for",     "with",       "scheduling", "prompt",  "we",     "should",  "measure",
    "throughput", "under",   "load",       "when",       "it",      "each",   "block",   "memory",
    "café",       "naïve",   "\"quoted\"", "path/to",    "C:\\dir", "decode", "prefill", "user"};

static uint64_t rng_state = 42;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

typedef struct {
    char *p;
    size_t n, cap;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void puts_(sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Appends s as a JSON string with quotes, escaping " \ and newline. */
static void put_json_str(sbuf *b, const char *s)
{
    put(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            put(b, "\\", 1);
        if (*s == '\n')
            put(b, "\\n", 2);
        else
            put(b, s, 1);
    }
    put(b, "\"", 1);
}

/* Builds the request text by hand (no library), compact, ~32 KB. */
static char *make_request(void)
{
    sbuf b = {0};
    puts_(&b, "{\"model\":\"qwen3-32b\",\"messages\":[");
    const int nmsg = 14;
    const size_t per = TARGET_BYTES / nmsg - 48;
    char text[4096];
    for (int i = 0; i < nmsg; i++) {
        size_t n = 0;
        text[0] = 0;
        while (n + 16 < per && n + 16 < sizeof(text)) {
            const char *w = words[rng_next() % (sizeof(words) / sizeof(words[0]))];
            size_t wl = strlen(w);
            memcpy(text + n, w, wl);
            n += wl;
            uint64_t r = rng_next() % 23;
            text[n++] = r == 0 ? '\n' : (r == 1 ? '.' : ' ');
            text[n] = 0;
        }
        const char *role = i == 0 ? "system" : (i % 2 ? "user" : "assistant");
        puts_(&b, i ? ",{\"role\":" : "{\"role\":");
        put_json_str(&b, role);
        puts_(&b, ",\"content\":");
        put_json_str(&b, text);
        puts_(&b, "}");
    }
    puts_(&b, "],\"stream\":true,\"stream_options\":{\"include_usage\":true},"
              "\"max_tokens\":1000,\"temperature\":0.7,\"cache_salt\":\"tenant-7f3a\"}");
    return b.p;
}

#if WP_JSON_LIB == 1
#define LIB_NAME "jansson"
/* ---- jansson ---- */
static void jansson_read(const char *s, size_t n)
{
    json_t *r = json_loadb(s, n, 0, NULL);
    size_t acc = strlen(json_string_value(json_object_get(r, "model")));
    acc += json_is_true(json_object_get(r, "stream"));
    acc += (size_t)json_integer_value(json_object_get(r, "max_tokens"));
    json_t *msgs = json_object_get(r, "messages");
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        json_t *m = json_array_get(msgs, i);
        acc += json_string_length(json_object_get(m, "role"));
        acc += json_string_length(json_object_get(m, "content"));
    }
    g_sink += acc;
    json_decref(r);
}

static void jansson_rewrite(const char *s, size_t n)
{
    json_t *r = json_loadb(s, n, 0, NULL);
    json_object_set_new(r, "max_tokens", json_integer(1));
    json_object_set_new(r, "stream", json_false());
    json_object_del(r, "stream_options");
    json_t *kv = json_object();
    json_object_set_new(kv, "do_remote_decode", json_true());
    json_object_set_new(kv, "do_remote_prefill", json_false());
    json_object_set_new(kv, "remote_engine_id", json_null());
    json_object_set_new(kv, "remote_block_ids", json_null());
    json_object_set_new(kv, "remote_host", json_null());
    json_object_set_new(kv, "remote_port", json_null());
    json_object_set_new(r, "kv_transfer_params", kv);
    char *out = json_dumps(r, JSON_COMPACT);
    g_sink += strlen(out);
    free(out);
    json_decref(r);
}

static void *jansson_parse_only(const char *s, size_t n)
{
    return json_loadb(s, n, 0, NULL);
}
static void jansson_free(void *p)
{
    json_decref(p);
}

#define case_read jansson_read
#define case_rewrite jansson_rewrite
#define case_parse jansson_parse_only
#define case_free jansson_free

#elif WP_JSON_LIB == 2
#define LIB_NAME "json-c"
/* ---- json-c ---- */
static json_object *jsonc_parse(const char *s, size_t n)
{
    json_tokener *tok = json_tokener_new();
    json_object *r = json_tokener_parse_ex(tok, s, (int)n);
    json_tokener_free(tok);
    return r;
}

static void jsonc_read(const char *s, size_t n)
{
    json_object *r = jsonc_parse(s, n), *v, *msgs;
    size_t acc = 0;
    if (json_object_object_get_ex(r, "model", &v))
        acc += (size_t)json_object_get_string_len(v);
    if (json_object_object_get_ex(r, "stream", &v))
        acc += json_object_get_boolean(v);
    if (json_object_object_get_ex(r, "max_tokens", &v))
        acc += (size_t)json_object_get_int64(v);
    if (json_object_object_get_ex(r, "messages", &msgs)) {
        size_t cnt = json_object_array_length(msgs);
        for (size_t i = 0; i < cnt; i++) {
            json_object *m = json_object_array_get_idx(msgs, i);
            if (json_object_object_get_ex(m, "role", &v))
                acc += (size_t)json_object_get_string_len(v);
            if (json_object_object_get_ex(m, "content", &v))
                acc += (size_t)json_object_get_string_len(v);
        }
    }
    g_sink += acc;
    json_object_put(r);
}

static void jsonc_rewrite(const char *s, size_t n)
{
    json_object *r = jsonc_parse(s, n);
    json_object_object_add(r, "max_tokens", json_object_new_int64(1));
    json_object_object_add(r, "stream", json_object_new_boolean(0));
    json_object_object_del(r, "stream_options");
    json_object *kv = json_object_new_object();
    json_object_object_add(kv, "do_remote_decode", json_object_new_boolean(1));
    json_object_object_add(kv, "do_remote_prefill", json_object_new_boolean(0));
    json_object_object_add(kv, "remote_engine_id", NULL);
    json_object_object_add(kv, "remote_block_ids", NULL);
    json_object_object_add(kv, "remote_host", NULL);
    json_object_object_add(kv, "remote_port", NULL);
    json_object_object_add(r, "kv_transfer_params", kv);
    const char *out =
        json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    g_sink += strlen(out);
    json_object_put(r);
}

static void *jsonc_parse_only(const char *s, size_t n)
{
    return jsonc_parse(s, n);
}
static void jsonc_free(void *p)
{
    json_object_put(p);
}

#define case_read jsonc_read
#define case_rewrite jsonc_rewrite
#define case_parse jsonc_parse_only
#define case_free jsonc_free

#elif WP_JSON_LIB == 3
#define LIB_NAME "cJSON"
/* ---- cJSON ---- */
static void cjson_read(const char *s, size_t n)
{
    cJSON *r = cJSON_ParseWithLength(s, n);
    size_t acc = strlen(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "model")));
    acc += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "stream"));
    acc += (size_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "max_tokens"));
    cJSON *msgs = cJSON_GetObjectItemCaseSensitive(r, "messages"), *m;
    cJSON_ArrayForEach(m, msgs)
    {
        acc += strlen(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "role")));
        acc += strlen(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "content")));
    }
    g_sink += acc;
    cJSON_Delete(r);
}

static void cjson_rewrite(const char *s, size_t n)
{
    cJSON *r = cJSON_ParseWithLength(s, n);
    cJSON_ReplaceItemInObjectCaseSensitive(r, "max_tokens", cJSON_CreateNumber(1));
    cJSON_ReplaceItemInObjectCaseSensitive(r, "stream", cJSON_CreateFalse());
    cJSON_DeleteItemFromObjectCaseSensitive(r, "stream_options");
    cJSON *kv = cJSON_AddObjectToObject(r, "kv_transfer_params");
    cJSON_AddTrueToObject(kv, "do_remote_decode");
    cJSON_AddFalseToObject(kv, "do_remote_prefill");
    cJSON_AddNullToObject(kv, "remote_engine_id");
    cJSON_AddNullToObject(kv, "remote_block_ids");
    cJSON_AddNullToObject(kv, "remote_host");
    cJSON_AddNullToObject(kv, "remote_port");
    char *out = cJSON_PrintUnformatted(r);
    g_sink += strlen(out);
    free(out);
    cJSON_Delete(r);
}

static void *cjson_parse_only(const char *s, size_t n)
{
    return cJSON_ParseWithLength(s, n);
}
static void cjson_free(void *p)
{
    cJSON_Delete(p);
}

#define case_read cjson_read
#define case_rewrite cjson_rewrite
#define case_parse cjson_parse_only
#define case_free cjson_free
#endif

/* ---- harness ---- */
typedef void (*case_fn)(const char *, size_t);

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void time_case(const char *lib, const char *what, case_fn fn, const char *s, size_t n)
{
    static double t[ITERS];
    for (int i = 0; i < WARMUP; i++)
        fn(s, n);
    double sum = 0;
    for (int i = 0; i < ITERS; i++) {
        double t0 = now_us();
        fn(s, n);
        t[i] = now_us() - t0;
        sum += t[i];
    }
    qsort(t, ITERS, sizeof(t[0]), cmp_double);
    printf("| %-8s | %-7s | %8.1f | %8.1f | %8.1f |\n", lib, what, sum / ITERS, t[ITERS / 2],
           t[(ITERS * 99) / 100]);
}

static void retained(const char *lib, void *(*parse)(const char *, size_t), void (*fr)(void *),
                     const char *s, size_t n)
{
    struct mallinfo2 a = mallinfo2();
    void *p = parse(s, n);
    struct mallinfo2 b = mallinfo2();
    printf("| %-8s | tree    | heap held by one parsed tree: %zu bytes |\n", lib,
           (b.uordblks + b.hblkhd) - (a.uordblks + a.hblkhd));
    fr(p);
}

int main(void)
{
    char *req = make_request();
    size_t n = strlen(req);
    printf("# %s: request %zu bytes; %d iterations after %d warm-up\n", LIB_NAME, n, ITERS, WARMUP);
    time_case(LIB_NAME, "read", case_read, req, n);
    time_case(LIB_NAME, "rewrite", case_rewrite, req, n);
    retained(LIB_NAME, case_parse, case_free, req, n);
    printf("# sink %zu\n", (size_t)g_sink);
    free(req);
    return 0;
}
