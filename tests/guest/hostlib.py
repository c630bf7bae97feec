"""Host side of the guest suite: what passt should mirror, small servers on
host loopback (TCP/UDP echo, a TCP sink, a DNS responder), network
namespaces of our own, free ports, a guest "agent" and TAP output.

Standard library, and guestlib (on QEMU's qemu.machine and qemu.qmp).
"""

import ctypes
import ipaddress
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, os.path.join(TOP, 'guest'))
from guestlib import (BUILD, QEMU, Guest, GuestError,  # noqa: E402,F401
                      ensure_built, probe_accel)

PASST = os.path.abspath(os.environ.get(
    'PASST', os.path.join(BUILD, 'passt', 'bin', 'passt')))
PASST_MAC = '9a:55:9a:55:9a:55'     # passt's default MAC (MAC_OUR_LAA)
PASST_MTU = 65520                   # passt's default MTU for the guest
GUEST_MAC = '52:54:00:12:34:56'     # QEMU's default MAC of the first NIC


# --------------------------------------------------------------- TAP ----
class Tap:
    """TAP producer. Checks are numbered as they are printed (groups run
    in parallel, so in completion order); the plan is known up front."""

    def __init__(self, total):
        self.lock = threading.Lock()
        self.n = 0
        self.failed = 0
        self.skipped = 0
        print('1..%d' % total, flush=True)

    def emit(self, results):
        with self.lock:
            for name, status, diag in results:
                if status == 'info':
                    print('# ' + diag)
                    continue
                self.n += 1
                if status == 'skip':
                    self.skipped += 1
                    print('ok %d - %s # SKIP %s' % (self.n, name, diag))
                    continue
                if status == 'ok':
                    print('ok %d - %s' % (self.n, name))
                else:
                    self.failed += 1
                    print('not ok %d - %s' % (self.n, name))
                for line in (diag or '').splitlines() if status != 'ok' else ():
                    print('# ' + line)
            sys.stdout.flush()


class Checks:
    """The checks of one group, declared up front so that a group that
    breaks half way still reports every check (as not ok)."""

    def __init__(self, group, names):
        self.group = group
        self.names = list(names)
        self.results = {}
        self.notes = []          # extra diagnostics for failures
        self.infos = []          # '# ' lines printed after the group

    def _set(self, name, status, diag=''):
        assert name in self.names, 'undeclared check %r' % name
        assert name not in self.results, 'check %r reported twice' % name
        self.results[name] = (status, diag)

    def ok(self, name, cond, diag=''):
        self._set(name, 'ok' if cond else 'not ok', diag)
        return bool(cond)

    def eq(self, name, got, want, what=''):
        return self.ok(name, got == want,
                       '%sgot:  %r\nwant: %r' % (what + '\n' if what else '',
                                                 got, want))

    def skip(self, name, reason):
        self._set(name, 'skip', reason)

    def finish(self, error=None, diagnostics=''):
        out = []
        first = True
        for name in self.names:
            status, diag = self.results.get(
                name, ('not ok', 'not reached: %s' % (error or 'no result')))
            if status == 'not ok':
                extra = self.notes + ['error: %s' % error] if error else self.notes
                if diagnostics and first:
                    extra = extra + diagnostics.splitlines()[-150:]
                first = False
                diag = '\n'.join([diag] + extra).strip()
            out.append(('%s: %s' % (self.group, name), status, diag))
        for i in self.infos:
            out.append((None, 'info', '%s: %s' % (self.group, i)))
        return out


# ------------------------------------------------------ host config ----
def _ipj(*args, ns=None):
    pre = ['ip', '-n', ns] if ns else ['ip']
    out = subprocess.run(pre + ['-j'] + list(args), capture_output=True,
                         text=True).stdout
    return json.loads(out or '[]')


def resolv_nameservers(path='/etc/resolv.conf'):
    ns = []
    try:
        with open(path) as f:
            for line in f:
                w = line.split()
                if len(w) >= 2 and w[0] == 'nameserver':
                    ns.append(w[1])
    except OSError:
        pass
    return ns


def mirror(ns=None, resolv='/etc/resolv.conf'):
    """What passt offers the guest, derived the way passt does it (conf.c):
    the template interface is the one with the default route; the guest
    gets its first address and prefix, the default gateway (also the
    address mapped to host loopback), and the nameservers of resolv.conf,
    a loopback one replaced by the gateway. IPv6: the interface's global
    address, a /64 from it for SLAAC, and as router the gateway if
    link-local, else the host's own link-local address there."""
    m = {}
    r4 = _ipj('-4', 'route', 'show', 'default', ns=ns)
    if r4:
        dev, gw = r4[0]['dev'], r4[0].get('gateway')
        a = [ai for x in _ipj('-4', 'addr', 'show', 'dev', dev, ns=ns)
             for ai in x.get('addr_info', [])]
        if a and gw:
            m.update(dev4=dev, ip=a[0]['local'], prefix=str(a[0]['prefixlen']),
                     router=gw)
            m['mask'] = str(ipaddress.ip_network(
                '0.0.0.0/%s' % m['prefix']).netmask)
            dns = []
            for n in resolv_nameservers(resolv):
                try:
                    a4 = ipaddress.IPv4Address(n)
                except ValueError:
                    continue
                if a4.is_loopback or n == gw:
                    n = gw
                if n not in dns:
                    dns.append(n)
            m['dns'] = ' '.join(dns)
    r6 = _ipj('-6', 'route', 'show', 'default', ns=ns)
    if r6:
        dev, gw = r6[0]['dev'], r6[0].get('gateway')
        ai = [ai for x in _ipj('-6', 'addr', 'show', 'dev', dev, ns=ns)
              for ai in x.get('addr_info', [])]
        glob = [a for a in ai if a.get('scope') == 'global']
        ll = [a for a in ai if a.get('scope') == 'link']
        if glob and gw:
            m['ip6'] = glob[0]['local']
            m['net6'] = str(ipaddress.ip_network(glob[0]['local'] + '/64',
                                                 strict=False))
            m['gw6'] = gw
            m['router6'] = gw if gw.startswith('fe80:') else (
                ll[0]['local'] if ll else None)
    return m


def slaac(net6, mac):
    """SLAAC (EUI-64) address of mac in net6."""
    b = bytes.fromhex(mac.replace(':', ''))
    eui = bytes([b[0] ^ 2]) + b[1:3] + b'\xff\xfe' + b[3:]
    n = ipaddress.IPv6Network(net6)
    return str(n.network_address + int.from_bytes(eui, 'big'))


def passt_report(qemu_log):
    """Parse passt's startup report (trace event net_passt_output of the
    10.0 series, net_passt_child_output of the upstream one)."""
    lines = [m.group(1) for m in
             re.finditer(r'net_passt(?:_child)?_output passt (?:pid \d+|\(pid \d+\)): '
                         r'(.*)$', qemu_log, re.M)]
    rep, sect = {}, None
    for l in lines:
        if not l.startswith(' '):
            sect = l.rstrip(':')
            continue
        l = l.strip()
        if ':' in l and sect in ('DHCP', 'NDP/DHCPv6', 'MAC'):
            k, v = l.split(':', 1) if sect != 'MAC' else l.split(': ', 1)
            rep['%s %s' % (sect, k.strip())] = v.strip()
        elif sect == 'DNS' and ' ' not in l:
            rep.setdefault('DNS', []).append(l)
    return rep


def passt_pids():
    """{pid: cmdline list} of running passt processes of our build."""
    out = {}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            exe = os.readlink('/proc/%s/exe' % d)
            with open('/proc/%s/cmdline' % d, 'rb') as f:
                cmd = f.read().split(b'\0')[:-1]
        except OSError:
            continue
        if os.path.basename(exe).startswith('passt'):
            out[int(d)] = [c.decode() for c in cmd]
    return out


def pid_state(pid):
    """'gone', or the /proc state letter (e.g. 'S', 'Z' for a zombie)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0]
    except OSError:
        return 'gone'


def wait_gone(pid, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid_state(pid) == 'gone':
            return 'gone'
        time.sleep(0.05)
    return pid_state(pid)


def passt_netdevs(info_network):
    """{netdev id: status text} from HMP 'info network'."""
    return {m.group(1): m.group(2) for m in re.finditer(
        r'(\S+): index=\d+,type=passt,(.*?)\s*$', info_network, re.M)}


# A running passt in either series' 'info network' form: this project's
# 10.0 series ('passt: stream, pid N') or upstream's ('stream,connected to
# pid N'), optionally followed by the repair socket.
RUNNING = re.compile(r'(?:passt: )?(stream|vhost-user)(?:, |,connected to )'
                     r'pid (\d+)(?:,|$)')


def info_pid(status):
    m = RUNNING.match(status or '')
    return int(m.group(2)) if m and m.group(1) == 'stream' else None


def info_passt(status):
    """(mode, pid, repair socket) from a passt netdev's 'info network'
    status: 'passt: vhost-user, pid 1234, repair socket /d/passt.socket.repair'
    -> ('vhost-user', 1234, '/d/passt.socket.repair'); Nones if it is not
    running (starting, restarting, failed)."""
    m = RUNNING.match(status or '')
    if not m:
        return None, None, None
    r = re.search(r', ?repair socket (.+?)\s*$', status)
    return m.group(1), int(m.group(2)), r and r.group(1)


def exe_name(pid):
    try:
        return os.path.basename(os.readlink('/proc/%d/exe' % pid))
    except OSError:
        return None


def unix_listening(path, timeout=20):
    """Wait until a unix stream socket listens on path (/proc/net/unix:
    __SO_ACCEPTCON in Flags); the file alone may be bound, not yet
    listening, and connecting to find out would be a client to passt."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open('/proc/net/unix') as f:
                for l in f.readlines()[1:]:
                    w = l.split()
                    if len(w) >= 8 and w[7] == path and int(w[3], 16) & 0x10000:
                        return True
        except OSError:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def descendants(pid):
    """Processes below pid (children, their children...); pid None (a
    Guest's QEMU gone): none."""
    out, todo = [], [pid] if pid else []
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir('/proc/%d/task' % p)
        except OSError:
            continue
        for t in tasks:
            try:
                with open('/proc/%d/task/%s/children' % (p, t)) as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


class Procs:
    """What a group must not leave behind: its QEMUs and what they started
    (passt, passt-repair, and passt's private directories), noted with
    see() while they run, and processes the group started itself (add())."""

    def __init__(self):
        self.pids = {}          # pid -> executable name when seen
        self.dirs = set()       # directories of passt's --socket and --pid

    def add(self, pid):
        name = exe_name(pid)
        if name:
            self.pids[pid] = name

    def see(self, *guests):
        for g in guests:
            pid = g and g.pid
            if pid:
                self.add(pid)
                for p in descendants(pid):
                    self.add(p)
                    try:
                        with open('/proc/%d/cmdline' % p, 'rb') as f:
                            cmd = f.read().decode(errors='replace').split('\0')
                    except OSError:
                        continue
                    for i, w in enumerate(cmd[:-1]):
                        if w in ('--socket', '--pid'):
                            self.dirs.add(os.path.dirname(cmd[i + 1]))

    def alive(self):
        return {p: n for p, n in self.pids.items()
                if pid_state(p) not in ('gone', 'Z') and exe_name(p) == n}

    def leftovers(self, timeout=10):
        """{pid: name, directory: 'directory'} of what is still there after
        timeout s; processes are then killed, directories removed."""
        deadline = time.monotonic() + timeout
        while (self.alive() or any(os.path.exists(d) for d in self.dirs)) and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        left = self.alive()
        for p in left:
            try:
                os.kill(p, 9)
            except OSError:
                pass
        for d in sorted(self.dirs):
            if os.path.exists(d):
                left[d] = 'directory'
                subprocess.run(['rm', '-rf', d])
        return left


# ------------------------------------------------------------ ports ----
def _free(port, kinds):
    for fam, typ, addr in kinds:
        s = socket.socket(fam, typ)
        try:
            s.bind((addr, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


_port_lock = threading.Lock()
_next_port = [20000 + (os.getpid() * 97) % 20000]


def free_ports(n, consecutive=True):
    """n ports free for TCP and UDP on IPv4 and IPv6 wildcard (so passt can
    bind them); never the same port twice in one run."""
    kinds = [(socket.AF_INET, socket.SOCK_STREAM, ''),
             (socket.AF_INET, socket.SOCK_DGRAM, ''),
             (socket.AF_INET6, socket.SOCK_STREAM, '::'),
             (socket.AF_INET6, socket.SOCK_DGRAM, '::')]
    with _port_lock:
        while True:
            base = _next_port[0]
            _next_port[0] += n
            if _next_port[0] > 60000:
                _next_port[0] = 20000
            ports = list(range(base, base + n))
            if all(_free(p, kinds) for p in ports):
                return ports


# ---------------------------------------------------------- netns ------
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def in_netns(ns, fn, *args):
    """Run fn(*args) in a thread that entered network namespace ns (so
    sockets it creates live there); None: here."""
    if not ns:
        return fn(*args)
    box = {}

    def run():
        try:
            fd = os.open('/run/netns/' + ns, os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), 'setns ' + ns)
            finally:
                os.close(fd)
            box['r'] = fn(*args)
        except BaseException as e:      # noqa: B902
            box['e'] = e
    t = threading.Thread(target=run)
    t.start()
    t.join()
    if 'e' in box:
        raise box['e']
    return box['r']


class Netns:
    """A network namespace of our own that looks like a host: veth v0 with
    198.51.100.2/24 and fd42::2/64, default routes via .1 / fd42::1 (the
    other end, v1, is also ours and has no address: nothing leaves), ping
    sockets allowed, and its own resolv.conf (ip netns exec bind-mounts
    /etc/netns/NAME/resolv.conf)."""

    def __init__(self, tag, nameserver='127.0.0.1'):
        self.name = 'pt%d%s' % (os.getpid(), tag)
        self.etc = '/etc/netns/' + self.name
        self.nameserver = nameserver

    def __enter__(self):
        n = self.name
        cmds = [
            ['ip', 'netns', 'add', n],
            ['ip', '-n', n, 'link', 'set', 'lo', 'up'],
            ['ip', '-n', n, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1'],
            ['ip', '-n', n, 'addr', 'add', '198.51.100.2/24', 'dev', 'v0'],
            ['ip', '-n', n, 'addr', 'add', 'fd42::2/64', 'dev', 'v0', 'nodad'],
            ['ip', '-n', n, 'link', 'set', 'v0', 'up'],
            ['ip', '-n', n, 'link', 'set', 'v1', 'up'],
            ['ip', '-n', n, 'route', 'add', 'default', 'via', '198.51.100.1'],
            ['ip', '-n', n, '-6', 'route', 'add', 'default', 'via', 'fd42::1',
             'dev', 'v0'],
            ['ip', 'netns', 'exec', n, 'sysctl', '-qw',
             'net.ipv4.ping_group_range=0 2147483647'],
        ]
        try:
            for c in cmds:
                subprocess.run(c, check=True, capture_output=True)
            os.makedirs(self.etc, exist_ok=True)
            with open(self.etc + '/resolv.conf', 'w') as f:
                f.write('nameserver %s\n' % self.nameserver)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        subprocess.run(['ip', 'netns', 'del', self.name], capture_output=True)
        subprocess.run(['rm', '-rf', self.etc])

    def mirror(self):
        return mirror(ns=self.name, resolv=self.etc + '/resolv.conf')


class NsGuest(Guest):
    """A guest whose QEMU (and so passt) runs in network namespace ns."""

    def __init__(self, ns, **kw):
        super().__init__(**kw)
        self.ns = ns

    def wrapper(self):
        return ['ip', 'netns', 'exec', self.ns] if self.ns else []


# -------------------------------------------------------- servers ------
class Server:
    """Base: one socket serving in a thread until close()."""

    def __init__(self, addr='127.0.0.1', port=0, ns=None, udp=False):
        fam = socket.AF_INET6 if ':' in addr else socket.AF_INET
        typ = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
        self.sock = in_netns(ns, socket.socket, fam, typ)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, port))
        if not udp:
            self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.peers = []
        self.stop = False
        threading.Thread(target=self._loop, daemon=True).start()

    def close(self):
        self.stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class TcpEcho(Server):
    """Reads one line, answers 'host-tcp:LINE' (tag configurable)."""

    def __init__(self, *a, tag='host-tcp', **kw):
        self.tag = tag.encode()
        super().__init__(*a, **kw)

    def _loop(self):
        while not self.stop:
            try:
                c, peer = self.sock.accept()
            except OSError:
                return
            self.peers.append(peer)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        with c:
            c.settimeout(10)
            try:
                line = c.makefile('rb').readline().strip()
                c.sendall(self.tag + b':' + line + b'\n')
            except OSError:
                pass


class TcpSink(TcpEcho):
    """Counts what it receives (connections may be cut)."""

    def __init__(self, *a, **kw):
        self.received = 0
        super().__init__(*a, **kw)

    def _serve(self, c):
        with c:
            try:
                while True:
                    b = c.recv(65536)
                    if not b:
                        return
                    self.received += len(b)
            except OSError:
                return


class TcpHold(TcpEcho):
    """Keeps each connection: collects what arrives in order (data), how
    the last one ended (end: None while open, 'eof' or the error, e.g. a
    reset), and send() writes to the latest one. At EOF it closes its
    side too."""

    def __init__(self, *a, **kw):
        self.data = b''
        self.end = None
        self.conns = []
        super().__init__(*a, **kw)

    def _serve(self, c):
        self.conns.append(c)
        try:
            while True:
                b = c.recv(65536)
                if not b:
                    self.end = 'eof'
                    break
                self.data += b
        except OSError as e:
            self.end = repr(e)
        c.close()

    def send(self, data):
        self.conns[-1].sendall(data)

    def wait(self, cond, timeout=30):
        """Wait until cond(self) is true; return it."""
        deadline = time.monotonic() + timeout
        while not cond(self) and time.monotonic() < deadline:
            time.sleep(0.05)
        return cond(self)

    def close(self):
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        super().close()


class TcpPattern(TcpEcho):
    """Checks that what arrives on each connection is `pattern` over and
    over, without keeping it: bytes (total), bad (offset of the first byte
    that differs, or None), end ('eof' or the error)."""

    def __init__(self, pattern, *a, **kw):
        self.pattern = pattern
        self.bytes = 0
        self.bad = None
        self.end = None
        super().__init__(*a, **kw)

    def _serve(self, c):
        pat, n = self.pattern * 2, len(self.pattern)
        with c:
            try:
                while True:
                    b = c.recv(1 << 20)
                    if not b:
                        self.end = 'eof'
                        return
                    for i in range(0, len(b), n):
                        chunk = b[i:i + n]
                        off = (self.bytes + i) % n
                        if self.bad is None and chunk != pat[off:off + len(chunk)]:
                            self.bad = self.bytes + i
                    self.bytes += len(b)
            except OSError as e:
                self.end = repr(e)


class UdpEcho(Server):
    def __init__(self, *a, tag='host-udp', **kw):
        self.tag = tag.encode()
        super().__init__(*a, udp=True, **kw)

    def _loop(self):
        while not self.stop:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            if self.stop or peer is None:
                return
            self.peers.append(peer)
            try:
                self.sock.sendto(self.tag + b':' + data.strip() + b'\n', peer)
            except OSError:
                pass


class DnsResponder(Server):
    """A tiny DNS server: A queries for names in `names` get that address,
    other A/AAAA queries for those names an empty answer, anything else
    NXDOMAIN. Records the queries (name, type)."""

    def __init__(self, names, addr='127.0.0.1', port=53, ns=None):
        self.names = {k.lower().rstrip('.'): v for k, v in names.items()}
        self.queries = []
        super().__init__(addr, port, ns=ns, udp=True)

    def _loop(self):
        while not self.stop:
            try:
                q, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            if self.stop or peer is None:
                return
            try:
                self.sock.sendto(self.answer(q), peer)
            except (OSError, ValueError, IndexError, struct.error):
                pass

    def answer(self, q):
        qid, flags, qd = struct.unpack('!HHH', q[:6])
        i, labels = 12, []
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode())
            i += 1 + q[i]
        qtype, _ = struct.unpack('!HH', q[i + 1:i + 5])
        question = q[12:i + 5]
        name = '.'.join(labels).lower()
        self.queries.append((name, qtype))
        rcode, answers = 0, b''
        if name not in self.names:
            rcode = 3
        elif qtype == 1:
            answers = (b'\xc0\x0c' + struct.pack('!HHIH', 1, 1, 60, 4) +
                       socket.inet_aton(self.names[name]))
        return (struct.pack('!HHHHHH', qid, 0x8180 | (flags & 0x0100) | rcode,
                            1, 1 if answers else 0, 0, 0) + question + answers)


# ---------------------------------------------------------- agent ------
AGENT = r'''
. /lib/guest-lib.sh
sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
for i in /proc/sys/net/ipv6/conf/eth*/accept_dad; do echo 0 > $i; done 2>/dev/null
# tcp_echo ADDR PORT MSG: one line there, print the answer
tcp_echo() {
    case $1 in *:*) a="TCP6:[$1]:$2" ;; *) a="TCP4:$1:$2" ;; esac
    echo "$3" | timeout ${4:-6} socat -T4 - "$a,connect-timeout=${4:-4}" 2>/dev/null
}
udp_echo() {
    case $1 in *:*) a="UDP6:[$1]:$2" ;; *) a="UDP4:$1:$2" ;; esac
    echo "$3" | timeout 4 socat -t ${4:-2} -T ${4:-2} - "$a" 2>/dev/null | head -n1
}
# dhcp6_solicit IFACE [SECONDS]: send a DHCPv6 SOLICIT, print the reply in hex
dhcp6_solicit() {
    mac=$(cat /sys/class/net/$1/address | sed 's/:/\\x/g')
    rm -f /tmp/d6; : > /tmp/d6
    timeout ${2:-2} socat -u UDP6-RECV:546 OPEN:/tmp/d6,append 2>/dev/null &
    rpid=$!
    usleep 200000
    printf "\x01\x00\x00\x2a\x00\x01\x00\x0a\x00\x03\x00\x01\x$mac\x00\x03\x00\x0c\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00" |
        socat -u - "UDP6-SENDTO:[ff02::1:2%$1]:547" 2>/dev/null
    wait $rpid
    od -An -tx1 -v /tmp/d6 | tr -d ' \n'
    echo
}
# wait_mac MAC SECONDS: print the interface with that MAC once it exists
wait_mac() {
    i=0
    while [ $i -lt $(($2 * 10)) ]; do
        for d in /sys/class/net/*; do
            [ "$(cat $d/address)" = "$1" ] && { iface=${d##*/}; echo "iface=$iface"; return 0; }
        done
        usleep 100000; i=$((i + 1))
    done
    return 1
}
# wait_gone IFACE SECONDS
wait_gone() {
    i=0
    while [ -e /sys/class/net/$1 ]; do
        [ $i -ge $(($2 * 10)) ] && return 1
        usleep 100000; i=$((i + 1))
    done
}
# wait_grep FILE TEXT SECONDS: wait until FILE contains TEXT
wait_grep() {
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        [ $i -ge $(($3 * 10)) ] && return 1
        usleep 100000; i=$((i + 1))
    done
}
echo @@ready
while host_read cmd; do
    [ "$cmd" = quit ] && break
    echo "$cmd" | base64 -d > /tmp/cmd
    . /tmp/cmd
    echo "@@done $?"
done
'''


class Agent:
    """Runs shell snippets in the guest, one at a time, over the results
    port: sh(text) -> (status, output lines)."""

    def __init__(self, guest, boot_timeout=60):
        self.g = guest
        guest.wait_for(r'^@@ready$', timeout=boot_timeout)

    def sh(self, text, timeout=30):
        import base64
        g = self.g
        with g._cond:
            start = len(g.lines)
            g._cursor = start
        g.send(base64.b64encode(text.encode()).decode() + '\n')
        m = g.wait_for(r'^@@done (\d+)$', timeout=timeout)
        with g._cond:
            out = g.lines[start:g._cursor - 1]
        return int(m.group(1)), out

    def kv(self, text, timeout=30):
        """Run text; its key=value lines as a dict (plus 'rc')."""
        rc, out = self.sh(text, timeout)
        d = {'rc': rc}
        for l in out:
            if '=' in l:
                k, v = l.split('=', 1)
                d[k] = v
        return d

    def quit(self, timeout=30):
        self.g.send('quit\n')
        return self.g.wait(timeout)

    def follow(self, guest):
        """Talk to the guest through guest from now on: the QEMU its VM
        was migrated to (the agent goes on running, unaware)."""
        self.g = guest


def agent_guest(netdev, ns=None, trace=True, extra=(), **kw):
    ex = list(extra)
    if trace:
        ex += ['-trace', 'net_passt*']
    return NsGuest(ns, netdev=netdev, script=AGENT, extra_args=ex, **kw)


# ------------------------------------------------------- migration -----
def incoming_guest(netdev, **kw):
    """The destination of a migration: a QEMU like agent_guest(netdev,
    **kw), waiting with -incoming defer (see migrate())."""
    kw['extra'] = list(kw.get('extra', ())) + ['-incoming', 'defer']
    return agent_guest(netdev, qmp=True, **kw)


def migrate_start(src, dst, capabilities=None, bandwidth=4 << 30,
                  downtime_limit=2000):
    """Start live-migrating the VM of src into dst (an incoming_guest) over
    a unix socket in dst's directory; capabilities ({'return-path': True})
    are set on both sides first; bandwidth: max-bandwidth in bytes/s;
    downtime_limit: downtime-limit in ms."""
    if capabilities:
        caps = [{'capability': k, 'state': v} for k, v in capabilities.items()]
        for g in (src, dst):
            g.qmp.cmd('migrate-set-capabilities', capabilities=caps)
    uri = 'unix:' + dst._path('migrate.sock')
    dst.qmp.cmd('migrate-incoming', uri=uri)
    src.qmp.cmd('migrate-set-parameters', **{'max-bandwidth': bandwidth,
                                             'downtime-limit': downtime_limit})
    src.qmp.cmd('migrate', uri=uri)


def migrate_wait(src, until=('completed', 'failed', 'cancelled'), timeout=120,
                 cond=None):
    """The source's query-migrate once its status is in until, or cond(it)
    is true, or timeout s passed (then whatever it is)."""
    deadline = time.monotonic() + timeout
    while True:
        st = src.qmp.cmd('query-migrate')
        if st.get('status') in until or (cond and cond(st)) or \
                time.monotonic() > deadline:
            return st
        time.sleep(0.05)


def migrate(src, dst, timeout=120, capabilities=None, **params):
    """Live-migrate the VM of src into dst (an incoming_guest) over a unix
    socket in dst's directory; wait until it runs there. Local socket: no
    need to throttle; TCG guests dirty little memory. params: more
    arguments of migrate_start(). Returns the source's last query-migrate;
    raises GuestError if it fails."""
    migrate_start(src, dst, capabilities, **params)
    deadline = time.monotonic() + timeout
    st = migrate_wait(src, timeout=timeout)
    if st.get('status') != 'completed':
        raise GuestError('migration %s: %s\n--- source ---\n%s\n'
                         '--- destination ---\n%s' % (
                             st.get('status'), st.get('error-desc', ''),
                             src.diagnostics(), dst.diagnostics()))
    while dst.qmp.cmd('query-status')['status'] != 'running':
        if time.monotonic() > deadline:
            raise GuestError('destination not running after migration\n'
                             + dst.diagnostics())
        time.sleep(0.1)
    return st


def drain_events(qmp, prefix='NETDEV_PASST_'):
    """Forget the events called prefix... that QEMU sent so far (the answer
    to a command comes after them): what the caller waits for next is what
    its own action causes, not, say, the CONNECTED of passt's first start,
    which upstream's series sends once QMP is up."""
    qmp.cmd('query-status')
    qmp.events[:] = [e for e in qmp.events if not e['event'].startswith(prefix)]


def wait_event(qmp, name, timeout=10, data=None):
    """The first QMP event called name (removed from qmp.events), with data
    having the items of data if given, waiting up to timeout s; None if
    none came. Polls with a command, whose answer comes after every event
    QEMU sent before it: a timeout on the QMP socket itself would leave it
    unreadable."""
    want = dict(data or {})
    deadline = time.monotonic() + timeout
    while True:
        for i, ev in enumerate(qmp.events):
            got = ev.get('data', {})
            if ev['event'] == name and all(got.get(k) == v for k, v in want.items()):
                return qmp.events.pop(i)
        if time.monotonic() > deadline:
            return None
        qmp.cmd('query-status')
        time.sleep(0.05)


def events_within(qmp, secs, prefix=''):
    """Collect what QEMU sends for secs s; the events so far (left in
    qmp.events) whose name starts with prefix."""
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        qmp.cmd('query-status')
        time.sleep(0.05)
    return [ev for ev in qmp.events if ev['event'].startswith(prefix)]


def retire(g, timeout=30):
    """Quit a QEMU (the source, after a migration) and wait for it."""
    try:
        g.qmp.cmd('quit')
    except (OSError, EOFError):
        pass
    g.wait_exit(timeout)
    g.close()
    return g.exitcode


def dhcp6_parse(hexstr):
    """DHCPv6 reply in hex -> {'type': n, 'addrs': [...], 'options': {}}"""
    try:
        b = bytes.fromhex(hexstr.strip())
    except ValueError:
        return None
    if len(b) < 4:
        return None
    res = {'type': b[0], 'xid': b[1:4].hex(), 'addrs': [], 'options': {}}
    i = 4
    while i + 4 <= len(b):
        code, ln = struct.unpack('!HH', b[i:i + 4])
        val = b[i + 4:i + 4 + ln]
        res['options'][code] = val.hex()
        if code == 3:               # IA_NA: iaid, t1, t2, options
            j = 12
            while j + 4 <= len(val):
                c2, l2 = struct.unpack('!HH', val[j:j + 4])
                if c2 == 5:         # IAADDR
                    res['addrs'].append(str(ipaddress.IPv6Address(val[j + 4:j + 20])))
                j += 4 + l2
        i += 4 + ln
    return res
