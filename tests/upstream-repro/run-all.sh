#!/bin/bash
# Run every reproducer of upstream QEMU 10.2's -netdev passt bugs against an
# unmodified upstream build (QEMU=, default build/qemu-upstream-build/...;
# PASST=, default build/passt/bin/passt), each under a timeout. Prints each
# one's output; exits 0 when every bug reproduced.
set -euo pipefail
cd "$(dirname "$0")"
status=0
for t in kill0-failed-start.py uaf-netdev-del.py foreground-hang.py; do
    echo "--- $t"
    rc=0
    timeout -k 10 90 python3 "$t" || rc=$?
    [ "$rc" -eq 0 ] || status=1
done
exit $status
