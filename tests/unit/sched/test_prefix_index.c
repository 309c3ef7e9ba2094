/* Tests for sched/prefix_index: matching, LRU order and eviction, clearing, memory per block,
 * and the index's invariants against a plain reference model under random operations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/rng.h"
#include "sched/prefix_index.h"

static wp_sched_index_t *new_index(uint32_t cap)
{
    wp_err_t err;
    wp_sched_index_t *ix = wp_sched_index_new(cap, &err);
    assert_non_null(ix);
    return ix;
}

static void assert_valid(const wp_sched_index_t *ix)
{
    wp_err_t err = {{0}};
    wp_status_t st = wp_sched_index_validate(ix, &err);
    if (st != WP_OK)
        fail_msg("validate: %s", err.msg);
}

static void test_prefix_index_match_consecutive(void **state)
{
    wp_sched_index_t *ix = new_index(100);
    const uint64_t a[] = {11, 12, 13};
    const uint64_t b[] = {11, 12};
    const uint64_t c[] = {11, 13}; /* holds block 0 and 2, not 1 */
    assert_int_equal(wp_sched_index_insert(ix, 0, a, 3), WP_OK);
    assert_int_equal(wp_sched_index_insert(ix, 1, b, 2), WP_OK);
    assert_int_equal(wp_sched_index_insert(ix, 7, c, 2), WP_OK);
    uint32_t m[WP_SCHED_INDEX_MAX_ENDPOINTS];
    const uint64_t q[] = {11, 12, 13, 14};
    assert_int_equal(wp_sched_index_match(ix, q, 4, m), 3);
    assert_int_equal(m[0], 3);
    assert_int_equal(m[1], 2);
    assert_int_equal(m[7], 1); /* stops at the gap */
    assert_int_equal(m[2], 0);
    const uint64_t miss[] = {99, 11};
    assert_int_equal(wp_sched_index_match(ix, miss, 2, m), 0);
    assert_int_equal(m[0], 0);
    assert_int_equal(wp_sched_index_match(ix, q, 0, m), 0);
    assert_int_equal(wp_sched_index_blocks(ix), 7);
    assert_int_equal(wp_sched_index_endpoint_blocks(ix, 0), 3);
    assert_valid(ix);
    wp_sched_index_free(ix);
}

static void test_prefix_index_lru_eviction(void **state)
{
    wp_sched_index_t *ix = new_index(3);
    for (uint64_t h = 1; h <= 3; h++)
        assert_int_equal(wp_sched_index_insert(ix, 0, &h, 1), WP_OK);
    uint64_t one = 1, four = 4, five = 5;
    assert_int_equal(wp_sched_index_insert(ix, 0, &one, 1), WP_OK);  /* touch: 1 is newest */
    assert_int_equal(wp_sched_index_insert(ix, 0, &four, 1), WP_OK); /* evicts 2, the oldest */
    assert_true(wp_sched_index_contains(ix, 0, 1));
    assert_false(wp_sched_index_contains(ix, 0, 2));
    assert_true(wp_sched_index_contains(ix, 0, 3));
    assert_true(wp_sched_index_contains(ix, 0, 4));
    assert_int_equal(wp_sched_index_insert(ix, 0, &five, 1), WP_OK); /* evicts 3 */
    assert_false(wp_sched_index_contains(ix, 0, 3));
    assert_int_equal(wp_sched_index_endpoint_blocks(ix, 0), 3);
    /* Another endpoint's LRU is its own. */
    assert_int_equal(wp_sched_index_insert(ix, 1, &one, 1), WP_OK);
    assert_true(wp_sched_index_contains(ix, 0, 1));
    assert_int_equal(wp_sched_index_blocks(ix), 4);
    assert_valid(ix);
    wp_sched_index_free(ix);
}

static void test_prefix_index_keeps_leading_blocks(void **state)
{
    /* One request longer than the LRU: its leading blocks are kept, the tail evicted. */
    wp_sched_index_t *ix = new_index(2);
    const uint64_t chain[] = {21, 22, 23, 24};
    assert_int_equal(wp_sched_index_insert(ix, 3, chain, 4), WP_OK);
    uint32_t m[WP_SCHED_INDEX_MAX_ENDPOINTS];
    assert_int_equal(wp_sched_index_match(ix, chain, 4, m), 2);
    assert_int_equal(m[3], 2);
    assert_false(wp_sched_index_contains(ix, 3, 24));
    assert_valid(ix);
    wp_sched_index_free(ix);
}

static void test_prefix_index_clear_endpoint(void **state)
{
    wp_sched_index_t *ix = new_index(10);
    const uint64_t a[] = {1, 2, 3};
    assert_int_equal(wp_sched_index_insert(ix, 0, a, 3), WP_OK);
    assert_int_equal(wp_sched_index_insert(ix, 1, a, 3), WP_OK);
    wp_sched_index_clear_endpoint(ix, 0);
    assert_int_equal(wp_sched_index_endpoint_blocks(ix, 0), 0);
    assert_int_equal(wp_sched_index_blocks(ix), 3);
    assert_false(wp_sched_index_contains(ix, 0, 2));
    assert_true(wp_sched_index_contains(ix, 1, 2));
    assert_valid(ix);
    wp_sched_index_free(ix);
}

/* Copying one endpoint's blocks into another index keeps their LRU order: with a smaller
 * LRU the most recent survive, and what was copied is then evicted in the original order. */
static void test_prefix_index_copy_endpoint(void **state)
{
    wp_sched_index_t *src = new_index(100), *dst = new_index(3);
    const uint64_t a[] = {1, 2, 3, 4}; /* inserted last to first: 1 is the most recent */
    const uint64_t other[] = {9};
    assert_int_equal(wp_sched_index_insert(src, 5, a, 4), WP_OK);
    assert_int_equal(wp_sched_index_insert(src, 6, other, 1), WP_OK);
    assert_int_equal(wp_sched_index_copy_endpoint(dst, 2, src, 5), WP_OK);
    assert_valid(src);
    assert_valid(dst);
    assert_int_equal(wp_sched_index_endpoint_blocks(src, 5), 4); /* read only */
    assert_int_equal(wp_sched_index_endpoint_blocks(dst, 2), 3);
    assert_false(wp_sched_index_contains(dst, 2, 4)); /* the oldest did not fit */
    assert_false(wp_sched_index_contains(dst, 2, 9));
    assert_false(wp_sched_index_contains(dst, 5, 1));
    uint32_t m[WP_SCHED_INDEX_MAX_ENDPOINTS];
    assert_int_equal(wp_sched_index_match(dst, a, 4, m), 3);
    assert_int_equal(m[2], 3);
    const uint64_t fresh[] = {7};
    assert_int_equal(wp_sched_index_insert(dst, 2, fresh, 1), WP_OK); /* evicts 3 */
    assert_false(wp_sched_index_contains(dst, 2, 3));
    assert_true(wp_sched_index_contains(dst, 2, 2));
    assert_int_equal(wp_sched_index_copy_endpoint(dst, 2, dst, 2), WP_EINVAL);
    assert_int_equal(wp_sched_index_copy_endpoint(dst, WP_SCHED_INDEX_MAX_ENDPOINTS, src, 5),
                     WP_EINVAL);
    assert_int_equal(wp_sched_index_copy_endpoint(dst, 2, src, -1), WP_EINVAL);
    assert_valid(dst);
    wp_sched_index_free(src);
    wp_sched_index_free(dst);
}

static void test_prefix_index_bad_input(void **state)
{
    wp_err_t err;
    assert_null(wp_sched_index_new(0, &err));
    assert_non_null(strstr(err.msg, "capacity"));
    wp_sched_index_t *ix = new_index(4);
    uint64_t h = 1;
    assert_int_equal(wp_sched_index_insert(ix, -1, &h, 1), WP_EINVAL);
    assert_int_equal(wp_sched_index_insert(ix, WP_SCHED_INDEX_MAX_ENDPOINTS, &h, 1), WP_EINVAL);
    assert_int_equal(wp_sched_index_endpoint_blocks(ix, WP_SCHED_INDEX_MAX_ENDPOINTS + 5), 0);
    wp_sched_index_free(ix);
}

/* Reference: per endpoint, hashes from most to least recent. */
#define REF_EPS 6
#define REF_CAP 5
typedef struct ref_s {
    uint64_t h[REF_EPS][REF_CAP];
    int n[REF_EPS];
} ref_t;

static void ref_insert(ref_t *r, int ep, uint64_t h)
{
    int at = r->n[ep];
    for (int i = 0; i < r->n[ep]; i++)
        if (r->h[ep][i] == h)
            at = i;
    if (at == r->n[ep] && r->n[ep] < REF_CAP)
        r->n[ep]++;
    if (at == REF_CAP)
        at = REF_CAP - 1; /* drop the oldest */
    memmove(&r->h[ep][1], &r->h[ep][0], (size_t)at * sizeof(uint64_t));
    r->h[ep][0] = h;
}

static void test_prefix_index_random_against_reference(void **state)
{
    wp_sched_index_t *ix = new_index(REF_CAP);
    ref_t ref = {0};
    wp_rng_t rng;
    wp_rng_seed(&rng, 42);
    for (int step = 0; step < 20000; step++) {
        int ep = (int)wp_rng_below(&rng, REF_EPS);
        if (wp_rng_below(&rng, 200) == 0) {
            wp_sched_index_clear_endpoint(ix, ep);
            ref.n[ep] = 0;
        } else {
            uint64_t h = wp_rng_below(&rng, 24); /* small universe: shared chains */
            assert_int_equal(wp_sched_index_insert(ix, ep, &h, 1), WP_OK);
            ref_insert(&ref, ep, h);
        }
        if (step % 97 == 0)
            assert_valid(ix);
    }
    size_t total = 0;
    for (int ep = 0; ep < REF_EPS; ep++) {
        total += (size_t)ref.n[ep];
        for (uint64_t h = 0; h < 24; h++) {
            bool in_ref = false;
            for (int i = 0; i < ref.n[ep]; i++)
                in_ref |= ref.h[ep][i] == h;
            assert_int_equal(wp_sched_index_contains(ix, ep, h), in_ref);
        }
    }
    assert_int_equal(wp_sched_index_blocks(ix), total);
    assert_valid(ix);
    wp_sched_index_free(ix);
}

static void assert_same_as_ref(const wp_sched_index_t *ix, const ref_t *ref, uint64_t universe)
{
    size_t total = 0;
    for (int ep = 0; ep < REF_EPS; ep++) {
        total += (size_t)ref->n[ep];
        assert_int_equal(wp_sched_index_endpoint_blocks(ix, ep), ref->n[ep]);
        for (uint64_t h = 0; h < universe; h++) {
            bool in_ref = false;
            for (int i = 0; i < ref->n[ep]; i++)
                in_ref |= ref->h[ep][i] == h;
            assert_int_equal(wp_sched_index_contains(ix, ep, h), in_ref);
        }
    }
    assert_int_equal(wp_sched_index_blocks(ix), total);
}

/* Chains, inserted whole: prefixes of a few conversations (so the front of an endpoint's LRU
 * is often the start of the next chain, the case a chain's leading run moves at once),
 * sometimes with a repeated or foreign hash, against the reference fed one hash at a time
 * from last to first. Every block held, after every insert, is the reference's; with five
 * blocks an endpoint, evictions expose any difference in order within a few steps. */
static void test_prefix_index_chains_against_reference(void **state)
{
    (void)state;
    wp_sched_index_t *ix = new_index(REF_CAP);
    ref_t ref = {0};
    wp_rng_t rng;
    wp_rng_seed(&rng, 7);
    const uint64_t universe = 40;
    for (int step = 0; step < 20000; step++) {
        int ep = (int)wp_rng_below(&rng, REF_EPS);
        uint64_t chain[REF_CAP + 2];
        size_t n = 1 + wp_rng_below(&rng, REF_CAP + 2);
        uint64_t conv = wp_rng_below(&rng, 4); /* conversation c: hashes 8c .. 8c+7 */
        for (size_t i = 0; i < n; i++)
            chain[i] = 8 * conv + i;
        if (wp_rng_below(&rng, 8) == 0) /* a repeat or a stranger somewhere in it */
            chain[wp_rng_below(&rng, n)] =
                wp_rng_below(&rng, 2) ? chain[0] : 32 + wp_rng_below(&rng, 8);
        assert_int_equal(wp_sched_index_insert(ix, ep, chain, n), WP_OK);
        for (size_t i = n; i-- > 0;)
            ref_insert(&ref, ep, chain[i]);
        assert_same_as_ref(ix, &ref, universe);
        if (step % 97 == 0)
            assert_valid(ix);
    }
    assert_valid(ix);
    wp_sched_index_free(ix);
}

static void test_prefix_index_memory_per_block(void **state)
{
    /* Eight endpoints filled to the default capacity with distinct hashes (no sharing,
     * the worst case): the measured heap must stay under 64 bytes per tracked block. */
    const uint32_t cap = 31250;
    wp_sched_index_t *ix = new_index(cap);
    wp_rng_t rng;
    wp_rng_seed(&rng, 7);
    uint64_t chain[250];
    for (int ep = 0; ep < 8; ep++) {
        for (uint32_t done = 0; done < cap + 500; done += 250) {
            for (int i = 0; i < 250; i++)
                chain[i] = wp_rng_next(&rng);
            assert_int_equal(wp_sched_index_insert(ix, ep, chain, 250), WP_OK);
        }
        assert_int_equal(wp_sched_index_endpoint_blocks(ix, ep), cap);
    }
    size_t blocks = wp_sched_index_blocks(ix);
    assert_int_equal(blocks, 8 * (size_t)cap);
    double per_block = (double)wp_sched_index_bytes(ix) / (double)blocks;
    print_message("prefix index: %.1f bytes per tracked block\n", per_block);
    assert_true(per_block < 64.0);
    assert_valid(ix);
    wp_sched_index_free(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_index_match_consecutive),
        cmocka_unit_test(test_prefix_index_lru_eviction),
        cmocka_unit_test(test_prefix_index_keeps_leading_blocks),
        cmocka_unit_test(test_prefix_index_clear_endpoint),
        cmocka_unit_test(test_prefix_index_copy_endpoint),
        cmocka_unit_test(test_prefix_index_bad_input),
        cmocka_unit_test(test_prefix_index_random_against_reference),
        cmocka_unit_test(test_prefix_index_chains_against_reference),
        cmocka_unit_test(test_prefix_index_memory_per_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
