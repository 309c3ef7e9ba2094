/*
 * cli/simopts: the one table of the simulator's settings. Each row is one knob: its
 * `wellpath sim` flag, the topology key it mirrors (if any), where it lives in
 * wp_sim_config_t and in wp_topology_t, its type and range, and its help text. The same
 * rows drive
 *   - `wellpath sim`'s flag parsing and range checks (wp_cli_simopt_apply),
 *   - a topology file into a wp_sim_config_t (wp_cli_simopt_from_topology: `sim -f`,
 *     `up`, `simulate`),
 *   - `up`'s command line for its `wellpath sim` children (wp_cli_simopt_to_argv), and
 *   - the usage text (wp_cli_simopt_usage),
 * so a new knob is one row here (plus its field in the two structs and its key in the
 * topology schema).
 *
 * Invariants: flags are unique; a row with a topology key has a field of the same type
 * (and, but for strings, the same size) on both sides. Values set by a row are checked
 * against its range whatever their source; a value read from the topology was checked
 * by the topology schema already.
 *
 * Ownership: the table is static and read-only; nothing here keeps state. Errors name
 * the flag ("--tp: expected an integer in 1..8, got '3x'").
 */
#ifndef WP_CLI_SIMOPTS_H
#define WP_CLI_SIMOPTS_H

#include <stddef.h>
#include <stdio.h>

#include "cli/args.h"
#include "config/topology.h"
#include "sim/sim.h"

typedef enum {
    WP_CLI_SIMOPT_STR,    /* char[size]; 1..size-1 bytes */
    WP_CLI_SIMOPT_INT,    /* int in [lo, hi] */
    WP_CLI_SIMOPT_U64,    /* uint64_t in [lo, hi] */
    WP_CLI_SIMOPT_DOUBLE, /* double in (lo, hi], or [lo, hi] when lo_closed */
    WP_CLI_SIMOPT_OFF,    /* bool; the flag (no value) sets it false */
    WP_CLI_SIMOPT_CUSTOM, /* parse (and pass, when it has a topology key) functions */
} wp_cli_simopt_kind_t;

/* When `up` leaves a row off the child's command line: the value means "not set". */
typedef enum {
    WP_CLI_SIMOPT_ALWAYS = 0,
    WP_CLI_SIMOPT_UNSET_ZERO,     /* 0 (or "") */
    WP_CLI_SIMOPT_UNSET_NEGATIVE, /* < 0 */
} wp_cli_simopt_unset_t;

typedef struct wp_cli_simopt_s wp_cli_simopt_t;

struct wp_cli_simopt_s {
    const char *flag;     /* long option, without "--" */
    const char *metavar;  /* its value in the usage text; NULL: a flag without value */
    const char *topo_key; /* the topology key it mirrors ("vllm.maxNumSeqs"); NULL: none */
    wp_cli_simopt_kind_t kind;
    size_t off, size;           /* the field in wp_sim_config_t */
    size_t topo_off, topo_size; /* the field in wp_topology_t (topo_key only) */
    double lo, hi;
    bool lo_closed; /* DOUBLE: lo itself is allowed */
    wp_cli_simopt_unset_t unset;
    /* CUSTOM: reads a value into sc; STR may set it to check more than the length. */
    wp_status_t (*parse)(wp_sim_config_t *sc, const char *what, const char *v, wp_err_t *err);
    /* Optional: appends this row's flags for sc to av (instead of the kind's default). */
    wp_status_t (*pass)(const wp_cli_simopt_t *o, const wp_sim_config_t *sc, wp_cli_argv_t *av,
                        wp_err_t *err);
    const char *help; /* '\n' starts a continuation line */
};

size_t wp_cli_simopt_count(void);
/* The i-th row (i < count). */
const wp_cli_simopt_t *wp_cli_simopt_at(size_t i);
/* The row of a flag (without "--"), or NULL. */
const wp_cli_simopt_t *wp_cli_simopt_find(const char *flag);

#define WP_CLI_SIMOPT_MAX 48 /* rows the table may grow to */

/* Registers every row with a parser; row i gets the code code_base + i. opts is the
 * caller's storage for the parser's rows (it must outlive the parser). */
wp_status_t wp_cli_simopt_add_options(wp_cli_args_t *a, wp_cli_opt_t opts[WP_CLI_SIMOPT_MAX],
                                      int code_base, wp_err_t *err);
/* Sets the row's field of sc from v (NULL for a flag). what names the source in errors
 * (NULL: "--<flag>"). */
wp_status_t wp_cli_simopt_apply(const wp_cli_simopt_t *o, wp_sim_config_t *sc, const char *what,
                                const char *v, wp_err_t *err);
/* Every row with a topology key: the topology's value into sc. */
wp_status_t wp_cli_simopt_from_topology(const wp_topology_t *t, wp_sim_config_t *sc, wp_err_t *err);
/* Every row with a topology key whose value in sc is set: "--flag=value" (or "--flag")
 * appended to av, the arguments that make `wellpath sim` build the same sc. */
wp_status_t wp_cli_simopt_to_argv(const wp_sim_config_t *sc, wp_cli_argv_t *av, wp_err_t *err);
/* One usage line (and continuation lines) per row. */
void wp_cli_simopt_usage(FILE *out);

#endif
