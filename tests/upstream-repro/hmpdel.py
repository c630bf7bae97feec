"""A netdev_del in the same main loop iteration as the close of a
vhost-user connection, for closed-bh.py and vhost-user-closed-bh.py.

QEMU gets an HMP monitor on a socket and MALLOC_PERTURB_, so that freed
memory is garbage and a use of it crashes QEMU.  HMP reads a byte a main
loop iteration: "netdev_del n0" goes first, then, with QEMU stopped
(SIGSTOP), the back-end is killed and the newline sent, and QEMU
continues: the close and the command come in one iteration, before the
bottom half that handles the close.
"""
import os
import shutil
import signal
import socket
import tempfile
import time

import common


class HmpQemu:
    def __init__(self, args):
        self.dir = tempfile.mkdtemp(prefix='upstream-repro-hmp-')
        self.path = os.path.join(self.dir, 'hmp.sock')
        os.environ['MALLOC_PERTURB_'] = '85'
        self.q = common.Qemu(common.NO_MACHINE + tuple(args) + (
            '-monitor', f'unix:{self.path},server=on,wait=off'))
        del os.environ['MALLOC_PERTURB_']

    def _read_until(self, sock, what):
        out = b''
        while what not in out:
            data = sock.recv(4096)
            if not data:
                break
            out += data
        return out

    def del_as_it_closes(self, backend_pid):
        """netdev_del n0 as backend_pid, killed, closes its end"""
        hmp = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        hmp.settimeout(10)
        hmp.connect(self.path)
        self._read_until(hmp, b'(qemu) ')
        hmp.sendall(b'netdev_del n0')
        self._read_until(hmp, b'netdev_del n0')
        os.kill(self.q.qemu_pid, signal.SIGSTOP)
        os.kill(backend_pid, signal.SIGKILL)
        time.sleep(0.3)
        hmp.sendall(b'\n')
        os.kill(self.q.qemu_pid, signal.SIGCONT)
        print(f'with QEMU (pid {self.q.qemu_pid}) stopped: killed the '
              f'back-end (pid {backend_pid}), ended an HMP netdev_del; '
              'QEMU continued')
        try:
            self._read_until(hmp, b'(qemu) ')
        except OSError:
            pass
        hmp.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        down = self.q.went_down(3)
        if not down:
            print(f'query-status: {self.q.try_cmd("query-status", timeout=5)}')
            down = self.q.went_down(1)
        print(f'QEMU {down or "still running"}; stderr: '
              f'{self.q.stderr()[-300:]!r}')
        return down
