#!/bin/bash
# QEMU links for a target without virtio-net, where net/vhost-user-stub.c
# stands in for net/vhost-user.c, and there -netdev passt,vhost-user=on
# is refused with a clear error while the socket pair still works.
set -euo pipefail
. "$(dirname "$0")/config.sh"

export QEMU_BUILD=$BUILD/qemu-build-novirtio
QEMU_CONFIGURE_EXTRA=--without-default-devices QEMU_TARGETS=qemu-system-x86_64 \
    "$TOP/scripts/build-qemu.sh" \
    > "$BUILD/no-virtio-net-build.log" 2>&1 ||
    die "--without-default-devices build failed, see $BUILD/no-virtio-net-build.log"
qemu=$QEMU_BUILD/qemu-system-x86_64
passt=$PASST_PREFIX/bin/passt
echo "ok: QEMU links without virtio-net (--without-default-devices)"

if out=$(echo quit | "$qemu" -M none -nodefaults -display none -monitor stdio \
         -netdev "passt,id=n0,path=$passt" 2>&1); then
    echo "ok: -netdev passt starts without virtio-net"
else
    echo "FAIL: -netdev passt without virtio-net: $out"
    exit 1
fi
if out=$(echo quit | "$qemu" -M none -nodefaults -display none -monitor stdio \
         -netdev "passt,id=n0,path=$passt,vhost-user=on" 2>&1) ||
   ! grep -q "vhost-user" <<<"$out"; then
    echo "FAIL: -netdev passt,vhost-user=on without virtio-net: $out"
    exit 1
fi
echo "ok: vhost-user=on refused without virtio-net: $(tail -n1 <<<"$out")"
