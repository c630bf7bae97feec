#!/bin/bash
# Fetch and unpack the pinned QEMU source (and the upstream tarball alone)
# of the series SERIES chooses (see config.sh).
set -euo pipefail
. "$(dirname "$0")/config.sh"

# A suite apt's own sources lack (sid for SERIES=upstream): an index of
# our own, read again when it no longer lists the pin.
if [ -n "$QEMU_APT_SUITE" ] &&
   [ "$(cat "$QEMU_SRC/.fetched" 2>/dev/null)" != "$QEMU_PIN" ]; then
    APT_CONFIG=$("$TOP/scripts/apt-suite.sh" "$QEMU_APT_SUITE")
    export APT_CONFIG
    apt-cache showsrc qemu | grep -qxF "Version: $QEMU_PIN" ||
        "$TOP/scripts/apt-suite.sh" --update "$QEMU_APT_SUITE" > /dev/null
fi
exec "$TOP/scripts/fetch-source.sh" qemu "$QEMU_PIN" "$QEMU_SERIES" \
    "$QEMU_SRC" "$QEMU_ORIG"
