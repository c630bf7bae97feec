#!/bin/bash
# The README's test command: set everything up, run every test, and end
# with "N passed, N failed". --each-patch also builds and tests each patch
# of the series in turn.
set -euo pipefail
. "$(dirname "$0")/config.sh"

each_patch=
[ "${1:-}" = --each-patch ] && each_patch=1

mapfile -t QTESTS < <(grep -v '^\s*\(#\|$\)' "$TOP/scripts/qtests.txt")
mapfile -t targets < <(printf '%s\n' "${QTESTS[@]}" | awk '{ print $1 }' | sort -u)
"$TOP/scripts/setup.sh" "${targets[@]/#/tests/qtest/}"

LOGS=$BUILD/test-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"
passed=0 failed=0 skipped=0

# run_tap NAME CMD...: run a TAP producer; count its results.
run_tap() {
    local name=$1 log=$LOGS/$1.log rc=0 ok nok skip
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
    passed=$((passed + ok - skip))
    skipped=$((skipped + skip))
    failed=$((failed + nok))
}

qtest_env
for t in "${QTESTS[@]}"; do
    read -r name args <<< "$t"
    # shellcheck disable=SC2086 # the arguments are words
    run_tap "qtest-$name" timeout 600 "$QEMU_BUILD/tests/qtest/$name" --tap $args
done
run_tap checkpatch "$TOP/scripts/tap.sh" "$TOP/scripts/checkpatch.sh"
run_tap upstream-apply "$TOP/scripts/tap.sh" "$TOP/scripts/check-upstream.sh"
run_tap disable-passt "$TOP/scripts/tap.sh" "$TOP/scripts/check-disable-passt.sh"
run_tap fuzz timeout 1800 env QEMU="$QTEST_QEMU_BINARY" PASST="$QTEST_PASST" \
    python3 "$TOP/tests/fuzz/netdev_passt_fuzz.py"
run_tap guest timeout 1800 python3 "$TOP/tests/guest/run.py"
if [ -n "$each_patch" ]; then
    run_tap each-patch "$TOP/scripts/each-patch.sh"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
