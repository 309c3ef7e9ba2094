#!/bin/sh
# Runs every libFuzzer target in BUILD for SECONDS each, one after another, on a copy of
# its seed corpus (BUILD/$FUZZ_CORPUS/<name>, FUZZ_CORPUS=corpus by default, so
# tests/fuzz/corpus is never written to; inputs found are kept for the next run), and
# prints per target the executions and whether it crashed. Crash inputs land in
# BUILD/artifacts/, logs in BUILD/fuzz-logs/. Exits non-zero when any target crashed.
#   tests/fuzz/run.sh BUILD SECONDS
set -u
build=$1
seconds=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
seeds=$root/tests/fuzz/corpus
corpus=$build/${FUZZ_CORPUS:-corpus}
mkdir -p "$corpus" "$build/artifacts" "$build/fuzz-logs"
status=0
printf '%-10s %12s %8s  %s\n' target executions seconds result
for src in "$root"/tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    short=${name#fuzz_}
    bin=$build/$name
    log=$build/fuzz-logs/$short.log
    if [ ! -x "$bin" ]; then
        printf '%-10s %12s %8s  %s\n' "$short" - - "MISSING ($bin not built)"
        status=1
        continue
    fi
    mkdir -p "$corpus/$short"
    cp -n "$seeds/$short"/* "$corpus/$short/" 2>/dev/null
    ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0 UBSAN_OPTIONS=print_stacktrace=1 \
        "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$build/artifacts/$short-" "$corpus/$short" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    if [ $rc -eq 0 ]; then
        result=ok
    else
        result="CRASHED (rc $rc, log $log)"
        status=1
    fi
    printf '%-10s %12s %8s  %s\n' "$short" "${execs:-?}" "$seconds" "$result"
    [ $rc -eq 0 ] || grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -n 5
done
exit $status
