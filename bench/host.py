"""Host-side helpers: processes, the tap namespace, iperf3's JSON, the
request/response client, pcap and DHCP parsing, and what the QEMU and
passt binaries are and can do.
"""

import json
import os
import platform
import socket
import subprocess
import time

from backends import TAP_MTU, TAP_NET
from config import SERIES, TOP, log
import hostlib as H


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
    """Namespace bench-tap-PID[-N] with tap device bt0 (TAP_NET host
    side); N for a second one at the same time (a pair of tap guests)."""
    count = 0

    def __init__(self):
        TapNetns.count += 1
        self.name = 'bench-tap-%d' % os.getpid() + (
            '-%d' % TapNetns.count if TapNetns.count > 1 else '')
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




def qemu_version(qemu):
    try:
        return subprocess.run([qemu, '--version'], capture_output=True,
                              text=True, timeout=30).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return '?'


def wait_qemu(qemu, timeout=900):
    """The QEMU build may be relinked under us: wait until it runs."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = subprocess.run([qemu, '--version'], capture_output=True, timeout=30)
            if r.returncode == 0:
                time.sleep(1)       # and is not being written right now
                if subprocess.run([qemu, '--version'], capture_output=True,
                                  timeout=30).returncode == 0:
                    return
        except (OSError, subprocess.TimeoutExpired):
            pass
        if time.monotonic() > deadline:
            raise SystemExit('bench: %s does not run' % qemu)
        log('waiting for %s (being rebuilt?)' % qemu)
        time.sleep(10)


class QemuCaps:
    """What a QEMU binary's -netdev passt offers, from its QMP schema:
    the members of netdev_add's passt variant (pcap-file is the 10.0
    series' only; everyone has param) and the events (upstream as released
    has no NETDEV_PASST_CONNECTED). Asked once per binary."""
    _cache = {}

    def __init__(self, members, events):
        self.members, self.events = members, events

    @property
    def pcap_file(self):
        return 'pcap-file' in self.members

    @property
    def connected_event(self):
        return 'NETDEV_PASST_CONNECTED' in self.events

    @classmethod
    def of(cls, binary, qmp):
        if binary not in cls._cache:
            schema = {e['name']: e for e in qmp.cmd('query-qmp-schema')}
            events = {n for n, e in schema.items() if e['meta-type'] == 'event'}
            members = set()
            netdev = schema.get(schema['netdev_add'].get('arg-type'), {})
            for v in netdev.get('variants', []):
                if v['case'] == 'passt':
                    members = {m['name'] for m in schema[v['type']]['members']}
            cls._cache[binary] = cls(members, events)
        return cls._cache[binary]


def machine_info(ours, anchors):
    """The machine, and the versions of the binaries: ours (a path) and
    anchors (the config.ANCHORS entries that run)."""
    cpu = platform.processor() or '?'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    def version(path):
        return '%s (%s)' % (qemu_version(path), os.path.relpath(path, TOP))
    pver = '%s (%s)' % (passt_version(H.PASST) or
                        'passt version not reported',
                        os.path.relpath(H.PASST, TOP))
    with open('/proc/loadavg') as f:
        load = f.read().split()[:3]
    return {'cpu': cpu, 'cores': os.cpu_count(), 'kernel': platform.release(),
            'host': platform.node(), 'series': SERIES,
            'qemu': version(ours),
            'qemu_anchors': {a['key']: version(a['qemu']) for a in anchors},
            'passt': pver, 'loadavg': load}
