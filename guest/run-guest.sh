#!/bin/bash
# Command-line front end of guestlib.py, e.g.:
#   guest/run-guest.sh --netdev 'stream,id=n0,server=off,addr.type=unix,addr.path=/tmp/x.sock' \
#       --script test.sh [--timeout 60] [-- more QEMU arguments]
# Prints what the guest script wrote; exits with its status (124: timeout).
set -euo pipefail
exec python3 "$(dirname "${BASH_SOURCE[0]}")/guestlib.py" "$@"
