#!/bin/bash
# build-series.sh [WHY]: build the series' QEMU and qtests from its work
# tree as it is, as a step of the test command (WHY goes into its name).
set -euo pipefail
. "$(dirname "$0")/config.sh"

mapfile -t targets < <(qtest_targets)
step "$SERIES: build QEMU${1:+ ($1)}" "$TOP/scripts/build-qemu.sh" "${targets[@]}"
