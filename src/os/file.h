/*
 * os/file: reading a whole file into a buffer, with a size cap. For shells only (cores
 * take bytes, never paths). Errors say which file and why.
 */
#ifndef WP_OS_FILE_H
#define WP_OS_FILE_H

#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

/* Reads path into out (initialised here; the caller frees it, also on failure). what
 * names the file in messages ("topology file"). More than max bytes is an error;
 * WP_ENOTFOUND when there is no such file. */
wp_status_t wp_os_read_file(const char *path, const char *what, size_t max, wp_buf_t *out,
                            wp_err_t *err);

#endif
