#!/usr/bin/env bash
# `make bench-pool`: a pool of 1,000 endpoints behind one gateway loop. One nginx worker
# listens on 1,000 loopback ports as 1,000 model servers (the static answers of
# bench_lib.sh's backend); the gateway scrapes their /metrics and checks their health on its
# checks thread (wp-checks), within the scrape budget. Measured, for the loop and the checks
# thread apart: their CPU with no traffic (the checks' cost alone), and 8 KB requests through
# the gateway (wrk, keep-alive, 32 connections) with 1,000 endpoints, at three scrape budgets,
# against the same with one endpoint. Writes docs/benchmarks.md (section bench-pool).
# Usage: scripts/bench_pool.sh [build-dir]   (ENDPOINTS=1000 DURATION=10s; PERF=dir records
#   `perf record -g` of the gateway under load into dir/gateway-<endpoints>.data, prints the top
#   of `perf report` and leaves docs/benchmarks.md as it is)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/wellpath
n=${ENDPOINTS:-1000}
duration=${DURATION:-10s}
perf_dir=${PERF:-}
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

# utime + stime of thread tid of process pid, in clock ticks.
task_ticks() { awk '{print $14 + $15}' "/proc/$1/task/$2/stat"; }
ms() { awk -v u="$1" 'BEGIN{printf "%.2f", u/1000}'; }
{
printf '| endpoints | scrape budget (scrapes/s) | no traffic: loop cores | no traffic: checks thread cores | req/s (8 KB, keep-alive) | p50 ms | p99 ms | p99.9 ms | loop CPU-ms / request | loop cores under load | checks thread cores under load | decision p99 within (µs) | non-2xx | socket errors |\n'
printf '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
# endpoints:budget. A budget of 1 scrape/s all but stops scraping (the decision's own cost
# with n endpoints); 2000 is the default; 0 is no limit: every endpoint every 50 ms.
for cell in 1:2000 "$n:1" "$n:2000" "$n:0"; do
    count=${cell%%:*} budget=${cell#*:}
    {
        printf 'inferenceScheduler:\n  scrapeBudget: %d\n' "$budget"
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
    # The checks' thread (wp-checks) runs beside the loop: on the load CPU, so that the loop
    # has its CPU to itself, as it would on a machine with more cores.
    ck=$(grep -l '^wp-checks$' /proc/"$gw_pid"/task/*/comm | head -1 | cut -d/ -f5)
    [ -n "$ck" ] || { echo "bench-pool: no wp-checks thread in the gateway" >&2; exit 1; }
    [ -z "$pin_load" ] || taskset -p -c 1 "$ck" >/dev/null
    sleep 1
    l0=$(task_ticks "$gw_pid" "$gw_pid") c0=$(task_ticks "$gw_pid" "$ck")
    sleep 5
    l1=$(task_ticks "$gw_pid" "$gw_pid") c1=$(task_ticks "$gw_pid" "$ck")
    idle=$(awk -v t="$((l1 - l0))" -v hz="$hz" 'BEGIN{printf "%.3f", t / hz / 5}')
    idle_ck=$(awk -v t="$((c1 - c0))" -v hz="$hz" 'BEGIN{printf "%.3f", t / hz / 5}')
    url="http://127.0.0.1:$gp/v1/completions"
    $pin_load wrk -t1 -c32 -d1s -s "$tmp/post.lua" "$url" >/dev/null 2>&1 || true
    perf_pid=""
    if [ -n "$perf_dir" ]; then
        mkdir -p "$perf_dir"
        perf record -q -g -p "$gw_pid" -o "$perf_dir/gateway-$count-$budget.data" 2>/dev/null &
        perf_pid=$!
    fi
    t0=$(task_ticks "$gw_pid" "$gw_pid") c0=$(task_ticks "$gw_pid" "$ck") w0=$(date +%s.%N)
    $pin_load wrk -t1 -c32 -d"$duration" --timeout 5s -s "$tmp/post.lua" "$url" >"$tmp/wrk.out" 2>&1 || true
    t1=$(task_ticks "$gw_pid" "$gw_pid") c1=$(task_ticks "$gw_pid" "$ck") w1=$(date +%s.%N)
    if [ -n "$perf_pid" ]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
    fi
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
    awk -v c="$count" -v b="$budget" -v idle="$idle" -v ick="$idle_ck" -v r="$r" -v s="$secs" -v t="$((t1 - t0))" -v hz="$hz" \
        -v ct="$((c1 - c0))" -v wall="$(awk -v a="$w0" -v b="$w1" 'BEGIN{print b - a}')" \
        -v p50="$(ms "$p50")" -v p99="$(ms "$p99")" -v p999="$(ms "$p999")" -v e="$non2xx" -v se="$sockerr" \
        -v dec="$dec" 'BEGIN{
        printf "| %d | %s | %s | %s | %.0f | %s | %s | %s | %.3f | %.2f | %.3f | %s | %d | %d |\n", c, (b == 0 ? "no limit" : b), idle, ick,
            r / s, p50, p99, p999, (r > 0 ? t / hz / r * 1000 : 0), t / hz / wall, ct / hz / wall, dec, e, se }'
done
} >"$tmp/table"
cat "$tmp/table"
if [ -n "$perf_dir" ]; then
    for f in "$perf_dir"/gateway-*.data; do
        echo "== $f (perf report --no-children, top 30)"
        perf report -i "$f" --no-children --stdio --percent-limit 0.7 -g none 2>/dev/null |
            grep -v '^#' | grep -v '^$' | head -30
    done
    exit 0
fi

host="$(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
{
    printf '## A pool of %s endpoints behind one gateway loop\n\n' "$n"
    printf 'Written by `make bench-pool` on %s (wellpath %s). Command:\n\n' "$host" "$(git rev-parse --short HEAD)"
    printf '```\nscripts/bench_pool.sh %s   # ENDPOINTS=%s, wrk -t1 -c32 -d%s\n```\n\n' "$build" "$n" "$duration"
    printf 'One nginx worker listens on %s loopback ports and answers as %s model servers (a fixed\n' "$n" "$n"
    printf 'completion, /health, /metrics, /v1/models); the gateway (one loop, pinned to CPU 0, the\n'
    printf 'default 50 ms scrape interval) has each port as an endpoint. Its checks (scrapes, health\n'
    printf 'and model checks) run on their own thread, wp-checks, moved to CPU 1 beside wrk and nginx\n'
    printf 'so that the loop has CPU 0 to itself, as on a machine with more cores. "no traffic": the\n'
    printf 'CPU of the loop and of the checks thread over 5 s with every endpoint in the pool and no\n'
    printf 'request. Then 8 KB completions through it, keep-alive, 32 connections: the loop'"'"'s CPU per\n'
    printf 'request and the checks thread'"'"'s cores over the run. "decision p99\n'
    printf 'within": the upper bound of the bucket of the gateway'"'"'s own\n'
    printf '`wellpath_gateway_decision_seconds` histogram that holds the 99th percentile of the run'"'"'s\n'
    printf 'decisions. The scrape budget (`inferenceScheduler.scrapeBudget`, 2,000 scrapes/s) has\n'
    printf 'the gateway scrape 100 of the 1,000 endpoints each 50 ms interval: each every 0.5 s.\n'
    printf 'The rows with %s endpoints differ only in the budget: 1 scrape/s (scraping all but off:\n' "$n"
    printf 'what the decision over %s endpoints costs by itself), the default, and no limit (every\n' "$n"
    printf 'endpoint every 50 ms, 20,000 scrapes/s), so the scrapes'"'"' own cost to the data plane is the\n'
    printf 'difference between rows. On this 2-core machine the checks thread shares CPU 1 with wrk and\n'
    printf 'nginx: where it takes a large share (no limit) the load generator, not the loop, limits the\n'
    printf 'requests per second ("loop cores under load" well below 1); the loop'"'"'s CPU per request is the\n'
    printf 'figure to compare.\n\n'
    cat "$tmp/table"
} | scripts/doc_section.sh docs/benchmarks.md bench-pool
