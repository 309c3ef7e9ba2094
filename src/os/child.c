/*
 * os/child: see child.h. The process handle and the stdout pipe close on their own
 * schedules; the struct is freed when both are closed and the owner has let go.
 */
#include "os/child.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

#define MAX_ARGS 256
#define MAX_LINE (64 * 1024)

struct wp_child_s {
    uv_process_t proc;
    uv_pipe_t out;
    wp_buf_t line;
    wp_child_line_fn on_line;
    wp_child_exit_fn on_exit;
    void *ud;
    int handles;
    bool alive, released;
};

static void maybe_free(wp_child_t *c)
{
    if (c->handles == 0 && c->released) {
        wp_buf_free(&c->line);
        free(c);
    }
}

static void on_closed(uv_handle_t *h)
{
    wp_child_t *c = h->data;
    c->handles--;
    maybe_free(c);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
    wp_child_t *c = p->data;
    c->alive = false;
    uv_close((uv_handle_t *)p, on_closed);
    if (c->on_exit != NULL && !c->released)
        c->on_exit(c->ud, status, term_signal);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char slab[16384];
    *buf = uv_buf_init(slab, sizeof(slab));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    wp_child_t *c = s->data;
    if (nread < 0) {
        uv_read_stop(s);
        return;
    }
    for (ssize_t i = 0; i < nread && !c->released; i++) {
        char ch = buf->base[i];
        if (ch != '\n') {
            if (c->line.len + 1 < MAX_LINE)
                wp_buf_append(&c->line, &ch, 1);
            continue;
        }
        if (c->on_line != NULL)
            c->on_line(c->ud, c->line.data ? c->line.data : "");
        wp_buf_reset(&c->line);
    }
}

wp_child_t *wp_child_spawn_self(uv_loop_t *loop, char *const *args, wp_child_line_fn on_line,
                                wp_child_exit_fn on_exit, void *ud, wp_err_t *err)
{
    char exe[4096];
    size_t exe_len = sizeof(exe);
    if (uv_exepath(exe, &exe_len) != 0) {
        wp_err_set(err, WP_EIO, "cannot find this program's own path to start a child");
        return NULL;
    }
    char *argv[MAX_ARGS + 2];
    int n = 0;
    argv[n++] = exe;
    for (int i = 0; args[i] != NULL; i++) {
        if (n > MAX_ARGS) { /* never cut a command line short */
            wp_err_set(err, WP_ELIMIT, "more than %d arguments for a child process", MAX_ARGS);
            return NULL;
        }
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    extern char **environ;
    size_t ne = 0;
    while (environ[ne] != NULL)
        ne++;
    char **envp = calloc(ne + 2, sizeof(char *));
    wp_child_t *c = calloc(1, sizeof(*c));
    if (envp == NULL || c == NULL) {
        free(envp);
        free(c);
        wp_err_set(err, WP_ENOMEM, "out of memory");
        return NULL;
    }
    memcpy(envp, environ, ne * sizeof(char *));
    envp[ne] = "WELLPATH_PARENT_DEATH=1";
    wp_buf_init(&c->line, MAX_LINE);
    c->on_line = on_line;
    c->on_exit = on_exit;
    c->ud = ud;
    uv_pipe_init(loop, &c->out, 0);
    c->out.data = c;
    c->proc.data = c;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&c->out},
        {.flags = UV_INHERIT_FD, .data.fd = 2}};
    uv_process_options_t po = {.file = exe,
                               .args = argv,
                               .env = envp,
                               .exit_cb = on_exit_cb,
                               .stdio = stdio,
                               .stdio_count = 3};
    int rc = uv_spawn(loop, &c->proc, &po);
    free(envp);
    c->handles = 2;
    if (rc != 0) { /* libuv initialised both handles even so: close them */
        wp_err_set(err, WP_EIO, "cannot start a child process: %s", uv_strerror(rc));
        c->released = true;
        uv_close((uv_handle_t *)&c->out, on_closed);
        uv_close((uv_handle_t *)&c->proc, on_closed);
        return NULL;
    }
    c->alive = true;
    uv_read_start((uv_stream_t *)&c->out, on_alloc, on_read);
    return c;
}

bool wp_child_alive(const wp_child_t *c)
{
    return c->alive;
}

int wp_child_pid(const wp_child_t *c)
{
    return c->proc.pid;
}

void wp_child_kill(wp_child_t *c, int signum)
{
    if (c->alive)
        uv_process_kill(&c->proc, signum);
}

void wp_child_free(wp_child_t *c)
{
    c->released = true;
    if (c->alive)
        uv_process_kill(&c->proc, SIGTERM); /* its exit closes the process handle */
    if (!uv_is_closing((uv_handle_t *)&c->out))
        uv_close((uv_handle_t *)&c->out, on_closed);
    maybe_free(c);
}
