#!/usr/bin/env python3
"""Side-by-side benchmark of QEMU network backends for the test guest.

    python3 bench/run.py                  # all backends, 3 runs x 5 s
    python3 bench/run.py --quick          # 1 run x 2 s (smoke test)
    python3 bench/run.py --backends passt,user --runs 5 --seconds 10

Boots the test guest (guest/build-guest.sh) once per backend, with the same
kernel, initramfs, machine and accelerator for every backend, and measures:
TCP throughput both ways (guest-initiated to a server on host loopback, and
host-initiated through a port forward), 1-byte TCP request/response
transactions per second, UDP received rate and loss at a fixed offered
rate, start-up time of a hot-plugged netdev to its first answered frame,
memory per netdev, and CPU seconds per transferred GB of QEMU and passt.

Writes bench/results/latest.md (the table), latest.json (every run, raw)
and throughput.png, prints the table and the targets as PASS/MISS lines.
A benchmark, not a test: the exit status is 0 whether targets are met or
not (non-zero only for a harness error such as a missing QEMU).

Only host loopback and a network namespace of its own (tap backend) are
ever addressed. Needs root (network namespace, tap device).
Environment: QEMU, PASST (binaries), GUEST_ACCEL (kvm|tcg).
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, '..'))
sys.path.insert(0, os.path.join(TOP, 'tests', 'guest'))
import hostlib as H  # noqa: E402  (also puts guest/ on sys.path)
from hostlib import Agent, NsGuest, AGENT  # noqa: E402
from guestlib import (QEMU, GuestError, QMPError,  # noqa: E402
                      ensure_built, probe_accel)

RESULTS = os.path.join(HERE, 'results')
CLK_TCK = os.sysconf('SC_CLK_TCK')
HOTPLUG_MAC = '52:54:00:00:0b:0%d'
TAP_NET = ('10.77.0.1', '10.77.0.2', 24)     # host (netns) side, guest, prefix
TAP_MTU = 65520                              # same MTU passt gives the guest


# ------------------------------------------------------------ backends ----
# One declarative entry per backend. Strings are formatted with the run's
# context: {passt} binary, {fwd} guest iperf3 port (TCP+UDP forwarded),
# {rr} guest echo port (TCP forwarded), {sock} unix socket of a hand-started
# passt, {tap} tap device name.
#   netdev      -netdev option string of the guest's only NIC (id n0)
#   helper      'passt': start `passt -f -1 -s {sock} ...` by hand first;
#               'netns': create a namespace with a tap device, QEMU and the
#               host-side tools run in it
#   guest_net   'dhcp' or 'static' (tap: TAP_NET, MTU TAP_MTU)
#   host_addr   how the guest reaches the host's iperf3 server: 'router'
#               (gateway from DHCP, passt maps it to host loopback) or an
#               address
#   fwd_addr    where host-side clients reach guest services: '127.0.0.1'
#               (through the backend's port forward) or the guest address
#   passt_pid   'info-network' (QEMU's child, from `info network`),
#               'helper' (the hand-started passt) or None
#   hotplug     QMP netdev_add arguments for the start-up measurement
#               (None: not measured); 'helper': True to start a passt by
#               hand for it
#   shared_memory  guest RAM from a shared memfd (vhost-user)
#   qemu        'upstream': upstream QEMU 10.2's own, unmodified backend
#               (QEMU_UPSTREAM), the anchor the series is measured against;
#               default: $QEMU, the series' build
FWD_PASST = ('tcp-ports=127.0.0.1/{fwd},tcp-ports=127.0.0.1/{rr},'
             'udp-ports=127.0.0.1/{fwd}')
BACKENDS = [
    dict(name='passt',
         desc='-netdev passt (QEMU starts passt, stream socket)',
         netdev='passt,id=n0,path={passt},' + FWD_PASST,
         guest_net='dhcp', host_addr='router', fwd_addr='127.0.0.1',
         passt_pid='info-network',
         hotplug=dict(type='passt', path='{passt}')),
    dict(name='user',
         desc='-netdev user (slirp), hostfwd for the forwards',
         netdev='user,id=n0,hostfwd=tcp:127.0.0.1:{fwd}-:{fwd},'
                'hostfwd=tcp:127.0.0.1:{rr}-:{rr},'
                'hostfwd=udp:127.0.0.1:{fwd}-:{fwd}',
         guest_net='dhcp', host_addr='10.0.2.2', fwd_addr='127.0.0.1',
         passt_pid=None,
         hotplug=dict(type='user')),
    dict(name='stream',
         desc='-netdev stream to a hand-started passt -f -1 -s SOCK',
         netdev='stream,id=n0,server=off,addr.type=unix,addr.path={sock}',
         helper='passt',
         guest_net='dhcp', host_addr='router', fwd_addr='127.0.0.1',
         passt_pid='helper',
         hotplug=dict(type='stream', server=False,
                      addr={'type': 'unix', 'path': '{sock}.hp'},
                      helper=True)),
    dict(name='tap',
         desc='-netdev tap into a namespace of ours (kernel reference, '
              'no vhost-net)',
         netdev='tap,id=n0,ifname={tap},script=no,downscript=no',
         helper='netns',
         guest_net='static', host_addr=TAP_NET[0], fwd_addr=TAP_NET[1],
         passt_pid=None, hotplug=None),
    dict(name='passt-vhost-user',
         desc='-netdev passt,vhost-user=on (memfd share=on guest RAM)',
         netdev='passt,id=n0,path={passt},vhost-user=on,' + FWD_PASST,
         guest_net='dhcp', host_addr='router', fwd_addr='127.0.0.1',
         passt_pid='info-network', shared_memory=True,
         hotplug=dict(type='passt', path='{passt}', **{'vhost-user': True})),
]
# The passt backends again, in upstream QEMU 10.2 as released. Its
# tcp-ports joins the entries into one --tcp-ports, where passt takes one
# address at most: the forwards go as passt's own options (param) instead.
FWD_PARAM = ('param=-t,param=127.0.0.1/{fwd},param=-t,param=127.0.0.1/{rr},'
             'param=-u,param=127.0.0.1/{fwd}')
BACKENDS += [dict(b, name='upstream-' + b['name'], qemu='upstream',
                  netdev=b['netdev'].replace(FWD_PASST, FWD_PARAM),
                  desc='upstream QEMU 10.2 unmodified: ' + b['desc'])
             for b in BACKENDS if b['name'] in ('passt', 'passt-vhost-user')]
BY_NAME = {b['name']: b for b in BACKENDS}
QEMU_UPSTREAM = os.environ.get('QEMU_UPSTREAM', os.path.join(
    TOP, 'build', 'qemu-upstream-unmodified-build', 'qemu-system-x86_64'))


def passt_pid_of(status):
    """passt's pid from its netdev's 'info network' status, in the
    series' form ('passt: stream, pid N') or upstream's ('stream,connected
    to pid N')."""
    m = re.search(r'\bpid (\d+)', status or '')
    return int(m.group(1)) if m else None


BASELINE = 'user'

# Metrics: key, label, unit, better ('hi'/'lo'), format.
METRICS = [
    ('tcp_g2h', 'TCP guest->host (guest connects to host lo)', 'Mbit/s', 'hi', '%.0f'),
    ('tcp_h2g', 'TCP host->guest (guest connects, iperf3 -R)', 'Mbit/s', 'hi', '%.0f'),
    ('tcp_h2g_fwd', 'TCP host->guest (host connects via forward)', 'Mbit/s', 'hi', '%.0f'),
    ('tcp_g2h_fwd', 'TCP guest->host (forward, iperf3 -R)', 'Mbit/s', 'hi', '%.0f'),
    ('tps', 'TCP 1-byte request/response (forward)', 'trans/s', 'hi', '%.0f'),
    ('udp_g2h_rate', 'UDP guest->host received', 'Mbit/s', 'hi', '%.1f'),
    ('udp_g2h_loss', 'UDP guest->host loss', '%', 'lo', '%.2f'),
    ('udp_h2g_rate', 'UDP host->guest received (forward)', 'Mbit/s', 'hi', '%.1f'),
    ('udp_h2g_loss', 'UDP host->guest loss (forward)', '%', 'lo', '%.2f'),
    ('startup_ms', 'start-up: netdev_add to first answered frame', 'ms', 'lo', '%.1f'),
    ('ready_ms', '  of which: netdev_add to backend ready', 'ms', 'lo', '%.1f'),
    ('answer_ms', '  of which: first DHCPDISCOVER to OFFER', 'ms', 'lo', '%.2f'),
    ('plug_total_ms', '  (info) netdev_add to guest lease, incl. guest', 'ms', 'lo', '%.0f'),
    ('passt_rss_kb', 'passt RSS, hot-plugged netdev after DHCP', 'KiB', 'lo', '%.0f'),
    ('passt_rss_load_kb', 'passt RSS, guest NIC after all transfers', 'KiB', 'lo', '%.0f'),
    ('qemu_rss_delta_kb', 'QEMU RSS growth per hot-plugged NIC+netdev', 'KiB', 'lo', '%.0f'),
    ('qemu_cpu_gb', 'QEMU CPU per GB (TCP, all threads)', 's/GB', 'lo', '%.2f'),
    ('qemu_io_cpu_gb', 'QEMU CPU per GB (TCP, non-vCPU threads)', 's/GB', 'lo', '%.2f'),
    ('passt_cpu_gb', 'passt CPU per GB (TCP)', 's/GB', 'lo', '%.2f'),
    ('qemu_sc_mb_g2h', 'QEMU syscalls per MB, TCP guest->host', '1/MB', 'lo', '%.1f'),
    ('qemu_sc_mb_h2g', 'QEMU syscalls per MB, TCP host->guest', '1/MB', 'lo', '%.1f'),
    ('qemu_bytes_io_g2h', '  KiB per QEMU socket/tap write, guest->host', 'KiB', 'hi', '%.1f'),
    ('qemu_bytes_io_h2g', '  KiB per QEMU socket/tap read, host->guest', 'KiB', 'hi', '%.1f'),
    ('passt_sc_mb_g2h', 'passt syscalls per MB, TCP guest->host', '1/MB', 'lo', '%.1f'),
    ('passt_sc_mb_h2g', 'passt syscalls per MB, TCP host->guest', '1/MB', 'lo', '%.1f'),
    ('qemu_sc_tps', 'QEMU syscalls per 1-byte request/response', '1', 'lo', '%.1f'),
    ('passt_sc_tps', 'passt syscalls per 1-byte request/response', '1', 'lo', '%.1f'),
]
TCP_KEYS = ['tcp_g2h', 'tcp_h2g', 'tcp_h2g_fwd', 'tcp_g2h_fwd']
METRIC = {m[0]: m for m in METRICS}


def log(msg):
    print('bench: ' + msg, file=sys.stderr, flush=True)


# ------------------------------------------------------- process stats ----
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


class CpuMeter:
    """CPU ticks of QEMU (all / vCPU threads) and passt around transfers."""

    def __init__(self, qemu_pid, passt_pid):
        self.qemu, self.passt = qemu_pid, passt_pid

    def snap(self):
        return (proc_ticks(self.qemu), vcpu_ticks(self.qemu),
                proc_ticks(self.passt) if self.passt else None)

    def delta(self, a, b):
        d = {}
        for key, i in (('qemu', 0), ('qemu_vcpu', 1), ('passt', 2)):
            if a[i] is not None and b[i] is not None:
                d[key + '_cpu_s'] = (b[i] - a[i]) / CLK_TCK
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


# -------------------------------------------------------------- helpers ----
def wait_path(path, timeout=10, step=0.001):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError('%s did not appear' % path)
        time.sleep(step)


def wait_pidfile(path, timeout=10, step=0.0005):
    """passt writes its pid file when it is ready to serve."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path) as f:
                s = f.read().strip()
            if s.isdigit():
                return int(s)
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError('no pid in %s' % path)
        time.sleep(step)


def start_hand_passt(passt, sock, workdir, tag, extra=()):
    """passt -f -1 -s SOCK [extra]; returns (Popen, pidfile)."""
    pidfile = os.path.join(workdir, tag + '.pid')
    logf = open(os.path.join(workdir, tag + '.log'), 'wb')
    p = subprocess.Popen([passt, '-f', '-1', '-s', sock, '-P', pidfile] +
                         list(extra), stdin=subprocess.DEVNULL, stdout=logf,
                         stderr=subprocess.STDOUT)
    logf.close()
    return p, pidfile


def stop_proc(p, timeout=5):
    if p and p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class TapNetns:
    """Namespace bench-tap-PID with tap device bt0 (TAP_NET host side)."""

    def __init__(self):
        self.name = 'bench-tap-%d' % os.getpid()
        self.dev = 'bt0'

    def __enter__(self):
        n, d = self.name, self.dev
        try:
            for c in (['ip', 'netns', 'add', n],
                      ['ip', '-n', n, 'link', 'set', 'lo', 'up'],
                      ['ip', '-n', n, 'tuntap', 'add', 'dev', d, 'mode', 'tap'],
                      ['ip', '-n', n, 'addr', 'add', '%s/%d' % (TAP_NET[0], TAP_NET[2]),
                       'dev', d],
                      ['ip', '-n', n, 'link', 'set', d, 'mtu', str(TAP_MTU), 'up']):
                subprocess.run(c, check=True, capture_output=True)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        subprocess.run(['ip', 'netns', 'del', self.name], capture_output=True)


def ns_cmd(ns):
    return ['ip', 'netns', 'exec', ns] if ns else []


def iperf_summary(j, udp=False):
    """(Mbit/s received, bytes received, loss %) from iperf3 -J output."""
    if 'error' in j and not j.get('end'):
        raise RuntimeError('iperf3: %s' % j['error'])
    end = j['end']
    if udp:
        s = end['sum']
        # The client reports the server's receive statistics in 'sum'
        # (lost_packets, packets); the receiver's byte rate is the sent
        # rate less the lost share.
        loss = s.get('lost_percent', 0.0)
        sent_bps = s['bits_per_second']
        rcv = end.get('sum_received')
        if rcv and rcv.get('bits_per_second'):
            rate = rcv['bits_per_second']
            nbytes = rcv['bytes']
        else:
            rate = sent_bps * (1 - loss / 100.0)
            nbytes = s['bytes'] * (1 - loss / 100.0)
        return rate / 1e6, nbytes, loss
    r = end['sum_received']
    return r['bits_per_second'] / 1e6, r['bytes'], None


def parse_json_lines(lines):
    text = '\n'.join(lines)
    i = text.find('{')
    if i < 0:
        raise RuntimeError('no iperf3 JSON in guest output: %r' % text[-500:])
    return json.loads(text[i:text.rindex('}') + 1])


def rr_client(addr, port, secs, ns=None):
    """1-byte TCP ping-pong with TCP_NODELAY for secs: transactions/s."""
    s = H.in_netns(ns, socket.create_connection, (addr, port), 10)
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(10)
        # warm-up: the first round trip may still be setting up the path
        for _ in range(20):
            s.sendall(b'x')
            if s.recv(1) != b'x':
                raise RuntimeError('echo mismatch/closed')
        lat = []
        t_start = time.perf_counter()
        end = t_start + secs
        t = t_start
        while t < end:
            s.sendall(b'x')
            if s.recv(1) != b'x':
                raise RuntimeError('echo mismatch/closed')
            t2 = time.perf_counter()
            lat.append(t2 - t)
            t = t2
        elapsed = t - t_start
    finally:
        s.close()
    lat.sort()
    return {'value': len(lat) / elapsed, 'transactions': len(lat),
            'seconds': elapsed,
            'rtt_p50_us': lat[len(lat) // 2] * 1e6,
            'rtt_p99_us': lat[int(len(lat) * 0.99)] * 1e6}


def pcap_frames(path):
    """[(ts seconds, frame bytes)] from a pcap file (filter-dump)."""
    out = []
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 24:
        return out
    magic = struct.unpack('<I', data[:4])[0]
    e = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    nano = magic in (0xa1b23c4d, 0x4d3cb2a1)
    i = 24
    while i + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(e + 'IIII', data[i:i + 16])
        out.append((sec + frac / (1e9 if nano else 1e6), data[i + 16:i + 16 + incl]))
        i += 16 + incl
    return out


def dhcp_type(frame):
    """DHCP message type (1 DISCOVER, 2 OFFER, ...) of an IPv4/UDP 67/68
    frame, else None."""
    if len(frame) < 14 + 20 + 8 + 240 or frame[12:14] != b'\x08\x00':
        return None
    ihl = (frame[14] & 0x0f) * 4
    if frame[14 + 9] != 17:
        return None
    u = 14 + ihl
    sport, dport = struct.unpack('!HH', frame[u:u + 4])
    if {sport, dport} != {67, 68}:
        return None
    opts = frame[u + 8 + 240:]
    j = 0
    while j + 2 <= len(opts) and opts[j] != 255:
        if opts[j] == 0:
            j += 1
            continue
        if opts[j] == 53:
            return opts[j + 2]
        j += 2 + opts[j + 1]
    return None


def summarize(values):
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {'median': statistics.median(v), 'min': min(v), 'max': max(v),
            'n': len(v), 'failed': len(values) - len(v)}


def wait_qemu(timeout=900):
    """The QEMU build may be relinked under us: wait until it runs."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = subprocess.run([QEMU, '--version'], capture_output=True, timeout=30)
            if r.returncode == 0:
                time.sleep(1)       # and is not being written right now
                if subprocess.run([QEMU, '--version'], capture_output=True,
                                  timeout=30).returncode == 0:
                    return
        except (OSError, subprocess.TimeoutExpired):
            pass
        if time.monotonic() > deadline:
            raise SystemExit('bench: %s does not run' % QEMU)
        log('waiting for %s (being rebuilt?)' % QEMU)
        time.sleep(10)


def passt_version(passt):
    """The first line `passt --version` prints, or None. It gets a terminal:
    passt up to 2025 prints it through stdio and leaves with _exit(), so
    nothing reaches a pipe."""
    master, slave = os.openpty()
    try:
        subprocess.run([passt, '--version'], stdin=subprocess.DEVNULL,
                       stdout=slave, stderr=slave, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    finally:
        os.close(slave)
    out = b''
    try:
        while True:
            chunk = os.read(master, 4096)
            if not chunk:
                break
            out += chunk
    except OSError:         # EIO: the terminal has no writer left
        pass
    finally:
        os.close(master)
    lines = [l.strip() for l in out.decode(errors='replace').splitlines()]
    lines = [l for l in lines if l and 'AVX2' not in l]
    return lines[0] if lines else None


def machine_info():
    cpu = platform.processor() or '?'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        qver = subprocess.run([QEMU, '--version'], capture_output=True,
                              text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        qver = '?'
    pver = '%s (%s)' % (passt_version(H.PASST) or
                        'passt version not reported',
                        os.path.relpath(H.PASST, TOP))
    return {'cpu': cpu, 'cores': os.cpu_count(), 'kernel': platform.release(),
            'host': platform.node(), 'qemu': qver, 'passt': pver,
            'loadavg': open('/proc/loadavg').read().split()[:3]}


# ------------------------------------------------------------ the run ----
class Unavailable(Exception):
    pass


class UpstreamGuest(NsGuest):
    """Upstream's QEMU in a session of its own: after a failed passt start
    it sends SIGTERM to its process group (kill(0, ...), fixed by the
    upstream series' patch 3), which would stop the bench too. setsid(1)
    execs QEMU in place, so its pid stays the one the meters watch."""

    def args(self):
        return ['setsid'] + super().args()


class BackendRun:
    def __init__(self, be, opts, accel):
        self.be, self.o, self.accel = be, opts, accel
        self.runs = {}          # metric -> [run dicts]
        self.info = {}
        self.cleanup = []
        self.ns = None
        self.workdir = tempfile.mkdtemp(prefix='bench-%s-' % be['name'])
        fwd, rr, hport = H.free_ports(3, consecutive=False)
        self.ctx = dict(passt=H.PASST, fwd=fwd, rr=rr, hport=hport,
                        sock=os.path.join(self.workdir, 'passt.sock'),
                        tap='bt0')

    def fmt(self, v):
        if isinstance(v, str):
            return v.format(**self.ctx)
        if isinstance(v, dict):
            return {k: self.fmt(x) for k, x in v.items()}
        return v

    def add(self, metric, run):
        self.runs.setdefault(metric, []).append(run)

    # -- life cycle --
    def run(self):
        be = self.be
        try:
            self._setup()
            self._boot()
            try:
                self._measure()
            finally:
                self._shutdown()
        finally:
            for fn in reversed(self.cleanup):
                try:
                    fn()
                except Exception as e:      # noqa: BLE001
                    log('%s: cleanup: %s' % (be['name'], e))
            if self.info.get('errors'):
                for name in sorted(os.listdir(self.workdir)):
                    if name.endswith('.log'):
                        with open(os.path.join(self.workdir, name), errors='replace') as f:
                            self.info['log ' + name] = f.read()[-3000:]
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _setup(self):
        be, c = self.be, self.ctx
        if be.get('helper') == 'netns':
            t = TapNetns().__enter__()
            self.cleanup.append(t.__exit__)
            self.ns, c['tap'] = t.name, t.dev
        elif be.get('helper') == 'passt':
            p, pidfile = start_hand_passt(
                c['passt'], c['sock'], self.workdir, 'helper',
                ['-t', '127.0.0.1/%d' % c['fwd'], '-t', '127.0.0.1/%d' % c['rr'],
                 '-u', '127.0.0.1/%d' % c['fwd']])
            self.cleanup.append(lambda: stop_proc(p))
            self.helper_pid = wait_pidfile(pidfile)
            wait_path(c['sock'])
        # the host's iperf3 server (on loopback, or the namespace's tap)
        addr = '127.0.0.1' if not self.ns else TAP_NET[0]
        srv = subprocess.Popen(ns_cmd(self.ns) + [
            'iperf3', '-s', '-B', addr, '-p', str(c['hport'])],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        self.cleanup.append(lambda: stop_proc(srv))

    def _boot(self):
        be = self.be
        # named threads: vCPU time can be told from the I/O threads'
        rp = ['-name', 'bench-%s,debug-threads=on' % be['name']]
        for i in range(1, 4):
            rp += ['-device', 'pcie-root-port,id=rp%d,bus=pcie.0,chassis=%d' % (i, i)]
        qemu = None
        if be.get('qemu') == 'upstream':
            qemu = QEMU_UPSTREAM
            if not os.access(qemu, os.X_OK):
                raise Unavailable('no upstream QEMU at %s (make bench builds '
                                  'it: scripts/build-upstream-unmodified.sh)'
                                  % qemu)
        self.g = (UpstreamGuest if qemu else NsGuest)(
            self.ns, netdev=[self.fmt(be['netdev'])], script=AGENT,
            extra_args=rp, qmp=True, accel=self.accel,
            shared_memory=be.get('shared_memory', False),
            name=be['name'], qemu=qemu)
        self.cleanup.append(self.g.close)
        try:
            self.g.start()
        except (GuestError, EOFError, OSError) as e:
            # QEMU refused the configuration: the backend is not available
            if self.g.proc:
                try:
                    self.g.proc.wait(5)
                except subprocess.TimeoutExpired:
                    raise e
            qlog = self.g._read('qemu.log') if self.g.dir else \
                getattr(self.g, '_qemu_log', '')
            why = [l for l in (qlog + '\n' + str(e)).splitlines()
                   if l.startswith(os.path.basename(QEMU) + ':')]
            raise Unavailable((why[-1] if why else '%s: %s' % (
                type(e).__name__, str(e).splitlines()[0]))[:300])
        self.a = Agent(self.g, boot_timeout=120)
        self.qemu_pid = self.g.proc.pid
        self.passt_pid = None
        if be.get('passt_pid') == 'info-network':
            self.passt_pid = passt_pid_of(H.passt_netdevs(
                self.g.qmp.hmp('info network')).get('n0'))
        elif be.get('passt_pid') == 'helper':
            self.passt_pid = self.helper_pid
        self.info['qemu_pid'] = self.qemu_pid
        self.info['passt_pid'] = self.passt_pid
        self.info['qemu_cmdline'] = ' '.join(self.g.cmdline)
        self.cpu = CpuMeter(self.qemu_pid, self.passt_pid)

        if be['guest_net'] == 'dhcp':
            r = self.a.kv('net_up eth0', timeout=60)
            if not r.get('ip'):
                raise RuntimeError('no DHCP lease: %r' % r)
            self.info['lease'] = {k: r.get(k) for k in ('ip', 'router', 'mtu')}
            host = r['router'] if be['host_addr'] == 'router' else be['host_addr']
        else:
            g_ip = TAP_NET[1]
            rc, out = self.a.sh(
                'ip link set eth0 mtu %d up && ip addr add %s/%d dev eth0 && '
                'ip route add default via %s' % (TAP_MTU, g_ip, TAP_NET[2], TAP_NET[0]))
            if rc:
                raise RuntimeError('static address: %r' % out)
            host = be['host_addr']
        self.host_addr = host
        self.fwd_addr = be['fwd_addr']
        rc, out = self.a.sh(
            'iperf3 -s -D -p {fwd} >/dev/null 2>&1; '
            'socat TCP-LISTEN:{rr},fork,reuseaddr,nodelay PIPE '
            '</dev/null >/dev/null 2>&1 &'.format(**self.ctx))
        if rc:
            raise RuntimeError('guest servers: %r' % out)
        time.sleep(0.5)

    def _shutdown(self):
        try:
            self.a.quit(timeout=30)
        except Exception as e:      # noqa: BLE001
            log('%s: guest quit: %s' % (self.be['name'], e))

    # -- measurements --
    def _measure(self):
        o = self.o
        # start-up first, while the guest is idle: the RSS samples around a
        # hot-plug are less disturbed than after the transfers
        steps = [('startup', self.m_startup), ('tcp', self.m_tcp),
                 ('tps', self.m_tps), ('udp', self.m_udp),
                 ('syscalls', self.m_syscalls)]
        for name, fn in steps:
            if o.only and name not in o.only:
                continue
            try:
                fn()
            except Exception as e:      # noqa: BLE001
                log('%s: %s failed: %s' % (self.be['name'], name, e))
                self.info.setdefault('errors', []).append('%s: %s' % (name, e))
        if self.passt_pid:
            self.info['passt_rss_load_kb'] = rss_kb(self.passt_pid)
            self.add('passt_rss_load_kb', {'value': rss_kb(self.passt_pid)})

    def guest_iperf(self, extra):
        secs = self.o.seconds
        rc, out = self.a.sh('iperf3 -c %s -p %d -t %d -i 0 -J %s 2>&1'
                            % (self.host_addr, self.ctx['hport'], secs, extra),
                            timeout=secs + 60)
        j = parse_json_lines(out)
        if rc and not j.get('end'):
            raise RuntimeError('guest iperf3 rc %d: %s' % (rc, j.get('error')))
        return j

    def host_iperf(self, extra):
        secs = self.o.seconds
        p = subprocess.run(ns_cmd(self.ns) + [
            'iperf3', '-c', self.fwd_addr, '-p', str(self.ctx['fwd']),
            '-t', str(secs), '-i', '0', '-J'] + extra.split(),
            capture_output=True, text=True, timeout=secs + 60)
        try:
            j = json.loads(p.stdout)
        except ValueError:
            raise RuntimeError('host iperf3: %s %s' % (p.stdout[-300:], p.stderr[-300:]))
        if p.returncode and not j.get('end'):
            raise RuntimeError('host iperf3: %s' % j.get('error'))
        return j

    def meters(self):
        return [('qemu', SyscallMeter(self.qemu_pid)),
                ('passt', SyscallMeter(self.passt_pid))]

    def transfer(self, metric, fn, udp=False, count=False):
        meters = self.meters() if count else []
        a = self.cpu.snap()
        # nothing between starting the meters and the try that stops them
        for _, m in meters:
            m.start()
        try:
            j = fn()
            rate, nbytes, loss = iperf_summary(j, udp)
        except Exception as e:      # noqa: BLE001
            for _, m in meters:
                m.stop()
            # one failed run does not end the backend's measurements
            msg = '%s: %s' % (type(e).__name__, e)
            log('%s: %s failed: %s' % (self.be['name'], metric, msg))
            self.add(metric, {'value': None, 'error': msg})
            self.info.setdefault('errors', []).append('%s: %s' % (metric, msg))
            return {'loss': None}
        b = self.cpu.snap()
        run = {'value': rate, 'bytes': nbytes}
        run.update(self.cpu.delta(a, b))
        for name, m in meters:
            run.update(syscall_fields(name, m.stop()))
        if udp:
            run['loss'] = loss
            run['offered'] = self.o.udp_rate
        self.add(metric, run)
        log('%s: %s %.1f Mbit/s%s' % (self.be['name'], metric, rate,
                                      ' loss %.2f%%' % loss if udp else ''))
        return run

    def m_tcp(self):
        for _ in range(self.o.runs):
            self.transfer('tcp_g2h', lambda: self.guest_iperf(''))
            self.transfer('tcp_h2g', lambda: self.guest_iperf('-R'))
            self.transfer('tcp_h2g_fwd', lambda: self.host_iperf(''))
            self.transfer('tcp_g2h_fwd', lambda: self.host_iperf('-R'))
        # CPU per GB over all TCP transfers
        tot = {}
        for k in TCP_KEYS:
            for r in self.runs.get(k, []):
                if r.get('value') is None:
                    continue
                for f in ('bytes', 'qemu_cpu_s', 'qemu_io_cpu_s', 'passt_cpu_s'):
                    if f in r:
                        tot[f] = tot.get(f, 0) + r[f]
        gb = tot.get('bytes', 0) / 1e9
        if gb:
            for f, m in (('qemu_cpu_s', 'qemu_cpu_gb'), ('qemu_io_cpu_s', 'qemu_io_cpu_gb'),
                         ('passt_cpu_s', 'passt_cpu_gb')):
                if f in tot:
                    self.add(m, {'value': tot[f] / gb, 'cpu_s': tot[f], 'gb': gb})
            # per direction too, in the raw data
            for k in TCP_KEYS:
                for r in self.runs.get(k, []):
                    gbk = r.get('bytes', 0) / 1e9
                    for f in ('qemu_cpu_s', 'qemu_io_cpu_s', 'passt_cpu_s'):
                        if f in r and gbk:
                            r[f.replace('_s', '_per_gb')] = r[f] / gbk

    def syscalls_per_mb(self):
        """Syscalls per MB moved, per direction, and bytes per write."""
        for direction in ('g2h', 'h2g'):
            runs = [r for r in self.runs.get('sc_tcp_' + direction, [])
                    if r.get('value') is not None and 'qemu_sc_all' in r]
            mb = sum(r['bytes'] for r in runs) / 1e6
            if not mb:
                continue
            for who in ('qemu', 'passt'):
                if not all(who + '_sc_all' in r for r in runs):
                    continue
                tot = {f: sum(r[who + f] for r in runs)
                       for f in ('_sc_all', '_sc_writes', '_sc_reads', '_sc_polls')}
                self.add('%s_sc_mb_%s' % (who, direction),
                         {'value': tot['_sc_all'] / mb, 'mb': mb,
                          'writes_per_mb': tot['_sc_writes'] / mb,
                          'reads_per_mb': tot['_sc_reads'] / mb,
                          'polls_per_mb': tot['_sc_polls'] / mb})
            # QEMU writes towards the backend in g2h, reads from it in h2g;
            # in vhost-user mode frames do not go through QEMU at all
            f = '_sc_io_writes' if direction == 'g2h' else '_sc_io_reads'
            n = sum(r['qemu' + f] for r in runs)
            if n and not self.be.get('shared_memory'):
                self.add('qemu_bytes_io_%s' % direction,
                         {'value': mb * 1e6 / n / 1024, 'count': n})

    def m_syscalls(self):
        """Syscall counts, in transfers of their own: counting slows the
        path down a little, so the throughput runs go without."""
        if not SyscallMeter.enabled or not SyscallMeter.probe():
            return
        self.transfer('sc_tcp_g2h', lambda: self.guest_iperf(''), count=True)
        self.transfer('sc_tcp_h2g', lambda: self.guest_iperf('-R'), count=True)
        self.syscalls_per_mb()
        self.m_tps(count=True)

    def m_tps(self, count=False):
        for _ in range(1 if count else self.o.runs):
            meters = self.meters() if count else []
            a = self.cpu.snap()
            for _, m in meters:
                m.start()
            try:
                r = rr_client(self.fwd_addr, self.ctx['rr'], self.o.seconds, self.ns)
            except Exception as e:      # noqa: BLE001
                for _, m in meters:
                    m.stop()
                log('%s: tps failed: %s' % (self.be['name'], e))
                self.add('sc_tps' if count else 'tps', {'value': None, 'error': str(e)})
                self.info.setdefault('errors', []).append('tps: %s' % e)
                continue
            r.update(self.cpu.delta(a, self.cpu.snap()))
            for who, m in meters:
                counts = m.stop()
                if counts and r.get('transactions'):
                    # the warm-up round trips are in the counts too: few
                    self.add('%s_sc_tps' % who,
                             {'value': counts.get('all', 0) / r['transactions'],
                              'counts': counts})
            if count:
                continue
            self.add('tps', r)
            log('%s: tps %.0f (p50 %.0f us)' % (self.be['name'], r['value'],
                                                 r['rtt_p50_us']))

    def m_udp(self):
        b = '-u -b %s -l %d' % (self.o.udp_rate, self.o.udp_len)
        for _ in range(self.o.runs):
            r = self.transfer('udp_g2h_rate', lambda: self.guest_iperf(b), udp=True)
            self.add('udp_g2h_loss', {'value': r.get('loss')})
            r = self.transfer('udp_h2g_rate', lambda: self.host_iperf(b), udp=True)
            self.add('udp_h2g_loss', {'value': r.get('loss')})

    def m_startup(self):
        hp = self.be.get('hotplug')
        if not hp:
            self.info['startup'] = 'n/a (no hot-pluggable netdev measured)'
            return
        for i in range(1, min(self.o.runs, 3) + 1):
            self.startup_once(i, dict(hp))

    def startup_once(self, i, hp):
        """Hot-plug netdev hp<i> (QMP netdev_add) and a virtio-net NIC on
        it; the guest runs DHCP there. Measured:
          ready_ms   netdev_add sent -> backend ready to take frames: for
                     passt the NETDEV_PASST_CONNECTED event (QEMU emits it
                     once passt wrote its pid file, i.e. is serving); for a
                     hand-started passt from its start to its pid file,
                     plus netdev_add stream; otherwise netdev_add's return
          answer_ms  first DHCPDISCOVER the guest sent -> first OFFER back,
                     both as QEMU saw them (filter-dump on the netdev), or
                     in vhost-user mode, where frames bypass QEMU, as passt
                     saw them (its pcap-file)
          startup_ms ready_ms + answer_ms: the time to the first answered
                     frame if the guest had sent one the moment the netdev
                     existed (the guest's own PCI hot-plug and driver probe,
                     hundreds of ms under TCG, are not the backend's)
        """
        q = self.g.qmp
        nid, dev, mac = 'hp%d' % i, 'hpnic%d' % i, HOTPLUG_MAC % i
        pcap = os.path.join(self.workdir, 'hp%d.pcap' % i)
        use_helper = hp.pop('helper', False)
        args = self.fmt(hp)
        # no filter on a vhost-user netdev: passt captures instead
        passt_pcap = bool(args.get('vhost-user'))
        upstream = self.be.get('qemu') == 'upstream'
        if passt_pcap:
            os.chmod(self.workdir, 0o777)       # passt may run as nobody
            if upstream:                        # no pcap-file member there
                args['param'] = [{'str': '--pcap'}, {'str': pcap}]
            else:
                args['pcap-file'] = pcap
        if 'addr' in args:
            args['addr'] = dict(args['addr'], path=args['addr']['path'] + str(i))
        rss0 = rss_kb(self.qemu_pid)
        q.events.clear()
        t0 = time.time()
        helper_pid = None
        if use_helper:
            p, pidfile = start_hand_passt(self.ctx['passt'], args['addr']['path'],
                                          self.workdir, 'hp%d' % i)
            self.cleanup.append(lambda: stop_proc(p))
            helper_pid = wait_pidfile(pidfile)
        q.cmd('netdev_add', id=nid, **args)
        t_ret = time.time()
        t_ready = t_ret
        # upstream's netdev_add returns once passt is in the background,
        # ready: it has no event to wait for
        if args['type'] == 'passt' and not upstream:
            ev = q.get_event('NETDEV_PASST_CONNECTED', timeout=10)
            while ev['data'].get('netdev-id') != nid:
                ev = q.get_event('NETDEV_PASST_CONNECTED', timeout=10)
            ts = ev['timestamp']
            t_ready = max(t_ret, ts['seconds'] + ts['microseconds'] / 1e6)
        if not passt_pcap:
            q.cmd('object-add', **{'qom-type': 'filter-dump', 'id': 'fd' + nid,
                                   'netdev': nid, 'file': pcap})
        q.cmd('device_add', driver='virtio-net-pci', id=dev, netdev=nid,
              bus='rp%d' % i, mac=mac)
        r = self.a.kv('wait_mac %s 30 || echo iface=none\n'
                      'net_up $iface >/dev/null || echo lease=none\n'
                      'echo ok=1' % mac, timeout=90)
        t_lease = time.time()
        rss1 = rss_kb(self.qemu_pid)
        pid = helper_pid
        if args['type'] == 'passt':
            pid = passt_pid_of(H.passt_netdevs(q.hmp('info network')).get(nid))
        prss = rss_kb(pid) if pid else None
        if not passt_pcap:
            q.cmd('object-del', id='fd' + nid)
        frames = pcap_frames(pcap)
        disc = next((ts for ts, f in frames if f[6:12] == bytes.fromhex(
            mac.replace(':', '')) and dhcp_type(f) == 1), None)
        offer = next((ts for ts, f in frames if disc is not None and ts >= disc
                      and dhcp_type(f) == 2), None)
        run = {'ready_ms': (t_ready - t0) * 1e3,
               'netdev_add_ms': (t_ret - t0) * 1e3,
               'plug_total_ms': (t_lease - t0) * 1e3,
               'frames': len(frames), 'lease': r.get('lease') != 'none'}
        if disc is not None and offer is not None:
            run['answer_ms'] = (offer - disc) * 1e3
            run['value'] = run['ready_ms'] + run['answer_ms']
        else:
            run['value'] = None
            run['error'] = 'no DISCOVER/OFFER pair in %d frames' % len(frames)
        self.add('startup_ms', run)
        self.add('ready_ms', {'value': run['ready_ms']})
        self.add('answer_ms', {'value': run.get('answer_ms')})
        self.add('plug_total_ms', {'value': run['plug_total_ms']})
        if prss is not None:
            self.add('passt_rss_kb', {'value': prss, 'pid': pid})
        if rss0 and rss1:
            # only the first hot-plug: a NIC unplugged before is freed
            # lazily (RCU), so later rounds can show negative growth
            run['qemu_rss_delta_kb'] = rss1 - rss0
            if i == 1:
                self.add('qemu_rss_delta_kb', {'value': rss1 - rss0})
        log('%s: start-up #%d: ready %.1f ms + answer %s ms; lease after %.0f ms'
            % (self.be['name'], i, run['ready_ms'],
               '%.2f' % run['answer_ms'] if 'answer_ms' in run else '?',
               run['plug_total_ms']))
        # unplug again: the next round starts from the same state
        try:
            q.cmd('device_del', id=dev)
            ev = q.get_event('DEVICE_DELETED', timeout=30)
            while ev['data'].get('device') != dev:
                ev = q.get_event('DEVICE_DELETED', timeout=30)
            # upstream's netdev_del of a netdev without a NIC crashes QEMU
            # (fixed by the upstream series' patch 5): keep it there
            if not upstream:
                q.cmd('netdev_del', id=nid)
        except (QMPError, TimeoutError) as e:
            log('%s: unplug %s: %s' % (self.be['name'], nid, e))


# ------------------------------------------------------------ reporting ----
def cell(summary, fmt, base):
    if not summary:
        return 'n/a'
    s = fmt % summary['median']
    if summary['n'] > 1:
        s += ' [%s–%s]' % (fmt % summary['min'], fmt % summary['max'])
    if base and base.get('median'):
        s += ' (%.2fx)' % (summary['median'] / base['median'])
    if summary.get('failed'):
        s += ' (%d run(s) failed)' % summary['failed']
    return s


def build_report(meta, results, names):
    lines = ['# passt benchmark', '',
             '- date: %s' % meta['date'],
             '- machine: %s, %d cores, kernel %s (load average at start %s)'
             % (meta['machine']['cpu'], meta['machine']['cores'],
                meta['machine']['kernel'], ' '.join(meta['machine']['loadavg'])),
             '- accelerator: %s (same guest kernel, initramfs, q35, %s RAM, '
             '1 vCPU for every backend)' % (meta['accel'], meta['mem']),
             '- %s; %s' % (meta['machine']['qemu'], meta['machine']['passt']),
             '- runs: %d x %d s per metric; UDP offered %s, %d-byte datagrams'
             % (meta['runs'], meta['seconds'], meta['udp_rate'], meta['udp_len']),
             '- cells: median [min–max] (ratio to `%s`)' % BASELINE, '']
    avail = [n for n in names if results[n]['status'] == 'ok']
    lines.append('| metric | unit | ' + ' | '.join(avail) + ' |')
    lines.append('|---|---|' + '---|' * len(avail))
    for key, label, unit, better, fmt in METRICS:
        row = [results[n]['summary'].get(key) for n in avail]
        if not any(row):
            continue
        base = results.get(BASELINE, {}).get('summary', {}).get(key)
        lines.append('| %s | %s%s | %s |' % (
            label, unit, '' if better == 'hi' else ', lower is better',
            ' | '.join(cell(s, fmt, base) for s in row)))
    lines.append('')
    for n in names:
        r = results[n]
        if r['status'] != 'ok':
            lines.append('- `%s`: %s' % (n, r['status']))
        for e in r.get('info', {}).get('errors', []):
            lines.append('- `%s` error: %s' % (n, e))
    lines += against_upstream(results)
    lines.append('')
    lines.append('Backends:')
    for n in names:
        lines.append('- `%s`: %s' % (n, BY_NAME[n]['desc']))
    return '\n'.join(lines) + '\n'


# The series' backend next to the same mode of upstream's unmodified one
UPSTREAM_PAIRS = [('passt', 'upstream-passt'),
                  ('passt-vhost-user', 'upstream-passt-vhost-user')]


def against_upstream(results):
    """Table lines: each metric of each mode, ours and upstream's, and
    ours / upstream (medians)."""
    pairs = [(a, b) for a, b in UPSTREAM_PAIRS
             if med(results, a, 'tcp_g2h') is not None or
             med(results, b, 'tcp_g2h') is not None]
    if not pairs:
        return []
    lines = ['', 'Against upstream QEMU 10.2\'s unmodified backend (medians; '
             'ratio: ours / upstream):', '',
             '| metric | unit | ' + ' | '.join(
                 '%s | %s | ratio' % (a, b) for a, b in pairs) + ' |',
             '|---|---|' + '---|---|---|' * len(pairs)]
    for key, label, unit, better, fmt in METRICS:
        cells = []
        for a, b in pairs:
            va, vb = med(results, a, key), med(results, b, key)
            cells += [fmt % va if va is not None else 'n/a',
                      fmt % vb if vb is not None else 'n/a',
                      '%.2fx' % (va / vb) if va is not None and vb else 'n/a']
        if all(c == 'n/a' for c in cells):
            continue
        lines.append('| %s | %s%s | %s |' % (
            label, unit, '' if better == 'hi' else ', lower is better',
            ' | '.join(cells)))
    return lines


def med(results, name, key):
    r = results.get(name)
    if not r or r['status'] != 'ok':
        return None
    s = r['summary'].get(key)
    return s['median'] if s else None


def targets(results):
    """[(PASS|MISS|SKIP, text)] for the issue's targets (never asserted)."""
    out = []

    def ratio(label, a, b, key, want):
        va, vb = med(results, a, key), med(results, b, key)
        if va is None or vb is None or not vb:
            out.append(('SKIP', '%s: %s (%s vs %s not measured)'
                        % (label, METRIC[key][1], a, b)))
            return
        r = va / vb
        out.append(('PASS' if r >= want else 'MISS',
                    '%s: %s: %s/%s = %.2fx (want >= %gx; %.0f vs %.0f %s)'
                    % (label, METRIC[key][1], a, b, r, want, va, vb, METRIC[key][2])))

    for k in TCP_KEYS:
        ratio('passt >= 4x user', 'passt', 'user', k, 4)
    for k in TCP_KEYS:
        ratio('passt >= 0.97x stream', 'passt', 'stream', k, 0.97)
    vu = results.get('passt-vhost-user')
    if vu and vu['status'] != 'ok':
        out.append(('SKIP', 'vhost-user >= 3x passt: %s' % vu['status']))
    else:
        for k in TCP_KEYS:
            ratio('vhost-user >= 3x passt', 'passt-vhost-user', 'passt', k, 3)
    ratio('passt TPS >= 1.5x user', 'passt', 'user', 'tps', 1.5)
    for a, b in UPSTREAM_PAIRS:
        for k in TCP_KEYS + ['tps']:
            ratio('%s >= upstream' % a, a, b, k, 1.0)
    s = med(results, 'passt', 'startup_ms')
    if s is None:
        out.append(('SKIP', 'passt start-up < 50 ms: not measured'))
    else:
        out.append(('PASS' if s < 50 else 'MISS',
                    'passt start-up < 50 ms: %.1f ms to first answered frame '
                    '(ready %.1f + answer %.2f); %.2fx the 50 ms budget'
                    % (s, med(results, 'passt', 'ready_ms') or 0,
                       med(results, 'passt', 'answer_ms') or 0, s / 50)))
    return out


def plot(json_path, png_path):
    """Draw the PNG with bench/plot.py, in an interpreter that has
    matplotlib (Debian's python3-matplotlib is for /usr/bin/python3)."""
    script = os.path.join(HERE, 'plot.py')
    for py in (sys.executable, '/usr/bin/python3'):
        if not os.path.exists(py):
            continue
        ok = subprocess.run([py, '-c', 'import matplotlib'],
                            capture_output=True).returncode == 0
        if ok:
            r = subprocess.run([py, script, json_path, png_path])
            return r.returncode == 0
    log('no matplotlib (apt-get install python3-matplotlib): no plot')
    return False


README = os.path.join(HERE, '..', 'README.md')
README_BEGIN = '<!-- bench table: written by bench/run.py -->'
README_END = '<!-- end of bench table -->'


def update_readme(report, path=README):
    """Put the report (table, targets) between README's markers."""
    with open(path) as f:
        text = f.read()
    start, end = text.find(README_BEGIN), text.find(README_END)
    if start < 0 or end < start:
        log('%s: no bench table markers, not updated' % path)
        return False
    body = report.split('\n', 2)[2]        # without the '# title' line
    text = (text[:start + len(README_BEGIN)] + '\n' + body.rstrip('\n') +
            '\n\n![throughput per backend](bench/results/throughput.png)\n' +
            text[end:])
    with open(path, 'w') as f:
        f.write(text)
    return True


# ----------------------------------------------------------------- main ----
def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog='Backends: ' + ', '.join(BY_NAME))
    p.add_argument('--quick', action='store_true', help='1 run x 2 s each')
    p.add_argument('--runs', type=int, default=3)
    p.add_argument('--seconds', type=int, default=5)
    p.add_argument('--backends', default=','.join(BY_NAME),
                   help='comma-separated (default: all)')
    p.add_argument('--only', default='',
                   help='comma-separated subset of tcp,tps,udp,startup,syscalls')
    p.add_argument('--udp-rate', default='100M', help='iperf3 -b (default 100M)')
    p.add_argument('--udp-len', type=int, default=1400,
                   help='UDP datagram size (default 1400: fits every MTU)')
    p.add_argument('--out', default=RESULTS, help='results directory')
    p.add_argument('--accel', help='kvm or tcg (default: guestlib probe)')
    p.add_argument('--no-syscalls', action='store_true',
                   help='do not count syscalls with perf')
    o = p.parse_args()
    SyscallMeter.enabled = not o.no_syscalls
    if o.quick:
        o.runs, o.seconds = 1, 2
    o.only = [x for x in o.only.split(',') if x]
    names = [n.strip() for n in o.backends.split(',') if n.strip()]
    for n in names:
        if n not in BY_NAME:
            p.error('unknown backend %r (have: %s)' % (n, ', '.join(BY_NAME)))
    if os.geteuid() != 0:
        log('warning: not root: the tap backend will fail')
    for tool in ('iperf3', 'ip'):
        if not shutil.which(tool):
            p.error('%s not found (apt-get install iperf3 iproute2)' % tool)

    wait_qemu()
    ensure_built()
    accel = o.accel or probe_accel()
    meta = {'date': datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
            'machine': machine_info(), 'accel': accel, 'mem': '256M',
            'runs': o.runs, 'seconds': o.seconds, 'udp_rate': o.udp_rate,
            'udp_len': o.udp_len, 'backends': names, 'argv': sys.argv[1:]}
    log('%s, %s cores, accel %s, %d x %d s' % (meta['machine']['cpu'],
                                              meta['machine']['cores'], accel,
                                              o.runs, o.seconds))
    results = {'_meta': meta}

    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)

    for n in names:
        be = BY_NAME[n]
        log('=== %s: %s' % (n, be['desc']))
        br = BackendRun(be, o, accel)
        status = 'ok'
        t = time.monotonic()
        try:
            br.run()
        except Unavailable as e:
            status = 'not available: %s' % e
        except GuestError as e:
            status = 'error: %s' % str(e).splitlines()[0]
        except Exception as e:      # noqa: BLE001
            status = 'error: %s: %s' % (type(e).__name__, e)
        log('%s: %s (%.0f s)' % (n, status, time.monotonic() - t))
        results[n] = {'status': status if br.runs or status != 'ok' else
                      'error: nothing measured',
                      'info': br.info, 'runs': br.runs,
                      'summary': {k: summarize([r.get('value') for r in v])
                                  for k, v in br.runs.items()}}
        if results[n]['status'] == 'ok' and not br.runs:
            results[n]['status'] = 'error: nothing measured'

    os.makedirs(o.out, exist_ok=True)
    report = build_report(meta, results, names)
    tl = targets(results)
    report += '\nTargets (printed, not asserted):\n\n' + ''.join(
        '    %s %s\n' % t for t in tl)
    with open(os.path.join(o.out, 'latest.md'), 'w') as f:
        f.write(report)
    with open(os.path.join(o.out, 'latest.json'), 'w') as f:
        json.dump({'meta': meta, 'targets': [list(t) for t in tl],
                   'backends': {n: results[n] for n in names}}, f, indent=1,
                  default=str)
    png = os.path.join(o.out, 'throughput.png')
    if plot(os.path.join(o.out, 'latest.json'), png):
        log('plot: %s' % png)
    print(report)
    log('written: %s/latest.md, latest.json' % o.out)
    # Only a full run of every backend stands for the README
    if (o.out == RESULTS and not o.only and not o.quick and
            names == list(BY_NAME) and update_readme(report)):
        log('README.md: table updated')
    return 0


if __name__ == '__main__':
    sys.exit(main())
