"""Shared by the reproducers of upstream QEMU 10.2's -netdev passt bugs.

Qemu() starts an unmodified upstream QEMU (QEMU=, default
build/qemu-upstream-build/qemu-system-x86_64) with a QMP socket and no
machine, in a session of its own (upstream's kill(0, SIGTERM) then hits
QEMU's own process group only, never the reproducer) and with TMPDIR set to
a private directory, where upstream puts its passt pid files. Cleanup, run
at exit and on SIGTERM, SIGINT, SIGHUP and the overall timeout (ALARM_S):
SIGKILL to that QEMU, then to every passt whose command line names the
private directory (only passts this QEMU started do: their --pid file lies
there), then the directory is removed. QMP goes through guest/guestlib.py's
QMP client (QEMU's qemu.qmp); Qemu.cmd() returns its raw answer ({'return':
...} or {'error': ...}) and raises NoAnswer on a timeout, Gone on a closed
socket.

Exit status of each reproducer: 0 REPRODUCED, 1 not reproduced, 2 could not
run (missing binary, timeout).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(TOP, 'guest'))
from guestlib import QMP, QMPError             # noqa: E402 (no side effects)

QEMU = os.environ.get('QEMU', os.path.join(
    TOP, 'build', 'qemu-upstream-build', 'qemu-system-x86_64'))
PASST = os.environ.get('PASST', os.path.join(TOP, 'build', 'passt', 'bin',
                                             'passt'))
ALARM_S = int(os.environ.get('REPRO_TIMEOUT', '60'))

_live = []


class Gone(Exception):
    """QEMU closed the QMP connection."""


class NoAnswer(Exception):
    """QEMU did not answer in time."""


def _proc_cmdline(pid):
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            return f.read().split(b'\0')
    except OSError:
        return []


class Qemu:
    def __init__(self, wrap=()):
        """wrap: a command QEMU runs under (its pid is then self.pid)."""
        for binary in (QEMU, PASST):
            if not os.access(binary, os.X_OK):
                print(f'not reproduced: no executable {binary}')
                sys.exit(2)
        self.tmp = tempfile.mkdtemp(prefix='upstream-repro-')
        _live.append(self)
        self.qmp_path = os.path.join(self.tmp, 'qmp.sock')
        self.err_path = os.path.join(self.tmp, 'qemu.stderr')
        with open(self.err_path, 'wb') as err:
            self.proc = subprocess.Popen(
                [*wrap, QEMU, '-M', 'none', '-nodefaults', '-display', 'none',
                 '-qmp', f'unix:{self.qmp_path},server=on,wait=off'],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                start_new_session=True, env=dict(os.environ, TMPDIR=self.tmp))
        self.pid = self.proc.pid
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.sock.connect(self.qmp_path)
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    print(f'not reproduced: QEMU did not start: {self.stderr()}')
                    sys.exit(2)
                time.sleep(0.05)
        try:                                    # greeting, qmp_capabilities
            self.qmp = QMP(self.sock, timeout=10)
        except ImportError as e:                # no qemu.qmp: cannot run
            print(f'not reproduced: {e}')
            sys.exit(2)
        except TimeoutError:
            raise NoAnswer() from None
        except (EOFError, OSError):
            raise Gone() from None

    def stderr(self):
        try:
            with open(self.err_path, errors='replace') as f:
                return f.read().strip()
        except OSError:
            return ''

    def cmd(self, name, args=None, timeout=10):
        """QEMU's answer to a command: {'return': ...} or {'error': ...}."""
        self.qmp.timeout = timeout
        try:
            return {'return': self.qmp.cmd(name, **(args or {}))}
        except QMPError as e:
            return {'error': e.error}
        except TimeoutError:                    # a late answer is dropped
            raise NoAnswer() from None
        except (EOFError, OSError):
            raise Gone() from None

    def wait(self, timeout):
        """QEMU's exit status (negative: signal), or None if still running."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def passts(self):
        """Pids of the passts this QEMU started (their --pid is in tmp)."""
        tmp = self.tmp.encode()
        pids = []
        for d in os.listdir('/proc'):
            if d.isdigit() and int(d) != self.pid and \
               any(a.startswith(tmp) for a in _proc_cmdline(int(d))):
                pids.append(int(d))
        return pids

    def children(self):
        """Those of self.passts() that are QEMU's own children."""
        kids = []
        for pid in self.passts():
            try:
                with open(f'/proc/{pid}/stat') as f:
                    ppid = int(f.read().rsplit(')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == self.pid:
                kids.append(pid)
        return kids

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for _ in range(50):
            pids = self.passts()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        if getattr(self, 'qmp', None):
            self.qmp.close()
        self.sock.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def describe(status):
    if status is None:
        return 'still running'
    if status < 0:
        return f'killed by {signal.Signals(-status).name}'
    return f'exited with status {status}'


def _cleanup_all():
    while _live:
        _live.pop().cleanup()


def _on_signal(signum, _frame):
    if signum == signal.SIGALRM:
        print(f'not reproduced: timed out after {ALARM_S} s')
    sys.exit(2)                                 # runs the atexit cleanup


def setup():
    import atexit
    atexit.register(_cleanup_all)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):
        signal.signal(s, _on_signal)
    signal.alarm(ALARM_S)
