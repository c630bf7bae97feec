#!/usr/bin/env python3
"""netdev_del of a passt netdev without a NIC: upstream 10.2 frees the state
but leaves the channel's read watch; when passt (killed by the cleanup)
closes its end, net_passt_send() runs on freed memory and tries to
"restart" passt: QEMU crashes within seconds.  Fixed by 2-passt-fixes/5.

netdev_del comes once QEMU is connected to passt: before that, QEMU 11.1.3
crashed as add-del.py shows instead.
"""
import time

import common
from verdict import cannot_run, not_reproduced, reproduced

common.setup()
q = common.Qemu()
add = q.netdev_add(path=common.PASST)
print(f'netdev_add: {add}')
if 'return' not in add:
    cannot_run('netdev_add failed')
# Connected first (upstream names passt's pid then): a netdev_del before
# that would trip over add-del.py's bug instead
print(f'info network: {q.wait_info("n0", "pid ")!r}')
print(f'netdev_del: {q.try_cmd("netdev_del", {"id": "n0"})}')
t0 = time.monotonic()
down = q.went_down(3)
if not down:
    print(f'query-status 3 s later: {q.try_cmd("query-status", timeout=5)}')
    down = q.went_down(1)
print(f'QEMU (pid {q.qemu_pid}) {down or "still running"} '
      f'{time.monotonic() - t0:.1f} s after netdev_del; '
      f'stderr: {q.stderr()!r}')
if down:
    reproduced('QEMU went down after netdev_del of a passt netdev without '
               f'a NIC ({down}): use after free in net_passt_send()')
not_reproduced()
