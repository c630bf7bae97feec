#!/bin/bash
# Install what building, testing and the demo need, from Debian's archive.
# Adds one apt source file of our own; leaves the rest of apt's setup alone.
set -euo pipefail
. "$(dirname "$0")/config.sh"

SOURCES=/etc/apt/sources.list.d/qemu-passt-series.sources
PKGS=(make git curl ca-certificates xz-utils dpkg-dev patch file
      ninja-build pkg-config gcc libc6-dev libglib2.0-dev libpixman-1-dev
      libslirp-dev libfdt-dev zlib1g-dev libseccomp-dev flex bison
      python3 python3-venv python3-setuptools seabios ipxe-qemu
      perl iproute2 procps
      busybox-static iperf3 socat kmod cpio tcpdump
      debootstrap bubblewrap patchelf strace)
# qemu-system-data: option ROMs (linuxboot_dma.bin, kvmvapic.bin) that the
# +ds source cannot build without an i386 cross compiler
BPO_PKGS=(meson python3-pycotap qemu-system-data)

# Our sources file for mirror URI $1: bookworm-backports' binaries, and the
# source packages of trixie (QEMU, passt) and trixie-backports (newer passt).
sources_text() {
    cat <<EOS
Types: deb deb-src
URIs: $1
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: $1
Suites: trixie trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
}

# Keep the mirror a file of ours already names; else reuse the one this
# machine uses for Debian's main archive.
uri=
[ -f "$SOURCES" ] && uri=$(sed -n 's/^URIs: *//p' "$SOURCES" | head -n1)
[ -n "$uri" ] || uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' |
                       awk '$3 == "main" && $2 ~ /^[a-z]+$/ { print $1; exit }')
[ -n "$uri" ] || die "no Debian main archive in apt's sources"
stale=
if [ "$(cat "$SOURCES" 2>/dev/null)" != "$(sources_text "$uri")" ]; then
    stale=1
fi

missing=()
for p in "${PKGS[@]}" "${BPO_PKGS[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
        missing+=("$p")
done
if [ -z "$stale" ] && [ ${#missing[@]} -eq 0 ] &&
   dpkg --compare-versions "$(dpkg-query -W -f='${Version}' meson)" ge 1.5; then
    exit 0
fi

if [ -n "$stale" ]; then
    log "writing $SOURCES (bookworm-backports; trixie, trixie-backports sources) from $uri"
    sources_text "$uri" > "$SOURCES"
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${PKGS[@]}"
apt-get install -y -q --no-install-recommends -t bookworm-backports "${BPO_PKGS[@]}"
