#!/usr/bin/env bash
# Replaces one section of a markdown file with standard input: the lines between
# "<!-- begin NAME -->" and "<!-- end NAME -->" (appended at the end when absent).
# Usage: some-command | scripts/doc_section.sh FILE NAME
set -euo pipefail
file=$1 name=$2
new=$(cat)
[ -f "$file" ] || printf '# Benchmarks\n\nEach section is written by the make target it names, with the command that\nproduced it and its output as printed.\n' >"$file"
begin="<!-- begin $name -->" end="<!-- end $name -->"
if grep -qF "$begin" "$file"; then
    awk -v b="$begin" -v e="$end" -v body="$new" '
        $0 == b { print; print body; skip = 1; next }
        $0 == e { skip = 0 }
        !skip { print }' "$file" >"$file.tmp"
    mv "$file.tmp" "$file"
else
    printf '\n%s\n%s\n%s\n' "$begin" "$new" "$end" >>"$file"
fi
