# Sourced by the other scripts: pinned versions and where things live.
# shellcheck shell=bash

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}

# The series, chosen by SERIES (make SERIES=...; default 10.0):
#   10.0      the backport: -netdev passt added to QEMU 10.0.x (Debian 13),
#             patches/, build/qemu, build/qemu-build
#   upstream  changes to upstream QEMU 10.2's own -netdev passt,
#             patches-upstream/, build/qemu-upstream, build/qemu-upstream-build:
#             a stack of series, one folder each (stack.sh); UPTO=FOLDER
#             stops after that one, with a tree and build of its own
export SERIES=${SERIES:-10.0}
case $SERIES in
10.0)
    # QEMU 10.0.x from Debian (trixie); fallback: the newest 10.0.x any suite has.
    QEMU_PIN="1:10.0.13+ds-0+deb13u1"
    QEMU_SERIES="10.0."
    QEMU_APT_SUITE=             # the sources deps.sh gives apt
    QEMU_NAME=qemu              # build/qemu, build/qemu-build, ...
    PATCHES_DIR=$TOP/patches
    QTESTS_FILE=$TOP/scripts/qtests.txt
    COVER_LETTER=$TOP/doc/cover-letter.txt
    ;;
upstream)
    # QEMU 10.2.x from Debian sid, through an apt index of our own
    # (apt-suite.sh); fallback: the newest 10.2 or later sid serves.
    QEMU_PIN="1:10.2.2+ds-1"
    QEMU_SERIES=">=10.2"
    QEMU_APT_SUITE=sid
    QEMU_NAME=qemu-upstream
    PATCHES_DIR=$TOP/patches-upstream
    STACK_FILE=$PATCHES_DIR/STACK
    QTESTS_FILE=$TOP/scripts/qtests-upstream.txt
    # each series' cover letter: $COVER_LETTERS/FOLDER.txt
    COVER_LETTERS=$TOP/doc/cover-letters-upstream
    # "Since:" of the QAPI items the series adds (scripts/qapi-since.sh):
    # the first release that can still take features when it is posted
    QAPI_SINCE=12.0
    ;;
*)
    printf 'error: SERIES=%s: no such series (have: 10.0, upstream)\n' \
        "$SERIES" >&2
    exit 1;;
esac
# The targets built: x86_64, and beside it one without virtio-net, where
# net/vhost-user-stub.c stands in for net/vhost-user.c and QEMU's CI
# runs the passt qtests too (check-no-virtio-net.sh, test-upstream.sh)
QEMU_NO_VIRTIO_TARGET=avr
QEMU_TARGET_LIST=x86_64-softmmu,$QEMU_NO_VIRTIO_TARGET-softmmu

# The passts the tests run, all with --vhost-user and migration stream v2
# (2025_03_20 and newer). Two built from Debian's source packages, each
# falling back to the newest of its series: the default one (tests, demo,
# bench), the newest whose source the archive serves (trixie-backports)...
PASST_PIN="0.0~git20260728.f8df3f1-1~bpo13+1"
PASST_SERIES="0.0~git2026"
# ... and trixie's; and Debian sid's binaries, the newest passt Debian
# ships (below). The passt qtests and the guest suite's groups that depend
# on passt's behaviour run against each (see test-*.sh).
PASST_2025_PIN="0.0~git20250503.587980c-2+deb13u1"
PASST_2025_SERIES="0.0~git2025"

# Debian sid's own binaries of the newest upstream QEMU and passt, whose
# source packages the mirror does not serve: installed in a minimal sid
# root (sid-root.sh). QEMU runs in the root through a wrapper; passt,
# passt-repair and pesto are copies that load the root's libraries, so
# that any QEMU starts them as it starts a passt of ours.
SID_QEMU_PIN="1:11.1.3+ds-1"
SID_PASST_PIN="0.0~git20261002.cba3570-1"
SID_ROOT=$BUILD/sid-root
SID_QEMU=$BUILD/qemu-sid/bin/qemu-system-x86_64
PASST_SID_PREFIX=$BUILD/passt-sid   # $PASST_SID_PREFIX/bin/passt

# The stack up to UPTO has a work tree and build of its own
[ -z "${UPTO:-}" ] || QEMU_NAME=$QEMU_NAME-upto-$UPTO

DL=$BUILD/dl
QEMU_SRC=$BUILD/${QEMU_NAME%-upto-*}-src    # unpacked Debian source (base of the tree)
QEMU_ORIG=$BUILD/${QEMU_NAME%-upto-*}-orig  # the orig tarball alone (upstream check)
QEMU_TREE=${QEMU_TREE:-$BUILD/$QEMU_NAME}        # git work tree: base commit + series
QEMU_BUILD=${QEMU_BUILD:-$BUILD/$QEMU_NAME-build} # meson build directory
EACH_PATCH=$BUILD/${QEMU_NAME/#qemu/each-patch} # each-patch.sh's logs: $EACH_PATCH-N.log
PASST_SRC=$BUILD/passt-src
PASST_PREFIX=$BUILD/passt         # installed passt: $PASST_PREFIX/bin/passt
PASST_2025_SRC=$BUILD/passt-2025-src
PASST_2025_PREFIX=$BUILD/passt-2025 # trixie's: $PASST_2025_PREFIX/bin/passt
PASST_OLD_PREFIX=$BUILD/passt-old # Debian 12's passt: $PASST_OLD_PREFIX/usr/bin/passt
BASE_TAG=${BASE_TAG:-base}

SERIES_AUTHOR="QEMU passt series developers"
SERIES_EMAIL="qemu-passt@devel.invalid"

# Our passts by name, the default one first: "newest" is the newest built
# from source; "sid" is sid's binaries, from sid-root.sh.
PASST_VARIANTS=(newest sid 2025)

# passt_variant [NAME]: set PV_PIN, PV_SERIES, PV_SRC (none for sid) and
# PV_PREFIX for one of $PASST_VARIANTS (default: newest).
passt_variant() {
    case ${1:-newest} in
    newest) PV_PIN=$PASST_PIN PV_SERIES=$PASST_SERIES
            PV_SRC=$PASST_SRC PV_PREFIX=$PASST_PREFIX;;
    sid)    PV_PIN=$SID_PASST_PIN PV_SERIES= PV_SRC=
            PV_PREFIX=$PASST_SID_PREFIX;;
    2025)   PV_PIN=$PASST_2025_PIN PV_SERIES=$PASST_2025_SERIES
            PV_SRC=$PASST_2025_SRC PV_PREFIX=$PASST_2025_PREFIX;;
    *) die "no passt called '$1' (have: ${PASST_VARIANTS[*]})";;
    esac
}

# qtest_env [PASST]: what the qtests of the series run: the QEMU of
# $QEMU_BUILD, the passt (and passt-repair) named (default: newest), and
# Debian 12's passt.
qtest_env() {
    passt_variant "${1:-newest}"
    export QTEST_QEMU_BINARY=$QEMU_BUILD/qemu-system-x86_64
    export QTEST_PASST=$PV_PREFIX/bin/passt
    export QTEST_PASST_REPAIR=$PV_PREFIX/bin/passt-repair
    export QTEST_PASST_OLD=$PASST_OLD_PREFIX/usr/bin/passt
}

# qtest QTEST [OPTS...]: a qtest, 600 s at most. The passt qtests
# (netdev-passt*) run their cases in two halves at once, unless OPTS
# choose cases (-p): most of their time is waiting (start and stop
# bounds, restart backoff), not computing, and their cases share nothing
# but the binary (each starts its own QEMU and passt, on ports it finds
# free). Both halves' output, one after the other.
qtest() {
    local bin=$1 out half i pid rc=0
    local -a cases sel pids=()
    shift
    if [[ ${bin##*/} != netdev-passt* || " $* " = *" -p "* ]]; then
        timeout 600 "$bin" "$@"
        return
    fi
    mapfile -t cases < <(timeout 60 "$bin" -l | grep "^/" || true)
    # Nothing to split (or no listing): the whole qtest, so that it still
    # runs and fails as itself, never passes unrun
    if [ ${#cases[@]} -lt 2 ]; then
        timeout 600 "$bin" "$@"
        return
    fi
    out=$(mktemp -d)
    for half in 0 1; do
        sel=()
        for ((i = half; i < ${#cases[@]}; i += 2)); do
            sel+=(-p "${cases[i]}")
        done
        timeout 600 "$bin" "$@" "${sel[@]}" > "$out/$half" 2>&1 &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || rc=$?
    done
    cat "$out"/*
    rm -rf "$out"
    return "$rc"
}

# step NAME CMD...: run CMD; with STEPS_FILE set (scripts/test.sh), add
# a line "NAME<TAB>SECONDS<TAB>VERDICT" to it for the closing table
step() {
    local name=$1 start=$SECONDS rc=0
    shift
    "$@" || rc=$?
    if [ -n "${STEPS_FILE:-}" ]; then
        printf '%s\t%d\t%s\n' "$name" $((SECONDS - start)) \
            "$([ "$rc" -eq 0 ] && echo ok || echo "failed ($rc)")" >> "$STEPS_FILE"
    fi
    return "$rc"
}

# debian_mirror: the mirror of Debian's archive that we fetch from: the one
# deps.sh wrote into our apt sources file, else the one this machine uses
# for Debian's main archive
debian_mirror() {
    local uri
    uri=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/qemu-passt-series.sources \
          2>/dev/null | head -n1 || true)
    # shellcheck disable=SC2016 # $(REPO_URI) and the rest are apt's, not ours
    [ -n "$uri" ] || uri=$(env -u APT_CONFIG apt-get indextargets \
                               --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' |
                           awk '$3 == "main" && $2 ~ /^[a-z]+$/ { print $1; exit }')
    [ -n "$uri" ] || die "no Debian main archive in apt's sources"
    echo "$uri"
}

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf '\n!!! WARNING: %s\n\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

. "$TOP/scripts/stack.sh"
[ -z "${UPTO:-}${PART:-}" ] || [ -n "${STACK_FILE:-}" ] ||
    die "UPTO or PART: SERIES=$SERIES is not a stack of series"
[ -z "${UPTO:-}" ] || stack_index "$UPTO" > /dev/null
[ -z "${PART:-}" ] || stack_index "$PART" > /dev/null
