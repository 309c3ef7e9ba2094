#!/usr/bin/env bash
# `make bench-simulate`: the virtual-time simulator's figures, each in its own section of
# docs/benchmarks.md with its command: the calibration against the published llm-d
# benchmark (also written into docs/calibration.md), the llm-d ladder's speed, and our
# scheduling policy against the peers' on the shared-prefix ladder, the scaled Path 1
# workload and the Mooncake trace (skipped, saying why, where the trace is absent: it is not
# in the repository; bench/calibration/mooncake.yaml names where CI keeps it).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/wellpath
peers=round-robin,random,load-aware,llm-d,sglang-cache-aware,dynamo-kv,topology
host="$(nproc) cores, $(date -u +%Y-%m-%d)"
emit() { # fence around the output ("```" or "" for a markdown table), name, title, note, command...
    local fence=$1 name=$2 title=$3 note=$4 out
    shift 4
    echo "running: $*" >&2
    out=$("$@" 2>&1)
    printf '%s\n\n' "$out"
    printf '## %s\n\nWritten by `make bench-simulate` on %s. %s Command:\n\n```\n%s\n```\n\n%s\n%s\n%s\n' \
        "$title" "$host" "$note" "$*" "$fence" "$out" "$fence" | scripts/doc_section.sh docs/benchmarks.md "$name"
}
section() { emit '```' "$@"; }
table() { emit '' "$@"; }
# The calibration: the guide's scheduler (`topology` of llmd-guide-topology.yaml) and the
# Kubernetes Service (`random`, as kube-proxy picks) on the ladder as inference-perf runs it;
# round-robin beside them for the Service read as IPVS.
echo "running: calibration" >&2
"$bin" simulate -f bench/calibration/llmd-guide-topology.yaml --workload bench/calibration/llmd-ladder.yaml \
    --policies topology,random,round-robin --quiet --json "$build/sim-calibration.json" >/dev/null
table=$(scripts/calibration_table.sh "$build/sim-calibration.json" topology random)
rr=$(scripts/calibration_table.sh "$build/sim-calibration.json" topology round-robin |
    awk -F'|' 'NR > 2 && NR < 9 { printf "\n-%s:%s (error%s)", $2, $7, $8 }')
printf '%s\n\n' "$table"
cal_cmd="$bin simulate -f bench/calibration/llmd-guide-topology.yaml --workload bench/calibration/llmd-ladder.yaml --policies topology,random,round-robin --json $build/sim-calibration.json; scripts/calibration_table.sh $build/sim-calibration.json"
for doc in docs/benchmarks.md docs/calibration.md; do
    printf '## Calibration: the llm-d inference-scheduling benchmark, published against simulated\n\nWritten by `make bench-simulate` on %s. Command:\n\n```\n%s\n```\n\n%s\n\nThe Service read as round-robin (IPVS) instead of random, 60 QPS stage:%s\n' \
        "$host" "$cal_cmd" "$table" "$rr" |
        scripts/doc_section.sh "$doc" sim-calibration
done
section sim-speed "Virtual-time simulator: the llm-d ladder (16 H100s, 17,084 requests) on one core" \
    "One policy; the stderr line gives events, engine steps and the wall time." \
    "$bin" simulate -f bench/calibration/llmd-topology.yaml --workload bench/calibration/llmd-ladder.yaml \
    --policy topology --quiet
section sim-speed-2x "Virtual-time simulator: the ladder at twice the length (34k requests), whole command timed" \
    "The time line is bash's: wall, user and system seconds of the whole command, report included." \
    bash -c "TIMEFORMAT='time: %R s wall, %U s user, %S s system'; time $bin simulate -f bench/calibration/llmd-topology.yaml --workload bench/calibration/llmd-ladder-2x.yaml --policy topology --quiet >/dev/null"
section sim-peers-ladder "Policies side by side, simulated: the llm-d shared-prefix ladder (3 -> 60 QPS)" \
    "\`topology\` is ours: prefix-aware 100 + load-aware 25 + cache-headroom 10 + prefill-queue 50 (bench/calibration/llmd-topology.yaml)." \
    "$bin" simulate -f bench/calibration/llmd-topology.yaml --workload bench/calibration/llmd-ladder.yaml \
    --policies "$peers" --quiet --json "$build/sim-ladder.json"
# Flow control (gateway.flowControl) on the same ladder: requests wait at the gateway while
# every replica is saturated instead of being preempted in the engines.
{ cat bench/calibration/llmd-topology.yaml
  printf 'gateway:\n  flowControl:\n    enabled: true\n    queueTimeoutMs: 3600000\n'; } >"$build/llmd-topology-flow.yaml"
section sim-flow-ladder "Flow control, simulated: the llm-d ladder with and without the gateway's waiting room" \
    "\`build/llmd-topology-flow.yaml\` is bench/calibration/llmd-topology.yaml plus \`gateway.flowControl: {enabled: true, queueTimeoutMs: 3600000}\` (the default saturation thresholds: queue depth 5, KV 0.8); compare with the \`topology\` rows of the ladder above." \
    "$bin" simulate -f "$build/llmd-topology-flow.yaml" --workload bench/calibration/llmd-ladder.yaml --policy topology --quiet
section sim-peers-path1 "Policies side by side, simulated: the scaled Path 1 workload of make bench-path1" \
    "Same topology and workload files as the live run: \`topology\` is the guide's prefix-aware 100 + load-aware 50." \
    "$bin" simulate -f bench/path1/topology.yaml --workload bench/path1/workload.yaml --policies "$peers" --quiet
trace=../shared/data/mooncake-synthetic-trace.jsonl # bench/calibration/mooncake.yaml's path
if [ -f "$trace" ]; then
    section sim-peers-trace "Policies side by side, simulated: the Mooncake trace replay" \
        "8 x Qwen3-8B with a 128k context on H100; \`topology\` is ours as on the ladder (bench/calibration/mooncake-topology.yaml)." \
        "$bin" simulate -f bench/calibration/mooncake-topology.yaml --workload bench/calibration/mooncake.yaml \
        --policies "$peers" --quiet --json "$build/sim-trace.json"
    section sim-peers-trace-3x "Policies side by side, simulated: the Mooncake trace at three times its speed" \
        "The same pool and trace, arrivals three times as fast (bench/calibration/mooncake-3x.yaml): the pool is loaded, so output tokens/s depends on the policy too." \
        "$bin" simulate -f bench/calibration/mooncake-topology.yaml --workload bench/calibration/mooncake-3x.yaml \
        --policies "$peers" --quiet --json "$build/sim-trace-3x.json"
    table sim-peers-trace-load "Policies side by side, simulated: the Mooncake trace as load grows" \
        "Each row one run of the trace at that speed (\`--set speed=S\`); ours (\`topology\`) against the two best peers and load-aware. Arrival-bound at 1x and 2x (every policy serves the offered load)." \
        scripts/policy_load_table.sh "$bin" bench/calibration/mooncake-topology.yaml bench/calibration/mooncake.yaml \
        "1 2 2.5 3 3.5 4" topology,llm-d,sglang-cache-aware,load-aware
else
    echo "skipping the Mooncake trace sections: $trace is absent (a copy of kvcache-ai/Mooncake FAST25-release/traces/synthetic_trace.jsonl; docs/reference.md §9)" >&2
fi
