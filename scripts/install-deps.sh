#!/usr/bin/env bash
# Installs the Debian packages wellpath needs to build and test, only those missing.
# Runs apt-get update first when something must be installed. Root, or sudo when not root.
set -euo pipefail

pkgs=(build-essential cmake pkg-config clang
      libuv1-dev libhttp-parser-dev libyaml-dev libcjson-dev libxxhash-dev libssl-dev
      libzmq3-dev libmsgpack-dev libc-ares-dev python3-zmq python3-msgpack dnsmasq-base
      libcmocka-dev nodejs npm curl prometheus chromium)

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
# nodejs from another source may ship npm itself; do not ask for Debian's npm then.
if [[ " ${missing[*]} " == *" npm "* ]] && command -v npm >/dev/null 2>&1; then
    missing=("${missing[@]/npm/}")
fi
if [[ " ${missing[*]} " == *" nodejs "* ]] && command -v node >/dev/null 2>&1; then
    missing=("${missing[@]/nodejs/}")
fi
read -r -a missing <<<"${missing[*]}"
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
