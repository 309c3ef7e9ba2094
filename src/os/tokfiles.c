/* os/tokfiles: see tokfiles.h. */
#include "os/tokfiles.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "os/file.h"

#define CONFIG_MAX ((size_t)16 << 20)

wp_status_t wp_os_tokmodel_load(const char *path, wp_tokmodel_t **out, wp_err_t *err)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return wp_err_set(err, WP_EIO, "tokenizer '%s': %s", path, strerror(errno));
    char json[4096], cfg[4096];
    if (S_ISDIR(sb.st_mode)) {
        snprintf(json, sizeof(json), "%s/tokenizer.json", path);
        snprintf(cfg, sizeof(cfg), "%s/tokenizer_config.json", path);
    } else {
        const char *slash = strrchr(path, '/');
        int dir = slash != NULL ? (int)(slash - path) : 0;
        snprintf(json, sizeof(json), "%s", path);
        snprintf(cfg, sizeof(cfg), "%.*s%stokenizer_config.json", dir, path,
                 slash != NULL ? "/" : "");
    }
    if (strlen(json) + 1 >= sizeof(json) || strlen(cfg) + 1 >= sizeof(cfg))
        return wp_err_set(err, WP_EINVAL, "tokenizer '%.64s...': path too long", path);
    wp_buf_t tj, tc;
    wp_buf_init(&tc, 0);
    wp_status_t st = wp_os_read_file(json, "tokenizer file", WP_BPE_JSON_MAX, &tj, err);
    bool has_cfg = stat(cfg, &sb) == 0;
    if (st == WP_OK && has_cfg) {
        wp_buf_free(&tc);
        st = wp_os_read_file(cfg, "tokenizer config", CONFIG_MAX, &tc, err);
    }
    if (st == WP_OK) {
        wp_err_t e;
        st = wp_tokmodel_load(tj.data, tj.len, has_cfg ? tc.data : NULL, has_cfg ? tc.len : 0, out,
                              &e);
        if (st != WP_OK)
            wp_err_set(err, st, "%s: %s", path, e.msg);
    }
    wp_buf_free(&tj);
    wp_buf_free(&tc);
    return st;
}
