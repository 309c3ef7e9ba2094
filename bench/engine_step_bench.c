/*
 * bench/engine_step_bench: how fast the engine core steps (the simulator's inner loop).
 *
 * One Qwen3-8B engine on an H100 is given a shared-prefix workload all at once (groups
 * of requests sharing a long system prompt, each with its own question) and stepped as
 * fast as the CPU allows until every request finishes. Prints steps per second of wall
 * time, engine events per second, and how many simulated seconds one wall second covers.
 * Usage: engine_step_bench [requests]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/rng.h"
#include "base/str.h"
#include "engine/engine.h"

#define SYSTEM_TOKENS 2000
#define QUESTION_TOKENS 200
#define OUTPUT_TOKENS 200
#define GROUP_SIZE 5

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int64_t n = 2000;
    if (argc > 1 && (wp_parse_i64(argv[1], strlen(argv[1]), &n) != WP_OK || n < 1 || n > 1000000)) {
        fprintf(stderr, "usage: engine_step_bench [requests 1..1000000]\n");
        return 2;
    }
    wp_err_t err;
    wp_perf_t perf;
    if (wp_perf_init(&perf, wp_model_find("qwen3-8b"), wp_gpu_find("h100"), 1, NULL, &err) !=
        WP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    wp_engine_config_t cfg;
    wp_engine_config_default(&cfg, &perf);
    wp_engine_t *e;
    if (wp_engine_new(&cfg, &e, &err) != WP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    wp_rng_t rng;
    wp_rng_seed(&rng, 1);
    int32_t tokens[SYSTEM_TOKENS + QUESTION_TOKENS];
    for (int64_t i = 0; i < n; i++) {
        uint64_t group = (uint64_t)i / GROUP_SIZE;
        for (int k = 0; k < SYSTEM_TOKENS; k++)
            tokens[k] = (int32_t)((group * 7919 + (uint64_t)k * 31) % 150000);
        for (int k = 0; k < QUESTION_TOKENS; k++)
            tokens[SYSTEM_TOKENS + k] = (int32_t)wp_rng_below(&rng, 150000);
        wp_engine_req_t r = {.id = (uint64_t)i + 1,
                             .tokens = tokens,
                             .n_tokens = SYSTEM_TOKENS + QUESTION_TOKENS,
                             .max_tokens = OUTPUT_TOKENS,
                             .arrival = 0};
        if (wp_engine_add(e, &r, &err) != WP_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
    }
    double vnow = 0, t0 = now_s();
    uint64_t steps = 0, events = 0;
    wp_engine_step_t st;
    while (wp_engine_busy(e)) {
        if (wp_engine_step(e, vnow, &st) != WP_OK)
            return 1;
        vnow += st.duration_s;
        steps++;
        events += st.n_events;
    }
    double wall = now_s() - t0;
    wp_engine_stats_t s;
    wp_engine_stats(e, &s);
    printf("engine_step_bench: qwen3-8b/h100/tp1, %lld requests (%d+%d prompt, %d out, groups of "
           "%d)\n",
           (long long)n, SYSTEM_TOKENS, QUESTION_TOKENS, OUTPUT_TOKENS, GROUP_SIZE);
    printf(
        "steps %llu in %.3f s wall: %.0f steps/s, %.2f M events/s, %.0f simulated s per wall s\n",
        (unsigned long long)steps, wall, (double)steps / wall, (double)events / wall / 1e6,
        vnow / wall);
    printf("simulated: %.1f s, prefix hit rate %.1f %%, %llu preemptions\n", vnow,
           100.0 * (double)s.prefix_hits / (double)(s.prefix_queries ? s.prefix_queries : 1),
           (unsigned long long)s.num_preemptions_total);
    wp_engine_free(e);
    return 0;
}
