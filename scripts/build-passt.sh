#!/bin/bash
# Build passt from Debian's source package and install it under
# $PASST_PREFIX; the tests run that binary.
set -euo pipefail
. "$(dirname "$0")/config.sh"

"$TOP/scripts/fetch-source.sh" passt "$PASST_PIN" "$PASST_SERIES" "$PASST_SRC"
stamp=$PASST_PREFIX/.built-$(cat "$PASST_SRC/.fetched")
[ -f "$stamp" ] && exit 0

log "building passt $(cat "$PASST_SRC/.fetched")"
rm -rf "$PASST_PREFIX"
make -C "$PASST_SRC" -j"$(nproc)" VERSION="$(cat "$PASST_SRC/.fetched")" >&2
make -C "$PASST_SRC" install prefix="$PASST_PREFIX" >&2

touch "$stamp"
