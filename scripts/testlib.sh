# Sourced by test-10.0.sh and test-upstream.sh: TAP counting.
# shellcheck shell=bash

LOGS=$BUILD/test-logs/$SERIES
rm -rf "$LOGS"
mkdir -p "$LOGS"
passed=0 failed=0 skipped=0

# run_tap NAME CMD...: run a TAP producer; count its results.
run_tap() {
    local name=$1 log=$LOGS/$1.log rc=0 ok nok skip start=$SECONDS
    shift
    printf -- '--- %s\n' "$name"
    "$@" > "$log" 2>&1 || rc=$?
    ok=$(grep -cE '^ok ' "$log" | tr -d ' ' || true)
    skip=$(grep -cE '^ok .*# *SKIP' "$log" || true)
    nok=$(grep -cE '^not ok ' "$log" || true)
    grep -E '^(not )?ok ' "$log" | sed 's/^/    /' || true
    if [ "$rc" -ne 0 ] && [ "$nok" -eq 0 ]; then
        echo "    not ok - $name exited with status $rc (see $log)"
        tail -n 20 "$log" | sed 's/^/    # /'
        nok=1
    elif [ "$nok" -ne 0 ]; then
        grep -B20 -E '^not ok ' "$log" | grep -vE '^ok ' | tail -n 40 | sed 's/^/    # /'
    fi
    printf '    # %s: %d s\n' "$name" $((SECONDS - start))
    passed=$((passed + ok - skip))
    skipped=$((skipped + skip))
    failed=$((failed + nok))
}

# NAME@VARIANT for a run on another passt than the default one
at() { [ "$2" = "${PASST_VARIANTS[0]}" ] && echo "$1" || echo "$1@$2"; }

# The closing line, and the exit status
summary() {
    echo "$passed passed, $failed failed, $skipped skipped"
    [ "$failed" -eq 0 ]
}
