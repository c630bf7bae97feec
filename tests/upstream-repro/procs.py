"""What /proc says about the processes around the QEMU under test.

Only /proc: QEMU may run in a sandbox (the sid wrapper's bwrap) with a root
of its own, where none of the reproducer's tools would find it, but its
processes are still this pid namespace's.
"""

import os


def cmdline(pid):
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            return f.read().split(b'\0')
    except OSError:
        return []


def ppid(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            # the command name may hold spaces and parentheses: skip past it
            return int(f.read().rsplit(')', 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def exe_name(pid):
    try:
        return os.path.basename(os.readlink(f'/proc/{pid}/exe'))
    except OSError:
        return ''


def is_passt(pid):
    # passt execs itself again as passt.avx2 where the CPU has AVX2
    return exe_name(pid).split('.')[0] == 'passt'


def _all_pids():
    return [int(d) for d in os.listdir('/proc') if d.isdigit()]


def descendants(root):
    """root and every process below it, parents first."""
    kids = {}
    for pid in _all_pids():
        kids.setdefault(ppid(pid), []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop(0)
        found.append(pid)
        todo.extend(kids.get(pid, []))
    return found


def find_qemu(root):
    """The QEMU process at or below root (a wrapper's pid), if any."""
    for pid in descendants(root):
        if exe_name(pid).startswith('qemu-system'):
            return pid
    return None


def naming(path, exclude=()):
    """Pids whose command line has an argument under path."""
    prefix = path.encode()
    return [pid for pid in _all_pids() if pid not in exclude and
            any(a.startswith(prefix) for a in cmdline(pid))]
