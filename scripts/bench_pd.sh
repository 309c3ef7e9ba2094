#!/usr/bin/env bash
# `make bench-pd`: P/D against aggregated serving on long inputs, simulated at full size and
# live scaled down, and the xPyD sweep for three ISL/OSL shapes; each in its own section of
# docs/benchmarks.md with its command.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/wellpath
host="$(nproc) cores, $(date -u +%Y-%m-%d)"
section() { # name, title, note, command...
    local name=$1 title=$2 note=$3 out
    shift 3
    echo "running: $*" >&2
    out=$("$@" 2>&1 | sed 's/ picks=.*//')
    printf '%s\n\n' "$out"
    printf '## %s\n\nWritten by `make bench-pd` on %s. %s Command:\n\n```\n%s\n```\n\n```\n%s\n```\n' \
        "$title" "$host" "$note" "$*" "$out" | scripts/doc_section.sh docs/benchmarks.md "$name"
}
both() { # the aggregated run, then the P/D run
    "$bin" simulate -f bench/pd/agg-sim.yaml --workload bench/pd/long-input.yaml --policy topology --quiet
    echo
    "$bin" simulate -f bench/pd/pd-sim.yaml --workload bench/pd/long-input.yaml --policy topology --quiet
}
section pd-sim "P/D against aggregated, simulated at full size (Qwen3-32B, 16 H100, 10k-14k tokens in)" \
    "First aggregated (8 x TP2), then P/D (4 prefill + 4 decode, TP2, RDMA)." both
live() {
    "$bin" bench --topology bench/pd/agg-live.yaml --workload bench/pd/long-input-live.yaml --quiet
    echo
    "$bin" bench --topology bench/pd/pd-live.yaml --workload bench/pd/long-input-live.yaml --quiet
}
section pd-live "P/D against aggregated, live and scaled (Qwen3-8B, 4 simulated H100s, 6k-8k tokens in)" \
    "First aggregated (4 replicas), then P/D (2 prefill + 2 decode) over HTTP and the KV side channel." live
sweep() {
    for io in "10000 1000 20" "5000 1000 30" "2000 2000 30"; do
        set -- $io
        echo "ISL $1 / OSL $2, Poisson $3 req/s for 60 s:"
        "$bin" simulate -f bench/pd/xpyd.yaml --type random --set input_len="$1" --set output_len="$2" \
            --rate "$3" --duration 60 --xpyd-gpus 16 --slo ttft=2,tpot=0.05 --quiet 2>/dev/null | grep '^xpyd'
    done
}
section pd-xpyd "xPyD: the best prefill:decode split of 16 H100s (Llama-3.1-8B, TP1) per ISL/OSL" \
    "Rates chosen to saturate the pool, so throughput measures capacity; goodput under TTFT <= 2 s and TPOT <= 50 ms." sweep
