#!/usr/bin/env bash
# SSE throughput: how many streamed events per second `wellpath bench` consumes on one
# core, and how many the gateway forwards, measured as events per CPU-second of each
# process (so the figure does not depend on which process saturates the 2 cores).
# Usage: scripts/bench_sse.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build}/wellpath
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# A simulated server running far faster than real time: the engine is never the limit.
"$bin" sim --port 0 --time-scale 0.00001 --max-num-seqs 512 --log-level warn >"$tmp/sim.out" &
pids+=($!)
for _ in $(seq 100); do grep -q ports= "$tmp/sim.out" && break; sleep 0.1; done
port=$(sed -n 's/.*ports=\([0-9]*\).*/\1/p' "$tmp/sim.out")
printf 'endpoints:\n  - url: http://127.0.0.1:%s\n    name: sim\n' "$port" >"$tmp/gw.yaml"
"$bin" gateway -f "$tmp/gw.yaml" --listen 127.0.0.1:0 --log-level warn 2>"$tmp/gw.err" &
gw=$!
pids+=($gw)
for _ in $(seq 100); do grep -q 'gateway listening' "$tmp/gw.err" && break; sleep 0.1; done
gwport=$(sed -n 's/.*addr=127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/gw.err")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$gwport/health" >/dev/null && break; sleep 0.1; done

run() { # label, target; prints events, wall seconds, bench CPU seconds
    local out="$tmp/$1.json" t0 t1
    TIMEFORMAT='%U %S'
    { time "$bin" bench --target "$2" --type random --set input_len=64 --set output_len=2000 \
        --concurrency 64 --num-requests 256 --json "$out" --quiet >/dev/null; } 2>"$tmp/$1.time"
    awk -v f="$out" 'BEGIN { while ((getline l < f) > 0) { if (l ~ /"output_tokens_per_s"/ && !o) { gsub(/[^0-9.e+]/, "", l); o = l }
                      if (l ~ /"requests_per_s"/ && !r) { gsub(/[^0-9.e+]/, "", l); r = l } } print o, r }'
    cat "$tmp/$1.time"
}

echo "target: one simulated server (time scale 1e-5); workload: 256 requests x 2000 streamed tokens, 64 in flight"
read -r direct_tps _ < <(run direct "http://127.0.0.1:$port" | head -1)
read -r bu bs < "$tmp/direct.time"
echo "bench -> sim directly: $(printf '%.0f' "$direct_tps") events/s wall; bench CPU $(awk -v u="$bu" -v s="$bs" 'BEGIN{print u+s}') s for 512000 events: $(awk -v u="$bu" -v s="$bs" 'BEGIN{printf "%.0f", 512000/(u+s)}') events per bench CPU-second"
g0=$(cpu_ticks "$gw")
read -r gw_tps _ < <(run viagw "http://127.0.0.1:$gwport" | head -1)
g1=$(cpu_ticks "$gw")
read -r bu bs < "$tmp/viagw.time"
gcpu=$(awk -v a="$g0" -v b="$g1" -v hz="$hz" 'BEGIN{print (b-a)/hz}')
echo "bench -> gateway -> sim: $(printf '%.0f' "$gw_tps") events/s wall; gateway CPU $gcpu s: $(awk -v c="$gcpu" 'BEGIN{printf "%.0f", 512000/c}') events forwarded per gateway CPU-second; bench $(awk -v u="$bu" -v s="$bs" 'BEGIN{printf "%.0f", 512000/(u+s)}') events per bench CPU-second"
