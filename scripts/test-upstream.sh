#!/bin/bash
# scripts/test.sh for the upstream series (SERIES=upstream: changes to
# QEMU 10.2's own -netdev passt): set it up, run its tests, and end with
# "N passed, N failed". --each-patch also builds and tests each patch.
# Names are prefixed with "upstream-"; logs go to build/test-logs/upstream.
set -euo pipefail
. "$(dirname "$0")/config.sh"

each_patch=
[ "${1:-}" = --each-patch ] && each_patch=1

. "$TOP/scripts/testlib.sh"
p=upstream-

run_qtests "$p"
run_tap "${p}checkpatch" "$TOP/scripts/tap.sh" "$TOP/scripts/checkpatch.sh"
run_tap "${p}upstream-apply" "$TOP/scripts/tap.sh" "$TOP/scripts/check-upstream.sh"
# The crashes of upstream's backend that the series fixes stay fixed
run_tap "${p}repro" env QEMU="$QTEST_QEMU_BINARY" PASST="$QTEST_PASST" \
    "$TOP/tests/upstream-repro/run-all.sh" --fixed
# The guest suite's groups that check what both series share: passt's
# options, traffic through them, and a vhost-user passt replaced after it
# was killed (vhost-user-restart). The others check this project's own
# interface (events, info network, restarts, handover, migration), which
# the upstream series does not have yet.
run_tap "${p}guest" timeout 1800 \
    env QEMU="$QTEST_QEMU_BINARY" PASST="$QTEST_PASST" \
    PASST_REPAIR="$QTEST_PASST_REPAIR" \
    python3 "$TOP/tests/guest/run.py" -k '^(options|maps|dns|proto-tcp|vhost-user-restart)$'
if [ -n "$each_patch" ]; then
    run_tap "${p}each-patch" "$TOP/scripts/each-patch.sh"
fi

summary
