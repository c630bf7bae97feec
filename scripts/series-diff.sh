#!/bin/bash
# Where the two series' final trees differ in the passt backend's own files
# (this project's code, not the rest of QEMU): each file of either tree's
# net/passt*, net/stream_data.*, tests/qtest/netdev-passt.c, with "same",
# "only in ..." or its diffstat. -u: the unified diffs too. Both work trees
# must exist (make tree, make SERIES=upstream tree).
set -euo pipefail
. "$(dirname "$0")/config.sh"

full=
[ "${1:-}" = -u ] && full=1
a=$BUILD/qemu b=$BUILD/qemu-upstream
for t in "$a" "$b"; do
    [ -d "$t/.git" ] || die "no work tree in $t"
done
mapfile -t files < <(cd "$a" && git ls-files 'net/passt*' 'net/stream_data.*' \
                         tests/qtest/netdev-passt.c
                     cd "$b" && git ls-files 'net/passt*' 'net/stream_data.*' \
                         tests/qtest/netdev-passt.c)
mapfile -t files < <(printf '%s\n' "${files[@]}" | sort -u)
same=0
for f in "${files[@]}"; do
    if [ ! -f "$a/$f" ]; then
        echo "only in upstream: $f"
    elif [ ! -f "$b/$f" ]; then
        echo "only in 10.0:     $f"
    elif cmp -s "$a/$f" "$b/$f"; then
        echo "same:             $f"
        same=$((same + 1))
    else
        printf 'differ:           %s (%s)\n' "$f" \
            "$(diff "$a/$f" "$b/$f" | grep -c '^[<>]') lines"
        [ -z "$full" ] || diff -u "$a/$f" "$b/$f" |
            sed "1s|$a/|10.0: |; 2s|$b/|upstream: |" || true
    fi
done
echo "$same of ${#files[@]} files the same"
