#!/usr/bin/env bash
# `make bench-streams`: N (default 10,000) SSE streams held at once through one gateway loop.
# Eight simulated Qwen3-8B servers (one `wellpath sim` process, --time-scale 5 so that tokens
# come about every quarter second and the two cores keep up), the gateway in front
# (gateway.maxConnections above N), and `wellpath bench` holding N requests in flight (a
# closed loop of N, each asking for 100 tokens of a 64-token prompt, every request
# streamed). Reported: failures, the gateway's peak RSS (VmHWM) and open-file limit, TTFT,
# ITL, and each stream's largest gap between two tokens over the streams (p50, p99 and the
# largest): a starved stream would show there. Writes docs/benchmarks.md (section
# bench-streams).
# Each stream holds two of the gateway's descriptors: where the hard open-file limit is
# below 2 × (STREAMS + 32) + 1,024 and cannot be raised, STREAMS defaults to what fits.
# Usage: scripts/bench_streams.sh [build-dir]   (STREAMS=10000)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/wellpath
hard=$(ulimit -Hn)
fit=$(( hard == 0 ? 10000 : (hard - 1024) / 2 - 32 ))
[ "$hard" = unlimited ] && fit=10000
streams=${STREAMS:-$((fit < 10000 ? fit : 10000))}
[ -x "$bin" ] || { echo "bench-streams: $bin not built (make build)" >&2; exit 1; }

. scripts/bench_lib.sh

# Eight servers on consecutive ports (the first one free), each with room for its share.
replicas=8
per=$(((streams + replicas - 1) / replicas + 64))
base=$(free_ports "$replicas")
"$bin" sim --replicas "$replicas" --port "$base" --time-scale 5 --max-num-seqs "$per" \
    --log-level warn 2>"$tmp/sim.err" &
pids+=($!)
for k in $(seq 0 $((replicas - 1))); do wait_http "http://127.0.0.1:$((base + k))/health" "sim"; done

gp=$(free_port)
{
    printf 'gateway:\n  maxConnections: %d\n' "$((streams + 32))"
    printf 'endpoints:\n'
    for k in $(seq 0 $((replicas - 1))); do
        printf '  - url: http://127.0.0.1:%d\n    name: sim-%d\n' "$((base + k))" "$k"
    done
} >"$tmp/gw.yaml"
"$bin" gateway -f "$tmp/gw.yaml" --listen "127.0.0.1:$gp" --log-level info 2>"$tmp/gw.err" &
gw_pid=$!
pids+=($gw_pid)
wait_http "http://127.0.0.1:$gp/health" "gateway: $(cat "$tmp/gw.err")"
limit=$(awk '/Max open files/ {print $4}' "/proc/$gw_pid/limits")

t0=$(date +%s.%N)
"$bin" bench --target "http://127.0.0.1:$gp" --type random --set input_len=64 --set output_len=100 \
    --concurrency "$streams" --num-requests "$streams" --timeout 120 --quiet --json "$tmp/report.json" \
    >"$tmp/bench.out" 2>"$tmp/bench.err" || { echo "bench-streams: wellpath bench failed: $(tail -5 "$tmp/bench.err")" >&2; exit 1; }
t1=$(date +%s.%N)
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$gw_pid/status")
python3 - "$tmp/report.json" "$hwm" "$limit" "$streams" "$t0" "$t1" >"$tmp/table" <<'PY'
import json, sys
rep, hwm_kb, limit, streams, t0, t1 = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
m = json.load(open(rep))["runs"][0]["summary"]
ms = lambda v: "-" if v is None else f"{v * 1000:.0f}"
print("| streams | completed | failed | gateway peak RSS | open-file limit | TTFT p50 / p99 ms | ITL p50 / p99 ms | largest gap per stream p50 / p99 / max ms | run s |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
print(f"| {streams} | {m['completed']} | {m['failed']} | {hwm_kb / 1024:.0f} MiB | {limit} | "
      f"{ms(m['ttft_s']['p50'])} / {ms(m['ttft_s']['p99'])} | {ms(m['itl_s']['p50'])} / {ms(m['itl_s']['p99'])} | "
      f"{ms(m['max_itl_s']['p50'])} / {ms(m['max_itl_s']['p99'])} / {ms(m['max_itl_max_s'])} | {t1 - t0:.0f} |")
PY
cat "$tmp/table"
grep -E '"open files"|open-file limit' "$tmp/gw.err" | head -n 2 >&2 || true

host="$(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
{
    printf '## Ten thousand streams through one gateway loop\n\n'
    printf 'Written by `make bench-streams` on %s (wellpath %s). Command:\n\n' "$host" "$(git rev-parse --short HEAD)"
    printf '```\nscripts/bench_streams.sh %s   # STREAMS=%s\n```\n\n' "$build" "$streams"
    printf '`wellpath bench` holds %s requests in flight at once (closed loop, one request each,\n' "$streams"
    printf '64-token prompts, 100 streamed tokens) through one gateway (one loop,\n'
    printf '`gateway.maxConnections: %s`) to eight simulated Qwen3-8B H100 servers in one `wellpath sim`\n' "$((streams + 32))"
    printf 'process at `--time-scale 5` (`--max-num-seqs %s` each), all on this machine. The gateway\n' "$per"
    printf 'raises its open-file limit at start to twice `maxConnections` plus 1,024 (or says it\n'
    printf 'cannot); "open-file limit" is what it runs with. Peak RSS: VmHWM of the gateway process.\n'
    printf 'Largest gap per stream: each completed stream'"'"'s longest wait between two tokens, over\n'
    printf 'the streams (`max_itl_s` and `max_itl_max_s` of the bench report). Goals (issue 19): RSS\n'
    printf 'under 1 GiB, no stream starved.\n\n'
    printf 'Each stream holds two of the gateway'"'"'s file descriptors (client and upstream), so N\n'
    printf 'streams need a limit above 2N: on a machine whose hard limit is 20,000 and that does not\n'
    printf 'grant CAP_SYS_RESOURCE (this one), one gateway process holds at most about 9,950; the\n'
    printf 'gateway says so at start (`open-file limit below what gateway.maxConnections needs`).\n\n'
    cat "$tmp/table"
} | scripts/doc_section.sh docs/benchmarks.md bench-streams
