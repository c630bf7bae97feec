#!/bin/bash
# The README's test command: set everything up, run every test, and end
# with "N passed, N failed". --each-patch also builds and tests each patch
# of the series in turn.
set -euo pipefail
. "$(dirname "$0")/config.sh"

[ "$SERIES" = 10.0 ] ||
    die "scripts/test.sh runs the 10.0 series only so far (SERIES=$SERIES)"
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

# NAME@VARIANT for a run on another passt than the default one
at() { [ "$2" = "${PASST_VARIANTS[0]}" ] && echo "$1" || echo "$1@$2"; }

# netdev-passt runs on each of our passts, the other qtests once.
for t in "${QTESTS[@]}"; do
    read -r name args <<< "$t"
    variants=("${PASST_VARIANTS[0]}")
    [ "$name" = netdev-passt ] && variants=("${PASST_VARIANTS[@]}")
    for v in "${variants[@]}"; do
        qtest_env "$v"
        # shellcheck disable=SC2086 # the arguments are words
        run_tap "$(at "qtest-$name" "$v")" timeout 600 \
            "$QEMU_BUILD/tests/qtest/$name" --tap $args
    done
done
qtest_env
run_tap checkpatch "$TOP/scripts/tap.sh" "$TOP/scripts/checkpatch.sh"
run_tap upstream-apply "$TOP/scripts/tap.sh" "$TOP/scripts/check-upstream.sh"
run_tap disable-passt "$TOP/scripts/tap.sh" "$TOP/scripts/check-disable-passt.sh"
run_tap no-virtio-net "$TOP/scripts/tap.sh" "$TOP/scripts/check-no-virtio-net.sh"
run_tap fuzz timeout 1800 env QEMU="$QTEST_QEMU_BINARY" PASST="$QTEST_PASST" \
    python3 "$TOP/tests/fuzz/netdev_passt_fuzz.py"
# The guest suite: all of it on the default passt, and on the others the
# groups whose results depend on what passt does (vhost-user, migration,
# and the stream-mode ones: respawn, handover, passt's defaults).
for v in "${PASST_VARIANTS[@]}"; do
    passt_variant "$v"
    groups=()
    [ "$v" = "${PASST_VARIANTS[0]}" ] ||
        groups=(-k 'vhost-user|migrate|recovery|handover|defaults')
    run_tap "$(at guest "$v")" timeout 1800 \
        env QEMU="$QTEST_QEMU_BINARY" PASST="$PV_PREFIX/bin/passt" \
        PASST_REPAIR="$PV_PREFIX/bin/passt-repair" \
        python3 "$TOP/tests/guest/run.py" "${groups[@]}"
done
if [ -n "$each_patch" ]; then
    run_tap each-patch "$TOP/scripts/each-patch.sh"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
