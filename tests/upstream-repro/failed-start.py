#!/usr/bin/env python3
"""A failed passt start takes QEMU down (QMP netdev_add path=/bin/false).

Upstream 10.2: s->pid is still 0 when the start fails, so the cleanup's
kill(s->pid, SIGTERM) signals QEMU's own process group and QEMU terminates
('terminating on signal 15 from pid <its own pid>').  Fixed by
2-passt-fixes/3; 2-passt-fixes/1 fixes what a QEMU without the kill(0)
still trips on: the connection to the socket pair, set off before passt
was started, completing on the netdev that the failed start freed.
"""
import common
from verdict import not_reproduced, reproduced

common.setup()
q = common.Qemu()
answer = q.netdev_add(path='/bin/false')
print(f'netdev_add path=/bin/false answered: {answer}')
down = q.went_down(5)
print(f'QEMU (pid {q.qemu_pid}) {down or "still running"}; '
      f'stderr: {q.stderr()!r}')
if down:
    reproduced(f'a failed passt start took QEMU down: {down}')
not_reproduced()
