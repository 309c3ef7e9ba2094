/* Tests for engine/kv and engine/map (internal) and the public block hash chain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/rng.h"
#include "engine/engine.h"
#include "engine/kv.h"
#include "engine/map.h"

static void chain(const int32_t *tokens, int nblocks, uint64_t salt, uint64_t *out)
{
    uint64_t parent = WP_ENGINE_HASH_ROOT;
    for (int i = 0; i < nblocks; i++) {
        parent = wp_engine_block_hash(parent, tokens + 16 * i, 16, salt);
        out[i] = parent;
    }
}

static void test_kv_hash_chain(void **state)
{
    (void)state;
    int32_t a[64], b[64], c[64];
    for (int i = 0; i < 64; i++) {
        a[i] = b[i] = c[i] = i * 7 + 1;
    }
    b[40] = 999;  /* third block differs */
    c[3] = 12345; /* first block differs, the rest equal */
    uint64_t ha[4], hb[4], hc[4], hs[4], ha2[4];
    chain(a, 4, 0, ha);
    chain(a, 4, 0, ha2);
    chain(b, 4, 0, hb);
    chain(c, 4, 0, hc);
    chain(a, 4, 0xabcdef, hs);
    for (int i = 0; i < 4; i++) {
        assert_true(ha[i] == ha2[i]); /* deterministic */
        assert_true(hc[i] != ha[i]);  /* a different first block changes every later hash */
        assert_true(hs[i] != ha[i]);  /* the salt changes every hash */
    }
    assert_true(hb[0] == ha[0] && hb[1] == ha[1]); /* same prefix, same hashes */
    assert_true(hb[2] != ha[2] && hb[3] != ha[3]); /* and different from the change on */
    /* A block's hash depends on its position through the parent. */
    assert_true(wp_engine_block_hash(ha[0], a, 16, 0) != ha[0]);
}

static void test_kv_lru_order(void **state)
{
    (void)state;
    wp__kv_t kv;
    wp_err_t err;
    assert_int_equal(wp__kv_init(&kv, 4), WP_OK);
    int32_t b[4];
    for (int i = 0; i < 4; i++) {
        b[i] = wp__kv_alloc(&kv, NULL, NULL);
        assert_int_equal(b[i], i);
        assert_true(wp__kv_register(&kv, b[i], 100 + (uint64_t)i));
    }
    assert_int_equal(wp__kv_alloc(&kv, NULL, NULL), -1);
    assert_int_equal(wp__kv_available(&kv), 0);
    assert_false(wp__kv_register(&kv, b[0], 555)); /* already hashed */
    /* Released in the order 2, 0, 3, 1: all stay cached, evicted in that order. */
    wp__kv_release(&kv, 2);
    wp__kv_release(&kv, 0);
    wp__kv_release(&kv, 3);
    wp__kv_release(&kv, 1);
    assert_int_equal(wp__kv_validate(&kv, NULL, &err), WP_OK);
    assert_int_equal(kv.lru_count, 4);
    assert_int_equal(kv.used, 0);
    assert_int_equal(wp__kv_lookup(&kv, 103), 3);
    /* A cache hit takes block 0 off the LRU; eviction then goes 2, 3, 1. */
    wp__kv_ref(&kv, wp__kv_lookup(&kv, 100));
    assert_int_equal(kv.ref[0], 1);
    bool evicted = false;
    uint64_t gone = 0;
    assert_int_equal(wp__kv_alloc(&kv, &evicted, &gone), 2);
    assert_true(evicted);
    assert_int_equal(gone, 102);
    assert_int_equal(wp__kv_lookup(&kv, 102), -1); /* the mapping went with it */
    assert_int_equal(wp__kv_alloc(&kv, NULL, NULL), 3);
    assert_int_equal(wp__kv_alloc(&kv, NULL, NULL), 1);
    assert_int_equal(wp__kv_alloc(&kv, NULL, NULL), -1);
    assert_int_equal(kv.evictions, 3);
    int32_t refs[4] = {1, 1, 1, 1};
    assert_int_equal(wp__kv_validate(&kv, refs, &err), WP_OK);
    /* A hash already mapped elsewhere is not registered twice. */
    assert_false(wp__kv_register(&kv, 2, 100));
    assert_true(wp__kv_register(&kv, 2, 200));
    /* Shared block: two refs; unhashed blocks go to the free stack. */
    wp__kv_ref(&kv, 0);
    refs[0] = 2;
    assert_int_equal(wp__kv_validate(&kv, refs, &err), WP_OK);
    refs[0] = 1;
    assert_int_equal(wp__kv_validate(&kv, refs, &err), WP_EINVAL);
    wp__kv_release(&kv, 0);
    wp__kv_release(&kv, 3);
    assert_int_equal(kv.free_top, 1);
    assert_int_equal(wp__kv_alloc(&kv, NULL, NULL),
                     3); /* free blocks before evicting cached ones */
    refs[3] = 1;
    assert_int_equal(wp__kv_validate(&kv, refs, &err), WP_OK);
    wp__kv_free(&kv);
}

/* The map against a brute-force reference under random puts and deletes. */
static void test_kv_map_random(void **state)
{
    (void)state;
    enum { N = 512 };
    wp__map_t m = {0};
    int32_t ref[N];
    for (int i = 0; i < N; i++) {
        ref[i] = -1;
    }
    assert_int_equal(wp__map_get(&m, 5), -1);
    assert_int_equal(wp__map_del(&m, 5), 0);
    wp_rng_t rng;
    wp_rng_seed(&rng, 7);
    size_t count = 0;
    for (int it = 0; it < 20000; it++) {
        int k = (int)wp_rng_below(&rng, N);
        uint64_t key = (uint64_t)k * 0x10000; /* clustered keys stress probing */
        if (wp_rng_below(&rng, 3) != 0) {
            assert_int_equal(wp__map_reserve(&m, count + 1), WP_OK);
            count += ref[k] < 0;
            ref[k] = it;
            wp__map_put(&m, key, it);
        } else {
            assert_int_equal(wp__map_del(&m, key), ref[k] >= 0);
            count -= ref[k] >= 0;
            ref[k] = -1;
        }
        assert_int_equal(m.count, count);
        if (it % 97 == 0) {
            for (int j = 0; j < N; j++) {
                assert_int_equal(wp__map_get(&m, (uint64_t)j * 0x10000), ref[j]);
            }
        }
    }
    wp__map_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kv_hash_chain),
        cmocka_unit_test(test_kv_lru_order),
        cmocka_unit_test(test_kv_map_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
