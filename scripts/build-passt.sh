#!/bin/bash
# build-passt.sh [NAME]
# Build one of our passts (NAME: one of PASST_VARIANTS in config.sh,
# default newest) from Debian's source package and install it under its
# prefix ($PASST_PREFIX for newest); the tests run that binary. sid's is
# Debian's binary instead (sid-root.sh).
set -euo pipefail
. "$(dirname "$0")/config.sh"

passt_variant "${1:-newest}"
# sid's passt comes as a binary, with sid's root
[ -n "$PV_SRC" ] || exec "$TOP/scripts/sid-root.sh"
# passt's Debian patches are packaging fixes: when the mirror lacks the
# Debian tarball, build upstream's (loudly; its version ends ~upstream-only).
UPSTREAM_ONLY_OK=1 "$TOP/scripts/fetch-source.sh" passt "$PV_PIN" "$PV_SERIES" "$PV_SRC"
version=$(cat "$PV_SRC/.fetched")
stamp=$PV_PREFIX/.built-$version
[ -f "$stamp" ] && exit 0

log "building passt $version into $PV_PREFIX"
rm -rf "$PV_PREFIX"
make -C "$PV_SRC" -j"$(nproc)" VERSION="$version" >&2
make -C "$PV_SRC" install prefix="$PV_PREFIX" >&2

touch "$stamp"
