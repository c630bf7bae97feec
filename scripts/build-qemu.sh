#!/bin/bash
# Configure (once) and build the QEMU targets the tests and the demo use.
# Extra ninja targets may be given as arguments.
set -euo pipefail
. "$(dirname "$0")/config.sh"

[ -e "$QEMU_TREE/.git" ] || die "no work tree in $QEMU_TREE (run mktree first)"
# A directory configured for fewer targets is configured again
grep -qe "--target-list=$QEMU_TARGET_LIST" "$QEMU_BUILD/config.status" \
    2>/dev/null || rm -f "$QEMU_BUILD/build.ninja"
if [ ! -f "$QEMU_BUILD/build.ninja" ]; then
    log "configuring QEMU in $QEMU_BUILD"
    mkdir -p "$QEMU_BUILD"
    # Debian's python (the image may put another first in PATH) has the
    # backported meson; Debian ships the firmware as packages.  No debug
    # info unless QEMU_DEBUG_INFO=1: the tests build the series five times
    # over from scratch, and -g makes each build a fifth slower.
    debug=--disable-debug-info
    [ "${QEMU_DEBUG_INFO:-0}" = 0 ] || debug=--enable-debug-info
    (cd "$QEMU_BUILD" && "$QEMU_TREE/configure" \
        --python=/usr/bin/python3 \
        --target-list="$QEMU_TARGET_LIST" \
        --disable-docs --disable-download --disable-install-blobs \
        --enable-slirp --enable-seccomp "$debug" ${QEMU_CONFIGURE_EXTRA:-} \
        --firmwarepath=/usr/share/seabios:/usr/lib/ipxe/qemu:/usr/share/qemu) >&2
fi
# A change of the configuration (a patch that adds an option, or a
# reconfigure) rebuilds only what it can reach
saved=$(mktemp)
trap 'rm -f "$saved"' EXIT
cp -p "$QEMU_BUILD/config-host.h" "$saved"
ninja -C "$QEMU_BUILD" build.ninja >&2
"$TOP/scripts/narrow-rebuild.sh" "$QEMU_BUILD" "$saved" >&2
# QEMU_TARGETS: what to build instead of QEMU and the stream qtests
read -r -a targets <<< "${QEMU_TARGETS:-qemu-system-x86_64 tests/qtest/netdev-socket tests/qtest/test-netfilter}"
targets+=("$@")
ninja -C "$QEMU_BUILD" "${targets[@]}" >&2

# Run from the build directory, QEMU looks for firmware under qemu-bundle/
# (see get_relocated_path()); point that at Debian's firmware packages.
for dir in /usr/share/seabios /usr/lib/ipxe/qemu /usr/share/qemu; do
    mkdir -p "$QEMU_BUILD/qemu-bundle$(dirname "$dir")"
    ln -sfn "$dir" "$QEMU_BUILD/qemu-bundle$dir"
done
