#!/bin/bash
# Build the work tree with AddressSanitizer and UBSan (build/qemu-asan) and
# run the qtests netdev-passt and netdev-socket and the fuzz test against
# it. Any sanitizer report, like any failure, fails the run: prints TAP,
# exits non-zero. Logs and reports: build/asan-logs/.
# Environment: FUZZ_ITERATIONS (default 1000), PASST (default: our
# newest), ASAN_LEAKS=1: LeakSanitizer on, which fails netdev-passt today:
# upstream QEMU never frees a monitor's named fds (getfd) at exit, and
# LeakSanitizer cannot run under -sandbox on.
set -euo pipefail
. "$(dirname "$0")/config.sh"

export QEMU_BUILD=$BUILD/qemu-asan
LOGS=$BUILD/asan-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"
qtest_env
PASST=${PASST:-$QTEST_PASST}

# Everything a sanitizer finds stops the process (exit status 1). ASan's
# report lands in report.PID in the run's directory (the fuzz test keeps
# QEMU's stderr to itself), UBSan's on stderr, in the run's log. Full
# stacks through GLib (no frame pointers) need the slow unwinder.
san_env() {
    local dir=$LOGS/$1
    mkdir -p "$dir"
    export ASAN_OPTIONS="halt_on_error=1:detect_leaks=${ASAN_LEAKS:-0}:fast_unwind_on_malloc=0:log_path=$dir/report"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$dir/report"
}
# What a report says; report files also get warnings (makecontext) that
# are none.
REPORTS='runtime error:|ERROR: (Address|Leak)Sanitizer|SUMMARY: [A-Za-z]*Sanitizer|Sanitizer:DEADLYSIGNAL'

echo "1..4"
t0=$SECONDS
if QEMU_DEBUG_INFO=1 QEMU_CONFIGURE_EXTRA="--enable-asan --enable-ubsan" "$TOP/scripts/build-qemu.sh" \
       tests/qtest/netdev-passt > "$LOGS/build.log" 2>&1; then
    echo "ok 1 - ASAN/UBSAN build in $QEMU_BUILD ($((SECONDS - t0)) s)"
else
    echo "not ok 1 - ASAN/UBSAN build (see $LOGS/build.log)"
    tail -n 20 "$LOGS/build.log" | sed 's/^/# /'
    echo "Bail out! no build"
    exit 1
fi

n=1 failed=0
# run NAME CMD...: run CMD with the sanitizers set; not ok when it fails or
# anything reports.
run() {
    local name=$1 log=$LOGS/$1.log rc=0 t=$SECONDS reports
    shift
    n=$((n + 1))
    san_env "$name"
    "$@" > "$log" 2>&1 || rc=$?
    reports=$(grep -lE "$REPORTS" "$LOGS/$name"/report.* 2>/dev/null | xargs -r cat || true)
    if [ "$rc" -eq 0 ] && [ -z "$reports" ] && ! grep -qE "$REPORTS" "$log"; then
        echo "ok $n - $name ($(grep -cE '^ok ' "$log") ok, $((SECONDS - t)) s)"
        return
    fi
    failed=$((failed + 1))
    echo "not ok $n - $name (exit $rc, $((SECONDS - t)) s; see $log)"
    grep -E '^not ok ' "$log" | sed 's/^/# /' || true
    grep -hE "$REPORTS" "$log" - <<<"$reports" | sort | uniq -c | sed 's/^/# /' || true
    if [ -n "$reports" ]; then
        head -n 120 <<<"$reports" | sed 's/^/# /'
    fi
}

run qtest-netdev-passt timeout 1200 "$QEMU_BUILD/tests/qtest/netdev-passt" --tap
run qtest-netdev-socket timeout 600 "$QEMU_BUILD/tests/qtest/netdev-socket" --tap
run fuzz timeout 1800 env QEMU="$QTEST_QEMU_BINARY" PASST="$PASST" \
    FUZZ_ITERATIONS="${FUZZ_ITERATIONS:-1000}" \
    python3 "$TOP/tests/fuzz/netdev_passt_fuzz.py"

echo "# build and runs: $((SECONDS - t0)) s"
[ "$failed" -eq 0 ]
