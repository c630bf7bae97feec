#!/bin/bash
# fetch-source.sh PACKAGE PIN SERIES DEST [ORIG_DEST]
# Download a Debian source package, verify every file's SHA256 against the
# Sources index apt already verified, and unpack it (with Debian's patches)
# into DEST; ORIG_DEST, if given, gets the upstream tarball alone.
# Falls back, loudly, to the newest version starting with SERIES when PIN
# has left the archive.
set -euo pipefail
. "$(dirname "$0")/config.sh"

pkg=$1 pin=$2 series=$3 dest=$4 orig_dest=${5:-}
stamp=$dest/.fetched

if [ -f "$stamp" ] && [ -z "$orig_dest" -o -d "$orig_dest" ]; then
    exit 0
fi

versions=$(apt-cache showsrc "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -u)
[ -n "$versions" ] || die "apt has no source for '$pkg' (run scripts/deps.sh)"
if grep -qxF "$pin" <<<"$versions"; then
    version=$pin
else
    version=$(grep -F "$series" <<<"$versions" | while read -r v; do
                  case $v in *:"$series"*|"$series"*) echo "$v";; esac
              done | sort -V | tail -n1 || true)
    [ -n "$version" ] || die "no $pkg $series* in the archive (have: $versions)"
    warn "$pkg $pin is no longer in the archive; using $version instead." \
         "Update the pin in scripts/config.sh once the series is checked on it."
fi
log "fetching $pkg $version"

mkdir -p "$DL"
uris=$(cd "$DL" && apt-get source -qq --print-uris "$pkg=$version")
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
[ -n "$orig" ] && [ -n "$debian" ] || die "$pkg $version: unexpected file set"

rm -rf "$dest"
if [ -n "$dsc" ]; then
    dpkg-source --no-copy -x "$dsc" "$dest" >&2
else
    # What dpkg-source does for a 3.0 (quilt) package.
    mkdir -p "$dest"
    tar -xf "$orig" -C "$dest" --strip-components=1
    tar -xf "$debian" -C "$dest"
    if [ -f "$dest/debian/patches/series" ]; then
        grep -v '^\s*\(#\|$\)' "$dest/debian/patches/series" |
        while read -r p opt; do
            patch -d "$dest" -s -N ${opt:--p1} < "$dest/debian/patches/$p"
        done
    fi
fi
rm -rf "$dest/.pc"
echo "$version" > "$stamp"

if [ -n "$orig_dest" ]; then
    rm -rf "$orig_dest"
    mkdir -p "$orig_dest"
    tar -xf "$orig" -C "$orig_dest" --strip-components=1
fi
