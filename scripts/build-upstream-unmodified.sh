#!/bin/bash
# Build upstream QEMU 10.2 as released, without the upstream series, into
# build/qemu-upstream-unmodified-build: the anchor that make bench measures
# the series against (its upstream-passt backends).
set -euo pipefail
export SERIES=upstream
. "$(dirname "$0")/config.sh"

"$TOP/scripts/fetch-qemu.sh"
"$TOP/scripts/mktree.sh"
wt=$BUILD/qemu-upstream-unmodified
if [ ! -e "$wt/.git" ]; then
    git -C "$QEMU_TREE" worktree prune
    git -C "$QEMU_TREE" worktree add -q --detach "$wt" "$BASE_TAG"
fi
QEMU_TREE=$wt QEMU_BUILD=$BUILD/qemu-upstream-unmodified-build \
    QEMU_TARGETS=qemu-system-x86_64 "$TOP/scripts/build-qemu.sh"
