"""A minimal QMP client: enough to ask for the schema and add a netdev.

Written here rather than taken from QEMU's python/ tree so that the check
runs on a bare machine and against any QEMU, the sandboxed one included.
"""

import json
import socket
import time


class QmpGone(Exception):
    """QEMU closed the connection (it exited, or refused its options)."""


class Qmp:
    def __init__(self, path, deadline):
        """Connect to QEMU's QMP socket at @path before @deadline
        (time.monotonic()), read the greeting, leave capabilities mode."""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        while True:
            try:
                self.sock.connect(path)
                break
            except OSError:
                # QEMU creates the socket only after parsing its options
                if time.monotonic() > deadline:
                    self.sock.close()
                    raise QmpGone(f'no QMP socket at {path}') from None
                time.sleep(0.02)
        self.deadline = deadline
        self.buf = b''
        try:
            self._read()                    # greeting
            self.cmd('qmp_capabilities')
        except BaseException:
            self.sock.close()
            raise

    def _read(self):
        """The next message that is not an event."""
        while True:
            while b'\n' not in self.buf:
                left = self.deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError('QEMU did not answer in time')
                self.sock.settimeout(left)
                try:
                    chunk = self.sock.recv(65536)
                except socket.timeout:
                    raise TimeoutError('QEMU did not answer in time') \
                        from None
                except ConnectionError:
                    chunk = b''
                if not chunk:
                    raise QmpGone('QEMU closed the QMP connection')
                self.buf += chunk
            line, self.buf = self.buf.split(b'\n', 1)
            msg = json.loads(line)
            if 'event' not in msg:
                return msg

    def cmd(self, name, **args):
        """QEMU's raw answer: {'return': ...} or {'error': ...}."""
        msg = {'execute': name}
        if args:
            msg['arguments'] = args
        try:
            self.sock.sendall(json.dumps(msg).encode() + b'\n')
        except OSError:
            raise QmpGone('QEMU closed the QMP connection') from None
        return self._read()

    def close(self):
        self.sock.close()
