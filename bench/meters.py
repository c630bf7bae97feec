"""What the bench reads off processes: CPU ticks (all threads, vCPU
threads), RSS, syscall counts (perf stat on the syscall tracepoints), and
which processes are the QEMU and the passt to read them from.
"""

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile

from config import log
import hostlib as H

CLK_TCK = os.sysconf('SC_CLK_TCK')


def proc_ticks(pid):
    """utime+stime of a process (all its threads, also exited ones)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            rest = f.read().rsplit(')', 1)[1].split()
        return int(rest[11]) + int(rest[12])
    except (OSError, TypeError):
        return None


def vcpu_ticks(pid):
    """utime+stime of QEMU's vCPU threads ('CPU n/TCG', 'CPU n/KVM')."""
    total = 0
    try:
        tids = os.listdir('/proc/%d/task' % pid)
    except OSError:
        return None
    for tid in tids:
        try:
            with open('/proc/%d/task/%s/stat' % (pid, tid)) as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index('(') + 1:s.rindex(')')]
        if comm.startswith('CPU '):
            rest = s.rsplit(')', 1)[1].split()
            total += int(rest[11]) + int(rest[12])
    return total


def rss_kb(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except (OSError, TypeError):
        pass
    return None


def rss_less_kb(pid, size_kb):
    """VmRSS less the resident part of the mappings of exactly size_kb
    (guest RAM): what QEMU itself holds. Guest RAM's resident share moves
    by megabytes with what the guest touches and with the host's reclaim
    (a mostly-zero huge page split and freed), at any moment."""
    total, ram, size = rss_kb(pid), 0, None
    try:
        with open('/proc/%d/smaps' % pid) as f:
            for line in f:
                head = line.split(None, 1)[0]
                if '-' in head and not head.endswith(':'):
                    lo, hi = (int(x, 16) for x in head.split('-'))
                    size = (hi - lo) >> 10
                elif head == 'Rss:' and size == size_kb:
                    ram += int(line.split()[1])
    except (OSError, ValueError, TypeError):
        return None
    return total - ram if total is not None else None


class CpuMeter:
    """CPU ticks of QEMU (all / vCPU threads) and passt around transfers.
    passt is set again when it changes (a restarted passt in vhost-user
    mode): a delta across two passts is dropped, not made up."""

    def __init__(self, qemu_pid, passt_pid):
        self.qemu, self.passt = qemu_pid, passt_pid

    def snap(self):
        return (proc_ticks(self.qemu), vcpu_ticks(self.qemu),
                proc_ticks(self.passt) if self.passt else None, self.passt)

    def delta(self, a, b):
        d = {}
        for key, i in (('qemu', 0), ('qemu_vcpu', 1), ('passt', 2)):
            if a[i] is not None and b[i] is not None:
                d[key + '_cpu_s'] = (b[i] - a[i]) / CLK_TCK
        if a[3] != b[3]:
            d.pop('passt_cpu_s', None)
        if 'qemu_cpu_s' in d and 'qemu_vcpu_cpu_s' in d:
            d['qemu_io_cpu_s'] = d['qemu_cpu_s'] - d['qemu_vcpu_cpu_s']
        return d


# System calls counted per process around TCP transfers: what QEMU (and
# passt) spend per MB, and how many bytes each write moves.
# Frames and segments move with these; plain write/read are QEMU's
# eventfds (bottom halves, vCPU kicks) and passt's pipes and timers.
IO_WRITES = ('writev', 'sendmsg', 'sendto')
IO_READS = ('readv', 'recvmsg', 'recvfrom')
WRITES = ('write',) + IO_WRITES
READS = ('read',) + IO_READS
POLLS = ('ppoll', 'poll', 'epoll_wait', 'epoll_pwait')
SYSCALLS = WRITES + READS + POLLS + ('ioctl',)


class SyscallMeter:
    """`perf stat` on syscall tracepoints of one process, for the length
    of a transfer (counting only, no recording: little overhead). A no-op
    where perf or the tracepoints are missing."""
    usable = None
    enabled = True

    def __init__(self, pid):
        self.pid, self.proc, self.out = pid, None, None

    @classmethod
    def probe(cls):
        if cls.usable is None:
            cls.usable = bool(shutil.which('perf')) and subprocess.run(
                ['perf', 'stat', '-e', 'raw_syscalls:sys_enter', 'true'],
                capture_output=True).returncode == 0
            if not cls.usable:
                log('perf cannot count syscall tracepoints: no syscall counts')
        return cls.usable

    @classmethod
    def why_not(cls):
        """None where syscalls are counted, else why not (a table cell)."""
        if not cls.enabled:
            return 'not counted (--no-syscalls)'
        if not cls.probe():
            return 'not counted: perf cannot count syscall tracepoints'
        return None

    def start(self):
        if not self.pid or not self.enabled or not self.probe():
            return
        fd, self.out = tempfile.mkstemp(prefix='bench-perf-')
        os.close(fd)
        events = ['raw_syscalls:sys_enter'] + ['syscalls:sys_enter_' + n
                                               for n in SYSCALLS]
        self.proc = subprocess.Popen(['perf', 'stat', '-x', ',', '-o', self.out,
                                      '-e', ','.join(events), '-p', str(self.pid)],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

    def stop(self):
        """{syscall name or 'all': count}, {} if not counted."""
        if not self.proc:
            return {}
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        counts = {}
        with open(self.out) as f:
            for line in f:
                fields = line.strip().split(',')
                if len(fields) < 3 or not fields[0].isdigit():
                    continue
                ev = fields[2]
                name = 'all' if ev == 'raw_syscalls:sys_enter' else \
                    ev.replace('syscalls:sys_enter_', '')
                counts[name] = int(fields[0])
        os.unlink(self.out)
        self.proc = None
        return counts


def syscall_fields(prefix, counts):
    """Run fields from SyscallMeter counts: all, writes, reads, polls."""
    if not counts:
        return {}
    return {prefix + '_sc_all': counts.get('all', 0),
            prefix + '_sc_writes': sum(counts.get(n, 0) for n in WRITES),
            prefix + '_sc_reads': sum(counts.get(n, 0) for n in READS),
            prefix + '_sc_polls': sum(counts.get(n, 0) for n in POLLS),
            prefix + '_sc_io_writes': sum(counts.get(n, 0) for n in IO_WRITES),
            prefix + '_sc_io_reads': sum(counts.get(n, 0) for n in IO_READS),
            prefix + '_sc': counts}


# ------------------------------------------------------------ passt pid ----
def passt_pid_of(status):
    """passt's pid from its netdev's `info network` status. Every form
    there is has 'pid N': the 10.0 series' ('passt: stream, pid N',
    'passt: vhost-user, pid N, repair socket ...') and upstream's, with
    or without the series ('stream,connected to pid N', 'vhost-user,
    connected to pid N')."""
    m = re.search(r'\bpid (\d+)', status or '')
    return int(m.group(1)) if m else None


def exe_path(pid):
    """What /proc/PID/exe points to, as the process's own mount namespace
    names it (sid's QEMU: /usr/bin/... of the sid root), or None."""
    try:
        return os.readlink('/proc/%d/exe' % pid)
    except (OSError, TypeError):
        return None


def is_passt(pid):
    return bool(pid) and (H.exe_name(pid) or '').startswith('passt')


def find_passt(qmp, netdev, qemu_pid):
    """(pid, None) of the passt that serves netdev, or (None, why not).

    First `info network`; where its status has no pid (a binary whose
    string we do not know, passt starting again), a passt among QEMU's
    descendants, if there is exactly one (the 10.0 series runs passt as
    QEMU's child; upstream's daemonizes it, and then the status has it)."""
    failed = None
    try:
        status = H.passt_netdevs(qmp.hmp('info network')).get(netdev)
    except Exception as e:      # noqa: BLE001
        status, failed = None, 'info network failed: %s' % e
    pid = passt_pid_of(status)
    if is_passt(pid):
        return pid, None
    kids = [p for p in H.descendants(qemu_pid) if is_passt(p)]
    if len(kids) == 1:
        return kids[0], None
    if failed:
        why = failed
    elif status is None:
        why = 'no passt netdev %s in info network' % netdev
    elif pid:
        why = 'pid %d of info network is no passt' % pid
    else:
        why = 'no pid in info network (%r)' % status[:40]
    return None, why


# ------------------------------------------------------------- QEMU pid ----
def peer_pid(sock):
    """The pid of the process at the other end of a connected unix socket,
    as it was when that process connected."""
    ucred = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                            struct.calcsize('3i'))
    return struct.unpack('3i', ucred)[0]


def qemu_process(started, qmp_sock):
    """The pid of QEMU itself, which every meter must read. started: the
    pid the bench started, QEMU's own where a wrapper execs QEMU in place
    (setsid), but not where the wrapper stays as QEMU's parent: sid's QEMU
    runs as bwrap's child, and bwrap's CPU time, memory and syscalls are
    not QEMU's. QEMU is the process that connected to our QMP socket
    (SO_PEERCRED: no guess by name); it must be started or run below it,
    else the QMP connection is some other process's."""
    pid = peer_pid(qmp_sock)
    if pid != started and pid not in H.descendants(started):
        raise RuntimeError('the QMP peer, pid %d (%s), is neither the QEMU '
                           'started, pid %s, nor below it'
                           % (pid, exe_path(pid), started))
    return pid
