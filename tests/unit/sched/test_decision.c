/* Tests for sched/decision: every event kind's line is one JSON object on one line with
 * exactly the documented fields, in order (fields of other kinds are not written even when
 * set), strings are escaped, lines append, and only t depends on the time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>
#include <cmocka.h>

#include "sched/admit.h"
#include "sched/decision.h"
#include "sched/pd.h"

#define MAX_FIELDS 10

/* One expected field: a string value (str != NULL), an object (obj), or a number. */
typedef struct field_s {
    const char *key;
    const char *str;
    double num;
    bool obj;
} field_t;

typedef struct decision_case_s {
    wp_sched_decision_t d;
    double t;
    field_t want[MAX_FIELDS]; /* after t and event; key NULL ends */
} decision_case_t;

#define S(k, v)                                                                                    \
    {                                                                                              \
        .key = k, .str = v                                                                         \
    }
#define N(k, v)                                                                                    \
    {                                                                                              \
        .key = k, .num = v                                                                         \
    }
#define O(k)                                                                                       \
    {                                                                                              \
        .key = k, .obj = true                                                                      \
    }

/* Parses one line (its '\n' included, nothing after it) as one JSON object. */
static cJSON *parse_line(const char *line, size_t len)
{
    assert_true(len >= 2);
    assert_int_equal(line[len - 1], '\n');
    assert_null(memchr(line, '\n', len - 1)); /* one line: no raw newline inside */
    for (size_t i = 0; i + 1 < len; i++)
        assert_true((unsigned char)line[i] >= 0x20); /* no raw control character */
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(line, len, &end, false);
    if (j == NULL)
        fail_msg("not JSON: %.*s", (int)len, line);
    assert_true(cJSON_IsObject(j));
    assert_ptr_equal(end, line + len - 1); /* the object, then only the newline */
    return j;
}

/* The line has t, event, then exactly c->want in that order. */
static void check_line(const decision_case_t *c, const char *line, size_t len)
{
    cJSON *j = parse_line(line, len);
    const cJSON *f = j->child;
    assert_non_null(f);
    assert_string_equal(f->string, "t");
    assert_true(cJSON_IsNumber(f));
    assert_float_equal(f->valuedouble, c->t, 1e-6);
    f = f->next;
    assert_non_null(f);
    assert_string_equal(f->string, "event");
    assert_true(cJSON_IsString(f));
    assert_string_equal(f->valuestring, wp_sched_decision_name(c->d.kind));
    for (const field_t *w = c->want; w->key != NULL; w++) {
        f = f->next;
        if (f == NULL)
            fail_msg("event %s: field '%s' missing", wp_sched_decision_name(c->d.kind), w->key);
        if (strcmp(f->string, w->key) != 0)
            fail_msg("event %s: field '%s' where '%s' was due", wp_sched_decision_name(c->d.kind),
                     f->string, w->key);
        if (w->str != NULL) {
            assert_true(cJSON_IsString(f));
            assert_string_equal(f->valuestring, w->str);
        } else if (w->obj) {
            assert_true(cJSON_IsObject(f));
        } else {
            assert_true(cJSON_IsNumber(f));
            assert_float_equal(f->valuedouble, w->num, 1e-4);
        }
    }
    if (f->next != NULL)
        fail_msg("event %s: unexpected field '%s'", wp_sched_decision_name(c->d.kind),
                 f->next->string);
    cJSON_Delete(j);
}

/* A pick from the default topology (prefix-aware 100 + load-aware 50) over two endpoints
 * where ep0 holds the first of the prompt's two blocks: prefix 0.5, two candidates. */
static void make_pick(wp_sched_pick_t *pk)
{
    wp_sched_config_t cfg;
    wp_sched_config_default(&cfg);
    wp_err_t err;
    wp_sched_t *s = wp_sched_new(&cfg, &err);
    assert_non_null(s);
    assert_int_equal(wp_sched_endpoint_add(s, "ep0", WP_SCHED_ROLE_BOTH), 0);
    assert_int_equal(wp_sched_endpoint_add(s, "ep1", WP_SCHED_ROLE_BOTH), 1);
    char text[129];
    for (int i = 0; i < 128; i++)
        text[i] = (char)('a' + i % 26);
    text[128] = 0;
    wp_rng_t rng;
    wp_rng_seed(&rng, 1);
    static uint64_t chain[2]; /* the pick returned points at it */
    wp_sched_request_t r = {.model = "m",
                            .prompt = text,
                            .prompt_len = 64,
                            .session_ep = -1,
                            .hash_buf = chain,
                            .hash_cap = 2};
    uint64_t ex[WP_SCHED_EXCLUDE_WORDS] = {2}; /* the first pick must land on ep0 */
    r.exclude = ex;
    assert_int_equal(wp_sched_pick(s, 0, &r, &rng, pk, &err), WP_OK);
    assert_int_equal(pk->endpoint, 0);
    assert_int_equal(wp_sched_on_dispatch(s, pk), WP_OK);
    assert_int_equal(wp_sched_on_complete(s, pk), WP_OK);
    r.exclude = NULL;
    r.prompt_len = 128;
    assert_int_equal(wp_sched_pick(s, 0, &r, &rng, pk, &err), WP_OK);
    assert_int_equal(pk->endpoint, 0);
    assert_float_equal(pk->prefix_ratio, 0.5, 1e-12);
    assert_int_equal(pk->n_candidates, 2);
    assert_int_equal(pk->n_scores, 2);
    wp_sched_free(s);
}

/* Fields of other kinds, set to junk, must not show up. */
#define JUNK .attempt = 9, .status = 599, .seconds = 77.0, .generation = 5

static void test_decision_each_kind(void **state)
{
    wp_sched_pick_t pk;
    make_pick(&pk);
    const char *shed = wp_sched_shed_name(WP_SCHED_SHED_QUEUE_TIMEOUT);
    const char *pd = wp_sched_pd_name(WP_SCHED_PD_DISAGGREGATE);
    const decision_case_t cases[] = {
        {{.kind = WP_SCHED_DECISION_PICK,
          .request = "r1",
          .endpoint = "ep0",
          .pick = &pk,
          .role = WP_SCHED_ROLE_DECODE,
          .attempt = 2,
          .detail = "junk",
          .status = 599,
          .seconds = 77,
          .generation = 5},
         1.5,
         {S("request", "r1"), S("endpoint", "ep0"), S("role", "decode"), N("attempt", 2),
          N("prefix", 0.5), N("candidates", 2), O("scores")}},
        {{.kind = WP_SCHED_DECISION_PICK,
          .request = "r1",
          .endpoint = "ep1",
          .pick = &pk,
          .role = WP_SCHED_ROLE_PREFILL,
          .attempt = 1},
         2,
         {S("request", "r1"), S("endpoint", "ep1"), S("role", "prefill"), N("attempt", 1),
          N("prefix", 0.5), N("candidates", 2), O("scores")}},
        {{.kind = WP_SCHED_DECISION_PICK,
          .request = "r1",
          .endpoint = "ep1",
          .pick = &pk,
          .role = WP_SCHED_ROLE_BOTH,
          .attempt = 3},
         2,
         {S("request", "r1"), S("endpoint", "ep1"), S("role", "any"), N("attempt", 3),
          N("prefix", 0.5), N("candidates", 2), O("scores")}},
        {{.kind = WP_SCHED_DECISION_QUEUE, .request = "r2", .detail = "junk", JUNK},
         3,
         {S("request", "r2")}},
        {{.kind = WP_SCHED_DECISION_DEQUEUE, .request = "r2", .detail = "junk", JUNK},
         4,
         {S("request", "r2")}},
        {{.kind = WP_SCHED_DECISION_SHED, .request = "r3", .detail = shed, JUNK},
         5,
         {S("request", "r3"), S("reason", "queue_timeout")}},
        {{.kind = WP_SCHED_DECISION_UNAVAILABLE, .request = "r4", .detail = "junk", JUNK},
         6,
         {S("request", "r4")}},
        {{.kind = WP_SCHED_DECISION_RETRY,
          .request = "r5",
          .endpoint = "ep1",
          .status = 503,
          .detail = "junk",
          .attempt = 9,
          .seconds = 77,
          .generation = 5},
         7,
         {S("request", "r5"), S("endpoint", "ep1"), N("status", 503)}},
        {{.kind = WP_SCHED_DECISION_RETRY, .request = "r5", .endpoint = "ep0", .status = -1},
         7.25,
         {S("request", "r5"), S("endpoint", "ep0"), N("status", -1)}},
        {{.kind = WP_SCHED_DECISION_PD, .request = "r6", .detail = pd, JUNK},
         8,
         {S("request", "r6"), S("decision", "disaggregate")}},
        {{.kind = WP_SCHED_DECISION_EJECT,
          .endpoint = "ep1",
          .seconds = 60,
          .detail = "junk",
          .attempt = 9,
          .status = 599,
          .generation = 5},
         9,
         {S("endpoint", "ep1"), N("seconds", 60)}},
        {{.kind = WP_SCHED_DECISION_PROBATION, .endpoint = "ep1", .detail = "junk", JUNK},
         69,
         {S("endpoint", "ep1")}},
        {{.kind = WP_SCHED_DECISION_RECOVER, .endpoint = "ep1", .detail = "junk", JUNK},
         70.123456,
         {S("endpoint", "ep1")}},
        {{.kind = WP_SCHED_DECISION_RELOAD,
          .generation = 12,
          .detail = "junk",
          .attempt = 9,
          .status = 599,
          .seconds = 77},
         71,
         {N("generation", 12)}},
    };
    const size_t n = sizeof(cases) / sizeof(cases[0]);
    bool seen[WP_SCHED_DECISION_KINDS] = {0};
    wp_buf_t all;
    wp_buf_init(&all, WP_BUF_DEFAULT_MAX);
    for (size_t i = 0; i < n; i++) {
        wp_buf_t b;
        wp_buf_init(&b, WP_BUF_DEFAULT_MAX);
        wp_sched_decision_write(&b, cases[i].t, &cases[i].d);
        check_line(&cases[i], b.data, b.len);
        wp_sched_decision_write(&all, cases[i].t, &cases[i].d);
        seen[cases[i].d.kind] = true;
        wp_buf_free(&b);
    }
    for (int k = 0; k < WP_SCHED_DECISION_KINDS; k++)
        if (!seen[k])
            fail_msg("kind %s has no case", wp_sched_decision_name(k));

    /* Appended lines: one per decision, each as above. */
    const char *p = all.data;
    for (size_t i = 0; i < n; i++) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        check_line(&cases[i], p, (size_t)(nl - p) + 1);
        p = nl + 1;
    }
    assert_int_equal(*p, 0);
    wp_buf_free(&all);
}

/* The pick's scores: the winner's raw value per scorer, by the scorer's name. */
static void test_decision_pick_scores(void **state)
{
    wp_sched_pick_t pk;
    make_pick(&pk);
    wp_sched_decision_t d = {.kind = WP_SCHED_DECISION_PICK,
                             .request = "r",
                             .endpoint = "ep0",
                             .pick = &pk,
                             .role = WP_SCHED_ROLE_BOTH,
                             .attempt = 1};
    wp_buf_t b;
    wp_buf_init(&b, WP_BUF_DEFAULT_MAX);
    wp_sched_decision_write(&b, 0, &d);
    cJSON *j = parse_line(b.data, b.len);
    const cJSON *scores = cJSON_GetObjectItemCaseSensitive(j, "scores");
    assert_true(cJSON_IsObject(scores));
    assert_int_equal(cJSON_GetArraySize(scores), pk.n_scores);
    const cJSON *f = scores->child;
    for (int i = 0; i < pk.n_scores; i++, f = f->next) {
        assert_non_null(f);
        assert_string_equal(f->string, pk.scores[i].name);
        assert_true(cJSON_IsNumber(f));
        assert_float_equal(f->valuedouble, pk.scores[i].raw, 1e-4);
    }
    assert_string_equal(scores->child->string, "prefix-aware");
    assert_float_equal(scores->child->valuedouble, 0.5, 1e-9);
    assert_string_equal(scores->child->next->string, "load-aware");
    cJSON_Delete(j);
    wp_buf_free(&b);
}

/* Strings are escaped: quotes, backslashes, newlines, tabs, control characters; UTF-8 goes
 * through as it is. Each string field reads back equal. */
static void test_decision_escapes_strings(void **state)
{
    const char *nasty[] = {
        "a\"b",      "back\\slash",       "two\nlines",
        "tab\there", "bell\x01\x1f",      "caf\xc3\xa9 \xe2\x9c\x93",
        "</script>", "{\"event\":\"x\"}", "",
        "cr\r\n",
    };
    for (size_t i = 0; i < sizeof(nasty) / sizeof(nasty[0]); i++) {
        const char *s = nasty[i];
        const wp_sched_decision_t ds[] = {
            {.kind = WP_SCHED_DECISION_SHED, .request = s, .detail = s},
            {.kind = WP_SCHED_DECISION_PD, .request = s, .detail = s},
            {.kind = WP_SCHED_DECISION_RETRY, .request = s, .endpoint = s, .status = 500},
            {.kind = WP_SCHED_DECISION_EJECT, .endpoint = s, .seconds = 1},
            {.kind = WP_SCHED_DECISION_PICK, .request = s, .endpoint = s, .attempt = 1},
        };
        for (size_t k = 0; k < sizeof(ds) / sizeof(ds[0]); k++) {
            wp_buf_t b;
            wp_buf_init(&b, WP_BUF_DEFAULT_MAX);
            wp_sched_decision_write(&b, 3, &ds[k]);
            cJSON *j = parse_line(b.data, b.len);
            const char *keys[] = {"request", "endpoint", "reason", "decision"};
            int found = 0;
            for (size_t q = 0; q < sizeof(keys) / sizeof(keys[0]); q++) {
                const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, keys[q]);
                if (f == NULL)
                    continue;
                found++;
                assert_true(cJSON_IsString(f));
                assert_string_equal(f->valuestring, s);
            }
            assert_true(found >= 1);
            cJSON_Delete(j);
            wp_buf_free(&b);
        }
    }
}

/* Only t depends on the time: the same decision at two times differs in t alone. */
static void test_decision_only_t_depends_on_time(void **state)
{
    wp_sched_pick_t pk;
    make_pick(&pk);
    const wp_sched_decision_t ds[] = {
        {.kind = WP_SCHED_DECISION_PICK, .request = "r", .endpoint = "e", .pick = &pk},
        {.kind = WP_SCHED_DECISION_EJECT, .endpoint = "e", .seconds = 30},
        {.kind = WP_SCHED_DECISION_RELOAD, .generation = 3},
    };
    for (size_t k = 0; k < sizeof(ds) / sizeof(ds[0]); k++) {
        wp_buf_t a, b;
        wp_buf_init(&a, WP_BUF_DEFAULT_MAX);
        wp_buf_init(&b, WP_BUF_DEFAULT_MAX);
        wp_sched_decision_write(&a, 0.000001, &ds[k]);
        wp_sched_decision_write(&b, 123456.5, &ds[k]);
        const char *ra = strchr(a.data, ','), *rb = strchr(b.data, ',');
        assert_non_null(ra);
        assert_non_null(rb);
        assert_string_equal(ra, rb);
        assert_string_not_equal(a.data, b.data);
        wp_buf_free(&a);
        wp_buf_free(&b);
    }
}

/* A generation past 2^53 is written exactly (the text, not the double cJSON reads). */
static void test_decision_reload_generation_exact(void **state)
{
    wp_sched_decision_t d = {.kind = WP_SCHED_DECISION_RELOAD,
                             .generation = 18446744073709551615ULL};
    wp_buf_t b;
    wp_buf_init(&b, WP_BUF_DEFAULT_MAX);
    wp_sched_decision_write(&b, 1, &d);
    cJSON_Delete(parse_line(b.data, b.len));
    assert_non_null(strstr(b.data, "\"generation\":18446744073709551615}"));
    wp_buf_free(&b);
}

static void test_decision_names(void **state)
{
    const char *want[WP_SCHED_DECISION_KINDS] = {
        [WP_SCHED_DECISION_PICK] = "pick",
        [WP_SCHED_DECISION_QUEUE] = "queue",
        [WP_SCHED_DECISION_DEQUEUE] = "dequeue",
        [WP_SCHED_DECISION_SHED] = "shed",
        [WP_SCHED_DECISION_UNAVAILABLE] = "unavailable",
        [WP_SCHED_DECISION_RETRY] = "retry",
        [WP_SCHED_DECISION_PD] = "pd",
        [WP_SCHED_DECISION_EJECT] = "eject",
        [WP_SCHED_DECISION_PROBATION] = "probation",
        [WP_SCHED_DECISION_RECOVER] = "recover",
        [WP_SCHED_DECISION_RELOAD] = "reload",
    };
    for (int k = 0; k < WP_SCHED_DECISION_KINDS; k++)
        assert_string_equal(wp_sched_decision_name(k), want[k]);
    assert_string_equal(wp_sched_decision_name(WP_SCHED_DECISION_KINDS), "unknown");
}

/* Outlier detection's events map to the decision log's kinds; none to no kind. */
static void test_decision_of_outlier(void **state)
{
    (void)state;
    assert_int_equal(wp_sched_decision_of_outlier(WP_SCHED_OUTLIER_EJECTED),
                     WP_SCHED_DECISION_EJECT);
    assert_int_equal(wp_sched_decision_of_outlier(WP_SCHED_OUTLIER_PROBATION),
                     WP_SCHED_DECISION_PROBATION);
    assert_int_equal(wp_sched_decision_of_outlier(WP_SCHED_OUTLIER_RECOVERED),
                     WP_SCHED_DECISION_RECOVER);
    assert_int_equal(wp_sched_decision_of_outlier(WP_SCHED_OUTLIER_NONE), WP_SCHED_DECISION_KINDS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decision_each_kind),
        cmocka_unit_test(test_decision_of_outlier),
        cmocka_unit_test(test_decision_pick_scores),
        cmocka_unit_test(test_decision_escapes_strings),
        cmocka_unit_test(test_decision_only_t_depends_on_time),
        cmocka_unit_test(test_decision_reload_generation_exact),
        cmocka_unit_test(test_decision_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
