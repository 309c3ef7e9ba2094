/*
 * config/addr: the one parser of network addresses, for the topology file (gateway.listen,
 * endpoints[].url) and the command line (--listen, bench --target). Pure: no I/O, no
 * name resolution.
 *
 * "host:port" is one of
 *   IPv4      127.0.0.1:8000   four decimal parts 0..255, no leading zeros
 *   [IPv6]    [::1]:8000       the brackets are required (an unbracketed "::1:8000" is
 *                              an error, never guessed); no zone ("%eth0")
 *   hostname  localhost:8000   dot-separated labels of letters, digits, '-' and '_',
 *                              1..63 bytes each, not starting or ending with '-';
 *                              at most 253 bytes; a host of only digits and dots must be
 *                              an IPv4 address
 * and the port is 1..5 decimal digits (no sign, no spaces) in 1..65535, or 0 where the
 * caller allows an ephemeral port (a listening address, WP_ADDR_PORT0_OK).
 * A URL is "http://" host [":" port] [path]: the same host rules, port 80 when absent,
 * port 0 never; no user info, query or fragment.
 *
 * Outputs are written only once the whole input is accepted. Error messages say what
 * was wrong with the input and quote it; the caller adds where it came from (key and
 * line, or the flag).
 */
#ifndef WP_CONFIG_ADDR_H
#define WP_CONFIG_ADDR_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

#define WP_ADDR_HOST_MAX 256 /* host names and addresses, without brackets, with the NUL */
#define WP_ADDR_PATH_MAX 256

typedef enum {
    WP_ADDR_PORT0_NO = 0, /* a server to connect to: 1..65535 */
    WP_ADDR_PORT0_OK = 1, /* a listening address: 0 means any free port */
} wp_addr_port0_t;

/* "host:port" into host (IPv6 without brackets) and port. */
wp_status_t wp_addr_parse_hostport(const char *s, wp_addr_port0_t port0,
                                   char host[WP_ADDR_HOST_MAX], uint16_t *port, wp_err_t *err);

/* "http://host[:port][/prefix]" into host, port (80 when absent) and base path ("" or
 * "/prefix", trailing slashes dropped). */
wp_status_t wp_addr_parse_url(const char *url, char host[WP_ADDR_HOST_MAX], uint16_t *port,
                              char base_path[WP_ADDR_PATH_MAX], wp_err_t *err);

#endif
