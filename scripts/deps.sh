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
      busybox-static iperf3 socat kmod cpio tcpdump)
# qemu-system-data: option ROMs (linuxboot_dma.bin, kvmvapic.bin) that the
# +ds source cannot build without an i386 cross compiler
BPO_PKGS=(meson python3-pycotap qemu-system-data)

missing=()
for p in "${PKGS[@]}" "${BPO_PKGS[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
        missing+=("$p")
done
if [ -f "$SOURCES" ] && [ ${#missing[@]} -eq 0 ] &&
   dpkg --compare-versions "$(dpkg-query -W -f='${Version}' meson)" ge 1.5; then
    exit 0
fi

if [ ! -f "$SOURCES" ]; then
    # Reuse the mirror this machine already uses for Debian's main archive.
    uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' |
          awk '$3 == "main" && $2 ~ /^[a-z]+$/ { print $1; exit }')
    [ -n "$uri" ] || die "no Debian main archive in apt's sources"
    log "adding $SOURCES (bookworm-backports, trixie sources) from $uri"
    cat > "$SOURCES" <<EOS
Types: deb deb-src
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: $uri
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${PKGS[@]}"
apt-get install -y -q --no-install-recommends -t bookworm-backports "${BPO_PKGS[@]}"
