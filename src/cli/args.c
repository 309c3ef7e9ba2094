/*
 * cli/args: see args.h. A plain loop over argv instead of getopt_long: getopt keeps its
 * state in globals, accepts abbreviations, permutes argv and prints its own messages,
 * which made each command handle errors (and `--opt=VALUE` in pre-scans) differently.
 */
#include "cli/args.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wp_cli_args_init(wp_cli_args_t *a, int argc, char **argv)
{
    memset(a, 0, sizeof(*a));
    a->argc = argc;
    a->argv = argv;
    a->next = 1;
}

wp_status_t wp_cli_args_add(wp_cli_args_t *a, const wp_cli_opt_t *opts, size_t n, wp_err_t *err)
{
    if (n > WP_CLI_ARGS_MAX - a->n_opts)
        return wp_err_set(err, WP_ELIMIT, "more than %d options", WP_CLI_ARGS_MAX);
    for (size_t i = 0; i < n; i++)
        a->opts[a->n_opts++] = &opts[i];
    return WP_OK;
}

void wp_cli_args_rewind(wp_cli_args_t *a)
{
    a->next = 1;
    a->done = false;
}

static const wp_cli_opt_t *find_long(const wp_cli_args_t *a, const char *name, size_t len)
{
    for (size_t i = 0; i < a->n_opts; i++)
        if (strlen(a->opts[i]->name) == len && memcmp(a->opts[i]->name, name, len) == 0)
            return a->opts[i];
    return NULL;
}

static const wp_cli_opt_t *find_short(const wp_cli_args_t *a, char letter)
{
    for (size_t i = 0; i < a->n_opts; i++)
        if (a->opts[i]->letter != 0 && a->opts[i]->letter == letter)
            return a->opts[i];
    return NULL;
}

/* The option's value: inline (after '=' or the letter) or the next argument. */
static int take_value(wp_cli_args_t *a, const wp_cli_opt_t *o, const char *inline_value,
                      const char *shown, const char **value, wp_err_t *err)
{
    if (inline_value != NULL) {
        *value = inline_value;
        return o->code;
    }
    if (a->next >= a->argc) {
        wp_err_set(err, WP_EINVAL, "option '%s' needs a value", shown);
        return -1;
    }
    *value = a->argv[a->next++];
    return o->code;
}

static int next_long(wp_cli_args_t *a, const char *arg, const char **value, wp_err_t *err)
{
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const wp_cli_opt_t *o = find_long(a, name, len);
    if (o == NULL) {
        wp_err_set(err, WP_EINVAL, "unknown option '--%.*s'", (int)len, name);
        return -1;
    }
    if (!o->has_value) {
        if (eq != NULL) {
            wp_err_set(err, WP_EINVAL, "option '--%s' takes no value", o->name);
            return -1;
        }
        *value = NULL;
        return o->code;
    }
    char shown[80];
    snprintf(shown, sizeof(shown), "--%s", o->name);
    return take_value(a, o, eq ? eq + 1 : NULL, shown, value, err);
}

int wp_cli_args_next(wp_cli_args_t *a, const char **value, wp_err_t *err)
{
    *value = NULL;
    if (a->next >= a->argc)
        return 0;
    const char *arg = a->argv[a->next++];
    if (!a->done && strcmp(arg, "--") == 0) {
        a->done = true;
        return wp_cli_args_next(a, value, err);
    }
    if (a->done || arg[0] != '-' || arg[1] == '\0') {
        wp_err_set(err, WP_EINVAL, "unexpected argument '%s'", arg);
        return -1;
    }
    if (arg[1] == '-')
        return next_long(a, arg, value, err);
    const wp_cli_opt_t *o = find_short(a, arg[1]);
    if (o == NULL || (!o->has_value && arg[2] != '\0')) {
        wp_err_set(err, WP_EINVAL, "unknown option '%s'", arg);
        return -1;
    }
    if (!o->has_value)
        return o->code;
    const char shown[3] = {'-', arg[1], '\0'};
    return take_value(a, o, arg[2] != '\0' ? arg + 2 : NULL, shown, value, err);
}

void wp_cli_argv_init(wp_cli_argv_t *av)
{
    memset(av, 0, sizeof(*av));
}

wp_status_t wp_cli_argv_push(wp_cli_argv_t *av, wp_err_t *err, const char *fmt, ...)
{
    if (av->n >= WP_CLI_ARGV_MAX)
        return wp_err_set(err, WP_ELIMIT, "more than %d arguments for a child process",
                          WP_CLI_ARGV_MAX);
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0 || len >= WP_CLI_ARGV_ARG_MAX)
        return wp_err_set(err, WP_ELIMIT, "an argument for a child process is over %d bytes",
                          WP_CLI_ARGV_ARG_MAX);
    char *s = malloc((size_t)len + 1);
    if (s == NULL)
        return wp_err_set(err, WP_ENOMEM, "out of memory");
    va_start(ap, fmt);
    vsnprintf(s, (size_t)len + 1, fmt, ap);
    va_end(ap);
    av->v[av->n++] = s;
    av->v[av->n] = NULL;
    return WP_OK;
}

void wp_cli_argv_free(wp_cli_argv_t *av)
{
    for (int i = 0; i < av->n; i++)
        free(av->v[i]);
    wp_cli_argv_init(av);
}
