#!/bin/bash
# Create the QEMU work tree: a git repository whose first commit is the
# unmodified Debian source (tagged $BASE_TAG), with the series' patches
# ($PATCHES_DIR: patches/ or patches-upstream/, see config.sh; a stack's
# series in order, up to UPTO) applied on top by git am; a series of a cover letter alone, or none, leaves the base
# commit alone. An existing tree is left alone: check-export.sh says whether
# it still matches the patches.
set -euo pipefail
. "$(dirname "$0")/config.sh"

[ -d "$QEMU_TREE/.git" ] && exit 0
[ -f "$QEMU_SRC/.fetched" ] || die "no QEMU source in $QEMU_SRC (run fetch first)"

log "creating work tree $QEMU_TREE"
tmp=$QEMU_TREE.tmp
rm -rf "$tmp"
mkdir -p "$tmp"
tar -C "$QEMU_SRC" --exclude=./debian --exclude=./.fetched -cf - . | tar -C "$tmp" -xf -
cd "$tmp"
git init -q -b master
git config user.name "$SERIES_AUTHOR"
git config user.email "$SERIES_EMAIL"
git config core.autocrlf false
git config am.threeWay false
# The +ds tarball carries no .gitignore of its own for our build layout.
git add -A -f .
GIT_AUTHOR_DATE="2000-01-01T00:00:00Z" GIT_COMMITTER_DATE="2000-01-01T00:00:00Z" \
    git commit -q -m "QEMU $(cat "$QEMU_SRC/.fetched") (Debian source, unmodified)"
git tag "$BASE_TAG"
mapfile -t series < <(stack_patches)
if [ ${#series[@]} -gt 0 ]; then
    git am -q --whitespace=nowarn "${series[@]}" || {
        git am --abort || true
        cd / && rm -rf "$tmp"
        die "$(basename "$PATCHES_DIR")/ does not apply to $(cat "$QEMU_SRC/.fetched")"
    }
fi
cd /
mv "$tmp" "$QEMU_TREE"
log "work tree ready: $(git -C "$QEMU_TREE" rev-list --count "$BASE_TAG"..HEAD) patch(es) on $BASE_TAG"
