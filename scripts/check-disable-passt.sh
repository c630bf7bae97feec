#!/bin/bash
# QEMU still builds with --disable-passt, and then knows no passt netdev.
# Built from a copy of the main build, reconfigured: only what the
# missing CONFIG_PASST reaches is compiled again (narrow-rebuild.sh). A
# meson build directory names its own path, so the copy takes the main
# build's place while the check runs, and gives it back afterwards.
set -euo pipefail
. "$(dirname "$0")/config.sh"

main=$QEMU_BUILD
keep=$main.keep
[ -f "$main/build.ninja" ] || die "no QEMU build in $main (run build first)"
[ ! -e "$keep" ] || die "$keep is there: a check that stopped midway left it; move it back to $main"
mv "$main" "$keep"
trap 'rm -rf "$main" && mv "$keep" "$main"' EXIT
cp -a "$keep" "$main"

log=$BUILD/disable-passt-build.log
{ cp -p "$main/config-host.h" "$main/config-host.h.saved"
  "$main/pyvenv/bin/meson" configure -Dpasst=disabled "$main"
  ninja -C "$main" build.ninja
  "$TOP/scripts/narrow-rebuild.sh" "$main" "$main/config-host.h.saved"
  QEMU_TARGETS=qemu-system-x86_64 "$TOP/scripts/build-qemu.sh"
} > "$log" 2>&1 || die "--disable-passt build failed, see $log"
grep '^narrow-rebuild:' "$log" || :
qemu=$main/qemu-system-x86_64

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
passed_record disable-passt "$(check_hash disable-passt)"
