/*
 * sched/prefix_index: per-endpoint LRUs of block hashes behind one global hash map.
 *
 * Every tracked (hash, endpoint) pair is a 24-byte node in one pool (an array addressed by
 * 32-bit index, grown by half when the free list is empty). A node sits in two lists at
 * once: its endpoint's doubly linked LRU (prev/next, head = most recent) and the singly
 * linked chain of nodes that share its hash (hnext). The map is an open-addressing table of
 * 32-bit node indices with linear probing: a slot holds the head of one hash's chain, and the
 * key is read from that node, so a slot costs 4 bytes. The table keeps its load under 0.7 and
 * deletes by backward shift, so there are no tombstones.
 *
 * Matching walks the request's hashes in order; for block i it visits the holders of hash i
 * and advances those endpoints whose match length is still i. When none advances, no
 * endpoint can match further and the walk stops. The map slots of the next few blocks are
 * prefetched, since the hashes are all known up front.
 *
 * Inserting walks the chain from last to first, each block to the front of the LRU; the
 * leading blocks the endpoint already holds as one run, in order (an earlier request's shared
 * prefix), are found from the first block's node and moved as one run at the end, which leaves
 * the LRU exactly as the block-by-block moves would.
 */
#include "sched/prefix_index.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"

#define NIL UINT32_MAX
#define POOL_MIN 1024u
#define MAP_MIN 2048u
#define PREFETCH_AHEAD 4

typedef struct node_s {
    uint64_t hash;
    uint32_t prev, next; /* endpoint LRU; `next` links the free list */
    uint32_t hnext;      /* next node with the same hash */
    uint16_t ep;
    uint16_t live;
} node_t;

typedef struct lru_s {
    uint32_t head, tail, count;
} lru_t;

struct wp_sched_index_s {
    uint32_t capacity;
    node_t *nodes;
    uint32_t pool_cap;
    uint32_t pool_used; /* nodes ever handed out from the top of the pool */
    uint32_t free_head;
    size_t live;
    uint32_t *slots;
    size_t mask;
    size_t unique; /* occupied slots */
    lru_t lru[WP_SCHED_INDEX_MAX_ENDPOINTS];
};

/* ---- node pool ---- */

static uint32_t pool_alloc(wp_sched_index_t *ix)
{
    if (ix->free_head != NIL) {
        uint32_t id = ix->free_head;
        ix->free_head = ix->nodes[id].next;
        return id;
    }
    if (ix->pool_used == ix->pool_cap) {
        uint64_t cap = ix->pool_cap < POOL_MIN ? POOL_MIN : (uint64_t)ix->pool_cap * 3 / 2;
        if (cap >= NIL)
            return NIL;
        node_t *n = realloc(ix->nodes, (size_t)cap * sizeof(node_t));
        if (!n)
            return NIL;
        ix->nodes = n;
        ix->pool_cap = (uint32_t)cap;
    }
    return ix->pool_used++;
}

static void pool_release(wp_sched_index_t *ix, uint32_t id)
{
    ix->nodes[id].live = 0;
    ix->nodes[id].next = ix->free_head;
    ix->free_head = id;
}

/* ---- hash map: slot -> head of a hash chain ---- */

static size_t map_home(const wp_sched_index_t *ix, uint64_t hash)
{
    return (size_t)wp_hash_mix(hash) & ix->mask;
}

static size_t map_find(const wp_sched_index_t *ix, uint64_t hash)
{
    for (size_t i = map_home(ix, hash);; i = (i + 1) & ix->mask) {
        uint32_t id = ix->slots[i];
        if (id == NIL)
            return SIZE_MAX;
        if (ix->nodes[id].hash == hash)
            return i;
    }
}

static void map_place(uint32_t *slots, size_t mask, uint64_t hash, uint32_t id)
{
    size_t i = (size_t)wp_hash_mix(hash) & mask;
    while (slots[i] != NIL)
        i = (i + 1) & mask;
    slots[i] = id;
}

static wp_status_t map_reserve_one(wp_sched_index_t *ix)
{
    size_t cap = ix->mask + 1;
    if ((ix->unique + 1) * 10 <= cap * 7)
        return WP_OK;
    size_t ncap = cap * 2;
    uint32_t *ns = malloc(ncap * sizeof(uint32_t));
    if (!ns)
        return WP_ENOMEM;
    memset(ns, 0xff, ncap * sizeof(uint32_t));
    for (size_t i = 0; i < cap; i++)
        if (ix->slots[i] != NIL)
            map_place(ns, ncap - 1, ix->nodes[ix->slots[i]].hash, ix->slots[i]);
    free(ix->slots);
    ix->slots = ns;
    ix->mask = ncap - 1;
    return WP_OK;
}

/* Backward-shift deletion: pull later members of the probe run into the hole. */
static void map_delete(wp_sched_index_t *ix, size_t hole)
{
    size_t j = hole;
    ix->slots[hole] = NIL;
    for (;;) {
        j = (j + 1) & ix->mask;
        if (ix->slots[j] == NIL)
            break;
        size_t k = map_home(ix, ix->nodes[ix->slots[j]].hash);
        bool stays = (hole <= j) ? (hole < k && k <= j) : (hole < k || k <= j);
        if (stays)
            continue;
        ix->slots[hole] = ix->slots[j];
        ix->slots[j] = NIL;
        hole = j;
    }
    ix->unique--;
}

/* ---- endpoint LRU lists ---- */

static void lru_unlink(wp_sched_index_t *ix, uint32_t id)
{
    node_t *n = &ix->nodes[id];
    lru_t *l = &ix->lru[n->ep];
    if (n->prev != NIL)
        ix->nodes[n->prev].next = n->next;
    else
        l->head = n->next;
    if (n->next != NIL)
        ix->nodes[n->next].prev = n->prev;
    else
        l->tail = n->prev;
    l->count--;
}

static void lru_push_front(wp_sched_index_t *ix, uint32_t id)
{
    node_t *n = &ix->nodes[id];
    lru_t *l = &ix->lru[n->ep];
    n->prev = NIL;
    n->next = l->head;
    if (l->head != NIL)
        ix->nodes[l->head].prev = id;
    else
        l->tail = id;
    l->head = id;
    l->count++;
}

/* Moves the nodes first..last (a run linked by next) to the front of their LRU, in order. */
static void lru_run_to_front(wp_sched_index_t *ix, uint32_t first, uint32_t last)
{
    node_t *f = &ix->nodes[first], *z = &ix->nodes[last];
    lru_t *l = &ix->lru[f->ep];
    if (l->head == first)
        return;
    ix->nodes[f->prev].next = z->next;
    if (z->next != NIL)
        ix->nodes[z->next].prev = f->prev;
    else
        l->tail = f->prev;
    f->prev = NIL;
    z->next = l->head;
    ix->nodes[l->head].prev = last;
    l->head = first;
}

/* How many of hashes[0..n) are, in order, the nodes from `first` on along ep's LRU (still
 * live and ep's); *last: the last of them. */
static size_t run_length(const wp_sched_index_t *ix, int ep, uint32_t first, const uint64_t *hashes,
                         size_t n, uint32_t *last)
{
    size_t k = 0;
    *last = NIL;
    for (uint32_t id = first; k < n && id != NIL; id = ix->nodes[id].next, k++) {
        const node_t *nd = &ix->nodes[id];
        if (!nd->live || nd->ep != ep || nd->hash != hashes[k])
            break;
        *last = id;
    }
    return k;
}

/* ---- node life ---- */

static uint32_t chain_find(const wp_sched_index_t *ix, uint32_t head, int ep)
{
    for (uint32_t id = head; id != NIL; id = ix->nodes[id].hnext)
        if (ix->nodes[id].ep == ep)
            return id;
    return NIL;
}

static void node_remove(wp_sched_index_t *ix, uint32_t id)
{
    size_t slot = map_find(ix, ix->nodes[id].hash);
    uint32_t head = ix->slots[slot];
    if (head == id) {
        if (ix->nodes[id].hnext != NIL)
            ix->slots[slot] = ix->nodes[id].hnext;
        else
            map_delete(ix, slot);
    } else {
        uint32_t p = head;
        while (ix->nodes[p].hnext != id)
            p = ix->nodes[p].hnext;
        ix->nodes[p].hnext = ix->nodes[id].hnext;
    }
    lru_unlink(ix, id);
    pool_release(ix, id);
    ix->live--;
}

static wp_status_t insert_one(wp_sched_index_t *ix, int ep, uint64_t hash)
{
    size_t slot = map_find(ix, hash);
    uint32_t head = slot == SIZE_MAX ? NIL : ix->slots[slot];
    uint32_t id = chain_find(ix, head, ep);
    if (id != NIL) {
        lru_unlink(ix, id);
        lru_push_front(ix, id);
        return WP_OK;
    }
    if (ix->lru[ep].count >= ix->capacity) {
        node_remove(ix, ix->lru[ep].tail);
        slot = map_find(ix, hash); /* the eviction may have shifted slots */
        head = slot == SIZE_MAX ? NIL : ix->slots[slot];
    }
    if (slot == SIZE_MAX && map_reserve_one(ix) != WP_OK)
        return WP_ENOMEM;
    id = pool_alloc(ix);
    if (id == NIL)
        return WP_ENOMEM;
    ix->nodes[id] = (node_t){.hash = hash, .hnext = head, .ep = (uint16_t)ep, .live = 1};
    if (slot == SIZE_MAX) {
        map_place(ix->slots, ix->mask, hash, id);
        ix->unique++;
    } else {
        ix->slots[slot] = id;
    }
    lru_push_front(ix, id);
    ix->live++;
    return WP_OK;
}

/* ---- public ---- */

wp_sched_index_t *wp_sched_index_new(uint32_t capacity, wp_err_t *err)
{
    if (capacity == 0 || capacity >= NIL / WP_SCHED_INDEX_MAX_ENDPOINTS) {
        wp_err_set(err, WP_EINVAL, "prefix index: LRU capacity %u out of range (1..%u)", capacity,
                   NIL / WP_SCHED_INDEX_MAX_ENDPOINTS - 1);
        return NULL;
    }
    wp_sched_index_t *ix = calloc(1, sizeof(*ix));
    uint32_t *slots = malloc(MAP_MIN * sizeof(uint32_t));
    if (!ix || !slots) {
        free(ix);
        free(slots);
        wp_err_set(err, WP_ENOMEM, "prefix index: out of memory");
        return NULL;
    }
    memset(slots, 0xff, MAP_MIN * sizeof(uint32_t));
    ix->capacity = capacity;
    ix->slots = slots;
    ix->mask = MAP_MIN - 1;
    ix->free_head = NIL;
    for (int e = 0; e < WP_SCHED_INDEX_MAX_ENDPOINTS; e++)
        ix->lru[e] = (lru_t){NIL, NIL, 0};
    return ix;
}

void wp_sched_index_free(wp_sched_index_t *ix)
{
    if (!ix)
        return;
    free(ix->nodes);
    free(ix->slots);
    free(ix);
}

wp_status_t wp_sched_index_insert(wp_sched_index_t *ix, int ep, const uint64_t *hashes, size_t n)
{
    if (ep < 0 || ep >= WP_SCHED_INDEX_MAX_ENDPOINTS)
        return WP_EINVAL;
    /* The leading hashes that ep holds as one run, in order, wherever it sits in its LRU (the
     * shared prefix of an earlier request, usually). Moved one by one to the front, last to
     * first, they would end in the same order, at the front: one move of the run does that. */
    size_t slot = n > 0 ? map_find(ix, hashes[0]) : SIZE_MAX;
    uint32_t first = slot == SIZE_MAX ? NIL : chain_find(ix, ix->slots[slot], ep);
    uint32_t end;
    size_t k = run_length(ix, ep, first, hashes, n, &end);
    for (size_t i = n; i-- > k;) {
        wp_status_t st = insert_one(ix, ep, hashes[i]);
        if (st != WP_OK)
            return st;
    }
    /* The run as it was (the blocks after it may have evicted or moved some of it): one move;
     * otherwise what is left of it one block at a time, as ever. */
    if (k > 0 && (k == n || run_length(ix, ep, first, hashes, k, &end) == k)) {
        lru_run_to_front(ix, first, end);
        return WP_OK;
    }
    for (size_t i = k; i-- > 0;) {
        wp_status_t st = insert_one(ix, ep, hashes[i]);
        if (st != WP_OK)
            return st;
    }
    return WP_OK;
}

size_t wp_sched_index_match(const wp_sched_index_t *ix, const uint64_t *hashes, size_t n,
                            uint32_t *matched)
{
    memset(matched, 0, WP_SCHED_INDEX_MAX_ENDPOINTS * sizeof(*matched));
    if (n > UINT32_MAX)
        n = UINT32_MAX;
    size_t i = 0;
    for (; i < n; i++) {
        if (i + PREFETCH_AHEAD < n)
            __builtin_prefetch(&ix->slots[map_home(ix, hashes[i + PREFETCH_AHEAD])]);
        size_t slot = map_find(ix, hashes[i]);
        if (slot == SIZE_MAX)
            break;
        bool advanced = false;
        for (uint32_t id = ix->slots[slot]; id != NIL; id = ix->nodes[id].hnext) {
            uint16_t ep = ix->nodes[id].ep;
            if (matched[ep] == i) {
                matched[ep] = (uint32_t)(i + 1);
                advanced = true;
            }
        }
        if (!advanced)
            break;
    }
    return i;
}

bool wp_sched_index_remove(wp_sched_index_t *ix, int ep, uint64_t hash)
{
    if (ep < 0 || ep >= WP_SCHED_INDEX_MAX_ENDPOINTS)
        return false;
    size_t slot = map_find(ix, hash);
    uint32_t id = slot == SIZE_MAX ? NIL : chain_find(ix, ix->slots[slot], ep);
    if (id == NIL)
        return false;
    node_remove(ix, id);
    return true;
}

wp_status_t wp_sched_index_copy_endpoint(wp_sched_index_t *dst, int dst_ep,
                                         const wp_sched_index_t *src, int src_ep)
{
    if (dst_ep < 0 || dst_ep >= WP_SCHED_INDEX_MAX_ENDPOINTS || src_ep < 0 ||
        src_ep >= WP_SCHED_INDEX_MAX_ENDPOINTS || src == dst)
        return WP_EINVAL;
    /* Oldest first: each insert goes to the front, so src's head ends up dst's head. */
    for (uint32_t id = src->lru[src_ep].tail; id != NIL; id = src->nodes[id].prev) {
        wp_status_t st = insert_one(dst, dst_ep, src->nodes[id].hash);
        if (st != WP_OK)
            return st;
    }
    return WP_OK;
}

bool wp_sched_index_contains(const wp_sched_index_t *ix, int ep, uint64_t hash)
{
    size_t slot = map_find(ix, hash);
    return slot != SIZE_MAX && chain_find(ix, ix->slots[slot], ep) != NIL;
}

void wp_sched_index_clear_endpoint(wp_sched_index_t *ix, int ep)
{
    if (ep < 0 || ep >= WP_SCHED_INDEX_MAX_ENDPOINTS)
        return;
    while (ix->lru[ep].tail != NIL)
        node_remove(ix, ix->lru[ep].tail);
}

size_t wp_sched_index_blocks(const wp_sched_index_t *ix)
{
    return ix->live;
}

size_t wp_sched_index_endpoint_blocks(const wp_sched_index_t *ix, int ep)
{
    if (ep < 0 || ep >= WP_SCHED_INDEX_MAX_ENDPOINTS)
        return 0;
    return ix->lru[ep].count;
}

size_t wp_sched_index_bytes(const wp_sched_index_t *ix)
{
    return sizeof(*ix) + (size_t)ix->pool_cap * sizeof(node_t) + (ix->mask + 1) * sizeof(uint32_t);
}

/* ---- validation ---- */

static wp_status_t validate_lru(const wp_sched_index_t *ix, int ep, size_t *total, wp_err_t *err)
{
    const lru_t *l = &ix->lru[ep];
    uint32_t prev = NIL;
    size_t count = 0;
    for (uint32_t id = l->head; id != NIL; id = ix->nodes[id].next) {
        if (id >= ix->pool_used || count > l->count)
            return wp_err_set(err, WP_EINVAL, "endpoint %d: LRU list broken at node %u", ep, id);
        const node_t *n = &ix->nodes[id];
        if (!n->live || n->ep != ep || n->prev != prev)
            return wp_err_set(err, WP_EINVAL, "endpoint %d: node %u badly linked", ep, id);
        if (!wp_sched_index_contains(ix, ep, n->hash))
            return wp_err_set(err, WP_EINVAL, "endpoint %d: node %u not in the map", ep, id);
        prev = id;
        count++;
    }
    if (prev != l->tail || count != l->count || count > ix->capacity)
        return wp_err_set(err, WP_EINVAL, "endpoint %d: LRU count %u, listed %zu, cap %u", ep,
                          l->count, count, ix->capacity);
    *total += count;
    return WP_OK;
}

static wp_status_t validate_chain(const wp_sched_index_t *ix, size_t slot, size_t *total,
                                  wp_err_t *err)
{
    uint64_t seen[WP_SCHED_INDEX_MAX_ENDPOINTS / 64] = {0};
    uint64_t hash = ix->nodes[ix->slots[slot]].hash;
    if (map_find(ix, hash) != slot)
        return wp_err_set(err, WP_EINVAL, "map slot %zu unreachable by probing", slot);
    size_t len = 0;
    for (uint32_t id = ix->slots[slot]; id != NIL; id = ix->nodes[id].hnext) {
        if (id >= ix->pool_used || ++len > WP_SCHED_INDEX_MAX_ENDPOINTS)
            return wp_err_set(err, WP_EINVAL, "map slot %zu: chain broken", slot);
        const node_t *n = &ix->nodes[id];
        uint64_t bit = 1ull << (n->ep % 64);
        if (!n->live || n->hash != hash || (seen[n->ep / 64] & bit))
            return wp_err_set(err, WP_EINVAL, "map slot %zu: bad node %u", slot, id);
        seen[n->ep / 64] |= bit;
    }
    *total += len;
    return WP_OK;
}

wp_status_t wp_sched_index_validate(const wp_sched_index_t *ix, wp_err_t *err)
{
    size_t in_lru = 0, in_map = 0, used = 0;
    for (int e = 0; e < WP_SCHED_INDEX_MAX_ENDPOINTS; e++) {
        wp_status_t st = validate_lru(ix, e, &in_lru, err);
        if (st != WP_OK)
            return st;
    }
    for (size_t s = 0; s <= ix->mask; s++) {
        if (ix->slots[s] == NIL)
            continue;
        used++;
        wp_status_t st = validate_chain(ix, s, &in_map, err);
        if (st != WP_OK)
            return st;
    }
    if (in_lru != ix->live || in_map != ix->live || used != ix->unique)
        return wp_err_set(err, WP_EINVAL, "counts disagree: live %zu, in LRUs %zu, in map %zu",
                          ix->live, in_lru, in_map);
    if (ix->unique * 10 > (ix->mask + 1) * 7)
        return wp_err_set(err, WP_EINVAL, "map over its load limit");
    return WP_OK;
}
