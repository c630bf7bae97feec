#!/usr/bin/env python3
"""Upstream 10.2: the end of the socket pair that
g_subprocess_launcher_take_fd() takes belongs to the launcher, which closes
it; net_passt_stream_start() closes the same number again.  Harmless only
while no other thread got that number in between.  Seen as a close() in
QEMU's main thread failing with EBADF.  Fixed by the series' patch 1.

strace follows forks (-f): QEMU may run under a wrapper (the sid wrapper's
bwrap forks it), and only the lines of QEMU's main thread count (its tid is
its pid): passt's children close fds of their own before exec.
"""
import os
import shutil
import time

import common
from verdict import cannot_run, not_reproduced, reproduced

common.setup()
if not shutil.which('strace'):
    cannot_run('no strace')
log = os.path.join(os.environ.get('TMPDIR', '/tmp'),
                   f'double-close-{os.getpid()}.strace')
try:
    q = common.Qemu(wrap=('strace', '-f', '-o', log, '-e', 'trace=close',
                          '-e', 'status=failed'))
    if q.qemu_pid == q.pid:
        cannot_run('no QEMU process found under strace')
    print(f'netdev_add: {q.netdev_add(path=common.PASST)}')
    time.sleep(1)
    q.try_cmd('quit')
    q.wait(10)
    with open(log) as f:
        lines = f.readlines()
finally:
    if os.path.exists(log):
        os.unlink(log)
bad = []
for line in lines:                              # '<pid> close(N) = -1 EBADF'
    pid, _, call = line.partition(' ')
    if pid == str(q.qemu_pid) and 'EBADF' in call:
        bad.append(' '.join(call.split()))
print(f'close() failing with EBADF in QEMU\'s main thread (pid '
      f'{q.qemu_pid}): {len(bad)}')
if bad:
    reproduced('QEMU closed an fd it no longer had: ' + '; '.join(bad))
not_reproduced()
