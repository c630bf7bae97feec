#!/bin/bash
# Fetch and unpack the pinned QEMU source (and the upstream tarball alone).
set -euo pipefail
. "$(dirname "$0")/config.sh"

exec "$TOP/scripts/fetch-source.sh" qemu "$QEMU_PIN" "$QEMU_SERIES" \
    "$QEMU_SRC" "$QEMU_ORIG"
