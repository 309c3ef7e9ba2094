/*
 * cli: the `wellpath` command. One file per subcommand (sim.c, gateway.c, up.c); this
 * header holds what they share: loading the topology file, turning it into the
 * gateway's and the simulator's configs, and running a loop until SIGINT/SIGTERM.
 *
 * Every subcommand has --help and exits non-zero with one clear line on bad input.
 */
#ifndef WP_CLI_CLI_H
#define WP_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/log.h"
#include "config/topology.h"
#include "gateway/gateway.h"
#include "sim/sim.h"

int wp_cli_sim(int argc, char **argv);
int wp_cli_gateway(int argc, char **argv);
int wp_cli_up(int argc, char **argv);
int wp_cli_bench(int argc, char **argv);
int wp_cli_simulate(int argc, char **argv);
int wp_cli_plan(int argc, char **argv);

/* Reads and parses path (NULL: the embedded default). */
wp_status_t wp_cli_load_topology(const char *path, wp_topology_t *t, wp_err_t *err);
/* The gateway's config from the topology: listen address, limits, scheduler, and the
 * endpoints the file lists (the simulated ones are added by `up`). */
wp_status_t wp_cli_gateway_config(const wp_topology_t *t, wp_gateway_config_t *gc, wp_err_t *err);
/* The simulator's defaults with the topology's model, gpu, vllm.* and simulation.* over
 * them (the rows of cli/simopts.h that have a topology key). */
wp_status_t wp_cli_sim_config(const wp_topology_t *t, wp_sim_config_t *sc, wp_err_t *err);
/* A --listen value, "host:port" as config/addr.h reads it (port 0: any free port), into
 * gc's listen address; errors start with "--listen: ". */
wp_status_t wp_cli_listen(const char *s, wp_gateway_config_t *gc, wp_err_t *err);
/* Parses a --log-level value; on a bad one prints why and returns false. */
bool wp_cli_log_level(const char *cmd, const char *arg, wp_log_level_t *out);
/* WELLPATH_ADMIN_TOKEN when set and not empty, else NULL: it wins over a topology file's
 * adminToken (gateway and simulator alike); a command-line flag wins over it. */
const char *wp_cli_env_admin_token(void);
/* Logs that a reload of FILE failed (why: the error) and the running config stays. */
void wp_cli_log_reload_failed(const char *file, const char *why);
/* Parses a --drain-timeout value (milliseconds, 0..one day); on a bad one prints why
 * and returns false. */
bool wp_cli_drain_timeout(const char *cmd, const char *arg, int64_t *out_ms);
/* Prints "wellpath <cmd>: <msg>" on stderr and returns 2. */
int wp_cli_fail(const char *cmd, const char *msg);

/* Calls on_signal(ud, signum) on SIGINT or SIGTERM; the handles are closed by
 * wp_cli_signals_close. */
typedef struct wp_cli_signals_s {
    uv_signal_t sigint, sigterm;
    void (*on_signal)(void *ud, int signum);
    void *ud;
} wp_cli_signals_t;
void wp_cli_signals_start(uv_loop_t *loop, wp_cli_signals_t *s, void (*fn)(void *, int), void *ud);
void wp_cli_signals_close(wp_cli_signals_t *s);

/* An option's number value v in [lo, hi] into *out; WP_EINVAL names --flag and the value. */
wp_status_t wp_cli_number(const char *flag, const char *v, double lo, double hi, double *out,
                          wp_err_t *err);

#endif
