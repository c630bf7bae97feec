#!/bin/bash
# Unpack Debian 12's own passt, which predates vhost-user, under
# $PASST_OLD_PREFIX without installing it: the tests check that asking it
# for vhost-user fails with passt's own message.
set -euo pipefail
. "$(dirname "$0")/config.sh"

bin=$PASST_OLD_PREFIX/usr/bin/passt
[ -x "$bin" ] && exit 0

version=$(apt-cache madison passt | awk -v s=bookworm \
          '$0 ~ s "/main" { print $3; exit }')
[ -n "$version" ] || die "apt knows no bookworm passt (run scripts/deps.sh)"
tmp=$(mktemp -d)
# apt downloads as _apt when it can write there
if id _apt >/dev/null 2>&1; then chown _apt "$tmp"; fi
trap 'rm -rf "$tmp"' EXIT
log "fetching Debian 12's passt $version"
(cd "$tmp" && apt-get download -q "passt=$version" >&2)
rm -rf "$PASST_OLD_PREFIX"
dpkg-deb -x "$tmp"/passt_*.deb "$PASST_OLD_PREFIX"
[ -x "$bin" ] || die "no passt in Debian 12's passt package"
