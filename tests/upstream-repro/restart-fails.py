#!/usr/bin/env python3
"""A passt whose restart fails: when passt goes away, upstream 10.2 starts
another; when that one exits non-zero, net_passt_start_daemon() fails
without setting its Error, and the restart hands the NULL Error to
error_report_err(): QEMU crashes.  Fixed by the series' patch 4.

path= is a stand-in that runs passt the first time and exits 1 after.
"""
import os
import signal

import common
from verdict import cannot_run, not_reproduced, reproduced

common.setup()
q = common.Qemu()
runs = os.path.join(q.tmp, 'runs')
once = q.stand_in('passt-once', f"""
echo run >> '{runs}'
[ "$(wc -l < '{runs}')" -eq 1 ] || exit 1
exec '{common.PASST}' "$@"
""")
print(f'netdev_add path=<passt the first time, then exit 1>: '
      f'{q.netdev_add(path=once)}')
pid = q.wait_passt()
if not pid:
    cannot_run('no passt started')
os.kill(pid, signal.SIGKILL)
print(f'killed passt (pid {pid}) with SIGKILL')
down = q.went_down(5)
with open(runs) as f:
    print(f'path= ran {len(f.readlines())} times')
print(f'QEMU (pid {q.qemu_pid}) {down or "still running"}; '
      f'stderr: {q.stderr()!r}')
if down:
    reproduced(f'a failed restart of passt took QEMU down: {down}')
not_reproduced()
