#!/bin/bash
# narrow-rebuild.sh BUILD SAVED: after meson configured the QEMU build
# directory BUILD again, leave ninja only the objects that the change of
# BUILD/config-host.h can reach. SAVED is the config-host.h of before,
# copied with its mtime (cp -p).
#
# Every file QEMU compiles includes config-host.h, so any change to it
# rebuilds everything: a full build, where a per-patch check reaches the
# patch that adds an option (--enable-passt) or a build turns one off.
# When the two files differ only in lines that define or undefine
# symbols (and blank lines), an object none of whose sources and headers (the compiler's
# own list, in ninja's deps log) names one of those symbols compiles to
# the same code: those keep their objects, the others are removed, and
# config-host.h gets its old mtime back. Any other change: nothing is
# done, and ninja rebuilds everything as usual.
set -euo pipefail

build=$1 saved=$2
new=$build/config-host.h

[ -f "$saved" ] && [ -f "$new" ] || exit 0
changes=$(diff "$saved" "$new" | grep -v '^[<>] *$' | grep '^[<>]' || :)
[ -n "$changes" ] || exit 0
sym='#(define|undef) ([A-Za-z_][A-Za-z0-9_]*)( .*)?$'
if grep -qvE "^[<>] $sym" <<< "$changes"; then
    echo "narrow-rebuild: config-host.h changed beyond definitions: all of it is built again"
    exit 0
fi
syms=$(sed -E "s/^[<>] $sym/\\2/" <<< "$changes" | sort -u)

# The files the objects were compiled from that name a changed symbol
deps=$(mktemp)
trap 'rm -f "$deps"' EXIT
ninja -C "$build" -t deps > "$deps"
mapfile -t naming < <(
    awk '/^    / { print $1 }' "$deps" | sort -u |
        (cd "$build" && xargs -r grep -lswF -f <(echo "$syms") -- || :) |
        grep -vx 'config-host.h' || :)
# ... and the objects that include one of them
mapfile -t stale < <(
    awk 'NR == FNR { name[$0] = 1; next }
         /^[^ ].*: #deps/ { obj = $1; sub(/:$/, "", obj); next }
         /^    / && ($1 in name) { print obj }' \
        <(printf '%s\n' "${naming[@]}") "$deps" | sort -u)
(cd "$build" && rm -f -- "${stale[@]}")
touch -r "$saved" "$new"
echo "narrow-rebuild: $(wc -w <<< "$syms") symbol(s) changed ($(tr '\n' ' ' <<< "$syms")), named in ${#naming[@]} file(s): ${#stale[@]} object(s) to build again"
