#!/bin/bash
# QEMU links for a target without virtio-net, where net/vhost-user-stub.c
# stands in for net/vhost-user.c, and there -netdev passt,vhost-user=on
# is refused with a clear error while the socket pair still works. The
# target is built beside x86_64 in the main build.
set -euo pipefail
. "$(dirname "$0")/config.sh"

target=qemu-system-$QEMU_NO_VIRTIO_TARGET
QEMU_TARGETS=$target "$TOP/scripts/build-qemu.sh" \
    > "$BUILD/no-virtio-net-build.log" 2>&1 ||
    die "$target build failed, see $BUILD/no-virtio-net-build.log"
qtest_env "${PASST_VARIANTS[0]}"
qemu=$QEMU_BUILD/$target
passt=$QTEST_PASST
echo "ok: QEMU links without virtio-net ($target)"

# qemu_quit OPTS...: QEMU with OPTS (no machine), told to quit at once;
# timeout: a hang fails the check instead of eating CI's time.
qemu_quit() {
    echo quit | timeout -k 10 60 "$qemu" -M none -nodefaults -display none \
        -monitor stdio "$@" 2>&1
}

if out=$(qemu_quit -netdev "passt,id=n0,path=$passt"); then
    echo "ok: -netdev passt starts without virtio-net"
else
    echo "FAIL: -netdev passt without virtio-net (status $?): $out"
    exit 1
fi
rc=0
out=$(qemu_quit -netdev "passt,id=n0,path=$passt,vhost-user=on") || rc=$?
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || ! grep -q "vhost-user" <<<"$out"; then
    echo "FAIL: -netdev passt,vhost-user=on without virtio-net (status $rc): $out"
    exit 1
fi
echo "ok: vhost-user=on refused without virtio-net: $(tail -n1 <<<"$out")"

. "$TOP/scripts/passed.sh"
passed_record no-virtio-net "$(check_hash no-virtio-net)"
