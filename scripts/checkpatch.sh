#!/bin/bash
# Run QEMU's checkpatch.pl on every patch of the series; any error or
# warning fails.
set -euo pipefail
. "$(dirname "$0")/config.sh"

status=0
for p in "$TOP"/patches/[0-9][0-9][0-9][0-9]-*.patch; do
    case $p in */0000-cover-letter.patch) continue;; esac
    if out=$(perl "$QEMU_TREE/scripts/checkpatch.pl" --color=never "$p" 2>&1) &&
       ! grep -q '^WARNING' <<<"$out"; then
        echo "ok: $(basename "$p")"
    else
        echo "FAIL: $(basename "$p")"
        echo "$out" | sed 's/^/    /'
        status=1
    fi
done
exit $status
