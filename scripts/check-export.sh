#!/bin/bash
# Fail when the series' patches ($PATCHES_DIR: patches/ or
# patches-upstream/, see config.sh) and the work tree's commits disagree;
# for a stack, in each series' folder (PART: that series' alone).
set -euo pipefail
. "$(dirname "$0")/config.sh"

[ -e "$QEMU_TREE/.git" ] || die "no work tree in $QEMU_TREE"
if [ -n "$(git -C "$QEMU_TREE" status --porcelain --untracked-files=no)" ]; then
    die "$QEMU_TREE has uncommitted changes: commit them, then export"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$TOP/scripts/export.sh" "$tmp"
differ=
for i in $(stack_parts); do
    dir=$(stack_dir "$i")
    diff -ru -x STACK "$dir" "$tmp${dir#"$PATCHES_DIR"}" >> "$tmp.diff" 2>&1 ||
        differ=1
done
if [ -n "$differ" ]; then
    head -n 40 "$tmp.diff" >&2
    rm -f "$tmp.diff"
    hint="make export"
    [ "$SERIES" = 10.0 ] || hint="make SERIES=$SERIES export"
    die "$(basename "$PATCHES_DIR")/ differs from the commits in $QEMU_TREE (run: $hint)"
fi
rm -f "$tmp.diff"
