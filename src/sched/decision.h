/*
 * sched/decision: the decision log, one JSON line per decision the gateway takes about a
 * request or an endpoint, written alike by the live gateway (gateway.decisionLog) and
 * the simulator (wellpath simulate --decision-log), so that a user sees why a request went
 * where it went, and a test can hold the two side by side.
 *
 * Line: {"t":S,"event":E,"request":R,"endpoint":N,...} with t the shell's time in seconds
 * (the gateway's since it started; the simulator's virtual time), then the fields that
 * event has:
 *   pick         request, endpoint, role ("any", "prefill", "decode"), attempt, prefix
 *                (share of the prompt's blocks the endpoint holds), candidates, scores
 *   queue        request (it waits: all endpoints saturated)
 *   dequeue      request (room appeared; its pick follows)
 *   shed         request, reason (sched/admit.h names): answered 429
 *   unavailable  request: no healthy endpoint, answered 503
 *   retry        request, endpoint (the one that failed), status (its outcome)
 *   pd           request, decision (sched/pd.h names)
 *   eject        endpoint, seconds; probation, recover: endpoint
 *   reload       generation
 * Everything but t is a function of the decisions' inputs (the order of events and the
 * state they leave, scraped metrics included), never of the clock, so two runs fed the
 * same events with the same metrics write the same lines once t is left out. A retry's
 * status is what the endpoint answered, or 502 / 504 when it failed at the transport or
 * timed out.
 *
 * Pure: formats into a caller-owned buffer; no I/O.
 */
#ifndef WP_SCHED_DECISION_H
#define WP_SCHED_DECISION_H

#include "base/buf.h"
#include "sched/outlier.h"
#include "sched/sched.h"

typedef enum {
    WP_SCHED_DECISION_PICK,
    WP_SCHED_DECISION_QUEUE,
    WP_SCHED_DECISION_DEQUEUE,
    WP_SCHED_DECISION_SHED,
    WP_SCHED_DECISION_UNAVAILABLE,
    WP_SCHED_DECISION_RETRY,
    WP_SCHED_DECISION_PD,
    WP_SCHED_DECISION_EJECT,
    WP_SCHED_DECISION_PROBATION,
    WP_SCHED_DECISION_RECOVER,
    WP_SCHED_DECISION_RELOAD,
    WP_SCHED_DECISION_KINDS
} wp_sched_decision_kind_t;

typedef struct wp_sched_decision_s {
    wp_sched_decision_kind_t kind;
    const char *request;           /* NULL for endpoint events */
    const char *endpoint;          /* NULL when none */
    const char *detail;            /* shed reason, P/D decision */
    const wp_sched_pick_t *pick;   /* pick: the pick */
    wp_sched_role_t role;          /* pick */
    int attempt;                   /* pick */
    int status;                    /* retry */
    double seconds;                /* eject */
    unsigned long long generation; /* reload */
} wp_sched_decision_t;

/* The decision-log event of an outlier detector's event (sched/outlier.h); KINDS for none. */
wp_sched_decision_kind_t wp_sched_decision_of_outlier(wp_sched_outlier_event_t ev);
/* Appends one line (with its '\n') for d at time t. */
void wp_sched_decision_write(wp_buf_t *out, double t, const wp_sched_decision_t *d);
const char *wp_sched_decision_name(wp_sched_decision_kind_t kind);

#endif
