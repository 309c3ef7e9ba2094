/*
 * cli/discovery: gateway.discoveryFile, a file of endpoints another system writes (a
 * service registry's template, a Kubernetes ConfigMap, a script), read and watched.
 *
 * The file holds `endpoints:` alone, as a topology file lists them (config/topology.h,
 * wp_topology_parse_endpoints). wp_cli_discovery_watch watches the file's directory
 * (inotify, through libuv), since writers replace files by renaming a new one into place and
 * a ConfigMap swaps its "..data" symlink: a change there to the file's name or to a "..name"
 * entry is followed, 100 ms later (a burst of events is one change), by a call to `changed`, which
 * reads the file again with wp_cli_discovery_read and applies it if its bytes differ from those
 * last applied.
 *
 * Ownership: the caller owns the struct (it must stay put while watched) and closes it with
 * wp_cli_discovery_close; the handles close on the loop.
 */
#ifndef WP_CLI_DISCOVERY_H
#define WP_CLI_DISCOVERY_H

#include <stdbool.h>
#include <uv.h>

#include "base/buf.h"
#include "base/err.h"
#include "config/topology.h"

typedef struct wp_cli_discovery_s {
    uv_fs_event_t ev;
    uv_timer_t debounce;
    char path[512];
    bool open; /* the handles are initialised (and not yet closed) */
    void (*changed)(void *ud);
    void *ud;
} wp_cli_discovery_t;

/* Reads path into bytes (replaced) and parses its endpoints into eps (free with
 * wp_topology_free). WP_ENOTFOUND when the file is not there; other errors name the file and,
 * for its text, the line. */
wp_status_t wp_cli_discovery_read(const char *path, wp_buf_t *bytes, wp_topology_t *eps,
                                  wp_err_t *err);

/* Watches path's directory; changed(ud) after each change (debounced). Watching again with
 * another path moves the watch; an empty path stops it. */
wp_status_t wp_cli_discovery_watch(wp_cli_discovery_t *d, uv_loop_t *loop, const char *path,
                                   void (*changed)(void *ud), void *ud, wp_err_t *err);
void wp_cli_discovery_close(wp_cli_discovery_t *d);

#endif
