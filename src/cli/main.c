/*
 * cli/main: `wellpath <command>` dispatch. The commands are listed in usage() and in
 * DESIGN.md; each lives in its own file.
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *out)
{
    fputs("usage: wellpath <command> [options]\n"
          "\n"
          "commands:\n"
          "  up        start a simulated model-server pool and the gateway from a topology\n"
          "            file (no file: Path 1, four simulated replicas); Ctrl-C stops it all\n"
          "  gateway   the inference-aware gateway alone, in front of real endpoints\n"
          "  sim       one or more simulated vLLM-compatible model servers\n"
          "  bench     a serving benchmark against a server, or against `up` once per policy\n"
          "  simulate  the whole pool and scheduler in virtual time, with bench's report\n"
          "  plan      pick a deployment for a model, GPUs and a workload, by simulation\n"
          "\n"
          "Run 'wellpath <command> --help' for a command's options.\n",
          out);
}

/* Requests and answers up to 32 MB come from the heap, and freed heap is given back to the
 * system only past 64 MB free at its top: glibc's default (mmap past 128 KB, give back past
 * 128 KB) mapped and unmapped every 400 KB prompt's buffers, a page fault per 4 KB touched:
 * 257 against 1,900 requests/s through the gateway (docs/decisions.md, "Memory allocator"). */
static void tune_malloc(void)
{
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    /* A peer that closes its socket must not kill a server writing to it: writes fail
     * with EPIPE instead and the connection is closed. */
    signal(SIGPIPE, SIG_IGN);
    tune_malloc();
    const char *cmd = argv[1];
    if (strcmp(cmd, "up") == 0)
        return wp_cli_up(argc - 1, argv + 1);
    if (strcmp(cmd, "gateway") == 0)
        return wp_cli_gateway(argc - 1, argv + 1);
    if (strcmp(cmd, "simulate") == 0)
        return wp_cli_simulate(argc - 1, argv + 1);
    if (strcmp(cmd, "plan") == 0)
        return wp_cli_plan(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return wp_cli_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "sim") == 0)
        return wp_cli_sim(argc - 1, argv + 1);
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "wellpath: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
