#!/usr/bin/env bash
# `make bench-scale-to-zero`: the bursty workload (bench/scale-to-zero/) through `wellpath up`,
# always on and with gateway.scaleToZero: the cold-start TTFT penalty and the idle
# GPU-seconds saved, written into docs/benchmarks.md (section scale-to-zero).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmd="node scripts/bench_scale_to_zero.mjs $build"
echo "running: $cmd" >&2
out=$($cmd)
printf '%s\n' "$out"
printf '## Scale-to-zero: cold-start TTFT and idle GPU-seconds (bursty workload)\n\nWritten by `make bench-scale-to-zero` on %s. Command:\n\n```\n%s\n```\n\n```\n%s\n```\n' \
    "$(nproc) cores, $(date -u +%Y-%m-%d)" "$cmd" "$out" | scripts/doc_section.sh docs/benchmarks.md scale-to-zero
