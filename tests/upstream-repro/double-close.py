#!/usr/bin/env python3
"""Upstream 10.2: the end of the socket pair that
g_subprocess_launcher_take_fd() takes belongs to the launcher, which closes
it; net_passt_stream_start() closes the same number again.  Harmless only
while no other thread got that number in between.  Seen as a close() in
QEMU's main thread failing with EBADF.  Fixed by 2-passt-fixes/1.

strace follows forks (-f): QEMU may run under a wrapper (the sid wrapper's
bwrap forks it), and only the lines of QEMU's main thread count (its tid is
its pid): passt's children close fds of their own before exec.
"""
import time

import common
from verdict import not_reproduced, reproduced

common.setup()
q = common.Qemu(strace=('-e', 'trace=close', '-e', 'status=failed'))
print(f'netdev_add: {q.netdev_add(path=common.PASST)}')
time.sleep(1)
q.try_cmd('quit')
q.wait(10)
bad = [call for call in q.strace_lines() if 'EBADF' in call]  # close(N) = -1
print(f'close() failing with EBADF in QEMU\'s main thread (pid '
      f'{q.qemu_pid}): {len(bad)}')
if bad:
    reproduced('QEMU closed an fd it no longer had: ' + '; '.join(bad))
not_reproduced()
