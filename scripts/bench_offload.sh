#!/usr/bin/env bash
# `make bench-offload`: CPU KV offload (vllm.kvOffloadingSize, docs/cost-levers.md) in
# virtual time: the Mooncake trace's pool (8 x Qwen3-8B on H100, 128k context) with a CPU tier
# of 0 to 512 GiB per server, at the trace's speed and at three times it, and the llm-d
# ladder's pool with and without 64 GiB; hit rate against the oracle, TTFT p50/p95 and output
# tokens/s. Writes its section of docs/benchmarks.md. The trace is read from ../shared (skipped
# with a message when absent).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/wellpath
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
host="$(nproc) cores, $(date -u +%Y-%m-%d)"
with_tier() { # topology GiB -> a copy with vllm.kvOffloadingSize
    local f="$tmp/$(basename "$1" .yaml)-$2.yaml"
    sed "s/^vllm:/vllm:\n  kvOffloadingSize: $2/" "$1" >"$f"
    echo "$f"
}
row() { # label topology workload -> one table row
    local out hit oracle sum
    out=$("$bin" simulate -f "$2" --workload "$3" --policy topology --quiet 2>&1)
    hit=$(sed -n 's/.*prefix-cache hits \([0-9.]*\)%.*/\1/p' <<<"$out")
    oracle=$(sed -n 's/.*the oracle (one unbounded cache shared by all engines) \([0-9.]*\)%.*/\1/p' <<<"$out")
    sum=$(awk '/^policy/ {n++} n == 1 && $1 == "topology" {print; exit}' <<<"$out")
    # policy requests failed hit srv TTFTp50 TTFTp95 ITL TPOT E2Ep95 req/s out/s goodput
    awk -v l="$1" -v h="$hit" -v o="$oracle" '{printf "| %s | %s %% | %s %% | %s | %s | %s |\n", l, h, o, $6, $7, $12}' <<<"$sum"
}
table() { # title topology workload sizes...
    local title=$1 topo=$2 wl=$3
    shift 3
    printf '\n%s\n\n| CPU tier per server | hit rate | oracle | TTFT p50 ms | TTFT p95 ms | output tok/s |\n|---|---|---|---|---|---|\n' "$title"
    for g in "$@"; do
        echo "running: $title, $g GiB" >&2
        row "$g GiB" "$(with_tier "$topo" "$g")" "$wl"
    done
}
out=""
trace=../shared/data/mooncake-synthetic-trace.jsonl
if [ -f "$trace" ]; then
    out+=$(table "Mooncake trace, 1x (bench/calibration/mooncake.yaml)" bench/calibration/mooncake-topology.yaml \
        bench/calibration/mooncake.yaml 0 8 16 32 64 128 256 512)
    out+=$'\n'
    out+=$(table "Mooncake trace, 3x (bench/calibration/mooncake-3x.yaml)" bench/calibration/mooncake-topology.yaml \
        bench/calibration/mooncake-3x.yaml 0 32 128 512)
else
    out+="Mooncake trace: skipped, $trace is absent (docs/reference.md §9)"
fi
out+=$'\n'
out+=$(table "The llm-d ladder (bench/calibration/llmd-topology.yaml, 16 H100s)" bench/calibration/llmd-topology.yaml \
    bench/calibration/llmd-ladder.yaml 0 64)
printf '%s\n' "$out"
{
    printf '## CPU KV offload: hit rate, TTFT and throughput against the tier size (virtual time)\n\n'
    printf 'Written by `make bench-offload` on %s (scripts/bench_offload.sh: `wellpath simulate -f <topology with vllm.kvOffloadingSize: G> --workload ... --policy topology`). The tier holds the blocks the GPU evicts; a prompt block found there is loaded over the host link (PCIe Gen5, 54 GB/s per H100) instead of computed. Hit rate counts GPU and CPU hits (`cached_tokens`); the oracle is one unbounded cache every request reaches.\n%s\n' "$host" "$out"
} | scripts/doc_section.sh docs/benchmarks.md offload
