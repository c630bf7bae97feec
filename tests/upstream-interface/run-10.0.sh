#!/bin/bash
# The same check on the 10.0 backport (build/qemu-build), whose members
# mean what upstream's mean (patches/0015, patches/0029): its own order
# of passt's arguments, and its refusals, are allowlisted as the 10.0
# series' (allowlist.py). QEMU= and the other variables of run.sh apply.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export QEMU=${QEMU:-$top/build/qemu-build/qemu-system-x86_64}
export SERIES=10.0
exec "$here/run.sh" "$@"
