#!/bin/bash
# Everything the demo and the tests stand on: packages, QEMU and passt
# sources, the work tree with the series, and the builds. Each step skips
# itself when its result is already there.
set -euo pipefail
. "$(dirname "$0")/config.sh"

s="setup $SERIES:"
step "$s deps" "$TOP/scripts/deps.sh"
step "$s fetch QEMU" "$TOP/scripts/fetch-qemu.sh"
for v in "${PASST_VARIANTS[@]}"; do
    step "$s passt $v" "$TOP/scripts/build-passt.sh" "$v"
done
step "$s old passt" "$TOP/scripts/fetch-old-passt.sh"
step "$s work tree" "$TOP/scripts/mktree.sh"
step "$s check-export" "$TOP/scripts/check-export.sh"
# SETUP_QEMU_BUILD=no: the caller builds QEMU itself (each-patch.sh)
[ "${SETUP_QEMU_BUILD:-yes}" = no ] ||
    step "$s build QEMU" "$TOP/scripts/build-qemu.sh" "$@"
