#!/usr/bin/env python3
"""Smoke test of the guest and harness against a hand-started passt.

Uses the existing -netdev stream backend (no -netdev passt needed): the
guest must get a DHCP lease mirroring the host's address and gateway, fetch
a page from an HTTP server on host loopback through passt's mapping of the
gateway address, and run iperf3 against iperf3 -s on host loopback.
Only loopback is reached on the host side. Prints '3 passed, 0 failed'.
"""

import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guestlib import BUILD, Guest  # noqa: E402

PASST = os.environ.get('PASST', os.path.join(BUILD, 'passt', 'bin', 'passt'))
BODY = b'hello from host loopback\n'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header('Content-Length', str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


def host_ipv4():
    """(address, gateway) of the host's default route, as passt sees them."""
    route = json.loads(subprocess.check_output(
        ['ip', '-j', '-4', 'route', 'show', 'default']))[0]
    addrs = json.loads(subprocess.check_output(
        ['ip', '-j', '-4', 'addr', 'show', 'dev', route['dev']]))
    return addrs[0]['addr_info'][0]['local'], route['gateway']


def main():
    tmp = tempfile.mkdtemp(prefix='selftest-')
    sock = os.path.join(tmp, 'passt.sock')
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    iperf_port = free_port()
    procs = [
        subprocess.Popen(['iperf3', '-s', '-1', '-B', '127.0.0.1',
                          '-p', str(iperf_port)], stdout=subprocess.DEVNULL),
        subprocess.Popen([PASST, '-f', '-q', '-1', '-s', sock]),
    ]
    script = '''
. /lib/guest-lib.sh
net_up eth0 || exit 1
gw=$(lease_get eth0 router)
echo "page=$(timeout 10 wget -q -O - http://$gw:%d/)"
timeout 30 iperf3 -c $gw -p %d -t 2 -f m | grep -q receiver && echo iperf=ok
''' % (httpd.server_address[1], iperf_port)
    passed = failed = 0
    try:
        for _ in range(50):
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        t0 = time.monotonic()
        g = Guest(netdev=['stream,id=n0,server=off,addr.type=unix,'
                          'addr.path=' + sock], script=script)
        out = g.run(timeout=90)
        print(out, end='')
        print('guest ran %.1fs, exit %s' % (time.monotonic() - t0, g.rc))
        lease = dict(l.split('=', 1) for l in out.splitlines() if '=' in l)
        addr, gw = host_ipv4()
        for name, ok in [
                ('lease mirrors host', (lease.get('ip'), lease.get('router'))
                 == (addr, gw)),
                ('http via gateway', lease.get('page') == BODY.decode().strip()),
                ('iperf3', lease.get('iperf') == 'ok')]:
            print('%s: %s' % ('PASS' if ok else 'FAIL', name))
            passed, failed = passed + ok, failed + (not ok)
    finally:
        httpd.shutdown()
        for p in procs:
            p.kill()
            p.wait()
        subprocess.run(['rm', '-rf', tmp])
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
