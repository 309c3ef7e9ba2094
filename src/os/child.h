/*
 * os/child: a child process running this same program (`wellpath <subcommand> ...`),
 * for `wellpath up` (which runs the simulated pool as `wellpath sim`) and `wellpath
 * bench` (which runs each policy's deployment as `wellpath up`).
 *
 * The child's stdout is read line by line and each line is handed to on_line (lines
 * longer than 64 KiB are cut); its stderr is the parent's. The child gets
 * WELLPATH_PARENT_DEATH=1 in its environment, which makes it ask the kernel for SIGTERM
 * when the parent dies, so no child outlives its parent. on_exit runs once when the
 * child ends.
 *
 * Ownership: the caller owns the wp_child_t and frees it with wp_child_free after
 * on_exit ran (or at any time: a live child is sent SIGTERM first); run the loop to let
 * the handles close.
 */
#ifndef WP_OS_CHILD_H
#define WP_OS_CHILD_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/err.h"

typedef struct wp_child_s wp_child_t;

typedef void (*wp_child_line_fn)(void *ud, const char *line);
typedef void (*wp_child_exit_fn)(void *ud, int64_t status, int term_signal);

/* args: the arguments after the program name, NULL-terminated; at most 256 (more: NULL
 * and WP_ELIMIT, nothing is cut). The args are copied: they may be freed on return. */
wp_child_t *wp_child_spawn_self(uv_loop_t *loop, char *const *args, wp_child_line_fn on_line,
                                wp_child_exit_fn on_exit, void *ud, wp_err_t *err);
bool wp_child_alive(const wp_child_t *c);
int wp_child_pid(const wp_child_t *c);
void wp_child_kill(wp_child_t *c, int signum);
void wp_child_free(wp_child_t *c);

#endif
