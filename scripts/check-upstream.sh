#!/bin/bash
# The series must apply to upstream QEMU as well, without Debian's patches:
# check the whole series against the orig tarball alone.
set -euo pipefail
. "$(dirname "$0")/config.sh"

[ -d "$QEMU_ORIG" ] || die "no upstream tree in $QEMU_ORIG"
version=$(cat "$QEMU_ORIG/VERSION")
cd "$QEMU_ORIG"
if git -C "$QEMU_TREE" diff --quiet "$BASE_TAG" HEAD; then
    echo "ok: series is empty (nothing to apply to upstream QEMU $version)"
    exit 0
fi
# Keep git from finding the project repository above and applying
# relative to it.
if git -C "$QEMU_TREE" diff --binary "$BASE_TAG" HEAD |
   GIT_CEILING_DIRECTORIES=$BUILD git apply --check -; then
    echo "ok: series applies to upstream QEMU $version (orig tarball)"
else
    echo "FAIL: series does not apply to upstream QEMU $version (orig tarball)"
    exit 1
fi
