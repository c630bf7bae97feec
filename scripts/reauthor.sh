#!/bin/bash
# reauthor.sh "NAME <EMAIL>" OUTDIR: a copy of the series' patches
# (SERIES=10.0 or upstream), authored and signed off by the person who
# posts them. The repository keeps the placeholder identity of
# config.sh; only the copy in OUTDIR, which must not exist, carries the
# poster's From: and Signed-off-by:. For a stack, OUTDIR has a folder
# per series, as $PATCHES_DIR has. Each series is then posted with
# git send-email OUTDIR[/FOLDER]/*.patch (see the README).
set -euo pipefail
. "$(dirname "$0")/config.sh"

[ $# -eq 2 ] || die "usage: $0 \"NAME <EMAIL>\" OUTDIR"
who=$1 out=$2
[[ $who =~ ^[^\<\>]+\ \<[^\<\>@\ ]+@[^\<\>\ ]+\>$ ]] ||
    die "'$who' is not NAME <EMAIL>"
[ ! -e "$out" ] || die "$out exists"
case $who in
*"$SERIES_EMAIL"*) die "'$who' is the placeholder identity";;
esac

placeholder="$SERIES_AUTHOR <$SERIES_EMAIL>"
mkdir -p "$out"
n=0
for i in $(stack_parts); do
    mkdir -p "$out${ST_NAME[i]:+/${ST_NAME[i]}}"
done
mapfile -t patches < <(for i in $(stack_parts); do
                           ls "$(stack_dir "$i")"/*.patch
                       done)
for p in "${patches[@]}"; do
    # From: of the mail header, and the Signed-off-by: of the trailers;
    # a Signed-off-by: of the poster's already there is not doubled
    # the cover letter's shortlog names the author too
    awk -v old="$placeholder" -v new="$who" -v oldname="$SERIES_AUTHOR" '
        NR == 2 && $0 == "From: " old { print "From: " new; next }
        index($0, oldname " (") == 1 && /\([0-9]+\):$/ {
            name = new
            sub(/ <[^>]*>$/, "", name)
            print name substr($0, length(oldname) + 1)
            next
        }
        $0 == "Signed-off-by: " old {
            if (!seen[new]++) print "Signed-off-by: " new
            next
        }
        /^Signed-off-by: / { seen[substr($0, 16)]++ }
        /^---$/ { delete seen }
        { print }
    ' "$p" > "$out/${p#"$PATCHES_DIR"/}"
    n=$((n + 1))
done
if grep -rl "$SERIES_EMAIL" "$out"; then
    die "the placeholder identity is left in the files above"
fi
echo "$n patches in $out, from $who"
