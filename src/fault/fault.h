/*
 * fault: the faults a simulated model server injects, and the per-request decision.
 *
 * A fault is a kind, a rate in [0, 1] (the probability it is drawn for one request) and
 * the parameters of its kind:
 *   429, 500, 503      the request is answered with that status and a JSON error
 *                      (docs/reference.md §1) before any work is done
 *   context-length     400 with vLLM's context-length message (type BadRequestError,
 *                      param "max_tokens"), before any work is done
 *   latency  ms        ms extra milliseconds before the first byte (default 1000)
 *   hang               the request is accepted and never answered, until the client goes
 *   disconnect after   the connection is closed abruptly once `after` tokens were
 *                      delivered (default 3; at the finish when the answer is shorter): no
 *                      terminating chunk, no [DONE]
 *   crash  after       the replica dies (listener and every connection closed, nothing
 *          restart_ms  answered); drawn only for requests past the first `after` (default
 *                      0) since the faults were set or the replica restarted; it listens
 *                      again after restart_ms (default -1: never)
 * Written as a flag: KIND[:RATE][,param=value...] (rate 1 when left out), e.g. "503:0.2",
 * "latency:0.1,ms=500", "disconnect:1,after=5", "crash:0,restart_ms=2000". As JSON (the
 * admin endpoint): {"faults":[{"kind":"503","rate":0.5},{"kind":"latency","ms":300}]}.
 *
 * The decision (wp_fault_decide) draws once per fault of the set, in order, for every
 * request, whatever fires: the random stream depends only on the set and the number of
 * requests, so a seed replays a run exactly. What is applied, by precedence: a crash
 * alone; else a hang alone; else the first error drawn (in set order), with any latency;
 * else latency and the first disconnect drawn. `injected` has a bit per kind applied,
 * which is what the shell counts.
 *
 * Pure: no I/O, no clock, no globals; the RNG is passed in. All structures are plain
 * values owned by the caller; nothing here allocates beyond cJSON's parse of one body,
 * freed before returning.
 */
#ifndef WP_FAULT_FAULT_H
#define WP_FAULT_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/rng.h"

#define WP_FAULT_MAX 16 /* faults in one set */
#define WP_FAULT_LATENCY_MS 1000
#define WP_FAULT_DISCONNECT_AFTER 3

typedef enum {
    WP_FAULT_429,
    WP_FAULT_500,
    WP_FAULT_503,
    WP_FAULT_CONTEXT_LENGTH,
    WP_FAULT_LATENCY,
    WP_FAULT_HANG,
    WP_FAULT_DISCONNECT,
    WP_FAULT_CRASH,
    WP_FAULT_KIND_COUNT
} wp_fault_kind_t;

typedef struct wp_fault_s {
    wp_fault_kind_t kind;
    double rate;        /* [0, 1] */
    int64_t ms;         /* latency: 0..3600000 */
    int64_t after;      /* disconnect: tokens; crash: requests let through first */
    int64_t restart_ms; /* crash: -1 (never) .. 86400000 */
} wp_fault_t;

typedef struct wp_fault_set_s {
    wp_fault_t f[WP_FAULT_MAX];
    int n;
} wp_fault_set_t;

typedef struct wp_fault_decision_s {
    uint32_t injected; /* bit (1 << kind) per kind applied; 0: serve normally */
    bool crash;
    int64_t restart_ms; /* of the crash */
    bool hang;
    int status;               /* 429, 500, 503, 400 (context-length) or 0 */
    wp_fault_kind_t error;    /* the error's kind, when status != 0 */
    int64_t latency_ms;       /* extra delay before the first byte (sum of those drawn) */
    int64_t disconnect_after; /* -1: none */
} wp_fault_decision_t;

/* "429", "500", "503", "context-length", "latency", "hang", "disconnect", "crash". */
const char *wp_fault_kind_name(wp_fault_kind_t kind);
/* The HTTP status of an error kind; 0 for the others. */
int wp_fault_status(wp_fault_kind_t kind);
/* A fault of that kind with rate 1 and its kind's defaults. */
void wp_fault_init(wp_fault_t *f, wp_fault_kind_t kind);

/* One flag value, KIND[:RATE][,param=value...]. The error names the spec and what in it
 * was wrong (kind, rate, a parameter not of this kind, a value out of range). */
wp_status_t wp_fault_parse_spec(const char *spec, wp_fault_t *out, wp_err_t *err);
/* f as a spec that wp_fault_parse_spec reads back to f, every parameter of its kind
 * spelled out ("latency:0.5,ms=300"); cut (and false) when cap is too small. */
#define WP_FAULT_SPEC_MAX 96
bool wp_fault_format_spec(const wp_fault_t *f, char *out, size_t cap);
/* Appends f; WP_ELIMIT past WP_FAULT_MAX. */
wp_status_t wp_fault_set_add(wp_fault_set_t *set, const wp_fault_t *f, wp_err_t *err);
/* {"faults":[{"kind":..., "rate":..., params...}, ...]} into *out (replaced only on
 * success). The error names the field: "faults[1].rate: expected a number in [0, 1]". */
wp_status_t wp_fault_set_parse_json(const char *data, size_t len, wp_fault_set_t *out,
                                    wp_err_t *err);
/* The body of an ordered crash: empty, {} or {"restart_ms":N} (-1..86400000); *restart_ms
 * is -1 (never) unless given. The error names the field. */
wp_status_t wp_fault_crash_parse_json(const char *data, size_t len, int64_t *restart_ms,
                                      wp_err_t *err);
/* The set as the JSON above, every parameter of each kind spelled out. */
wp_status_t wp_fault_set_write_json(const wp_fault_set_t *set, wp_buf_t *out);

/* The decision for one request; request_no counts requests from 1 since the set was
 * installed (or the replica restarted). */
void wp_fault_decide(const wp_fault_set_t *set, wp_rng_t *rng, uint64_t request_no,
                     wp_fault_decision_t *out);

#endif
