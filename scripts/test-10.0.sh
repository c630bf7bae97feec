#!/bin/bash
# scripts/test.sh for the 10.0 series (SERIES=10.0): set it up, run every
# test, and end with "N passed, N failed". --each-patch also builds and
# tests each patch of the series in turn.
set -euo pipefail
. "$(dirname "$0")/config.sh"

each_patch=
[ "${1:-}" = --each-patch ] && each_patch=1

. "$TOP/scripts/testlib.sh"

# Checks of the patches, not of what they run on: once per change of the
# series (scripts/passed.sh). Not beside the tests: the --disable-passt
# build takes the main build's place while it runs.
run_recorded_check disable-passt "$TOP/scripts/tap.sh" "$TOP/scripts/check-disable-passt.sh"
run_recorded_check no-virtio-net "$TOP/scripts/tap.sh" "$TOP/scripts/check-no-virtio-net.sh"
# The fuzz test keeps one CPU busy; the qtests and checks until the guest
# suite mostly wait, beside it
start_tap fuzz timeout 1800 nice -n 5 env QEMU="$QTEST_QEMU_BINARY" \
    PASST="$QTEST_PASST" python3 "$TOP/tests/fuzz/netdev_passt_fuzz.py"
run_qtests
run_tap checkpatch "$TOP/scripts/tap.sh" "$TOP/scripts/checkpatch.sh"
run_tap upstream-apply "$TOP/scripts/tap.sh" "$TOP/scripts/check-upstream.sh"
finish_tap fuzz
# Upstream 10.2's crashes (tests/upstream-repro) are not this series' either
# net/socket.c's partial writes (patches-upstream/1-net-stream/, patch 2) are not the
# backport's code: 10.0.x gets that fix through qemu-stable
run_tap repro env QEMU="$QTEST_QEMU_BINARY" PASST="$QTEST_PASST" \
    REPRO_NOT_OURS=socket-partial-writes.py \
    "$TOP/tests/upstream-repro/run-all.sh" --fixed
# A command line that upstream QEMU 11.1.3 accepts means the same here
run_tap interface env QEMU="$QTEST_QEMU_BINARY" PASST="$QTEST_PASST" \
    "$TOP/tests/upstream-interface/run-10.0.sh"
# The guest suite: all of it on the default passt, and on the others the
# groups whose results depend on what passt does (vhost-user, migration,
# forwards, and the stream-mode ones: respawn, handover, passt's defaults).
for v in "${PASST_VARIANTS[@]}"; do
    passt_variant "$v"
    groups=()
    [ "$v" = "${PASST_VARIANTS[0]}" ] ||
        groups=(-k 'vhost-user|migrate|recovery|handover|forwards|defaults')
    run_tap "$(at guest "$v")" timeout 1800 \
        env QEMU="$QTEST_QEMU_BINARY" PASST="$PV_PREFIX/bin/passt" \
        PASST_REPAIR="$PV_PREFIX/bin/passt-repair" \
        python3 "$TOP/tests/guest/run.py" "${groups[@]}"
done

summary
