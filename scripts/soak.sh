#!/usr/bin/env bash
# make soak: load for a set time against `wellpath up` (gateway + simulated pool, with flow
# control, an in-flight limit and outlier detection on), sampling the resident memory of
# the gateway process and of the simulator child every few seconds, while the simulator
# injects 503s (1 %) and latency spikes (2 %) that the gateway must hide. Reports the requests,
# the failures by kind (from bench's JSON report) and the memory growth between the end of
# the warm-up (the first fifth of the run) and the end, then writes its section of
# docs/benchmarks.md. Exit 1 when a request failed for a reason other than a 429 shed, or
# when the gateway or the simulator died.
#
# Usage: scripts/soak.sh BUILD_DIR [SECONDS] [RATE]   (make soak SOAK_SECONDS=N SOAK_RATE=R)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
seconds=${2:-300}
rate=${3:-40}
bin=$build/wellpath
work=$(mktemp -d)
up_pid=""
cleanup() {
    [ -n "$up_pid" ] && kill "$up_pid" 2>/dev/null && wait "$up_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/topology.yaml" <<'YAML'
model: qwen3-8b
gpu: h100
vllm: {replicas: 4, tensorParallel: 1, prefixCaching: true}
inferenceScheduler:
  # A small prefix LRU fills during the warm-up, so that any growth after it is not the
  # index's (it is bounded, and reported apart).
  prefixLruBlocks: 4096
  scorers:
    - {type: prefix-aware, weight: 100}
    - {type: load-aware, weight: 50}
gateway:
  maxInFlightPerEndpoint: 64
  flowControl: {enabled: true, maxQueue: 512, queueTimeoutMs: 10000}
  outlierDetection: {consecutiveFailures: 5}
simulation:
  basePort: 0
  timeScale: 0.2
  # Faults the client should never see: a 503 now and then (retried on another replica
  # before the first byte) and latency spikes.
  faults: ["503:0.01", "latency:0.02,ms=200"]
YAML

"$bin" up -f "$work/topology.yaml" --listen 127.0.0.1:0 --log-level warn >"$work/up.out" 2>"$work/up.err" &
up_pid=$!
for _ in $(seq 1 300); do
    grep -q '^wellpath up: ready' "$work/up.out" && break
    kill -0 "$up_pid" 2>/dev/null || { cat "$work/up.err" >&2; echo "soak: wellpath up died" >&2; exit 1; }
    sleep 0.1
done
url=$(sed -n 's|^wellpath up: ready gateway=\(http://[^ ]*\)/v1 .*|\1|p' "$work/up.out")
[ -n "$url" ] || { echo "soak: no ready line from wellpath up" >&2; exit 1; }
sim_pid=$(pgrep -P "$up_pid" | head -n1)

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# Sum of a gateway counter family's samples.
counter() {
    node -e 'fetch(process.argv[1] + "/metrics").then((r) => r.text()).then((t) => console.log(
        t.split("\n").filter((l) => l.startsWith(process.argv[2])).reduce((s, l) => s + Number(l.split(" ").pop()), 0)))' "$url" "$1"
}
index_kib() { echo $(($(counter "wellpath_gateway_prefix_index_bytes ") / 1024)); }
"$bin" bench --target "$url" --type shared_prefix --set num_groups=40 --set num_prompts_per_group=50 \
    --set system_prompt_len=1500 --set question_len=200 --set output_len=60 \
    --rate "$rate" --duration "$seconds" --timeout 60 --json "$work/report.json" --quiet \
    >"$work/bench.out" 2>"$work/bench.err" &
bench_pid=$!
echo "t_s,gateway_rss_kib,sim_rss_kib,prefix_index_kib,in_flight" >"$work/rss.csv"
start=$(date +%s)
while kill -0 "$bench_pid" 2>/dev/null; do
    echo "$(($(date +%s) - start)),$(rss "$up_pid"),$(rss "$sim_pid"),$(index_kib),$(counter "wellpath_gateway_in_flight ")" >>"$work/rss.csv"
    sleep 5
done
wait "$bench_pid" || { cat "$work/bench.err" >&2; echo "soak: bench failed" >&2; exit 1; }
echo "$(($(date +%s) - start)),$(rss "$up_pid"),$(rss "$sim_pid"),$(index_kib),$(counter "wellpath_gateway_in_flight ")" >>"$work/rss.csv"
alive=1
kill -0 "$up_pid" 2>/dev/null || alive=0
kill -0 "$sim_pid" 2>/dev/null || alive=0
shed=$(counter wellpath_gateway_shed_total)
retries=$(counter "wellpath_gateway_retries_total ")
cp "$work/rss.csv" "$build/soak-rss.csv"
cp "$work/report.json" "$build/soak-report.json"

summary=$(node - "$work/report.json" "$work/rss.csv" "$seconds" "$rate" "$alive" "$shed" "$retries" <<'JS'
const fs = require('fs');
const [report, csv, seconds, rate, alive, shed, retries] = process.argv.slice(2);
const r = JSON.parse(fs.readFileSync(report, 'utf8'));
const o = r.runs[0].summary;
const rows = fs.readFileSync(csv, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
const warm = rows.find((x) => x[0] >= Number(seconds) / 5) || rows[0];
const last = rows[rows.length - 1];
const mib = (k) => (k / 1024).toFixed(1);
const growth = (i) => `${mib(warm[i])} -> ${mib(last[i])} MiB (${warm[i] ? (((last[i] - warm[i]) / warm[i]) * 100).toFixed(1) : '-'} %)`;
const f = o.failures;
const other = Object.entries(f).filter(([k]) => k !== 'http_4xx').reduce((s, [, v]) => s + v, 0);
console.log(`soak: ${seconds} s at ${rate} req/s (Poisson), ${o.requests} requests, ${o.completed} completed, ${o.failed} failed`);
console.log(`failures: ${JSON.stringify(f)}; shed with 429 by the gateway: ${shed}; retried after an injected fault: ${retries}`);
console.log(`gateway RSS after warm-up -> end: ${growth(1)}; of it the prefix index (bounded by its LRUs): ${growth(3)}`);
console.log(`gateway RSS growth not explained by the prefix index: ${mib(last[1] - warm[1] - (last[3] - warm[3]))} MiB`);
console.log(`simulator RSS after warm-up -> end: ${growth(2)}`);
console.log(`processes alive at the end: ${alive === '1' ? 'yes' : 'NO'}; most requests in flight at a sample: ${Math.max(...rows.map((x) => x[4]))}`);
console.log(`TTFT p50 ${(o.ttft_s.p50 * 1000).toFixed(1)} ms, p99 ${(o.ttft_s.p99 * 1000).toFixed(1)} ms; ${o.requests_per_s.toFixed(1)} req/s`);
process.exitCode = other > 0 || f.http_4xx > Number(shed) || alive !== '1' ? 1 : 0;
JS
) || status=$?
printf '%s\n' "$summary"
{
    printf '## Soak\n\nWritten by `make soak` on %s, %s cores: `scripts/soak.sh %s %s %s` (the\n' \
        "$(date -u +%Y-%m-%d)" "$(nproc)" "$build" "$seconds" "$rate"
    printf 'embedded topology in the script: 4 simulated Qwen3-8B replicas at time scale 0.2, a prefix\n'
    printf 'LRU of 4096 blocks per endpoint (full after the warm-up), flow\n'
    printf 'control, an in-flight limit of 64 and outlier detection on; the simulator injects 503s\n'
    printf 'into 1 %% of requests and 200 ms latency spikes into 2 %%). RSS samples every 5 s are in\n'
    printf '`%s/soak-rss.csv`.\n\n```\n%s\n```\n' "$build" "$summary"
} | scripts/doc_section.sh docs/benchmarks.md soak
exit "${status:-0}"
