# Sourced after config.sh: the record of the checks that passed, so that
# CI does not build and test again what passed as it is now. .ci/passed,
# committed with the series, has a line per check (or, for each-patch,
# per patch) that passed:
#     CHECK SERIES HASH DATE
# HASH is that of what the result depends on: the pinned QEMU and passts,
# the compiler, the scripts that build and run it, and the trees it
# checks (git tree ids: the same patches give the same ids, whatever the
# commit dates): for each-patch, a patch's tree, its parent's (which
# decides which qtests run there), whether it is the last patch, and the
# series' list of qtests; the last patch's tree for the others, which
# check the final tree. RUN_RECORDED_CHECKS=1 runs them whatever the
# record says.
# shellcheck shell=bash

PASSED_FILE=$TOP/.ci/passed

# check_hash CHECK [COMMIT IS_LAST]: the hash of what CHECK depends on;
# for each-patch, that of the patch COMMIT (IS_LAST: 1 for the series'
# last patch, at which every qtest runs, else 0)
check_hash() {
    { printf '%s\n' "$QEMU_PIN" "$PASST_PIN" "$PASST_2025_PIN" "$QEMU_TARGET_LIST"
      cc --version | head -n 1
      declare -f qtest qtest_env passt_variant
      cat "$TOP"/scripts/{build-qemu,narrow-rebuild}.sh
      if [ "$1" = each-patch ]; then
          cat "$QTESTS_FILE" "$TOP/scripts/each-patch.sh"
          git -C "$QEMU_TREE" rev-parse "$2^^{tree}" "$2^{tree}"
          echo "$3"
      else
          cat "$TOP/scripts/check-$1.sh"
          git -C "$QEMU_TREE" rev-parse 'HEAD^{tree}'
      fi
    } | sha256sum | cut -c1-16
}

# passed_when CHECK HASH: the date CHECK passed with HASH (nothing, status
# 1, if it did not)
passed_when() {
    [ -z "${RUN_RECORDED_CHECKS:-}" ] || return 1
    awk -v c="$1" -v s="$SERIES" -v h="$2" \
        '$1 == c && $2 == s && $3 "" == h { print $4; found = 1; exit }
         END { exit !found }' "$PASSED_FILE" 2>/dev/null
}

# passed_record CHECK "HASH [DATE]"...: CHECK passed with these hashes
# (on DATE, or today), and with no others of this series; for the stack
# up to UPTO, a part of it, in addition to those on record
passed_record() {
    local check=$1 h date tmp drop
    shift
    drop="^$check $SERIES "
    [ -z "${UPTO:-}" ] ||
        drop="^$check $SERIES ($(printf '%s\n' "$@" | cut -d' ' -f1 |
                                 paste -sd'|')) "
    tmp=$(mktemp)
    { grep -vE "$drop" "$PASSED_FILE" 2>/dev/null ||
          echo "# Checks that passed (scripts/passed.sh)"
      for h in "$@"; do
          read -r h date <<< "$h"
          echo "$check $SERIES $h ${date:-$(date -u +%F)}"
      done
    } > "$tmp"
    mkdir -p "$(dirname "$PASSED_FILE")"
    mv "$tmp" "$PASSED_FILE"
}
