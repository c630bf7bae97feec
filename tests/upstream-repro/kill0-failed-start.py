#!/usr/bin/env python3
"""Upstream 10.2 bug: after a failed start, net_passt_cleanup() calls
kill(s->pid, SIGTERM) with s->pid still 0, which signals QEMU's own process
group: QMP netdev_add of type passt with path=/bin/false terminates QEMU.
"""
import common

common.setup()
q = common.Qemu()
try:
    answer = q.cmd('netdev_add', {'type': 'passt', 'id': 'n0',
                                  'path': '/bin/false'})
except (common.Gone, common.NoAnswer) as e:
    answer = f'no answer ({type(e).__name__})'
status = q.wait(5)
err = q.stderr()
print(f'netdev_add path=/bin/false answered: {answer}')
print(f'QEMU (pid {q.pid}) {common.describe(status)}; stderr: {err!r}')
if status is not None and f'signal 15 from pid {q.pid}' in err:
    print('REPRODUCED: a failed passt start made QEMU send SIGTERM to its '
          'own process group (kill(0, SIGTERM)) and exit')
    raise SystemExit(0)
print('not reproduced')
raise SystemExit(1)
