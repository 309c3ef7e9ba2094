/*
 * workload/arrivals: when the client sends each request of a workload (arrival pacing).
 * One decision for `wellpath bench` (real time, a uv timer) and des/ (virtual time, its
 * event heap); each shell only wires its events to these calls.
 *
 * The items of a workload are offered one at a time, in workload order:
 *   open loop    an item with arrival_s >= 0 is due at its arrival time;
 *   closed loop  an item with arrival_s < 0 is due at once, and waits for one of
 *                `concurrency` slots;
 *   the cap      with max_concurrency, a due item waits while that many requests are in
 *                flight; the items waiting take freed slots first come, first served (the
 *                cap bounds closed loops too: their slots are min(concurrency, cap)).
 * The items run in phases, and a phase starts only when every request of the phase before
 * has ended (a drain): an item of a new phase is held until then. The phases:
 *   warm-up      the items marked warmup (a workload's first ones, as `vllm bench serve
 *                --num-warmups`): paced as the others (the same slots, arrivals and cap);
 *                the measured items start once the last warm-up request has ended;
 *   sequential   inference-perf's stages (open loop only): each stage of the measured items
 *                is a phase of its own, started interval_s after the stage before drained;
 *                without sequential the measured items are one phase.
 * A phase starts at its nominal start (the first item's stage_start_s) when nothing ran
 * before it, else when the phase before drained (plus interval_s after a sequential stage,
 * nothing after the warm-up); its open-loop items keep their offsets (arrival_s minus the
 * first item's stage_start_s) into it, and its closed-loop items are due at once.
 *
 * The calls, with `now` the shell's clock (the pacer reads none):
 *   offer      the next item: its send time, or "held until the phase before drains";
 *   due        the send time came: send now, or wait in line for a slot;
 *   ended      a request ended at `now`: may start the held item's phase;
 *   free_slot  its slot frees: the first item in line may take it.
 * A shell offers the next item only once the one before is no longer held (bench/ pulls
 * one item ahead; des/ pulls at the send event of the one before, or in a closed loop when
 * a request ends and nothing is held: wp_workload_pacer_holding), so at most one item is
 * held. A request that ends calls ended, then free_slot. Every request that ends belongs
 * to the current phase (a phase starts only after the one before drained).
 *
 * Invariants (wp_workload_pacer_validate): items wait in line only while every slot is
 * taken; phase_left counts the current phase's offered items not ended yet, and an item
 * is held only while it is > 0.
 *
 * Pure: no clock, no I/O, no global state; the same calls give the same answers. Its send
 * times are exact sums (phase start + offset; an item's own arrival_s when its phase did
 * not move), so a virtual clock reproduces them to the bit. Ownership: the caller owns the
 * pacer struct (fields private: use the functions) and the items; the pacer keeps the
 * items' opaque pointers (held, in line) without touching them, and owns the array of its
 * line (wp_workload_pacer_free).
 */
#ifndef WP_WORKLOAD_ARRIVALS_H
#define WP_WORKLOAD_ARRIVALS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

/* Items waiting in line at most (WP_ELIMIT past it). */
#define WP_WORKLOAD_PACER_MAX_LINE (1u << 24)

typedef struct wp_workload_pacer_config_s {
    int concurrency;     /* closed loop: requests in flight at most; < 1 reads as 1 */
    int max_concurrency; /* every request in flight at most; <= 0: no cap */
    bool sequential;     /* inference-perf's sequential stages */
    double interval_s;   /* sequential: from a stage's last end to the next stage's start */
} wp_workload_pacer_config_t;

/* An item as the pacer sees it (a wp_workload_req_t's fields of the same names). */
typedef struct wp_workload_pacer_item_s {
    double arrival_s; /* from the start of the run; < 0: closed loop */
    size_t stage;
    double stage_start_s; /* nominal start of its stage (a warm-up item's: 0) */
    bool warmup;          /* a warm-up item: every one comes before the first measured one */
} wp_workload_pacer_item_t;

typedef struct wp_workload_pacer_s {
    wp_workload_pacer_config_t cfg;
    size_t slots;     /* the limit of requests in flight now (SIZE_MAX: none) */
    size_t in_flight; /* sent, not ended */
    void **line;      /* due items waiting for a slot: a ring of line_cap */
    size_t line_cap, line_head, line_len;
    /* phases: the current one (warm-up or not, its stage when sequential), its offered
     * items not ended, its real start, its nominal start (offsets count from it) and when
     * its last request ended */
    bool phase_set, phase_warmup;
    size_t phase_stage, phase_left;
    double phase_at, phase_base, last_end;
    bool holding; /* the first item of the next phase, held */
    void *held;
    wp_workload_pacer_item_t held_item;
} wp_workload_pacer_t;

void wp_workload_pacer_init(wp_workload_pacer_t *p, const wp_workload_pacer_config_t *cfg);
/* Frees the line's array (not the items: take them back first with _take). A zeroed
 * struct may be freed. */
void wp_workload_pacer_free(wp_workload_pacer_t *p);

/* The next item, `ud` its caller's handle. Returns true with its send time in *at (its
 * arrival, shifted to its phase's real start; `now` for a closed-loop item; may be
 * <= now): call _due then. Returns false when it is held until the current phase drains:
 * _ended hands it back with its send time. */
bool wp_workload_pacer_offer(wp_workload_pacer_t *p, const wp_workload_pacer_item_t *it, void *ud,
                             double now, double *at);

/* Item ud's send time came. *send true: send it now (it counts in flight); false: it
 * waits in line, and _free_slot hands it back when a slot frees. WP_ENOMEM or WP_ELIMIT
 * when the line cannot grow (*send false, ud not kept). */
wp_status_t wp_workload_pacer_due(wp_workload_pacer_t *p, void *ud, bool *send);

/* A request ended at `now`. Returns true when that drained the phase and the held item's
 * phase starts: *ud is the held item, *at its send time (call _due then). */
bool wp_workload_pacer_ended(wp_workload_pacer_t *p, double now, void **ud, double *at);

/* An ended request's slot frees. Returns true when the first item in line takes it: send
 * *ud now (it counts in flight); false when the slot stays free. */
bool wp_workload_pacer_free_slot(wp_workload_pacer_t *p, void **ud);

/* Items waiting in line for a slot. */
size_t wp_workload_pacer_waiting(const wp_workload_pacer_t *p);

/* Whether an item is held until the current phase drains (offer no other until _ended
 * hands it back). */
bool wp_workload_pacer_holding(const wp_workload_pacer_t *p);

/* Hands back, one a call, the items the pacer still keeps (held, then in line), for a run
 * that stops: false when none is left. */
bool wp_workload_pacer_take(wp_workload_pacer_t *p, void **ud);

/* The invariants above; false when one is broken (for tests and debug builds). */
bool wp_workload_pacer_validate(const wp_workload_pacer_t *p);

#endif
