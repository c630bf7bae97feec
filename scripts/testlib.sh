# Sourced by test-10.0.sh and test-upstream.sh, after config.sh: set the
# series up, run its qtests, count TAP results.
# shellcheck shell=bash

LOGS=$BUILD/test-logs/$SERIES
rm -rf "$LOGS"
mkdir -p "$LOGS"
# The closing table of steps and their seconds: scripts/test.sh's when it
# runs both series, else this series' own
steps_owner=
if [ -z "${STEPS_FILE:-}" ]; then
    export STEPS_FILE=$LOGS/steps
    steps_owner=1
    : > "$STEPS_FILE"
fi

# QEMU is built below, after each-patch.sh with --each-patch (its last
# step is the build the other tests use): a build of the whole series
# first would be undone at the first patch, one full QEMU build more on a
# fresh machine.
SETUP_QEMU_BUILD=no "$TOP/scripts/setup.sh"
# The qtests of the series ($QTESTS_FILE) that its tree has (up to UPTO,
# not all yet); "[GLOB ...] " before a name only tells each-patch.sh when
# to run it
mapfile -t QTESTS < <(grep -v '^\s*\(#\|$\)' "$QTESTS_FILE" |
                      sed 's/^\[[^]]*\] *//' |
                      while read -r name args; do
                          [ ! -f "$QEMU_TREE/tests/qtest/$name.c" ] ||
                              echo "$name${args:+ $args}"
                      done)
mapfile -t targets < <(printf 'tests/qtest/%s\n' "${QTESTS[@]%% *}" | sort -u)
# (a guest that does not build fails the guest suite, not the other tests)
step "setup $SERIES: guest" bash "$TOP/guest/build-guest.sh" >&2 || :
. "$TOP/scripts/passed.sh"
passed=0 failed=0 skipped=0
# What failed and why, in a few lines each: test.sh prints it again last,
# where a CI log that keeps only its head and tail still shows it
FAILURES=$LOGS/failures
: > "$FAILURES"

# digest NAME LOG: a failed run's verdicts and their reasons, 12 lines
digest() {
    {
        echo "--- $1 ($2)"
        grep -E '(^|# )(not ok|Bail out)|ERROR|Assertion|Traceback|Error:|[Tt]imed out|exit status|# last:|stderr:' "$2" |
            grep -v '^ok ' | cut -c1-300 | head -n 11
    } >> "$FAILURES"
}

# run_tap NAME CMD...: run a TAP producer; count its results.
run_tap() {
    local name=$1 start=$SECONDS rc=0
    shift
    "$@" > "$LOGS/$name.log" 2>&1 || rc=$?
    report_tap "$name" "$rc" "$start"
}

# start_tap NAME CMD...: run_tap NAME CMD... in the background, beside the
# steps that follow, until finish_tap NAME: for tests that mostly wait
# (the qtests, on passt's bounds) or keep one of the two CPUs busy (the
# fuzz test). Nothing between the two may stop the script (set -e).
declare -A BG_PID=() BG_START=()
start_tap() {
    local name=$1
    shift
    BG_START[$name]=$SECONDS
    "$@" > "$LOGS/$name.log" 2>&1 &
    BG_PID[$name]=$!
}
finish_tap() {
    local rc=0 start=$SECONDS
    wait "${BG_PID[$1]}" || rc=$?
    unset "BG_PID[$1]"
    report_tap "$1" "$rc" "${BG_START[$1]}" $((SECONDS - start))
}
trap 'kill -TERM "${BG_PID[@]}" 2>/dev/null || :' EXIT

# report_tap NAME STATUS START [WAITED]: the results of a TAP producer
# that exited with STATUS, counted, and its line in the table of steps
# (WAITED: it ran beside other steps, and the script waited that many
# seconds for it at the end)
report_tap() {
    local name=$1 rc=$2 start=$3 log=$LOGS/$1.log ok nok skip rec verdict
    printf -- '--- %s\n' "$name"
    ok=$(grep -cE '^ok ' "$log" | tr -d ' ' || true)
    skip=$(grep -cE '^ok .*# *SKIP' "$log" || true)
    rec=$(grep -cE '^ok .*# *SKIP.*\(\.ci/passed\)' "$log" || true)
    nok=$(grep -cE '^not ok ' "$log" || true)
    grep -E '^(not )?ok ' "$log" | sed 's/^/    /' || true
    if [ "$rc" -ne 0 ] && [ "$nok" -eq 0 ]; then
        echo "    not ok - $name exited with status $rc (see $log)"
        tail -n 20 "$log" | sed 's/^/    # /'
        nok=1
    elif [ "$nok" -ne 0 ]; then
        grep -B20 -E '^not ok ' "$log" | grep -vE '^ok ' | tail -n 40 | sed 's/^/    # /'
    fi
    [ "$nok" -eq 0 ] || digest "$name" "$log"
    printf '    # %s: %d s\n' "$name" $((SECONDS - start))
    if [ "$nok" -ne 0 ]; then
        verdict="FAILED $nok"
    else
        verdict="ok $((ok - skip)), skipped $skip"
        [ "$rec" -eq 0 ] || verdict+=" ($rec on record in .ci/passed)"
    fi
    printf '%s\t%d\t%s\t%s\n' "$name" $((SECONDS - start)) "$verdict" \
        "${4:-}" >> "$STEPS_FILE"
    passed=$((passed + ok - skip))
    skipped=$((skipped + skip))
    failed=$((failed + nok))
}

# run_recorded_check NAME CMD...: run_tap NAME CMD..., unless the check
# NAME (minus $TEST_PREFIX) passed on the series' final tree as it is now
# (.ci/passed): then one skipped result that says so.
run_recorded_check() {
    local name=$1 check=${1#"${TEST_PREFIX:-}"} when why
    if when=$(passed_when "$check" "$(check_hash "$check")"); then
        skip_tap "$name" "$check passed on these patches on $when (.ci/passed)"
        return
    fi
    run_tap "$@"
}

# skip_tap NAME WHY: one skipped result for NAME that says why
skip_tap() {
    printf -- '--- %s\n    ok - %s # SKIP %s\n' "$1" "$1" "$2"
    printf '%s\t0\tskipped: %s\n' "$1" "$2" >> "$STEPS_FILE"
    skipped=$((skipped + 1))
}

# NAME@VARIANT for a run on another passt than the default one
at() { [ "$2" = "${PASST_VARIANTS[0]}" ] && echo "$1" || echo "$1@$2"; }

# run_qtests [PREFIX]: each qtest of the series, netdev-passt* on each of
# our passts at once and the others once, named
# PREFIX"qtest-"NAME[@VARIANT].
run_qtests() {
    local t name args v variants
    for t in "${QTESTS[@]}"; do
        read -r name args <<< "$t"
        variants=("${PASST_VARIANTS[0]}")
        [[ $name = netdev-passt* ]] && variants=("${PASST_VARIANTS[@]}")
        for v in "${variants[@]}"; do
            qtest_env "$v"
            # shellcheck disable=SC2086 # the arguments are words
            start_tap "${1:-}$(at "qtest-$name" "$v")" \
                qtest "$QEMU_BUILD/tests/qtest/$name" --tap $args
        done
        for v in "${variants[@]}"; do
            finish_tap "${1:-}$(at "qtest-$name" "$v")"
        done
    done
    qtest_env
}

# The closing line, and the exit status
summary() {
    [ -z "$steps_owner" ] || "$TOP/scripts/steps-table.sh" "$STEPS_FILE"
    [ "$failed" -eq 0 ] || { echo "--- what failed"; cat "$FAILURES"; }
    echo "$passed passed, $failed failed, $skipped skipped"
    [ "$failed" -eq 0 ]
}

# each-patch.sh skips, and says so, the patches on record in .ci/passed
if [ -n "${each_patch:-}" ]; then
    run_tap "${TEST_PREFIX:-}each-patch" "$TOP/scripts/each-patch.sh"
fi
step "$SERIES: build QEMU" "$TOP/scripts/build-qemu.sh" "${targets[@]}"
qtest_env
