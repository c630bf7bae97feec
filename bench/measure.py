"""One backend's guest, and the metrics measured on it.

BackendRun boots the test guest on one backend (start(), open), measures
one round of a metric per call (tcp, tps_once, udp_round, syscalls_round,
startup.startup_once), and derives the per-round figures (finish). The
block mode (run) does every round of one metric, then the next metric;
paired.py calls the same methods on two backends in turn.

Every run dict carries the round it belongs to: CPU per GB and syscalls
per MB are per round (the round's transfers), so that two backends
measured in the same round can be compared round by round.
"""

import json
import socket
import os
import shutil
import subprocess
import tempfile
import time

from backends import METRIC, SC_KEYS, STEP_OF, STEPS, TAP_MTU, TAP_NET, \
    TCP_KEYS, anchor_of
from config import QEMU, log
from host import (TapNetns, iperf_summary, ns_cmd, parse_json_lines,
                  rr_client, start_hand_passt, stop_proc, wait_path,
                  wait_pidfile)
from meters import (CpuMeter, SyscallMeter, exe_path, find_passt,
                    is_passt, qemu_process, rss_kb, syscall_fields)
import hostlib as H
from hostlib import AGENT, Agent, NsGuest
from guestlib import GuestError, GuestTimeout, QMPError
import derive
from results import one_line
import startup

PASST_KEYS = [k for k in METRIC if k.startswith('passt_')]
# TCP transfers: who runs the client, iperf3's direction option
TRANSFERS = {'tcp_g2h': ('guest', ''), 'tcp_h2g': ('guest', '-R'),
             'tcp_h2g_fwd': ('host', ''), 'tcp_g2h_fwd': ('host', '-R')}
COUNTED = ('tcp_g2h', 'tcp_h2g')    # where syscalls per MB come from
# iperf3 failing before its test began: the server (single-threaded, in a
# TCG guest) was still winding the previous test down, and refused or
# dropped the control connection (through a forward, the backend accepts
# and then resets it). Nothing was measured: run it again.
NOT_STARTED = ('unable to receive control message', 'control socket has '
               'closed unexpectedly', 'the server is busy',
               'unable to connect to server: Connection refused')
RETRY = object()


class Unavailable(Exception):
    """QEMU did not start; refused: it said why (a configuration it
    does not take), rather than exiting or crashing."""

    def __init__(self, msg, refused=False):
        super().__init__(msg)
        self.refused = refused


class SessionGuest(NsGuest):
    """QEMU in a session of its own: upstream's QEMU, after a failed passt
    start, sends SIGTERM to its process group (kill(0, ...), fixed by the
    upstream series' patch 2-passt-fixes/3), which would stop the bench too. Every
    guest runs so, the two sides of a pair alike. setsid(1) execs what it
    runs in place; that is QEMU, or a wrapper that may stay as QEMU's
    parent (sid's bwrap): the meters watch meters.qemu_process's pid."""

    def wrapper(self):
        return ['setsid'] + super().wrapper()


class BackendRun:
    def __init__(self, be, opts, accel, steps=None):
        self.be, self.o, self.accel = be, opts, accel
        # the steps this run measures (--only, or what the mode runs)
        self.steps = steps or [s for s in STEPS
                               if not opts.only or s in opts.only]
        self.runs = {}          # metric -> [run dicts]
        self.why = {}           # metric -> why it has no value
        self.failed = {}        # step -> its first error
        self.dead = None        # why the guest is no longer measured
        self.qmp_dead = None    # why QMP is no longer usable
        self.info = {}
        self.cleanup = []
        self.ns = None
        self.round = 0
        self.passt_pid = None
        self.anchor = anchor_of(be['name'])
        self.qemu = self.anchor['qemu'] if self.anchor else QEMU
        # upstream as released, whichever release: what its QMP schema
        # does not show (startup.py keeps its hot-plugged netdevs)
        self.upstream = bool(self.anchor)
        self.workdir = tempfile.mkdtemp(prefix='bench-%s-' % be['name'])
        fwd, rr, hport = H.free_ports(3, consecutive=False)
        self.ctx = dict(passt=H.PASST, fwd=fwd, rr=rr, hport=hport,
                        sock=os.path.join(self.workdir, 'passt.sock'),
                        tap='bt0')
        if not be.get('passt_pid'):
            for k in PASST_KEYS:
                self.why[k] = be.get('no_passt', 'no passt')
        if not be.get('hotplug'):
            for k in STEPS['startup']:
                self.why.setdefault(k, be.get('no_hotplug', 'no hot-plug'))
        if SyscallMeter.why_not():
            for k in SC_KEYS:
                self.why.setdefault(k, SyscallMeter.why_not())
        if be.get('shared_memory'):
            for k in ('qemu_bytes_io_g2h', 'qemu_bytes_io_h2g'):
                self.why[k] = 'frames bypass QEMU (vhost-user)'

    @property
    def name(self):
        return self.be['name']

    def fmt(self, v):
        if isinstance(v, str):
            return v.format(**self.ctx)
        if isinstance(v, dict):
            return {k: self.fmt(x) for k, x in v.items()}
        return v

    def add(self, metric, run):
        run.setdefault('round', self.round)
        self.runs.setdefault(metric, []).append(run)

    def error(self, what, msg, exc=None):
        log('%s: %s failed: %s' % (self.name, what, msg))
        self.info.setdefault('errors', []).append('%s: %s' % (what, msg))
        step = what if what in STEPS else STEP_OF.get(what, (
            'syscalls' if what.startswith('sc_') else what))
        self.failed.setdefault(step, str(msg))
        # A guest that stopped answering will not answer the next step
        # either (e.g. upstream's QEMU hanging in netdev_add, waiting for
        # ever for passt to go to the background); a QMP timeout leaves
        # the connection unusable (guestlib's reader gives up on it).
        if isinstance(exc, GuestTimeout) and not self.dead:
            self.dead = 'the guest stopped answering during %s' % what
            self.info['dead'] = self.dead
            log('%s: %s: no more measurements' % (self.name, self.dead))
        elif step == 'startup' and isinstance(exc, (TimeoutError, OSError)):
            self.qmp_dead = 'QMP timed out during start-up #%d' % (self.round + 1)
            self.info['qmp_dead'] = self.qmp_dead

    def step(self, name, fn, *args):
        """fn(*args); a failure is recorded, the other steps go on."""
        if self.dead or (name == 'startup' and self.qmp_dead):
            return
        try:
            fn(*args)
        except Exception as e:      # noqa: BLE001
            self.error(name, '%s: %s' % (type(e).__name__, e), e)

    # -- life cycle --
    def run(self):
        """Block mode: every round of each metric, then the next metric."""
        try:
            self.measure_blocks()
        finally:
            self.close()

    def open(self):
        try:
            self._setup()
            self._boot()
        except BaseException:
            self.close()
            raise

    def close(self):
        if getattr(self, 'a', None):
            try:
                self.a.quit(timeout=30)
            except Exception as e:      # noqa: BLE001
                log('%s: guest quit: %s' % (self.name, e))
            self.a = None
        for fn in reversed(self.cleanup):
            try:
                fn()
            except Exception as e:      # noqa: BLE001
                log('%s: cleanup: %s' % (self.name, e))
        self.cleanup = []
        if self.info.get('errors') and os.path.isdir(self.workdir):
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
        if not os.access(self.qemu, os.X_OK):
            raise Unavailable('no QEMU at %s%s' % (self.qemu, (
                ' (QEMU %s, %s: %s makes it)' % (
                    self.anchor['version'], self.anchor['source'],
                    self.anchor['made_by'])
                if self.anchor else '')))
        # named threads: vCPU time can be told from the I/O threads'
        rp = ['-name', 'bench-%s,debug-threads=on' % be['name']]
        for i in range(1, 4):
            rp += ['-device', 'pcie-root-port,id=rp%d,bus=pcie.0,chassis=%d' % (i, i)]
        self.g = SessionGuest(
            self.ns, netdev=[self.fmt(be['netdev'])], script=AGENT,
            extra_args=rp, qmp=True, accel=self.accel,
            shared_memory=be.get('shared_memory', False),
            name=be['name'], qemu=self.qemu)
        self.cleanup.append(self.g.close)
        try:
            self.g.start()
        except (GuestError, EOFError, OSError) as e:
            # QEMU refused the configuration: the backend is not available
            qlog = self.g.qemu_log()
            self.info['qemu_log'] = qlog[-3000:]
            self.info['qemu_cmdline'] = ' '.join(self.g.cmdline or [])
            why = [l for l in (qlog + '\n' + str(e)).splitlines()
                   if l.startswith(os.path.basename(self.qemu) + ':')]
            last = [l.strip() for l in qlog.splitlines() if l.strip()][-3:]
            rc = self.g.exitcode
            raise Unavailable((why[-1] if why else (
                'QEMU exited at start (status %s), its last words: %s' % (
                    rc, ' / '.join(last)))
                if last else '%s: %s' % (
                    type(e).__name__, str(e).splitlines()[0]))[:300],
                refused=bool(why))
        self.a = Agent(self.g, boot_timeout=120)
        self.ram_kb = int(self.g.mem.rstrip('M')) * 1024
        # every meter reads this pid: QEMU's, not a wrapper's (bwrap)
        self.qemu_pid = qemu_process(self.g.pid, self.g.qmp.sock)
        if self.qemu_pid != self.g.pid:
            self.info['started_pid'] = self.g.pid
            self.info['started_exe'] = exe_path(self.g.pid)
        self.info['qemu_exe'] = exe_path(self.qemu_pid)
        if be.get('passt_pid') == 'helper':
            self.passt_pid = self.helper_pid
        self.cpu = CpuMeter(self.qemu_pid, self.passt_pid)
        self.refresh_passt()
        self.info['qemu'] = self.qemu
        self.info['qemu_pid'] = self.qemu_pid
        self.info['passt_pid'] = self.passt_pid
        # the same passt binary on both sides of a pair (path= of each)
        self.info['passt_exe'] = exe_path(self.passt_pid)
        self.info['qemu_cmdline'] = ' '.join(self.g.cmdline)

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

    def refresh_passt(self):
        """The guest NIC's passt, asked again before every transfer: in
        vhost-user mode a passt that went away is started again, with
        another pid."""
        if self.be.get('passt_pid') != 'info-network' or self.qmp_dead:
            return
        pid, why = find_passt(self.g.qmp, 'n0', self.qemu_pid)
        if not pid and is_passt(self.passt_pid):
            return          # not told otherwise: the one we had still runs
        if pid != self.passt_pid:
            if self.passt_pid:
                log('%s: passt pid %s, was %d' % (self.name, pid, self.passt_pid))
                self.info.setdefault('passt_pid_changes', []).append(pid)
            self.passt_pid = self.cpu.passt = pid
        if why:
            for k in PASST_KEYS:
                self.why.setdefault(k, 'passt pid not found: ' + why)

    # -- block mode --
    def measure_blocks(self):
        o = self.o
        # start-up first, while the guest is idle: the RSS samples around a
        # hot-plug are less disturbed than after the transfers
        if self.selected('startup') and self.be.get('hotplug'):
            for i in range(1, o.runs + 1):
                self.round = i - 1
                self.step('startup', startup.startup_once, self, i)
        for name, fn, rounds in (('tcp', self.tcp_round, o.runs),
                                 ('tps', self.tps_once, o.runs),
                                 ('udp', self.udp_round, o.runs),
                                 ('forward', self.forward_once, o.runs),
                                 ('syscalls', self.syscalls_round, 1)):
            if not self.selected(name):
                continue
            for r in range(rounds):
                self.round = r
                self.step(name, fn)
        self.finish()

    def selected(self, step):
        return step in self.steps

    # -- one round of a metric --
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

    def meters(self, count):
        if not count:
            return []
        return [('qemu', SyscallMeter(self.qemu_pid)),
                ('passt', SyscallMeter(self.passt_pid))]

    def transfer(self, metric, fn, udp=False, count=False):
        for attempt in range(1, 4):
            run = self._transfer(metric, fn, udp, count)
            if run is not RETRY:
                break
            log('%s: %s: iperf3 server not ready, again (%d)' % (
                self.name, metric, attempt))
            time.sleep(attempt)
        else:
            run = self._transfer(metric, fn, udp, count, last=True)
        return run

    def _transfer(self, metric, fn, udp, count, last=False):
        self.refresh_passt()
        meters = self.meters(count)
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
            msg = '%s: %s' % (type(e).__name__, e)
            if not last and any(s in msg for s in NOT_STARTED):
                self.info.setdefault('retried', []).append(
                    '%s: %s' % (metric, msg))
                return RETRY
            # one failed run does not end the backend's measurements
            self.error(metric, msg, e)
            self.add(metric, {'value': None, 'error': msg})
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
        log('%s: %s %.1f Mbit/s%s' % (self.name, metric, rate,
                                      ' loss %.2f%%' % loss if udp else ''))
        return run

    def tcp(self, key, count=False, metric=None):
        who, opt = TRANSFERS[key]
        fn = self.guest_iperf if who == 'guest' else self.host_iperf
        self.transfer(metric or key, lambda: fn(opt), count=count)

    def tcp_round(self):
        for key in TCP_KEYS:
            self.tcp(key)

    def syscalls_round(self):
        """Block mode's syscall counts, in transfers of their own: counting
        slows the path down a little, so the throughput runs go without."""
        if SyscallMeter.why_not():
            return
        for key in COUNTED:
            self.tcp(key, count=True, metric='sc_' + key)
        self.tps_once(count=True, record=False)

    def tps_once(self, count=False, record=True):
        self.refresh_passt()
        meters = self.meters(count)
        a = self.cpu.snap()
        for _, m in meters:
            m.start()
        try:
            r = rr_client(self.fwd_addr, self.ctx['rr'], self.o.seconds, self.ns)
        except Exception as e:      # noqa: BLE001
            for _, m in meters:
                m.stop()
            self.error('tps' if record else 'sc_tps', e, e)
            self.add('tps' if record else 'sc_tps', {'value': None, 'error': str(e)})
            return
        r.update(self.cpu.delta(a, self.cpu.snap()))
        for who, m in meters:
            counts = m.stop()
            if counts and r.get('transactions'):
                # the warm-up round trips are in the counts too: few
                self.add('%s_sc_tps' % who,
                         {'value': counts.get('all', 0) / r['transactions'],
                          'counts': counts})
        if record:
            self.add('tps', r)
            log('%s: tps %.0f (p50 %.0f us)' % (self.name, r['value'],
                                                 r['rtt_p50_us']))

    def forward_once(self):
        """A port forward added at run time to the guest's echo server:
        from the QMP command to the first answer through it, then removed.
        Only a passt netdev that QEMU runs has them (the upstream series,
        with a passt that has a control socket)."""
        port = H.free_ports(1)[0]
        spec = '%d:%d' % (port, self.ctx['rr'])
        t0 = time.perf_counter()
        try:
            self.g.qmp.cmd('netdev-passt-forward-add', id='n0',
                           protocol='tcp', spec=spec)
        except QMPError as e:
            self.why.setdefault('fwd_rt_ms', 'no forwards at run time: %s'
                                % str(e).split(': ', 1)[-1][:80])
            return
        t1 = time.perf_counter()
        answer = None
        while answer is None and time.perf_counter() < t0 + 10:
            try:
                s = H.in_netns(self.ns, socket.create_connection,
                               ('127.0.0.1', port), 2)
                with s:
                    s.sendall(b'x')
                    answer = s.recv(1)
            except OSError:
                time.sleep(0.001)
        t2 = time.perf_counter()
        self.g.qmp.cmd('netdev-passt-forward-remove', id='n0',
                       protocol='tcp', spec=spec)
        if answer != b'x':
            raise RuntimeError('no answer through the forward in 10 s')
        self.add('fwd_rt_ms', {'value': (t2 - t0) * 1000,
                               'command_ms': (t1 - t0) * 1000})
        log('%s: forward at run time %.1f ms (command %.1f ms)'
            % (self.name, (t2 - t0) * 1000, (t1 - t0) * 1000))

    def udp_round(self):
        b = '-u -b %s -l %d' % (self.o.udp_rate, self.o.udp_len)
        r = self.transfer('udp_g2h_rate', lambda: self.guest_iperf(b), udp=True)
        self.add('udp_g2h_loss', {'value': r.get('loss')})
        r = self.transfer('udp_h2g_rate', lambda: self.host_iperf(b), udp=True)
        self.add('udp_h2g_loss', {'value': r.get('loss')})

    # -- derived, per round --
    def finish(self):
        """CPU per GB and syscalls per MB of each round, and passt's RSS
        after all transfers."""
        derive.cpu_per_gb(self)
        derive.syscalls_per_mb(self)
        self.refresh_passt()
        if self.passt_pid:
            self.info['passt_rss_load_kb'] = rss_kb(self.passt_pid)
            self.add('passt_rss_load_kb', {'value': rss_kb(self.passt_pid),
                                           'round': None})

    # -- results --
    def reason(self, key):
        """Why key has no value: a short text for the table's cell."""
        if key in self.why:
            return self.why[key]
        errs = [r.get('error') for r in self.runs.get(key, []) if r.get('error')]
        if errs:
            return 'failed: ' + errs[0][:80]
        step = STEP_OF.get(key)
        if step and not self.selected(step):
            return 'not run (%s)' % ('--only' if self.o.only else
                                     'not in this mode by default')
        if step in self.failed:
            return 'failed: ' + self.failed[step][:80]
        if self.dead:
            return 'not measured: ' + self.dead
        if step == 'startup' and self.qmp_dead:
            return 'not measured: ' + self.qmp_dead
        return 'not measured'

    def reasons(self):
        return {k: one_line(self.reason(k)) for k in METRIC
                if not any(r.get('value') is not None
                           for r in self.runs.get(k, []))}


def start(be, opts, accel, steps=None, tries=3):
    """A BackendRun of be, its guest up. A QEMU that does not start is
    tried again, up to tries times, each with a fresh work directory and
    ports: upstream's QEMU as released fails now and then to read passt's
    pid file ("fread() failed") and exits. A QEMU that refuses the
    configuration with a message is not tried again. The failures are in
    info['start_failures'], the last one raised as Unavailable."""
    failures = []
    for attempt in range(1, tries + 1):
        br = BackendRun(be, opts, accel, steps)
        try:
            br.open()
        except Unavailable as e:
            if e.refused:
                raise
            failures.append(str(e))
            log('%s: did not start (%d/%d): %s' % (be['name'], attempt,
                                                   tries, e))
            continue
        if failures:
            br.info['start_failures'] = failures
        return br
    raise Unavailable('%s (%d tries)' % (failures[-1], tries))

