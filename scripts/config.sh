# Sourced by the other scripts: pinned versions and where things live.
# shellcheck shell=bash

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}

# QEMU 10.0.x from Debian (trixie); fallback: the newest 10.0.x any suite has.
QEMU_PIN="1:10.0.13+ds-0+deb13u1"
QEMU_SERIES="10.0."
# passt with --vhost-user and migration stream v2 (2025_03_20 and newer)
PASST_PIN="0.0~git20250503.587980c-2+deb13u1"
PASST_SERIES="0.0~git2025"

DL=$BUILD/dl
QEMU_SRC=$BUILD/qemu-src          # unpacked Debian source (base of the tree)
QEMU_ORIG=$BUILD/qemu-orig        # the orig tarball alone (upstream check)
QEMU_TREE=${QEMU_TREE:-$BUILD/qemu}             # git work tree: base commit + series
QEMU_BUILD=${QEMU_BUILD:-$BUILD/qemu-build}      # meson build directory
PASST_SRC=$BUILD/passt-src
PASST_PREFIX=$BUILD/passt         # installed passt: $PASST_PREFIX/bin/passt
PASST_OLD_PREFIX=$BUILD/passt-old # Debian 12's passt: $PASST_OLD_PREFIX/usr/bin/passt
BASE_TAG=base

SERIES_AUTHOR="QEMU passt series developers"
SERIES_EMAIL="qemu-passt@devel.invalid"

# What the qtests of the series run: the QEMU of $QEMU_BUILD and our passts
qtest_env() {
    export QTEST_QEMU_BINARY=$QEMU_BUILD/qemu-system-x86_64
    export QTEST_PASST=$PASST_PREFIX/bin/passt
    export QTEST_PASST_REPAIR=$PASST_PREFIX/bin/passt-repair
    export QTEST_PASST_OLD=$PASST_OLD_PREFIX/usr/bin/passt
}

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf '\n!!! WARNING: %s\n\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
