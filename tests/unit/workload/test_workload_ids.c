/* Tests for the generator's token ids and text cap: for every workload type and two vocab
 * sizes (plus the unbounded one), each request's ids equal wp_tok_encode of its full prompt
 * text; a capped text is a byte prefix of the full one while prompt_tokens and ids stay
 * whole; without a vocab no ids are handed out; wp_tok_piece_id agrees with wp_tok_encode
 * on single pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok.h"
#include "workload/workload.h"

static const uint32_t vocabs[] = {32000, 151936, 0};

static const char *trace_text =
    "{\"timestamp\": 0, \"input_length\": 1536, \"output_length\": 5, \"hash_ids\": [1, 2, 3]}\n"
    "{\"timestamp\": 10, \"input_length\": 1200, \"output_length\": 7, \"hash_ids\": [1, 2, 4]}\n"
    "{\"timestamp\": 20, \"input_length\": 700, \"output_length\": 1, \"hash_ids\": [5]}\n"
    "{\"timestamp\": 30, \"input_length\": 3, \"output_length\": 1, \"hash_ids\": [1]}\n";

static wp_workload_spec_t spec_of(const char *type)
{
    wp_workload_spec_t s = wp_workload_spec_default();
    wp_err_t err = {{0}};
    assert_int_equal(wp_workload_spec_set(&s, "type", type, &err), WP_OK);
    if (strcmp(type, "shared_prefix") == 0) {
        assert_int_equal(wp_workload_spec_set(&s, "num_groups", "3", &err), WP_OK);
        assert_int_equal(wp_workload_spec_set(&s, "num_prompts_per_group", "4", &err), WP_OK);
        assert_int_equal(wp_workload_spec_set(&s, "system_prompt_len", "700", &err), WP_OK);
        assert_int_equal(wp_workload_spec_set(&s, "question_len", "9", &err), WP_OK);
        assert_int_equal(wp_workload_spec_set(&s, "load.num_requests", "20", &err), WP_OK);
    } else if (strcmp(type, "multi_turn") == 0) {
        assert_int_equal(wp_workload_spec_set(&s, "num_sessions", "3", &err), WP_OK);
        assert_int_equal(wp_workload_spec_set(&s, "turns_per_session", "4", &err), WP_OK);
        assert_int_equal(
            wp_workload_spec_set(&s, "output_len", "{dist: uniform, min: 1, max: 90}", &err),
            WP_OK);
    } else if (strcmp(type, "random") == 0) {
        assert_int_equal(
            wp_workload_spec_set(&s, "input_len", "{dist: uniform, min: 1, max: 3000}", &err),
            WP_OK);
        assert_int_equal(wp_workload_spec_set(&s, "load.num_requests", "30", &err), WP_OK);
    } else {
        assert_int_equal(wp_workload_spec_set(&s, "path", "t.jsonl", &err), WP_OK);
    }
    return s;
}

static wp_workload_t *new_gen(const wp_workload_spec_t *s, const wp_workload_trace_t *t)
{
    wp_err_t err = {{0}};
    wp_workload_t *w = wp_workload_new(s, t, &err);
    if (w == NULL)
        fail_msg("wp_workload_new: %s", err.msg);
    return w;
}

/* Every request of w: ids == wp_tok_encode(prompt) under vocab. */
static void expect_ids_match(wp_workload_t *w, uint32_t vocab)
{
    wp_err_t err = {{0}};
    wp_workload_req_t r;
    size_t n = 0;
    while (wp_workload_next(w, &r) == WP_OK) {
        assert_non_null(r.ids);
        assert_int_equal(r.n_ids, r.prompt_tokens);
        int32_t *want = malloc(r.prompt_tokens * sizeof(*want));
        assert_non_null(want);
        size_t got = wp_tok_encode(r.prompt, r.prompt_len, vocab, want, r.prompt_tokens);
        assert_int_equal(got, r.prompt_tokens);
        assert_memory_equal(r.ids, want, got * sizeof(*want));
        for (size_t i = 0; vocab != 0 && i < got; i++)
            assert_true(r.ids[i] >= 0 && (uint32_t)r.ids[i] < vocab);
        free(want);
        n++;
    }
    assert_int_equal(n, wp_workload_total(w));
    assert_int_equal(wp_workload_validate(w, &err), WP_OK);
}

static void check_type(const char *type)
{
    wp_workload_trace_t t = {0};
    wp_err_t err = {{0}};
    bool trace = strcmp(type, "trace") == 0;
    if (trace)
        assert_int_equal(
            wp_workload_trace_parse(trace_text, strlen(trace_text), "t.jsonl", &t, &err), WP_OK);
    wp_workload_spec_t s = spec_of(type);
    for (size_t v = 0; v < sizeof(vocabs) / sizeof(vocabs[0]); v++) {
        wp_workload_t *w = new_gen(&s, trace ? &t : NULL);
        assert_int_equal(wp_workload_set_vocab(w, vocabs[v]), WP_OK);
        assert_int_equal(wp_workload_validate(w, &err), WP_OK);
        expect_ids_match(w, vocabs[v]);
        wp_workload_free(w);
    }
    wp_workload_trace_free(&t);
}

static void test_workload_ids_shared_prefix(void **state)
{
    (void)state;
    check_type("shared_prefix");
}

static void test_workload_ids_multi_turn(void **state)
{
    (void)state;
    check_type("multi_turn");
}

static void test_workload_ids_random(void **state)
{
    (void)state;
    check_type("random");
}

static void test_workload_ids_trace(void **state)
{
    (void)state;
    check_type("trace");
}

/* No vocab: no ids, and the text is what it always was (same as with ids on). */
static void test_workload_ids_off(void **state)
{
    (void)state;
    wp_workload_spec_t s = spec_of("multi_turn");
    wp_workload_t *a = new_gen(&s, NULL), *b = new_gen(&s, NULL);
    assert_int_equal(wp_workload_set_vocab(b, 32000), WP_OK);
    wp_workload_req_t ra, rb;
    while (wp_workload_next(a, &ra) == WP_OK) {
        assert_int_equal(wp_workload_next(b, &rb), WP_OK);
        assert_null(ra.ids);
        assert_int_equal(ra.n_ids, 0);
        assert_int_equal(ra.prompt_len, rb.prompt_len);
        assert_memory_equal(ra.prompt, rb.prompt, ra.prompt_len);
    }
    wp_workload_free(a);
    wp_workload_free(b);
}

/* max_text_bytes: a byte prefix of the full text, NUL-terminated; counts and ids whole. */
static void check_cap(size_t cap)
{
    wp_err_t err = {{0}};
    wp_workload_spec_t s = spec_of("random");
    wp_workload_t *full = new_gen(&s, NULL), *cut = new_gen(&s, NULL);
    assert_int_equal(wp_workload_set_vocab(full, 151936), WP_OK);
    assert_int_equal(wp_workload_set_vocab(cut, 151936), WP_OK);
    wp_workload_set_max_text_bytes(cut, cap);
    wp_workload_req_t rf, rc;
    size_t n_cut = 0;
    while (wp_workload_next(full, &rf) == WP_OK) {
        assert_int_equal(wp_workload_next(cut, &rc), WP_OK);
        size_t want = rf.prompt_len < cap ? rf.prompt_len : cap;
        assert_int_equal(rc.prompt_len, want);
        assert_int_equal(strlen(rc.prompt), want);
        assert_memory_equal(rc.prompt, rf.prompt, want);
        assert_int_equal(rc.prompt_tokens, rf.prompt_tokens);
        assert_int_equal(rc.n_ids, rf.n_ids);
        assert_memory_equal(rc.ids, rf.ids, rf.n_ids * sizeof(*rf.ids));
        n_cut += rf.prompt_len > cap;
        assert_int_equal(wp_workload_validate(cut, &err), WP_OK);
    }
    assert_true(n_cut > 0); /* the cap did cut some prompts */
    wp_workload_free(full);
    wp_workload_free(cut);
}

static void test_workload_ids_max_text_bytes(void **state)
{
    (void)state;
    check_cap(1);
    check_cap(100);
    check_cap(4001); /* not on a piece boundary in general */
}

/* 0 restores the whole text. */
static void test_workload_ids_max_text_reset(void **state)
{
    (void)state;
    wp_workload_spec_t s = spec_of("shared_prefix");
    wp_workload_t *w = new_gen(&s, NULL);
    wp_workload_req_t r;
    wp_workload_set_max_text_bytes(w, 10);
    assert_int_equal(wp_workload_next(w, &r), WP_OK);
    assert_int_equal(r.prompt_len, 10);
    wp_workload_set_max_text_bytes(w, 0);
    assert_int_equal(wp_workload_next(w, &r), WP_OK);
    assert_int_equal(wp_tok_count(r.prompt, r.prompt_len), 709);
    wp_workload_free(w);
}

static void test_workload_ids_piece_id(void **state)
{
    (void)state;
    const char *pieces[] = {" the", " data", ",", ".", " of", "x"};
    for (size_t v = 0; v < sizeof(vocabs) / sizeof(vocabs[0]); v++)
        for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
            int32_t id = -1;
            size_t len = strlen(pieces[i]);
            assert_int_equal(wp_tok_encode(pieces[i], len, vocabs[v], &id, 1), 1);
            assert_int_equal(wp_tok_piece_id(pieces[i], len, vocabs[v]), id);
        }
    /* vocab above INT32_MAX is taken as INT32_MAX, as in wp_tok_encode */
    assert_int_equal(wp_tok_piece_id(" the", 4, UINT32_MAX), wp_tok_piece_id(" the", 4, 0));
    /* a small vocab bounds the ids */
    assert_true(wp_tok_piece_id(" data", 5, 7) < 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workload_ids_shared_prefix),
        cmocka_unit_test(test_workload_ids_multi_turn),
        cmocka_unit_test(test_workload_ids_random),
        cmocka_unit_test(test_workload_ids_trace),
        cmocka_unit_test(test_workload_ids_off),
        cmocka_unit_test(test_workload_ids_max_text_bytes),
        cmocka_unit_test(test_workload_ids_max_text_reset),
        cmocka_unit_test(test_workload_ids_piece_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
