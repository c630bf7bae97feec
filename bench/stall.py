"""Main-loop stall: the longest time QEMU's monitor leaves a probe without
an answer while one operation on a passt netdev runs (--only stall).

No guest: `QEMU -M none -nodefaults -display none` with three monitors on
sockets we listen on: QMP for the operation, and two probes that ask
again PERIOD after each answer while the operation runs, from threads of
their own: QMP `query-status` on a second QMP monitor (the issue's probe,
the headline figure) and HMP `info status` on an HMP monitor. A stall is
the largest gap between two consecutive answers of a probe that overlaps
the operation; a probe that nothing holds answers every PERIOD plus a
round trip, which the reference row (no operation) shows. Both probes
need the main loop; the QMP one also needs QMP's one dispatcher, which
serves the monitors one command at a time: a coroutine command that
yields (ours' netdev-passt-forward-add/-remove, while pesto runs) holds
every QMP monitor, not the main loop, and the HMP probe tells the two
apart.

Sides: ours (config.QEMU) and the anchors of the run (upstream QEMU as
released), interleaved as the pairs are: each round starts one QEMU per
side, then runs each operation on every side in turn, the first side
alternating with the round. What a side lacks (a command upstream does
not have) is "n/a"; a passt it does not start again is "no restart".
"""

import os
import signal
import socket
import subprocess
import shutil
import tempfile
import threading
import time

from config import QEMU, log
from guestlib import QMP, QMPError
from host import stop_proc
from meters import is_passt, passt_pid_of, qemu_process
from paired import fmt_ratio, fmt_side, ratio_of, verdict, within_noise
from results import one_line, summarize
import hostlib as H

PERIOD = 0.002          # s: a probe's pause between an answer and its next question
TARGET_MS = 20          # the target, netdev_add aside
RESTART_WAIT = 2.0      # s after SIGKILL for a new passt to be connected
OPS = [   # key, label; in this order on one QEMU, migration on QEMUs of its own
    ('idle', '(reference) no operation, 0.3 s'),
    ('add_stream', 'netdev_add, stream (until passt is connected)'),
    ('query_passt', 'query-passt (QMP)'),
    ('info_passt', 'info passt (HMP)'),
    ('fwd_add_qmp', 'netdev-passt-forward-add (QMP)'),
    ('fwd_remove_qmp', 'netdev-passt-forward-remove (QMP)'),
    ('fwd_add_hmp', 'passt_forward_add (HMP, until pesto is done)'),
    ('fwd_remove_hmp', 'passt_forward_remove (HMP, until pesto is done)'),
    ('restart_stream', 'passt restart, stream: SIGKILL until a new one is connected'),
    ('add_vu', 'netdev_add, vhost-user (until passt is connected)'),
    ('restart_vu', 'passt restart, vhost-user: SIGKILL until a new one is connected'),
    ('del_vu', 'netdev_del, vhost-user (until passt is gone)'),
    ('del_stream', 'netdev_del, stream (until passt is gone)'),
    ('migration', 'migration, stream: migrate until the destination runs'),
]
BOUNDED = ('add_stream', 'add_vu')      # netdev_add's bounded wait: vs upstream


class NA(Exception):
    """The QEMU has no such command: its cell says n/a."""


class Qemu:
    """setsid QEMU -M none with the operation's QMP monitor (op), the
    probes' (probe: QMP, hmp: HMP), its output in log; pid: QEMU's own
    (meters.qemu_process: sid's runs below bwrap)."""
    MONITORS = (('op', 'control'), ('probe', 'control'), ('hmp', 'readline'))

    def __init__(self, binary, extra=()):
        self.dir = tempfile.mkdtemp(prefix='bench-stall-')
        self.log = os.path.join(self.dir, 'qemu.log')
        self.proc, self.op, self.probe, self.hmp = None, None, None, None
        self.hung = None                # why QEMU is no longer asked
        self.passts = set()             # what our QEMU started: ended in close()
        args = ['setsid', binary, '-M', 'none', '-nodefaults', '-display', 'none']
        lsocks = []
        try:
            for name, mode in self.MONITORS:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                lsocks.append(s)
                s.bind(os.path.join(self.dir, name + '.sock'))
                s.listen(1)
                s.settimeout(0.1)
                args += ['-chardev', 'socket,id=%s,path=%s' % (name, s.getsockname()),
                         '-mon', 'chardev=%s,mode=%s' % (name, mode)]
            with open(self.log, 'wb') as f:
                self.proc = subprocess.Popen(args + list(extra), stdin=subprocess.DEVNULL,
                                             stdout=f, stderr=subprocess.STDOUT)
            op, probe, self.hmp = [self._accept(s) for s in lsocks]
            self.op, self.probe = QMP(op), QMP(probe, timeout=15)
            self._hmp_read()            # the banner
            self.pid = qemu_process(self.proc.pid, op)
        except BaseException:
            self.close()
            raise
        finally:
            for s in lsocks:
                s.close()

    def _accept(self, lsock, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            try:
                return lsock.accept()[0]
            except socket.timeout:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(self.why_gone() or 'QEMU did not connect')

    def _hmp_read(self):
        buf = b''
        while not buf.endswith(b'(qemu) '):
            chunk = self.hmp.recv(4096)
            if not chunk:
                raise EOFError('HMP connection closed')
            buf += chunk

    def hmp_ask(self):
        self.hmp.sendall(b'info status\n')
        self._hmp_read()

    def said(self):
        with open(self.log, errors='replace') as f:
            return f.read()

    def why_gone(self):
        """None while QEMU runs, else how it ended and its last words."""
        rc = self.proc.poll()
        if rc is None:
            return self.hung
        said = [l for l in self.said().splitlines()
                if 'qemu-system' in l and 'warning:' not in l][-1:]
        sig = -rc if rc < 0 else rc - 128       # bwrap: 128 + the signal
        how = 'exited (status %d)' % rc
        if sig in signal.valid_signals():
            how = ('died of %s' if rc < 0 else 'exited with status %d (128+%%s)'
                   % rc) % signal.Signals(sig).name
        return 'QEMU %s%s' % (how, ': ' + said[0] if said else '')

    def close(self):
        # quit first: a SIGTERM to sid's bwrap SIGKILLs QEMU, which then
        # leaves upstream's daemonized passt behind
        if self.op and self.proc.poll() is None and not self.hung:
            try:
                self.op.cmd('quit')
                self.proc.wait(10)
            except Exception:       # noqa: BLE001
                pass
        for c in (self.op, self.probe, self.hmp):
            try:
                c and c.close()
            except Exception:       # noqa: BLE001
                pass
        stop_proc(self.proc)
        for pid in self.passts:
            if is_passt(pid):
                os.kill(pid, signal.SIGTERM)
        shutil.rmtree(self.dir, ignore_errors=True)


class Probe(threading.Thread):
    """ask() again and again, PERIOD after each answer; answer times in t."""

    def __init__(self, ask):
        super().__init__(daemon=True)
        self.ask, self.t, self.error = ask, [], None
        self.done = threading.Event()
        self.start()

    def run(self):
        try:
            while not self.done.is_set():
                self.ask()
                self.t.append(time.perf_counter())
                time.sleep(PERIOD)
        except Exception as e:      # noqa: BLE001
            self.error = '%s: %s' % (type(e).__name__, e)

    def answered(self, after, n=1, timeout=10):
        deadline = time.perf_counter() + timeout
        while len([t for t in self.t[-n:] if t > after]) < n:
            if self.error or time.perf_counter() > deadline:
                return False
            time.sleep(0.001)
        return True

    def gap_ms(self, t0, t1):
        t = self.t
        gaps = [b - a for a, b in zip(t, t[1:]) if b > t0 and a < t1]
        return max(gaps) * 1e3 if gaps else None


def timed(qemus, act):
    """act() with both probes of each QEMU running: a run dict. value:
    the QMP probe's stall (ms), hmp_ms the HMP probe's, the largest over
    the QEMUs (each one's in per_qemu), op_ms how long act() took."""
    probes = [(Probe(lambda q=q: q.probe.cmd('query-status')), Probe(q.hmp_ask))
              for q in qemus]
    try:
        start = time.perf_counter()
        if not all(p.answered(start, 2) for pair in probes for p in pair):
            raise RuntimeError('a probe had no answer: %s' % next(
                (p.error for pair in probes for p in pair if p.error), 'timeout'))
        t0 = time.perf_counter()
        extra = act() or {}
        t1 = time.perf_counter()
        for (pq, ph), q in zip(probes, qemus):
            for p in (pq, ph):
                if not p.answered(t1):
                    raise RuntimeError('the probe had no answer after the '
                                       'operation: %s' % (q.why_gone() or p.error
                                                          or 'none in 10 s'))
    finally:
        for pair in probes:
            for p in pair:
                p.done.set()
        for pair in probes:
            for p in pair:
                p.join(20)
    per = [(pq.gap_ms(t0, t1), ph.gap_ms(t0, t1)) for pq, ph in probes]
    run = {'value': max(g[0] for g in per), 'hmp_ms': max(g[1] for g in per),
           'op_ms': (t1 - t0) * 1e3}
    if len(per) > 1:
        run['per_qemu'] = per
    run.update(extra)
    return run


# ------------------------------------------------------------ operations ----
def qmp(q, name, **args):
    try:
        return q.op.cmd(name, **args)
    except QMPError as e:
        if e.error.get('class') == 'CommandNotFound':
            raise NA('this QEMU has no %s' % name) from None
        raise


def hmp(q, line):
    out = q.op.hmp(line)
    if 'unknown command' in out:
        raise NA('this QEMU has no HMP %s' % ' '.join(line.split()[:2 if
                                                       line.startswith('info') else 1]))
    return out


def passt_of(q, nid):
    return passt_pid_of(H.passt_netdevs(q.op.hmp('info network')).get(nid))


def wait_passt(q, nid, old=None, timeout=10):
    """The pid of the passt connected for nid once it is another than old
    (None: not within timeout s)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        pid = passt_of(q, nid)
        if pid != old and is_passt(pid):
            q.passts.add(pid)
            return pid
        time.sleep(PERIOD)
    return None


def wait_log(q, text, timeout=15):
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        line = next((l for l in q.said().splitlines() if text in l), None)
        if line:
            return line
        time.sleep(0.001)
    raise RuntimeError('QEMU did not say %r in %d s' % (text, timeout))


def prepare(key, q, st):
    """What to time for operation key on QEMU q (st: what earlier
    operations left); raises NA, or RuntimeError when a step it needs
    failed."""
    nid = 'v1' if key.endswith('_vu') else 's1'
    if key == 'idle':
        return lambda: time.sleep(0.3)
    if key.startswith('add_'):
        args = dict(type='passt', id=nid, path=H.PASST)
        if nid == 'v1':
            args['vhost-user'] = True

        def add():
            t = time.perf_counter()
            qmp(q, 'netdev_add', **args)
            command_ms = (time.perf_counter() - t) * 1e3
            st[nid] = wait_passt(q, nid)
            if not st[nid]:
                raise RuntimeError('no passt connected 10 s after netdev_add')
            return {'command_ms': command_ms}
        return add
    if not st.get(nid):
        raise RuntimeError('no passt netdev %s: its netdev_add failed' % nid)
    if key == 'query_passt':
        return lambda: qmp(q, 'query-passt', id=nid) and None
    if key == 'info_passt':
        return lambda: hmp(q, 'info passt') and None
    if key.startswith('fwd_'):
        op = 'add' if 'add' in key else 'remove'
        spec = st.setdefault('spec', '127.0.0.1/%d' % H.free_ports(1)[0])
        if key.endswith('_qmp'):
            return lambda: qmp(q, 'netdev-passt-forward-' + op, id=nid,
                               protocol='tcp', spec=spec) and None

        def hmp_fwd():
            out = hmp(q, 'passt_forward_%s %s tcp %s' % (op, nid, spec))
            if out.strip():
                raise RuntimeError(one_line(out))
            line = wait_log(q, 'netdev %s: %s tcp %s: ' % (nid, op, spec))
            if not line.endswith('done'):
                raise RuntimeError(one_line(line))
        return hmp_fwd
    old = st[nid]
    if key.startswith('restart_'):
        def restart():
            os.kill(old, signal.SIGKILL)
            st[nid] = wait_passt(q, nid, old, RESTART_WAIT) or old
            return {'restart': st[nid] != old}
        return restart
    if key.startswith('del_'):
        def delete():
            qmp(q, 'netdev_del', id=nid)
            st[nid] = None
            gone = H.wait_gone(old, 5) == 'gone'
            time.sleep(0.05)        # upstream crashes as passt's end closes
            return {'passt_gone': gone}
        return delete
    raise KeyError(key)


def measure(name, key, qemus, act_of):
    """One run dict of side name's operation key on qemus."""
    gone = next((q.why_gone() for q in qemus if q.why_gone()), None)
    if gone:
        return {'value': None, 'error': 'not measured: ' + gone}
    try:
        run = timed(qemus, act_of())
    except NA as e:
        return {'value': None, 'na': str(e)}
    except Exception as e:      # noqa: BLE001
        if isinstance(e, TimeoutError) or 'no answer' in str(e):
            for q in qemus:         # its QMP connection is no longer usable
                q.hung = q.hung or 'QEMU stopped answering during %s' % key
        why = next((q.why_gone() for q in qemus if q.why_gone()), None)
        run = {'value': None, 'error': one_line(why + ' during it' if why else
                                                '%s: %s' % (type(e).__name__, e), 200)}
    if run.get('restart') is False:
        run['gap_ms'], run['value'] = run['value'], None
    log('stall: %s: %s: %s' % (name, key, '%.1f ms (HMP probe %.1f ms, took '
                                '%.1f ms)' % (run['value'], run['hmp_ms'], run['op_ms'])
                                if run.get('value') is not None else
                                run.get('na') or run.get('error') or 'no restart'))
    return run


def migration(side):
    """A migration of a -M none QEMU with a passt netdev (stream) into a
    second one over a unix socket: from `migrate` until the destination
    runs, both QEMUs probed."""
    netdev = ['-netdev', 'passt,id=m1,path=' + H.PASST]
    src = dst = None
    try:
        src = Qemu(side['qemu'], netdev)
        dst = Qemu(side['qemu'], netdev + ['-incoming', 'defer'])
        for q in (src, dst):
            wait_passt(q, 'm1')
        uri = 'unix:' + os.path.join(dst.dir, 'migrate.sock')
        qmp(dst, 'migrate-incoming', uri=uri)

        def migrate():
            qmp(src, 'migrate', uri=uri)
            deadline = time.perf_counter() + 60
            while True:
                m = src.op.cmd('query-migrate')
                if m.get('status') in ('completed', 'failed', 'cancelled') or \
                        time.perf_counter() > deadline:
                    break
                time.sleep(PERIOD)
            if m.get('status') != 'completed':
                raise RuntimeError('migration %s: %s' % (m.get('status'),
                                                         m.get('error-desc', '')))
            while dst.op.cmd('query-status')['status'] != 'running':
                if time.perf_counter() > deadline:
                    raise RuntimeError('destination not running')
                time.sleep(PERIOD)
        return measure(side['name'], 'migration', [src, dst], lambda: migrate)
    except Exception as e:      # noqa: BLE001
        return {'value': None, 'error': one_line('before migrate: %s: %s' % (
            type(e).__name__, e), 200)}
    finally:
        for q in (dst, src):
            if q:
                q.close()


def sides_of(anchors):
    return [dict(name='ours', qemu=QEMU, label='ours')] + [
        dict(name='upstream-' + a['key'], qemu=a['qemu'],
             label='upstream ' + a['version']) for a in anchors]


def run(anchors, rounds):
    """Every operation on ours and on each anchor (config.ANCHORS entries),
    rounds times, interleaved: the results for report_lines()/targets()."""
    sides = sides_of(anchors)
    runs = {s['name']: {k: [] for k, _ in OPS} for s in sides}
    t = time.monotonic()
    for r in range(rounds):
        order = sides if r % 2 == 0 else sides[::-1]
        log('stall: round %d/%d: %s first' % (r + 1, rounds, order[0]['name']))
        qs, st = {}, {s['name']: {} for s in sides}
        try:
            for s in order:
                try:
                    qs[s['name']] = Qemu(s['qemu'])
                except Exception as e:      # noqa: BLE001
                    qs[s['name']] = one_line('QEMU did not start: %s: %s' % (
                        type(e).__name__, e), 200)
            for key, _ in OPS[:-1]:
                for s in order:
                    name, q = s['name'], qs[s['name']]
                    run = {'value': None, 'error': q} if isinstance(q, str) else \
                        measure(name, key, [q], lambda: prepare(key, q, st[name]))
                    run['round'] = r
                    runs[name][key].append(run)
        finally:
            for q in qs.values():
                if not isinstance(q, str):
                    q.close()
        for s in order:
            run = migration(s)
            run['round'] = r
            runs[s['name']]['migration'].append(run)
    log('stall: done (%.0f s)' % (time.monotonic() - t))
    return {'rounds': rounds, 'period_ms': PERIOD * 1e3, 'target_ms': TARGET_MS,
            'restart_wait_s': RESTART_WAIT, 'sides': sides, 'runs': runs}


# ---------------------------------------------------------------- report ----
def values(runs):
    return [r['value'] for r in runs if r.get('value') is not None]


def cell(runs):
    vals = values(runs)
    if vals:
        out = fmt_side(summarize(vals), '%.1f')
        bad = [r for r in runs if r.get('value') is None]
        norestart = sum(1 for r in bad if r.get('restart') is False)
        if norestart:
            out += ' (%d round(s): no restart)' % norestart
        if len(bad) > norestart:
            out += ' (%d round(s) failed)' % (len(bad) - norestart)
        return out
    if runs and all(r.get('restart') is False for r in runs):
        return 'no restart (longest gap %s ms in the %g s after SIGKILL)' % (
            fmt_side(summarize([r['gap_ms'] for r in runs]), '%.1f'), RESTART_WAIT)
    why = next((r.get('na') or r.get('error') for r in runs
                if r.get('na') or r.get('error')), 'not measured')
    return 'n/a: ' + one_line(why, 100)


def ratios(res, key, other):
    a = {r['round']: r['value'] for r in res['runs']['ours'][key]
         if r.get('value') is not None}
    b = {r['round']: r['value'] for r in res['runs'][other][key]
         if r.get('value') is not None}
    return [x for x in (ratio_of(a[k], b[k]) for k in a if k in b) if x is not None]


def report_lines(res):
    sides = res['sides']
    others = sides[1:]
    lines = [
        '', '## Main-loop stall', '',
        '- no guest: each side\'s QEMU runs `-M none -nodefaults -display '
        'none` with `-netdev passt` added over QMP (path= the same passt); '
        '%d rounds, in each one QEMU per side and every operation on each '
        'side in turn, the first side alternating with the round; migration '
        'on two QEMUs of its own per side' % res['rounds'],
        '- cells: the longest gap between two answers of a probe that asks '
        '`query-status` on a second QMP monitor %g ms after each answer, '
        'while the operation runs, in ms: median [min–max] of the rounds '
        '(lower is better); ours/upstream: median [min–max] of the '
        'per-round ratios, verdict as for the pairs. The reference row is '
        'what the probe sees when nothing holds QEMU' % res['period_ms'],
        '- last column: the same for a probe asking HMP `info status` on an '
        'HMP monitor: it needs the main loop, but not QMP\'s one dispatcher, '
        'which a coroutine QMP command holds for all monitors while it '
        'yields (netdev-passt-forward-add/-remove wait there for pesto)',
        '- a restart: SIGKILL to the netdev\'s passt, until `info network` '
        'shows another one connected (no restart: none within %g s)'
        % res['restart_wait_s'], '',
        '| operation | ours | ' + ' | '.join(
            '%s | ours/%s per round | verdict' % (s['label'], s['label'].split()[-1])
            for s in others) + ' | ours, HMP probe |',
        '|---|---|' + '---|---|---|' * len(others) + '---|']
    for key, label in OPS:
        ours = res['runs']['ours'][key]
        row = [label, cell(ours)]
        for s in others:
            rs = ratios(res, key, s['name'])
            row += [cell(res['runs'][s['name']][key]),
                    fmt_ratio({'ratio': summarize(rs)}) or 'n/a',
                    verdict(rs, 'lo') if rs else 'n/a']
        hmp_ms = [r['hmp_ms'] for r in ours if r.get('value') is not None]
        row.append(fmt_side(summarize(hmp_ms), '%.1f') or 'n/a')
        lines.append('| %s |' % ' | '.join(row))
    lines.append('')
    for s in sides:
        lines.append('- `%s`: %s' % (s['label'], s['qemu']))
    return lines


def targets(res):
    """The issue's target, as (tag, text) lines like targets.py's."""
    out, ours = [], res['runs']['ours']
    want = 'main-loop stall < %d ms' % TARGET_MS
    for key, label in OPS:
        if key == 'idle' or key in BOUNDED:
            continue
        vals = values(ours[key])
        if not vals:
            out.append(('SKIP', '%s: %s: %s' % (want, label, cell(ours[key]))))
            continue
        s = summarize(vals)
        hmp_ms = summarize([r['hmp_ms'] for r in ours[key] if r.get('value') is not None])
        over = [v for v in vals if v >= TARGET_MS]
        tag = 'PASS' if not over else 'MISS' if len(over) == len(vals) else 'NOISE'
        out.append((tag, '%s: %s: %.1f ms [%.1f–%.1f] over %d rounds (HMP probe '
                    '%.1f ms)%s' % (want, label, s['median'], s['min'], s['max'],
                                    s['n'], hmp_ms['median'],
                                    ': rounds on both sides of %d ms' % TARGET_MS
                                    if tag == 'NOISE' else '')))
    for key in BOUNDED:
        label = dict(OPS)[key]
        for side in res['sides'][1:]:
            what = 'stall of %s at most %s\'s' % (label, side['label'])
            rs = ratios(res, key, side['name'])
            if len(rs) < 2:
                out.append(('SKIP', '%s: %s (ours: %s; %s: %s)' % (
                    what, '%d round(s) with both' % len(rs), cell(ours[key]),
                    side['label'], cell(res['runs'][side['name']][key]))))
                continue
            r = summarize(rs)
            ma = summarize(values(ours[key]))['median']
            mb = summarize(values(res['runs'][side['name']][key]))['median']
            if within_noise(r['min'], r['max']):
                # no difference: the medians swap places from run to run
                tag, tail = 'NOISE', ': within noise, meets the target'
            else:
                tag, tail = ('PASS' if r['max'] < 1 else 'MISS'), ''
            out.append((tag, '%s: ours/upstream = %.2fx [%.2f–%.2f] over %d '
                        'interleaved rounds (medians %.1f vs %.1f ms)%s' % (
                            what, r['median'], r['min'], r['max'], r['n'],
                            ma, mb, tail)))
    if len(res['sides']) == 1:
        out.append(('SKIP', 'netdev_add stall at most upstream\'s: no upstream ran'))
    return out
