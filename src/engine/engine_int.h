/*
 * engine/engine_int (internal to engine/): the engine's state, shared by engine.c
 * (lifecycle, admission of new requests, stats, validation), queue.c (the waiting heap
 * and the running list) and sched.c (one step).
 *
 * Requests live in a slot array (reqs) that grows only in wp_engine_add; slots are
 * referred to by index, never by pointer across a call that may grow it. A slot is free,
 * waiting (in the heap, heap_pos valid), running (in the running list) or held (finished
 * with hold, in no list, blocks kept; n_held / held_blocks count them). The id map goes
 * from request id to slot. Arrays sized by max_num_seqs (running, sched, events) are
 * allocated once, so a step allocates nothing.
 */
#ifndef WP_ENGINE_ENGINE_INT_H
#define WP_ENGINE_ENGINE_INT_H

#include "engine/engine.h"
#include "engine/kv.h"
#include "engine/map.h"
#include "engine/tier.h"

typedef enum {
    REQ_FREE = 0,
    REQ_WAITING,
    REQ_RUNNING,
    REQ_HELD, /* finished with hold: blocks kept, in no queue */
} wp__req_state_t;

typedef struct wp__req_s {
    uint64_t id;
    void *user;
    wp__req_state_t state;
    int32_t n_prompt;
    int32_t max_tokens;
    int32_t num_output;   /* tokens generated */
    int32_t num_computed; /* tokens whose KV is in the blocks */
    int32_t cached_tokens;
    int32_t preemptions;
    int32_t step_tokens; /* scheduled in the current step; 0 otherwise */
    bool hold;           /* becomes REQ_HELD at FINISHED instead of being dropped */
    bool kv_ready;       /* next admission takes the prompt's KV as remote (cleared by it) */
    bool remote_step;    /* this step runs the last prompt token of a kv_ready admission */
    /* waiting-heap key: (prio, arrival, order), smallest first */
    int32_t prio;
    double arrival;
    int64_t order;
    int32_t heap_pos;
    double first_scheduled; /* -1 until first scheduled */
    uint64_t *hashes;       /* one per full block known so far (prefix caching only): the
                               prompt's at add, then each block that fills with output */
    int32_t n_hashes;
    int32_t cap_hashes; /* full blocks of prompt + max_tokens - 1 tokens */
    int32_t n_hashed;   /* leading blocks of the table known to carry their hash */
    int32_t *blocks;    /* block table */
    int32_t n_blocks;
    int32_t cap_blocks;
    int32_t next_free; /* free-slot list link */
} wp__req_t;

struct wp_engine_s {
    wp_engine_config_t cfg;
    wp__kv_t kv;
    wp__req_t *reqs;
    int32_t n_slots;
    int32_t free_slot; /* head of the free-slot list, -1 when none */
    int32_t n_live;
    wp__map_t ids; /* id -> slot */
    int32_t *heap; /* waiting requests, slots */
    int32_t n_waiting;
    int32_t cap_heap;
    int32_t *running; /* slots in admission order */
    int32_t n_running;
    int32_t *sched; /* slots scheduled in the current step */
    int32_t n_sched;
    wp_engine_event_t *events;
    size_t n_events;
    wp__tier_t tier;        /* the CPU offload tier (cap 0: none) */
    double step_load_bytes; /* CPU-tier loads of the running step, bytes per GPU */
    uint64_t cpu_queries, cpu_hits, cpu_stores;
    double cpu_loaded_bytes;
    wp_engine_kv_event_t *kv_log; /* cfg.kv_events: the step's KV events (grown on demand) */
    size_t n_kv_log, cap_kv_log, kv_lost;
    int64_t next_order;  /* order of the next added request */
    int64_t front_order; /* order of the next request put back at the front */
    uint64_t prefix_queries;
    uint64_t prefix_hits;
    uint64_t prompt_tokens_total;
    uint64_t generation_tokens_total;
    uint64_t num_preemptions_total;
    uint64_t finished[WP_ENGINE_FINISH_COUNT];
    int32_t n_held;
    int32_t held_blocks;
    uint64_t debug_steps; /* debug builds: steps since the last wp_engine_validate */
};

/* queue.c: the waiting heap, ordered by (prio, arrival, order). */
bool wp__queue_before(const wp__req_t *a, const wp__req_t *b);
void wp__queue_push(wp_engine_t *e, int32_t slot);
int32_t wp__queue_top(const wp_engine_t *e); /* -1 when empty */
void wp__queue_remove(wp_engine_t *e, int32_t slot);
wp_status_t wp__queue_check(const wp_engine_t *e, wp_err_t *err);
/* queue.c: the running list. */
void wp__running_remove_at(wp_engine_t *e, int32_t pos);
int32_t wp__running_find(const wp_engine_t *e, int32_t slot); /* -1 when absent */

/* engine.c: releases a request's blocks, tail first, and empties its table. */
void wp__engine_release_blocks(wp_engine_t *e, wp__req_t *r);
/* sched.c: records a KV event of the running step (cfg.kv_events only). */
void wp__engine_kv_log(wp_engine_t *e, const wp_engine_kv_event_t *ev);
/* engine.c: removes a request from the id map and frees its slot. */
void wp__engine_drop(wp_engine_t *e, int32_t slot);

#endif
