#!/usr/bin/env bash
# `make bench-proxy`: nginx, HAProxy and `wellpath gateway` as reverse proxies in front of
# the same static backend (an nginx answering a fixed small JSON completion, plus the
# /health, /metrics and /v1/models the gateway reads), loaded by wrk with POST
# /v1/completions of an 8 KB and a 400 KB prompt, keep-alive and Connection: close.
# For each cell: requests/s, latency p50/p99/p99.9, the proxy's CPU seconds per 1,000
# requests (utime+stime from /proc/PID/stat), non-2xx/3xx responses and socket errors.
# Streaming: each proxy also fronts a `wellpath sim` at a millionth of real time that
# streams 200 tokens per answer (SSE, one event each, plus [DONE]); its table gives events/s
# and events per CPU-second of the proxy (nginx with proxy_buffering off, as for SSE).
# Each proxy is one process with one worker thread (nginx master_process off, HAProxy
# nbthread 1, the gateway's one loop), pinned to CPU 0; wrk and the backend are pinned to
# CPU 1 (on a machine with one core nothing is pinned). Writes docs/benchmarks.md
# (section bench-proxy).
# Usage: scripts/bench_proxy.sh [build-dir]   (DURATION=10s CONNS=32 to change the load;
#   PROXIES="gateway nginx" to run some of them, BODIES="8" some of the bodies, MODES=keep-alive
#   some of the connection modes, SSE=0 no streaming cells; PERF=dir records `perf record -g` of the gateway during each
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
sse=${SSE:-1}
modes=${MODES:-keep-alive close}
perf_dir=${PERF:-}
partial=$([ -n "${PROXIES:-}${BODIES:-}${MODES:-}${SSE:-}$perf_dir" ] && echo 1 || echo "")

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

. scripts/bench_lib.sh
pin_proxy=$pin_gw
wait_port() { wait_http "http://127.0.0.1:$1/health" "$2"; }
model="Qwen/Qwen3-8B"

# The backend: one static nginx worker.
be=$(free_port)
start_static_backend "$tmp/be" "$be" "$model"

# The streaming backend: a simulated vLLM at a millionth of real time.
bs=$(free_port)
$pin_load "$bin" sim --port "$bs" --time-scale 0.000001 --log-level warn 2>"$tmp/sim.err" &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$bs/health" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$bs/health" >/dev/null || { echo "bench-proxy: sim did not start: $(cat "$tmp/sim.err")" >&2; exit 1; }

# nginx as proxy.
np=$(free_port)
nps=$(free_port)
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
    upstream stream {
        least_conn;
        server 127.0.0.1:$bs;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$nps backlog=4096;
        location / {
            proxy_pass http://stream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
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
hps=$(free_port)
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
frontend fe_sse
    bind 127.0.0.1:$hps
    default_backend be_sse
backend be_sse
    balance leastconn
    server s1 127.0.0.1:$bs maxconn 1000
EOF
$pin_proxy haproxy -db -f "$tmp/haproxy.cfg" 2>"$tmp/haproxy.err" &
haproxy_pid=$!
pids+=($haproxy_pid)
wait_port "$hp" "haproxy"

# wellpath gateway: one process in front of the static backend, one in front of the sim.
gw_port() { # pid: the port it listens on (--log-level warn hides the "listening" line)
    local port=""
    for _ in $(seq 100); do
        port=$(ss -ltnpH 2>/dev/null | awk -v p="pid=$1," '$0 ~ p {n=split($4,a,":"); print a[n]; exit}')
        [ -n "$port" ] && break
        sleep 0.1
    done
    echo "$port"
}
start_gateway() { # name backend-port: sets gw_pid and gp
    printf 'endpoints:\n  - url: http://127.0.0.1:%s\n    name: %s\n' "$2" "$1" >"$tmp/gw-$1.yaml"
    $pin_proxy "$bin" gateway -f "$tmp/gw-$1.yaml" --listen 127.0.0.1:0 --log-level warn 2>"$tmp/gw-$1.err" &
    gw_pid=$!
    pids+=($gw_pid)
    gp=$(gw_port "$gw_pid")
    [ -n "$gp" ] || { echo "bench-proxy: gateway did not start: $(cat "$tmp/gw-$1.err")" >&2; exit 1; }
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$gp/health" >/dev/null && break; sleep 0.1; done
}
start_gateway sim "$bs"
gws_pid=$gw_pid gps=$gp
start_gateway static "$be"

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
    wrk_post_lua "$tmp/body$kb.json" >"$tmp/post$kb.lua"
done

# The streaming request: a short prompt, 200 tokens, one SSE event each.
cat >"$tmp/sse.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"model":"$model","prompt":"Tell me a story.","max_tokens":200,"ignore_eos":true,"stream":true}'
wrk.headers["Content-Type"] = "application/json"
$(wrk_result_lua)
EOF

# Checks each proxy answers a completion with 200 before measuring.
for port in "$np" "$hp" "$gp"; do
    code=$(curl -s -o "$tmp/check.out" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "@$tmp/body8.json" "http://127.0.0.1:$port/v1/completions")
    [ "$code" = 200 ] || { echo "bench-proxy: port $port answered $code: $(head -c 300 "$tmp/check.out")" >&2; exit 1; }
done

ms() { awk -v u="$1" 'BEGIN{printf "%.2f", u/1000}'; }
# One cell: proxy name, its pid, URL, wrk script, perf tag, extra wrk arguments. Prints
# "requests seconds p50 p99 p99.9 non2xx sockerr cpu_ticks" (latencies in µs).
measure() {
    local proxy=$1 pid=$2 url=$3 lua=$4 tag=$5
    shift 5
    # A short warm-up, then the measured run.
    $pin_load wrk -t1 -c"$conns" -d1s -s "$lua" "$@" "$url" >/dev/null 2>&1 || true
    local perf_pid=""
    if [ -n "$perf_dir" ] && [ "$proxy" = gateway ]; then
        mkdir -p "$perf_dir"
        perf record -q -g -p "$pid" -o "$perf_dir/gateway-$tag.data" 2>/dev/null &
        perf_pid=$!
    fi
    local t0 t1
    t0=$(cpu_ticks "$pid")
    $pin_load wrk -t1 -c"$conns" -d"$duration" --timeout 5s -s "$lua" "$@" "$url" \
        >"$tmp/wrk.out" 2>&1 || true
    t1=$(cpu_ticks "$pid")
    if [ -n "$perf_pid" ]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
    fi
    grep -q '^RESULT' "$tmp/wrk.out" || { echo "bench-proxy: wrk failed for $proxy: $(cat "$tmp/wrk.out")" >&2; exit 1; }
    grep -v '^RESULT' "$tmp/wrk.out" | grep -iE 'error|non-2xx' | sed "s|^|  $proxy $tag: |" >&2 || true
    echo "$(grep '^RESULT' "$tmp/wrk.out" | cut -d' ' -f2-) $((t1 - t0))"
}
proxy_of() { # name: sets port and pid (sse: the streaming listeners)
    case $1 in
    nginx) port=$np pid=$nginx_pid sport=$nps ;;
    haproxy) port=$hp pid=$haproxy_pid sport=$hps ;;
    gateway) port=$gp pid=$gw_pid sport=$gps spid=$gws_pid ;;
    esac
    [ "$1" = gateway ] || spid=$pid
}
{
printf '| proxy | body | connection | req/s | p50 ms | p99 ms | p99.9 ms | proxy CPU-s / 1k req | non-2xx/3xx | socket errors |\n'
printf '|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n'
for kb in $bodies; do
    for mode in $modes; do
        hdr=()
        [ "$mode" = close ] && hdr=(-H "Connection: close")
        for proxy in $proxies; do
            proxy_of "$proxy"
            read -r n secs p50 p99 p999 non2xx sockerr ticks < <(measure "$proxy" "$pid" \
                "http://127.0.0.1:$port/v1/completions" "$tmp/post$kb.lua" "$kb-$mode" "${hdr[@]}")
            awk -v n="$n" -v s="$secs" -v t="$ticks" -v hz="$hz" -v proxy="$proxy" -v kb="$kb" \
                -v mode="$mode" -v p50="$(ms "$p50")" -v p99="$(ms "$p99")" -v p999="$(ms "$p999")" \
                -v e="$non2xx" -v se="$sockerr" 'BEGIN{
                    printf "| %s | %d KB | %s | %.0f | %s | %s | %s | %.3f | %d | %d |\n",
                        proxy, kb, mode, n / s, p50, p99, p999, (n > 0 ? t / hz / n * 1000 : 0), e, se }'
        done
    done
done
} >"$tmp/table"

# Streaming: events per answer counted through each proxy first (all must agree).
: >"$tmp/sse-table"
if [ "$sse" = 1 ]; then
    events=""
    for proxy in $proxies; do
        proxy_of "$proxy"
        k=$(curl -sN -H 'Content-Type: application/json' --data-binary \
            "{\"model\":\"$model\",\"prompt\":\"Tell me a story.\",\"max_tokens\":200,\"ignore_eos\":true,\"stream\":true}" \
            "http://127.0.0.1:$sport/v1/completions" | grep -c '^data: ')
        [ -z "$events" ] || [ "$k" = "$events" ] || { echo "bench-proxy: $proxy streamed $k events, another $events" >&2; exit 1; }
        events=$k
    done
    {
    printf '| proxy | answers/s | events/s | p50 ms | p99 ms | p99.9 ms | proxy CPU-s | events per proxy CPU-second | non-2xx/3xx | socket errors |\n'
    printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
    for proxy in $proxies; do
        proxy_of "$proxy"
        read -r n secs p50 p99 p999 non2xx sockerr ticks < <(measure "$proxy" "$spid" \
            "http://127.0.0.1:$sport/v1/completions" "$tmp/sse.lua" "sse")
        awk -v n="$n" -v s="$secs" -v t="$ticks" -v hz="$hz" -v proxy="$proxy" -v ev="$events" \
            -v p50="$(ms "$p50")" -v p99="$(ms "$p99")" -v p999="$(ms "$p999")" \
            -v e="$non2xx" -v se="$sockerr" 'BEGIN{ cpu = t / hz;
                printf "| %s | %.0f | %.0f | %s | %s | %s | %.2f | %.0f | %d | %d |\n",
                    proxy, n / s, n * ev / s, p50, p99, p999, cpu, (cpu > 0 ? n * ev / cpu : 0), e, se }'
    done
    } >"$tmp/sse-table"
fi

if [ -n "$partial" ]; then
    cat "$tmp/table"
    [ -s "$tmp/sse-table" ] && { echo; cat "$tmp/sse-table"; }
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
echo
cat "$tmp/sse-table"
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
    printf '\nStreaming: each proxy in front of `wellpath sim --time-scale 0.000001` (on CPU 1 with\n'
    printf 'wrk), %s connections each asking for 200 tokens with `"stream": true`; an answer is\n' "$conns"
    printf '%s SSE events (200 tokens and `[DONE]`, counted through each proxy first). nginx has\n' "$events"
    printf '`proxy_buffering off`, as deployments set it for SSE; the gateway is a second process\n'
    printf 'with the sim as its one endpoint. Events per proxy CPU-second: events forwarded over\n'
    printf 'the proxy process'"'"'s utime+stime in the run.\n\n'
    cat "$tmp/sse-table"
} | scripts/doc_section.sh docs/benchmarks.md bench-proxy
