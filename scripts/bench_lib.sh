# Shared by the gateway data-plane benchmarks (bench_proxy.sh, bench_long_prompts.sh,
# bench_streams.sh); sourced, not run. Sets tmp (removed at exit, with every process whose
# pid is in pids), hz, pin_gw and pin_load (CPU 0 for the process measured, CPU 1 for load and
# backends; nothing pinned on one core), and defines the helpers below.
tmp=$(mktemp -d)
pids=()
bench_cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap bench_cleanup EXIT
trap 'exit 1' INT TERM
if [ "$(nproc)" -ge 2 ]; then
    pin_gw="taskset -c 0" pin_load="taskset -c 1"
else
    pin_gw="" pin_load=""
fi
hz=$(getconf CLK_TCK)

# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# url what: waits up to 15 s for a 2xx from url.
wait_http() {
    for _ in $(seq 150); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
    echo "$(basename "$0"): $2 did not start ($1)" >&2
    exit 1
}

# dir port model: starts (pinned to the load CPU) one nginx worker that answers as a model
# server would, at once: a fixed small completion for any POST, and the /health, /metrics and
# /v1/models a gateway reads.
start_static_backend() {
    local dir=$1 port=$2 model=$3
    mkdir -p "$dir"
    cat >"$dir/nginx.conf" <<EOC
worker_processes 1;
daemon off;
master_process off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir;
    client_max_body_size 8m;
    client_body_buffer_size 1m;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$port backlog=4096;
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
EOC
    $pin_load nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" &
    pids+=($!)
    wait_http "http://127.0.0.1:$port/health" "the static backend (nginx)"
}

# The Lua `done` hook every wrk script here ends with: one line
# "RESULT requests seconds p50 p99 p99.9 non-2xx socket-errors" (latencies in µs).
wrk_result_lua() {
    cat <<'EOC'
done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("RESULT %d %.6f %d %d %d %d %d\n", summary.requests,
        summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
        latency:percentile(99.9), e.status, e.connect + e.read + e.write + e.timeout))
end
EOC
}

# body-file: a wrk script that POSTs that JSON file and ends with wrk_result_lua's hook.
wrk_post_lua() {
    printf 'local f = io.open("%s", "rb")\nwrk.method = "POST"\nwrk.body = f:read("*a")\nf:close()\n' "$1"
    printf 'wrk.headers["Content-Type"] = "application/json"\n'
    wrk_result_lua
}

# n: the first of n consecutive free loopback ports.
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
n = int(sys.argv[1])
for start in range(20000, 60000 - n, 97):
    socks = []
    try:
        for k in range(n):
            s = socket.socket(); s.bind(("127.0.0.1", start + k)); socks.append(s)
        print(start); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
}

# tools...: exits with a message naming the first that is not installed.
need_tools() {
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 ||
            { echo "$(basename "$0"): $t is not installed (make bench-proxy installs nginx and wrk)" >&2; exit 1; }
    done
}
