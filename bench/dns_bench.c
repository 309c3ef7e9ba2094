/*
 * dns_bench: what following a name in DNS costs (os/dns, c-ares on a libuv loop). Looks a
 * name up N times, one after the other, against the DNS server given, and prints the wall
 * time per lookup (p50, p99) and the CPU time per lookup. Each lookup is an A and an AAAA
 * query (or an SRV query and its targets').
 *
 * usage: dns_bench SERVER NAME [N] [srv]     e.g. dns_bench 127.0.0.1:15353 pool.test 2000
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "os/dns.h"

typedef struct run_s {
    wp_dns_t *dns;
    const char *name;
    bool srv;
    int n, done, failed;
    size_t addrs;
    uint64_t t0;
    double *lat_us;
} run_t;

static void next(run_t *r);

static void on_done(void *ud, wp_status_t st, const char *why, const wp_dns_addr_t *a, size_t n,
                    uint32_t ttl)
{
    (void)why;
    (void)a;
    (void)ttl;
    run_t *r = ud;
    r->lat_us[r->done++] = (double)(uv_hrtime() - r->t0) / 1e3;
    r->failed += st != WP_OK;
    r->addrs = n;
    if (r->done < r->n)
        next(r);
    else
        wp_dns_free(r->dns);
}

static void next(run_t *r)
{
    r->t0 = uv_hrtime();
    if (wp_dns_lookup(r->dns, r->name, r->srv, on_done, r) != WP_OK) {
        fprintf(stderr, "dns_bench: out of memory\n");
        exit(1);
    }
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double cpu_s(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 +
           (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: dns_bench SERVER NAME [N] [srv]\n");
        return 2;
    }
    run_t r = {.name = argv[2], .n = argc > 3 ? atoi(argv[3]) : 2000};
    r.srv = argc > 4 && strcmp(argv[4], "srv") == 0;
    if (r.n < 1)
        r.n = 1;
    r.lat_us = calloc((size_t)r.n, sizeof(double));
    wp_err_t err;
    uv_loop_t *loop = uv_default_loop();
    r.dns = wp_dns_new(loop, argv[1], &err);
    if (r.dns == NULL || r.lat_us == NULL) {
        fprintf(stderr, "dns_bench: %s\n", r.dns == NULL ? err.msg : "out of memory");
        return 1;
    }
    double c0 = cpu_s();
    uint64_t w0 = uv_hrtime();
    next(&r);
    uv_run(loop, UV_RUN_DEFAULT);
    double wall = (double)(uv_hrtime() - w0) / 1e9, cpu = cpu_s() - c0;
    qsort(r.lat_us, (size_t)r.n, sizeof(double), cmp);
    printf("dns lookups of %s (%s) against %s: %d, %d failed, %zu addresses each\n", r.name,
           r.srv ? "SRV" : "A+AAAA", argv[1], r.n, r.failed, r.addrs);
    printf("  wall p50 %.1f us  p99 %.1f us; CPU %.1f us a lookup (%.0f lookups/s on one loop)\n",
           r.lat_us[r.n / 2], r.lat_us[(int)(0.99 * (r.n - 1))], cpu / r.n * 1e6, r.n / wall);
    free(r.lat_us);
    uv_loop_close(loop);
    return 0;
}
