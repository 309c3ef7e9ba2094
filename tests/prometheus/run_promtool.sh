#!/usr/bin/env bash
# The prometheus/promtool CTest test: checks the rule files and the example scrape config,
# then runs the promtool unit tests of tests/prometheus/. Fails (never skips) without
# promtool: `make test` installs it (Debian package prometheus, scripts/install-deps.sh).
# Usage: tests/prometheus/run_promtool.sh [repository root]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
if ! command -v promtool >/dev/null 2>&1; then
    echo "promtool not found: install the Debian package prometheus (scripts/install-deps.sh, run by make test)" >&2
    exit 1
fi
cd "$root"
promtool check rules deploy/prometheus/wellpath-rules.yml deploy/prometheus/guide-rules.yml
promtool check config deploy/prometheus/prometheus.yml
promtool test rules tests/prometheus/*.test.yml
