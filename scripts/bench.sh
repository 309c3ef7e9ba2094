#!/usr/bin/env bash
# Runs the benchmarks and writes docs/benchmarks.md with each figure and the command that
# produced it. Usage: scripts/bench.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake --build "$build" --target benchmarks -j "$(nproc)" >/dev/null
out=docs/benchmarks.md
host="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m)"
run() { # title, command...
    local title=$1; shift
    printf '## %s\n\n```\n$ %s\n' "$title" "$*"
    "$@" 2>&1
    printf '```\n\n'
}
{
    printf '# Benchmarks\n\nWritten by `make bench` (scripts/bench.sh) on %s, %s.\n' "$host" "$(date -u +%Y-%m-%d)"
    printf 'Each section shows the command and its output as printed.\n\n'
    run "Scheduling decision (16 endpoints, 32 KB prompt, prefix + load scorers; budget p99 < 10 us; index budget < 64 B/block)" \
        "$build/sched_pick_bench" 200000
    run "Engine core step rate (the simulator's inner loop)" "$build/engine_step_bench" 2000
} >"$out"
cat "$out"
