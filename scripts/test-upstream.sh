#!/bin/bash
# scripts/test.sh for the upstream series (SERIES=upstream: changes to
# QEMU 10.2's own -netdev passt): set it up, run its tests, and end with
# "N passed, N failed". --each-patch also builds and tests each patch.
# Names are prefixed with "upstream-"; logs go to build/test-logs/upstream.
# UPTO=FOLDER: the stack up to that series, in a tree of its own: the
# qtests it has and the reproducers it fixes; what needs the whole stack
# (fuzz, interface, functional tests, guest suite) says it skipped.
set -euo pipefail
. "$(dirname "$0")/config.sh"

each_patch=
[ "${1:-}" = --each-patch ] && each_patch=1

TEST_PREFIX=upstream-
. "$TOP/scripts/testlib.sh"
p=$TEST_PREFIX

# The whole stack, or the part up to UPTO
whole=1
[ "$(stack_last)" -eq $((${#ST_NAME[@]} - 1)) ] || whole=
partial="the stack up to ${UPTO:-} lacks what it needs (UPTO)"

qemu=qemu-system-$QEMU_NO_VIRTIO_TARGET
step "upstream: build $qemu" "$TOP/scripts/build-qemu.sh" "$qemu" >&2
# The QMP fuzz test (it found the crashes that 2-passt-fixes/9 and 10 fix)
# keeps one CPU busy; the qtests and checks until the functional tests
# mostly wait, beside it
[ -z "$whole" ] ||
    start_tap "${p}fuzz" timeout 1800 nice -n 5 env QEMU="$QTEST_QEMU_BINARY" \
        PASST="$QTEST_PASST" python3 "$TOP/tests/fuzz/netdev_passt_fuzz.py"
run_qtests "$p"
# The passt qtests on a target without virtio-net, as QEMU's CI runs
# them: what needs vhost-user skips, the rest passes.
for t in netdev-passt netdev-passt-forward; do
    [ -f "$QEMU_TREE/tests/qtest/$t.c" ] || continue
    export QTEST_QEMU_BINARY=$QEMU_BUILD/$qemu
    run_tap "$(at "${p}qtest-$t" "$QEMU_NO_VIRTIO_TARGET")" \
        qtest "$QEMU_BUILD/tests/qtest/$t" --tap -m slow
done
qtest_env
run_tap "${p}checkpatch" "$TOP/scripts/tap.sh" "$TOP/scripts/checkpatch.sh"
run_tap "${p}reauthor" "$TOP/scripts/tap.sh" "$TOP/scripts/check-reauthor.sh"
run_tap "${p}upstream-apply" "$TOP/scripts/tap.sh" "$TOP/scripts/check-upstream.sh"
if [ -n "$whole" ]; then
    finish_tap "${p}fuzz"
else
    skip_tap "${p}fuzz" "$partial"
fi
# The crashes of upstream's backend that the series fixes stay fixed
run_tap "${p}repro" env QEMU="$QTEST_QEMU_BINARY" PASST="$QTEST_PASST" \
    REPRO_UPTO="${UPTO:-}" \
    "$TOP/tests/upstream-repro/run-all.sh" --fixed
# The same bugs on the newest upstream release, QEMU 11.1.3 as Debian sid
# ships it: there still, or fixed, as each Fixes: patch says; and our
# interface against its own (members, and passt's arguments for the same
# command line). None of these beside the fuzz test: each starts QEMUs by
# the dozen, and with all of them beside it the fuzz test once saw QEMU
# not answer a netdev_add within 30 s (seed 3934856276, which passes on
# its own).
run_tap "${p}repro@11.1.3" env REPRO_ANCHORS=11.1.3 \
    "$TOP/scripts/tap.sh" "$TOP/tests/upstream-repro/run-all.sh" --anchors
[ -n "$whole" ] || { skip_tap "${p}interface" "$partial"
                     skip_tap "${p}functional" "$partial"
                     skip_tap "${p}guest" "$partial"
                     summary; exit; }
run_tap "${p}interface" env QEMU="$QTEST_QEMU_BINARY" PASST="$QTEST_PASST" \
    "$TOP/tests/upstream-interface/run.sh"
# QEMU's functional tests of the backend, which the series adds, on the
# newest passt Debian ships: the guest suite covers the others
run_tap "$(at "${p}functional" sid)" "$TOP/scripts/functional.sh" sid
# The guest suite, as for the 10.0 series: all of it on the default passt,
# and on the others the groups whose results depend on what passt does.
# Not 'defaults': it captures with 'pcap-file', a member of the 10.0
# series only (upstream's interface has 'param' for that).
for v in "${PASST_VARIANTS[@]}"; do
    passt_variant "$v"
    groups=(-k '^(?!defaults$)')
    [ "$v" = "${PASST_VARIANTS[0]}" ] ||
        groups=(-k 'vhost-user|migrate|recovery|handover|forwards')
    run_tap "$(at "${p}guest" "$v")" timeout 1800 \
        env QEMU="$QTEST_QEMU_BINARY" PASST="$PV_PREFIX/bin/passt" \
        PASST_REPAIR="$PV_PREFIX/bin/passt-repair" \
        python3 "$TOP/tests/guest/run.py" "${groups[@]}"
done

summary
