#!/usr/bin/env python3
"""Upstream 10.2 bug: the end of the socket pair that
g_subprocess_launcher_take_fd() takes belongs to the launcher, which closes
it; net_passt_stream_start() closes the same number again.  Harmless only
while no other thread got that number in between.  Seen as a close() in
QEMU's main thread failing with EBADF (strace without -f: passt's own
closes before exec are not traced).
"""
import os
import shutil
import time

import common

common.setup()
if not shutil.which('strace'):
    print('not reproduced: no strace')
    raise SystemExit(2)
log = os.path.join(os.environ.get('TMPDIR', '/tmp'),
                   f'double-close-{os.getpid()}.strace')
q = common.Qemu(wrap=('strace', '-o', log, '-e', 'trace=close',
                      '-e', 'status=failed'))
try:
    answer = q.cmd('netdev_add', {'type': 'passt', 'id': 'n0',
                                  'path': common.PASST})
    print(f'netdev_add: {answer}')
    time.sleep(1)
    q.cmd('quit')
except (common.Gone, common.NoAnswer) as e:
    print(f'no answer ({type(e).__name__})')
q.wait(10)
with open(log) as f:
    bad = [line.strip() for line in f if 'EBADF' in line]
os.unlink(log)
if bad:
    print('REPRODUCED: QEMU closed an fd it no longer had: ' + '; '.join(bad))
    raise SystemExit(0)
print('not reproduced')
raise SystemExit(1)
