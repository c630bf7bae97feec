#!/bin/bash
# Put the .deb files that QEMU's functional tests of -netdev passt declare
# as assets into QEMU's asset cache, fetched with apt from the same
# archive as everything else here, so that the tests run offline.
#   usage: scripts/fill-test-cache.sh [TEST.py...]
#   default: the passt tests' base class in build/qemu-upstream
# Each Asset(URL, SHA256) whose URL ends in .deb names the package and
# version (pool/.../NAME_VERSION_ARCH.deb); apt fetches that version and
# the file goes in as $QEMU_TEST_CACHE_DIR/download/SHA256 (the layout of
# tests/functional/qemu_test/asset.py; default ~/.cache/qemu) once its
# SHA-256 matches.
set -euo pipefail
# shellcheck source=config.sh
. "$(dirname "$0")/config.sh"

CACHE=${QEMU_TEST_CACHE_DIR:-$HOME/.cache/qemu}/download
[ $# -gt 0 ] || set -- "$BUILD/qemu-upstream/tests/functional/x86_64/netdev_passt.py"

# "URL SHA256" of each .deb asset: Asset('URL' 'URL'..., 'SHA256')
assets() {
    python3 - "$@" <<'EOF'
import re, sys
for path in sys.argv[1:]:
    for call in re.findall(r'Asset\((.*?)\)', open(path).read(), re.S):
        s = re.findall(r"'([^']*)'", call)
        if len(s) > 1 and s[-2].endswith('.deb'):
            print(''.join(s[:-1]), s[-1])
EOF
}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$CACHE"
assets "$@" | while read -r url sha; do
    if [ -f "$CACHE/$sha" ] && sha256sum -c --status <<<"$sha  $CACHE/$sha"; then
        log "cached: ${url##*/}"
        continue
    fi
    file=$(printf '%b' "${url##*/}" | sed 's/%2[Bb]/+/g; s/%3[Aa]/:/g')
    IFS=_ read -r pkg ver _ <<<"${file%.deb}"
    # the file name has no epoch: take the version apt knows with one
    full=$(apt-cache madison "$pkg" | tr -d ' ' |
           awk -F'|' -v v="$ver" '{ s = $2; sub(/^[0-9]+:/, "", s) }
                                  s == v { print $2; exit }')
    [ -n "$full" ] || die "apt knows no $pkg $ver (apt-get update?)"
    (cd "$WORK" && apt-get -qq -o APT::Sandbox::User=root download "$pkg=$full")
    got=$(sha256sum "$WORK/${pkg}_"*.deb | cut -d' ' -f1)
    [ "$got" = "$sha" ] || die "$pkg $full: SHA-256 $got, the test wants $sha"
    install -m 0440 "$WORK/${pkg}_"*.deb "$CACHE/$sha"
    rm -f "$WORK/${pkg}_"*.deb
    log "added: ${url##*/} as $CACHE/$sha"
done
