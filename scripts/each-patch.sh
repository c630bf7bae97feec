#!/bin/bash
# Bisectability: build each patch of the series in turn and run the qtests
# that exist at that point; prints TAP.  A qtest listed with "[GLOB ...]"
# before its name runs at the patches that touch a file matching one of
# the globs, and at the last patch.  It checks the patches out in the
# series' own tree and builds them in its build directory, ending at the
# series' last patch: one full build fewer than a tree of its own (a fresh
# CI machine has none to reuse). The patches that pass go into
# .ci/passed (scripts/passed.sh): commit it with the series, and a patch
# on record as it is now is skipped, with the date it passed.
#
# The qtests of a patch run from a copy of its binaries while the next
# patches build, those of two patches at once: they spend most of their
# time waiting on passt's bounds, which leaves the CPUs to the build
# (niced, so that the tests keep the timing they have on their own).
set -euo pipefail
. "$(dirname "$0")/config.sh"
. "$TOP/scripts/passed.sh"

main=$QEMU_TREE
qtest_env
mapfile -t commits < <(git -C "$main" rev-list --reverse "$BASE_TAG"..HEAD)
mapfile -t qtests < <(grep -v '^\s*\(#\|$\)' "$QTESTS_FILE")

[ -z "$(git -C "$main" status --porcelain --untracked-files=no)" ] ||
    die "$main has uncommitted changes: commit them first"
branch=$(git -C "$main" symbolic-ref -q --short HEAD) ||
    branch=$(git -C "$main" rev-parse HEAD)
wt=$main
snaps=$(mktemp -d)
jobs=2
# The patches whose qtests run, oldest first: pid, number, subject, the
# qtests' names, the build's seconds and the patch's hash for .ci/passed
t_pid=() t_n=() t_subject=() t_names=() t_build=() t_hash=()
# The patches that passed, for .ci/passed: "HASH DATE"
passed=()
today=$(date -u +%F)
# On the way out, also on an error or a signal: no qtest left running, no
# copy left, the tree back where it was
stop_testing() {
    [ "${#t_pid[@]}" -gt 0 ] || return 0
    kill -TERM "${t_pid[@]}" 2>/dev/null || :
    # every process of the tests names the copy in its command line (the
    # qtests, their QEMU and passt), also one whose parent went first; a
    # QEMU on its way out may still start a passt
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        pkill -TERM -f "$snaps/" 2>/dev/null || break
        sleep 0.5
    done
    wait "${t_pid[@]}" 2>/dev/null || :
}
trap 'trap "" INT TERM; stop_testing; rm -rf "$snaps"
      git -C "$main" checkout -q "$branch"' EXIT

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

# run_qtests DIR QTEST...: the qtests, with the binaries copied into DIR
run_qtests() {
    local dir=$1 t name args rc start
    shift
    export QTEST_QEMU_BINARY=$dir/qemu-system-x86_64
    for t in "$@"; do
        read -r name args <<< "$t"
        start=$SECONDS rc=0
        # shellcheck disable=SC2086 # the arguments are words
        qtest "$dir/$name" $args || rc=$?
        if [ "$rc" -ne 0 ]; then
            echo "qtest $name: exit status $rc after $((SECONDS - start)) s$(
                [ "$rc" -eq 124 ] && echo ' (timed out)')"
            return 1
        fi
    done
}

# snapshot DIR TARGET...: copy the patch's QEMU and qtests into DIR; QEMU
# finds its firmware through qemu-bundle next to it
snapshot() {
    local dir=$1 t
    shift
    mkdir -p "$dir" &&
        cp "$QEMU_BUILD/qemu-system-x86_64" "$dir/" &&
        ln -s "$QEMU_BUILD/qemu-bundle" "$dir/qemu-bundle" || return
    for t in "$@"; do
        cp "$QEMU_BUILD/$t" "$dir/" || return
    done
}

# The verdict of the oldest patch whose qtests run, once they are done
verdict() {
    local rc=0 n=${t_n[0]}
    wait "${t_pid[0]}" || rc=$?
    rm -rf "${snaps:?}/$n"
    if [ "$rc" -eq 0 ]; then
        echo "ok $n - builds and passes ${t_names[0]} (build ${t_build[0]} s," \
             "qtests $(cat "$snaps/$n.s") s): ${t_subject[0]}"
        passed+=("${t_hash[0]} $today")
    else
        failed_patch "$n" "${t_subject[0]}"
    fi
    t_pid=("${t_pid[@]:1}") t_n=("${t_n[@]:1}") t_subject=("${t_subject[@]:1}")
    t_names=("${t_names[@]:1}") t_build=("${t_build[@]:1}")
    t_hash=("${t_hash[@]:1}")
}

# verdicts N: wait for verdicts until at most N patches' qtests run
verdicts() {
    while [ "${#t_pid[@]}" -gt "$1" ]; do
        verdict
    done
}

failed_patch() {
    local log=$EACH_PATCH-$1.log
    echo "not ok $1 - $2 (see $log)"
    # the qtest case that failed or hung: the last one that began
    { grep -E '^(ok|not ok) [0-9]+ /|^# Start of|^# End of' "$log" || :; } |
        tail -n 3 | sed 's/^/# last: /'
    tail -n 30 "$log" | sed 's/^/# /'
    status=1
}

echo "1..${#commits[@]}"
n=0 status=0
for c in "${commits[@]}"; do
    n=$((n + 1))
    subject=$(git -C "$main" log -1 --format=%s "$c")
    hash=$(check_hash each-patch "$c" "$([ "$n" -eq "${#commits[@]}" ] &&
                                         echo 1 || echo 0)")
    if when=$(passed_when each-patch "$hash"); then
        echo "ok $n - $subject # SKIP on record: passed on $when as it is now (.ci/passed)"
        passed+=("$hash $when")
        continue
    fi
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
    start=$SECONDS
    if nice -n 10 ionice -c 3 "$TOP/scripts/build-qemu.sh" "${targets[@]}" \
           > "$log" 2>&1 &&
       snapshot "$snaps/$n" "${targets[@]}" >> "$log" 2>&1; then
        build=$((SECONDS - start))
        verdicts $((jobs - 1))
        (
            # what a qtest stopped on the way out leaves goes with the copy
            export TMPDIR=$snaps/$n/tmp
            mkdir "$TMPDIR"
            start=$SECONDS
            run_qtests "$snaps/$n" "${present[@]}"
            echo $((SECONDS - start)) > "$snaps/$n.s"
        ) >> "$log" 2>&1 &
        t_pid+=($!) t_n+=("$n") t_subject+=("$subject") t_build+=("$build")
        t_hash+=("$hash")
        t_names+=("${present[*]%% *}")
    else
        verdicts 0
        failed_patch "$n" "$subject"
    fi
done
verdicts 0
passed_record each-patch "${passed[@]}"
exit $status
