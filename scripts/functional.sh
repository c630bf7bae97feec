#!/bin/bash
# functional.sh [PASST]: the upstream series' functional tests of -netdev
# passt (QEMU's own tests/functional, run by meson in the series' build
# directory) with the passt named (default: the default one), as TAP:
# one line per test method.  The guest's .debs go into QEMU's asset
# cache first (scripts/fill-test-cache.sh), so that nothing is downloaded.
set -euo pipefail
. "$(dirname "$0")/config.sh"

[ "$SERIES" = upstream ] || die "the functional tests are the upstream series'"
export QEMU_TEST_CACHE_DIR=${QEMU_TEST_CACHE_DIR:-$BUILD/func-cache}
"$TOP/scripts/fill-test-cache.sh" \
    "$QEMU_TREE/tests/functional/x86_64/netdev_passt.py" >&2
qtest_env "${1:-${PASST_VARIANTS[0]}}"
export QEMU_TEST_PASST=$QTEST_PASST QEMU_TEST_PASST_REPAIR=$QTEST_PASST_REPAIR

# Two at a time: each keeps a TCG vCPU busy, and there are two CPUs.
# meson prints "▶ N/M TEST.CLASS.METHOD  RESULT" for each method
rc=0
(cd "$QEMU_BUILD" && pyvenv/bin/meson test --no-rebuild --setup thorough \
    --suite func-thorough --num-processes 2 --verbose \
    func-x86_64-netdev_passt func-x86_64-netdev_passt_migration) |
    tee "$BUILD/functional.log" |
    awk '$1 == "▶" && NF >= 4 {
             r = $NF
             if (r == "OK") print "ok - " $3
             else if (r == "SKIP") print "ok - " $3 " # SKIP"
             else print "not ok - " $3 " (" r ")"
         }' || rc=$?

# A failure says why: the tracebacks meson kept, then the end of each
# failed method's own logs (QEMU's, the test's, the guest's console).
failed=$(awk '$1 == "▶" && NF >= 4 && $NF != "OK" && $NF != "SKIP" {
                  print $3 }' "$BUILD/functional.log")
if [ -n "$failed" ]; then
    rc=1
    grep -A40 '^Traceback' \
        "$QEMU_BUILD/meson-logs/testlog-thorough.txt" | sed 's/^/# /' || :
    for t in $failed; do
        d=$QEMU_BUILD/tests/functional/x86_64/$t
        for f in base.log default.log console.log; do
            [ -f "$d/$f" ] || continue
            echo "# --- $t: $f (last 40 lines)"
            tail -n 40 "$d/$f" | sed 's/^/# /'
        done
    done
fi
exit "$rc"
