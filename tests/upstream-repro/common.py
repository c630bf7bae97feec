"""Shared by the reproducers of upstream QEMU's -netdev passt bugs.

Qemu() starts the QEMU under test (QEMU=, default
build/qemu-upstream-build/qemu-system-x86_64; it may be a wrapper, such as
build/qemu-sid's, that runs the real QEMU in a sandbox) with a QMP socket
and, unless told otherwise, no machine, in a session of its own (upstream
10.2's kill(0, SIGTERM) then hits QEMU's own process group only, never the
reproducer) and with TMPDIR set to a private directory, where QEMU puts
passt's pid files and private directories. Cleanup, run at exit and on
SIGTERM, SIGINT, SIGHUP and the overall timeout (ALARM_S): SIGKILL to that
QEMU, then to every process whose command line names the private directory
(only passts this QEMU started do, through their --pid file, and the
stand-ins written there), then the directory is removed. QMP goes through
guest/guestlib.py's QMP client (QEMU's qemu.qmp); Qemu.cmd() returns its
raw answer ({'return': ...} or {'error': ...}) and raises NoAnswer on a
timeout, Gone on a closed socket.

With REPRO_GDB=1, gdb is attached to QEMU and a crash's backtrace printed
(backtrace.py).  How each reproducer ends: see verdict.py.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import backtrace
import procs
import verdict

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(TOP, 'guest'))
from guestlib import QMP, QMPError             # noqa: E402 (no side effects)

QEMU = os.environ.get('QEMU', os.path.join(
    TOP, 'build', 'qemu-upstream-build', 'qemu-system-x86_64'))
PASST = os.environ.get('PASST', os.path.join(TOP, 'build', 'passt', 'bin',
                                             'passt'))
ALARM_S = int(os.environ.get('REPRO_TIMEOUT', '60'))
GDB = os.environ.get('REPRO_GDB') == '1'
NO_MACHINE = ('-M', 'none')

_live = []


class Gone(Exception):
    """QEMU closed the QMP connection."""


class NoAnswer(Exception):
    """QEMU did not answer in time."""


class Qemu:
    def __init__(self, args=NO_MACHINE, wrap=(), pass_fds=(), strace=()):
        """args: the machine and devices; wrap: a command QEMU runs under
        (self.pid is then that command's); pass_fds: fds QEMU inherits;
        strace: strace's options to run QEMU under it (-f: a wrapper of
        QEMU may fork it), its log read by strace_lines()."""
        for binary in (QEMU, PASST):
            if not os.access(binary, os.X_OK):
                verdict.cannot_run(f'no executable {binary}')
        if strace and not shutil.which('strace'):
            verdict.cannot_run('no strace')
        self.tmp = tempfile.mkdtemp(prefix='upstream-repro-')
        _live.append(self)
        self.strace_log = os.path.join(self.tmp, 'strace.log')
        if strace:
            wrap = ('strace', '-f', '-o', self.strace_log, *strace, *wrap)
        self.qmp = self.gdb = self.qemu_pid = None
        self.qmp_path = os.path.join(self.tmp, 'qmp.sock')
        self.err_path = os.path.join(self.tmp, 'qemu.stderr')
        with open(self.err_path, 'wb') as err:
            self.proc = subprocess.Popen(
                [*wrap, QEMU, *args, '-nodefaults', '-display', 'none',
                 '-qmp', f'unix:{self.qmp_path},server=on,wait=off'],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                pass_fds=pass_fds, start_new_session=True,
                env=dict(os.environ, TMPDIR=self.tmp))
        self.pid = self.proc.pid
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._connect()
        # Only now that QEMU answers is it surely running under any wrapper
        self.qemu_pid = procs.find_qemu(self.pid) or self.pid
        self.gdb = backtrace.attach(self.qemu_pid) if GDB else None
        if strace and self.qemu_pid == self.pid:
            verdict.cannot_run('no QEMU process found under strace')

    def _connect(self):
        deadline = time.monotonic() + 20
        while True:
            try:
                self.sock.connect(self.qmp_path)
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    verdict.cannot_run(f'QEMU did not start: {self.stderr()}')
                time.sleep(0.05)
        try:                                    # greeting, qmp_capabilities
            self.qmp = QMP(self.sock, timeout=10)
        except ImportError as e:                # no qemu.qmp: cannot run
            verdict.cannot_run(str(e))
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

    def try_cmd(self, name, args=None, timeout=10):
        """cmd(), with no answer or a closed socket told as a string."""
        try:
            return self.cmd(name, args, timeout)
        except (Gone, NoAnswer) as e:
            return f'no answer ({type(e).__name__})'

    def netdev_add(self, timeout=10, **args):
        """netdev_add of passt netdev n0."""
        return self.try_cmd('netdev_add', {'type': 'passt', 'id': 'n0',
                                           **args}, timeout)

    def netdev_add_vhost_user(self, path, timeout=10):
        """netdev_add of n0 in vhost-user mode; a QEMU built without
        vhost-user networking refuses it, and the reproducer does not
        apply there."""
        answer = self.netdev_add(timeout, path=path, **{'vhost-user': True})
        desc = answer.get('error', {}).get('desc', '') \
            if isinstance(answer, dict) else ''
        if re.search(r'vhost-user.*(not been built|not supported)', desc):
            verdict.does_not_apply(f'netdev_add vhost-user=on: {desc}')
        return answer

    def info_network(self, netdev):
        """netdev's line of 'info network' ('' if none)."""
        info = self.try_cmd('human-monitor-command',
                            {'command-line': 'info network'})
        text = info.get('return', '') if isinstance(info, dict) else ''
        # a hub's port comes first on its peer's line: ' \\ h1: st0: index=0'
        m = re.search(rf'(?:^|\s){re.escape(netdev)}: index=.*', str(text),
                      re.MULTILINE)
        return m.group(0).strip() if m else ''

    def wait_info(self, netdev, text, timeout=5):
        """netdev's line of 'info network' once text is in it, else as it
        is after timeout s."""
        deadline = time.monotonic() + timeout
        line = self.info_network(netdev)
        while text not in line and time.monotonic() < deadline:
            time.sleep(0.05)
            line = self.info_network(netdev)
        return line

    def wait(self, timeout):
        """QEMU's exit status (negative: signal), or None if still running."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def went_down(self, timeout):
        """How QEMU went down within timeout s (None: it runs on); with
        REPRO_GDB=1, prints where it got a fatal signal."""
        down = verdict.how_down(self.wait(timeout), self.stderr(),
                                {self.pid, self.qemu_pid})
        if down and self.gdb:
            for line in self.gdb.report():
                print(f'  gdb: {line}')
        return down

    def passts(self):
        """Pids of the processes whose command line names self.tmp: the
        passts this QEMU started and the stand-ins written there."""
        return procs.naming(self.tmp, exclude={self.pid, self.qemu_pid})

    def children(self):
        """Those of self.passts() that are QEMU's own children."""
        return [p for p in self.passts() if procs.ppid(p) == self.qemu_pid]

    def wait_passt(self, timeout=10, old=()):
        """A passt of this QEMU other than old, once there (else None)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = [p for p in self.passts()
                   if p not in old and procs.is_passt(p)]
            if new:
                return new[0]
            time.sleep(0.05)
        return None

    def stand_in(self, name, script, shell='/bin/sh'):
        """An executable script in the private directory: its command line
        names that directory, so that the cleanup finds it.  It runs where
        QEMU runs, maybe in a sandbox's root: a shell, no Python."""
        path = os.path.join(self.tmp, name)
        with open(path, 'w') as f:
            f.write(f'#!{shell}\n' + script)
        os.chmod(path, 0o755)
        return path

    def strace_lines(self):
        """The calls strace saw QEMU's main thread make (its tid is its
        pid), without the pid: passt's children run other calls."""
        with open(self.strace_log) as f:
            return [' '.join(line.split()[1:]) for line in f
                    if line.split()[:1] == [str(self.qemu_pid)]]

    def passt_once(self):
        """A stand-in for path= that runs passt the first time and exits 1
        after: a restart of passt that fails."""
        runs = os.path.join(self.tmp, 'runs')
        return self.stand_in('passt-once', f"""
echo run >> '{runs}'
[ "$(wc -l < '{runs}')" -eq 1 ] || exit 1
exec '{PASST}' "$@"
""")

    def kill_passt_restart_fails(self):
        """netdev_add with passt_once(), then SIGKILL to that passt, so that
        QEMU's restart of it fails; the killed passt's pid."""
        print(f'netdev_add path=<passt the first time, then exit 1>: '
              f'{self.netdev_add(path=self.passt_once())}')
        pid = self.wait_passt()
        if not pid:
            verdict.cannot_run('no passt started')
        os.kill(pid, signal.SIGKILL)
        print(f'killed passt (pid {pid}) with SIGKILL')
        return pid

    def runs(self):
        """How often passt_once()'s stand-in ran."""
        with open(os.path.join(self.tmp, 'runs')) as f:
            return len(f.readlines())

    def cleanup(self):
        # The whole process group, not only self.pid: a wrapper's children
        # (strace's, bwrap's QEMU) may outlive it, and strace killed alone
        # would let its tracees run on
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(10)
        if self.gdb:
            self.gdb.stop()
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
        if self.qmp:
            self.qmp.close()
        self.sock.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _cleanup_all():
    while _live:
        _live.pop().cleanup()


def _on_signal(signum, _frame):
    if signum == signal.SIGALRM:
        print(f'not reproduced: timed out after {ALARM_S} s')
    sys.exit(verdict.CANNOT_RUN)                # runs the atexit cleanup


def setup():
    import atexit
    atexit.register(_cleanup_all)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):
        signal.signal(s, _on_signal)
    signal.alarm(ALARM_S)
