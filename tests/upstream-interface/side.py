"""One row of the table on one QEMU: start it, create the netdev, note
what passt was given and how the start ended, and leave nothing running.

Each side gets a directory of its own (stand-in, its log, TMPDIR for the
pid files and sockets QEMU makes for passt): the row's processes are
found by it and ended before the other QEMU binds the same ports.

A -netdev on the command line is judged by -daemonize, not by QMP: the
parent QEMU exits 0 only once every backend is up, 1 if one failed.
Debian sid's QEMU 11.1.3 started with -netdev passt on its command line
stops answering QMP (socket or pipe) and SIGTERM in about one start of
four here; its daemonize handshake still reports. netdev_add at run time
is not affected, so QMP rows use QMP. Every side ends with SIGKILL, not
'quit': the same QEMU never exits after 'quit' in vhost-user mode.
"""

import dataclasses
import os
import subprocess
import time

import procs
import standin
from qmp import Qmp, QmpGone

START_S = 20        # both QEMUs bound passt's start well below this
QUIT_S = 5
PROBE = ['--version']   # a run that asks, and serves no guest
COMMON = ['-M', 'none', '-nodefaults', '-display', 'none']


@dataclasses.dataclass
class Outcome:
    state: str          # 'started', 'failed' (no netdev), 'timeout'
    message: str        # why it failed, as QEMU said it
    runs: list          # passt's arguments, one list a run, oldest first
    probes: int         # runs of passt --version


def _qemu_error(text, echo):
    """QEMU's last error line, without its program name and the option it
    repeats back."""
    lines = [l.split(': ', 1)[1] for l in text.splitlines()
             if l.startswith('qemu-system-x86_64: ')]
    if not lines:
        return ' '.join(text.split())
    msg = lines[-1]
    if echo and msg.startswith(echo + ': '):
        msg = msg[len(echo) + 2:]
    return msg


def _spawn(binary, args, directory):
    log = open(os.path.join(directory, 'qemu.log'), 'wb')
    with log:
        # a file, not a pipe: a daemonized passt inherits it and keeps it
        # open, which would hold a reader for ever
        return subprocess.Popen(
            [binary, *COMMON, *args], stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
            env=dict(os.environ, TMPDIR=os.path.join(directory, 'tmp'),
                     PATH=directory + os.pathsep + os.environ['PATH']))


def _daemonized(binary, directory, option):
    """(state, message) of QEMU started with -netdev @option."""
    # -pidfile: the directory on the command line too, where
    # procs.end() looks first
    proc = _spawn(binary, ['-daemonize', '-pidfile',
                           os.path.join(directory, 'qemu.pid'),
                           '-netdev', option], directory)
    try:
        status = proc.wait(START_S)
    except subprocess.TimeoutExpired:
        procs.end(directory, QUIT_S)
        proc.wait()
        return 'timeout', f'not up in {START_S} s'
    return ('started', '') if status == 0 else ('failed', '')


def _over_qmp(binary, directory, arguments):
    """(state, message) of netdev_add @arguments on a QEMU with none."""
    qmp_path = os.path.join(directory, 'qmp.sock')
    proc = _spawn(binary, ['-qmp', f'unix:{qmp_path},server=on,wait=off'],
                  directory)
    try:
        return _netdev_add(qmp_path, arguments)
    finally:
        procs.end(directory, QUIT_S)
        proc.wait()


def _netdev_add(qmp_path, arguments):
    try:
        qmp = Qmp(qmp_path, time.monotonic() + START_S)
    except (QmpGone, TimeoutError) as e:
        return 'timeout', f'no QMP: {e}'
    try:
        answer = qmp.cmd('netdev_add', **arguments)
    except QmpGone:
        # upstream 10.2 sent SIGTERM to its own group after a failed start
        return 'failed', 'QEMU exited during netdev_add'
    except TimeoutError:
        return 'timeout', 'no answer to netdev_add'
    finally:
        qmp.close()
    if 'error' in answer:
        return 'failed', answer['error'].get('desc', '')
    return 'started', ''


def run(binary, passt, directory, row):
    """The Outcome of @row (cases.Row) on QEMU @binary."""
    os.mkdir(directory)
    os.mkdir(os.path.join(directory, 'tmp'))
    path = standin.install(directory, passt)
    echo = None
    if row.cli is not None:
        echo = '-netdev ' + row.netdev_option(path)
        state, message = _daemonized(binary, directory,
                                     row.netdev_option(path))
    else:
        state, message = _over_qmp(binary, directory,
                                   row.netdev_arguments(path))
    # QEMU (the daemon too) and every passt name the directory: what the
    # row started ends here, and its ports are free for the next side
    procs.end(directory, QUIT_S)
    if state == 'failed' and not message:
        with open(os.path.join(directory, 'qemu.log'),
                  errors='replace') as f:
            message = _qemu_error(f.read(), echo)
    everything = standin.runs(directory)
    runs = [a for a in everything if a != PROBE]
    return Outcome(state, message, runs, len(everything) - len(runs))


def schema(binary, directory):
    """(@binary's query-qmp-schema, its version as query-version has it),
    from a QEMU with no netdev at all."""
    os.mkdir(directory)
    os.mkdir(os.path.join(directory, 'tmp'))
    qmp_path = os.path.join(directory, 'qmp.sock')
    proc = _spawn(binary, ['-qmp', f'unix:{qmp_path},server=on,wait=off'],
                  directory)
    try:
        qmp = Qmp(qmp_path, time.monotonic() + START_S)
        try:
            version = qmp.cmd('query-version')['return']
            q = version['qemu']
            package = version['package'].strip()
            return (qmp.cmd('query-qmp-schema')['return'],
                    f"{q['major']}.{q['minor']}.{q['micro']}" +
                    (f' ({package})' if package else ''))
        finally:
            qmp.close()
    except (QmpGone, TimeoutError) as e:
        with open(os.path.join(directory, 'qemu.log'),
                  errors='replace') as f:
            raise RuntimeError(f'{binary}: {e}: {f.read().strip()}') \
                from None
    finally:
        procs.end(directory, QUIT_S)
        proc.wait()
