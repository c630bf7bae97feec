# Sourced after config.sh: the record of the checks that a frozen series
# (SERIES_FROZEN in config.sh) passed, so that CI runs its per-patch
# checks only when its patches changed. .ci/passed, committed with the
# series, has a line per check that passed:
#     CHECK SERIES HASH DATE
# HASH is that of what the check's result depends on: the pinned QEMU and
# passts, the compiler, the scripts that build and run it, and the trees
# it checks (git tree ids: the same patches give the same ids, whatever
# the commit dates): every patch's for each-patch, with the series' list
# of qtests; the last patch's for the others, which check the final tree.
# RUN_FROZEN_CHECKS=1 runs them whatever the record says.
# shellcheck shell=bash

PASSED_FILE=$TOP/.ci/passed

series_hash() {
    local check=$1
    { printf '%s\n' "$QEMU_PIN" "$PASST_PIN" "$PASST_2025_PIN" "$QEMU_TARGET_LIST"
      cc --version | head -n 1
      declare -f qtest qtest_env passt_variant
      cat "$TOP"/scripts/{build-qemu,narrow-rebuild}.sh
      if [ "$check" = each-patch ]; then
          cat "$QTESTS_FILE" "$TOP/scripts/each-patch.sh"
          git -C "$QEMU_TREE" log --reverse --format=%T "$BASE_TAG"..HEAD
      else
          cat "$TOP/scripts/check-$check.sh"
          git -C "$QEMU_TREE" rev-parse 'HEAD^{tree}'
      fi
    } | sha256sum | cut -c1-16
}

# passed_when CHECK: the date CHECK passed on this series as it is now
# (nothing, status 1, if it did not)
passed_when() {
    local hash
    [ -z "${RUN_FROZEN_CHECKS:-}" ] || return 1
    hash=$(series_hash "$1")
    awk -v c="$1" -v s="$SERIES" -v h="$hash" \
        '$1 == c && $2 == s && $3 "" == h { print $4; found = 1 }
         END { exit !found }' "$PASSED_FILE" 2>/dev/null
}

# passed_record CHECK: CHECK passed on this series as it is now (a frozen
# series only: the others change too often for a record to be of use)
passed_record() {
    local hash tmp
    [ -n "$SERIES_FROZEN" ] || return 0
    hash=$(series_hash "$1")
    tmp=$(mktemp)
    { grep -v "^$1 $SERIES " "$PASSED_FILE" 2>/dev/null ||
          echo "# Checks that passed on a frozen series (scripts/passed.sh)"
      echo "$1 $SERIES $hash $(date -u +%F)"
    } > "$tmp"
    mkdir -p "$(dirname "$PASSED_FILE")"
    mv "$tmp" "$PASSED_FILE"
}
