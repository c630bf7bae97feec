#!/bin/bash
# apt-suite.sh [--update] SUITE: print the path of an APT_CONFIG file under
# which apt sees the source packages of Debian's SUITE (e.g. sid) and
# nothing else, so that fetch-source.sh can fetch and verify them the way
# it does trixie's. The index lives in $BUILD/apt-SUITE/, comes from the
# mirror the project's own apt source file names (else the machine's
# Debian archive), is checked against Debian's archive keyring, and leaves
# the machine's own apt setup alone. It is read when missing, or again with
# --update.
set -euo pipefail
. "$(dirname "$0")/config.sh"

update=
[ "${1:-}" = --update ] && { update=1; shift; }
suite=${1:?usage: apt-suite.sh [--update] SUITE}
dir=$BUILD/apt-$suite
conf=$dir/apt.conf
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || die "no $keyring (install debian-archive-keyring)"

uri=$(debian_mirror)

mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/preferences.d"
echo "deb-src [signed-by=$keyring] $uri $suite main" > "$dir/sources.list"
cat > "$conf.tmp" <<EOF
Dir::Etc::sourcelist "$dir/sources.list";
Dir::Etc::sourceparts "-";
Dir::Etc::preferencesparts "$dir/preferences.d";
Dir::State::lists "$dir/lists";
Dir::Cache "$dir/cache";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Sandbox::User "root";
Acquire::Languages "none";
EOF
mv "$conf.tmp" "$conf"

if [ -n "$update" ] || ! compgen -G "$dir/lists/*_${suite}_main_source_Sources*" >/dev/null; then
    log "reading the source index of Debian $suite from $uri"
    APT_CONFIG=$conf apt-get update -q >&2 ||
        die "apt-get update of Debian $suite failed"
fi
echo "$conf"
