#!/bin/bash
# frozen-on-record.sh: set the series up without building QEMU, then exit
# 0 if it is frozen and its per-patch check is on record (.ci/passed,
# scripts/passed.sh), so that the test command only builds and tests its
# final tree; else 1.
set -euo pipefail
. "$(dirname "$0")/config.sh"
. "$TOP/scripts/passed.sh"

SETUP_QEMU_BUILD=no "$TOP/scripts/setup.sh" >&2
[ -n "$SERIES_FROZEN" ] && passed_when each-patch > /dev/null || exit 1
