#!/usr/bin/env python3
"""End-to-end guest tests of QEMU's -netdev passt against the real passt.

Boots the test guest (guest/build-guest.sh) on -netdev passt and checks what
the guest sees. TAP on stdout; exit status 1 if a check failed.

    python3 tests/guest/run.py [-j JOBS] [-k REGEX] [-l]

Groups of checks share one guest boot; up to JOBS (default 2) QEMUs run at
once. Guest traffic only reaches host loopback (through passt's mapping of
the gateway address) or network namespaces the suite creates itself.
Environment: QEMU, PASST (binaries), GUEST_ACCEL (kvm|tcg). SIGTERM (from
timeout) ends it as ^C does: the groups that run stop and clean up.
"""

import argparse
import concurrent.futures
import contextlib
import faulthandler
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
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


# For checks that read passt's informational messages (in QEMU's log,
# through the trace event net_passt_output): passt must not be quiet.
TALK = 'quiet=off,'


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
        # TALK: the check below reads passt's start-up report
        g = agent_guest([nd(TALK + 'pcap-file=' + pcap)], qmp=True)
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
        rep = H.passt_report(g.qemu_log())
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
    # An address on the first entry only: passt takes the entries as one
    # list (upstream's meaning), where it covers every port of the list
    opts = ('tcp-ports=127.0.0.1/{T4},tcp-ports={T1},tcp-ports={T2}-{T3},'
            'tcp-ports={T5}:9005,tcp-ports={T6},,{T7},tcp-ports={T8}:9300,'
            'udp-ports=127.0.0.1/{U4},udp-ports={U1},udp-ports={U2}-{U3},'
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
             listening('tcp', T4), {'127.0.0.1'})
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
                ev = H.wait_event(q, 'DEVICE_DELETED', 30, {'device': dev})
                rc, _ = a.sh('wait_gone %s 10' % r.get('iface'))
                c.ok(names[2], ev and rc == 0,
                     'DEVICE_DELETED: %r; wait_gone: status %s' % (ev, rc))
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
def stream_to(c, a, sink):
    """Lease on eth0, then a guest -> host stream into sink in the
    background (check 'guest streams to host before the kill'); the
    gateway."""
    r = a.kv('net_up eth0 >/dev/null; echo gw=$(lease_get eth0 router)\n'
             'socat -u /dev/zero TCP4:$(lease_get eth0 router):%d </dev/null '
             '>/dev/null 2>&1 &' % sink.port)
    deadline = time.monotonic() + 20
    while sink.received < (1 << 20) and time.monotonic() < deadline:
        time.sleep(0.1)
    c.ok('guest streams to host before the kill', sink.received >= 1 << 20,
         'received %d bytes' % sink.received)
    return r.get('gw')


def reconnect(a, gw, echo, uecho, tries):
    """New TCP (up to tries x 0.2 s) and UDP exchanges from the guest:
    tcp=, secs= (until TCP worked) and udp= lines."""
    return a.kv('''
t0=$(uptime_s); i=0
while [ $i -lt {3} ]; do
    out=$(tcp_echo {0} {1} again 2); [ -n "$out" ] && break
    i=$((i+1)); usleep 200000
done
echo "tcp=$out"; echo "secs=$(echo "$(uptime_s) $t0" | awk '{{print $1-$2}}')"
echo "udp=$(udp_echo {0} {2} again-u)"
'''.format(gw, echo.port, uecho.port, tries), timeout=30 + tries * 0.6)


def reconnect_works(c, name, a, gw, echo, uecho, tries=50):
    """reconnect(); check name: the new TCP and UDP exchanges worked."""
    r = reconnect(a, gw, echo, uecho, tries)
    c.eq(name, (r.get('tcp'), r.get('udp')), ('host-tcp:again', 'host-udp:again-u'),
         'guest: %r' % r)
    return r


def down_event(c, name, ev, want):
    """Check name: a NETDEV_PASST_DISCONNECTED event ev (None: none came)
    is want (netdev-id, reason and pid, which must be absent where want
    has none), with an error string, saying why, if want has 'error'."""
    d = dict(ev['data']) if ev else None
    err = d.pop('error', None) if d else None
    w = dict(want)
    need_err = w.pop('error', False)
    return c.ok(name, d == w and (not need_err or (isinstance(err, str) and err)),
                'event: %r\nwant:  %r%s' % (ev and ev['data'], w,
                                           ' and an error string' if need_err else ''))


def kill_passt(c, q, old):
    """SIGKILL passt old (of netdev n0); checks: QEMU reports it
    (NETDEV_PASST_DISCONNECTED, reason restarting, that pid, an error) and
    starts a new passt (NETDEV_PASST_CONNECTED with a new, running pid).
    Returns the new pid (None if none came) and the seconds it took."""
    H.drain_events(q)
    t0 = time.monotonic()
    os.kill(old, signal.SIGKILL)
    ev = H.wait_event(q, 'NETDEV_PASST_DISCONNECTED', 15)
    down_event(c, 'NETDEV_PASST_DISCONNECTED after SIGKILL, reason restarting', ev,
               {'netdev-id': 'n0', 'pid': old, 'reason': 'restarting', 'error': True})
    up = H.wait_event(q, 'NETDEV_PASST_CONNECTED', 30)
    secs = time.monotonic() - t0
    new = up and up['data'].get('pid')
    c.ok('NETDEV_PASST_CONNECTED with a new pid',
         up is not None and up['data'].get('netdev-id') == 'n0' and new and new != old and
         H.pid_state(new) not in ('gone', 'Z'),
         'event %r (old pid %s), respawn after %.2fs' % (up, old, secs))
    return new, secs


@group('recovery', [
    'guest streams to host before the kill',
    'NETDEV_PASST_DISCONNECTED after SIGKILL, reason restarting',
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
            gw = stream_to(c, a, sink)
            q = g.qmp
            old = H.info_pid(H.passt_netdevs(q.hmp('info network')).get('n0'))
            oldcmd = H.passt_pids().get(old)
            new, t_resp = kill_passt(c, q, old)
            st = H.passt_netdevs(q.hmp('info network')).get('n0')
            c.eq('info network shows the new passt', H.info_pid(st), new, 'status: %r' % st)
            newcmd = H.passt_pids().get(new)
            # the pid file is in a fresh private directory for each start
            norm = (lambda cmd: [re.sub(r'^\d+$|^/.*/passt\.pid$', 'N', w)
                                 for w in cmd or []])
            c.eq('respawned passt has the same options', norm(newcmd), norm(oldcmd))
            r = reconnect(a, gw, echo, uecho, 50)
            c.ok('new guest tcp connection works within 10 s',
                 r.get('tcp') == 'host-tcp:again' and float(r.get('secs', 99)) < 10,
                 'guest: %r' % r)
            c.eq('new guest udp exchange works', r.get('udp'), 'host-udp:again-u')
            link_held(c, 'guest link stays up while passt restarts', a, downs)
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
# vhost-user mode (-netdev passt,...,vhost-user=on): guest RAM is a shared
# memfd that passt maps; QEMU talks vhost-user to passt's socket.
REPAIR = os.path.abspath(os.environ.get(
    'PASST_REPAIR', os.path.join(os.path.dirname(P), 'passt-repair')))
_refusals = {}
_refusals_lock = threading.Lock()


def qemu_refuses(opts):
    """What this QEMU says about '-netdev passt,OPTS' (probed once, with
    no guest), or None if it takes them."""
    with _refusals_lock:
        if opts not in _refusals:
            cmd = [H.QEMU, '-M', 'none', '-nodefaults', '-display', 'none', '-S',
                   '-qmp', 'stdio', '-netdev', 'passt,id=probe,path=%s,%s' % (P, opts)]
            try:
                r = subprocess.run(cmd, input='{"execute": "qmp_capabilities"}\n'
                                   '{"execute": "quit"}\n', capture_output=True,
                                   text=True, timeout=30)
                why = None if '"host-qmp-quit"' in r.stdout else re.sub(
                    r'^.*?: -netdev \S+: ', '', (r.stderr.strip().splitlines() or
                                                  ['exit status %d' % r.returncode])[-1])
            except subprocess.TimeoutExpired:
                why = 'no answer within 30 s'
            _refusals[opts] = why
        return _refusals[opts]


def unsupported(c, *opts):
    """Fail every check of c if this QEMU refuses one of opts: the series
    has them, so a refusal is a regression, not a reason to skip."""
    for o in opts:
        why = qemu_refuses(o)
        if why:
            for n in c.names:
                c.ok(n, False, 'this QEMU refuses %s: %s' % (o, why))
            return True
    return False


def reap(c, procs, name=None):
    """Kill what the group's QEMUs left running; a failed check `name`
    if there was any, else a note."""
    left = procs.leftovers()
    if name:
        c.eq(name, left, {}, 'still running (now killed), pid: executable')
    elif left:
        c.infos.append('left running, killed: %r' % left)


@contextlib.contextmanager
def running(g):
    """Like 'with g', but QEMU gets SIGTERM before SIGKILL, so that it can
    stop passt and passt-repair and remove their directories."""
    g.start()
    try:
        yield g
    finally:
        g.shutdown(10)
        g.close()


def vnd(opts='', nid='n0'):
    return nd('vhost-user=on' + (',' + opts if opts else ''), nid)


def mvnd(opts='', nid='n0'):
    """vnd() for a guest that migrates between two QEMUs of this host: passt
    2025_08_05 and later keep the sockets they handed over open ("linger"),
    and on one host their addresses then keep the destination's passt from
    taking the connections over; --migrate-no-linger makes it close them, as
    passt's own migration tests do. Between hosts this is not needed."""
    if '--migrate-no-linger' in same_host_opts():
        opts = 'param=--migrate-no-linger' + (',' + opts if opts else '')
    return vnd(opts, nid)


def vu_guest(netdev, incoming=False, **kw):
    """A guest on vhost-user netdevs (shared guest RAM), with QMP."""
    kw.setdefault('shared_memory', True)
    if incoming:
        return H.incoming_guest(netdev, **kw)
    return agent_guest(netdev, qmp=True, **kw)


def info_n0(g, nid='n0'):
    st = H.passt_netdevs(g.qmp.hmp('info network')).get(nid)
    return st, H.info_passt(st)


def listeners_up(n):
    """Guest snippet: wait until n TCP sockets listen."""
    return ('i=0; while [ $(netstat -ltn | grep -c LISTEN) -lt %d ]; do\n'
            '    usleep 100000; i=$((i+1)); [ $i -gt 50 ] && break; done\n' % n)


def bounce(port, blob, timeout=60):
    """Send blob to 127.0.0.1:port, half-close, return what comes back."""
    got = b''
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
        s.sendall(blob)
        s.shutdown(socket.SHUT_WR)
        while True:
            b = s.recv(1 << 16)
            if not b:
                return got
            got += b


@group('vhost-user', [
    'info network: passt in vhost-user mode with its pid',
    'passt runs with --vhost-user on a socket',
    'dhcpv4 address is the host address',
    'dhcpv4 router is the host gateway',
    'tcp to host loopback via gateway',
    'udp to host loopback via gateway',
    'tcp-ports forwards a host port to the guest',
    'tcp forward carries 1 MiB intact both ways',
    'passt exits with qemu',
    'passt socket directory removed with qemu',
])
def g_vhost_user(c):
    if unsupported(c, 'vhost-user=on'):
        return
    m = H.mirror()
    T1, T2 = H.free_ports(2)
    srv = [H.TcpEcho('127.0.0.1'), H.UdpEcho('127.0.0.1')]
    procs = H.Procs()
    try:
        g = vu_guest([vnd('tcp-ports=%d,tcp-ports=%d' % (T1, T2))])
        c.guests.append(g)
        with running(g):
            a = Agent(g)
            procs.see(g)
            st, (mode, pid, _) = info_n0(g)
            cmd = H.passt_pids().get(pid, [])
            c.ok('info network: passt in vhost-user mode with its pid',
                 mode == 'vhost-user' and cmd, 'status %r, passts %r' % (st, H.passt_pids()))
            sock = cmd[cmd.index('--socket') + 1] if '--socket' in cmd else None
            c.ok('passt runs with --vhost-user on a socket', '--vhost-user' in cmd and
                 sock and os.path.exists(sock), 'passt: %r' % cmd)
            r = a.kv('''
net_up eth0 || echo lease=none
gw=$(lease_get eth0 router)
echo "tcp=$(tcp_echo $gw {0} hello-vu)"
echo "udp=$(udp_echo $gw {1} hello-vu-u)"
socat TCP4-LISTEN:{2},fork,reuseaddr SYSTEM:"read l; echo guest-tcp/\\$l" </dev/null >/dev/null 2>&1 &
socat -t 20 TCP4-LISTEN:{3},reuseaddr SYSTEM:"md5sum; cat /tmp/blob" </dev/null >/dev/null 2>&1 &
head -c 1048576 /dev/urandom > /tmp/blob
echo "blob=$(md5sum /tmp/blob | cut -d' ' -f1)"
'''.format(srv[0].port, srv[1].port, T1, T2) + listeners_up(2), timeout=60)
            c.notes.append('guest: %r\nhost: %r' % (r, m))
            if 'ip' not in m:
                for n in c.names[2:4]:
                    c.skip(n, 'host has no IPv4 default route to mirror')
            else:
                c.eq('dhcpv4 address is the host address', r.get('ip'), m['ip'])
                c.eq('dhcpv4 router is the host gateway', r.get('router'), m['router'])
            c.eq('tcp to host loopback via gateway', r.get('tcp'), 'host-tcp:hello-vu')
            c.eq('udp to host loopback via gateway', r.get('udp'), 'host-udp:hello-vu-u')
            c.eq('tcp-ports forwards a host port to the guest', host_tcp(T1, 'fw'),
                 'guest-tcp/fw')
            blob = os.urandom(1 << 20)
            try:
                got = bounce(T2, blob)
            except OSError as e:
                got = repr(e).encode()
            head, _, rest = got.partition(b'\n')
            c.eq('tcp forward carries 1 MiB intact both ways',
                 (head.decode(errors='replace').split(' ')[0], len(rest),
                  hashlib.md5(rest).hexdigest()),
                 (hashlib.md5(blob).hexdigest(), 1 << 20, r.get('blob')))
            rc = a.quit()
        c.eq('passt exits with qemu', (rc, H.wait_gone(pid) if pid else None), (0, 'gone'))
        d = sock and os.path.dirname(sock)
        c.ok('passt socket directory removed with qemu', d and not os.path.exists(d),
             'socket %r; directory now: %r' % (sock, d and os.path.exists(d) and os.listdir(d)))
    finally:
        for s in srv:
            s.close()
        reap(c, procs)


def any_pid(g, nid='n0'):
    """passt's pid from 'info network' in either series' form ('passt:
    vhost-user, pid N', upstream's 'vhost-user,connected to pid N')."""
    st = H.passt_netdevs(g.qmp.hmp('info network')).get(nid) or ''
    m = re.search(r'\bpid (\d+)', st)
    return int(m.group(1)) if m else None


@group('vhost-user-restart', [
    'tcp to host loopback before passt is killed',
    'a new passt replaces the killed one',
    'tcp to host loopback through the new passt',
])
def g_vu_restart(c):
    """passt killed in vhost-user mode, as both series see it: only the pid
    in 'info network' and the guest's traffic (vhost-user-recovery checks
    this series' events and states)."""
    if unsupported(c, 'vhost-user=on'):
        return
    srv = H.TcpEcho('127.0.0.1')
    procs = H.Procs()
    try:
        g = vu_guest([vnd()])
        c.guests.append(g)
        with running(g):
            a = Agent(g)
            procs.see(g)
            pid = any_pid(g)
            r = a.kv('net_up eth0 || echo lease=none\n'
                     'echo "tcp=$(tcp_echo $(lease_get eth0 router) %d one)"'
                     % srv.port, timeout=60)
            c.eq('tcp to host loopback before passt is killed', r.get('tcp'),
                 'host-tcp:one')
            if pid:
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 20
            while any_pid(g) in (None, pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            new = any_pid(g)
            procs.see(g)
            c.ok('a new passt replaces the killed one',
                 new not in (None, pid) and H.wait_gone(pid) == 'gone',
                 'pid %r, then %r' % (pid, any_pid(g)))
            r = a.kv('i=0; while [ $i -lt 30 ]; do\n'
                     '    t=$(tcp_echo $(lease_get eth0 router) %d two)\n'
                     '    [ "$t" = host-tcp:two ] && break\n'
                     '    usleep 500000; i=$((i+1)); done\n'
                     'echo "tcp=$t"' % srv.port, timeout=60)
            c.eq('tcp to host loopback through the new passt', r.get('tcp'),
                 'host-tcp:two')
            a.quit()
    finally:
        srv.close()
        reap(c, procs)


@group('vhost-user-hotplug', [
    'qmp netdev_add vhost-user: info network shows its passt',
    'device_add: guest gets a lease on the new nic',
    'hotplugged nic talks to host loopback',
    'device_del: nic gone from the guest',
    'netdev_del stops its passt',
    'first nic unaffected by hotplug',
])
def g_vu_hotplug(c):
    if unsupported(c, 'vhost-user=on'):
        return
    srv = H.TcpEcho('127.0.0.1')
    procs = H.Procs()
    try:
        g = vu_guest([vnd()], extra=['-device', 'pcie-root-port,id=rp1,bus=pcie.0,chassis=1'])
        c.guests.append(g)
        with running(g):
            a = Agent(g)
            r0 = a.kv('net_up eth0')
            q = g.qmp
            mac, net = '52:54:00:00:0b:01', '10.9.7'
            q.cmd('netdev_add', type='passt', id='hp0', path=P, address=net + '.2',
                  netmask='255.255.255.0', gateway=net + '.1', **{'vhost-user': True})
            st, (mode, pid, _) = info_n0(g, 'hp0')
            procs.see(g)
            c.ok('qmp netdev_add vhost-user: info network shows its passt',
                 mode == 'vhost-user' and '--vhost-user' in H.passt_pids().get(pid, []),
                 'status %r' % st)
            q.cmd('device_add', driver='virtio-net-pci', id='hpnic0', netdev='hp0',
                  bus='rp1', mac=mac)
            r = a.kv('''
wait_mac %s 30 || echo iface=none
net_up $iface || echo lease=none
echo "tcp=$(tcp_echo %s.1 %d hot-vu)"
''' % (mac, net, srv.port), timeout=60)
            c.notes.append('guest: %r' % r)
            c.eq('device_add: guest gets a lease on the new nic',
                 (r.get('ip'), r.get('router')), (net + '.2', net + '.1'))
            c.eq('hotplugged nic talks to host loopback', r.get('tcp'), 'host-tcp:hot-vu')
            q.cmd('device_del', id='hpnic0')
            ev = H.wait_event(q, 'DEVICE_DELETED', 30, {'device': 'hpnic0'})
            rc, _ = a.sh('wait_gone %s 10' % r.get('iface'))
            c.ok('device_del: nic gone from the guest', ev and rc == 0,
                 'DEVICE_DELETED: %r; wait_gone: status %s' % (ev, rc))
            alive = H.pid_state(pid) if pid else None
            q.cmd('netdev_del', id='hp0')
            left = H.passt_netdevs(q.hmp('info network'))
            c.eq('netdev_del stops its passt', (pid is not None, alive != 'gone',
                                               H.wait_gone(pid or 0), 'hp0' in left),
                 (True, True, 'gone', False), 'pid %s, info network after: %r' % (pid, left))
            r1 = a.kv('echo "tcp=$(tcp_echo %s %d first)"' % (r0.get('router'), srv.port))
            c.eq('first nic unaffected by hotplug', r1.get('tcp'), 'host-tcp:first')
            procs.see(g)
            a.quit()
    finally:
        srv.close()
        reap(c, procs)


# How often the guest saw eth0's carrier go: when it does, the guest drops
# its neighbours, and the ARP request it sends meanwhile is lost
CARRIER_DOWNS = 'echo downs=$(cat /sys/class/net/eth0/carrier_down_count)'


def link_held(c, name, a, downs):
    """Check name: eth0's carrier did not go down since downs."""
    if os.environ.get('SERIES') == '10.0':
        # frozen: it takes the link down, and gets fixes only
        c.skip(name, 'the 10.0 series takes the link down while passt restarts')
        return
    c.eq(name, a.kv(CARRIER_DOWNS).get('downs'), downs,
         'carrier_down_count of the guest\'s eth0')


@group('vhost-user-recovery', [
    'guest streams to host before the kill',
    'NETDEV_PASST_DISCONNECTED after SIGKILL, reason restarting',
    'NETDEV_PASST_CONNECTED with a new pid',
    'info network shows the new passt in vhost-user mode',
    'repair-helper: passt-repair connects to the new passt',
    'new guest tcp connection works after the restart',
    'new guest udp exchange works',
    'guest link stays up while passt restarts',
])
def g_vu_recovery(c):
    if unsupported(c, 'vhost-user=on', 'vhost-user=on,repair-helper=' + REPAIR):
        return
    sink, echo, uecho = H.TcpSink('127.0.0.1'), H.TcpEcho('127.0.0.1'), H.UdpEcho('127.0.0.1')
    procs = H.Procs()
    try:
        g = vu_guest([vnd(TALK + 'repair-helper=' + REPAIR)])
        c.guests.append(g)
        with running(g):
            a = Agent(g)
            gw = stream_to(c, a, sink)
            downs = a.kv(CARRIER_DOWNS).get('downs')
            q = g.qmp
            procs.see(g)
            _, (_, old, _) = info_n0(g)
            new, t_resp = kill_passt(c, q, old)
            st, (mode, pid, _) = info_n0(g)
            c.eq('info network shows the new passt in vhost-user mode', (mode, pid),
                 ('vhost-user', new), 'status: %r' % st)
            c.ok('repair-helper: passt-repair connects to the new passt',
                 wait_log(g, 'passt pid %s: Accepted TCP_REPAIR helper' % new),
                 'passt-repair under qemu: %r' % repair_helpers(g, timeout=0))
            procs.see(g)
            r = reconnect(a, gw, echo, uecho, 150)
            c.eq('new guest tcp connection works after the restart', r.get('tcp'),
                 'host-tcp:again', 'guest: %r' % r)
            c.eq('new guest udp exchange works', r.get('udp'), 'host-udp:again-u')
            link_held(c, 'guest link stays up while passt restarts', a, downs)
            c.infos.append('passt respawned %.2fs after SIGKILL (pid %s -> %s); '
                           'guest reconnected after %s s' % (t_resp, old, new, r.get('secs')))
            a.quit()
    finally:
        for s in (sink, echo, uecho):
            s.close()
        reap(c, procs)


# ------------------------------------------------------------------------
# Handover: the management layer starts passt on one end of a socket pair
# and gives QEMU the other (fd=), as when QEMU may not run programs.
def own_passt(vhost_user):
    """passt --fd on a new socket pair, as a management layer starts it:
    (process, our end of the pair)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    cmd = [P, '-f', '-q', '--fd', str(theirs.fileno())]
    if vhost_user:
        cmd.append('--vhost-user')
    pp = subprocess.Popen(cmd, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    theirs.close()
    return pp, ours


def handover_group(name, vhost_user):
    checks = [
        'guest gets a lease from the handed-over passt under -sandbox spawn=deny',
        'info network: handed-over fd',
        'tcp and udp to host loopback via gateway',
        'QEMU started no process',
        'NETDEV_PASST_DISCONNECTED when passt goes away: reason handed-over, no pid',
        'netdev-passt-set-fd: NETDEV_PASST_CONNECTED',
        'new guest tcp connection works after the handover',
        'new guest udp exchange works',
        'handed-over passt exits by itself when QEMU quits',
    ]
    mode = 'vhost-user' if vhost_user else 'stream'

    @group(name, checks)
    def g_handover(c):
        if vhost_user and unsupported(c, 'vhost-user=on'):
            return
        echo, uecho = H.TcpEcho('127.0.0.1'), H.UdpEcho('127.0.0.1')
        first, fd = own_passt(vhost_user)
        second = None
        try:
            netdev = 'passt,id=n0,fd=%d%s' % (fd.fileno(),
                                              ',vhost-user=on' if vhost_user else '')
            kw = dict(extra=['-sandbox', 'on,spawn=deny'], pass_fds=[fd.fileno()])
            g = vu_guest([netdev], **kw) if vhost_user else agent_guest([netdev], qmp=True, **kw)
            c.guests.append(g)
            with running(g):
                fd.close()
                a = Agent(g)
                q = g.qmp
                r = a.kv('net_up eth0 || echo lease=none\n'
                         'gw=$(lease_get eth0 router); echo gw=$gw\n'
                         'echo "tcp=$(tcp_echo $gw %d hello-h)"\n'
                         'echo "udp=$(udp_echo $gw %d hello-hu)"' % (echo.port, uecho.port),
                         timeout=60)
                c.notes.append('guest: %r' % r)
                c.ok(checks[0], r.get('lease') != 'none' and r.get('ip'), 'guest: %r' % r)
                st = H.passt_netdevs(q.hmp('info network')).get('n0')
                want = ('passt: %s, handed-over fd' % mode,
                        '%s,connected to a handed-over fd' % mode)
                c.ok(checks[1], st in want, 'info network: %r, want one of %r'
                     % (st, want))
                c.eq(checks[2], (r.get('tcp'), r.get('udp')),
                     ('host-tcp:hello-h', 'host-udp:hello-hu'))
                c.eq(checks[3], H.descendants(g.pid), [])
                first.kill()
                first.wait()
                ev = H.wait_event(q, 'NETDEV_PASST_DISCONNECTED', 15)
                down_event(c, checks[4], ev, {'netdev-id': 'n0', 'reason': 'handed-over'})
                second, fd = own_passt(vhost_user)
                q.getfd(fd.fileno(), 'passt1')
                fd.close()
                q.cmd('netdev-passt-set-fd', id='n0', fd='passt1')
                ev = H.wait_event(q, 'NETDEV_PASST_CONNECTED', 15)
                c.eq(checks[5], ev and ev['data'], {'netdev-id': 'n0'})
                r = reconnect(a, r.get('gw'), echo, uecho, 50)
                c.eq(checks[6], r.get('tcp'), 'host-tcp:again', 'guest: %r' % r)
                c.eq(checks[7], r.get('udp'), 'host-udp:again-u')
                rc = a.quit()
            try:
                second.wait(10)
            except subprocess.TimeoutExpired:
                pass
            c.eq(checks[8], (rc, second.returncode), (0, 0))
        finally:
            for pp in (first, second):
                if pp and pp.poll() is None:
                    pp.kill()
                    pp.wait()
            fd.close()
            echo.close()
            uecho.close()
    return g_handover


handover_group('handover', False)
handover_group('vhost-user-handover', True)


# ------------------------------------------------------------------------
# Migration: the same VM moved to a second QEMU on this host (-incoming
# defer, migrate over a unix socket); the guest agent goes on running.
ADDR = "echo addr=$(ip -4 -o addr show dev eth0 | awk '{print $4}')"


def wait_log(g, text, timeout=20):
    """Wait until QEMU's log (passt's output traced there) has text. A
    line of passt's, 'passt pid N: ...' as the 10.0 series traces it, may
    also be in the upstream series' form, 'passt (pid N): ...'."""
    texts = [text]
    m = re.match(r'passt pid (\d+): (.*)$', text, re.S)
    if m:
        texts.append('passt (pid %s): %s' % m.groups())
    deadline = time.monotonic() + timeout
    while not any(t in g.qemu_log() for t in texts):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def hop(c, name, src, dst, a, procs, src_check=None, keep_src=False):
    """Migrate src -> dst (check name), check the source with
    src_check(src) if given; quit src unless keep_src; the agent follows.
    Returns the source's last query-migrate."""
    procs.see(src, dst)
    H.drain_events(src.qmp)
    st = H.migrate(src, dst)
    c.ok(name, st.get('status') == 'completed', 'query-migrate: %r' % st)
    c.infos.append('%s: %s ms, downtime %s ms' % (name, st.get('total-time'),
                                                  st.get('downtime')))
    procs.see(src, dst)
    if src_check:
        src_check(src)
    if not keep_src:
        H.retire(src)
    a.follow(dst)
    return st


# 'info network' of a migrated source: the 10.0 series', upstream series'
MIGRATED = ('passt: migrated, started again if the guest runs here',
            'migrated, passt started again if the guest runs here')
SRC_MIGRATED = [
    'source: NETDEV_PASST_DISCONNECTED, reason migrated, pid of its passt',
    'source: info network says migrated',
    'source: its passt gone within 5 s, no other started',
]


def passts_under(g):
    """pids of the passts below g's QEMU (passt may run as passt.avx2)."""
    return [p for p in H.descendants(g.pid)
            if H.exe_name(p) in ('passt', 'passt.avx2')]


def passt_events(q):
    return [(ev['event'], ev['data']) for ev in q.events
            if ev['event'].startswith('NETDEV_PASST')]


def source_migrated(c, names, src, spid):
    """After a completed migration, on the source (paused there): names[0]
    its NETDEV_PASST_DISCONNECTED, reason migrated, with the pid of its
    passt; names[1] what 'info network' says; names[2] QEMU stopped that
    passt (whether or not its version exits by itself after handing its
    state over) and started no other. (None: not checked.)"""
    q = src.qmp
    t0 = time.monotonic()
    ev = H.wait_event(q, 'NETDEV_PASST_DISCONNECTED', 10)
    if names[0]:
        down_event(c, names[0], ev, {'netdev-id': 'n0', 'pid': spid, 'reason': 'migrated'})
    st, _ = info_n0(src)
    if names[1]:
        c.ok(names[1], st in MIGRATED, 'info network: %r, want one of %r'
             % (st, MIGRATED))
    gone = H.wait_gone(spid, 5) if spid else None
    secs = time.monotonic() - t0
    later = H.events_within(q, 0.5, 'NETDEV_PASST')
    kids = passts_under(src)
    if names[2]:
        c.ok(names[2], gone == 'gone' and not kids and not later,
             'source passt %s: %s after %.1f s; passt under the source qemu: %r; '
             'events since: %r; info network: %r' % (spid, gone, secs, kids,
                                                      passt_events(q), st))
    c.infos.append('source passt %s %s %.1f s after the migration completed'
                   % (spid, gone, secs))


def resume_source(c, name, src, dst, a, mode, old):
    """The guest ran on dst: quit dst, cont src. Check name: src's
    NETDEV_PASST_CONNECTED with a new pid, in 'info network' in mode.
    Returns the new pid."""
    H.retire(dst)
    a.follow(src)
    H.drain_events(src.qmp)
    t0 = time.monotonic()
    src.qmp.cmd('cont')
    ev = H.wait_event(src.qmp, 'NETDEV_PASST_CONNECTED', 30)
    new = ev and ev['data'].get('pid')
    st, (m, pid, _) = wait_info(src)
    c.ok(name, ev is not None and ev['data'].get('netdev-id') == 'n0' and new and
         new != old and H.pid_state(new) not in ('gone', 'Z') and (m, pid) == (mode, new),
         'event %r (old passt %s); info network: %r; status %r' % (
             ev, old, st, src.qmp.cmd('query-status')))
    c.infos.append('source resumed: passt %s started %.1f s after cont' % (
        new, time.monotonic() - t0))
    return new


MIG_STREAM = [
    'tcp to host loopback before migration',
    'migration completes, destination runs',
] + SRC_MIGRATED + [
    'destination started its own passt',
    'guest keeps its address',
    'new tcp connection to host loopback after migration',
    'new udp exchange after migration',
    'destination quits, source resumed with cont: NETDEV_PASST_CONNECTED, a new passt',
    'source resumed: new tcp connection and udp exchange work',
    'nothing left behind: qemu, passt, directories',
]


@group('migrate-stream', MIG_STREAM)
def g_migrate_stream(c):
    echo, uecho = H.TcpEcho('127.0.0.1'), H.UdpEcho('127.0.0.1')
    procs = H.Procs()
    try:
        src = agent_guest([nd()], qmp=True)
        c.guests.append(src)
        with running(src):
            a = Agent(src)
            r0 = a.kv('net_up eth0 >/dev/null || echo lease=none\n%s\n'
                      'gw=$(lease_get eth0 router); echo gw=$gw\n'
                      'echo "tcp=$(tcp_echo $gw %d before)"' % (ADDR, echo.port))
            c.eq(MIG_STREAM[0], r0.get('tcp'), 'host-tcp:before')
            _, (_, spid, _) = info_n0(src)
            dst = H.incoming_guest([nd()])
            c.guests.append(dst)
            with running(dst):
                _, (_, dpid, _) = info_n0(dst)
                hop(c, MIG_STREAM[1], src, dst, a, procs,
                    lambda g: source_migrated(c, MIG_STREAM[2:5], g, spid), keep_src=True)
                _, (mode, pid, _) = info_n0(dst)
                c.ok(MIG_STREAM[5],
                     mode == 'stream' and pid == dpid and pid != spid and
                     H.pid_state(pid) not in ('gone', 'Z'),
                     'source passt %s (%s), destination passt %s (%s, info %s)' % (
                         spid, H.pid_state(spid), dpid, H.pid_state(dpid), pid))
                r = a.kv('''{0}
i=0
while [ $i -lt 50 ]; do
    out=$(tcp_echo $gw {1} after 2); [ -n "$out" ] && break
    i=$((i+1)); usleep 200000
done
echo "tcp=$out"
echo "udp=$(udp_echo $gw {2} after-u)"
'''.format(ADDR, echo.port, uecho.port), timeout=60)
                c.notes.append('guest before: %r\nguest after: %r' % (r0, r))
                c.eq(MIG_STREAM[6], r.get('addr'), r0.get('addr'))
                c.eq(MIG_STREAM[7], r.get('tcp'), 'host-tcp:after')
                c.eq(MIG_STREAM[8], r.get('udp'), 'host-udp:after-u')
                procs.see(src, dst)
                resume_source(c, MIG_STREAM[9], src, dst, a, 'stream', spid)
                procs.see(src)
                reconnect_works(c, MIG_STREAM[10], a, r0.get('gw'), echo, uecho)
                procs.see(src)
                a.quit()
    finally:
        for s in (echo, uecho):
            s.close()
        reap(c, procs, MIG_STREAM[-1])


# One guest TCP connection kept open across migrations: the guest sends
# part i once released through a fifo, the host answers host-i on the same
# connection; the host server sees it all on one connection. (Reopened
# before the last writer closed it, the fifo gives EOF: read again.)
KEEP = '''
mkfifo /tmp/go
( for i in $(seq {n}); do [ $i = 1 ] || until read x < /tmp/go; do :; done
    printf "<$i>"; head -c {size} /dev/zero | tr '\\0' x; printf "</$i>"; done ) |
    socat {opts} - TCP4:$(lease_get eth0 router):{port} >/tmp/reply 2>/tmp/socat.err &
kpid=$!
'''


class Kept:
    SIZE = 30000

    def __init__(self, a, parts, opts='-t 30'):
        self.a, self.n, self.opts = a, parts, opts
        self.srv = H.TcpHold('127.0.0.1')

    def want(self, i):
        return b''.join(b'<%d>' % k + b'x' * self.SIZE + b'</%d>' % k
                        for k in range(1, i + 1))

    def got(self):
        d = self.srv.data
        return '%d bytes %r, %d connection(s), end %s' % (
            len(d), re.findall(rb'</?\d+>', d), len(self.srv.peers), self.srv.end)

    def start(self):
        self.a.sh(KEEP.format(n=self.n, size=self.SIZE, port=self.srv.port,
                              opts=self.opts))

    def step(self, i):
        """Part i both ways over the connection: (ok, diagnostics)."""
        want = self.want(i)
        if i == 1:
            self.srv.wait(lambda s: len(s.data) >= len(want) or s.end, 30)
        try:
            self.srv.send(b'host-%d\n' % i)
            sent = 'sent'
        except (OSError, IndexError) as e:
            sent = repr(e)
        r = self.a.kv('%swait_grep /tmp/reply host-%d 20 && echo seen=yes\n'
                      'echo "reply=$(tr \'\\n\' \' \' < /tmp/reply)"' % (
                          "timeout 10 sh -c 'echo go > /tmp/go'\n" if i > 1 else '', i),
                      timeout=60)
        self.srv.wait(lambda s: len(s.data) >= len(want) or s.end, 30)
        ok = (sent == 'sent' and r.get('seen') == 'yes' and self.srv.data == want and
              len(self.srv.peers) == 1 and (self.srv.end is None or i == self.n))
        return ok, 'host-%d: %s; guest: %r; host: %s' % (i, sent, r, self.got())

    def finish(self):
        """After the last part: the guest's socat ends cleanly."""
        r = self.a.kv('wait $kpid; echo rc=$?\necho "reply=$(tr \'\\n\' \' \' < /tmp/reply)"\n'
                      'echo "err=$(cat /tmp/socat.err)"', timeout=60)
        self.srv.wait(lambda s: s.end, 30)
        return r

    def close(self):
        self.srv.close()


def kept_checks(c, k, fin, whole, guest_end):
    c.ok(whole, k.srv.data == k.want(k.n) and len(k.srv.peers) == 1 and k.srv.end == 'eof',
         k.got())
    c.eq(guest_end, (fin.get('rc'), fin.get('reply', '').split(), fin.get('err')),
         ('0', ['host-%d' % i for i in range(1, k.n + 1)], ''))


# A second guest connection streams a known pattern (seq's output, again
# and again) while the VM migrates, until told to stop.
BULK = '''
seq 100000 > /tmp/blob
( n=0; while [ ! -e /tmp/stop ]; do cat /tmp/blob; n=$((n+1)); echo $n > /tmp/n; done ) |
    socat -u - TCP4:$(lease_get eth0 router):{port} 2>/tmp/bulk.err &
bpid=$!
'''
BULK_PATTERN = ''.join('%d\n' % i for i in range(1, 100001)).encode()


def bulk_start(a, srv):
    """Start the pattern stream; return once some of it arrived."""
    a.sh(BULK.format(port=srv.port))
    deadline = time.monotonic() + 30
    while srv.bytes < 4 * len(BULK_PATTERN) and time.monotonic() < deadline:
        time.sleep(0.05)
    srv.before = srv.bytes


def bulk_end(a, srv):
    """Stop the pattern stream; (ok, diagnostics) of what arrived: all of
    it, and more than before the migration."""
    r = a.kv('touch /tmp/stop; wait $bpid; echo rc=$?; echo n=$(cat /tmp/n)\n'
             'echo "err=$(cat /tmp/bulk.err)"', timeout=120)
    deadline = time.monotonic() + 30
    while srv.end is None and time.monotonic() < deadline:
        time.sleep(0.05)
    n = int(r.get('n') or 0)
    ok = (r.get('rc') == '0' and srv.bad is None and srv.end == 'eof' and
          srv.bytes == n * len(BULK_PATTERN) > srv.before and len(srv.peers) == 1)
    return ok, ('guest: %r; host: %d bytes, %d before the migration (want %d patterns '
                'of %d), first bad byte %s, end %s' % (
                    r, srv.bytes, srv.before, n, len(BULK_PATTERN), srv.bad, srv.end))


def repair_helpers(g, other=(), timeout=10):
    """pids of the passt-repair QEMU runs, once there is one not in other."""
    deadline = time.monotonic() + timeout
    while True:
        pids = [p for p in H.descendants(g.pid) if H.exe_name(p) == 'passt-repair']
        if set(pids) - set(other) or time.monotonic() > deadline:
            return pids
        time.sleep(0.1)


# Migration capabilities, set on both sides of a migration.
RETURN_PATH = {'return-path': True}


def set_caps(c, name, guests, caps):
    """migrate-set-capabilities caps on guests; check name (None: none):
    they have them."""
    for g in guests:
        g.qmp.cmd('migrate-set-capabilities',
                  capabilities=[{'capability': k, 'state': v} for k, v in caps.items()])
    if name is None:
        return
    got = [{x['capability']: x['state'] for x in g.qmp.cmd('query-migrate-capabilities')}
           for g in guests]
    c.ok(name, all(d.get(k) == v for d in got for k, v in caps.items()),
         'want %r, got %r' % (caps, [{k: d.get(k) for k in caps} for d in got]))


def vu_tcp_group(name, caps=None):
    """One guest TCP connection kept open across a migration to a second
    QEMU and on to a third, with a second one streaming a known pattern
    during the first; migration capabilities caps (e.g. RETURN_PATH: the
    source completes only once the destination has loaded the state) on
    every side, checked on the first two, or none set."""
    what = ', '.join(caps or ())
    vu = [
        'guest tcp connection to host loopback carries data both ways',
        'migration with %s completes' % what if caps else
        'migration to a second qemu completes',
    ] + SRC_MIGRATED + [
        'bulk stream in flight across the migration arrives intact',
        'destination qemu runs a new passt-repair after the migration',
        'guest keeps its address',
        'same connection carries data both ways after the migration',
        'migration on to a third qemu completes',
        'second source: its passt gone within 5 s, no other started',
        'same connection carries data both ways after the second migration',
        'host got the whole message in order on one connection, no reset',
        'guest socat ends cleanly with everything the host sent',
        'nothing left behind: qemu, passt, passt-repair, directories',
    ]
    checks = (['%s capability on, on both sides' % what] if caps else []) + vu

    @group(name, checks)
    def g_vu_tcp(c):
        if unsupported(c, 'vhost-user=on', 'vhost-user=on,repair-helper=' + REPAIR):
            return
        procs = H.Procs()
        netdev = [mvnd('repair-helper=' + REPAIR)]
        k = None
        bulk = H.TcpPattern(BULK_PATTERN, '127.0.0.1')
        try:
            g1 = vu_guest(netdev)
            c.guests.append(g1)
            with running(g1):
                a = Agent(g1)
                r0 = a.kv('net_up eth0 >/dev/null || echo lease=none\n' + ADDR)
                k = Kept(a, 3)
                k.start()
                c.ok(vu[0], *k.step(1))
                bulk_start(a, bulk)
                _, (_, spid, _) = info_n0(g1)
                g2 = vu_guest(netdev, incoming=True)
                c.guests.append(g2)
                with running(g2):
                    if caps:
                        set_caps(c, checks[0], (g1, g2), caps)
                    before = repair_helpers(g2)
                    hop(c, vu[1], g1, g2, a, procs,
                        lambda g: source_migrated(c, vu[2:5], g, spid))
                    c.ok(vu[5], *bulk_end(a, bulk))
                    c.infos.append('bulk stream: %.1f MB before the migration, %.1f MB '
                                   'in all' % (bulk.before / 1e6, bulk.bytes / 1e6))
                    after = repair_helpers(g2, before)
                    c.ok(vu[6], len(before) == len(after) == 1 and before != after,
                         'passt-repair under the destination qemu: %r before, %r after'
                         % (before, after))
                    r1 = a.kv(ADDR)
                    c.eq(vu[7], r1.get('addr'), r0.get('addr'))
                    c.ok(vu[8], *k.step(2))
                    _, (_, spid2, _) = info_n0(g2)
                    g3 = vu_guest(netdev, incoming=True)
                    c.guests.append(g3)
                    with running(g3):
                        if caps:
                            set_caps(c, None, (g2, g3), caps)
                        hop(c, vu[9], g2, g3, a, procs, lambda g: source_migrated(
                            c, (None, None, vu[10]), g, spid2))
                        c.ok(vu[11], *k.step(3))
                        kept_checks(c, k, k.finish(), vu[12], vu[13])
                        procs.see(g3)
                        a.quit()
        finally:
            if k:
                k.close()
            bulk.close()
            reap(c, procs, vu[-1])
    return g_vu_tcp


vu_tcp_group('migrate-vu-tcp')
vu_tcp_group('migrate-vu-return-path', RETURN_PATH)


MIG_IPERF = [
    'iperf3 client starts in the guest',
    'migration completes while iperf3 runs',
    'iperf3 still running after the migration',
    'guest iperf3 client ends without error',
    'host iperf3 server ends without error',
    'bytes counted on both sides',
    'nothing left behind: qemu, passt, passt-repair, directories',
]


@group('migrate-vu-iperf3', MIG_IPERF)
def g_migrate_vu_iperf3(c):
    if unsupported(c, 'vhost-user=on', 'vhost-user=on,repair-helper=' + REPAIR):
        return
    procs = H.Procs()
    netdev = [mvnd('repair-helper=' + REPAIR)]
    port, = H.free_ports(1)
    tmp = tempfile.mkdtemp(prefix='passt-iperf3-')
    srv = None
    try:
        with open(os.path.join(tmp, 'server.json'), 'w') as out:
            srv = subprocess.Popen(['iperf3', '-s', '-1', '-J', '-B', '127.0.0.1',
                                    '-p', str(port)], stdout=out, stderr=subprocess.STDOUT)
        procs.add(srv.pid)
        deadline = time.monotonic() + 10
        while not listening('tcp', port) and time.monotonic() < deadline:
            time.sleep(0.05)
        g1 = vu_guest(netdev)
        c.guests.append(g1)
        with running(g1):
            a = Agent(g1)
            r = a.kv('''
net_up eth0 >/dev/null || echo lease=none
iperf3 -c $(lease_get eth0 router) -p %d -t 8 -J >/tmp/iperf3.json 2>&1 </dev/null &
ipid=$!
sleep 2
kill -0 $ipid && echo running=yes
''' % port, timeout=60)
            c.eq(MIG_IPERF[0], r.get('running'), 'yes')
            g2 = vu_guest(netdev, incoming=True)
            c.guests.append(g2)
            with running(g2):
                hop(c, MIG_IPERF[1], g1, g2, a, procs)
                r = a.kv('kill -0 $ipid && echo running=yes')
                c.eq(MIG_IPERF[2], r.get('running'), 'yes',
                     'iperf3 -t 8 started 2 s before the migration')
                rc, _ = a.sh('wait $ipid', timeout=90)
                _, out = a.sh('cat /tmp/iperf3.json')
                try:
                    cl = json.loads('\n'.join(out))
                except ValueError:
                    cl = {'unparsed': out[-20:]}
                c.ok(MIG_IPERF[3], rc == 0 and 'error' not in cl,
                     'exit status %s, error %r' % (rc, cl.get('error', cl.get('unparsed'))))
                try:
                    srv_rc = srv.wait(60)
                except subprocess.TimeoutExpired:
                    srv_rc = 'still running'
                try:
                    with open(os.path.join(tmp, 'server.json')) as f:
                        sv = json.load(f)
                except ValueError:
                    sv = {}
                c.ok(MIG_IPERF[4], srv_rc == 0 and 'error' not in sv,
                     'exit status %s, error %r' % (srv_rc, sv.get('error')))
                sent = cl.get('end', {}).get('sum_sent', {}).get('bytes', 0)
                recv = sv.get('end', {}).get('sum_received', {}).get('bytes', 0)
                c.ok(MIG_IPERF[5], sent > 0 and recv > 0,
                     'guest sent %s bytes, host received %s' % (sent, recv))
                c.infos.append('iperf3 across migration: guest sent %s, host received %s bytes'
                               % (sent, recv))
                procs.see(g2)
                a.quit()
    finally:
        if srv and srv.poll() is None:
            srv.kill()
            srv.wait()
        shutil.rmtree(tmp, ignore_errors=True)
        reap(c, procs, MIG_IPERF[-1])


MIG_MGMT = [
    'info network names the repair-path given, on both sides',
    'passt listens on that socket (--repair-path), on both sides',
    'guest tcp connection to host loopback carries data both ways',
    'migration completes with passt-repair run by the test',
    'same connection carries data both ways after the migration',
    'host got the whole message in order on one connection, no reset',
    'guest socat ends cleanly with everything the host sent',
    'passt-repair exits 0 after the migration on both sides',
    'repair sockets left to the test once qemu and passt are gone',
    'nothing left behind: qemu, passt, passt-repair, directories',
]


def is_socket(path):
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def opt_value(cmd, opt):
    """The value after opt in the argument list cmd, or None."""
    return cmd[cmd.index(opt) + 1] if opt in cmd[:-1] else None


def wait_info(g, timeout=30):
    """info_n0(g) once passt runs (not starting or restarting)."""
    deadline = time.monotonic() + timeout
    while True:
        st, p = info_n0(g)
        if p[1] or time.monotonic() > deadline:
            return st, p
        time.sleep(0.1)


def run_repair(path, procs, log):
    """passt-repair on path, as a management layer would: once passt
    listens there."""
    H.unix_listening(path)
    p = subprocess.Popen([REPAIR, path], stdout=log, stderr=subprocess.STDOUT)
    procs.add(p.pid)
    return p


@group('migrate-vu-repair-by-test', MIG_MGMT)
def g_migrate_vu_mgmt(c):
    # The management layer's way: it chooses the repair sockets (here in a
    # directory of the test's) and runs passt-repair on them itself.
    tmp = tempfile.mkdtemp(prefix='passt-repair-')
    paths = [os.path.join(tmp, side + '.repair') for side in ('source', 'destination')]
    if unsupported(c, 'vhost-user=on', 'vhost-user=on,repair-path=' +
                   os.path.join(tmp, 'probe.repair')):
        shutil.rmtree(tmp, ignore_errors=True)
        return
    procs = H.Procs()
    k = None
    reps = []
    infos = []
    log = open(os.path.join(tmp, 'passt-repair.log'), 'w')
    try:
        g1 = vu_guest([mvnd(TALK + 'repair-path=' + paths[0])])
        c.guests.append(g1)
        with running(g1):
            a = Agent(g1)
            infos.append(wait_info(g1))
            reps.append(run_repair(paths[0], procs, log))
            a.kv('net_up eth0 >/dev/null || echo lease=none')
            k = Kept(a, 2)
            k.start()
            c.ok(MIG_MGMT[2], *k.step(1))
            g2 = vu_guest([mvnd(TALK + 'repair-path=' + paths[1])], incoming=True)
            c.guests.append(g2)
            with running(g2):
                infos.append(wait_info(g2))
                c.eq(MIG_MGMT[0], [p[2] for _, p in infos], paths,
                     'info network: %r' % [st for st, _ in infos])
                cmds = [H.passt_pids().get(p[1], []) for _, p in infos]
                c.ok(MIG_MGMT[1], all(opt_value(cmd, '--repair-path') == path and
                                      is_socket(path) for cmd, path in zip(cmds, paths)),
                     'passt: %r\nin %s: %r' % (cmds, tmp, sorted(os.listdir(tmp))))
                reps.append(run_repair(paths[1], procs, log))
                for g in (g1, g2):
                    if not wait_log(g, 'Accepted TCP_REPAIR helper'):
                        c.notes.append('no "Accepted TCP_REPAIR helper" from passt of %s'
                                       % g.dir)
                hop(c, MIG_MGMT[3], g1, g2, a, procs)
                c.ok(MIG_MGMT[4], *k.step(2))
                kept_checks(c, k, k.finish(), MIG_MGMT[5], MIG_MGMT[6])
                rcs = []
                for p in reps:
                    try:
                        rcs.append(p.wait(10))
                    except subprocess.TimeoutExpired:
                        rcs.append('running')
                log.flush()
                c.eq(MIG_MGMT[7], rcs, [0, 0],
                     'passt-repair output: %r' % open(log.name).read()[-2000:])
                procs.see(g2)
                a.quit()
        # QEMU removes the sockets it chose, not those it was given
        gone = [H.wait_gone(p[1]) if p[1] else None for _, p in infos]
        c.eq(MIG_MGMT[8], (gone, [is_socket(p) for p in paths]),
             (['gone', 'gone'], [True, True]), 'passt pids %r, in %s: %r' % (
                 [p[1] for _, p in infos], tmp, sorted(os.listdir(tmp))))
    finally:
        if k:
            k.close()
        for p in reps:
            if p.poll() is None:
                p.kill()
                p.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
        reap(c, procs, MIG_MGMT[-1])


MIG_NOREP = [
    'guest tcp connection to host loopback carries data both ways',
    'migration completes without passt-repair',
    'old connection: the source passt goes after the migration (reason migrated), '
    'the host gets a FIN',
    'guest keeps its address',
    'new tcp connection to host loopback works at once',
    'old connection: the guest\'s next data gets a reset, none of it reaches the host',
    'nothing left behind: qemu, passt, directories',
]


@group('migrate-vu-no-repair', MIG_NOREP)
def g_migrate_vu_norep(c):
    # vhost-user mode, no passt-repair anywhere: passt hands over no TCP
    # connection. The source's passt goes once the migration is through
    # (QEMU stops it, if it does not exit by itself), which closes its
    # socket; the destination's passt, which never heard
    # of the connection, answers the guest's next segment with a reset.
    if unsupported(c, 'vhost-user=on'):
        return
    procs = H.Procs()
    echo = H.TcpEcho('127.0.0.1')
    k = None
    try:
        g1 = vu_guest([mvnd()])
        c.guests.append(g1)
        with running(g1):
            a = Agent(g1)
            r0 = a.kv('net_up eth0 >/dev/null || echo lease=none\n' + ADDR)
            # -d: socat reports a reset met by read() as a warning
            k = Kept(a, 2, '-d -t 30')
            k.start()
            c.ok(MIG_NOREP[0], *k.step(1))
            g2 = vu_guest([mvnd()], incoming=True)
            c.guests.append(g2)
            with running(g2):
                _, (_, spid, _) = info_n0(g1)
                procs.see(g1, g2)
                st = H.migrate(g1, g2)
                c.ok(MIG_NOREP[1], st.get('status') == 'completed', 'query-migrate: %r' % st)
                c.infos.append('%s: %s ms, downtime %s ms' % (
                    MIG_NOREP[1], st.get('total-time'), st.get('downtime')))
                procs.see(g1, g2)
                # passt's state is over there; it goes (by itself, or QEMU
                # stops it, depending on its version): its sockets close
                ev = H.wait_event(g1.qmp, 'NETDEV_PASST_DISCONNECTED', 30)
                gone = H.wait_gone(spid, 30) if spid else None
                k.srv.wait(lambda s: s.end, 30)
                c.eq(MIG_NOREP[2], (ev and (ev['data'].get('pid'), ev['data'].get('reason')),
                                    gone, k.srv.end, k.srv.data == k.want(1)),
                     ((spid, 'migrated'), 'gone', 'eof', True),
                     '(source event: pid, reason; source passt %s gone; host end; '
                     'host data = part 1)\nevent: %r\nhost: %s' % (spid, ev, k.got()))
                procs.see(g1)
                H.retire(g1)
                a.follow(g2)
                r = a.kv(ADDR + '\necho "tcp=$(tcp_echo $(lease_get eth0 router) %d new 10)"'
                         % echo.port, timeout=60)
                c.eq(MIG_NOREP[3], r.get('addr'), r0.get('addr'))
                c.eq(MIG_NOREP[4], r.get('tcp'), 'host-tcp:new', 'guest: %r' % r)
                fin = a.kv("timeout 10 sh -c 'echo go > /tmp/go'\n"
                           'wait $kpid; echo rc=$?\n'
                           'echo "reply=$(tr \'\\n\' \' \' < /tmp/reply)"\n'
                           'echo "err=$(tr \'\\n\' \' \' < /tmp/socat.err)"', timeout=90)
                # socat warns about a reset met by read() and may exit 0
                c.eq(MIG_NOREP[5], ('Connection reset by peer' in fin.get('err', ''),
                                    fin.get('reply', '').split(),
                                    k.srv.data == k.want(1), len(k.srv.peers)),
                     (True, ['host-1'], True, 1),
                     '(reset seen by socat, what it got, host data = part 1, '
                     'connections)\nguest: %r\nhost: %s' % (fin, k.got()))
                msgs = re.findall(r'socat\[\d+\] (\w .*?)\s*(?=\S+ \S+ socat\[|$)',
                                  fin.get('err', ''))
                c.infos.append('old connection after the migration, guest socat: %s'
                               % '; '.join(msgs))
                procs.see(g2)
                a.quit()
    finally:
        if k:
            k.close()
        echo.close()
        reap(c, procs, MIG_NOREP[-1])


_help = []


def same_host_opts():
    """What a management layer gives a passt --vhost-user whose guest may
    migrate to another passt on the same host, as passt's own migration
    tests do: the options that make it close the sockets it hands over
    (and exit), where this passt has them (newer versions keep those
    sockets open by default, so that the destination's passt cannot take
    their addresses over on the same host; older ones always close them)."""
    if not _help:
        r = subprocess.run([P, '--help'], capture_output=True, text=True)
        _help.append(r.stdout + r.stderr)
    return [o for o in ('--migrate-exit', '--migrate-no-linger') if o in _help[0]]


class HandPasst:
    """passt --vhost-user started by hand, as a management layer would, and
    passt-repair on its repair socket: for -chardev socket + -netdev
    vhost-user."""

    def __init__(self, tmp, name, procs):
        self.sock = os.path.join(tmp, name + '.socket')
        self.log = open(os.path.join(tmp, name + '.log'), 'w')
        self.procs = procs
        self.passt = subprocess.Popen([P, '--vhost-user', '--socket', self.sock,
                                       '--foreground'] + same_host_opts(),
                                      stdin=subprocess.DEVNULL,
                                      stdout=self.log, stderr=subprocess.STDOUT)
        procs.add(self.passt.pid)
        self.repair = None
        # bound before it listens: passt-repair would find it refusing
        H.unix_listening(self.sock + '.repair')
        deadline = time.monotonic() + 10
        self.repair = subprocess.Popen([REPAIR, self.sock + '.repair'],
                                       stdout=self.log, stderr=subprocess.STDOUT)
        procs.add(self.repair.pid)
        while 'Accepted TCP_REPAIR helper' not in self.output() and \
                time.monotonic() < deadline:
            time.sleep(0.05)

    def guest(self, incoming=False):
        return vu_guest(['vhost-user,id=n0,chardev=hp0'], incoming=incoming,
                        extra=['-chardev', 'socket,id=hp0,path=' + self.sock])

    def output(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def close(self):
        for p in (self.repair, self.passt):
            if p and p.poll() is None:
                p.kill()
                p.wait()
        self.log.close()


MIG_COMPAT = [
    'guest on -netdev vhost-user to a hand-started passt: connection carries data',
    'migration -netdev vhost-user -> -netdev passt,vhost-user=on completes',
    'same connection carries data both ways on -netdev passt',
    'migration -netdev passt,vhost-user=on -> -netdev vhost-user completes',
    'same connection carries data both ways on -netdev vhost-user again',
    'host got the whole message in order on one connection, no reset',
    'guest socat ends cleanly with everything the host sent',
    'nothing left behind: qemu, passt, passt-repair, directories',
]


@group('migrate-vu-compat', MIG_COMPAT)
def g_migrate_vu_compat(c):
    if unsupported(c, 'vhost-user=on', 'vhost-user=on,repair-helper=' + REPAIR):
        return
    procs = H.Procs()
    tmp = tempfile.mkdtemp(prefix='passt-compat-')
    k = None
    hands = []
    try:
        hands.append(HandPasst(tmp, 'passt1', procs))
        g1 = hands[0].guest()
        c.guests.append(g1)
        with running(g1):
            a = Agent(g1)
            a.kv('net_up eth0 >/dev/null || echo lease=none')
            k = Kept(a, 3)
            k.start()
            c.ok(MIG_COMPAT[0], *k.step(1))
            g2 = vu_guest([mvnd('repair-helper=' + REPAIR)], incoming=True)
            c.guests.append(g2)
            with running(g2):
                hop(c, MIG_COMPAT[1], g1, g2, a, procs)
                c.ok(MIG_COMPAT[2], *k.step(2))
                hands.append(HandPasst(tmp, 'passt2', procs))
                g3 = hands[1].guest(incoming=True)
                c.guests.append(g3)
                with running(g3):
                    hop(c, MIG_COMPAT[3], g2, g3, a, procs)
                    c.ok(MIG_COMPAT[4], *k.step(3))
                    kept_checks(c, k, k.finish(), MIG_COMPAT[5], MIG_COMPAT[6])
                    procs.see(g3)
                    a.quit()
    finally:
        if k:
            k.close()
        for h in hands:
            if any(s == 'not ok' for s, _ in c.results.values()):
                c.notes.append('--- %s ---\n%s' % (h.sock, h.output()[-3000:]))
            h.close()
        shutil.rmtree(tmp, ignore_errors=True)
        reap(c, procs, MIG_COMPAT[-1])


VU_DEL = [
    'guest on -netdev vhost-user to a hand-started passt gets a lease',
    'netdev_del under the NIC: QEMU runs on',
    'the guest rebinds virtio-net after netdev_del: QEMU runs on',
]


@group('vhost-user-netdev-del', VU_DEL)
def g_vhost_user_netdev_del(c):
    """-netdev vhost-user deleted under its NIC: the NIC keeps the netdev's
    clients until it goes itself, and virtio-net asks them for their
    vhost_net when the guest sets the device up again."""
    procs = H.Procs()
    tmp = tempfile.mkdtemp(prefix='passt-vudel-')
    hand = None
    try:
        hand = HandPasst(tmp, 'passt1', procs)
        g = hand.guest()
        c.guests.append(g)
        with running(g):
            a = Agent(g)
            r = a.kv('net_up eth0 >/dev/null || echo lease=none')
            c.ok(VU_DEL[0], r.get('lease') != 'none', r)
            g.qmp.cmd('netdev_del', id='n0')
            c.ok(VU_DEL[1], g.running() and g.qmp.cmd('query-status')['running'])
            r = a.kv('d=$(basename $(readlink /sys/class/net/eth0/device))\n'
                     'v=/sys/bus/virtio/drivers/virtio_net\n'
                     'echo $d > $v/unbind && echo $d > $v/bind && echo bound=$d')
            time.sleep(1)
            c.ok(VU_DEL[2], g.running() and r.get('bound') and
                 g.qmp.cmd('query-status')['running'], r)
            a.quit()
    finally:
        if hand:
            hand.close()
        shutil.rmtree(tmp, ignore_errors=True)
        reap(c, procs)


# ------------------------------------------------------------------------
# What QEMU does with its passt is decided by its migration state: on a
# completed migration the source stops its passt (whether or not that
# passt's version exits by itself once it handed its state over) and
# starts a new one if the guest runs there again; on a failed or cancelled
# one the guest goes on with the same passt, or a new one if it exited.
SLOW = 1 << 20      # bytes/s: a migration that is to be broken on the way


def source_passt_after(c, name, g, spid, mode='vhost-user'):
    """After a migration that failed or was cancelled, the guest goes on on
    the source g. Check name: with the same passt spid and no event, or,
    if that passt exited during the migration (versions that exit once
    they handed their state over), NETDEV_PASST_DISCONNECTED with reason
    restarting and a new passt. True if the passt was kept.
    Its passt must talk (TALK): one that exits says so first."""
    q = g.qmp
    evs = H.events_within(q, 1.5, 'NETDEV_PASST')
    # Decided on what passt said, not on whether it is gone yet: on a
    # loaded machine, one that said it exits may take a while to.
    exiting = wait_log(g, 'passt pid %s: Migration complete, exiting' % spid, 0)
    gone = H.wait_gone(spid, 15) if exiting else H.pid_state(spid)
    if not exiting and gone not in ('gone', 'Z'):
        st, (m, pid, _) = info_n0(g)
        c.ok(name, not evs and (m, pid) == (mode, spid),
             'passt %s still runs; events %r; info network %r' % (spid, passt_events(q), st))
        c.infos.append('source passt %s kept' % spid)
        return True
    down = H.wait_event(q, 'NETDEV_PASST_DISCONNECTED', 10)
    up = H.wait_event(q, 'NETDEV_PASST_CONNECTED', 30)
    new = up and up['data'].get('pid')
    st, (m, pid, _) = wait_info(g)
    d = dict(down['data']) if down else None
    err = d.pop('error', None) if d else None
    c.ok(name, d == {'netdev-id': 'n0', 'pid': spid, 'reason': 'restarting'} and
         up is not None and up['data'].get('netdev-id') == 'n0' and new and new != spid and
         H.pid_state(new) not in ('gone', 'Z') and (m, pid) == (mode, new),
         'passt %s exited (%s; it said so: %s); events: %r then %r; info network %r' % (
             spid, H.pid_state(spid), exiting, down, up, st))
    c.infos.append('source passt %s exited during the migration (%r), QEMU started %s'
                   % (spid, err, new))
    return False


def break_migration(src, dst, how):
    """Start a throttled migration src -> dst; once it is under way, end
    it: 'kill' the destination QEMU, or 'cancel' it. Returns the source's
    query-migrate then and once it is over."""
    H.migrate_start(src, dst, bandwidth=SLOW)
    st = H.migrate_wait(src, timeout=30, cond=lambda st: st.get('status') == 'active' and
                        st.get('ram', {}).get('transferred', 0) > SLOW // 4)
    if how == 'kill':
        dst.kill()
    else:
        src.qmp.cmd('migrate_cancel')
    return st, H.migrate_wait(src, timeout=30)


MIG_RESUME = [
    'tcp to host loopback before migration',
    'migration completes, destination runs',
] + SRC_MIGRATED + [
    'tcp to host loopback from the destination',
    'destination quits, source resumed with cont: NETDEV_PASST_CONNECTED, '
    'a new passt in vhost-user mode',
    'source resumed: repair-helper connects a passt-repair to the new passt',
    'source resumed: new tcp connection and udp exchange work',
    'nothing left behind: qemu, passt, passt-repair, directories',
]


@group('migrate-vu-resume-source', MIG_RESUME)
def g_migrate_vu_resume(c):
    # The guest migrated, then its destination went away: the source, told
    # to go on (cont), needs a passt again. The connections went with the
    # old one: only new ones work.
    if unsupported(c, 'vhost-user=on', 'vhost-user=on,repair-helper=' + REPAIR):
        return
    procs = H.Procs()
    netdev = [mvnd(TALK + 'repair-helper=' + REPAIR)]
    echo, uecho = H.TcpEcho('127.0.0.1'), H.UdpEcho('127.0.0.1')
    try:
        g1 = vu_guest(netdev)
        c.guests.append(g1)
        with running(g1):
            a = Agent(g1)
            r0 = a.kv('net_up eth0 >/dev/null || echo lease=none\n'
                      'gw=$(lease_get eth0 router); echo gw=$gw\n'
                      'echo "tcp=$(tcp_echo $gw %d before)"' % echo.port)
            c.eq(MIG_RESUME[0], r0.get('tcp'), 'host-tcp:before')
            _, (_, spid, _) = info_n0(g1)
            g2 = vu_guest(netdev, incoming=True)
            c.guests.append(g2)
            with running(g2):
                hop(c, MIG_RESUME[1], g1, g2, a, procs,
                    lambda g: source_migrated(c, MIG_RESUME[2:5], g, spid), keep_src=True)
                r = a.kv('echo "tcp=$(tcp_echo $gw %d on-destination)"' % echo.port)
                c.eq(MIG_RESUME[5], r.get('tcp'), 'host-tcp:on-destination')
                procs.see(g1, g2)
                new = resume_source(c, MIG_RESUME[6], g1, g2, a, 'vhost-user', spid)
                procs.see(g1)
                c.ok(MIG_RESUME[7], new and
                     wait_log(g1, 'passt pid %s: Accepted TCP_REPAIR helper' % new),
                     'passt-repair under the source qemu: %r' % repair_helpers(g1, timeout=0))
                reconnect_works(c, MIG_RESUME[8], a, r0.get('gw'), echo, uecho)
                procs.see(g1)
                a.quit()
    finally:
        for s in (echo, uecho):
            s.close()
        reap(c, procs, MIG_RESUME[-1])


def fail_late(src, dst, spid):
    """Migrate src -> dst, which lacks a device src has after the NIC: dst
    fails on it once it has loaded the NIC, passt's state with it. Returns
    (ok, diagnostics): the migration failed after the source's passt
    handed its state over (it says so: TALK), and dst refused the device."""
    H.migrate_start(src, dst)
    end = H.migrate_wait(src, timeout=60)
    handed = wait_log(src, 'passt pid %s: Migration complete' % spid, 5)
    rc = dst.wait_exit(10)
    # QEMU 10.0's words, then 10.2's
    refused = re.findall(r'.*(?:savevm section|Unknown section or instance).*',
                         dst.qemu_log())
    return (end.get('status') == 'failed' and handed and refused,
            'query-migrate: %r\nsource passt %s said "Migration complete": %s\n'
            'destination: exit status %s, %r' % (end, spid, handed, rc,
                                                 refused))


def broken_group(name, how):
    """A migration that does not complete: its destination QEMU is killed
    ('kill'), or it is cancelled ('cancel'), while RAM is copied; or
    ('late'), with return-path on, the source has one device more than the
    destination, after the NIC, and the destination refuses it once passt
    handed its state over. The guest goes on on the source, with its passt
    and its connection; after a cancelled one, a new migration completes.
    After 'late', passt gave its connections away (the destination's passt
    took them and is gone): only new ones can work."""
    late = how == 'late'
    what = 'cancelled' if how == 'cancel' else 'failed'
    TCP = 'guest tcp connection to host loopback carries data both ways'
    CAPS = 'return-path capability on, on both sides'
    ENDS = {'kill': 'destination qemu killed while the migration is active: it fails',
            'cancel': 'migrate_cancel while the migration is active: it is cancelled',
            'late': 'source passt hands its state over, then the destination refuses '
                    'a device: the migration fails'}[how]
    RUNS = 'the guest runs on the source'
    KEPT = ('source passt kept: same pid, no NETDEV_PASST event (or, had it exited%s, '
            'reason restarting and a new passt)' % (' with its state' if late else ''))
    SAME = 'same connection carries data both ways after the %s migration' % what
    NEW = 'new tcp connection and udp exchange work on the source'
    AGAIN = 'a new migration to another qemu then completes'
    THERE = 'same connection carries data both ways on that destination'
    WHOLE = 'host got the whole message in order on one connection, no reset'
    END = 'guest socat ends cleanly with everything the host sent'
    if late:
        checks = [TCP, CAPS, ENDS, RUNS, KEPT, NEW]
    else:
        checks = [TCP, ENDS, RUNS, KEPT, SAME, NEW]
    if how == 'cancel':
        checks += [AGAIN, SRC_MIGRATED[0], SRC_MIGRATED[2], THERE]
    if not late:
        checks += [WHOLE, END]
    checks += ['nothing left behind: qemu, passt, passt-repair, directories']
    gone = 'the source passt exited with the connection'

    @group(name, checks)
    def g_broken(c):
        if unsupported(c, 'vhost-user=on', 'vhost-user=on,repair-helper=' + REPAIR):
            return
        procs = H.Procs()
        netdev = [mvnd(TALK + 'repair-helper=' + REPAIR)]
        echo, uecho = H.TcpEcho('127.0.0.1'), H.UdpEcho('127.0.0.1')
        k = None
        killed = H.Procs()      # a QEMU killed leaves its directories to us
        try:
            # late: a device after the NIC that the destination lacks
            g1 = vu_guest(netdev, extra=['-device', 'virtio-rng-pci,id=extra'] if late else [])
            c.guests.append(g1)
            with running(g1):
                a = Agent(g1)
                r0 = a.kv('net_up eth0 >/dev/null || echo lease=none\n'
                          'echo gw=$(lease_get eth0 router)')
                k = Kept(a, 3 if how == 'cancel' else 2)
                k.start()
                c.ok(TCP, *k.step(1))
                _, (_, spid, _) = info_n0(g1)
                g2 = vu_guest(netdev, incoming=True)
                c.guests.append(g2)
                with running(g2):
                    procs.see(g1)
                    (killed if how == 'kill' else procs).see(g2)
                    procs.pids.update(killed.pids)
                    if late:
                        set_caps(c, CAPS, (g1, g2), RETURN_PATH)
                        c.ok(ENDS, *fail_late(g1, g2, spid))
                    else:
                        st, end = break_migration(g1, g2, how)
                        c.ok(ENDS, st.get('status') == 'active' and
                             end.get('status') == what,
                             'query-migrate when ended: %r\nthen: %r' % (st, end))
                        c.infos.append('%s after %s of %s bytes' % (
                            what, st.get('ram', {}).get('transferred'),
                            st.get('ram', {}).get('total')))
                    c.eq(RUNS, g1.qmp.cmd('query-status')['status'], 'running')
                    kept = source_passt_after(c, KEPT, g1, spid)
                    procs.see(g1)
                    if late:
                        c.infos.append('old connection on the host: %s' % k.got())
                    elif kept:
                        c.ok(SAME, *k.step(2))
                    else:
                        c.skip(SAME, gone)
                    reconnect_works(c, NEW, a, r0.get('gw'), echo, uecho)
                    if g2.wait_exit(10) is None:
                        c.notes.append('destination qemu still running after the %s '
                                       'migration' % what)

                def last_part(g):
                    if kept and not late:
                        kept_checks(c, k, k.finish(), WHOLE, END)
                    elif not late:
                        for n in (WHOLE, END):
                            c.skip(n, gone)
                    procs.see(g)
                    a.quit()

                if how == 'cancel':
                    _, (_, spid, _) = info_n0(g1)
                    g3 = vu_guest(netdev, incoming=True)
                    c.guests.append(g3)
                    with running(g3):
                        hop(c, AGAIN, g1, g3, a, procs, lambda g: source_migrated(
                            c, (SRC_MIGRATED[0], None, SRC_MIGRATED[2]), g, spid))
                        if kept:
                            c.ok(THERE, *k.step(3))
                        else:
                            c.skip(THERE, gone)
                        last_part(g3)
                else:
                    last_part(g1)
        finally:
            if k:
                k.close()
            echo.close()
            uecho.close()
            for d in killed.dirs:
                shutil.rmtree(d, ignore_errors=True)
            reap(c, procs, checks[-1])
    return g_broken


broken_group('migrate-vu-failed', 'kill')
broken_group('migrate-vu-cancel', 'cancel')
broken_group('migrate-vu-failed-late', 'late')


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


RUNNING = set()             # the Checks of the groups running now
_running_lock = threading.Lock()


def guest_tail(g):
    """What a failed group shows of guest g: the tails of its results,
    console and QEMU log, so that one guest's long log (a migration's
    destination, a verbose passt) does not push another's out of the
    report."""
    return '\n'.join(['--- %s: results (tail) ---' % g.name]
                     + (g.output or '').splitlines()[-10:]
                     + ['--- %s: console (tail) ---' % g.name]
                     + g.console().splitlines()[-15:]
                     + ['--- %s: qemu (tail) ---' % g.name]
                     + g.qemu_log().splitlines()[-25:])


def run_group(name, names, fn):
    c = Checks(name, names)
    c.guests = []
    err = diag = None
    t0 = time.monotonic()
    with _running_lock:
        RUNNING.add(c)
    try:
        fn(c)
    except Exception as e:      # noqa: B902
        err = '%s: %s' % (type(e).__name__, str(e).splitlines()[0] if str(e) else '')
        diag = traceback.format_exc()
    finally:
        with _running_lock:
            RUNNING.discard(c)
    if err or any(s == 'not ok' for s, _ in c.results.values()):
        for g in c.guests:
            if g.lines or g.vm:
                diag = (diag or '') + '\n' + guest_tail(g)
    c.notes.append('group %s took %.1fs' % (name, time.monotonic() - t0))
    return c.finish(err, diag), time.monotonic() - t0


SIGNALS = []                # the signals that interrupted us


def on_signal(signum, frame):
    SIGNALS.append(signum)
    raise KeyboardInterrupt


def interrupted():
    """What interrupted us, and our exit status for it."""
    sig = signal.Signals(SIGNALS[-1] if SIGNALS else signal.SIGINT)
    return sig.name, 128 + sig


def stop_running(futs, timeout=60):
    """After an interrupt: end the groups still running soon, so that they
    clean up after themselves (their finally blocks): SIGTERM their QEMUs
    (each stops its passt and removes its directories), and those they
    start later, for up to timeout s. True if they all ended."""
    deadline = time.monotonic() + timeout
    while True:
        with _running_lock:
            guests = [g for c in RUNNING for g in c.guests]
        for g in guests:
            # only a signal: g.shutdown() is its group's, in its thread
            pid = g.pid
            if pid:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        # not wait(futs): it counts cancelled ones as done only once a
        # worker saw them, and none will
        pending = [f for f in futs if not f.done()]
        if not pending or time.monotonic() > deadline:
            return not pending
        concurrent.futures.wait(pending, timeout=0.5)


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
    # timeout(1) sends SIGTERM: end as on ^C, cleaning up
    signal.signal(signal.SIGTERM, on_signal)
    t0 = time.monotonic()
    why = setup()
    if why:
        print('Bail out! ' + why)
        return 1
    # Longest groups first so that the two job slots end together.
    order = ['migrate-vu-iperf3', 'recovery', 'hotplug', 'forwards', 'equivalence',
             'vhost-user', 'migrate-vu-tcp', 'migrate-vu-return-path', 'migrate-vu-cancel',
             'migrate-vu-failed', 'migrate-stream', 'migrate-vu-resume-source',
             'migrate-vu-failed-late', 'defaults', 'maps']
    groups.sort(key=lambda g: order.index(g[0]) if g[0] in order else len(order))
    tap = H.Tap(sum(len(g[1]) for g in groups))
    times = {}
    ex = concurrent.futures.ThreadPoolExecutor(max(1, o.jobs))
    futs = {}
    try:
        for g in groups:
            futs[ex.submit(run_group, *g)] = g[0]
        for f in concurrent.futures.as_completed(futs):
            results, secs = f.result()
            times[futs[f]] = secs
            tap.emit(results)
    except KeyboardInterrupt:
        # Once is enough: let the running groups clean up.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        ex.shutdown(wait=False, cancel_futures=True)
        left = sorted(n for f, n in futs.items() if not f.done())
        why, rc = interrupted()
        print('Bail out! interrupted (%s) while running %s' % (why, ', '.join(left)),
              flush=True)
        ended = stop_running(futs)
        sys.stderr.write('guest suite interrupted: %s\n' % (
            'the running groups stopped' if ended else
            'groups still running after 60 s, leaving them'))
        sys.stderr.flush()
        if not ended:
            faulthandler.dump_traceback(sys.stderr)     # where they are stuck
            sys.stderr.flush()
            os._exit(rc)        # do not wait for the executor's threads
        return rc
    ex.shutdown()
    print('# group times: ' + ', '.join('%s %.1fs' % kv for kv in sorted(
        times.items(), key=lambda kv: -kv[1])))
    print('# %d checks, %d failed, %d skipped in %.1fs (accel %s)' % (
        tap.n, tap.failed, tap.skipped, time.monotonic() - t0, H.probe_accel()))
    return 1 if tap.failed else 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except KeyboardInterrupt:       # before the groups started
        why, rc = interrupted()
        print('Bail out! interrupted (%s)' % why, flush=True)
        sys.exit(rc)
