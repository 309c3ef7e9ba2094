#!/usr/bin/env bash
# `make bench-long-prompts`: 100k-token prompts at about 100 requests/s through one gateway
# loop, in front of a static nginx (it answers at once, so the gateway's own work is what
# is measured). For each scheduler set-up: the rate reached, latency, and the gateway's CPU
# (utime+stime from /proc/PID/stat over the run) as cores and as milliseconds a request:
#   - topology:           the default scorers (prefix-aware + load-aware), the prompt's first
#                         256 blocks of 64 characters hashed (llm-d's maxPrefixBlocksToMatch);
#   - sglang-cache-aware: the approximate chain over the whole prompt;
#   - llm-d-precise:      the model's own tokenizer (Qwen3's tokenizer.json, byte-level BPE)
#                         and vLLM's block hashes (sha256 of CBOR per 16 tokens) over the
#                         whole prompt, as llm-d's precise prefix-cache scorer does.
# The prompt is English text (the project's docs) cut to the length that Qwen3's tokenizer
# makes 100,000 tokens (counted by `wellpath sim --tokenizer`, bench_lib.sh long_prompt);
# each request ends it with a number from 1 to 64, in turn, so prompts differ only in their
# last block. wrk holds 12 connections, each waiting 100 ms between requests (wrk's delay
# hook): about 100 requests/s; the CPU per request is also scaled to exactly 100 requests/s.
# Needs nginx-light and wrk (installed like bench-proxy's) and tests/tokenizer/node_modules
# (make node-deps) for the tokenizer. Writes docs/benchmarks.md (section bench-long-prompts).
# Usage: scripts/bench_long_prompts.sh [build-dir]   (DURATION=10s)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/wellpath
duration=${DURATION:-10s}
[ -x "$bin" ] || { echo "bench-long-prompts: $bin not built (make build)" >&2; exit 1; }
. scripts/bench_lib.sh
tokjson=$qwen3_tokenizer
[ -f "$tokjson" ] || { echo "bench-long-prompts: $tokjson missing: run make node-deps" >&2; exit 1; }
need_tools nginx wrk
model="Qwen/Qwen3-8B"

# The static backend.
be=$(free_port)
start_static_backend "$tmp/be" "$be" "$model"

# The prompt: docs text, cut to 100,000 Qwen3 tokens; about 100 requests/s from 12 connections.
long_prompt "$tmp" "$bin" "$model" 100
read -r n_tokens prompt_bytes body_bytes <"$tmp/facts"

ms() { awk -v u="$1" 'BEGIN{printf "%.1f", u/1000}'; }
{
printf '| scheduler | hashed | req/s | p50 ms | p99 ms | gateway cores | CPU ms / request | cores at 100 req/s | non-2xx | socket errors |\n'
printf '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for setup in topology sglang-cache-aware llm-d-precise; do
    case $setup in
    topology) hashed="first 256 blocks (16 KB)" extra="" ;;
    sglang-cache-aware) hashed="whole prompt, 64-char blocks" extra="" ;;
    llm-d-precise) hashed="whole prompt, BPE + vLLM hashes" extra="  tokenizer: $PWD/$tokjson" ;;
    esac
    {
        printf 'endpoints:\n  - url: http://127.0.0.1:%s\n    name: static\n' "$be"
        printf 'inferenceScheduler:\n  policy: %s\n' "$setup"
        [ -z "$extra" ] || printf '%s\n' "$extra"
    } >"$tmp/gw.yaml"
    gp=$(free_port)
    $pin_gw "$bin" gateway -f "$tmp/gw.yaml" --listen "127.0.0.1:$gp" --log-level warn 2>"$tmp/gw.err" &
    gw_pid=$!
    wait_http "http://127.0.0.1:$gp/health" "gateway ($setup): $(cat "$tmp/gw.err")"
    url="http://127.0.0.1:$gp/v1/completions"
    $pin_load wrk -t1 -c12 -d2s -s "$tmp/post.lua" "$url" >/dev/null 2>&1 || true # warm-up
    t0=$(cpu_ticks "$gw_pid")
    $pin_load wrk -t1 -c12 -d"$duration" --timeout 10s -s "$tmp/post.lua" "$url" >"$tmp/wrk.out" 2>&1 || true
    t1=$(cpu_ticks "$gw_pid")
    kill "$gw_pid"
    wait "$gw_pid" 2>/dev/null || true
    read -r _ n secs p50 p99 _ non2xx sockerr < <(grep '^RESULT' "$tmp/wrk.out") ||
        { echo "bench-long-prompts: wrk failed: $(cat "$tmp/wrk.out")" >&2; exit 1; }
    awk -v s="$setup" -v h="$hashed" -v n="$n" -v secs="$secs" -v t="$((t1 - t0))" -v hz="$hz" \
        -v p50="$(ms "$p50")" -v p99="$(ms "$p99")" -v e="$non2xx" -v se="$sockerr" 'BEGIN{
            cpu = t / hz
            ms = n > 0 ? cpu / n * 1000 : 0
            printf "| %s | %s | %.1f | %s | %s | %.3f | %.2f | %.3f | %d | %d |\n",
                s, h, n / secs, p50, p99, cpu / secs, ms, ms / 10, e, se }'
done
} >"$tmp/table"
cat "$tmp/table"

host="$(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
{
    printf '## Long prompts: 100k-token prompts at about 100 requests/s through one gateway loop\n\n'
    printf 'Written by `make bench-long-prompts` on %s (wellpath %s). Command:\n\n' "$host" "$(git rev-parse --short HEAD)"
    printf '```\nscripts/bench_long_prompts.sh %s   # wrk -t1 -c12 -d%s, each connection waits 100 ms between requests\n```\n\n' "$build" "$duration"
    printf 'Each prompt: %s tokens by Qwen3'"'"'s tokenizer, %s bytes of English text (the\n' "$n_tokens" "$prompt_bytes"
    printf 'project'"'"'s docs), in a %s-byte body; they differ only in their last characters. The\n' "$body_bytes"
    printf 'gateway (one loop, pinned to CPU 0) forwards to a static nginx that answers at once;\n'
    printf 'wrk and nginx share CPU 1. "gateway cores": its utime+stime over the run divided by the\n'
    printf 'run'"'"'s length. Goal (issue 19): under half a core. The body is copied once in user\n'
    printf 'space on its way (from the read buffer into the request; the JSON reader, the prompt\n'
    printf 'view, the hashes and the upstream writev read it where it is).\n\n'
    cat "$tmp/table"
} | scripts/doc_section.sh docs/benchmarks.md bench-long-prompts
