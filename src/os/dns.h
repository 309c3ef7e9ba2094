/*
 * os/dns: asynchronous DNS lookups on a libuv loop (c-ares), with the records' TTLs: a name's
 * addresses (A and AAAA) or an SRV name's targets, ports and addresses. For discovery
 * (cli/dnsdisc.h): the gateway follows a pool named by DNS as its records change.
 *
 * A lookup asks the configured servers (default: the system's, /etc/resolv.conf) and calls
 * back once, on the loop: WP_OK with the addresses (numeric text, sorted, no duplicates) and
 * the smallest TTL among the records that gave them; WP_ENOTFOUND when the name does not
 * exist (NXDOMAIN) or has no such records; another error (unreachable servers, timeout,
 * malformed answer) with the resolver's words. For an SRV name the records' ports go with
 * their targets' addresses, and the TTL is the smallest of the targets' address records
 * (c-ares 1.18 does not expose an SRV record's own TTL).
 *
 * Ownership: wp_dns_t owns its c-ares channel and the loop handles for its sockets; free it
 * with wp_dns_free (also from a lookup's callback), which cancels the lookups in flight (their
 * callbacks do not run) and closes its handles on the loop.
 */
#ifndef WP_OS_DNS_H
#define WP_OS_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/err.h"

#define WP_DNS_ADDRS_MAX 256 /* addresses one lookup keeps (the rest are dropped) */

typedef struct wp_dns_s wp_dns_t;

typedef struct wp_dns_addr_s {
    char host[46]; /* numeric: "10.0.0.1", "fd00::1" */
    int port;      /* the SRV record's; 0 for a plain name */
} wp_dns_addr_t;

typedef void (*wp_dns_cb)(void *ud, wp_status_t st, const char *why, const wp_dns_addr_t *addrs,
                          size_t n, uint32_t ttl_s);

/* servers: "ip[:port],..." for the lookups, "" for the system's. */
wp_dns_t *wp_dns_new(uv_loop_t *loop, const char *servers, wp_err_t *err);
/* Looks name up: its addresses, or with srv its SRV records. WP_ENOMEM when it cannot start
 * (the callback then never runs). */
wp_status_t wp_dns_lookup(wp_dns_t *d, const char *name, bool srv, wp_dns_cb cb, void *ud);
void wp_dns_free(wp_dns_t *d);

#endif
