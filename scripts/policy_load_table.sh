#!/usr/bin/env bash
# Our scheduling policy against the best peers as load grows: one `wellpath simulate` run
# per trace speed (the workload's `speed`, set with --set), every policy in each, and a
# markdown table of TTFT p90 / p95 and output tokens/s per policy and speed. The last column
# says whether `topology` (ours) leads every peer on TTFT p90 and on output tokens/s there.
# Usage: scripts/policy_load_table.sh BIN TOPOLOGY WORKLOAD "S1 S2 ..." POLICY,POLICY,...
set -euo pipefail
bin=$1 topo=$2 workload=$3 speeds=$4 policies=$5
command -v jq >/dev/null || { echo "policy_load_table: jq is needed (apt-get install jq)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
IFS=, read -r -a pols <<<"$policies"
[[ ",$policies," == *,topology,* ]] ||
    { echo "policy_load_table: the policies must include topology (ours)" >&2; exit 1; }
header="| speed |"
rule="|---|"
for p in "${pols[@]}"; do
    header+=" \`$p\` TTFT p90 / p95 (s), tok/s |"
    rule+="---|"
done
echo "$header ours ahead on p90 and tok/s |"
echo "$rule---|"
for s in $speeds; do
    "$bin" simulate -f "$topo" --workload "$workload" --set "speed=$s" --policies "$policies" \
        --quiet --json "$tmp/r.json" >/dev/null 2>&1 ||
        { echo "policy_load_table: simulate failed at speed $s" >&2; exit 1; }
    jq -r --arg s "$s" '
        def f: if . == null then "-" else . * 100 | round / 100 end;
        def n: . // 0; # a figure with no completed request (all shed) compares as 0
        [.runs[] | {p: .policy, p90: .summary.ttft_s.p90, p95: .summary.ttft_s.p95,
                    tok: .summary.output_tokens_per_s}] as $r
        | ($r | map(select(.p == "topology"))[0]) as $o
        | ($r | map(select(.p != "topology"))) as $peers
        | ($peers | all((.p90 | n) > ($o.p90 | n))) as $p90
        | ($peers | all((.tok | n) < ($o.tok | n))) as $tok
        | ($peers | all((.tok | n) <= ($o.tok | n) * 1.005)) as $tie
        | (if $p90 and $tok then "yes"
           elif $p90 and $tie then "p90; tok/s within 0.5 %"
           elif $p90 then "p90 only"
           elif $tok then "tok/s only"
           else "no" end) as $lead
        | "| \($s)x | " + ($r | map("\(.p90 | f) / \(.p95 | f), \(.tok | n | round)") | join(" | "))
          + " | \($lead) |"' "$tmp/r.json"
done
