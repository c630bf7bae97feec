#!/usr/bin/env python3
"""-netdev vhost-user: when the back-end's end closes, net/vhost-user.c
schedules a bottom half with the netdev's name as its argument, which
nothing cancels: a netdev_del that the main loop handles first frees the
name, and the bottom half then looks the netdev up by it (see hmpdel.py
for how the two come together).  passt --vhost-user is the back-end.
Fixed by 2-passt-fixes/13.
"""
import os
import shutil
import subprocess
import tempfile
import time

import common
from hmpdel import HmpQemu
from verdict import cannot_run, not_reproduced, reproduced

common.setup()
tmp = tempfile.mkdtemp(prefix='upstream-repro-vu-')
sock = os.path.join(tmp, 'vhost-user.sock')
backend = subprocess.Popen([common.PASST, '-f', '-q', '--vhost-user',
                            '--socket', sock],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deadline = time.monotonic() + 10
while not os.path.exists(sock) and time.monotonic() < deadline:
    time.sleep(0.05)
if not os.path.exists(sock):
    backend.kill()
    shutil.rmtree(tmp, ignore_errors=True)
    cannot_run('passt --vhost-user made no socket')
h = HmpQemu(('-chardev', f'socket,id=c0,path={sock}',
             '-netdev', 'vhost-user,id=n0,chardev=c0'))
down = h.del_as_it_closes(backend.pid)
backend.wait()
shutil.rmtree(tmp, ignore_errors=True)
if down:
    reproduced('QEMU went down after the vhost-user back-end closed and '
               f'netdev_del came with it ({down}): the bottom half used a '
               'freed name')
not_reproduced()
