/* Tests for sched/retry: one table of (outcome, attempts, retries, responded) -> (retry,
 * pass, status, judged, fault) over the statuses and transport outcomes the contract
 * names, the attempt bound (attempts run 1..1 + retries) and "no retry once a byte reached
 * the client". */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sched/retry.h"

#define T WP_SCHED_RETRY_TRANSPORT
#define TO WP_SCHED_RETRY_TIMEOUT

typedef struct retry_case_s {
    int outcome, attempts, retries;
    bool responded;
    bool retry, pass;
    int status; /* what the client hears (retried: if no other endpoint can take it) */
    bool judged, fault;
} retry_case_t;

static const retry_case_t cases[] = {
    /* outcome attempts retries responded -> retry pass status judged fault */
    /* success and plain answers: passed on as they are, a success for outlier detection */
    {200, 1, 2, false, false, true, 200, true, false},
    {200, 3, 2, false, false, true, 200, true, false},
    {204, 1, 0, true, false, true, 204, true, false},
    {304, 1, 2, false, false, true, 304, true, false},
    {400, 1, 2, false, false, true, 400, true, false},
    {404, 2, 2, false, false, true, 404, true, false},
    {413, 1, 2, false, false, true, 413, true, false},
    /* 429: a server shedding load; retried, keeps its meaning, never judged */
    {429, 1, 2, false, true, false, 429, false, false},
    {429, 2, 2, false, true, false, 429, false, false},
    {429, 3, 2, false, false, true, 429, false, false},
    {429, 1, 0, false, false, true, 429, false, false},
    {429, 1, 2, true, false, true, 429, false, false},
    /* 500, 502: retried (502 if nowhere else), passed on when not; a fault */
    {500, 1, 1, false, true, false, 502, true, true},
    {500, 2, 1, false, false, true, 500, true, true},
    {500, 1, 2, true, false, true, 500, true, true},
    {502, 1, 3, false, true, false, 502, true, true},
    {502, 4, 3, false, false, true, 502, true, true},
    /* 503: retried, keeps its meaning (unavailable); a fault */
    {503, 1, 1, false, true, false, 503, true, true},
    {503, 2, 1, false, false, true, 503, true, true},
    {503, 1, 1, true, false, true, 503, true, true},
    /* 504 from upstream: retried, "anything else" is 502 if nowhere else; passed on when
     * not retried */
    {504, 1, 1, false, true, false, 502, true, true},
    {504, 2, 1, false, false, true, 504, true, true},
    /* 501 and other 5xx: no reason to go elsewhere, the answer, but a fault */
    {501, 1, 2, false, false, true, 501, true, true},
    {505, 1, 2, false, false, true, 505, true, true},
    {599, 1, 2, false, false, true, 599, true, true},
    /* transport failure: retried, 502, a fault */
    {T, 1, 2, false, true, false, 502, true, true},
    {T, 2, 2, false, true, false, 502, true, true},
    {T, 3, 2, false, false, false, 502, true, true},
    {T, 1, 0, false, false, false, 502, true, true},
    {T, 1, 2, true, false, false, 502, true, true},
    /* timeout: retried, 504, a fault */
    {TO, 1, 1, false, true, false, 504, true, true},
    {TO, 2, 1, false, false, false, 504, true, true},
    {TO, 1, 5, true, false, false, 504, true, true},
};

static void test_retry_table(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const retry_case_t *c = &cases[i];
        wp_sched_retry_t r =
            wp_sched_retry_decide(c->outcome, c->attempts, c->retries, c->responded);
        if (r.retry != c->retry || r.pass != c->pass || r.status != c->status ||
            r.judged != c->judged || r.fault != c->fault)
            fail_msg("case %zu (outcome %d, attempt %d of 1+%d, responded %d): got retry %d "
                     "pass %d status %d judged %d fault %d, want %d %d %d %d %d",
                     i, c->outcome, c->attempts, c->retries, c->responded, r.retry, r.pass,
                     r.status, r.judged, r.fault, c->retry, c->pass, c->status, c->judged,
                     c->fault);
    }
}

/* Every outcome worth a retry is retried exactly `retries` times: attempts 1..retries ask
 * for another, attempt 1 + retries does not; an answer is never retried. A retried
 * outcome is never passed on. */
static void test_retry_attempt_bound(void **state)
{
    const int outcomes[] = {T, TO, 429, 500, 502, 503, 504, 200, 400, 501};
    for (size_t k = 0; k < sizeof(outcomes) / sizeof(outcomes[0]); k++) {
        int o = outcomes[k];
        bool worth = o < 0 || o == 429 || o == 500 || (o >= 502 && o <= 504);
        for (int retries = 0; retries <= 4; retries++) {
            int retried = 0;
            for (int attempt = 1; attempt <= 1 + retries; attempt++) {
                wp_sched_retry_t r = wp_sched_retry_decide(o, attempt, retries, false);
                assert_false(r.retry && r.pass);
                retried += r.retry;
                if (!r.retry)
                    break;
            }
            assert_int_equal(retried, worth ? retries : 0);
            /* once a byte reached the client, never */
            for (int attempt = 1; attempt <= 1 + retries; attempt++)
                assert_false(wp_sched_retry_decide(o, attempt, retries, true).retry);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_table),
        cmocka_unit_test(test_retry_attempt_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
