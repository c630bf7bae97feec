#!/bin/bash
# Compare our -netdev passt with the newest upstream QEMU's: its members
# (query-qmp-schema) and the arguments passt gets for the same command
# line. TAP on stdout; exit 0 when everything matches or differs only as
# allowlist.py explains. Extra arguments go to check.py (--table FILE, ...).
#   UPSTREAM_QEMU  the anchor (default: Debian sid's QEMU, sandboxed)
#   QEMU           the QEMU checked (default: the upstream series' build)
#   PASST          the passt both QEMUs run (default: build/passt)
#   SERIES         whose allowlist applies: upstream (default), 10.0
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
upstream=${UPSTREAM_QEMU:-$top/build/qemu-sid/bin/qemu-system-x86_64}
ours=${QEMU:-$top/build/qemu-upstream-build/qemu-system-x86_64}
passt=${PASST:-$top/build/passt/bin/passt}
for bin in "$upstream" "$ours" "$passt"; do
    if [ ! -x "$bin" ]; then
        echo "1..0 # SKIP no executable $bin"
        exit 0
    fi
done
# the check leaves nothing behind, __pycache__ included
export PYTHONDONTWRITEBYTECODE=1
exec timeout -k 10 170 python3 "$here/check.py" --upstream "$upstream" \
    --ours "$ours" --passt "$passt" --series "${SERIES:-upstream}" "$@"
