#!/usr/bin/env python3
"""End-to-end guest tests of QEMU's -netdev passt against the real passt.

Boots the test guest (guest/build-guest.sh) on -netdev passt and checks what
the guest sees. TAP on stdout; exit status 1 if a check failed.

    python3 tests/guest/run.py [-j JOBS] [-k REGEX] [-l]

Groups of checks share one guest boot; up to JOBS (default 2) QEMUs run at
once. Guest traffic only reaches host loopback (through passt's mapping of
the gateway address) or network namespaces the suite creates itself.
Environment: QEMU, PASST (binaries), GUEST_ACCEL (kvm|tcg).
"""

import argparse
import concurrent.futures
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostlib as H  # noqa: E402
from hostlib import Agent, agent_guest, Checks  # noqa: E402

P = H.PASST
GROUPS = []


def group(name, checks):
    def deco(fn):
        GROUPS.append((name, checks, fn))
        return fn
    return deco


def nd(opts='', nid='n0'):
    return 'passt,id=%s,path=%s%s' % (nid, P, (',' + opts) if opts else '')


def lines_kv(lines):
    return dict(l.split('=', 1) for l in lines if '=' in l)


NET_UP = '''
net_up eth0 || echo lease=none
net_up6 eth0 %s || echo slaac=none
'''


# ------------------------------------------------------------------------
@group('defaults', [
    'dhcpv4 address is the host address',
    'dhcpv4 prefix is the host prefix',
    'dhcpv4 router is the host gateway',
    'dhcpv4 dns is the host nameservers',
    'dhcpv4 mtu is passt default 65520',
    'passt startup report agrees with the host',
    'slaac address from the host ipv6 prefix',
    'ipv6 default route via passt link-local',
    'dhcpv6 advertise carries the host ipv6 address',
    'gateway neighbour is passt default mac',
    'tcp to host loopback via gateway',
    'udp to host loopback via gateway',
    'tcp to host ::1 via ipv6 gateway',
    'udp to host ::1 via ipv6 gateway',
    'info network shows passt pid',
    'pcap-file is a readable capture',
    'pcap-file capture has the dhcp exchange',
    'passt exits with qemu',
])
def g_defaults(c):
    m = H.mirror()
    pdir = tempfile.mkdtemp(prefix='passt-pcap-')
    os.chmod(pdir, 0o777)           # passt may run as nobody
    pcap = os.path.join(pdir, 'guest.pcap')
    srv = [H.TcpEcho('127.0.0.1'), H.UdpEcho('127.0.0.1'),
           H.TcpEcho('::1'), H.UdpEcho('::1')]
    try:
        g = agent_guest([nd('pcap-file=' + pcap)], qmp=True)
        c.guests.append(g)
        with g:
            a = Agent(g)
            info = g.qmp.hmp('info network') if g.qmp else None
            r = a.kv(NET_UP % 10)
            gw, gw6 = r.get('router', 'none'), m.get('gw6', 'none')
            r.update(a.kv('''
echo "dhcp6=$(dhcp6_solicit eth0)"
echo "tcp=$(tcp_echo %s %d hello4)"
echo "neigh=$(ip neigh show %s dev eth0)"
echo "udp=$(udp_echo %s %d hello4u)"
echo "tcp6=$(tcp_echo %s %d hello6)"
echo "udp6=$(udp_echo %s %d hello6u)"
''' % (gw, srv[0].port, gw, gw, srv[1].port, gw6, srv[2].port,
                gw6, srv[3].port)))
            c.notes.append('guest: %r' % {k: v for k, v in r.items() if k != '_out'})
            c.notes.append('host:  %r' % m)
            if 'ip' not in m:
                for n in c.names[:5]:
                    c.skip(n, 'host has no IPv4 default route to mirror')
            else:
                c.eq('dhcpv4 address is the host address', r.get('ip'), m['ip'])
                c.eq('dhcpv4 prefix is the host prefix', r.get('prefix'), m['prefix'])
                c.eq('dhcpv4 router is the host gateway', r.get('router'), m['router'])
                c.eq('dhcpv4 dns is the host nameservers', r.get('dns'), m['dns'])
                c.eq('dhcpv4 mtu is passt default 65520', r.get('mtu'), str(H.PASST_MTU))
            if 'ip6' not in m:
                for n in c.names[6:9] + c.names[12:14]:
                    c.skip(n, 'host has no IPv6 default route to mirror')
            else:
                c.eq('slaac address from the host ipv6 prefix',
                     (r.get('ip6'), r.get('prefix6')),
                     (H.slaac(m['net6'], H.GUEST_MAC), '64'))
                c.eq('ipv6 default route via passt link-local', r.get('router6'),
                     m['router6'])
                d6 = H.dhcp6_parse(r.get('dhcp6', ''))
                c.eq('dhcpv6 advertise carries the host ipv6 address',
                     d6 and (d6['type'], d6['addrs']), (2, [m['ip6']]),
                     'raw reply: %s' % r.get('dhcp6'))
                c.eq('tcp to host ::1 via ipv6 gateway', r.get('tcp6'), 'host-tcp:hello6')
                c.eq('udp to host ::1 via ipv6 gateway', r.get('udp6'), 'host-udp:hello6u')
            c.ok('gateway neighbour is passt default mac',
                 ('lladdr %s ' % H.PASST_MAC) in r.get('neigh', '') + ' ',
                 'neigh: %r' % r.get('neigh'))
            c.eq('tcp to host loopback via gateway', r.get('tcp'), 'host-tcp:hello4')
            c.eq('udp to host loopback via gateway', r.get('udp'), 'host-udp:hello4u')
            st = H.passt_netdevs(info or '').get('n0')
            pid = H.info_pid(st)
            pids = H.passt_pids()
            c.ok('info network shows passt pid', pid in pids and
                 '--fd' in pids.get(pid, []),
                 'info network: %r\npassts: %r' % (info, pids))
            rc = a.quit()
        rep = H.passt_report(g._qemu_log)
        want = {'DHCP assign': m.get('ip'), 'DHCP mask': m.get('mask'),
                'DHCP router': m.get('router'), 'DNS': m.get('dns', '').split(),
                'NDP/DHCPv6 assign': m.get('ip6'),
                'NDP/DHCPv6 our link-local': m.get('router6')}
        c.eq('passt startup report agrees with the host',
             {k: rep.get(k) for k in want}, want, 'full report: %r' % rep)
        c.eq('passt exits with qemu', (rc, H.wait_gone(pid) if pid else None),
             (0, 'gone'))
        tp = subprocess.run(['tcpdump', '-nr', pcap, '-v'], capture_output=True,
                            text=True) if shutil.which('tcpdump') else None
        if tp is None:
            c.skip('pcap-file is a readable capture', 'no tcpdump (apt-get install tcpdump)')
            c.skip('pcap-file capture has the dhcp exchange', 'no tcpdump')
        else:
            st = os.stat(pcap) if os.path.exists(pcap) else None
            npk = len(re.findall(r'^\d\d:\d\d:\d\d\.', tp.stdout, re.M))
            c.infos.append('pcap: %d packets, file owner uid %s' % (npk, st and st.st_uid))
            c.ok('pcap-file is a readable capture', tp.returncode == 0 and npk > 5,
                 'tcpdump rc=%s, %d packets, owner uid %s\n%s' % (
                     tp.returncode, npk, st and st.st_uid, tp.stderr[-500:]))
            msgs = re.findall(r'DHCP-Message \(53\), length 1: (\w+)', tp.stdout)
            c.eq('pcap-file capture has the dhcp exchange', msgs,
                 ['Discover', 'Offer', 'Request', 'ACK'])
    finally:
        for s in srv:
            s.close()
        shutil.rmtree(pdir, ignore_errors=True)


# ------------------------------------------------------------------------
OPTS = ('address=10.0.2.15,netmask=255.255.255.0,gateway=10.0.2.2,mtu=1500,'
        'dns=10.0.2.3,search=a.example,search=b.example,'
        'fqdn=guest.example.org,mac=02:11:22:33:44:55')


@group('options', [
    'address option', 'netmask option', 'gateway option', 'mtu option',
    'mtu option applied to the link', 'dns option', 'search option (twice)',
    'fqdn option', 'mac option is the gateway neighbour',
    'tcp via the given gateway to host loopback',
])
def g_options(c):
    srv = H.TcpEcho('127.0.0.1')
    try:
        g = agent_guest([nd(OPTS)])
        c.guests.append(g)
        with g:
            a = Agent(g)
            r = a.kv('''
net_up eth0 || echo lease=none
echo "tcp=$(tcp_echo 10.0.2.2 %d opts)"
echo "neigh=$(ip neigh show 10.0.2.2 dev eth0)"
echo "linkmtu=$(cat /sys/class/net/eth0/mtu)"
''' % srv.port)
            c.notes.append('guest: %r' % r)
            c.eq('address option', r.get('ip'), '10.0.2.15')
            c.eq('netmask option', (r.get('prefix'), r.get('mask')), ('24', '255.255.255.0'))
            c.eq('gateway option', r.get('router'), '10.0.2.2')
            c.eq('mtu option', r.get('mtu'), '1500')
            c.eq('mtu option applied to the link', r.get('linkmtu'), '1500')
            c.eq('dns option', r.get('dns'), '10.0.2.3')
            c.eq('search option (twice)', r.get('search'), 'a.example b.example')
            c.eq('fqdn option', r.get('fqdn'), 'guest.example.org')
            c.ok('mac option is the gateway neighbour',
                 'lladdr 02:11:22:33:44:55 ' in r.get('neigh', '') + ' ',
                 'neigh: %r' % r.get('neigh'))
            c.eq('tcp via the given gateway to host loopback', r.get('tcp'), 'host-tcp:opts')
            a.quit()
    finally:
        srv.close()


# ------------------------------------------------------------------------
@group('maps', [
    'lease mirrors the namespace (loopback resolver -> mapped address)',
    'tcp via map-host-loopback address',
    'udp via map-host-loopback address',
    'icmp echo to map-host-loopback address',
    'tcp via map-guest-addr reaches host at guest address',
    'udp via map-guest-addr reaches host at guest address',
    'gateway not mapped when map-host-loopback is set',
    'dns via loopback resolver answers the guest',
])
def g_maps(c):
    with H.Netns('m', nameserver='127.0.0.1') as ns:
        n = ns.name
        m = ns.mirror()
        srv = [H.TcpEcho('127.0.0.1', ns=n), H.UdpEcho('127.0.0.1', ns=n),
               H.TcpEcho('198.51.100.2', ns=n, tag='host-at-guest-addr'),
               H.UdpEcho('198.51.100.2', ns=n, tag='host-at-guest-addr'),
               H.DnsResponder({'passt-test.example': '203.0.113.7'}, ns=n)]
        try:
            g = agent_guest([nd('map-host-loopback=198.51.100.77,'
                                'map-guest-addr=198.51.100.88')], ns=n)
            c.guests.append(g)
            with g:
                a = Agent(g)
                r = a.kv('''
net_up eth0 || echo lease=none
echo "tcp=$(tcp_echo 198.51.100.77 {0} via-mhl)"
echo "udp=$(udp_echo 198.51.100.77 {1} via-mhl-u)"
ping -c1 -W3 198.51.100.77 >/dev/null 2>&1 && echo ping=ok || echo ping=fail
echo "tcpg=$(tcp_echo 198.51.100.88 {2} via-mga)"
echo "udpg=$(udp_echo 198.51.100.88 {3} via-mga-u)"
echo "tcpgw=$(tcp_echo 198.51.100.1 {0} via-gw 2)"
echo "dnsq=$(nslookup passt-test.example 2>&1 | sed -n '/^Name:/,$p' | grep '^Address' | tr '\\n' ' ')"
'''.format(srv[0].port, srv[1].port, srv[2].port, srv[3].port), timeout=60)
                c.notes.append('guest: %r\nnetns: %r' % (r, m))
                c.eq('lease mirrors the namespace (loopback resolver -> mapped address)',
                     (r.get('ip'), r.get('prefix'), r.get('router'), r.get('dns')),
                     (m.get('ip'), m.get('prefix'), m.get('router'), '198.51.100.77'))
                c.eq('tcp via map-host-loopback address', r.get('tcp'), 'host-tcp:via-mhl')
                c.eq('udp via map-host-loopback address', r.get('udp'), 'host-udp:via-mhl-u')
                c.eq('icmp echo to map-host-loopback address', r.get('ping'), 'ok')
                c.eq('tcp via map-guest-addr reaches host at guest address',
                     r.get('tcpg'), 'host-at-guest-addr:via-mga')
                c.eq('udp via map-guest-addr reaches host at guest address',
                     r.get('udpg'), 'host-at-guest-addr:via-mga-u')
                c.eq('gateway not mapped when map-host-loopback is set',
                     r.get('tcpgw'), '')
                c.eq('dns via loopback resolver answers the guest',
                     (r.get('dnsq', '').strip(), ('passt-test.example', 1) in srv[4].queries),
                     ('Address: 203.0.113.7', True), 'queries: %r' % srv[4].queries)
                a.quit()
        finally:
            for s in srv:
                s.close()


# ------------------------------------------------------------------------
PROTO = '''
net_up eth0 >/dev/null || {{ echo lease=none; ip addr add 198.51.100.2/24 dev eth0;
    ip route add default via 198.51.100.1; }}
echo "tcp=$(tcp_echo 198.51.100.1 {0} t 3)"
echo "udp=$(udp_echo 198.51.100.1 {1} u)"
ping -c1 -W2 198.51.100.1 >/dev/null 2>&1 && echo ping=ok || echo ping=fail
'''


def proto_group(opt, blocked):
    names = ['%s=off blocks %s' % (opt, blocked),
             '%s=off leaves the others working' % opt]

    def fn(c):
        with H.Netns(opt[0]) as ns:
            srv = [H.TcpEcho('127.0.0.1', ns=ns.name), H.UdpEcho('127.0.0.1', ns=ns.name)]
            try:
                g = agent_guest([nd(opt + '=off')], ns=ns.name)
                c.guests.append(g)
                with g:
                    a = Agent(g)
                    r = a.kv(PROTO.format(srv[0].port, srv[1].port), timeout=60)
                    res = {'tcp': r.get('tcp') == 'host-tcp:t',
                           'udp': r.get('udp') == 'host-udp:u',
                           'icmp': r.get('ping') == 'ok'}
                    c.notes.append('guest: %r' % r)
                    c.eq(names[0], res[opt], False)
                    c.eq(names[1], {k: v for k, v in res.items() if k != opt},
                         {k: True for k in res if k != opt})
                    a.quit()
            finally:
                for s in srv:
                    s.close()
    group('proto-' + opt, names)(fn)


for _o, _b in (('tcp', 'tcp'), ('udp', 'udp'), ('icmp', 'ping')):
    proto_group(_o, _b)


# ------------------------------------------------------------------------
@group('ipv6-off', [
    'ipv6=off: no slaac address', 'ipv6=off: no dhcpv6 reply',
    'ipv6=off: dhcpv4 still works', 'dhcp-dns=off: no dns in the lease',
    'dhcp-search=off: no search list in the lease',
])
def g_ipv6_off(c):
    g = agent_guest([nd('ipv6=off,dhcp-dns=off,dhcp-search=off,search=x.example')])
    c.guests.append(g)
    m = H.mirror()
    with g:
        a = Agent(g)
        r = a.kv(NET_UP % 4 + 'echo "dhcp6=$(dhcp6_solicit eth0)"', timeout=60)
        c.notes.append('guest: %r' % r)
        c.eq('ipv6=off: no slaac address', (r.get('slaac'), r.get('ip6')), ('none', None))
        c.eq('ipv6=off: no dhcpv6 reply', r.get('dhcp6'), '')
        c.eq('ipv6=off: dhcpv4 still works', r.get('ip'), m.get('ip'))
        c.eq('dhcp-dns=off: no dns in the lease', r.get('dns'), '')
        c.eq('dhcp-search=off: no search list in the lease', r.get('search'), '')
        a.quit()


@group('ipv4-off', [
    'ipv4=off: no dhcpv4 lease', 'ipv4=off: slaac still works',
    'ipv4=off: tcp over ipv6 to host ::1',
])
def g_ipv4_off(c):
    srv = H.TcpEcho('::1')
    m = H.mirror()
    try:
        g = agent_guest([nd('ipv4=off')])
        c.guests.append(g)
        with g:
            a = Agent(g)
            r = a.kv(NET_UP % 10 + 'echo "tcp6=$(tcp_echo %s %d v6only)"'
                     % (m.get('gw6'), srv.port), timeout=60)
            c.notes.append('guest: %r' % r)
            c.eq('ipv4=off: no dhcpv4 lease', (r.get('lease'), r.get('ip')), ('none', None))
            c.eq('ipv4=off: slaac still works', r.get('ip6'),
                 m.get('net6') and H.slaac(m['net6'], H.GUEST_MAC))
            c.eq('ipv4=off: tcp over ipv6 to host ::1', r.get('tcp6'), 'host-tcp:v6only')
            a.quit()
    finally:
        srv.close()


@group('dhcp-off', [
    'dhcp=off: no dhcpv4 lease', 'dhcp=off: static ipv4 still reaches the host',
    'dhcpv6=off: no dhcpv6 reply', 'dhcpv6=off: slaac still works',
])
def g_dhcp_off(c):
    srv = H.TcpEcho('127.0.0.1')
    m = H.mirror()
    try:
        g = agent_guest([nd('dhcp=off,dhcpv6=off')])
        c.guests.append(g)
        with g:
            a = Agent(g)
            r = a.kv(NET_UP % 10 + '''
echo "dhcp6=$(dhcp6_solicit eth0)"
ip addr add {0}/{1} dev eth0; ip route add default via {2}
echo "tcp=$(tcp_echo {2} {3} static)"
'''.format(m.get('ip'), m.get('prefix'), m.get('router'), srv.port), timeout=60)
            c.notes.append('guest: %r' % r)
            c.eq('dhcp=off: no dhcpv4 lease', (r.get('lease'), r.get('ip')), ('none', None))
            c.eq('dhcp=off: static ipv4 still reaches the host', r.get('tcp'), 'host-tcp:static')
            c.eq('dhcpv6=off: no dhcpv6 reply', r.get('dhcp6'), '')
            c.eq('dhcpv6=off: slaac still works', r.get('ip6'),
                 m.get('net6') and H.slaac(m['net6'], H.GUEST_MAC))
            a.quit()
    finally:
        srv.close()


ND = '''
echo "ll=$(ip -6 route show default dev eth0)"
ping -c1 -W2 -I eth0 {0} >/dev/null 2>&1
echo "neigh=$(ip -6 neigh show {0} dev eth0)"
echo "dhcp6=$(dhcp6_solicit eth0)"
'''


@group('ra-off', ['ra=off: no slaac address', 'ra=off: ndp still resolves passt',
                  'ra=off: dhcpv6 still answers'])
def g_ra_off(c):
    m = H.mirror()
    g = agent_guest([nd('ra=off')])
    c.guests.append(g)
    with g:
        a = Agent(g)
        r = a.kv(NET_UP % 4 + ND.format(m.get('router6')), timeout=60)
        c.notes.append('guest: %r' % r)
        c.eq('ra=off: no slaac address', (r.get('slaac'), r.get('ip6')), ('none', None))
        c.ok('ra=off: ndp still resolves passt',
             'lladdr %s' % H.PASST_MAC in r.get('neigh', ''), 'neigh: %r' % r.get('neigh'))
        d6 = H.dhcp6_parse(r.get('dhcp6', ''))
        c.eq('ra=off: dhcpv6 still answers', d6 and d6['addrs'], [m.get('ip6')])
        a.quit()


@group('ndp-off', ['ndp=off: no slaac address', 'ndp=off: passt not resolved by ndp'])
def g_ndp_off(c):
    m = H.mirror()
    g = agent_guest([nd('ndp=off')])
    c.guests.append(g)
    with g:
        a = Agent(g)
        r = a.kv(NET_UP % 4 + ND.format(m.get('router6')), timeout=60)
        c.notes.append('guest: %r' % r)
        c.eq('ndp=off: no slaac address', (r.get('slaac'), r.get('ip6')), ('none', None))
        c.ok('ndp=off: passt not resolved by ndp',
             'lladdr' not in r.get('neigh', 'lladdr') and r.get('neigh', '') != '',
             'neigh: %r' % r.get('neigh'))
        a.quit()


# ------------------------------------------------------------------------
@group('dns', [
    'dns option offered in the lease',
    'dns-forward/dns-host: answer reaches the guest',
    'dns-forward/dns-host: responder on host loopback got the query',
    'dns-forward/dns-host: NXDOMAIN passed through',
])
def g_dns(c):
    with H.Netns('d', nameserver='198.51.100.53') as ns:
        dns = H.DnsResponder({'passt-test.example': '203.0.113.7'}, ns=ns.name)
        try:
            g = agent_guest([nd('dns=198.51.100.99,dns-forward=198.51.100.99,'
                                'dns-host=127.0.0.1')], ns=ns.name)
            c.guests.append(g)
            with g:
                a = Agent(g)
                r = a.kv('''
net_up eth0 || echo lease=none
echo "a=$(nslookup passt-test.example 2>&1 | sed -n '/^Name:/,$p' | grep '^Address' | tr '\\n' ' ')"
nslookup nothere.example 198.51.100.99 > /tmp/nx 2>&1
echo "nx=$(grep -c NXDOMAIN /tmp/nx)"
''', timeout=60)
                c.notes.append('guest: %r\nqueries: %r' % (r, dns.queries))
                c.eq('dns option offered in the lease', r.get('dns'), '198.51.100.99')
                c.eq('dns-forward/dns-host: answer reaches the guest', r.get('a', '').strip(),
                     'Address: 203.0.113.7')
                c.ok('dns-forward/dns-host: responder on host loopback got the query',
                     ('passt-test.example', 1) in dns.queries)
                c.ok('dns-forward/dns-host: NXDOMAIN passed through',
                     r.get('nx', '0') != '0' and ('nothere.example', 1) in dns.queries)
                a.quit()
        finally:
            dns.close()


# ------------------------------------------------------------------------
def listening(proto, port):
    """Local addresses with a bound socket on port (/proc/net/{proto,proto6})."""
    addrs = set()
    for f in (proto, proto + '6'):
        try:
            rows = open('/proc/net/' + f).read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            w = row.split()
            a, p = w[1].split(':')
            if int(p, 16) != port or (proto == 'tcp' and w[3] != '0A'):
                continue
            if len(a) == 8:
                addrs.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(a)[::-1]))
            else:
                b = bytes.fromhex(a)
                addrs.add(socket.inet_ntop(socket.AF_INET6, b''.join(
                    b[i:i + 4][::-1] for i in range(0, 16, 4))))
    return addrs


def host_tcp(port, msg, tries=10):
    err = None
    for _ in range(tries):
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=5) as s:
                s.sendall(msg.encode() + b'\n')
                data = b''
                while not data.endswith(b'\n'):
                    b = s.recv(4096)
                    if not b:
                        break
                    data += b
                if data:
                    return data.decode().strip()
                err = 'empty answer'
        except OSError as e:
            err = repr(e)
        time.sleep(0.3)
    return err


def host_udp(port, msg, tries=5):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        for _ in range(tries):
            s.sendto(msg.encode() + b'\n', ('127.0.0.1', port))
            try:
                return s.recv(4096).decode().strip()
            except OSError:
                continue
    return 'no answer'


@group('forwards', [
    'tcp-ports single port', 'tcp-ports range, both ends',
    'tcp-ports addr/port forwards', 'tcp-ports addr/port binds that address only',
    'tcp-ports remap host:guest', 'tcp-ports list with ,, escape',
    'tcp forward carries 2 MiB intact both ways',
    'udp-ports single port', 'udp-ports range, both ends',
    'udp-ports addr/port forwards', 'udp-ports addr/port binds that address only',
    'udp-ports remap host:guest', 'unforwarded port is not reachable',
])
def g_forwards(c):
    t = H.free_ports(1) + H.free_ports(2) + H.free_ports(1) + H.free_ports(1) + \
        H.free_ports(2) + H.free_ports(1) + H.free_ports(1)
    u = H.free_ports(1) + H.free_ports(2) + H.free_ports(1) + H.free_ports(1)
    T1, T2, T3, T4, T5, T6, T7, T8, TN = t
    U1, U2, U3, U4, U5 = u
    opts = ('tcp-ports={T1},tcp-ports={T2}-{T3},tcp-ports=127.0.0.1/{T4},'
            'tcp-ports={T5}:9005,tcp-ports={T6},,{T7},tcp-ports={T8}:9300,'
            'udp-ports={U1},udp-ports={U2}-{U3},udp-ports=127.0.0.1/{U4},'
            'udp-ports={U5}:9105').format(**locals())
    gt = [T1, T2, T3, T4, 9005, T5, T6, T7, TN]
    gu = [U1, U2, U3, U4, 9105, U5]
    g = agent_guest([nd(opts)])
    c.guests.append(g)
    with g:
        a = Agent(g)
        rc, out = a.sh('''
net_up eth0 >/dev/null || echo lease=none
for p in %s; do
    socat TCP4-LISTEN:$p,fork,reuseaddr SYSTEM:"read l; echo guest-tcp-$p/\\$l" </dev/null >/dev/null 2>&1 &
done
for p in %s; do
    socat UDP4-RECVFROM:$p,fork SYSTEM:"read l; echo guest-udp-$p/\\$l" </dev/null >/dev/null 2>&1 &
done
socat -t 20 TCP4-LISTEN:9300,reuseaddr SYSTEM:"md5sum; cat /tmp/blob" </dev/null >/dev/null 2>&1 &
head -c 1048576 /dev/urandom > /tmp/blob
i=0; while [ $(netstat -ltnu | grep -c LISTEN) -lt %d ] || [ $(netstat -lnu | grep -c udp) -lt %d ]; do
    usleep 100000; i=$((i+1)); [ $i -gt 50 ] && break; done
md5sum /tmp/blob | cut -d' ' -f1 | sed 's/^/blob=/'
''' % (' '.join(map(str, gt)), ' '.join(map(str, gu)), len(gt) + 1, len(gu)))
        r = lines_kv(out)
        c.notes.append('guest: %r' % out)
        c.eq('tcp-ports single port', host_tcp(T1, 'a'), 'guest-tcp-%d/a' % T1)
        c.eq('tcp-ports range, both ends', (host_tcp(T2, 'b'), host_tcp(T3, 'c')),
             ('guest-tcp-%d/b' % T2, 'guest-tcp-%d/c' % T3))
        c.eq('tcp-ports addr/port forwards', host_tcp(T4, 'd'), 'guest-tcp-%d/d' % T4)
        c.eq('tcp-ports addr/port binds that address only',
             (listening('tcp', T4), bool(listening('tcp', T1) & {'0.0.0.0', '::'})),
             ({'127.0.0.1'}, True))
        c.eq('tcp-ports remap host:guest', host_tcp(T5, 'e'), 'guest-tcp-9005/e')
        c.eq('tcp-ports list with ,, escape', (host_tcp(T6, 'f'), host_tcp(T7, 'g')),
             ('guest-tcp-%d/f' % T6, 'guest-tcp-%d/g' % T7))
        blob = os.urandom(2 << 20)
        got = b''
        try:
            with socket.create_connection(('127.0.0.1', T8), timeout=30) as s:
                s.sendall(blob)
                s.shutdown(socket.SHUT_WR)
                while True:
                    b = s.recv(1 << 16)
                    if not b:
                        break
                    got += b
        except OSError as e:
            c.notes.append('2 MiB transfer: %r' % e)
        head, _, rest = got.partition(b'\n')
        c.eq('tcp forward carries 2 MiB intact both ways',
             (head.decode(errors='replace').split(' ')[0], len(rest),
              hashlib.md5(rest).hexdigest()),
             (hashlib.md5(blob).hexdigest(), 1 << 20, r.get('blob')))
        c.eq('udp-ports single port', host_udp(U1, 'h'), 'guest-udp-%d/h' % U1)
        c.eq('udp-ports range, both ends', (host_udp(U2, 'i'), host_udp(U3, 'j')),
             ('guest-udp-%d/i' % U2, 'guest-udp-%d/j' % U3))
        c.eq('udp-ports addr/port forwards', host_udp(U4, 'k'), 'guest-udp-%d/k' % U4)
        c.eq('udp-ports addr/port binds that address only', listening('udp', U4),
             {'127.0.0.1'})
        c.eq('udp-ports remap host:guest', host_udp(U5, 'l'), 'guest-udp-9105/l')
        c.ok('unforwarded port is not reachable',
             'ConnectionRefused' in host_tcp(TN, 'm', tries=1), host_tcp(TN, 'm', 1))
        a.quit()


# ------------------------------------------------------------------------
HP = ['qmp netdev_add + device_add: guest gets a lease on the new nic',
      'qmp hotplugged nic talks to host loopback',
      'qmp device_del: nic gone from the guest',
      'qmp netdev_del stops its passt',
      'hmp netdev_add + device_add: guest gets a lease on the new nic',
      'hmp hotplugged nic talks to host loopback',
      'hmp device_del: nic gone from the guest',
      'hmp netdev_del stops its passt',
      'first nic unaffected by hotplug']


@group('hotplug', HP)
def g_hotplug(c):
    srv = H.TcpEcho('127.0.0.1')
    rp = ['-device', 'pcie-root-port,id=rp1,bus=pcie.0,chassis=1',
          '-device', 'pcie-root-port,id=rp2,bus=pcie.0,chassis=2']
    try:
        g = agent_guest([nd()], extra=rp, qmp=True)
        c.guests.append(g)
        with g:
            a = Agent(g)
            r0 = a.kv('net_up eth0')
            q = g.qmp
            for i, how in enumerate(('qmp', 'hmp')):
                names = HP[4 * i:4 * i + 4]
                nid, dev, mac = 'hp%d' % i, 'hpnic%d' % i, '52:54:00:00:0a:0%d' % i
                net = '10.9.%d' % i
                if how == 'qmp':
                    q.cmd('netdev_add', type='passt', id=nid, path=P,
                          address=net + '.2', netmask='255.255.255.0',
                          gateway=net + '.1')
                    q.cmd('device_add', driver='virtio-net-pci', id=dev,
                          netdev=nid, bus='rp%d' % (i + 1), mac=mac)
                else:
                    for cmd in ('netdev_add passt,id=%s,path=%s,address=%s.2,'
                                'netmask=255.255.255.0,gateway=%s.1' % (nid, P, net, net),
                                'device_add virtio-net-pci,id=%s,netdev=%s,bus=rp%d,mac=%s'
                                % (dev, nid, i + 1, mac)):
                        out = q.hmp(cmd)
                        if out.strip():
                            c.notes.append('hmp %s: %r' % (cmd, out))
                pid = H.info_pid(H.passt_netdevs(q.hmp('info network')).get(nid))
                r = a.kv('''
wait_mac %s 30 || echo iface=none
net_up $iface || echo lease=none
echo "tcp=$(tcp_echo %s.1 %d hot-%s)"
''' % (mac, net, srv.port, how), timeout=60)
                c.notes.append('%s guest: %r' % (how, r))
                c.eq(names[0], (r.get('ip'), r.get('router')), (net + '.2', net + '.1'))
                c.eq(names[1], r.get('tcp'), 'host-tcp:hot-' + how)
                if how == 'qmp':
                    q.cmd('device_del', id=dev)
                else:
                    q.hmp('device_del ' + dev)
                ev = q.get_event('DEVICE_DELETED', timeout=30)
                while ev['data'].get('device') != dev:
                    ev = q.get_event('DEVICE_DELETED', timeout=30)
                rc, _ = a.sh('wait_gone %s 10' % r.get('iface'))
                c.eq(names[2], rc, 0)
                alive = H.pid_state(pid) if pid else None
                if how == 'qmp':
                    q.cmd('netdev_del', id=nid)
                else:
                    q.hmp('netdev_del ' + nid)
                left = H.passt_netdevs(q.hmp('info network'))
                c.eq(names[3], (pid is not None, alive != 'gone', H.wait_gone(pid or 0),
                                nid in left), (True, True, 'gone', False),
                     'pid %s, info network after: %r' % (pid, left))
            r1 = a.kv('echo "tcp=$(tcp_echo %s %d first)"' % (r0.get('router'), srv.port))
            c.eq('first nic unaffected by hotplug', r1.get('tcp'), 'host-tcp:first')
            a.quit()
    finally:
        srv.close()


# ------------------------------------------------------------------------
@group('recovery', [
    'guest streams to host before the kill',
    'NETDEV_PASST_DISCONNECTED after SIGKILL',
    'NETDEV_PASST_CONNECTED with a new pid',
    'info network shows the new passt',
    'respawned passt has the same options',
    'new guest tcp connection works within 10 s',
    'new guest udp exchange works',
])
def g_recovery(c):
    sink, echo, uecho = H.TcpSink('127.0.0.1'), H.TcpEcho('127.0.0.1'), H.UdpEcho('127.0.0.1')
    try:
        g = agent_guest([nd('mtu=1500')], qmp=True)
        c.guests.append(g)
        with g:
            a = Agent(g)
            r = a.kv('net_up eth0 >/dev/null; echo gw=$(lease_get eth0 router)\n'
                     'socat -u /dev/zero TCP4:$(lease_get eth0 router):%d </dev/null '
                     '>/dev/null 2>&1 &' % sink.port)
            gw = r.get('gw')
            deadline = time.monotonic() + 20
            while sink.received < (1 << 20) and time.monotonic() < deadline:
                time.sleep(0.1)
            c.ok('guest streams to host before the kill', sink.received >= 1 << 20,
                 'received %d bytes' % sink.received)
            q = g.qmp
            old = H.info_pid(H.passt_netdevs(q.hmp('info network')).get('n0'))
            oldcmd = H.passt_pids().get(old)
            t0 = time.monotonic()
            os.kill(old, 9)
            ev = q.get_event('NETDEV_PASST_DISCONNECTED', timeout=15)
            c.eq('NETDEV_PASST_DISCONNECTED after SIGKILL', ev['data'],
                 {'netdev-id': 'n0', 'pid': old, 'restarting': True})
            ev2 = q.get_event('NETDEV_PASST_CONNECTED', timeout=15)
            new = ev2['data'].get('pid')
            t_resp = time.monotonic() - t0
            c.ok('NETDEV_PASST_CONNECTED with a new pid',
                 ev2['data'].get('netdev-id') == 'n0' and new != old and
                 H.pid_state(new) not in ('gone', 'Z'),
                 'event %r (old pid %s), respawn after %.2fs' % (ev2, old, time.monotonic() - t0))
            st = H.passt_netdevs(q.hmp('info network')).get('n0')
            c.eq('info network shows the new passt', H.info_pid(st), new, 'status: %r' % st)
            newcmd = H.passt_pids().get(new)
            # the pid file is in a fresh private directory for each start
            norm = (lambda cmd: [re.sub(r'^\d+$|^/.*/passt\.pid$', 'N', w)
                                 for w in cmd or []])
            c.eq('respawned passt has the same options', norm(newcmd), norm(oldcmd))
            r = a.kv('''
t0=$(uptime_s); i=0
while [ $i -lt 50 ]; do
    out=$(tcp_echo {0} {1} again 2); [ -n "$out" ] && break
    i=$((i+1)); usleep 200000
done
echo "tcp=$out"; echo "secs=$(echo "$(uptime_s) $t0" | awk '{{print $1-$2}}')"
echo "udp=$(udp_echo {0} {2} again-u)"
'''.format(gw, echo.port, uecho.port), timeout=60)
            c.ok('new guest tcp connection works within 10 s',
                 r.get('tcp') == 'host-tcp:again' and float(r.get('secs', 99)) < 10,
                 'guest: %r' % r)
            c.eq('new guest udp exchange works', r.get('udp'), 'host-udp:again-u')
            c.infos.append('passt respawned %.2fs after SIGKILL (pid %s -> %s); '
                           'guest reconnected after %s s' % (t_resp, old, new, r.get('secs')))
            a.quit()
    finally:
        for s in (sink, echo, uecho):
            s.close()


# ------------------------------------------------------------------------
EQ_OPTS = ('address=10.0.2.15,netmask=255.255.255.0,gateway=10.0.2.2,mtu=1500,'
           'dns=10.0.2.3,search=eq.example,fqdn=eq.example.org,mac=02:00:00:00:0e:01')
EQ_ARGS = ['-a', '10.0.2.15', '-n', '255.255.255.0', '-g', '10.0.2.2', '-m', '1500',
           '-D', '10.0.2.3', '-S', 'eq.example', '--fqdn', 'eq.example.org',
           '-M', '02:00:00:00:0e:01']
EQ_SCRIPT = NET_UP % 10 + '''
echo "neigh=$(ip neigh show 10.0.2.2 dev eth0 | awk '{{print $5}}')"
echo "tcp=$(tcp_echo 10.0.2.2 {0} eq)"
echo "udp=$(udp_echo 10.0.2.2 {1} equ)"
echo "tcp6=$(tcp_echo {2} {3} eq6)"
echo "dhcp6=$(dhcp6_solicit eth0)"
'''


@group('equivalence', ['same results over -netdev passt and -netdev stream to passt'])
def g_equiv(c):
    srv = [H.TcpEcho('127.0.0.1'), H.UdpEcho('127.0.0.1'), H.TcpEcho('::1')]
    m = H.mirror()
    tmp = tempfile.mkdtemp(prefix='passt-eq-')
    sock = os.path.join(tmp, 'passt.sock')
    script = EQ_SCRIPT.format(srv[0].port, srv[1].port, m.get('gw6'), srv[2].port)
    res = {}
    pp = None
    try:
        for kind in ('passt', 'stream'):
            if kind == 'passt':
                netdev = nd(EQ_OPTS)
            else:
                os.chmod(tmp, 0o777)
                plog = open(os.path.join(tmp, 'passt.log'), 'w')
                pp = subprocess.Popen([P, '-f', '-q', '-1', '-s', sock] + EQ_ARGS,
                                      stdout=plog, stderr=plog)
                plog.close()
                for _ in range(100):
                    if os.path.exists(sock):
                        break
                    time.sleep(0.05)
                netdev = 'stream,id=n0,server=off,addr.type=unix,addr.path=' + sock
            g = agent_guest([netdev])
            c.guests.append(g)
            with g:
                a = Agent(g)
                r = a.kv(script, timeout=60)
                a.quit()
            d6 = H.dhcp6_parse(r.pop('dhcp6', ''))
            r['dhcp6'] = d6 and (d6['type'], d6['addrs'])
            r.pop('_out', None)
            r.pop('lease', None)        # lease time: same anyway, but keep it simple
            res[kind] = r
        ok = res['passt'] == res['stream'] and res['passt'].get('tcp') == 'host-tcp:eq' \
            and res['passt'].get('ip') == '10.0.2.15'
        c.ok('same results over -netdev passt and -netdev stream to passt', ok,
             'passt:  %r\nstream: %r' % (res.get('passt'), res.get('stream')))
    finally:
        if pp:
            pp.kill()
            pp.wait()
        for s in srv:
            s.close()
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------
def setup():
    """Things the suite needs on the host; returns a reason to bail out."""
    if not os.access(H.QEMU, os.X_OK):
        return 'no QEMU build at %s: run scripts/setup.sh' % H.QEMU
    if not os.access(P, os.X_OK):
        return 'no passt at %s: run scripts/build-passt.sh' % P
    if os.geteuid() != 0:
        return 'run as root (network namespaces, ports)'
    if not shutil.which('tcpdump'):
        busy = subprocess.run(['pgrep', '-x', 'apt-get|apt|dpkg'],
                              capture_output=True).returncode == 0
        if not busy:
            subprocess.run(['apt-get', 'install', '-y', '-q', '--no-install-recommends',
                            'tcpdump'], stdout=sys.stderr, stderr=sys.stderr,
                           env=dict(os.environ, DEBIAN_FRONTEND='noninteractive'))
    H.ensure_built()
    H.probe_accel()
    return None


def run_group(name, names, fn):
    c = Checks(name, names)
    c.guests = []
    err = diag = None
    t0 = time.monotonic()
    try:
        fn(c)
    except Exception as e:      # noqa: B902
        err = '%s: %s' % (type(e).__name__, str(e).splitlines()[0] if str(e) else '')
        diag = traceback.format_exc()
    if err or any(s == 'not ok' for s, _ in c.results.values()):
        for g in c.guests:
            if g.lines or g.proc:
                diag = (diag or '') + '\n' + g.diagnostics()
    c.notes.append('group %s took %.1fs' % (name, time.monotonic() - t0))
    return c.finish(err, diag), time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    ap.add_argument('-j', '--jobs', type=int, default=2)
    ap.add_argument('-k', '--only', help='regex: groups to run')
    ap.add_argument('-l', '--list', action='store_true')
    o = ap.parse_args()
    groups = [g for g in GROUPS if not o.only or re.search(o.only, g[0])]
    if o.list:
        for name, names, _ in groups:
            for n in names:
                print('%s: %s' % (name, n))
        return 0
    t0 = time.monotonic()
    why = setup()
    if why:
        print('Bail out! ' + why)
        return 1
    # Longest groups first so that the two job slots end together.
    order = ['recovery', 'hotplug', 'forwards', 'equivalence', 'defaults', 'maps']
    groups.sort(key=lambda g: order.index(g[0]) if g[0] in order else len(order))
    tap = H.Tap(sum(len(g[1]) for g in groups))
    times = {}
    with concurrent.futures.ThreadPoolExecutor(max(1, o.jobs)) as ex:
        futs = {ex.submit(run_group, *g): g[0] for g in groups}
        for f in concurrent.futures.as_completed(futs):
            results, secs = f.result()
            times[futs[f]] = secs
            tap.emit(results)
    print('# group times: ' + ', '.join('%s %.1fs' % kv for kv in sorted(
        times.items(), key=lambda kv: -kv[1])))
    print('# %d checks, %d failed, %d skipped in %.1fs (accel %s)' % (
        tap.n, tap.failed, tap.skipped, time.monotonic() - t0, H.probe_accel()))
    return 1 if tap.failed else 0


if __name__ == '__main__':
    sys.exit(main())
