/* os/file: see file.h. */
#include "os/file.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

wp_status_t wp_os_read_file(const char *path, const char *what, size_t max, wp_buf_t *out,
                            wp_err_t *err)
{
    wp_buf_init(out, max + 1);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return wp_err_set(err, errno == ENOENT ? WP_ENOTFOUND : WP_EIO, "cannot open %s '%s': %s",
                          what, path, strerror(errno));
    char chunk[65536];
    size_t n;
    wp_status_t st = WP_OK;
    while (st == WP_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        st = wp_buf_append(out, chunk, n);
    bool failed = ferror(f) != 0;
    fclose(f);
    if (failed)
        return wp_err_set(err, WP_EIO, "%s '%s': read error", what, path);
    if (st != WP_OK)
        return wp_err_set(err, WP_ELIMIT, "%s '%s' is larger than %zu bytes", what, path, max);
    if (out->data == NULL)
        wp_buf_append(out, "", 0);
    return WP_OK;
}
