"""Finding and ending the processes one run of the check started.

Upstream's passt daemonizes and leaves QEMU's process group, a daemonized
QEMU leaves ours, and a killed QEMU may leave its passt behind, so
processes are found by what they carry: on the command line, every QEMU
its QMP socket or pid file, and every passt its argv[0] (the stand-in)
and pid file, under the run's own directory; in the environment, all of
them the TMPDIR and PATH each QEMU is given there. A process that names
that directory is one of ours and nobody else's.
"""

import os
import signal
import time


def _read(pid, what):
    try:
        with open(f'/proc/{pid}/{what}', 'rb') as f:
            return f.read()
    except OSError:                     # gone meanwhile, or not ours to read
        return b''


def naming(directory):
    """Pids of the processes whose command line or environment names
    @directory."""
    marker = os.fsencode(directory.rstrip('/') + '/')
    me = os.getpid()
    return [int(d) for d in os.listdir('/proc')
            if d.isdigit() and int(d) != me and
            (marker in _read(d, 'cmdline') or marker in _read(d, 'environ'))]


def end(directory, timeout=5.0):
    """SIGKILL every process that names @directory, until none is left or
    @timeout passes; returns the pids still there. A zombie's command
    line reads empty, so one that waits for its parent to reap it (its
    sockets already closed) is not counted."""
    deadline = time.monotonic() + timeout
    while True:
        left = naming(directory)
        if not left or time.monotonic() > deadline:
            return left
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
