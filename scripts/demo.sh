#!/bin/bash
# The README's main job: build what is missing, then boot the test guest on
# -nic passt and show what it gets.
set -euo pipefail
. "$(dirname "$0")/config.sh"

"$TOP/scripts/setup.sh"
bash "$TOP/guest/build-guest.sh"
exec python3 "$TOP/guest/demo.py"
