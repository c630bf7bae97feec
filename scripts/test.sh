#!/bin/bash
# The README's test command: set everything up, run every test, and end
# with "N passed, N failed". --each-patch also builds and tests each patch
# of the series in turn. SERIES=10.0 or SERIES=upstream: that series
# alone; unset (or "all"): both, one after the other.
set -euo pipefail

# UPTO or PART name a part of the upstream stack
[ -z "${UPTO:-}${PART:-}" ] || export SERIES=${SERIES:-upstream}
if [ "${SERIES:-all}" = all ]; then
    here=$(dirname "$0")
    passed=0 failed=0 skipped=0 status=0
    # Each step of both series notes its seconds here (step() in
    # config.sh, run_tap in testlib.sh): the table at the end
    logs=${BUILD:-$(cd "$here/.." && pwd)/build}/test-logs
    mkdir -p "$logs"
    export STEPS_FILE=$logs/steps
    : > "$STEPS_FILE"
    for s in 10.0 upstream; do
        out=$(mktemp)
        SERIES=$s "$here/test.sh" "$@" | tee "$out" || status=1
        last=$(tail -n 1 "$out")
        rm -f "$out"
        if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
            passed=$((passed + BASH_REMATCH[1]))
            failed=$((failed + BASH_REMATCH[2]))
            skipped=$((skipped + BASH_REMATCH[3]))
        else
            echo "not ok - the $s series' tests stopped before their summary"
            failed=$((failed + 1))
        fi
    done
    "$here/steps-table.sh" "$STEPS_FILE" "$SECONDS"
    if [ "$failed" -ne 0 ]; then     # again, next to the last line
        echo "--- what failed, both series"
        for s in 10.0 upstream; do
            cat "$logs/$s/failures" 2>/dev/null || true
        done
    fi
    echo "$passed passed, $failed failed, $skipped skipped"
    [ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
    exit
fi

. "$(dirname "$0")/config.sh"
"$TOP/scripts/test-$SERIES.sh" "$@"
