#!/usr/bin/env bash
# `make bench-fidelity`: the engine model's predictions against measured vLLM runs
# (scripts/fidelity.mjs), the per-model error summary written into docs/benchmarks.md and
# docs/calibration.md with the command, the per-row table into docs/fidelity.md. Skipped,
# saying why, when the points file is absent (it lives in ../shared beside a CI checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
points=${2:-../shared/data/inferencex/vllm-h100-h200.csv}
if [ ! -f "$points" ]; then
    echo "bench-fidelity: skipped: no points file at $points (pass POINTS=file.csv)"
    exit 0
fi
cmd="node scripts/fidelity.mjs --uncertainty --points $points --bin $build/wellpath --json $build/fidelity.json --markdown $build/fidelity-summary.md"
echo "running: $cmd" >&2
rc=0
out=$($cmd) || rc=$?
printf '%s\n' "$out"
host="$(nproc) cores, $(date -u +%Y-%m-%d)"
summary=$(cat "$build/fidelity-summary.md")
for doc in docs/benchmarks.md docs/calibration.md; do
    printf '## Fidelity: the engine model against measured vLLM runs\n\nWritten by `make bench-fidelity` on %s. Absolute percentage error of the predicted mean TTFT, mean TPOT and KV-cache size against the measured ones, median and p90 over the rows (every row in docs/fidelity.md). Command:\n\n```\n%s\n```\n\n%s\n' \
        "$host" "$cmd" "$summary" | scripts/doc_section.sh "$doc" fidelity
done
{ printf '# Fidelity, row by row\n\nWritten by `make bench-fidelity` on %s from `%s` (docs/calibration.md says how each row is simulated). Command:\n\n```\n%s\n```\n\n' "$host" "$(basename "$points")" "$cmd"
  printf '%s\n' "$out"; } >docs/fidelity.md
exit $rc
