#!/usr/bin/env python3
"""Boot the test guest (guest/build-guest.sh) in QEMU and talk to it.

The guest runs one shell script (passed via fw_cfg) and powers off. What the
script prints arrives on the virtio-serial port "results", which the harness
reads line by line while the guest runs; the guest's last line there is
"@@guest-exit N" (the script's exit status), which the harness strips.

    from guestlib import Guest
    out = Guest(netdev=['stream,id=n0,server=off,addr.type=unix,'
                        'addr.path=/tmp/p/passt.sock'],
                script='. /lib/guest-lib.sh; net_up eth0').run(timeout=60)

    with Guest(netdev=[...], script=..., qmp=True) as g:   # in background
        g.wait_for(r'^READY')               # a line the script printed
        g.qmp.cmd('query-status'); g.qmp.hmp('info network')
        g.send('go\\n')                     # guest: host_read VAR
        g.wait(timeout=60)                  # -> guest exit status

From QEMU itself, the packages in the python/ of a QEMU source tree
(QEMU_TREE, else build/qemu-upstream or build/qemu): qemu.machine's
QEMUMachine runs QEMU (command line, QEMU's output in qemu.log, exit status,
kill, shutdown), qemu.qmp speaks QMP.
The project's own, as QEMU's packages have nothing for them: the results
port (the guest script's output and input over virtio-serial, a channel
that does not depend on the network under test), the script passed in via
fw_cfg, the console in a file (a file chardev: QEMUMachine's console is a
socket for us to drain), the QMP class below (on a socket we listen on; it says why not
QEMUMachine's), and the serial console on our terminal (main() without a
script: QEMUMachine gives QEMU no terminal). What is about passt rather
than QEMU is built on Guest elsewhere: QEMU in a network namespace
(wrapper(), tests/guest/hostlib.py), the guest suite (tests/guest/run.py)
run on each passt version (scripts/test*.sh), and the bench (bench/).
Environment: QEMU (binary), GUEST_ACCEL (kvm|tcg, else probed once and cached
in build/guest/accel), GUEST_DIR (images), BUILD, QEMU_TREE.
"""

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get('BUILD', os.path.join(HERE, '..', 'build'))
GUEST_DIR = os.path.abspath(os.environ.get('GUEST_DIR',
                                           os.path.join(BUILD, 'guest')))
QEMU = os.environ.get('QEMU', os.path.abspath(
    os.path.join(BUILD, 'qemu-build', 'qemu-system-x86_64')))
EXIT_MARK = '@@guest-exit '
QEMU_TREES = [os.path.abspath(t) for t in (os.environ.get('QEMU_TREE'),
                                           os.path.join(BUILD, 'qemu-upstream'),
                                           os.path.join(BUILD, 'qemu')) if t]
for _tree in QEMU_TREES:        # QEMU's own Python packages
    if os.path.isdir(os.path.join(_tree, 'python', 'qemu', 'machine')):
        sys.path.insert(0, os.path.join(_tree, 'python'))
        break
try:
    from qemu import qmp as qmplib
    from qemu.machine import QEMUMachine
    from qemu.machine.machine import AbnormalShutdown, VMLaunchFailure
except ImportError:             # QMP() and Guest.start() say so
    qmplib = QEMUMachine = AbnormalShutdown = VMLaunchFailure = None


class GuestError(Exception):
    pass


class GuestTimeout(GuestError):
    pass


class QMPError(Exception):
    def __init__(self, error):
        super().__init__('%s: %s' % (error.get('class'), error.get('desc')))
        self.error = error


_built = False


def _no_qemu_python():
    return ImportError("QEMU's Python packages (qemu.qmp, qemu.machine) not "
                       'found: no python/qemu/machine in %s (fetch a QEMU tree '
                       'first)' % ' or '.join(QEMU_TREES))


def ensure_built():
    """Run build-guest.sh once per process (it skips work when up to date)."""
    global _built
    if not _built and 'GUEST_DIR' not in os.environ:
        subprocess.run(['bash', os.path.join(HERE, 'build-guest.sh')],
                       check=True, stdout=sys.stderr)
    _built = True


class _Client(qmplib.QMPClient if qmplib else object):
    """qemu.qmp's QMPClient that keeps for QMP._recv() the answers to what a
    caller wrote raw on QMP.sock (the fuzz test's malformed input, which no
    qemu.qmp call can send): QMPClient would drop them, or hang up on an
    error without an id (a parse error). Its own ids start with '__qmp#'."""

    def __init__(self):
        super().__init__()
        self.raw = asyncio.Queue()

    async def _on_message(self, msg):
        if 'event' in msg or str(msg.get('id')).startswith('__qmp#'):
            await super()._on_message(msg)
        else:
            await self.raw.put(msg)


class QMP:
    """QMP client on a connected socket: commands and events, through QEMU's
    own qemu.qmp (QMPClient), on an event loop of its own that runs only
    while a call waits (so QMP objects may live in different threads).
    Much like qemu.qmp's own synchronous QEMUMonitorProtocol (legacy.py),
    which makes its QMPClient itself, though: no _Client there.

    Guest uses this one, not QEMUMachine's own connection (a
    QEMUMonitorProtocol): that one sets a command timeout only through a
    private attribute, raises qemu.qmp's errors and keeps events in another
    shape than the callers here expect (QMPError, EOFError, self.events),
    and this class is needed without a Guest anyway (the fuzz test,
    tests/upstream-repro)."""

    def __init__(self, sock, timeout=30, oob=True):
        """oob=False: leave out-of-band execution off, as QEMU has it for a
        client that does not ask (qemu.qmp asks whenever QEMU offers it)."""
        if qmplib is None:
            raise _no_qemu_python()
        self.sock = sock            # qemu.qmp's now: raw writes only
        self.timeout = timeout      # for each command (None: no limit)
        self.events = []            # received, not yet taken: oldest first
        self._loop = asyncio.new_event_loop()
        self._client = _Client()
        self._client.negotiate = oob
        try:                        # greeting, qmp_capabilities
            self._run(self._client.connect(sock), timeout)
            if not oob:
                self._run(self._client.execute('qmp_capabilities'), timeout)
        except BaseException:
            self._loop.close()
            raise
        self.greeting = self._client.greeting._asdict()

    def _run(self, aw, timeout):
        """Wait for aw; qemu.qmp's errors as the guest tools expect them:
        QMPError for a command's error, EOFError for a lost connection."""
        try:
            return self._loop.run_until_complete(asyncio.wait_for(aw, timeout))
        except qmplib.ExecuteError as e:
            raise QMPError(e.received['error']) from None
        except qmplib.QMPError as e:    # ExecInterruptedError, StateError...
            raise EOFError('QMP connection closed') from e

    def _pull(self):
        """Move the events qemu.qmp received to self.events, in order."""
        self.events.extend(dict(ev) for ev in self._client.events.clear())

    def _execute(self, aw, name):
        try:
            return self._run(aw, self.timeout)
        except TimeoutError:
            raise TimeoutError('no answer to QMP %s within %ss'
                               % (name, self.timeout)) from None
        finally:
            self._pull()            # those sent before the answer, at least

    def cmd(self, name, **args):
        """Execute a command; return its 'return' value, raise QMPError."""
        return self._execute(self._client.execute(name, args or None), name)

    def getfd(self, fd, name):
        """Hand fd over to QEMU under name (QMP getfd, SCM_RIGHTS)."""
        async def getfd():
            self._client.send_fd_scm(fd)
            return await self._client.execute('getfd', {'fdname': name})
        return self._execute(getfd(), 'getfd')

    def hmp(self, command_line):
        """Run an HMP command through QMP; return its text output."""
        return self.cmd('human-monitor-command', **{'command-line': command_line})

    def get_event(self, name=None, timeout=30):
        """Return (and remove) the first event called name (any if None)."""
        deadline = time.monotonic() + timeout
        while True:
            self._pull()
            for i, ev in enumerate(self.events):
                if name is None or ev['event'] == name:
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('no QMP event %s' % name)
            try:
                self.events.append(dict(self._run(self._client.events.get(),
                                                  left)))
            except TimeoutError:
                pass

    def _recv(self):
        """The next answer to what was written raw on self.sock."""
        return dict(self._run(self._client.raw.get(), self.timeout))

    def close(self):
        if not self._loop.is_closed():
            try:
                self._run(self._client.disconnect(), 5)
            except Exception:       # noqa: BLE001 (QEMU gone: nothing to say)
                pass
            self._loop.close()
        self.sock.close()

    def __del__(self):              # never closed: as qemu.qmp's legacy.py
        if getattr(self, '_loop', None) and not self._loop.is_closed():
            self.close()


# QEMUMachine's QEMU inherits every inheritable fd of ours (close_fds=False):
# a Guest's pass_fds are inheritable only while its QEMU starts, and QEMUs
# start one at a time, so that none gets another's.
_launch_lock = threading.Lock()


def _boot_args(accel, mem):
    # q35 with the default CPU boots fastest under TCG (-cpu max is slower).
    # Option ROMs for -kernel come from the QEMU build's qemu-bundle.
    return ['-nodefaults', '-M', 'q35', '-accel', accel, '-m', mem, '-no-reboot',
            '-kernel', os.path.join(GUEST_DIR, 'vmlinuz'),
            '-initrd', os.path.join(GUEST_DIR, 'initramfs.cpio.gz')]


def probe_accel():
    """'kvm' if this host's KVM really boots the guest, else 'tcg' (cached).

    /dev/kvm may exist yet fail to run a stock kernel (nested paravirtual
    KVM), so boot once with a trivial script and keep the verdict.
    """
    if os.environ.get('GUEST_ACCEL'):
        return os.environ['GUEST_ACCEL']
    cache = os.path.join(GUEST_DIR, 'accel')
    try:
        with open(cache) as f:
            return f.read().strip()
    except FileNotFoundError:
        pass
    verdict = 'tcg'
    if os.access('/dev/kvm', os.R_OK | os.W_OK):
        try:
            out = Guest(script='echo kvm-ok', accel='kvm').run(timeout=10)
            if out.strip() == 'kvm-ok':
                verdict = 'kvm'
        except GuestError:
            pass
    with open(cache, 'w') as f:
        f.write(verdict + '\n')
    return verdict


class Guest:
    """One QEMU running the test guest, through QEMU's QEMUMachine.

    netdev: list of -netdev option strings; each gets a virtio-net-pci
        device (nic_opts appended to it, e.g. ',mac=...').
    script: the guest script's text (run by busybox sh in the guest).
    extra_args: more QEMU arguments. append: more kernel arguments.
    qmp: open a QMP connection (self.qmp). shared_memory: guest RAM from a
        shared memfd (needed by vhost-user backends). pass_fds: fds that
        QEMU inherits, for fd=N options. qemu: another QEMU binary than
        $QEMU's.
    interactive: args() for a QEMU with the serial console and the monitor
        on our terminal and no results port (main(), without a script).

    QEMU itself: pid, running(), wait_exit(), exitcode, shutdown(), kill(),
    qemu_log(). Subclasses may run it under wrapper().
    """

    def __init__(self, netdev=(), script=None, extra_args=(), qmp=False,
                 accel=None, nic_opts='', append='', mem='256M',
                 shared_memory=False, interactive=False, name='guest',
                 pass_fds=(), qemu=None):
        self.netdev = list(netdev)
        self.script = script
        self.extra_args = list(extra_args)
        self.want_qmp = qmp
        self.accel = accel
        self.nic_opts = nic_opts
        self.append = append
        self.mem = mem
        self.shared_memory = shared_memory
        self.interactive = interactive
        self.name = name
        self.pass_fds = tuple(pass_fds)
        self.qemu = qemu or QEMU
        self.vm = None            # QEMUMachine, once started
        self.cmdline = None       # wrapper, QEMU and args(), once started
        self.qmp = None
        self.rc = None            # guest script's exit status
        self.lines = []           # results port output so far
        self._cond = threading.Condition()
        self._cursor = 0          # lines wait_for() has looked at
        self._eof = False
        self._port = None
        self._reader = None
        self.dir = None

    # -- life cycle --
    def args(self):
        """QEMU's arguments (QEMUMachine adds -display none -vga none)."""
        a = _boot_args(self.accel or probe_accel(), self.mem)
        cmdline = 'console=ttyS0 quiet panic=-1 ' + self.append
        a += ['-append', cmdline.strip()]
        if self.interactive:        # main() runs it, not QEMUMachine
            a += ['-display', 'none', '-serial', 'mon:stdio']
        else:
            a += ['-chardev', 'file,id=con,path=%s/console.log' % self.dir,
                  '-serial', 'chardev:con',
                  '-device', 'virtio-serial-pci',
                  '-chardev', 'socket,id=results,path=%s/results.sock' % self.dir,
                  '-device', 'virtserialport,chardev=results,name=results']
        if self.script is not None:
            path = os.path.join(self.dir, 'script.sh')
            with open(path, 'w') as f:
                f.write(self.script)
            a += ['-fw_cfg', 'name=opt/guest-script,file=' + path]
        if self.shared_memory:
            a += ['-object', 'memory-backend-memfd,id=mem0,size=%s,share=on'
                  % self.mem, '-numa', 'node,memdev=mem0']
        for nd in self.netdev:
            nid = re.search(r'(?:^|,)id=([^,]+)', nd).group(1)
            a += ['-netdev', nd,
                  '-device', 'virtio-net-pci,netdev=%s%s' % (nid, self.nic_opts)]
        if self.want_qmp:
            a += ['-chardev', 'socket,id=qmp,path=%s/qmp.sock' % self.dir,
                  '-mon', 'chardev=qmp,mode=control']
        return a + self.extra_args

    def wrapper(self):
        """What QEMU's command line starts with, before QEMU itself."""
        return []

    def start(self):
        """Start QEMU in the background; QMP (if asked for) is connected."""
        if QEMUMachine is None:
            raise _no_qemu_python()
        ensure_built()
        self.dir = tempfile.mkdtemp(prefix='guest-')
        try:
            # We listen, QEMU connects at startup: no output can be missed.
            res = self._listen('results.sock')
            mon = self._listen('qmp.sock') if self.want_qmp else None
            args, wrapper = self.args(), self.wrapper()
            self.cmdline = wrapper + [self.qemu] + args
            self.vm = QEMUMachine(self.qemu, args, wrapper, name='qemu',
                                  log_dir=self.dir)     # dir/qemu.log
            self.vm.set_qmp_monitor(False)              # ours: see QMP
            with _launch_lock:
                for fd in self.pass_fds:
                    os.set_inheritable(fd, True)
                try:
                    self.vm.launch()
                except VMLaunchFailure as e:    # could not even exec it
                    raise GuestError('%s: QEMU did not start: %s'
                                     % (self.name, e)) from e
                finally:
                    for fd in self.pass_fds:
                        os.set_inheritable(fd, False)
            self._port = self._accept(res)
            self._reader = threading.Thread(target=self._read_results,
                                            daemon=True)
            self._reader.start()
            if mon:
                self.qmp = QMP(self._accept(mon))
        except BaseException:
            self.close()
            raise
        return self

    def wait(self, timeout=60):
        """Wait for QEMU to exit; return the guest script's exit status."""
        if self.wait_exit(timeout) is None:
            self.kill()     # QEMUMachine.wait() would too, warning on stderr
            raise GuestTimeout('%s: no poweroff within %ss\n%s'
                               % (self.name, timeout, self.diagnostics()))
        self._reader.join(5)
        if self.rc is None:
            raise GuestError('%s: QEMU exited (%s) without a guest exit status\n%s'
                             % (self.name, self.exitcode, self.diagnostics()))
        return self.rc

    def run(self, timeout=60, check=False):
        """Boot, wait for poweroff, return the output (status in self.rc)."""
        try:
            if not self.vm:
                self.start()
            rc = self.wait(timeout)
        finally:
            self.close()
        if check and rc != 0:
            raise GuestError('%s: guest script exited %d\n%s'
                             % (self.name, rc, self.output))
        return self.output

    @property
    def pid(self):
        """QEMU's pid while it runs, else None."""
        return self.vm and self.vm.get_pid()

    def running(self):
        return bool(self.vm and self.vm.is_running())

    @property
    def exitcode(self):
        """QEMU's exit status once it exited (-N: signal N), else None."""
        return self.vm and self.vm.exitcode()

    def wait_exit(self, timeout=30):
        """Wait up to timeout s for QEMU to exit; its exit status, None if
        it still runs (QEMUMachine.wait() kills it then: callers decide)."""
        deadline = time.monotonic() + timeout
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.exitcode

    def shutdown(self, timeout=10):
        """SIGTERM, so that QEMU can stop what it started (passt,
        passt-repair) and remove their directories; SIGKILL after timeout s.
        (QEMUMachine sends no 'quit': its QMP is off.)"""
        try:
            self.vm.shutdown(timeout=timeout)
        except AbnormalShutdown:
            pass

    def kill(self):
        if self.vm:
            self.vm.kill()

    def close(self):
        """Kill QEMU if still running and remove the work directory."""
        self.kill()
        if self.qmp:
            self.qmp.close()
        if self._port:
            self._port.close()
        if self.dir:
            self._console = self.console()
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -- results port --
    @property
    def output(self):
        return ''.join(line + '\n' for line in self.lines)

    def wait_for(self, pattern, timeout=60):
        """Wait for a results line matching regex pattern; return the match.

        Lines are consumed: the next call looks only at later lines.
        """
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                while self._cursor < len(self.lines):
                    self._cursor += 1
                    m = rx.search(self.lines[self._cursor - 1])
                    if m:
                        return m
                if self._eof:
                    raise GuestError('%s: guest ended before %r\n%s'
                                     % (self.name, pattern, self.diagnostics()))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise GuestTimeout('%s: no %r within %ss\n%s'
                                       % (self.name, pattern, timeout,
                                          self.diagnostics()))
                self._cond.wait(left)

    def send(self, data):
        """Write to the results port (guest: host_read VAR, or read fd 3)."""
        self._port.sendall(data.encode() if isinstance(data, str) else data)

    def _read_results(self):
        for raw in self._port.makefile('rb'):
            line = raw.decode(errors='replace').rstrip('\r\n')
            with self._cond:
                if line.startswith(EXIT_MARK):
                    self.rc = int(line[len(EXIT_MARK):])
                else:
                    self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    # -- diagnostics --
    def console(self):
        """The guest's serial console output (kernel messages)."""
        return self._read('console.log') if self.dir else getattr(self, '_console', '')

    def qemu_log(self):
        """QEMU's stdout and stderr: QEMUMachine's log file, and once the
        work directory is gone, what QEMUMachine read of it at the end."""
        if self.dir:
            return self._read('qemu.log')
        return (self.vm and self.vm.get_log()) or ''

    def diagnostics(self):
        return ('--- results ---\n%s--- console (tail) ---\n%s\n--- qemu ---\n%s'
                % (self.output, '\n'.join(self.console().splitlines()[-20:]),
                   self.qemu_log()))

    # -- helpers --
    def _path(self, name):
        return os.path.join(self.dir, name)

    def _read(self, name):
        try:
            with open(self._path(name), errors='replace') as f:
                return f.read()
        except (OSError, TypeError):
            return ''

    def _listen(self, name):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(self._path(name))
        s.listen(1)
        s.settimeout(0.1)
        return s

    def _accept(self, lsock, timeout=30):
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    conn, _ = lsock.accept()
                    conn.settimeout(None)
                    return conn
                except socket.timeout:
                    if not self.running() or time.monotonic() > deadline:
                        raise GuestError('%s: QEMU did not start (%s)\n%s\n%s'
                                         % (self.name, self.exitcode,
                                            ' '.join(self.cmdline),
                                            self.qemu_log()))
        finally:
            lsock.close()


def main():
    p = argparse.ArgumentParser(
        description='Boot the test guest, print its results output and exit '
                    'with its script status (124: timeout, 125: harness error).',
        epilog='Arguments after -- go to QEMU.')
    p.add_argument('--netdev', action='append', default=[],
                   help='-netdev option string (repeatable); a virtio-net-pci '
                        'is added for each')
    p.add_argument('--script', help='guest script file (- for stdin); '
                   'without one: a shell on the serial console, here')
    p.add_argument('--timeout', type=float, default=60)
    p.add_argument('--accel', help='kvm or tcg (default: probed)')
    p.add_argument('--append', default='', help='more kernel arguments')
    p.add_argument('--console', action='store_true',
                   help='also print the guest console to stderr')
    p.add_argument('qemu_args', nargs='*')
    o = p.parse_args()
    script = None
    if o.script:
        script = sys.stdin.read() if o.script == '-' else open(o.script).read()
    g = Guest(netdev=o.netdev, script=script, extra_args=o.qemu_args,
              accel=o.accel, append=o.append, interactive=script is None)
    if script is None:
        # QEMUMachine gives QEMU /dev/null and a log file, never our
        # terminal: QEMU on the console is a plain child of ours.
        ensure_built()
        return subprocess.call([g.qemu] + g.args())
    try:
        out = g.run(timeout=o.timeout)
        rc = g.rc
    except GuestTimeout as e:
        out, rc = g.output, 124
        print(e, file=sys.stderr)
    except GuestError as e:
        out, rc = g.output, 125
        print(e, file=sys.stderr)
    sys.stdout.write(out)
    if o.console:
        sys.stderr.write(g.console())
    return rc


if __name__ == '__main__':
    sys.exit(main())
