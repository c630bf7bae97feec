#!/usr/bin/env python3
"""In vhost-user mode, a passt that goes away is never replaced: upstream
10.2 sets the link down and waits for the chardev to connect again, which
its socket pair never does, so the guest stays without network (stream
mode starts another passt).  Fixed by 3-passt-behaviour/1.
"""
import os
import signal

import common
from verdict import cannot_run, not_reproduced, reproduced

WAIT_S = 5

common.setup()
q = common.Qemu()
add = q.netdev_add_vhost_user(common.PASST)
print(f'netdev_add vhost-user=on: {add}')
first = q.wait_passt()
if 'return' not in add or not first:
    cannot_run('no passt in vhost-user mode')
os.kill(first, signal.SIGKILL)
print(f'killed passt (pid {first}) with SIGKILL')
new = q.wait_passt(WAIT_S, old={first})
down = q.went_down(0)
print(f'QEMU (pid {q.qemu_pid}) {down or "still running"}; new passt: '
      f'{new}; stderr: {q.stderr()[-300:]!r}')
if down:
    reproduced(f'QEMU went down when its passt in vhost-user mode was '
               f'killed: {down}')
if not new:
    reproduced(f'no new passt {WAIT_S} s after the one in vhost-user mode '
               'was killed')
not_reproduced()
