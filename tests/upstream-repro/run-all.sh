#!/bin/bash
# Run the reproducers of upstream QEMU's -netdev passt bugs, each under a
# timeout.
#   run-all.sh            against QEMU= (default build/qemu-upstream-build/
#                         qemu-system-x86_64) and PASST= (default
#                         build/passt/bin/passt): prints each one's output;
#                         exits 0 when every bug reproduced
#   run-all.sh --fixed    the same, against a build with the fixes: TAP, "ok"
#                         for each bug that no longer reproduces, "ok ...
#                         # SKIP" where this QEMU lacks what the reproducer
#                         needs (the 10.0 series' interface), and for
#                         those named in REPRO_NOT_OURS (bugs outside the
#                         series under test) or fixed after the series
#                         REPRO_UPTO (the stack up to it)
#   run-all.sh --anchors  against both anchors: upstream QEMU 11.1.3 as
#                         Debian sid ships it (build/qemu-sid, with sid's
#                         passt) and 10.2.2 unmodified
#                         (scripts/build-upstream-unmodified.sh, with
#                         build/passt); prints each one's output on each,
#                         then a table; exits 0 when each bug reproduces
#                         where the table below expects it, and not where
#                         that upstream fixed it; an "ok:"/"FAIL:" line
#                         each (scripts/tap.sh makes TAP of them)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

# Each reproducer, the patch of patches-upstream/ that fixes its bug
# (FOLDER/N: patch N of that series), and
# whether the bug is there on 11.1.3 and on 10.2.2 (as README.md shows);
# "race": it is, but shows only within some rounds, not every run; "-":
# another bug there comes first, and the result is only shown
repros=(
    'stream-partial-writes.py   1-net-stream/1       yes yes'
    'socket-partial-writes.py   1-net-stream/2       yes yes'
    'double-close.py            2-passt-fixes/1      yes yes'
    'failed-start.py            2-passt-fixes/3      yes yes'
    'stale-pid.py               2-passt-fixes/3      yes -'
    'restart-fails.py           2-passt-fixes/4      no  yes'
    'uaf-netdev-del.py          2-passt-fixes/5      yes yes'
    'foreground-hang.py         2-passt-fixes/6      yes yes'
    'vhost-user-setup-fails.py  2-passt-fixes/7      yes yes'
    'vhost-user-restart.py      3-passt-behaviour/1  yes yes'
    'vhost-user-announce.py     2-passt-fixes/8      yes yes'
    'vhost-user-private-ram.py  3-passt-behaviour/2  yes yes'
    'empty-path.py              2-passt-fixes/9      yes yes'
    'add-del.py                 2-passt-fixes/10     race race'
    'closed-bh.py               2-passt-fixes/12     yes yes'
    'vhost-user-closed-bh.py    2-passt-fixes/13     yes yes'
    'vhost-user-netdev-add-fails.py 6-vhost-user-frontend/3 yes yes'
)
# REPRO_ANCHORS: which of them --anchors runs (CI: 11.1.3, which needs no build)
read -r -a anchors <<<"${REPRO_ANCHORS:-11.1.3 10.2.2}"
declare -A anchor_qemu=(
    [11.1.3]=$top/build/qemu-sid/bin/qemu-system-x86_64
    [10.2.2]=$top/build/qemu-upstream-unmodified-build/qemu-system-x86_64)
declare -A anchor_passt=(
    [11.1.3]=$top/build/passt-sid/bin/passt
    [10.2.2]=$top/build/passt/bin/passt)

# What a reproducer's exit status says (see verdict.py)
result() {
    case $1 in
    0) echo REPRODUCED ;;
    1) echo 'not reproduced' ;;
    2) echo 'could not run' ;;
    3) echo 'does not apply' ;;
    124 | 137) echo 'timed out' ;;
    *) echo "exit status $1" ;;
    esac
}

run() {     # script: its output; its exit status in $rc
    rc=0
    timeout -k 10 90 python3 "$here/$1" || rc=$?
}

fixed() {
    local n=0 status=0 r t
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    echo "1..${#repros[@]}"
    for r in "${repros[@]}"; do
        read -r t patch _ <<<"$r"
        n=$((n + 1))
        if [[ " ${REPRO_NOT_OURS:-} " == *" $t "* ]]; then
            echo "ok $n - $t # SKIP not code of the series under test"
            continue
        fi
        if [ -n "${REPRO_UPTO:-}" ] && [ "${patch%%-*}" -gt "${REPRO_UPTO%%-*}" ]; then
            echo "ok $n - $t # SKIP fixed in a later series ($patch)"
            continue
        fi
        run "$t" >"$log" 2>&1
        if [ "$rc" -eq 1 ]; then
            echo "ok $n - $t: not reproduced"
        elif [ "$rc" -eq 3 ]; then
            echo "ok $n - $t # SKIP $(tail -n 1 "$log" |
                sed 's/^does not apply: //')"
        else
            echo "not ok $n - $t: $(result "$rc")"
            status=1
        fi
        sed 's/^/# /' "$log"
    done
    return $status
}

plain() {
    local status=0 r t
    for r in "${repros[@]}"; do
        read -r t _ <<<"$r"
        echo "--- $t"
        run "$t"
        [ "$rc" -eq 0 ] || status=1
    done
    return $status
}

anchors() {
    local status=0 r t patch a got exp row table=()
    local -A want
    for r in "${repros[@]}"; do
        read -r t patch 'want[11.1.3]' 'want[10.2.2]' <<<"$r"
        row=$(printf '%-27s %-20s' "$t" "$patch")
        echo "=== $t (fixed by patches-upstream/$patch)"
        for a in "${anchors[@]}"; do
            echo "--- on $a: QEMU=${anchor_qemu[$a]#"$top/"}" \
                "PASST=${anchor_passt[$a]#"$top/"}"
            QEMU=${anchor_qemu[$a]} PASST=${anchor_passt[$a]} run "$t"
            got=$(result "$rc")
            exp='not reproduced'
            [ "${want[$a]}" = no ] || exp=REPRODUCED
            [ "${want[$a]}" != race ] || [ "$got" != 'not reproduced' ] ||
                exp=$got
            [ "${want[$a]}" != - ] || exp=$got
            if [ "$got" != "$exp" ]; then
                got="$got (expected: $exp)"
                status=1
                echo "FAIL: $t on $a: $got"
            else
                echo "ok: $t on $a: $got"
            fi
            row+=$(printf '  %-18s' "$got")
        done
        table+=("$row")
    done
    echo
    {
        printf '%-27s %-20s' script patch
        printf '  %-18s' "${anchors[@]}"
        echo
        printf '%s\n' "${table[@]}"
    } | sed 's/ *$//'
    return $status
}

case ${1:-} in
--fixed) fixed ;;
--anchors) anchors ;;
'') plain ;;
*) echo "usage: $0 [--fixed | --anchors]" >&2; exit 2 ;;
esac
