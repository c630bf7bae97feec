#!/bin/bash
# The newest upstream QEMU and passt as Debian ships them (sid), from their
# binary packages: the mirror serves no source package of either. Makes a
# minimal sid root ($SID_ROOT) with qemu-system-x86 and passt (which brings
# passt-repair and pesto), and what the tools run of it:
#   $SID_QEMU                 sid's QEMU, in the root (bubblewrap: passt's
#                             sandbox cannot set itself up under chroot),
#                             which sees this checkout and /tmp as they are
#   $PASST_SID_PREFIX/bin/    passt, passt-repair and pesto, copied and
#                             made to load the root's libraries (patchelf):
#                             any QEMU starts them as a passt of ours
# Skipped when the root has the pinned versions; a version the mirror no
# longer has falls back to sid's newest, loudly.
set -euo pipefail
. "$(dirname "$0")/config.sh"

pkgs=("qemu-system-x86=$SID_QEMU_PIN" "passt=$SID_PASST_PIN")
stamp=$SID_ROOT/.ready
[ "$(cat "$stamp" 2>/dev/null)" = "${pkgs[*]}" ] && [ -x "$SID_QEMU" ] &&
    [ -x "$PASST_SID_PREFIX/bin/passt" ] && exit 0

for tool in debootstrap bwrap patchelf; do
    command -v "$tool" >/dev/null || die "no $tool (run scripts/deps.sh)"
done

# in_root CMD...: CMD as root in the sid root, with the network
in_root() {
    bwrap --bind "$SID_ROOT" / --dev /dev --proc /proc \
        --ro-bind /etc/resolv.conf /etc/resolv.conf \
        --setenv PATH /usr/sbin:/usr/bin:/sbin:/bin \
        --setenv DEBIAN_FRONTEND noninteractive "$@"
}

if [ ! -x "$SID_ROOT/usr/bin/apt-get" ]; then
    log "making a Debian sid root in $SID_ROOT"
    rm -rf "$SID_ROOT"
    debootstrap --variant=minbase sid "$SID_ROOT" "$(debian_mirror)" >&2
fi
# sid's Release file may be past its Valid-Until on the mirror
in_root apt-get -q -o Acquire::Check-Valid-Until=false update >&2
have=()
for p in "${pkgs[@]}"; do
    if in_root apt-cache show "$p" >/dev/null 2>&1; then
        have+=("$p")
    else
        warn "sid has no ${p/=/ }: installing sid's newest ${p%%=*}"
        have+=("${p%%=*}")
    fi
done
in_root apt-get install -y -q --no-install-recommends "${have[@]}" >&2

mkdir -p "$(dirname "$SID_QEMU")" "$PASST_SID_PREFIX/bin"
cat > "$SID_QEMU.tmp" <<EOF
#!/bin/sh
# Debian sid's QEMU, in the sid root ($SID_ROOT); it sees $TOP and
# /tmp as they are, and its own /usr (its firmware, its default passt).
exec bwrap --bind '$SID_ROOT' / --dev-bind /dev /dev --proc /proc \\
    --ro-bind /sys /sys --bind /tmp /tmp --bind '$TOP' '$TOP' \\
    --die-with-parent /usr/bin/qemu-system-x86_64 "\$@"
EOF
chmod +x "$SID_QEMU.tmp"
mv "$SID_QEMU.tmp" "$SID_QEMU"
# Copies of passt's programs that load the root's libraries: no wrapper,
# so that each runs under its own name, as tests that find passt by its
# executable or its command line expect; passt runs passt.avx2 next to it
for prog in passt passt.avx2 passt-repair pesto; do
    w=$PASST_SID_PREFIX/bin/$prog
    cp "$SID_ROOT/usr/bin/$prog" "$w.tmp"
    patchelf --set-interpreter "$SID_ROOT/lib64/ld-linux-x86-64.so.2" \
        --set-rpath "$SID_ROOT/usr/lib/x86_64-linux-gnu" "$w.tmp"
    mv "$w.tmp" "$w"
done
"$SID_QEMU" --version | head -n 1 >&2
"$PASST_SID_PREFIX/bin/passt" --version | head -n 1 >&2
echo "${pkgs[*]}" > "$stamp"
