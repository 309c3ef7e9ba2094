#!/usr/bin/env bash
# `make bench-wide-ep`: Path 3 in virtual time. The wide-EP model's calibration against the
# published figures (docs/calibration.md), then three comparisons in docs/benchmarks.md:
# aggregated TP against wide-EP on the same 16 GPUs, rank-aware against rank-blind routing
# in front of a lock-step group, and EPLB on against off. Each section carries its command.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/wellpath
dir=bench/wide-ep
host="$(nproc) cores, $(date -u +%Y-%m-%d)"
section() { # file, name, title, note, command...
    local file=$1 name=$2 title=$3 note=$4 out
    shift 4
    echo "running: $*" >&2
    out=$("$@" 2>&1 | sed 's/ picks=.*//')
    printf '%s\n\n' "$out"
    printf '## %s\n\nWritten by `make bench-wide-ep` on %s. %s Command:\n\n```\n%s\n```\n\n```\n%s\n```\n' \
        "$title" "$host" "$note" "$*" "$out" | scripts/doc_section.sh "$file" "$name"
}
sim() { # topology, workload, extra flags...
    local topo=$1 wl=$2
    shift 2
    "$bin" simulate -f "$topo" --workload "$wl" --quiet "$@"
}

# The calibration tables go inside docs/calibration.md's "Wide-EP (Path 3)" section.
echo "running: $build/ep_calibration" >&2
cal=$("$build/ep_calibration")
printf '%s\n\n' "$cal"
printf 'Written by `make bench-wide-ep` on %s (`%s`):\n\n%s\n' "$host" "$build/ep_calibration" "$cal" |
    scripts/doc_section.sh docs/calibration.md wide-ep-calibration

guide() {
    echo "B200 (the guide: about 50k output tokens/s in all, about 3.1k per decode GPU)"
    sim $dir/seed-b200.yaml $dir/guide-1k1k.yaml
    echo
    echo "H200 (vLLM's post on llm-d: about 2.2k output tokens/s per H200)"
    sim topologies/wide-ep.yaml $dir/guide-1k1k.yaml
}
section docs/calibration.md wide-ep-sim "Wide-EP: the whole simulator at full size against the guide's figure (DeepSeek-R1, 16 prefill + 16 decode ranks, 1k/1k)" \
    "The seed topology run by \`wellpath simulate\` (engines, lock-step groups, P/D, gateway): per decode GPU = out tok/s / 16." guide

tp_vs_ep() {
    echo "aggregated: 2 replicas x TP8"
    sim $dir/agg-tp8.yaml $dir/throughput.yaml
    echo
    echo "wide-EP: one group of 16 data-parallel ranks"
    sim $dir/wide-ep16.yaml $dir/throughput.yaml
}
section docs/benchmarks.md wide-ep-tp "Aggregated TP against wide-EP at equal GPU count (DeepSeek-R1, 16 H200, 1k/1k)" \
    "Output tokens/s per GPU = out tok/s / 16." tp_vs_ep

routing() {
    echo "rank-blind: prefix-aware 100 + load-aware 50"
    sim $dir/wide-ep32-blind.yaml $dir/mixed.yaml
    echo
    echo "rank-aware: prefix-aware 100 + load-aware 50 + rank-balance 100"
    sim $dir/wide-ep32-aware.yaml $dir/mixed.yaml
}
section docs/benchmarks.md wide-ep-routing "Rank-aware against rank-blind routing in front of wide-EP groups (DeepSeek-R1, the seed's prefill and decode groups of 16 H200 each, 0.5k-16k tokens in)" \
    "The group steps at its slowest rank's pace, so a rank that gets the long prompts slows all 16." routing

eplb() {
    echo "EPLB on (epImbalance at its calibrated value)"
    sim $dir/wide-ep16.yaml $dir/throughput.yaml
    echo
    echo "EPLB off"
    sim $dir/wide-ep16-eplb-off.yaml $dir/throughput.yaml
}
section docs/benchmarks.md wide-ep-eplb "EPLB on against off (DeepSeek-R1, 16 H200, 1k/1k)" \
    "Without expert load balancing the busiest rank's experts get more of the routed tokens, and every rank waits for it." eplb
