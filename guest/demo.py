#!/usr/bin/env python3
"""Demo of QEMU's -netdev passt: boot the test guest on
`-nic passt,...` and show, as it happens, what the guest gets:

  1. its DHCP lease, next to the host values passt mirrored;
  2. a page fetched from a web server on the host's loopback (reached
     through the gateway address, which passt maps to host loopback);
  3. a port forwarded from the host into the guest (tcp-ports=HOST:GUEST);
  4. a port forward added while the guest runs, used, then removed
     (QMP netdev-passt-forward-add/-remove: the upstream series with a
     passt that has a control socket, 2026_07_28 or later);
  5. the backend in the monitor: `info passt` (upstream series) and
     `info network`.

Standard library only; finishes in well under a minute. Guest traffic only
ever reaches the host's loopback.
"""

import http.server
import os
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'guest'))
import hostlib as H  # noqa: E402
from guestlib import QMPError  # noqa: E402

PAGE = b'<h1>Hello from the host loopback</h1>\n'
T0 = time.monotonic()


def say(msg=''):
    print('[%5.1fs] %s' % (time.monotonic() - T0, msg) if msg else '', flush=True)
    sys.stdout.flush()


class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header('Content-Type', 'text/html')
        self.send_header('Content-Length', str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, fmt, *args):
        say('  host web server: %s asked for %s' % (self.client_address[0], self.path))


def ask_guest(port):
    """What the guest's socat answers through host port, or the error"""
    reply = None
    for _ in range(10):
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=5) as s:
                s.sendall(b'hello-from-host\n')
                reply = s.makefile().readline().strip()
            if reply:
                break
        except OSError as e:
            reply = 'error: %s' % e
        time.sleep(0.3)
    return reply


def forward_at_run_time(g, port):
    """Step 4: True if it worked, None if this QEMU or passt cannot"""
    say('Port forward added at run time: netdev-passt-forward-add '
        'tcp %d:8080' % port)
    try:
        nid = g.qmp.cmd('query-passt')[0]['id']
        t = time.monotonic()
        g.qmp.cmd('netdev-passt-forward-add', id=nid, protocol='tcp',
                  spec='%d:8080' % port)
    except QMPError as e:
        say('  not here: %s' % e)
        return None
    changes = g.qmp.cmd('query-passt', id=nid)[0].get('forward-changes', [])
    say('  passt took it (%.0f ms); QEMU\'s record of changes: %s' % (
        (time.monotonic() - t) * 1000,
        ', '.join('%s %s %s' % (c['operation'], c['protocol'], c['spec'])
                  for c in changes)))
    reply = ask_guest(port)
    say('  host connects to 127.0.0.1:%d: guest answers: %s' % (port, reply))
    g.qmp.cmd('netdev-passt-forward-remove', id=nid, protocol='tcp',
              spec='%d:8080' % port)
    try:
        socket.create_connection(('127.0.0.1', port), timeout=5).close()
        gone = 'still open'
    except ConnectionRefusedError:
        gone = 'connection refused'
    say('  removed: host connects to 127.0.0.1:%d: %s' % (port, gone))
    return reply == 'hello from the guest - you sent hello-from-host' and \
        gone == 'connection refused'


def fail(msg):
    print('demo: ' + msg, file=sys.stderr)
    return 1


def main():
    if not os.access(H.QEMU, os.X_OK):
        return fail('no QEMU build at %s: run scripts/setup.sh' % H.QEMU)
    if not os.access(H.PASST, os.X_OK):
        return fail('no passt binary at %s: run scripts/build-passt.sh' % H.PASST)
    try:
        H.ensure_built()
    except Exception as e:      # noqa: B902
        return fail('cannot build the test guest (%s): run guest/build-guest.sh '
                    '(as root on a fresh machine, it installs what it needs)' % e)

    m = H.mirror()
    say('Host network, as passt will mirror it to the guest:')
    say('  interface %s: address %s/%s, gateway %s, DNS %s' % (
        m.get('dev4'), m.get('ip'), m.get('prefix'), m.get('router'), m.get('dns')))

    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Page)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    web = httpd.server_address[1]
    fwd, fwd2 = H.free_ports(2)
    say('Host web server on 127.0.0.1:%d (loopback only)' % web)

    nic = 'passt,model=virtio-net-pci,path=%s,tcp-ports=%d:8080' % (H.PASST, fwd)
    say('Booting the guest: -nic %s' % nic)
    g = H.agent_guest([], trace=False, extra=['-nic', nic], qmp=True)
    try:
        with g:
            a = H.Agent(g)
            say('Guest is up; it runs DHCP on eth0...')
            r = a.kv('net_up eth0 || echo lease=none')
            if r.get('lease') == 'none':
                return fail('the guest got no DHCP lease:\n' + g.diagnostics())
            say('Guest lease (DHCP from passt)   vs   host:')
            for what, gk, hk, suffix in (('address', 'ip', 'ip', ''),
                                         ('prefix', 'prefix', 'prefix', ''),
                                         ('gateway', 'router', 'router', ''),
                                         ('DNS', 'dns', 'dns', ''),
                                         ('MTU', 'mtu', None, ' (passt default)')):
                hv = m.get(hk, '-') if hk else '-'
                same = ' same' if hk and r.get(gk) == hv else ''
                say('  %-8s guest %-16s host %-16s%s%s' % (what, r.get(gk), hv, same, suffix))
            say('  -> passt gives the guest the host\'s own address, gateway and DNS:')
            say('     no NAT subnet of its own, the guest looks like the host.')

            gw = r.get('router')
            say()
            say('Guest fetches http://%s:%d/ (the gateway address; passt maps it to '
                'the host\'s 127.0.0.1: map-host-loopback)' % (gw, web))
            r2 = a.kv('echo "page=$(timeout 10 wget -q -O - http://%s:%d/)"' % (gw, web))
            say('  guest got: %s' % r2.get('page'))

            say()
            say('Port forward tcp-ports=%d:8080: the guest listens on 8080...' % fwd)
            a.sh('socat TCP4-LISTEN:8080,fork,reuseaddr SYSTEM:"read l; '
                 'echo hello from the guest - you sent \\$l" </dev/null >/dev/null 2>&1 &\n'
                 'i=0; while ! netstat -ltn | grep -q ":8080 " && [ $i -lt 50 ]; do '
                 'usleep 100000; i=$((i+1)); done')
            reply = ask_guest(fwd)
            say('  host connects to 127.0.0.1:%d, sends "hello-from-host"' % fwd)
            say('  guest answers: %s' % reply)

            say()
            runtime = forward_at_run_time(g, fwd2)

            say()
            try:
                info = g.qmp.hmp('info passt')
            except QMPError:
                info = ''
            if info.strip() and not info.startswith('unknown command'):
                say('Monitor: info passt')
                for line in info.splitlines():
                    say('  ' + line.rstrip())
            say('Monitor: info network')
            for line in g.qmp.hmp('info network').splitlines():
                if 'passt' in line:
                    say('  ' + line.strip().lstrip('\\ '))
            a.quit()
    finally:
        httpd.shutdown()
        g.close()
    ok = r2.get('page') == PAGE.decode().strip() and reply == \
        'hello from the guest - you sent hello-from-host' and \
        runtime is not False
    say()
    say('Demo %s.' % ('done' if ok else 'FAILED (see above)'))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
