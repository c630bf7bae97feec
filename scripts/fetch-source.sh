#!/bin/bash
# fetch-source.sh PACKAGE PIN SERIES DEST [ORIG_DEST]
# Download a Debian source package, verify every file's SHA256 against the
# Sources index apt already verified, and unpack it (with Debian's patches)
# into DEST; ORIG_DEST, if given, gets the upstream tarball alone.
# Falls back, loudly, to the newest version starting with SERIES when PIN
# has left the archive; a SERIES of the form ">=VERSION" takes the newest
# version at least that high (epoch aside) whose files the mirror serves.
# Does nothing when DEST holds that version already.
# APT_CONFIG, when set, is the apt configuration asked (see apt-suite.sh).
# UPSTREAM_ONLY_OK=1: when the mirror has no Debian tarball (.debian.tar.*),
# unpack the upstream one alone, loudly; DEST's .fetched then says
# VERSION~upstream-only, and the next run tries the Debian tarball again.
set -euo pipefail
. "$(dirname "$0")/config.sh"

pkg=$1 pin=$2 series=$3 dest=$4 orig_dest=${5:-}
stamp=$dest/.fetched
have=$(cat "$stamp" 2>/dev/null || true)

# DEST holds version $1 already (and ORIG_DEST is there, if asked for)
unpacked() { [ "$have" = "$1" ] && { [ -z "$orig_dest" ] || [ -d "$orig_dest" ]; }; }

unpacked "$pin" && exit 0

versions=$(apt-cache showsrc "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -u)
[ -n "$versions" ] || die "apt has no source for '$pkg' (run scripts/deps.sh)"
# served VERSION: the mirror answers for every file of $pkg VERSION
served() {
    local t url
    t=$(mktemp -d)
    url=$(cd "$t" && apt-get source -qq --print-uris "$pkg=$1" |
          sed -n "s/^'\([^']*\)'.*/\1/p")
    rm -rf "$t"
    [ -n "$url" ] || return 1
    while read -r url; do
        curl -fsIL --retry 2 -o /dev/null "$url" || return 1
    done <<<"$url"
}

if grep -qxF "$pin" <<<"$versions"; then
    version=$pin
elif [ "${series#>=}" != "$series" ]; then
    version=
    while read -r v; do
        dpkg --compare-versions "${v#*:}" ge "${series#>=}" || continue
        if served "$v"; then version=$v; break; fi
        warn "$pkg $v: the mirror does not serve all of its files; skipped"
    done < <(sort -rV <<<"$versions")
    [ -n "$version" ] || die "no $pkg $series that the mirror serves (have: $versions)"
    warn "$pkg $pin is no longer in the archive; using $version instead." \
         "Update the pin in scripts/config.sh once the series is checked on it."
else
    version=$(grep -F "$series" <<<"$versions" | while read -r v; do
                  case $v in *:"$series"*|"$series"*) echo "$v";; esac
              done | sort -V | tail -n1 || true)
    [ -n "$version" ] || die "no $pkg $series* in the archive (have: $versions)"
    warn "$pkg $pin is no longer in the archive; using $version instead." \
         "Update the pin in scripts/config.sh once the series is checked on it."
fi
unpacked "$version" && exit 0
log "fetching $pkg $version${have:+ (replacing $have)}"

mkdir -p "$DL"
# From an empty directory: apt leaves out the files it finds already there.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
uris=$(cd "$tmp" && apt-get source -qq --print-uris "$pkg=$version")
dsc=
orig=
debian=
while read -r url file _size hash; do
    [ -n "$url" ] || continue
    url=${url//\'/}
    sum=${hash#SHA256:}
    [ "$sum" != "$hash" ] || die "no SHA256 for $file in the Sources index"
    if ! echo "$sum  $DL/$file" | sha256sum -c --status 2>/dev/null; then
        rm -f "$DL/$file.part"
        if ! curl -fsSL --retry 3 -o "$DL/$file.part" "$url"; then
            case $file in
            *.dsc) warn "could not download $file; unpacking by hand"; continue;;
            *.debian.tar.*)
                [ -n "${UPSTREAM_ONLY_OK:-}" ] || die "could not download $url"
                warn "could not download $file: using $pkg's upstream" \
                     "tarball alone, WITHOUT Debian's patches (tried again next run)"
                continue;;
            *) die "could not download $url";;
            esac
        fi
        echo "$sum  $DL/$file.part" | sha256sum -c --status ||
            die "$file: SHA256 mismatch against the Sources index"
        mv "$DL/$file.part" "$DL/$file"
    fi
    case $file in
    *.dsc) dsc=$DL/$file;;
    *.orig.tar.*) orig=$DL/$file;;
    *.debian.tar.*) debian=$DL/$file;;
    esac
done <<<"$uris"
[ -n "$orig" ] || die "$pkg $version: no upstream tarball in the Sources index"
[ -n "$debian" ] || [ -n "${UPSTREAM_ONLY_OK:-}" ] ||
    die "$pkg $version: no Debian tarball in the Sources index"
got=$version
[ -n "$debian" ] || got+="~upstream-only"
unpacked "$got" && exit 0

rm -rf "$dest"
if [ -n "$dsc" ] && [ -n "$debian" ]; then
    dpkg-source --no-copy -x "$dsc" "$dest" >&2
else
    # What dpkg-source does for a 3.0 (quilt) package.
    mkdir -p "$dest"
    tar -xf "$orig" -C "$dest" --strip-components=1
    [ -z "$debian" ] || tar -xf "$debian" -C "$dest"
    if [ -f "$dest/debian/patches/series" ]; then
        grep -v '^\s*\(#\|$\)' "$dest/debian/patches/series" |
        while read -r p opt; do
            patch -d "$dest" -s -N ${opt:--p1} < "$dest/debian/patches/$p"
        done
    fi
fi
rm -rf "$dest/.pc"
echo "$got" > "$stamp"

if [ -n "$orig_dest" ]; then
    rm -rf "$orig_dest"
    mkdir -p "$orig_dest"
    tar -xf "$orig" -C "$orig_dest" --strip-components=1
fi
