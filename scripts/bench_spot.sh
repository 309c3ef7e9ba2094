#!/usr/bin/env bash
# `make bench-spot`: spot capacity against on-demand, in virtual time (des/spot.c), with
# the cost report (report/cost.h). The scaled Path 1 pool (bench/path1/topology.yaml: 4 x
# Qwen3-8B on H100, TP 1) under a steady shared-prefix load of 8 requests/s for one hour,
# once on demand and once on spot at each interruption rate: the published bands and
# limits (docs/cost-levers.md, "Spot capacity", says where each comes from), then rates
# far above them to show where attainment breaks. Prices are illustrative ($4 per
# GPU-hour on demand, 60 % off on spot, GCP's lower bound): cost per million tokens
# scales with them. Writes the table into docs/benchmarks.md and docs/cost-levers.md.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/wellpath
host="$(nproc) cores, $(date -u +%Y-%m-%d)"
work="--type shared_prefix --set num_groups=40 --set system_prompt_len=3000 --set question_len=300 --set output_len=200 --rate 8 --duration 3600 --seed 1"
slo="ttft=0.5,itl=0.1"
price="--price-per-gpu-hour 4 --spot-discount 0.6"
# name|interruptions per node-hour|notice s|restart s
cases=(
    "AWS band >20 %/month, 2-min notice|0.000278|120|300"
    "GCP preemptible (24 h cap), 30 s notice|0.0417|30|300"
    "stress: 0.5 per node-hour, 2-min notice|0.5|120|300"
    "stress: 2 per node-hour, 2-min notice|2|120|300"
    "stress: 2 per node-hour, 30 s notice, 10-min restart|2|30|600"
)
rows="| capacity | interruptions/node-h | notice | restart | interruptions | GPU-hours | \$/GPU-h | \$ per 1M out | idle | SLO attainment | TTFT p95 ms |
|---|---|---|---|---|---|---|---|---|---|---|"
cmds=""
first=1
for c in "${cases[@]}"; do
    IFS='|' read -r name rate notice restart <<<"$c"
    json="$build/spot-$rate-$notice-$restart.json"
    cmd="$bin simulate -f bench/path1/topology.yaml $work --slo $slo $price --spot-interruptions-per-hour $rate --spot-notice-s $notice --spot-restart-s $restart --quiet --json $json"
    echo "running: $cmd" >&2
    out=$($cmd 2>/dev/null)
    cmds+="$cmd"$'\n'
    # the cost lines: "cost: POLICY: ..., N interruptions (...)"
    for which in od spot; do
        [ $which = od ] && [ $first = 0 ] && continue
        line=$(printf '%s\n' "$out" | grep '^cost: ' | sed -n "$([ $which = od ] && echo 1 || echo 2)p")
        p95=$(python3 -c "import json,sys; r=json.load(open('$json'))['runs'][$([ $which = od ] && echo 0 || echo 1)]; print('%.0f' % (r['summary']['ttft_s']['p95']*1000))")
        c_json=$(python3 -c "import json; r=json.load(open('$json'))['runs'][$([ $which = od ] && echo 0 || echo 1)]['cost']; print('%.3f|%.2f|%.3f|%.1f %%|%.2f %%' % (r['gpu_hours'], r['price_per_gpu_hour'], r['cost_per_mtok'], 100*r['idle_share'], 100*r['attainment']))")
        IFS='|' read -r gh pr pm idle att <<<"$c_json"
        if [ $which = od ]; then
            rows+=$'\n'"| on demand | - | - | - | 0 | $gh | $pr | $pm | $idle | $att | $p95 |"
        else
            n=$(printf '%s' "$line" | sed -n 's/.*, \([0-9]*\) interruptions.*/\1/p')
            rows+=$'\n'"| spot: $name | $rate | $notice s | $restart s | $n | $gh | $pr | $pm | $idle | $att | $p95 |"
        fi
    done
    first=0
done
printf '%s\n' "$rows"
body=$(printf 'Written by `make bench-spot` on %s. One virtual hour per run; each command runs the pool on demand (`topology`) and on spot (`topology [spot]`); the on-demand row is the first command'"'"'s (every command repeats it, byte for byte). SLO: TTFT <= 0.5 s and ITL <= 0.1 s (the mean of each request'"'"'s gaps, as `--slo` reads it); attainment = requests meeting it / requests. Commands:\n\n```\n%s```\n\n%s\n' "$host" "$cmds" "$rows")
printf '## Spot capacity, simulated: cost per million output tokens and SLO attainment\n\n%s\n' "$body" | scripts/doc_section.sh docs/benchmarks.md bench-spot
printf '%s\n' "$body" | scripts/doc_section.sh docs/cost-levers.md bench-spot
