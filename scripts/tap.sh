#!/bin/bash
# tap.sh CMD...: report a command that prints "ok: X" / "FAIL: X" lines
# (or nothing) as TAP.
set -uo pipefail
out=$("$@" 2>&1)
rc=$?
n=0
while IFS= read -r line; do
    case $line in
    "ok: "*) n=$((n + 1)); echo "ok $n - ${line#ok: }";;
    "FAIL: "*) n=$((n + 1)); echo "not ok $n - ${line#FAIL: }";;
    *) echo "# $line";;
    esac
done <<<"$out"
if [ $n -eq 0 ]; then
    if [ $rc -eq 0 ]; then echo "ok 1 - $(basename "$1")"; else echo "not ok 1 - $(basename "$1")"; fi
fi
exit $rc
