#!/bin/bash
# export.sh [DIR]: write the work tree's commits since $BASE_TAG as the
# series, with their cover letters, into DIR (default: $PATCHES_DIR). For
# SERIES=10.0 one series, patches/, cover letter doc/cover-letter.txt; for
# SERIES=upstream the stack of stack.sh: each series' patches in DIR/FOLDER,
# numbered within the series, cover letter doc/cover-letters-upstream/
# FOLDER.txt. With no commits yet, the cover letter alone. Nothing volatile
# goes in, so re-exporting an unchanged tree changes no byte.
set -euo pipefail
. "$(dirname "$0")/config.sh"

out=${1:-$PATCHES_DIR}
[ -e "$QEMU_TREE/.git" ] || die "no work tree in $QEMU_TREE"
mapfile -t commits < <(git -C "$QEMU_TREE" rev-list --reverse "$BASE_TAG"..HEAD)
last=$(stack_last)
if [ -n "${ST_NAME[0]}" ]; then
    total=$(($(stack_first_patch "$last") + ST_COUNT[last] - 1))
    [ "${#commits[@]}" -eq "$total" ] ||
        die "$QEMU_TREE has ${#commits[@]} commits, the stack up to" \
            "${ST_NAME[last]} $total ($STACK_FILE): change one of them"
else
    ST_COUNT[0]=${#commits[@]}
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# series I [RANGE]: its patches and cover letter in $tmp/I
series() {
    local i=$1 cover=${COVER_LETTER:-} subject body
    [ -z "${ST_NAME[i]}" ] || cover=$COVER_LETTERS/${ST_NAME[i]}.txt
    [ -f "$cover" ] || die "missing $cover"
    mkdir "$tmp/$i"
    [ -z "${2:-}" ] ||
        git -C "$QEMU_TREE" -c core.abbrev=12 -c diff.noprefix=false \
            -c format.signature= -c format.coverLetter=false \
            format-patch -q --zero-commit --signature=qemu-passt-series \
            --stat --cover-letter --subject-prefix="${ST_PREFIX[i]}" \
            -o "$tmp/$i" "$2"
    if [ ! -f "$tmp/$i/0000-cover-letter.patch" ]; then
        # No commits: format-patch writes nothing; a cover letter of its form.
        printf '%s\n' "From $(printf '0%.0s' {1..40}) Mon Sep 17 00:00:00 2001" \
            "From: $SERIES_AUTHOR <$SERIES_EMAIL>" \
            "Subject: [${ST_PREFIX[i]} 0/0] *** SUBJECT HERE ***" "" \
            "*** BLURB HERE ***" "" "-- " "qemu-passt-series" \
            > "$tmp/$i/0000-cover-letter.patch"
    fi

    # Fill the cover letter's placeholders from $cover (first line:
    # subject; the rest: body) and drop its Date, which is "now".
    subject=$(head -n1 "$cover")
    body=$tmp/body
    tail -n +3 "$cover" > "$body"
    awk -v subject="$subject" -v body="$body" '
        /^Date: / && !hdr_done { next }
        /^$/ { hdr_done = 1 }
        { sub(/\*\*\* SUBJECT HERE \*\*\*/, subject) }
        /^\*\*\* BLURB HERE \*\*\*$/ {
            while ((getline line < body) > 0) print line
            next
        }
        { print }' "$tmp/$i/0000-cover-letter.patch" > "$tmp/cover"
    mv "$tmp/cover" "$tmp/$i/0000-cover-letter.patch"
}

for i in $(seq 0 "$last"); do
    first=$(($(stack_first_patch "$i") - 1))
    range=
    [ "${ST_COUNT[i]}" -eq 0 ] ||
        range=${commits[first]}^..${commits[first + ST_COUNT[i] - 1]}
    series "$i" "$range"
    dir=$(stack_dir "$i")
    dir=$out${dir#"$PATCHES_DIR"}
    mkdir -p "$dir"
    rm -f "$dir"/[0-9][0-9][0-9][0-9]-*.patch
    cp "$tmp/$i"/*.patch "$dir"/
done
