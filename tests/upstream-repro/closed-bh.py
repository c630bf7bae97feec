#!/usr/bin/env python3
"""In vhost-user mode, when passt's end closes, upstream 10.2 schedules a
bottom half with the netdev's state as its argument; a netdev_del that the
main loop handles before that bottom half frees the state, and the bottom
half then runs on freed memory.  Here QEMU is stopped while passt is
killed and the newline of an HMP netdev_del waits for it, so that the
close and the command come in the same main loop iteration; MALLOC_PERTURB_ makes the
freed memory garbage, so that its use crashes QEMU.
"""
import os
import shutil
import signal
import socket
import tempfile
import time

import common
from verdict import cannot_run, not_reproduced, reproduced

common.setup()
os.environ['MALLOC_PERTURB_'] = '85'
hmp_dir = tempfile.mkdtemp(prefix='upstream-repro-hmp-')
hmp_path = os.path.join(hmp_dir, 'hmp.sock')
q = common.Qemu(common.NO_MACHINE + (
    '-monitor', f'unix:{hmp_path},server=on,wait=off'))
add = q.netdev_add_vhost_user(common.PASST)
print(f'netdev_add vhost-user=on: {add}')
passt = q.wait_passt()
if 'return' not in add or not passt:
    cannot_run('no passt in vhost-user mode')
hmp = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
hmp.connect(hmp_path)
hmp.recv(4096)
shutil.rmtree(hmp_dir)
# HMP reads a byte a main loop iteration: all but the newline first
hmp.sendall(b'netdev_del n0')
time.sleep(0.5)
os.kill(q.qemu_pid, signal.SIGSTOP)
os.kill(passt, signal.SIGKILL)
time.sleep(0.5)
hmp.sendall(b'\n')
time.sleep(0.2)
os.kill(q.qemu_pid, signal.SIGCONT)
print(f'with QEMU (pid {q.qemu_pid}) stopped: killed passt (pid {passt}), '
      'sent netdev_del over HMP; QEMU continued')
down = q.went_down(3)
if not down:
    print(f'query-status: {q.try_cmd("query-status", timeout=5)}')
    down = q.went_down(1)
print(f'QEMU {down or "still running"}; stderr: {q.stderr()[-300:]!r}')
if down:
    reproduced('QEMU went down after passt closed in vhost-user mode and '
               f'netdev_del came with it ({down}): the bottom half ran on '
               'freed memory')
not_reproduced()
