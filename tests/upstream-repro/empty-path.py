#!/usr/bin/env python3
"""netdev_add path="": upstream 10.2 hands GLib an empty argv[0], which
g_subprocess_launcher_spawnv() refuses with a failed assertion that returns
NULL and sets no GError; QEMU dereferences that NULL error and dies of
SIGSEGV.  Fixed by 2-passt-fixes/9.
"""
import common
from verdict import not_reproduced, reproduced

common.setup()
q = common.Qemu()
print(f'netdev_add path="": {q.netdev_add(path="")}')
down = q.went_down(5)
print(f'QEMU (pid {q.qemu_pid}) {down or "still running"}; '
      f'stderr: {q.stderr()!r}')
if down:
    reproduced(f'netdev_add with an empty path took QEMU down: {down}')
not_reproduced()
