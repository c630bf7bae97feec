# Sourced by test-10.0.sh and test-upstream.sh, after config.sh: set the
# series up, run its qtests, count TAP results.
# shellcheck shell=bash

# The qtests of the series ($QTESTS_FILE), built by the setup
# "[GLOB ...] " before a name only tells each-patch.sh when to run it
mapfile -t QTESTS < <(grep -v '^\s*\(#\|$\)' "$QTESTS_FILE" |
                      sed 's/^\[[^]]*\] *//')
mapfile -t targets < <(printf 'tests/qtest/%s\n' "${QTESTS[@]%% *}" | sort -u)
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

# With --each-patch, each-patch.sh builds the series (its last step is the
# build the other tests use): a build of the whole series first would be
# undone at the first patch, one full QEMU build more on a fresh machine.
SETUP_QEMU_BUILD=${each_patch:+no} \
    "$TOP/scripts/setup.sh" "${targets[@]}"
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
    local name=$1 log=$LOGS/$1.log rc=0 ok nok skip start=$SECONDS
    shift
    printf -- '--- %s\n' "$name"
    "$@" > "$log" 2>&1 || rc=$?
    ok=$(grep -cE '^ok ' "$log" | tr -d ' ' || true)
    skip=$(grep -cE '^ok .*# *SKIP' "$log" || true)
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
    printf '%s\t%d\t%s\n' "$name" $((SECONDS - start)) \
        "$([ "$nok" -eq 0 ] && echo "ok $((ok - skip)), skipped $skip" ||
           echo "FAILED $nok")" >> "$STEPS_FILE"
    passed=$((passed + ok - skip))
    skipped=$((skipped + skip))
    failed=$((failed + nok))
}

# run_series_check NAME CMD...: run_tap NAME CMD..., unless the series
# is frozen and the check NAME (minus $TEST_PREFIX) passed on its patches
# as they are now (.ci/passed): then one skipped result that says so.
run_series_check() {
    local name=$1 check=${1#"${TEST_PREFIX:-}"} when why
    if [ -n "$SERIES_FROZEN" ] && when=$(passed_when "$check"); then
        why="the $SERIES series is frozen and $check passed on these patches on $when (.ci/passed)"
        printf -- '--- %s\n    ok - %s # SKIP %s\n' "$name" "$name" "$why"
        printf '%s\t0\tskipped: %s\n' "$name" "$why" >> "$STEPS_FILE"
        skipped=$((skipped + 1))
        return
    fi
    run_tap "$@"
}

# NAME@VARIANT for a run on another passt than the default one
at() { [ "$2" = "${PASST_VARIANTS[0]}" ] && echo "$1" || echo "$1@$2"; }

# run_qtests [PREFIX]: each qtest of the series, netdev-passt* on each of
# our passts and the others once, named PREFIX"qtest-"NAME[@VARIANT].
run_qtests() {
    local t name args v variants
    for t in "${QTESTS[@]}"; do
        read -r name args <<< "$t"
        variants=("${PASST_VARIANTS[0]}")
        [[ $name = netdev-passt* ]] && variants=("${PASST_VARIANTS[@]}")
        for v in "${variants[@]}"; do
            qtest_env "$v"
            # shellcheck disable=SC2086 # the arguments are words
            run_tap "${1:-}$(at "qtest-$name" "$v")" \
                qtest "$QEMU_BUILD/tests/qtest/$name" --tap $args
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

if [ -n "${each_patch:-}" ]; then
    run_series_check "${TEST_PREFIX:-}each-patch" "$TOP/scripts/each-patch.sh"
fi
step "$SERIES: build QEMU" "$TOP/scripts/build-qemu.sh" "${targets[@]}"
