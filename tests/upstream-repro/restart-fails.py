#!/usr/bin/env python3
"""A passt whose restart fails: when passt goes away, upstream 10.2 starts
another; when that one exits non-zero, net_passt_start_daemon() fails
without setting its Error, and the restart hands the NULL Error to
error_report_err(): QEMU crashes.  Fixed by 2-passt-fixes/4.

path= is a stand-in that runs passt the first time and exits 1 after.
"""

import common
from verdict import not_reproduced, reproduced

common.setup()
q = common.Qemu()
pid = q.kill_passt_restart_fails()
down = q.went_down(5)
print(f'path= ran {q.runs()} times')
print(f'QEMU (pid {q.qemu_pid}) {down or "still running"}; '
      f'stderr: {q.stderr()!r}')
if down:
    reproduced(f'a failed restart of passt took QEMU down: {down}')
not_reproduced()
