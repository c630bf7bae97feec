# Sourced after config.sh: the record of the checks that a frozen series
# (SERIES_FROZEN in config.sh) passed, so that CI runs its per-patch
# checks only when its patches changed. .ci/passed, committed with the
# series, has a line per check that passed:
#     CHECK SERIES HASH DATE
# HASH is that of what the checks' results depend on: the work tree of
# every patch of the series (git tree ids: the same patches give the same
# ids, whatever the commit dates), the pinned QEMU and passts, the
# compiler, the series' list of qtests, and the scripts that run the
# checks. RUN_FROZEN_CHECKS=1 runs them whatever the record says.
# shellcheck shell=bash

PASSED_FILE=$TOP/.ci/passed

series_hash() {
    { printf '%s\n' "$QEMU_PIN" "$PASST_PIN" "$PASST_2025_PIN"
      cc --version | head -n 1
      cat "$QTESTS_FILE"
      declare -f qtest qtest_env passt_variant
      cat "$TOP"/scripts/{each-patch,build-qemu,check-disable-passt,check-no-virtio-net}.sh
      git -C "$QEMU_TREE" log --reverse --format=%T "$BASE_TAG"..HEAD
    } | sha256sum | cut -c1-16
}

# passed_when CHECK: the date CHECK passed on this series as it is now
# (nothing, status 1, if it did not)
passed_when() {
    local hash
    [ -z "${RUN_FROZEN_CHECKS:-}" ] || return 1
    hash=$(series_hash)
    awk -v c="$1" -v s="$SERIES" -v h="$hash" \
        '$1 == c && $2 == s && $3 "" == h { print $4; found = 1 }
         END { exit !found }' "$PASSED_FILE" 2>/dev/null
}

# passed_record CHECK: CHECK passed on this series as it is now (a frozen
# series only: the others change too often for a record to be of use)
passed_record() {
    local hash tmp
    [ -n "$SERIES_FROZEN" ] || return 0
    hash=$(series_hash)
    tmp=$(mktemp)
    { grep -v "^$1 $SERIES " "$PASSED_FILE" 2>/dev/null ||
          echo "# Checks that passed on a frozen series (scripts/passed.sh)"
      echo "$1 $SERIES $hash $(date -u +%F)"
    } > "$tmp"
    mkdir -p "$(dirname "$PASSED_FILE")"
    mv "$tmp" "$PASSED_FILE"
}
