#!/usr/bin/env python3
"""Upstream 10.2 bug: netdev_del of a passt netdev without a NIC frees the
state but leaves the channel's read watch; when passt (killed by the
cleanup) closes its end, net_passt_send() runs on freed memory and tries to
"restart" passt: QEMU crashes within seconds.
"""
import time

import common

common.setup()
q = common.Qemu()
add = q.cmd('netdev_add', {'type': 'passt', 'id': 'n0', 'path': common.PASST})
print(f'netdev_add: {add}')
if 'return' not in add:
    print('not reproduced: netdev_add failed')
    raise SystemExit(2)
print(f'netdev_del: {q.cmd("netdev_del", {"id": "n0"})}')
t0 = time.monotonic()
status = q.wait(3)
if status is None:
    try:
        print(f'query-status 3 s later: {q.cmd("query-status", timeout=5)}')
    except (common.Gone, common.NoAnswer) as e:
        print(f'query-status 3 s later: no answer ({type(e).__name__})')
    status = q.wait(1)
print(f'QEMU (pid {q.pid}) {common.describe(status)} '
      f'{time.monotonic() - t0:.1f} s after netdev_del; '
      f'stderr: {q.stderr()!r}')
if status is not None:
    print('REPRODUCED: QEMU died after netdev_del of a passt netdev without '
          f'a NIC ({common.describe(status)}): use after free in '
          'net_passt_send()')
    raise SystemExit(0)
print('not reproduced')
raise SystemExit(1)
