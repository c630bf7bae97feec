#!/bin/bash
# Install what `make bench` needs beyond the tests: perf, to count
# syscalls, and matplotlib, for the plot (Debian's, for /usr/bin/python3).
set -euo pipefail

PKGS=(linux-perf python3-matplotlib iperf3 iproute2)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
        missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
