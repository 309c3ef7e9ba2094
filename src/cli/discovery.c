/* cli/discovery: see discovery.h. */
#include "cli/discovery.h"

#include <string.h>

#include "base/log.h"
#include "base/str.h"
#include "os/file.h"

#define DEBOUNCE_MS 100

wp_status_t wp_cli_discovery_read(const char *path, wp_buf_t *bytes, wp_topology_t *eps,
                                  wp_err_t *err)
{
    wp_buf_free(bytes);
    wp_status_t st = wp_os_read_file(path, "discovery file", WP_TOPO_MAX_INPUT, bytes, err);
    if (st != WP_OK)
        return st;
    return wp_topology_parse_endpoints(bytes->data, bytes->len, path, eps, err);
}

static void on_debounce(uv_timer_t *t)
{
    wp_cli_discovery_t *d = t->data;
    d->changed(d->ud);
}

/* The file's own name in its directory. */
static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

/* An event about the file itself, or about a "..name" entry (a Kubernetes volume swaps its
 * "..data" symlink to update the files it projects); the rest of the directory (a log file
 * beside it) is none of the watch's business. Without a name (some file systems), any. */
static void on_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
    (void)events;
    wp_cli_discovery_t *d = h->data;
    if (status < 0) {
        wp_log(WP_LOG_WARN, "discovery file: watch error", "file=%s error=%s", d->path,
               uv_strerror(status));
        return;
    }
    if (filename != NULL && strcmp(filename, base_name(d->path)) != 0 &&
        strncmp(filename, "..", 2) != 0)
        return;
    uv_timer_start(&d->debounce, on_debounce, DEBOUNCE_MS, 0);
}

/* The directory of path ("." for a bare name) into dir. */
static void dir_of(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        wp_strlcpy(dir, ".", cap);
        return;
    }
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= cap)
        n = cap - 1;
    memcpy(dir, path, n);
    dir[n] = '\0';
}

wp_status_t wp_cli_discovery_watch(wp_cli_discovery_t *d, uv_loop_t *loop, const char *path,
                                   void (*changed)(void *ud), void *ud, wp_err_t *err)
{
    if (!d->open) {
        uv_fs_event_init(loop, &d->ev);
        uv_timer_init(loop, &d->debounce);
        d->ev.data = d->debounce.data = d;
        d->open = true;
    }
    d->changed = changed;
    d->ud = ud;
    if (strcmp(d->path, path) == 0 && uv_is_active((uv_handle_t *)&d->ev))
        return WP_OK;
    uv_fs_event_stop(&d->ev);
    if (!wp_strlcpy(d->path, path, sizeof(d->path)))
        return wp_err_set(err, WP_EINVAL, "discovery file: path longer than %zu bytes",
                          sizeof(d->path) - 1);
    if (path[0] == '\0')
        return WP_OK;
    char dir[sizeof(d->path)];
    dir_of(path, dir, sizeof(dir));
    int rc = uv_fs_event_start(&d->ev, on_event, dir, 0);
    if (rc != 0)
        return wp_err_set(err, WP_EIO, "discovery file '%s': cannot watch its directory '%s': %s",
                          path, dir, uv_strerror(rc));
    wp_log(WP_LOG_INFO, "discovery file watched", "file=%s dir=%s", path, dir);
    return WP_OK;
}

void wp_cli_discovery_close(wp_cli_discovery_t *d)
{
    if (!d->open)
        return;
    d->open = false;
    uv_close((uv_handle_t *)&d->ev, NULL);
    uv_close((uv_handle_t *)&d->debounce, NULL);
}
