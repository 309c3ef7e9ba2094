/*
 * cli/dnsdisc: endpoints named by DNS (endpoints[].discover: dns or srv), followed as their
 * records change. For `wellpath gateway`: a pool behind a Kubernetes headless Service or a
 * Consul/Nomad service name keeps routing while its servers come and go.
 *
 * Each name (with its kind and the URL's port) is looked up (os/dns) when it first appears
 * and again when its records' TTL runs out, kept within gateway.dns's minTtlMs and maxTtlMs.
 * wp_cli_dnsdisc_expand turns a topology's discover entries into one endpoint per address
 * (named "<entry name>@<address>:<port>", the entry's other keys as they are), from what the
 * last good lookup of each name found. When a lookup finds another set of addresses,
 * or while a set is not yet applied, `looked(ud, true)` is called (the caller expands again
 * and reloads, and says so with wp_cli_dnsdisc_applied when that worked: a failed apply is
 * tried again at the next lookup), after any other lookup `looked(ud, false)` (the names'
 * states, for metrics). A lookup that fails (NXDOMAIN,
 * no records, no answer) keeps the name's last good set, is logged when the name's state
 * changes, and is tried again after minTtlMs.
 *
 * Ownership: the caller owns the struct (it must stay put) and frees it with
 * wp_cli_dnsdisc_close; its resolver and timer close on the loop.
 */
#ifndef WP_CLI_DNSDISC_H
#define WP_CLI_DNSDISC_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config/topology.h"
#include "os/dns.h"

#define WP_CLI_DNS_NAMES_MAX 64

struct wp_cli_dnsdisc_s;

/* One name followed. */
typedef struct wp_cli_dns_name_s {
    struct wp_cli_dnsdisc_s *owner;
    char host[WP_TOPO_HOST_MAX]; /* "" = a free slot */
    bool srv;
    int port;       /* the URL's: an address record's port */
    bool listed;    /* named by the topology as last synced */
    bool looking;   /* a lookup in flight */
    bool ok;        /* the last lookup found addresses */
    bool ever;      /* some lookup did */
    bool unapplied; /* its set changed and no apply has succeeded since (wp_cli_dnsdisc_applied) */
    uint64_t next_ms; /* the next lookup, loop time */
    uint32_t ttl_s;
    wp_dns_addr_t *addrs; /* the last good set (owned) */
    size_t n;
    uint64_t lookups, failures;
    char error[200]; /* the last failure's words, "" after a success */
} wp_cli_dns_name_t;

typedef struct wp_cli_dnsdisc_s {
    uv_loop_t *loop;
    wp_dns_t *dns;
    uv_timer_t timer;
    bool open;
    char servers[256];
    int64_t min_ttl_ms, max_ttl_ms;
    wp_cli_dns_name_t names[WP_CLI_DNS_NAMES_MAX];
    int n_names;
    void (*looked)(void *ud, bool changed);
    void *ud;
} wp_cli_dnsdisc_t;

/* Follows the discover entries of t (with t->gateway.dns's servers and bounds): new names are
 * looked up at once, names no longer listed are dropped. WP_ELIMIT past
 * WP_CLI_DNS_NAMES_MAX names; other errors from the resolver (its servers). */
wp_status_t wp_cli_dnsdisc_sync(wp_cli_dnsdisc_t *d, uv_loop_t *loop, const wp_topology_t *t,
                                void (*looked)(void *ud, bool changed), void *ud, wp_err_t *err);
/* out (empty) gets t's endpoints with each discover entry replaced by its addresses. */
wp_status_t wp_cli_dnsdisc_expand(const wp_cli_dnsdisc_t *d, const wp_topology_t *t,
                                  wp_topology_t *out, wp_err_t *err);
/* The addresses the names have now are in the running config. */
void wp_cli_dnsdisc_applied(wp_cli_dnsdisc_t *d);
void wp_cli_dnsdisc_close(wp_cli_dnsdisc_t *d);

#endif
