#!/bin/bash
# The README's main job: build what is missing, then boot the test guest on
# -nic passt and show what it gets. SERIES: which series' QEMU (default
# upstream: QEMU 10.2's own backend with the upstream series).
set -euo pipefail
export SERIES=${SERIES:-upstream}
. "$(dirname "$0")/config.sh"
export QEMU=${QEMU:-$QEMU_BUILD/qemu-system-x86_64}

"$TOP/scripts/setup.sh"
bash "$TOP/guest/build-guest.sh"
exec python3 "$TOP/guest/demo.py"
