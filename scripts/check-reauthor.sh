#!/bin/bash
# check-reauthor.sh: reauthor.sh hands the series (SERIES=...) to the
# person who posts it: every From: and Signed-off-by: of ours becomes
# theirs, nothing else changes, and an identity that is not one is
# refused. Prints "ok: X" / "FAIL: X" lines.
# shellcheck disable=SC2317 # the checks run through check()
set -euo pipefail
. "$(dirname "$0")/config.sh"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
name="A Poster" who="A Poster <poster@example.org>"
ours="$SERIES_AUTHOR <$SERIES_EMAIL>"
status=0

check() {
    local what=$1
    shift
    if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; status=1; fi
}

mapfile -t patches < <(for i in $(stack_parts); do
                           ls "$(stack_dir "$i")"/*.patch
                       done)
patches=("${patches[@]#"$PATCHES_DIR"/}")
"$TOP/scripts/reauthor.sh" "$who" "$out/s" > /dev/null

all_copied() { [ "$(find "$out/s" -name '*.patch' | wc -l)" -eq "${#patches[@]}" ]; }
none_ours() { ! grep -rq "$SERIES_EMAIL" "$out/s"; }
all_theirs() {
    local p
    for p in "${patches[@]}"; do
        grep -qx "From: $who" "$out/s/$p" || return 1
        case ${p##*/} in 0000-*) continue;; esac
        grep -qx "Signed-off-by: $who" "$out/s/$p" || return 1
    done
}
# with the identity put back, each file is what it was
only_identity() {
    local p
    for p in "${patches[@]}"; do
        sed -e "s/$who/$ours/" -e "s/^$name (\([0-9]*\)):\$/$SERIES_AUTHOR (\1):/" \
            "$out/s/$p" | cmp -s - "$PATCHES_DIR/$p" || return 1
    done
}
refused() { ! "$TOP/scripts/reauthor.sh" "$1" "$out/$2" 2> /dev/null && [ ! -e "$out/$2" ]; }

check "every patch copied" all_copied
check "no placeholder identity left" none_ours
check "every patch from the poster, signed off by them" all_theirs
check "nothing but the identity changed" only_identity
check "the placeholder identity refused" refused "$ours" p
check "a name without an address refused" refused "$name" n
exit $status
