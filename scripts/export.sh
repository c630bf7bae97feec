#!/bin/bash
# export.sh [DIR]: write the work tree's commits since $BASE_TAG as the
# series, with the cover letter from $COVER_LETTER, into DIR (default:
# $PATCHES_DIR; for SERIES=10.0 doc/cover-letter.txt and patches/, for
# SERIES=upstream doc/cover-letter-upstream.txt and patches-upstream/).
# With no commits yet, the cover letter alone. Nothing volatile goes in, so
# re-exporting an unchanged tree changes no byte.
set -euo pipefail
. "$(dirname "$0")/config.sh"

out=${1:-$PATCHES_DIR}
[ -d "$QEMU_TREE/.git" ] || die "no work tree in $QEMU_TREE"
cover=$COVER_LETTER
[ -f "$cover" ] || die "missing $cover"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git -C "$QEMU_TREE" -c core.abbrev=12 -c diff.noprefix=false \
    -c format.signature= -c format.coverLetter=false \
    format-patch -q --zero-commit --signature=qemu-passt-series --stat \
    --cover-letter --subject-prefix=PATCH -o "$tmp" "$BASE_TAG"..HEAD
if [ ! -f "$tmp/0000-cover-letter.patch" ]; then
    # No commits: format-patch writes nothing; a cover letter of its form.
    printf '%s\n' "From $(printf '0%.0s' {1..40}) Mon Sep 17 00:00:00 2001" \
        "From: $SERIES_AUTHOR <$SERIES_EMAIL>" \
        "Subject: [PATCH 0/0] *** SUBJECT HERE ***" "" "*** BLURB HERE ***" \
        "" "-- " "qemu-passt-series" > "$tmp/0000-cover-letter.patch"
fi

# Fill the cover letter's placeholders from $COVER_LETTER (first
# line: subject; the rest: body) and drop its Date, which is "now".
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
    { print }' "$tmp/0000-cover-letter.patch" > "$tmp/cover"
mv "$tmp/cover" "$tmp/0000-cover-letter.patch"

mkdir -p "$out"
rm -f "$out"/[0-9][0-9][0-9][0-9]-*.patch
cp "$tmp"/*.patch "$out"/
