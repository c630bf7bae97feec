#!/bin/bash
# The README's test command: set everything up, run every test, and end
# with "N passed, N failed". --each-patch also builds and tests each patch
# of the series in turn. SERIES=10.0 or SERIES=upstream: that series
# alone; unset (or "all"): both, one after the other.
set -euo pipefail

if [ "${SERIES:-all}" = all ]; then
    here=$(dirname "$0")
    passed=0 failed=0 skipped=0 status=0
    for s in 10.0 upstream; do
        out=$(mktemp)
        SERIES=$s "$here/test.sh" "$@" | tee "$out" || status=1
        read -r p _ f _ k _ < <(tail -n 1 "$out")
        rm -f "$out"
        passed=$((passed + ${p:-0})) failed=$((failed + ${f:-1}))
        skipped=$((skipped + ${k:-0}))
    done
    echo "$passed passed, $failed failed, $skipped skipped"
    [ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
    exit
fi

. "$(dirname "$0")/config.sh"
"$TOP/scripts/test-$SERIES.sh" "$@"
