"""Where QEMU crashed, for REPRO_GDB=1: gdb attached to QEMU while the
reproducer runs, which prints the backtrace of the thread that got a fatal
signal and then detaches, handing QEMU the signal: QEMU dies as it would
have, so the reproducer's verdict is the same.

gdb reads QEMU's libraries through /proc/PID/root, where a sandbox (the
sid wrapper's bwrap) has them.  Debian's QEMU is stripped, but exports its
functions' names for its modules: its frames have names, no lines.
"""

import re
import shutil
import subprocess
import time

FATAL = ('SIGSEGV', 'SIGBUS', 'SIGABRT', 'SIGFPE', 'SIGILL')


def _status(pid):
    fields = {}
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                key, _, value = line.partition(':')
                fields[key] = value.strip()
    except OSError:
        pass
    return fields


class Gdb:
    def __init__(self, pid):
        self.proc = subprocess.Popen(
            ['gdb', '-batch', '-nx', '-iex', f'set sysroot /proc/{pid}/root',
             '-p', str(pid), '-ex', 'handle all nostop noprint pass',
             '-ex', f'handle {" ".join(FATAL)} stop print',
             '-ex', 'continue', '-ex', 'bt 12', '-ex', 'detach'],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        # Attached and QEMU running again: traced, and out of the stop
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            st = _status(pid)
            if st.get('TracerPid', '0') != '0' and \
               not st.get('State', '').startswith('t'):
                return
            time.sleep(0.05)

    def report(self):
        """The lines that tell where QEMU got its fatal signal, if it did."""
        try:
            out = self.proc.communicate(timeout=15)[0]
        except subprocess.TimeoutExpired:
            return []
        return [tidy(line) for line in out.splitlines()
                if line.startswith('#') or 'received signal' in line]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def tidy(line):
    """A line of gdb's without what says nothing here: addresses, and the
    /proc/PID/root that the libraries of a sandboxed QEMU are under."""
    line = re.sub(r'/proc/\d+/root', '', ' '.join(line.split()))
    return re.sub(r'^(#\d+) 0x[0-9a-f]+ in ', r'\1 ', line)


def attach(pid):
    """A Gdb on pid, or None where gdb is missing or pid traced already
    (double-close.py runs QEMU under strace)."""
    if not shutil.which('gdb') or _status(pid).get('TracerPid', '0') != '0':
        return None
    return Gdb(pid)
