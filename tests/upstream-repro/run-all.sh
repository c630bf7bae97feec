#!/bin/bash
# Run every reproducer of upstream QEMU 10.2's -netdev passt bugs, each under
# a timeout (QEMU=, default build/qemu-upstream-build/...; PASST=, default
# build/passt/bin/passt).
#   run-all.sh          against an unmodified upstream build: prints each
#                       one's output; exits 0 when every bug reproduced
#   run-all.sh --fixed  against a build with the fixes: TAP, "ok" for each
#                       bug that no longer reproduces
set -euo pipefail
cd "$(dirname "$0")"
fixed=
[ "${1:-}" = --fixed ] && fixed=1
repros=(kill0-failed-start.py uaf-netdev-del.py foreground-hang.py
        double-close.py)
[ -n "$fixed" ] && echo "1..${#repros[@]}"
status=0 n=0
for t in "${repros[@]}"; do
    n=$((n + 1))
    rc=0
    if [ -n "$fixed" ]; then
        out=$(timeout -k 10 90 python3 "$t" 2>&1) || rc=$?
        if [ "$rc" -eq 1 ]; then
            echo "ok $n - $t: not reproduced"
        else
            echo "not ok $n - $t: exit status $rc (0: reproduced)"
            status=1
        fi
        printf '%s\n' "$out" | sed 's/^/# /'
    else
        echo "--- $t"
        timeout -k 10 90 python3 "$t" || rc=$?
        [ "$rc" -eq 0 ] || status=1
    fi
done
exit $status
