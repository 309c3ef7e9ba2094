#!/usr/bin/env bash
# `make bench-workers`: gateway.workers (several event loops on one port) against one loop.
# 1. Throughput: the gateway with 1 and 2 workers, and nginx with 1 and 2 worker processes as
#    the reference, each in front of the same static backend (bench_lib.sh), loaded by wrk
#    (2 threads, 64 connections, 8 KB and 400 KB POST /v1/completions, keep-alive): requests/s, p50/p99,
#    the proxy's CPU per request, and how the gateway's workers shared the connections. Nothing
#    is pinned: on a machine with as many cores as workers the load generator and the backend
#    share the cores with the proxy, and nginx's own 1 -> 2 ratio shows what the machine allows.
# 2. The cost of sharing: the gateway's CPU per request with 1 and 2 workers pinned to one core,
#    and its user-space instructions per request under callgrind (two loads), 1 and 2 workers.
# 3. Where the gateway is the limit: 100k-token prompts routed by llm-d-precise (tokenized and
#    hashed by the gateway), closed loop: requests/s with 1 and 2 workers.
# 4. Routing quality: the Path 1 benchmark's workload (bench/path1) through `wellpath bench`
#    with the topology policy, gateway.workers 1 and 2: the prefix-cache hit rate must not drop.
# Writes docs/benchmarks.md (section bench-workers).
# Usage: scripts/bench_workers.sh [build-dir]   (DURATION=10s; QUALITY=0 skips part 4 and
#   does not write the doc)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/wellpath
duration=${DURATION:-10s}
quality=${QUALITY:-1}
[ -x "$bin" ] || { echo "bench-workers: $bin not built (make build)" >&2; exit 1; }
. scripts/bench_lib.sh
need_tools nginx wrk
pin_load="" # nothing pinned here (see above)
model="Qwen/Qwen3-8B"

be=$(free_port)
start_static_backend "$tmp/be" "$be" "$model"
for kb in 8 32 400; do
    python3 - "$model" "$kb" >"$tmp/body$kb.json" <<'PY'
import json, sys
words = "the quick brown fox jumps over the lazy dog and keeps running through the field "
kb = int(sys.argv[2])
body = {"model": sys.argv[1], "prompt": "", "max_tokens": 1}
body["prompt"] = (words * (kb * 13 + 1))[: kb * 1024 - len(json.dumps(body))]
sys.stdout.write(json.dumps(body))
PY
    wrk_post_lua "$tmp/body$kb.json" >"$tmp/post$kb.lua"
done

start_nginx() { # workers: sets pid and port
    port=$(free_port)
    local d="$tmp/nginx$1"
    mkdir -p "$d"
    cat >"$d/nginx.conf" <<EOF
worker_processes $1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    client_body_buffer_size 512k;
    keepalive_requests 1000000;
    upstream backend { least_conn; server 127.0.0.1:$be; keepalive 64; }
    server {
        listen 127.0.0.1:$port backlog=4096;
        location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
EOF
    nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" &
    pid=$!
    pids+=($pid)
    wait_http "http://127.0.0.1:$port/v1/models" "nginx ($1 workers)"
}

# The 32 KB cells add the prefill-queue scorer, which reads each prompt's token count: the
# gateway then tokenizes every prompt, the heavy gateway-side case (long prompts, docs/benchmarks.md
# bench-long-prompts), where the gateway rather than the load generator is the bottleneck.
counting='inferenceScheduler:\n  scorers:\n    - {type: prefix-aware, weight: 100}\n    - {type: load-aware, weight: 50}\n    - {type: prefill-queue, weight: 10}\n'
start_gateway() { # workers [pin] [extra topology]: sets pid and port
    port=$(free_port)
    printf 'endpoints:\n  - {url: "http://127.0.0.1:%s", name: static}\ngateway:\n  workers: %s\n%b' \
        "$be" "$1" "${3:-}" >"$tmp/gw$1.yaml"
    ${2:-} "$bin" gateway -f "$tmp/gw$1.yaml" --listen "127.0.0.1:$port" --log-level warn 2>"$tmp/gw$1.err" &
    pid=$!
    pids+=($pid)
    wait_http "http://127.0.0.1:$port/health" "the gateway ($1 workers)"
}

# CPU ticks of a process and its children (nginx's workers are its children).
tree_ticks() {
    local t
    t=$(cpu_ticks "$1")
    for c in $(pgrep -P "$1" || true); do t=$((t + $(cpu_ticks "$c"))); done
    echo "$t"
}

# "total idle" jiffies of the whole machine (/proc/stat)
machine() { awk '/^cpu / {print $2 + $3 + $4 + $5 + $6 + $7 + $8, $5 + $6}' /proc/stat; }

measure() { # proxy workers pid port body-KB: prints one table row
    local lua="$tmp/post$5.lua"
    wrk -t2 -c64 -d1s -s "$lua" "http://127.0.0.1:$4/v1/completions" >/dev/null 2>&1 || true
    local t0 t1 m0 m1
    t0=$(tree_ticks "$3")
    m0=$(machine)
    wrk -t2 -c64 -d"$duration" --timeout 5s -s "$lua" "http://127.0.0.1:$4/v1/completions" \
        >"$tmp/wrk.out" 2>&1 || true
    t1=$(tree_ticks "$3")
    m1=$(machine)
    grep -q '^RESULT' "$tmp/wrk.out" || { echo "bench-workers: wrk failed: $(cat "$tmp/wrk.out")" >&2; exit 1; }
    local split="-"
    if [ "$1" = gateway ]; then
        split=$(curl -s "http://127.0.0.1:$4/metrics" |
            awk '/^wellpath_gateway_worker_requests_total/ {v[++n]=$2; s+=$2}
                 END {for (i=1;i<=n;i++) printf "%s%.0f %%", (i>1?" / ":""), 100*v[i]/s}')
    fi
    read -r n secs p50 p99 _ non2xx sockerr < <(grep '^RESULT' "$tmp/wrk.out" | cut -d' ' -f2-)
    read -r mt0 mi0 <<<"$m0"
    read -r mt1 mi1 <<<"$m1"
    awk -v p="$1" -v w="$2" -v kb="$5" -v n="$n" -v s="$secs" -v t=$((t1 - t0)) -v hz="$hz" -v p50="$p50" \
        -v p99="$p99" -v e="$non2xx" -v se="$sockerr" -v share="$split" \
        -v busy="$(awk -v a=$((mt1 - mt0)) -v i=$((mi1 - mi0)) 'BEGIN{printf "%.0f", (a > 0 ? 100 * (1 - i / a) : 0)}')" 'BEGIN{
        printf "| %d KB%s | %s | %d | %.0f | %.2f | %.2f | %.3f | %.2f | %s %% | %s | %d |\n", kb,
            kb == 32 && p == "gateway" ? ", counted" : "", p, w, n / s, p50 / 1000, p99 / 1000, t / hz / n * 1000,
            t / hz / s, busy, share, e + se }'
}

{
    printf '| body | proxy | workers | req/s | p50 ms | p99 ms | proxy CPU-ms / req | proxy cores busy | machine busy | requests per worker | errors |\n'
    printf '|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|\n'
    for kb in 8 32 400; do
        for w in 1 2; do
            start_nginx "$w"
            measure nginx "$w" "$pid" "$port" "$kb"
            kill "$pid"
            wait "$pid" 2>/dev/null || true
            start_gateway "$w" "" "$([ "$kb" = 32 ] && printf '%s' "$counting")"
            measure gateway "$w" "$pid" "$port" "$kb"
            kill "$pid"
            wait "$pid" 2>/dev/null || true
        done
    done
} >"$tmp/table"
cat "$tmp/table"

# The cost of sharing, apart from what the machine allows: the gateway pinned to CPU 0 with 1
# and then 2 workers (both on that one core), wrk (1 thread, 32 connections) and the backend on
# CPU 1; 8 KB keep-alive, three rounds, the median of each. What a second worker adds to each
# request's CPU is what each worker spends applying the other's events.
: >"$tmp/share"
if [ "$(nproc)" -ge 2 ]; then
    taskset -pc 1 "$(cat "$tmp/be/nginx.pid")" >/dev/null
    for round in 1 2 3; do
        for w in 1 2; do
            start_gateway "$w" "taskset -c 0"
            taskset -c 1 wrk -t1 -c32 -d1s -s "$tmp/post8.lua" "http://127.0.0.1:$port/v1/completions" >/dev/null 2>&1 || true
            t0=$(cpu_ticks "$pid")
            taskset -c 1 wrk -t1 -c32 -d"$duration" -s "$tmp/post8.lua" "http://127.0.0.1:$port/v1/completions" >"$tmp/wrk.out" 2>&1 || true
            t1=$(cpu_ticks "$pid")
            read -r n secs _ < <(grep '^RESULT' "$tmp/wrk.out" | cut -d' ' -f2-)
            awk -v w="$w" -v n="$n" -v s="$secs" -v t=$((t1 - t0)) -v hz="$hz" \
                'BEGIN{printf "%d %.0f %.4f\n", w, n / s, t / hz / n * 1000}' >>"$tmp/share"
            kill "$pid"
            wait "$pid" 2>/dev/null || true
        done
    done
    med() { sort -n | sed -n 2p; } # the middle of three
    {
        printf '| workers on CPU 0 | req/s (median of 3) | gateway CPU-ms / req (median of 3) | rounds (CPU-ms / req) |\n'
        printf '|---:|---:|---:|---|\n'
        for w in 1 2; do
            printf '| %s | %s | %s | %s |\n' "$w" "$(awk -v w="$w" '$1 == w {print $2}' "$tmp/share" | med)" \
                "$(awk -v w="$w" '$1 == w {print $3}' "$tmp/share" | med)" \
                "$(awk -v w="$w" '$1 == w {printf "%s ", $3}' "$tmp/share")"
        done
    } >"$tmp/share-table"
    cat "$tmp/share-table"
fi

# The cost of sharing in instructions: user-space instructions do not depend on what else the
# machine runs, so callgrind measures what the second worker adds to each request without the
# noise of the table above (the kernel's part, the syscalls, is not in it). The gateway runs
# under callgrind with instrumentation off; it is on only while wrk (1 thread, 32 connections)
# loads it, over the requests served in that window. Two loads: the same 8 KB body every time,
# and 8 groups whose bodies share a 6 KB prefix and end in 2 KB of their own.
: >"$tmp/instr"
if command -v callgrind_control >/dev/null 2>&1; then
    cat >"$tmp/groups.lua" <<'EOC'
local words = "the quick brown fox jumps over the lazy dog and keeps running through the field "
local prefixes, n = {}, 0
for g = 1, 8 do
    prefixes[g] = string.rep(string.format("group %d system prompt: ", g) .. words, 80):sub(1, 6144)
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
    n = n + 1
    local own = string.rep(string.format("request %d asks: ", n) .. words, 30):sub(1, 2048)
    return wrk.format(nil, "/v1/completions", nil,
        '{"model":"MODEL","max_tokens":1,"prompt":"' .. prefixes[n * 7 % 8 + 1] .. own .. '"}')
end
EOC
    sed -i "s|MODEL|$model|" "$tmp/groups.lua"
    wrk_result_lua >>"$tmp/groups.lua"
    served() { curl -s "http://127.0.0.1:$1/metrics" |
        awk '/^wellpath_gateway_worker_requests_total/ {s += $2} END {printf "%d", s}'; }
    for load in post8 groups; do
        for w in 1 2; do
            start_gateway "$w" "valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=$tmp/cg.$load.$w"
            wrk -t1 -c32 -d2s -s "$tmp/$load.lua" "http://127.0.0.1:$port/v1/completions" >/dev/null 2>&1 || true
            n0=$(served "$port")
            callgrind_control -i on "$pid" >/dev/null 2>&1 ||
                { echo "bench-workers: callgrind_control could not reach the gateway" >&2; exit 1; }
            wrk -t1 -c32 -d"$duration" -s "$tmp/$load.lua" "http://127.0.0.1:$port/v1/completions" >/dev/null 2>&1 || true
            callgrind_control -i off "$pid" >/dev/null 2>&1
            n1=$(served "$port")
            kill -INT "$pid"
            wait "$pid" 2>/dev/null || true
            ir=$(callgrind_annotate "$tmp/cg.$load.$w" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
            [ "$((n1 - n0))" -gt 0 ] && [ -n "$ir" ] ||
                { echo "bench-workers: no requests or no instruction count under callgrind ($load, $w workers)" >&2; exit 1; }
            echo "$load $w $((n1 - n0)) $ir" >>"$tmp/instr"
        done
    done
    awk 'BEGIN {
            print "| load | workers | requests measured | instructions / request | against 1 worker |"
            print "|---|---:|---:|---:|---:|" }
         { per = $4 / $3; if ($2 == 1) one[$1] = per
           printf "| %s | %d | %d | %.0f | %+.1f %% |\n",
               $1 == "post8" ? "8 KB, the same body" : "8 KB, 8 groups (6 KB shared + 2 KB own)",
               $2, $3, per, 100 * (per / one[$1] - 1) }' "$tmp/instr" >"$tmp/instr-table"
    cat "$tmp/instr-table"
else
    echo "bench-workers: callgrind_control not found (Debian package valgrind): no instruction counts" >&2
fi

# Where the gateway's own work dominates: 100k-token prompts routed by llm-d-precise (each
# prompt tokenized with Qwen3's byte-level BPE and its blocks hashed as vLLM hashes them, some
# milliseconds of the gateway's CPU a request, where wrk and the backend spend a fraction of
# that), closed loop (wrk, 1 thread, 32 connections, no think time), nothing pinned: what a
# second worker gives when the gateway, not the machine's other processes, is the limit.
: >"$tmp/long"
if [ -f "$qwen3_tokenizer" ]; then
    mkdir -p "$tmp/long-prompt"
    long_prompt "$tmp/long-prompt" "$bin" "$model" 0
    precise=$(printf 'inferenceScheduler:\n  policy: llm-d-precise\n  tokenizer: %s\n' "$PWD/$qwen3_tokenizer")
    for w in 1 2; do
        start_gateway "$w" "" "$precise"
        url="http://127.0.0.1:$port/v1/completions"
        wrk -t1 -c32 -d2s -s "$tmp/long-prompt/post.lua" "$url" >/dev/null 2>&1 || true
        t0=$(cpu_ticks "$pid")
        m0=$(machine)
        wrk -t1 -c32 -d"$duration" --timeout 20s -s "$tmp/long-prompt/post.lua" "$url" >"$tmp/wrk.out" 2>&1 || true
        t1=$(cpu_ticks "$pid")
        m1=$(machine)
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        read -r _ n secs p50 p99 _ non2xx sockerr < <(grep '^RESULT' "$tmp/wrk.out") ||
            { echo "bench-workers: wrk failed: $(cat "$tmp/wrk.out")" >&2; exit 1; }
        read -r mt0 mi0 <<<"$m0"
        read -r mt1 mi1 <<<"$m1"
        echo "$w $n $secs $p50 $p99 $((t1 - t0)) $((mt1 - mt0)) $((mi1 - mi0)) $((non2xx + sockerr))" >>"$tmp/long"
    done
    awk -v hz="$hz" 'BEGIN {
            print "| workers | req/s | against 1 worker | p50 ms | p99 ms | gateway cores busy | gateway CPU-ms / req | machine busy | errors |"
            print "|---:|---:|---:|---:|---:|---:|---:|---:|---:|" }
         { rate = $2 / $3; if ($1 == 1) one = rate
           printf "| %d | %.1f | %.2fx | %.0f | %.0f | %.2f | %.2f | %.0f %% | %d |\n", $1, rate, rate / one,
               $4 / 1000, $5 / 1000, $6 / hz / $3, $6 / hz / $2 * 1000, 100 * (1 - $8 / $7), $9 }' \
        "$tmp/long" >"$tmp/long-table"
    cat "$tmp/long-table"
else
    echo "bench-workers: $qwen3_tokenizer missing (make node-deps): no long-prompt cells" >&2
fi
[ "$quality" = 1 ] || exit 0

# Routing quality: the Path 1 workload, one policy, 1 and 2 workers.
: >"$tmp/quality"
for w in 1 2; do
    { cat bench/path1/topology.yaml; printf 'gateway:\n  workers: %s\n' "$w"; } >"$tmp/path1-$w.yaml"
    out=$("$bin" bench --topology "$tmp/path1-$w.yaml" --workload bench/path1/workload.yaml \
        --policies topology --slo ttft=0.5 --quiet)
    printf '## gateway.workers: %s\n%s\n\n' "$w" "$out" >>"$tmp/quality"
done
cat "$tmp/quality"
{
    printf '## Several event loops: gateway.workers\n\n'
    printf 'Written by `make bench-workers` on %s cores, %s, load average %s (wellpath %s). Command:\n\n' \
        "$(nproc)" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(git rev-parse --short HEAD)"
    printf '```\nscripts/bench_workers.sh %s   # wrk -t2 -c64 -d%s per cell, keep-alive\n```\n\n' "$build" "$duration"
    printf 'Throughput: each proxy in front of one static nginx backend, nothing pinned (wrk, the\n'
    printf 'backend and the proxy share the machine'"'"'s cores); nginx with 1 and 2 worker processes is\n'
    printf 'the reference for what a second worker can give here. proxy cores busy: the proxy'"'"'s\n'
    printf 'utime+stime over the run'"'"'s seconds (all its processes or threads, the gateway'"'"'s checks\n'
    printf 'thread included). machine busy: all CPUs over the run (/proc/stat), wrk and the backend\n'
    printf 'included: near 100 %%, the machine is the limit, not the proxy. requests per worker: the\n'
    printf 'share each gateway worker accepted (`wellpath_gateway_worker_requests_total`). "32 KB,\n'
    printf 'counted": the gateway'"'"'s scorers include prefill-queue, so it counts every prompt'"'"'s tokens\n'
    printf '(nginx just proxies the same bodies): the case where the gateway is the heavy part.\n\n'
    cat "$tmp/table"
    if [ -s "$tmp/share-table" ]; then
        printf '\nThe cost of sharing: the gateway pinned to CPU 0 with 1 and then 2 workers (both loops on\n'
        printf 'that one core), wrk (one thread, 32 connections) and the backend on CPU 1, 8 KB keep-alive,\n'
        printf 'three rounds. With the same core doing the same requests, what the second worker adds to\n'
        printf 'each request'"'"'s CPU is what the workers spend applying each other'"'"'s events (each dispatch is\n'
        printf 'applied to both schedulers and prefix indexes) and handing them over.\n\n'
        cat "$tmp/share-table"
    fi
    if [ -s "$tmp/instr-table" ]; then
        printf '\nThe cost of sharing in instructions (callgrind: user-space instructions, which do not\n'
        printf 'depend on what else the machine runs; the kernel'"'"'s part is not in them). The gateway under\n'
        printf 'callgrind, instrumented only while wrk (1 thread, 32 connections, %s) loads it, over the\n' "$duration"
        printf 'requests served then. Two loads: the same 8 KB body every time, and 8 groups whose bodies\n'
        printf 'share a 6 KB prefix and end in 2 KB of their own. What the second worker adds is applying\n'
        printf 'the other'"'"'s dispatches: mostly inserting each request'"'"'s new blocks in its own prefix index\n'
        printf '(a chain'"'"'s leading run already held is moved at once).\n\n'
        cat "$tmp/instr-table"
    fi
    if [ -s "$tmp/long-table" ]; then
        printf '\nWhere the gateway is the limit: 100k-token prompts (the project'"'"'s docs, as in\n'
        printf '`make bench-long-prompts`) routed by `llm-d-precise`, which tokenizes each prompt with\n'
        printf 'Qwen3'"'"'s BPE and hashes its blocks as vLLM does: milliseconds of the gateway'"'"'s CPU a\n'
        printf 'request, a fraction of that for wrk and the backend. Closed loop, wrk 1 thread and 32\n'
        printf 'connections, no think time, %s, nothing pinned.\n\n' "$duration"
        cat "$tmp/long-table"
    fi
    printf '\nRouting quality: the Path 1 workload (bench/path1: 40 groups of shared 3,000-token prefixes, four Poisson stages,\n'
    printf '4 to 36 requests/s, 60 s) through `wellpath bench --policies topology` with the gateway at 1\n'
    printf 'and 2 workers; the connections of the load generator spread over the workers.\n\n```\n'
    cat "$tmp/quality"
    printf '```\n'
} | scripts/doc_section.sh docs/benchmarks.md bench-workers
