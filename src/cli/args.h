/*
 * cli/args: the one command-line option parser of every `wellpath` subcommand, so that
 * all of them read their options the same way.
 *
 * Forms, for every option of every command:
 *   --name VALUE   --name=VALUE      an option that takes a value
 *   -x VALUE       -xVALUE           the same, when the option has a short letter
 *   --name         -x                a flag (no value; `--name=...` is an error)
 *   --                               the end of the options
 * Names are matched in full (no abbreviations). Anything that does not start with '-'
 * is an error: no subcommand takes positional arguments. Errors are one line naming the
 * option: "unknown option '--foo'", "option '--port' needs a value", "option '--help'
 * takes no value", "unexpected argument 'foo'".
 *
 * Ownership: the parser borrows argv and the option rows (their names too) for as long
 * as it is used; the values it returns point into argv. It allocates nothing; a command
 * may register at most WP_CLI_ARGS_MAX options (wp_cli_args_add says when more).
 */
#ifndef WP_CLI_ARGS_H
#define WP_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

#define WP_CLI_ARGS_MAX 64

typedef struct wp_cli_opt_s {
    const char *name; /* long name without "--"; non-empty */
    char letter;      /* short form -x, or 0 */
    bool has_value;   /* false: a flag */
    int code;         /* > 0; returned by wp_cli_args_next */
} wp_cli_opt_t;

typedef struct wp_cli_args_s {
    int argc;
    char **argv;
    int next;  /* index of the next argv element to read */
    bool done; /* "--" seen */
    const wp_cli_opt_t *opts[WP_CLI_ARGS_MAX];
    size_t n_opts;
} wp_cli_args_t;

/* argv[0] is the command's own name and is skipped. */
void wp_cli_args_init(wp_cli_args_t *a, int argc, char **argv);
/* Registers n rows (borrowed); WP_ELIMIT past WP_CLI_ARGS_MAX. */
wp_status_t wp_cli_args_add(wp_cli_args_t *a, const wp_cli_opt_t *opts, size_t n, wp_err_t *err);
/* Reads the next option: returns its code and sets *value (NULL for a flag); 0 when
 * none is left; -1 on an error (err says which option and why). */
int wp_cli_args_next(wp_cli_args_t *a, const char **value, wp_err_t *err);
/* Starts again from the first argument (for a command that reads its arguments twice,
 * e.g. a file first and the flags over it). */
void wp_cli_args_rewind(wp_cli_args_t *a);

/* A command line being built for a child process (`up` runs `wellpath sim`): a
 * NULL-terminated argv whose strings it owns. At most WP_CLI_ARGV_MAX arguments of at
 * most WP_CLI_ARGV_ARG_MAX bytes each; past either, push fails and says so (nothing is
 * cut). Free with wp_cli_argv_free, also after a failure. */
#define WP_CLI_ARGV_MAX 256
#define WP_CLI_ARGV_ARG_MAX 4096

typedef struct wp_cli_argv_s {
    char *v[WP_CLI_ARGV_MAX + 1]; /* v[n] == NULL */
    int n;
} wp_cli_argv_t;

void wp_cli_argv_init(wp_cli_argv_t *av);
/* Appends one argument, formatted like printf. */
wp_status_t wp_cli_argv_push(wp_cli_argv_t *av, wp_err_t *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void wp_cli_argv_free(wp_cli_argv_t *av);

#endif
