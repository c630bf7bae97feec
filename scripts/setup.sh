#!/bin/bash
# Everything the demo and the tests stand on: packages, QEMU and passt
# sources, the work tree with the series, and the builds. Each step skips
# itself when its result is already there.
set -euo pipefail
. "$(dirname "$0")/config.sh"

"$TOP/scripts/deps.sh"
"$TOP/scripts/fetch-qemu.sh"
for v in "${PASST_VARIANTS[@]}"; do
    "$TOP/scripts/build-passt.sh" "$v"
done
"$TOP/scripts/fetch-old-passt.sh"
"$TOP/scripts/mktree.sh"
"$TOP/scripts/check-export.sh"
# SETUP_QEMU_BUILD=no: the caller builds QEMU itself (each-patch.sh)
[ "${SETUP_QEMU_BUILD:-yes}" = no ] || "$TOP/scripts/build-qemu.sh" "$@"
