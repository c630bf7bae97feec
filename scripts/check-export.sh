#!/bin/bash
# Fail when patches/ and the work tree's commits disagree.
set -euo pipefail
. "$(dirname "$0")/config.sh"

[ -d "$QEMU_TREE/.git" ] || die "no work tree in $QEMU_TREE"
if [ -n "$(git -C "$QEMU_TREE" status --porcelain --untracked-files=no)" ]; then
    die "$QEMU_TREE has uncommitted changes: commit them, then export"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$TOP/scripts/export.sh" "$tmp"
if ! diff -ru "$TOP/patches" "$tmp" > "$tmp.diff" 2>&1; then
    head -n 40 "$tmp.diff" >&2
    rm -f "$tmp.diff"
    die "patches/ differs from the commits in $QEMU_TREE (run: make export)"
fi
rm -f "$tmp.diff"
