#!/bin/bash
# Bisectability: build each patch of the series in turn, in a worktree of
# its own, and run the qtests that exist at that point; prints TAP.
set -euo pipefail
. "$(dirname "$0")/config.sh"

main=$BUILD/$QEMU_NAME
wt=$EACH_PATCH
export QEMU_TREE=$wt QEMU_BUILD=$EACH_PATCH-build
qtest_env
mapfile -t commits < <(git -C "$main" rev-list --reverse "$BASE_TAG"..HEAD)
mapfile -t qtests < <(grep -v '^\s*\(#\|$\)' "$QTESTS_FILE")

if [ ! -d "$wt" ]; then
    git -C "$main" worktree prune
    git -C "$main" worktree add -q --detach "$wt" "$BASE_TAG"
fi

run_qtests() {
    local t name args
    for t in "$@"; do
        read -r name args <<< "$t"
        # shellcheck disable=SC2086 # the arguments are words
        timeout 600 "$QEMU_BUILD/tests/qtest/$name" $args || return 1
    done
}

echo "1..${#commits[@]}"
n=0 status=0
for c in "${commits[@]}"; do
    n=$((n + 1))
    subject=$(git -C "$main" log -1 --format=%s "$c")
    git -C "$wt" checkout -q --detach "$c"
    present=() targets=()
    for t in "${qtests[@]}"; do
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
        tail -n 30 "$log" | sed 's/^/# /'
        status=1
    fi
done
exit $status
