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
port=$(sed -n 's/.* ports=\([0-9]*\).*/\1/p' "$tmp/sim.out") # not kv_ports=
printf 'endpoints:\n  - url: http://127.0.0.1:%s\n    name: sim\n' "$port" >"$tmp/gw.yaml"
"$bin" gateway -f "$tmp/gw.yaml" --listen 127.0.0.1:0 2>"$tmp/gw.err" &
gw=$!
pids+=($gw)
for _ in $(seq 100); do grep -q 'gateway listening' "$tmp/gw.err" && break; sleep 0.1; done
gwport=$(sed -n 's/.*addr=127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/gw.err")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$gwport/health" >/dev/null && break; sleep 0.1; done

# Runs one bench; prints "events wall_seconds bench_cpu_seconds".
run() { # label, target
    local out="$tmp/$1.json"
    TIMEFORMAT='%U %S'
    { time "$bin" bench --target "$2" --type random --set input_len=64 --set output_len=2000 \
        --concurrency 64 --num-requests 256 --json "$out" --quiet >/dev/null; } 2>"$tmp/$1.time"
    node -e '
        const m = JSON.parse(require("fs").readFileSync(process.argv[1])).runs[0].summary;
        const [u, s] = require("fs").readFileSync(process.argv[2], "utf8").trim().split(/\s+/).map(Number);
        const events = m.output_tokens_per_s / m.requests_per_s * m.completed;
        console.log(events.toFixed(0), (events / m.output_tokens_per_s).toFixed(2), (u + s).toFixed(2));
    ' "$out" "$tmp/$1.time"
}

echo "target: one simulated server (time scale 1e-5); workload: 256 requests x 2000 streamed tokens, 64 in flight"
read -r ev wall bcpu < <(run direct "http://127.0.0.1:$port")
echo "bench -> sim: $ev events in $wall s ($(awk -v e="$ev" -v w="$wall" 'BEGIN{printf "%.0f", e/w}') events/s); bench used $bcpu CPU-s: $(awk -v e="$ev" -v c="$bcpu" 'BEGIN{printf "%.0f", e/c}') events per bench CPU-second"
g0=$(cpu_ticks "$gw")
read -r ev wall bcpu < <(run viagw "http://127.0.0.1:$gwport")
g1=$(cpu_ticks "$gw")
gcpu=$(awk -v a="$g0" -v b="$g1" -v hz="$hz" 'BEGIN{printf "%.2f", (b-a)/hz}')
echo "bench -> gateway -> sim: $ev events in $wall s ($(awk -v e="$ev" -v w="$wall" 'BEGIN{printf "%.0f", e/w}') events/s); gateway used $gcpu CPU-s: $(awk -v e="$ev" -v c="$gcpu" 'BEGIN{printf "%.0f", e/c}') events forwarded per gateway CPU-second; bench $(awk -v e="$ev" -v c="$bcpu" 'BEGIN{printf "%.0f", e/c}') per bench CPU-second"
