#!/usr/bin/env bash
# `make bench-pool`: a pool of 1,000 endpoints behind one gateway loop. One nginx worker
# listens on 1,000 loopback ports as 1,000 model servers (the static answers of
# bench_lib.sh's backend); the gateway scrapes every endpoint's /metrics each
# scrapeIntervalMs (50 ms: 20,000 scrapes/s) and checks their health. Measured: the
# gateway's CPU with no traffic (the scrape cost alone), and 8 KB requests through it (wrk,
# keep-alive, 32 connections) with 1,000 endpoints against the same with one endpoint.
# Writes docs/benchmarks.md (section bench-pool).
# Usage: scripts/bench_pool.sh [build-dir]   (ENDPOINTS=1000 DURATION=10s)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/wellpath
n=${ENDPOINTS:-1000}
duration=${DURATION:-10s}
[ -x "$bin" ] || { echo "bench-pool: $bin not built (make build)" >&2; exit 1; }
. scripts/bench_lib.sh
need_tools nginx wrk
model="Qwen/Qwen3-8B"

# n consecutive free ports.
base=$(free_ports "$n")
start_static_backend "$tmp/be" "$base" "$model"
# The same server on every port: add the other listen lines and reload by restarting.
kill "${pids[-1]}" && wait "${pids[-1]}" 2>/dev/null || true
unset 'pids[-1]'
listens=""
for k in $(seq 1 $((n - 1))); do listens+="        listen 127.0.0.1:$((base + k));\n"; done
sed -i "s|        listen 127.0.0.1:$base backlog=4096;|        listen 127.0.0.1:$base backlog=4096;\n$listens|" "$tmp/be/nginx.conf"
$pin_load nginx -p "$tmp/be" -e "$tmp/be/error.log" -c "$tmp/be/nginx.conf" &
pids+=($!)
wait_http "http://127.0.0.1:$((base + n - 1))/health" "nginx on $n ports"

wrk_post_lua "$tmp/body.json" >"$tmp/post.lua"
python3 - "$model" >"$tmp/body.json" <<'PY'
import json, sys
words = "the quick brown fox jumps over the lazy dog and keeps running through the field "
body = {"model": sys.argv[1], "prompt": "", "max_tokens": 1}
body["prompt"] = (words * 120)[: 8192 - len(json.dumps(body))]
sys.stdout.write(json.dumps(body))
PY

ms() { awk -v u="$1" 'BEGIN{printf "%.2f", u/1000}'; }
{
printf '| endpoints | gateway cores, no traffic | req/s (8 KB, keep-alive) | p50 ms | p99 ms | p99.9 ms | CPU-ms / request | decision p99 within (µs) | non-2xx | socket errors |\n'
printf '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for count in 1 "$n"; do
    {
        printf 'endpoints:\n'
        for k in $(seq 0 $((count - 1))); do printf '  - {url: "http://127.0.0.1:%d", name: e%d}\n' "$((base + k))" "$k"; done
    } >"$tmp/gw.yaml"
    gp=$(free_port)
    $pin_gw "$bin" gateway -f "$tmp/gw.yaml" --listen "127.0.0.1:$gp" --log-level warn 2>"$tmp/gw.err" &
    gw_pid=$!
    wait_http "http://127.0.0.1:$gp/health" "gateway ($count endpoints): $(cat "$tmp/gw.err")"
    # Every endpoint in the pool before measuring.
    for _ in $(seq 300); do
        ready=$(curl -s "http://127.0.0.1:$gp/metrics" | awk '/^wellpath_endpoint_healthy/ && $NF == 1 {k++} END {print k + 0}')
        [ "$ready" -ge "$count" ] && break
        sleep 0.1
    done
    sleep 1
    t0=$(cpu_ticks "$gw_pid")
    sleep 5
    t1=$(cpu_ticks "$gw_pid")
    idle=$(awk -v t="$((t1 - t0))" -v hz="$hz" 'BEGIN{printf "%.3f", t / hz / 5}')
    url="http://127.0.0.1:$gp/v1/completions"
    $pin_load wrk -t1 -c32 -d1s -s "$tmp/post.lua" "$url" >/dev/null 2>&1 || true
    t0=$(cpu_ticks "$gw_pid")
    $pin_load wrk -t1 -c32 -d"$duration" --timeout 5s -s "$tmp/post.lua" "$url" >"$tmp/wrk.out" 2>&1 || true
    t1=$(cpu_ticks "$gw_pid")
    # The live decision time: the bucket of wellpath_gateway_decision_seconds holding p99.
    dec=$(curl -s "http://127.0.0.1:$gp/metrics" | python3 -c '
import re, sys
b = [(float(m.group(1)), float(m.group(2))) for m in
     re.finditer(r"^wellpath_gateway_decision_seconds_bucket\{le=\"([^\"]+)\"\} (\S+)", sys.stdin.read(), re.M)]
total = b[-1][1] if b else 0
print(next((f"{le * 1e6:g}" for le, c in b if total and c >= 0.99 * total), "-"))')
    kill "$gw_pid"
    wait "$gw_pid" 2>/dev/null || true
    read -r _ r secs p50 p99 p999 non2xx sockerr < <(grep '^RESULT' "$tmp/wrk.out") ||
        { echo "bench-pool: wrk failed: $(cat "$tmp/wrk.out")" >&2; exit 1; }
    awk -v c="$count" -v idle="$idle" -v r="$r" -v s="$secs" -v t="$((t1 - t0))" -v hz="$hz" \
        -v p50="$(ms "$p50")" -v p99="$(ms "$p99")" -v p999="$(ms "$p999")" -v e="$non2xx" -v se="$sockerr" \
        -v dec="$dec" 'BEGIN{
        printf "| %d | %s | %.0f | %s | %s | %s | %.3f | %s | %d | %d |\n", c, idle, r / s, p50, p99, p999,
            (r > 0 ? t / hz / r * 1000 : 0), dec, e, se }'
done
} >"$tmp/table"
cat "$tmp/table"

host="$(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
{
    printf '## A pool of %s endpoints behind one gateway loop\n\n' "$n"
    printf 'Written by `make bench-pool` on %s (wellpath %s). Command:\n\n' "$host" "$(git rev-parse --short HEAD)"
    printf '```\nscripts/bench_pool.sh %s   # ENDPOINTS=%s, wrk -t1 -c32 -d%s\n```\n\n' "$build" "$n" "$duration"
    printf 'One nginx worker listens on %s loopback ports and answers as %s model servers (a fixed\n' "$n" "$n"
    printf 'completion, /health, /metrics, /v1/models); the gateway (one loop, pinned to CPU 0, the\n'
    printf 'default 50 ms scrape interval) has each port as an endpoint. "no traffic": the gateway'"'"'s\n'
    printf 'CPU over 5 s with every endpoint in the pool and no request, i.e. the scrapes and health\n'
    printf 'checks alone. Then 8 KB completions through it, keep-alive, 32 connections. "decision p99\n'
    printf 'within": the upper bound of the bucket of the gateway'"'"'s own\n'
    printf '`wellpath_gateway_decision_seconds` histogram that holds the 99th percentile of the run'"'"'s\n'
    printf 'decisions. The scrape budget (`inferenceScheduler.scrapeBudget`, 2,000 scrapes/s) has\n'
    printf 'the gateway scrape 100 of the 1,000 endpoints each 50 ms interval: each every 0.5 s.\n\n'
    cat "$tmp/table"
} | scripts/doc_section.sh docs/benchmarks.md bench-pool
