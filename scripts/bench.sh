#!/usr/bin/env bash
# `make bench`: the micro-benchmarks and the SSE throughput, each written to its own
# section of docs/benchmarks.md with the command that produced it.
# Usage: scripts/bench.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake --build "$build" --target benchmarks -j "$(nproc)" >/dev/null
host="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m), $(date -u +%Y-%m-%d)"
section() { # name, title, command...
    local name=$1 title=$2 out
    shift 2
    echo "running: $*" >&2
    out=$("$@" 2>&1)
    printf '%s\n\n' "$out"
    printf '## %s\n\nWritten by `make bench` on %s. Command:\n\n```\n%s\n```\n\n```\n%s\n```\n' \
        "$title" "$host" "$*" "$out" | scripts/doc_section.sh docs/benchmarks.md "$name"
}
section sched "Scheduling decision: 16 endpoints, 32 KB prompt, prefix + load scorers (budget: p99 < 10 us; prefix index < 64 B per block)" \
    "$build/sched_pick_bench" 200000
section sched-1000 "Scheduling decision: 1,000 endpoints (2,048 indexed blocks each), 32 KB prompt, prefix + load scorers (goal: p99 < 50 us)" \
    "$build/sched_pick_bench" 50000 1000 2048
section kv-view "The KV view (precise-prefix's index of the servers' KV events): bytes per block, store, remove, match" \
    "$build/kv_view_bench" 100000
section engine "Engine core step rate (the simulator's inner loop)" "$build/engine_step_bench" 2000
section sse "SSE events: consumed by wellpath bench and forwarded by the gateway, per CPU-second" \
    scripts/bench_sse.sh "$build"
