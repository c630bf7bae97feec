#!/bin/bash
# The README's main job: build the patched QEMU (and passt) and show it.
set -euo pipefail
. "$(dirname "$0")/config.sh"

"$TOP/scripts/setup.sh"
log "built: $QEMU_BUILD/qemu-system-x86_64"
"$QEMU_BUILD/qemu-system-x86_64" --version | head -n1
