#!/bin/bash
# Give the QAPI items that the upstream series adds the "Since:" of
# QAPI_SINCE (scripts/config.sh), in every patch of the series' work
# tree; then export as usual.  The series gives all its items one
# version: the one on its first added "Since:" line is replaced.
set -euo pipefail
export SERIES=upstream
. "$(dirname "$0")/config.sh"

[ -z "$(git -C "$QEMU_TREE" status --porcelain --untracked-files=no)" ] ||
    die "$QEMU_TREE has uncommitted changes: commit them first"
old=$(git -C "$QEMU_TREE" diff "$BASE_TAG"..HEAD -- qapi/ |
      sed -n 's/^+# Since: \([0-9][0-9.]*\)$/\1/p' | head -n 1)
[ -n "$old" ] || die "the series adds no QAPI item with a Since: line"
if [ "$old" = "$QAPI_SINCE" ]; then
    log "the series' QAPI items say Since: $QAPI_SINCE already"
    exit 0
fi
log "Since: $old -> $QAPI_SINCE in each patch"
o=${old//./\\.}
FILTER_BRANCH_SQUELCH_WARNING=1 git -C "$QEMU_TREE" filter-branch -f \
    --tree-filter "sed -i -e 's/^# Since: $o\$/# Since: $QAPI_SINCE/' \
                          -e 's/(since $o)/(since $QAPI_SINCE)/' qapi/net.json" \
    "$BASE_TAG"..HEAD >&2
