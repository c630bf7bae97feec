#!/usr/bin/env python3
"""announce-self with a passt netdev in vhost-user mode: the RARP frames of
the announcement go through the netdev's receive handler, which upstream
10.2 writes to the stream connection to passt, which vhost-user mode does
not have: QEMU dies of SIGSEGV.  Fixed by 2-passt-fixes/8.

The machine: a virtio-net-pci on shared memory, as vhost-user needs; the
guest runs (frames wait while it is stopped) but needs no system: the
announcement is QEMU's own.
"""
import common
from verdict import cannot_run, not_reproduced, reproduced

common.setup()
q = common.Qemu(args=(
    '-M', 'pc', '-accel', 'tcg', '-m', '64M',
    '-object', 'memory-backend-memfd,id=mem,size=64M,share=on',
    '-machine', 'memory-backend=mem',
    '-netdev', f'passt,id=n0,path={common.PASST},vhost-user=on',
    '-device', 'virtio-net-pci,netdev=n0'))
status = q.try_cmd('query-status')
print(f'query-status: {status}')
if 'return' not in status:
    cannot_run('QEMU did not answer')
print('announce-self: ' + str(q.try_cmd('announce-self', {
    'initial': 1, 'max': 2, 'rounds': 2, 'step': 1})))
down = q.went_down(3)
print(f'QEMU (pid {q.qemu_pid}) {down or "still running"}; '
      f'stderr: {q.stderr()[-300:]!r}')
if down:
    reproduced(f'announce-self in vhost-user mode took QEMU down: {down}')
not_reproduced()
