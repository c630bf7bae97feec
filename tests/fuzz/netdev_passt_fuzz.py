#!/usr/bin/env python3
"""Fuzz QMP netdev_add of type passt against a real QEMU and passt.

Sends random and malformed netdev_add requests (wrong types, huge lists,
long strings, odd bytes, duplicate ids, bad paths, bad param), port
forwards at run time and query-passt on the netdevs added, and checks
that QEMU answers every one and never dies, and that afterwards no passt
process, QEMU fd or private directory is left. TAP on stdout.

Environment: QEMU, PASST (binaries), FUZZ_ITERATIONS (default 4000: about
a minute here), FUZZ_SEED (default: random, printed).
"""

import glob
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
sys.path.insert(0, os.path.join(TOP, 'guest'))
from guestlib import QMP, QMPError  # noqa: E402
QEMU = os.environ.get('QEMU', os.path.join(TOP, 'build', 'qemu-build',
                                           'qemu-system-x86_64'))
PASST = os.environ.get('PASST', os.path.join(TOP, 'build', 'passt', 'bin',
                                             'passt'))
REPAIR = os.path.join(os.path.dirname(PASST), 'passt-repair')
ITERATIONS = int(os.environ.get('FUZZ_ITERATIONS', '4000'))
SEED = int(os.environ.get('FUZZ_SEED', str(random.randrange(1 << 32))))

STARTED = []
BOOLS = ['quiet', 'debug', 'trace', 'vhost-user', 'dhcp-dns', 'dhcp-search',
         'tcp', 'udp', 'icmp', 'dhcp', 'ndp', 'dhcpv6', 'ra', 'freebind',
         'ipv4', 'ipv6']
STRS = ['path', 'pcap-file', 'address', 'netmask', 'mac', 'gateway',
        'interface', 'outbound', 'outbound-if4', 'outbound-if6', 'dns',
        'fqdn', 'map-host-loopback', 'map-guest-addr', 'dns-forward',
        'dns-host', 'fd', 'repair-helper', 'control-path', 'forward-helper']
LISTS = ['search', 'tcp-ports', 'udp-ports', 'param']
GOOD = {
    'address': ['10.0.2.15', 'fd00::15', '192.0.2.7'],
    'netmask': ['24', '255.255.255.0', '0', '32'],
    'mac': ['9a:55:9a:55:9a:56', '02:00:00:00:00:01'],
    'gateway': ['10.0.2.2', 'fd00::2'],
    'dns': ['10.0.2.3', 'none', '::1'],
    'mtu': [1500, 65520, 0, 68],
    'tcp-ports': ['2222:22', '127.0.0.1/8080', '30000-30010', 'none'],
    'udp-ports': ['5353', 'none'],
    'search': ['example.test', 'a.b'],
    'param': ['--quiet', '-d', '--no-map-gw'],
    'repair-helper': [REPAIR, '/bin/true', '/nonexistent/passt-repair'],
}
ODD = ['', '-', '--', '-F3', '-fs', '--fd=3', '--pid', '--socket=/tmp/x',
       '\n', 'a\nb', '\t', '\u00e9', '\u202e', '\ud7ff', '%s%n', '${IFS}',
       '$(reboot)', '`id`', ';reboot', '../../etc/passwd', '/dev/null',
       '/nonexistent/passt', '/etc/passwd', ' ', '0x10', '1e9', 'none', 'all',
       'auto', '\\', '"', "'", '\x7f', '\x01', '-' * 300]


def rnd_str(r):
    c = r.random()
    if c < 0.3:
        return r.choice(ODD)
    if c < 0.5:
        return ''.join(chr(r.randrange(1, 0x800)) for _ in range(r.randrange(20)))
    if c < 0.55:
        return 'x' * r.choice([255, 4096, 4096, 65536])
    if c < 0.552:
        # over Linux's 128 KiB for one argument of execve()
        return 'x' * 200000
    return ''.join(r.choice('abcdef0123456789.:/-_%~,') for _ in
                   range(r.randrange(1, 40)))


def rnd_value(r):
    return r.choice([
        lambda: rnd_str(r), lambda: r.randrange(-2**63, 2**63),
        lambda: r.choice([True, False]), lambda: None, lambda: [],
        lambda: {}, lambda: r.random(), lambda: [rnd_str(r)],
        lambda: {'str': rnd_str(r)}, lambda: 2**64 + 1,
    ])()


def rnd_list(r):
    c = r.random()
    if c < 0.03:
        return [{'str': 'x'}] * r.choice([1000, 20000])
    if c < 0.2:
        return rnd_value(r)
    return [{'str': rnd_str(r) if r.random() < 0.7 else r.choice(ODD)}
            if r.random() < 0.9 else rnd_value(r)
            for _ in range(r.randrange(0, 6))]


def rnd_args(r, ids):
    args = {'type': 'passt', 'path': PASST}
    if r.random() < 0.1:
        args['type'] = r.choice(['passt ', 'PASST', 'pass', 7, None])
    c = r.random()
    args['id'] = (r.choice(ids) if c < 0.3 else
                  rnd_str(r) if c < 0.4 else
                  rnd_value(r) if c < 0.45 else
                  'f%d' % r.randrange(10**6))
    if r.random() < 0.05:
        del args['id']
    for _ in range(r.randrange(0, 5)):
        k = r.choice(BOOLS + STRS + LISTS + ['mtu', 'bogus'])
        if k in GOOD and r.random() < 0.5:
            v = r.choice(GOOD[k])
            args[k] = [{'str': v}] if k in LISTS else v
        elif k in BOOLS:
            args[k] = r.choice([True, False]) if r.random() < 0.8 else rnd_value(r)
        elif k in LISTS:
            args[k] = rnd_list(r)
        elif k == 'mtu':
            args[k] = r.choice([r.randrange(-10, 70000), rnd_value(r)])
        elif k == 'path' and r.random() < 0.5:
            args[k] = r.choice(['/nonexistent/passt', '/bin/false', '/dev/null',
                                '/tmp', 'passt-not-in-path', '', PASST])
        else:
            args[k] = rnd_str(r) if r.random() < 0.8 else rnd_value(r)
    return args


def raw_garbage(r):
    return r.choice([
        b'{', b'}', b'{"execute": "netdev_add", "arguments": {"type": "passt",',
        b'{"execute": "netdev_add", "arguments": {"type": "passt", "id": "\xff\xfe"}}',
        b'{"execute": "netdev_add", "arguments": [1, 2, 3]}',
        b'{"execute": "netdev_add", "arguments": {"type": "passt", "id": "z",'
        b' "param": [{"str": "\\u0000"}]}}',
        b'[' * 2000, bytes(r.randrange(256) for _ in range(r.randrange(1, 200))),
    ])


def forward(q, r, nid):
    """A port forward at run time, added or removed, good or not"""
    spec = r.choice(GOOD['tcp-ports'] + GOOD['udp-ports'] + ODD +
                    ['%d' % r.randrange(1, 65536), '~1-1000', 'all'])
    try:
        q.cmd(r.choice(['netdev-passt-forward-add',
                        'netdev-passt-forward-remove']),
              id=nid, protocol=r.choice(['tcp', 'udp', 'sctp', '']),
              spec=spec)
    except QMPError:
        return False
    return True


def children(pid):
    out = []
    for stat in glob.glob('/proc/[0-9]*/stat'):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.split('/')[2]))
    return out


def main():
    r = random.Random(SEED)
    print('1..4')
    print('# seed %d, %d requests (FUZZ_SEED, FUZZ_ITERATIONS)' % (SEED, ITERATIONS))
    tmp = tempfile.mkdtemp(prefix='passt-fuzz-')
    sockpath = os.path.join(tmp, 'qmp.sock')
    # QEMU makes its private directories in TMPDIR: in ours, so that those
    # of other QEMUs running meanwhile are not counted
    # QEMU's stderr in a file: a pipe nobody reads until the end would
    # stop QEMU once full (quiet=off has it repeat what each passt says)
    errf = tempfile.TemporaryFile()
    qemu = subprocess.Popen([QEMU, '-M', 'none', '-nodefaults', '-display', 'none',
                             '-qmp', 'unix:%s,server=on,wait=on' % sockpath],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=errf, env=dict(os.environ, TMPDIR=tmp))
    STARTED.append(qemu)
    for _ in range(100):
        if os.path.exists(sockpath):
            break
        time.sleep(0.05)
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(sockpath)
    # Without out-of-band execution, as QEMU's monitor has it for a client
    # that does not ask: with it, a write of garbage that the monitor parses
    # into more errors than its queue holds (8) aborts QEMU 10.0 to 10.2 on
    # an assertion in handle_qmp_command(), passt or not: a bug of the
    # monitor's, not what this test is about
    # QEMU's monitor reads a request a byte per main loop iteration (10 us
    # a byte here): the long ones take seconds, several times that beside
    # the qtests at nice 5, where one of 1 MB took over 30 s in CI
    q = QMP(sock, oob=False, timeout=90)
    # warm up GLib's worker thread (one eventfd, once), then count fds
    q.cmd('netdev_add', type='passt', id='w', path=PASST)
    q.cmd('netdev_del', id='w')
    time.sleep(0.5)
    fds_before = len(os.listdir('/proc/%d/fd' % qemu.pid))

    ids = ['dup0', 'dup1']
    live = set()
    answered = added = failed = forwards = 0
    t0 = time.monotonic()
    last = None
    try:
        for i in range(ITERATIONS):
            if r.random() < 0.03:
                # then a control character: a lexical error resets the
                # parser (docs/interop/qmp-spec.rst)
                q.sock.sendall(raw_garbage(r) + b'\x01\n' +
                               b'{"execute": "query-status", "id": "sync"}\n')
                # the garbage's errors come first, then query-status's reply
                while q._recv().get('id') != 'sync':
                    pass
                answered += 1
                continue
            args = rnd_args(r, ids)
            last = args
            try:
                q.cmd('netdev_add', **args)
            except QMPError:
                answered += 1
                failed += 1
                continue
            answered += 1
            added += 1
            if r.random() < 0.1:
                forward(q, r, r.choice([args['id'], 'nope']))
                forwards += 1
            if r.random() < 0.05:
                try:
                    q.cmd('query-passt', **r.choice([{}, {'id': args['id']},
                                                     {'id': 'nope'}]))
                except QMPError:
                    pass
            if r.random() < 0.8 or args['id'] not in ids:
                q.cmd('netdev_del', id=args['id'])
            else:
                live.add(args['id'])    # later ones must clash with it
        for nid in live:
            q.cmd('netdev_del', id=nid)
        print('ok 1 - QEMU answered all %d requests (%d added, %d refused, '
              '%d forwards) in %.0fs'
              % (answered, added, failed, forwards, time.monotonic() - t0))
    except Exception as e:
        print('not ok 1 - QEMU stopped answering after %d requests: %r'
              % (answered, e))
        # with the seed, what reproduces it
        print('# seed %d, last netdev_add: %.1000r' % (SEED, last))
        if qemu.poll() is not None:
            errf.seek(0)
            print('# stderr: %r' % errf.read()[-2000:])

    alive = qemu.poll() is None
    print('%s 2 - QEMU is still running%s' % ('ok' if alive else 'not ok',
          '' if alive else ' (exit %s)' % qemu.returncode))

    deadline = time.monotonic() + 10
    left = fds = None
    while alive and time.monotonic() < deadline:
        q.cmd('query-status')
        left = children(qemu.pid)
        fds = len(os.listdir('/proc/%d/fd' % qemu.pid))
        if not left and fds == fds_before:
            break
        time.sleep(0.1)
    ok = alive and not left and fds == fds_before
    print('%s 3 - no passt process or QEMU fd left (children %s, fds %s/%s)'
          % ('ok' if ok else 'not ok', left, fds, fds_before))

    if left:
        for c in left:
            try:
                print('# left: %d %s' % (c, open('/proc/%d/cmdline' % c).read().replace('\0', ' ')))
            except OSError:
                pass
        print('# info network: %r' % q.hmp('info network'))
    dirs = glob.glob(os.path.join(tmp, 'qemu-passt-*'))
    print('%s 4 - no private directory left%s' % ('ok' if not dirs else 'not ok',
          (': %s' % sorted(dirs)) if dirs else ''))

    qemu.kill()
    qemu.wait()
    shutil.rmtree(tmp)
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    finally:
        # whatever failed, no QEMU of ours outlives the test
        for proc in STARTED:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
