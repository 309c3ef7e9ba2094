/*
 * os/limits: the process's open-file limit, raised for a server that holds many
 * connections. For shells only.
 */
#ifndef WP_OS_LIMITS_H
#define WP_OS_LIMITS_H

#include <stdint.h>

/* Raises RLIMIT_NOFILE toward want: the soft limit up to the hard one and, when the hard
 * one is lower and the process may raise it (root or CAP_SYS_RESOURCE), the hard one too
 * (never past the kernel's fs.nr_open). Never lowers anything. Returns the soft limit in
 * force afterwards (0 when it cannot be read). */
uint64_t wp_os_nofile_raise(uint64_t want);

#endif
