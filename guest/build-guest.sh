#!/bin/bash
# Build the test guest: a Debian bookworm cloud kernel and a busybox
# initramfs with the virtio modules, iperf3 and socat.
#   out: $BUILD/guest/vmlinuz, $BUILD/guest/initramfs.cpio.gz
# Only Debian packages are used, and the output is reproducible (same bytes
# from the same package versions), so the build is skipped while a stamp
# of our inputs and the package versions still matches.
set -euo pipefail
umask 022
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../scripts/config.sh
. "$HERE/../scripts/config.sh"
OUT=$BUILD/guest
KPKG_META=linux-image-cloud-amd64
MODULES=(virtio_pci virtio_net virtio_console qemu_fw_cfg)
# Fixed timestamp for every file in the archive (2024-01-01 00:00:00 UTC).
EPOCH=${SOURCE_DATE_EPOCH:-1704067200}

# The host needs these to build; install them on fresh machines.
need=()
for p in busybox-static iperf3 socat kmod cpio xz-utils; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
        need+=("$p")
done
[ ${#need[@]} -eq 0 ] || [ "$(id -u)" = 0 ] || die "as root, install: ${need[*]}"

# The metapackage's candidate depends on the versioned kernel package.
# (apt-cache knows nothing before the first 'apt-get update'.)
kernel_pkg() {
    apt-cache depends "$KPKG_META" 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}'
}
KPKG=$(kernel_pkg)
if [ -z "$KPKG" ] && [ "$(id -u)" = 0 ]; then
    apt-get update
    KPKG=$(kernel_pkg)
fi
[ -n "$KPKG" ] || die "cannot resolve $KPKG_META (apt-get update?)"
KVER=${KPKG#linux-image-}
[ ${#need[@]} -eq 0 ] ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"

# One apt-cache call (they are slow): newest version of the kernel package.
KVER_PKG=$(apt-cache madison "$KPKG" | tr -d ' ' | awk -F'|' -v p="$KPKG" '$1 == p {print $2; exit}')
[ -n "$KVER_PKG" ] || die "cannot find $KPKG"

# Host files that go into the image: tools and the shared libraries they use.
BINS=(/usr/bin/iperf3 /usr/bin/socat)
mapfile -t LIBS < <(ldd "${BINS[@]}" |
    awk '$2 == "=>" && $3 ~ /^\// {print $3} NF == 2 && $1 ~ /^\// {print $1}' | sort -u)

# Stamp: our sources, the kernel version and the versions of every package
# a copied file comes from.
stamp() {
    sha256sum "$HERE"/build-guest.sh "$HERE"/init "$HERE"/guest-lib.sh "$HERE"/udhcpc.sh |
        sed "s|$HERE/||"
    echo "$KPKG $KVER_PKG"
    # dpkg knows a file by one of its paths (/lib or /usr/lib): ask for both
    for f in /bin/busybox "${BINS[@]}" "${LIBS[@]}"; do echo "$f"; readlink -f "$f"; done |
        sort -u | { xargs dpkg -S 2>/dev/null || true; } | cut -d: -f1 | sort -u | xargs dpkg-query -W
}
STAMP=$(stamp)
if [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$STAMP" ] &&
   [ -f "$OUT/vmlinuz" ] && [ -f "$OUT/initramfs.cpio.gz" ]; then
    log "guest is up to date ($KPKG $KVER_PKG)"
    exit 0
fi

log "building guest: $KPKG $KVER_PKG"
mkdir -p "$OUT"
rm -f "$OUT/stamp"
WORK=$(mktemp -d "$OUT/work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Unpack the .debs, no install on the host. (As root, apt fetches as user
# _apt, who cannot write to $WORK, unless told otherwise.)
(cd "$WORK" && apt-get -qq -o APT::Sandbox::User=root download \
    "$KPKG=$KVER_PKG")
dpkg-deb -x "$WORK/${KPKG}_"*.deb "$WORK/k"
cp "$WORK/k/boot/vmlinuz-$KVER" "$OUT/vmlinuz.tmp"
rm -rf "$OUT/firmware"      # option ROMs used to be copied here

R=$WORK/root
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,lib/modules,lib64,etc,proc,sys,dev,tmp,run,root}

# Modules: the .deb ships no modules.dep; depmod makes one, and modprobe
# prints the load order (dependencies first). Keep each module once.
depmod -b "$WORK/k" "$KVER"
for m in "${MODULES[@]}"; do
    modprobe -d "$WORK/k" -S "$KVER" --show-depends "$m"
done | awk '$1 == "insmod" && !seen[$2]++ {print $2}' > "$WORK/order"
: > "$R/lib/modules/load-order"
while read -r ko; do
    name=$(basename "$ko")
    case $name in              # busybox insmod wants plain .ko files
        *.ko.xz) xz -dc "$ko" > "$R/lib/modules/${name%.xz}"; name=${name%.xz} ;;
        *.ko) cp "$ko" "$R/lib/modules/$name" ;;
        *) die "unexpected module file $ko" ;;
    esac
    echo "$name" >> "$R/lib/modules/load-order"
done < "$WORK/order"

# busybox and its applet links (paths as busybox lists them).
cp /bin/busybox "$R/bin/busybox"
/bin/busybox --list-full | while read -r a; do
    [ -e "$R/$a" ] || ln -s /bin/busybox "$R/$a"
done
# Dynamically linked tools keep their host paths, libraries too.
for f in "${BINS[@]}" "${LIBS[@]}"; do
    mkdir -p "$R$(dirname "$f")"
    cp -L "$f" "$R$f"
done

install -m 755 "$HERE/init" "$R/init"
install -m 644 "$HERE/guest-lib.sh" "$R/lib/guest-lib.sh"
install -m 755 "$HERE/udhcpc.sh" "$R/lib/udhcpc.sh"
echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"
echo 'root:x:0:' > "$R/etc/group"
echo guest > "$R/etc/hostname"

# Reproducible archive: fixed mtimes, sorted names, no inode/device
# numbers, root owner, no gzip name/time.
find "$R" -exec touch -h -d "@$EPOCH" {} +
(cd "$R" && find . -mindepth 1 -printf '%P\n' | sort |
    cpio -o -H newc --reproducible -R 0:0 --quiet) | gzip -n -9 > "$OUT/initramfs.tmp"
mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
mv "$OUT/initramfs.tmp" "$OUT/initramfs.cpio.gz"
echo "$STAMP" > "$OUT/stamp"
log "guest ready: $OUT ($(du -h "$OUT/initramfs.cpio.gz" | cut -f1) initramfs)"
