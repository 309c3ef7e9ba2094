#!/usr/bin/env bash
# The guide's Path 1 comparison, live and scaled down (make bench-path1): the same
# shared-prefix workload replayed against a fresh `wellpath up` for each policy.
# Writes its section of docs/benchmarks.md and the JSON and HTML reports under build/.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmd=("$build/wellpath" bench --topology bench/path1/topology.yaml --workload bench/path1/workload.yaml
     --policies round-robin,random,load-aware,topology --slo ttft=0.5
     --json "$build/bench-path1.json" --html "$build/bench-path1.html" --quiet)
echo "running: ${cmd[*]}" >&2
out=$("${cmd[@]}")
printf '%s\n' "$out"
{
    printf '## Path 1: prefix-aware + load-aware against plain load balancing (live, scaled down)\n\n'
    printf 'Written by `make bench-path1` on %s, %s cores. Command:\n\n```\n%s\n```\n\n' \
        "$(date -u +%Y-%m-%d)" "$(nproc)" "${cmd[*]}"
    cat <<'TXT'
What was scaled, against the llm-d inference-scheduling benchmark (docs/reference.md §8):

| | published | here |
|---|---|---|
| model, GPUs | Qwen3-32B, 8 replicas x TP2 on 16 H100 | Qwen3-8B, 4 simulated replicas x TP1 on H100 |
| KV cache per replica | about 307k tokens | about 46k tokens (`gpuMemoryUtilization: 0.345`) |
| workload | shared prefix, 150 groups x 5, 6000 / 1200 / 1000 tokens | shared prefix, 40 groups x 5, 3000 / 300 / 50 tokens |
| arrivals | Poisson stages 3 -> 60 QPS | Poisson stages 4, 12, 24, 36 QPS, 15 s each |
| time | real | real (`timeScale: 1`): simulated durations play out on the wall clock |

The proportion that matters is kept: the groups' shared prefixes (120k tokens) fit in the
pool's KV cache but not in any one replica's, so only a scheduler that keeps each group on
one replica can hit the cache. Policies: `round-robin` and `random` are a plain Kubernetes
Service; `load-aware` is the load scorer alone; `topology` is the file's prefix-aware 100 +
load-aware 50. Hit rate is from `usage.prompt_tokens_details.cached_tokens` (srv hit: from
the servers' prefix-cache counters). Latencies are wall-clock at the client.

TXT
    printf '```\n%s\n```\n' "$out"
} | scripts/doc_section.sh docs/benchmarks.md path1
