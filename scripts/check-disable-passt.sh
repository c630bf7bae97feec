#!/bin/bash
# QEMU still builds with --disable-passt, and then knows no passt netdev.
set -euo pipefail
. "$(dirname "$0")/config.sh"

export QEMU_BUILD=$BUILD/qemu-build-nopasst
QEMU_CONFIGURE_EXTRA=--disable-passt \
    QEMU_TARGETS=qemu-system-x86_64 "$TOP/scripts/build-qemu.sh" \
    > "$BUILD/disable-passt-build.log" 2>&1 ||
    die "--disable-passt build failed, see $BUILD/disable-passt-build.log"
qemu=$QEMU_BUILD/qemu-system-x86_64

if "$qemu" -netdev help | grep -qx passt; then
    echo "FAIL: -netdev help lists passt in a --disable-passt build"
    exit 1
fi
echo "ok: --disable-passt builds, and -netdev help does not list passt"
if out=$("$qemu" -M none -nodefaults -netdev passt,id=n0 2>&1); then
    echo "FAIL: -netdev passt accepted in a --disable-passt build"
    exit 1
fi
if ! grep -q "passt" <<<"$out"; then
    echo "FAIL: unclear error for -netdev passt: $out"
    exit 1
fi
echo "ok: -netdev passt is refused: $out"

. "$TOP/scripts/passed.sh"
passed_record disable-passt
