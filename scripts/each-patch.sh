#!/bin/bash
# Bisectability: build each patch of the series in turn and run the qtests
# that exist at that point; prints TAP.  A qtest listed with "[GLOB ...]"
# before its name runs at the patches that touch a file matching one of
# the globs, and at the last patch.  It checks the patches out in the
# series' own tree and builds them in its build directory, ending at the
# series' last patch: one full build fewer than a tree of its own (a fresh
# CI machine has none to reuse).
set -euo pipefail
. "$(dirname "$0")/config.sh"

main=$QEMU_TREE
qtest_env
mapfile -t commits < <(git -C "$main" rev-list --reverse "$BASE_TAG"..HEAD)
mapfile -t qtests < <(grep -v '^\s*\(#\|$\)' "$QTESTS_FILE")

[ -z "$(git -C "$main" status --porcelain --untracked-files=no)" ] ||
    die "$main has uncommitted changes: commit them first"
branch=$(git -C "$main" symbolic-ref -q --short HEAD) ||
    branch=$(git -C "$main" rev-parse HEAD)
trap 'git -C "$main" checkout -q "$branch"' EXIT
wt=$main

# Does the patch touch a file matching one of the globs given?
touches() {
    local f g
    for f in "${touched[@]}"; do
        for g in "$@"; do
            # shellcheck disable=SC2053 # a glob, on purpose
            [[ $f == $g ]] && return 0
        done
    done
    return 1
}

run_qtests() {
    local t name args rc start
    for t in "$@"; do
        read -r name args <<< "$t"
        start=$SECONDS rc=0
        # shellcheck disable=SC2086 # the arguments are words
        qtest "$QEMU_BUILD/tests/qtest/$name" $args || rc=$?
        if [ "$rc" -ne 0 ]; then
            echo "qtest $name: exit status $rc after $((SECONDS - start)) s$(
                [ "$rc" -eq 124 ] && echo ' (timed out)')"
            return 1
        fi
    done
}

echo "1..${#commits[@]}"
n=0 status=0
for c in "${commits[@]}"; do
    n=$((n + 1))
    subject=$(git -C "$main" log -1 --format=%s "$c")
    git -C "$wt" checkout -q --detach "$c"
    mapfile -t touched < <(git -C "$main" diff --name-only "$c^" "$c")
    present=() targets=()
    for t in "${qtests[@]}"; do
        if [[ $t == \[* ]]; then
            read -r -a globs <<< "${t%%]*}"
            globs[0]=${globs[0]#[}
            t=${t#*] }
            [ "$n" -eq "${#commits[@]}" ] || touches "${globs[@]}" || continue
        fi
        name=${t%% *}
        if [ -f "$wt/tests/qtest/$name.c" ]; then
            present+=("$t")
            targets+=("tests/qtest/$name")
        fi
    done
    log=$EACH_PATCH-$n.log
    if "$TOP/scripts/build-qemu.sh" "${targets[@]}" > "$log" 2>&1 &&
       run_qtests "${present[@]}" >> "$log" 2>&1; then
        echo "ok $n - builds and passes ${present[*]%% *}: $subject"
    else
        echo "not ok $n - $subject (see $log)"
        # the qtest case that failed or hung: the last one that began
        grep -E '^(ok|not ok) [0-9]+ /|^# Start of|^# End of' "$log" |
            tail -n 3 | sed 's/^/# last: /'
        tail -n 30 "$log" | sed 's/^/# /'
        status=1
    fi
done
exit $status
