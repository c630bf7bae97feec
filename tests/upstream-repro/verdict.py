"""How a reproducer ends, and how to tell that QEMU went down.

Exit status of each reproducer, which run-all.sh reads:
  0 REPRODUCED       the bug showed
  1 not reproduced   QEMU did what a fixed QEMU does
  2 could not run    a missing binary, a timeout, QEMU did not start
  3 does not apply   this QEMU lacks what the reproducer needs (another
                     interface, such as the 10.0 series'): TAP SKIP

A crash can look like any of these, and a reproducer must not care which:
  - QEMU killed by a signal: the status Popen sees is -N;
  - the same seen through a wrapper that runs QEMU as its child and
    reports a death by signal N as exit status 128+N (a shell, or the
    sid wrapper's bwrap: 139 for SIGSEGV);
  - QEMU terminating on a signal it catches (SIGTERM, SIGINT, SIGHUP):
    a clean exit, but stderr says 'terminating on signal N from pid P';
    P is QEMU's own pid when QEMU signalled itself (upstream 10.2's
    kill(0, SIGTERM) after a failed start).
"""

import re
import signal
import sys

REPRODUCED, NOT_REPRODUCED, CANNOT_RUN, DOES_NOT_APPLY = 0, 1, 2, 3

_TERMINATING = re.compile(r'terminating on signal (\d+) from pid (\d+)')


def _signame(n):
    try:
        return signal.Signals(n).name
    except ValueError:
        return f'signal {n}'


def describe(status):
    if status is None:
        return 'still running'
    if status < 0:
        return f'killed by {_signame(-status)}'
    return f'exited with status {status}'


def how_down(status, stderr, own_pids):
    """Why QEMU is gone, given its exit status (None: still running), its
    stderr and the pids that are its own (QEMU's and any wrapper's)."""
    if status is None:
        return None
    m = _TERMINATING.search(stderr)
    if m:
        sig, sender = _signame(int(m.group(1))), int(m.group(2))
        if sender in own_pids:
            return (f'terminated on {sig} that it sent itself (pid '
                    f'{sender}, kill(0, ...) on its own process group); '
                    f'{describe(status)}')
        return f'terminated on {sig} from pid {sender}; {describe(status)}'
    if status < 0:
        return describe(status)
    if 128 < status <= 128 + 64:
        return (f'exited with status {status}: killed by '
                f'{_signame(status - 128)} under its wrapper')
    return describe(status)


def _end(code, line):
    print(line)
    sys.exit(code)                              # runs the atexit cleanup


def reproduced(what):
    _end(REPRODUCED, f'REPRODUCED: {what}')


def not_reproduced(what=''):
    _end(NOT_REPRODUCED, 'not reproduced' + (f': {what}' if what else ''))


def cannot_run(why):
    _end(CANNOT_RUN, f'not reproduced: could not run: {why}')


def does_not_apply(why):
    _end(DOES_NOT_APPLY, f'does not apply: {why}')
