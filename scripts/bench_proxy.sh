#!/usr/bin/env bash
# `make bench-proxy`: nginx, HAProxy and `wellpath gateway` as reverse proxies in front of
# the same static backend (an nginx answering a fixed small JSON completion, plus the
# /health, /metrics and /v1/models the gateway reads), loaded by wrk with POST
# /v1/completions of an 8 KB and a 400 KB prompt, keep-alive and Connection: close.
# For each cell: requests/s, latency p50/p99/p99.9, the proxy's CPU seconds per 1,000
# requests (utime+stime from /proc/PID/stat), non-2xx/3xx responses and socket errors.
# Each proxy is one process with one worker thread (nginx master_process off, HAProxy
# nbthread 1, the gateway's one loop), pinned to CPU 0; wrk and the backend are pinned to
# CPU 1 (on a machine with one core nothing is pinned). Writes docs/benchmarks.md
# (section bench-proxy).
# Usage: scripts/bench_proxy.sh [build-dir]   (DURATION=10s CONNS=32 to change the load;
#   PROXIES="gateway nginx" to run some of them, BODIES="8" some of the bodies, MODES=keep-alive
#   some of the connection modes; PERF=dir records `perf record -g` of the gateway during each
#   of its cells into dir/gateway-<KB>-<mode>.data and prints the top of `perf report`. A run
#   with any of these set does not write docs/benchmarks.md.)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/wellpath
duration=${DURATION:-10s}
conns=${CONNS:-32}
proxies=${PROXIES:-nginx haproxy gateway}
bodies=${BODIES:-8 400}
modes=${MODES:-keep-alive close}
perf_dir=${PERF:-}
partial=$([ -n "${PROXIES:-}${BODIES:-}${MODES:-}$perf_dir" ] && echo 1 || echo "")

# The Debian packages, installed when missing (root or password-less sudo).
missing=()
for p in nginx-light haproxy wrk; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    fail() { echo "bench-proxy: $1" >&2; exit 1; }
    command -v apt-get >/dev/null 2>&1 || fail "no apt-get to install Debian packages: ${missing[*]}"
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null ||
            fail "need root or password-less sudo to install Debian packages: ${missing[*]}"
        sudo="sudo -n"
    fi
    echo "installing: ${missing[*]}" >&2
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        "${missing[@]}" >/dev/null; } || fail "apt-get could not install: ${missing[*]}"
fi
[ -x "$bin" ] || { echo "bench-proxy: $bin not built (make build)" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ "$(nproc)" -ge 2 ]; then
    pin_proxy="taskset -c 0" pin_load="taskset -c 1"
else
    pin_proxy="" pin_load=""
fi
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port, what
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done
    echo "bench-proxy: $2 did not start on port $1" >&2
    exit 1
}
model="Qwen/Qwen3-8B"

# The backend: one static nginx worker.
be=$(free_port)
mkdir -p "$tmp/be"
cat >"$tmp/be/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process off;
pid $tmp/be/nginx.pid;
error_log $tmp/be/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $tmp/be;
    client_max_body_size 8m;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$be backlog=4096;
        location = /health { return 200 ''; }
        location = /metrics {
            default_type text/plain;
            return 200 'vllm:num_requests_waiting{model_name="$model"} 0\nvllm:num_requests_running{model_name="$model"} 0\nvllm:kv_cache_usage_perc{model_name="$model"} 0\n';
        }
        location = /v1/models {
            default_type application/json;
            return 200 '{"object":"list","data":[{"id":"$model","object":"model"}]}';
        }
        location / {
            default_type application/json;
            return 200 '{"id":"cmpl-static","object":"text_completion","model":"$model","choices":[{"index":0,"text":"ok","finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}';
        }
    }
}
EOF
$pin_load nginx -p "$tmp/be" -e "$tmp/be/error.log" -c "$tmp/be/nginx.conf" &
pids+=($!)
wait_port "$be" "backend nginx"

# nginx as proxy.
np=$(free_port)
mkdir -p "$tmp/np"
cat >"$tmp/np/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process off;
pid $tmp/np/nginx.pid;
error_log $tmp/np/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $tmp/np/body;
    proxy_temp_path $tmp/np/proxy;
    client_max_body_size 8m;
    client_body_buffer_size 512k;
    keepalive_requests 1000000;
    upstream backend {
        least_conn;
        server 127.0.0.1:$be;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$np backlog=4096;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
$pin_proxy nginx -p "$tmp/np" -e "$tmp/np/error.log" -c "$tmp/np/nginx.conf" &
nginx_pid=$!
pids+=($nginx_pid)
wait_port "$np" "nginx proxy"

# HAProxy.
hp=$(free_port)
cat >"$tmp/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 8192
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    http-reuse always
frontend fe
    bind 127.0.0.1:$hp
    default_backend be
backend be
    balance leastconn
    server b1 127.0.0.1:$be maxconn 1000
EOF
$pin_proxy haproxy -db -f "$tmp/haproxy.cfg" 2>"$tmp/haproxy.err" &
haproxy_pid=$!
pids+=($haproxy_pid)
wait_port "$hp" "haproxy"

# wellpath gateway.
printf 'endpoints:\n  - url: http://127.0.0.1:%s\n    name: static\n' "$be" >"$tmp/gw.yaml"
$pin_proxy "$bin" gateway -f "$tmp/gw.yaml" --listen 127.0.0.1:0 --log-level warn 2>"$tmp/gw.err" &
gw_pid=$!
pids+=($gw_pid)
# --log-level warn hides the "gateway listening" line: find the port from /proc.
gp=""
for _ in $(seq 100); do
    gp=$(ss -ltnpH 2>/dev/null | awk -v p="pid=$gw_pid," '$0 ~ p {n=split($4,a,":"); print a[n]; exit}')
    [ -n "$gp" ] && break
    sleep 0.1
done
[ -n "$gp" ] || { echo "bench-proxy: gateway did not start: $(cat "$tmp/gw.err")" >&2; exit 1; }
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$gp/health" >/dev/null && break; sleep 0.1; done

# The request bodies and wrk's script (POST; done() prints one line of figures).
for kb in 8 400; do
    python3 - "$kb" "$model" >"$tmp/body$kb.json" <<'PY'
import json, sys
kb, model = int(sys.argv[1]), sys.argv[2]
words = "the quick brown fox jumps over the lazy dog and keeps running through the field "
prompt = (words * (kb * 1024 // len(words) + 1))
body = {"model": model, "prompt": "", "max_tokens": 1}
base = len(json.dumps(body))
body["prompt"] = prompt[: kb * 1024 - base]
sys.stdout.write(json.dumps(body))
PY
    cat >"$tmp/post$kb.lua" <<EOF
local f = io.open("$tmp/body$kb.json", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("RESULT %d %.6f %d %d %d %d %d\n", summary.requests,
        summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
        latency:percentile(99.9), e.status, e.connect + e.read + e.write + e.timeout))
end
EOF
done

# Checks each proxy answers a completion with 200 before measuring.
for port in "$np" "$hp" "$gp"; do
    code=$(curl -s -o "$tmp/check.out" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "@$tmp/body8.json" "http://127.0.0.1:$port/v1/completions")
    [ "$code" = 200 ] || { echo "bench-proxy: port $port answered $code: $(head -c 300 "$tmp/check.out")" >&2; exit 1; }
done

ms() { awk -v u="$1" 'BEGIN{printf "%.2f", u/1000}'; }
{
printf '| proxy | body | connection | req/s | p50 ms | p99 ms | p99.9 ms | proxy CPU-s / 1k req | non-2xx/3xx | socket errors |\n'
printf '|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n'
for kb in $bodies; do
    for mode in $modes; do
        hdr=()
        [ "$mode" = close ] && hdr=(-H "Connection: close")
        for proxy in $proxies; do
            case $proxy in
            nginx) port=$np pid=$nginx_pid ;;
            haproxy) port=$hp pid=$haproxy_pid ;;
            gateway) port=$gp pid=$gw_pid ;;
            esac
            url="http://127.0.0.1:$port/v1/completions"
            # A short warm-up, then the measured run.
            $pin_load wrk -t1 -c"$conns" -d1s -s "$tmp/post$kb.lua" "${hdr[@]}" "$url" >/dev/null 2>&1 || true
            perf_pid=""
            if [ -n "$perf_dir" ] && [ "$proxy" = gateway ]; then
                mkdir -p "$perf_dir"
                perf record -q -g -p "$pid" -o "$perf_dir/gateway-$kb-$mode.data" 2>/dev/null &
                perf_pid=$!
            fi
            t0=$(cpu_ticks "$pid")
            $pin_load wrk -t1 -c"$conns" -d"$duration" --timeout 5s -s "$tmp/post$kb.lua" "${hdr[@]}" "$url" \
                >"$tmp/wrk.out" 2>&1 || true
            t1=$(cpu_ticks "$pid")
            if [ -n "$perf_pid" ]; then
                kill -INT "$perf_pid" 2>/dev/null || true
                wait "$perf_pid" 2>/dev/null || true
            fi
            read -r _ n secs p50 p99 p999 non2xx sockerr < <(grep '^RESULT' "$tmp/wrk.out") ||
                { echo "bench-proxy: wrk failed for $proxy: $(cat "$tmp/wrk.out")" >&2; exit 1; }
            grep -v '^RESULT' "$tmp/wrk.out" | grep -iE 'error|non-2xx' | sed "s|^|  $proxy $kb KB $mode: |" >&2 || true
            awk -v n="$n" -v s="$secs" -v t="$((t1 - t0))" -v hz="$hz" -v proxy="$proxy" -v kb="$kb" \
                -v mode="$mode" -v p50="$(ms "$p50")" -v p99="$(ms "$p99")" -v p999="$(ms "$p999")" \
                -v e="$non2xx" -v se="$sockerr" 'BEGIN{
                    printf "| %s | %d KB | %s | %.0f | %s | %s | %s | %.3f | %d | %d |\n",
                        proxy, kb, mode, n / s, p50, p99, p999, (n > 0 ? t / hz / n * 1000 : 0), e, se }'
        done
    done
done
} >"$tmp/table"

if [ -n "$partial" ]; then
    cat "$tmp/table"
    for f in "${perf_dir:-/nonexistent}"/gateway-*.data; do
        [ -f "$f" ] || continue
        echo "== $f (perf report --no-children, top 25)"
        perf report -i "$f" --no-children --stdio --percent-limit 1 -g none 2>/dev/null |
            grep -v '^#' | grep -v '^$' | head -n 25
    done
    exit 0
fi
cmd="make bench-proxy  (scripts/bench_proxy.sh $build; wrk -t1 -c$conns -d$duration per cell)"
host="$(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
versions="$(nginx -v 2>&1); $(haproxy -v | head -n 1 | cut -d' ' -f1-3); $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2); wellpath $(git rev-parse --short HEAD)"
cat "$tmp/table"
{
    printf '## Reverse proxies: nginx, HAProxy and the gateway in front of one static backend\n\n'
    printf 'Written by `make bench-proxy` on %s. Command:\n\n```\n%s\n```\n\n' "$host" "$cmd"
    printf 'Versions: %s.\n\n' "$versions"
    printf 'Each proxy runs one worker (nginx `worker_processes 1`, `master_process off`; HAProxy\n'
    printf '`nbthread 1`, `balance leastconn`, `http-reuse always`; the gateway is one loop) pinned\n'
    printf 'to CPU 0; wrk (one thread, %s connections, POST /v1/completions from a Lua script)\n' "$conns"
    printf 'and the backend (one static nginx worker answering a fixed 200-byte JSON completion,\n'
    printf 'plus /health, /metrics and /v1/models for the gateway) share CPU 1. nginx proxies with\n'
    printf '`least_conn`, `keepalive 64`, `proxy_http_version 1.1`, `proxy_set_header Connection ""`\n'
    printf 'and `client_body_buffer_size 512k` (the 400 KB body stays in memory). "close": wrk sends\n'
    printf '`Connection: close`, one TCP connection per request to the proxy (the proxies still\n'
    printf 'keep their backend connections). CPU-s / 1k req: utime+stime of the proxy process from\n'
    printf '/proc/PID/stat over the run. non-2xx/3xx: responses >= 400 (wrk); socket errors:\n'
    printf 'connect + read + write + timeout.\n\n'
    cat "$tmp/table"
} | scripts/doc_section.sh docs/benchmarks.md bench-proxy
