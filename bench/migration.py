"""TCP across a live migration (--only migration), ours against the
anchors (upstream QEMU as released), in interleaved rounds.

vhost-user mode, where passt hands the guest's TCP connections to the
destination's passt (passt-repair puts their sockets in repair mode): a
guest socat streams a known pattern to a host sink at the DHCP gateway
(passt maps it to host loopback), which notes when each recv() returns.
Per migration: the longest gap between two arrivals from `migrate` to
WINDOW s after the destination runs, query-migrate's downtime, and
whether the same connection goes on (the guest suite's bulk check: no
reset or EOF, every byte in order, more after the migration). The
issue's target: gap <= downtime + 0.5 s and the connection kept, every
round. Upstream has no repair-helper: it gets the same command line
without it. stream mode resets the connection by design: the figure is
how long after the destination's RESUME a new guest connection (tried
every ~50 ms) delivers its bytes. A destination (same command line,
-incoming defer) is the next round's source: one boot per side and mode.
Times are host wall-clock, as QMP's event timestamps are.
"""

import functools
import importlib.util
import os
import re
import signal
import sys
import time

import config                       # noqa: F401 (first: sets $QEMU)
from config import TOP, log
from guestlib import GuestError
from measure import SessionGuest
from meters import passt_pid_of
from paired import fmt_side, fmt_ratio, ratio_of, verdict
from results import one_line, summarize
from stall import sides_of
import hostlib as H
from hostlib import AGENT, Agent

WINDOW = 3.0            # s after the destination runs that the gap may span
RECONNECT_WAIT = 20.0   # s after RESUME for a new stream-mode connection
SLACK_MS = 500          # the target: gap <= downtime + SLACK_MS
# QEMU's default. The guest suite's 2000 ms stops the VM as soon as the
# first bandwidth estimate says all its RAM fits: copying RAM then made
# most of the downtime, 14-900 ms at random.
DOWNTIME_LIMIT = 300
MODES = ('vu', 'stream')
ROWS = [    # mode, field of a run, label, format (None: kept in k/n)
    ('vu', 'gap_ms', 'vhost-user: longest gap in the bytes the host receives', '%.0f'),
    ('vu', 'downtime_ms', 'vhost-user: migration downtime (query-migrate)', '%.0f'),
    ('vu', 'kept', 'vhost-user: the same connection goes on', None),
    # stream's downtime only in the JSON: RAM convergence sets it, not passt
    ('stream', 'reconnect_ms', 'stream: destination runs -> a new connection works',
     '%.0f'),
]
# stream mode: a new connection (one line) every ~50 ms until /tmp/cstop
CONNECT = '''rm -f /tmp/cstop
( while [ ! -e /tmp/cstop ]; do echo x | timeout 3 socat -T1 - \
TCP4:$(lease_get eth0 router):{port},connect-timeout=1; usleep 50000; done ) \
>/dev/null 2>&1 &
cpid=$!
'''


@functools.lru_cache(None)
def suite():
    """tests/guest/run.py, whose migration tests this measures (netdev
    options, pattern stream, its check), by path: bench/ has a run.py of
    its own. It puts tests/guest first in sys.path: put back."""
    spec = importlib.util.spec_from_file_location(
        'guest_suite', os.path.join(TOP, 'tests', 'guest', 'run.py'))
    mod = importlib.util.module_from_spec(spec)
    saved = list(sys.path)
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.path[:] = saved
    return mod


class _Stamping:
    """A connection whose recv() notes when each piece arrived."""

    def __init__(self, c, arrivals):
        self.c, self.arrivals = c, arrivals

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.c.close()

    def recv(self, n):
        b = self.c.recv(n)
        self.arrivals.append((time.time(), len(b)))
        return b


class Sink(H.TcpPattern):
    """TcpPattern that also notes, per connection, when it was accepted
    and when each piece arrived: conns = [(accepted, [(t, bytes)...])]."""

    def __init__(self, pattern):
        self.conns = []
        super().__init__(pattern, '127.0.0.1')

    def _serve(self, c):
        arrivals = []
        self.conns.append((time.time(), arrivals))
        super()._serve(_Stamping(c, arrivals))


def netdev(side, mode):
    S = suite()
    if mode == 'stream':
        return S.nd()
    # upstream as released has no repair-helper: the rest is the same
    return S.mvnd('repair-helper=' + S.REPAIR if side['name'] == 'ours' else '')


def ended(g):
    """How g's QEMU ended (sid's bwrap exits with 128 + the signal), or None."""
    rc = g.exitcode
    sig = rc and (-rc if rc < 0 else rc - 128)
    return None if rc is None else ('died of %s' % signal.Signals(sig).name
                                    if sig in signal.valid_signals() else
                                    'exited with status %d' % rc)


class Chain:
    """One side's guest in one mode, migrated on from QEMU to QEMU."""

    def __init__(self, side, mode, accel, procs):
        self.side, self.mode, self.accel, self.procs = side, mode, accel, procs
        self.g = self.a = None
        self.n = 0

    def qemu(self, incoming=False):
        self.n += 1
        g = SessionGuest(None, netdev=[netdev(self.side, self.mode)], script=AGENT,
                         qmp=True, accel=self.accel, shared_memory=self.mode == 'vu',
                         name='mig-%s-%s-%d' % (self.side['name'], self.mode, self.n),
                         qemu=self.side['qemu'],
                         extra_args=['-incoming', 'defer'] if incoming else [])
        g.start()
        self.note(g)
        return g

    def note(self, g):
        """Ended at the end if still there: what g's QEMU runs, and the
        passt of info network (upstream's daemonizes)."""
        self.procs.see(g)
        pid = passt_pid_of(H.passt_netdevs(g.qmp.hmp('info network')).get('n0'))
        if pid:
            self.procs.add(pid)

    def hop(self, dst, run):
        """Migrate into dst, the agent following; downtime and total time
        in run. (when `migrate` was sent, when the destination ran: its
        RESUME's timestamp, else when it was seen running)"""
        t0 = time.time()
        try:
            st = H.migrate(self.g, dst, downtime_limit=DOWNTIME_LIMIT)
        except GuestError as e:
            raise RuntimeError(str(e).splitlines()[0]) from None
        run.update(downtime_ms=st.get('downtime'), total_ms=st.get('total-time'))
        running = time.time()
        dst.qmp.cmd('query-status')         # the events before it are in
        ev = [e['timestamp'] for e in dst.qmp.events if e['event'] == 'RESUME']
        if ev:
            running = ev[0]['seconds'] + ev[0]['microseconds'] / 1e6
        self.note(dst)
        self.retire(self.g)
        self.g = dst
        self.a.follow(dst)
        return t0, running

    @staticmethod
    def retire(g):
        try:        # quit: a SIGKILL to sid's bwrap leaves upstream's passt behind
            H.retire(g)
        except Exception as e:      # noqa: BLE001
            log('migration: %s: quit: %s' % (g.name, e))
            g.close()

    def close(self):
        if self.g:
            self.retire(self.g)
        self.g = self.a = None

    def once(self, r):
        """One migration, a run dict (round r); a failure ends the guest
        (the next round boots another)."""
        run, dst = {'round': r}, None
        try:
            if not self.g:
                self.g = self.qemu()
                self.a = Agent(self.g, boot_timeout=120)
                if self.a.kv('net_up eth0 >/dev/null || echo lease=none').get('lease'):
                    raise RuntimeError('no DHCP lease')
            dst = self.qemu(incoming=True)
            (vu_once if self.mode == 'vu' else stream_once)(self, dst, run)
        except Exception as e:      # noqa: BLE001
            run['error'] = one_line(str(e) if isinstance(e, RuntimeError) else
                                    '%s: %s' % (type(e).__name__, e), 200)
            if not isinstance(e, RuntimeError):     # QMP gone: did QEMU die?
                for who, g in (('source', self.g), ('destination', dst)):
                    if g and g.wait_exit(1) is not None:
                        run['error'] += '; %s QEMU %s' % (who, ended(g))
            if dst and dst is not self.g:
                self.retire(dst)
            self.close()
        log('migration: %s: %s: %s' % (self.side['name'], self.mode, {
            k: round(v) if isinstance(v, float) else v for k, v in run.items()}))
        return run


def fate(sink):
    e = sink.end
    return e and ('closed (EOF)' if e == 'eof' else 'reset' if 'Reset' in e
                  else 'ended: ' + e)


def vu_once(ch, dst, run):
    S = suite()
    sink, src = Sink(S.BULK_PATTERN), ch.g
    try:
        ch.a.sh('rm -f /tmp/stop')
        S.bulk_start(ch.a, sink)
        if not sink.conns:
            raise RuntimeError('the guest stream did not start')
        try:
            t0, running = ch.hop(dst, run)
        except RuntimeError:
            run['said'] = [l for l in src.qemu_log().splitlines()   # the JSON's
                           if l.startswith('qemu-system') and 'warning:' not in l]
            time.sleep(1)
            run['why_kept'] = 'connection %s after the failed migration' % (
                fate(sink) or 'still open')
            raise
        t1 = running + WINDOW
        time.sleep(max(0.0, t1 - time.time()))
        t = [x for x, n in sink.conns[0][1] if n]
        if not any(x > running for x in t):
            run['why_gap_ms'] = run['why_kept'] = (
                'connection ' + fate(sink) if sink.end else
                'no data in the %g s after the destination ran' % WINDOW)
            ch.a.sh('touch /tmp/stop; kill $bpid 2>/dev/null')
        else:
            gaps = [b - a for a, b in zip(t, t[1:]) if b > t0 and a < t1]
            run['gap_ms'] = max(gaps + [t1 - t[-1]]) * 1e3
        run['mb_before'] = sink.before / 1e6
        run['kept'], diag = S.bulk_end(ch.a, sink)
        if not run['kept']:
            run.setdefault('why_kept', 'not intact: ' + diag)
    finally:
        sink.close()


def stream_once(ch, dst, run):
    sink = Sink(b'x\n')
    try:
        ch.a.sh(CONNECT.format(port=sink.port))
        deadline = time.time() + 30
        while not any(arr for _, arr in sink.conns) and time.time() < deadline:
            time.sleep(0.05)
        if not any(arr for _, arr in sink.conns):
            raise RuntimeError('no guest connection before the migration')
        _, running = ch.hop(dst, run)
        while time.time() < running + RECONNECT_WAIT:
            # only the destination's passt can have a connection accepted now
            first = [arr[0][0] for acc, arr in list(sink.conns)
                     if acc > running and arr and arr[0][1]]
            if first:
                run['reconnect_ms'] = (min(first) - running) * 1e3
                break
            time.sleep(0.02)
        else:
            run['why_reconnect_ms'] = 'no new connection within %g s' % RECONNECT_WAIT
        ch.a.sh('touch /tmp/cstop; wait $cpid', timeout=30)
    finally:
        sink.close()


def run(anchors, rounds, accel):
    """vhost-user and stream migrations of ours and of each anchor
    (config.ANCHORS entries), rounds times, interleaved: the results for
    report_lines()/targets()."""
    sides = [dict(s, given={m: re.sub(r'=/[^,]*/', '=', netdev(s, m)) for m in MODES})
             for s in sides_of(anchors)]
    runs = {s['name']: {m: [] for m in MODES} for s in sides}
    procs = H.Procs()
    chains = {(s['name'], m): Chain(s, m, accel, procs) for s in sides for m in MODES}
    t = time.monotonic()
    try:
        for r in range(rounds):
            order = sides if r % 2 == 0 else sides[::-1]
            log('migration: round %d/%d: %s first' % (r + 1, rounds, order[0]['name']))
            for m in MODES:
                for s in order:
                    runs[s['name']][m].append(chains[(s['name'], m)].once(r))
    finally:
        for ch in chains.values():
            ch.close()
        left = procs.leftovers()
    log('migration: done (%.0f s)' % (time.monotonic() - t))
    return {'rounds': rounds, 'window_s': WINDOW, 'slack_ms': SLACK_MS,
            'downtime_limit_ms': DOWNTIME_LIMIT, 'reconnect_wait_s': RECONNECT_WAIT,
            'accel': accel, 'sides': sides, 'runs': runs,
            'leftovers': {str(k): v for k, v in left.items()}}


# ---------------------------------------------------------------- report ----
def why(run, field):
    return run.get('why_' + field) or run.get('error') or 'not measured'


def cell(runs, field, fmt):
    bad = [r for r in runs if r.get(field) is None or r.get(field) is False]
    if fmt is None:
        return 'kept in %d/%d rounds%s' % (len(runs) - len(bad), len(runs), (
            ': ' + one_line(why(bad[0], field), 100)) if bad else '')
    vals = [r[field] for r in runs if r.get(field) is not None]
    if not vals:
        return 'n/a: ' + one_line(why(bad[0], field) if bad else 'not run', 100)
    return fmt_side(summarize(vals), fmt) + (' (%d round(s): %s)' % (
        len(bad), one_line(why(bad[0], field), 60)) if bad else '')


def ratios(res, mode, field, other):
    a = {r['round']: r.get(field) for r in res['runs']['ours'][mode]}
    b = {r['round']: r.get(field) for r in res['runs'][other][mode]}
    return [x for x in (ratio_of(a[k], b[k]) for k in a
                        if a[k] is not None and b.get(k) is not None)
            if x is not None]


def report_lines(res):
    sides, others = res['sides'], res['sides'][1:]
    lines = [
        '', '## TCP across a live migration', '',
        '- the test guest (%s, 256 MiB, guest RAM a shared memfd in vhost-user '
        'mode) migrates over a unix socket into a QEMU with the same command line '
        'and `-incoming defer` (max-bandwidth 4 GiB/s, downtime-limit %d ms), '
        'the next round\'s source; %d rounds, each mode on each side in turn, '
        'the first side alternating' % (res['accel'], res['downtime_limit_ms'],
                                        res['rounds']),
        '- vhost-user: a guest socat streams a pattern to a host sink at the '
        'gateway; *gap*: the longest time between two recv() returns of the sink '
        'from `migrate` to %g s after the destination\'s RESUME; *downtime*: '
        'query-migrate\'s; *goes on*: no reset or EOF, every byte in order, '
        'more after the migration' % res['window_s'],
        '- stream (reset by design): the guest tries a new connection every '
        '~50 ms (1 s connect timeout); the destination\'s RESUME to the first '
        'bytes of a new one at the host',
        '- ms, lower is better: median [min–max] of the rounds; ours/upstream: '
        'of the per-round ratios, verdict as for the pairs']
    lines += ['- `%s` (%s) was given `-netdev %s` (vhost-user), `-netdev %s` '
              '(stream)' % (s['label'], s['qemu'], s['given']['vu'],
                            s['given']['stream']) for s in sides]
    lines += ['', '| | ours | ' + ' | '.join(
        '%s | ours/%s per round | verdict' % (s['label'], s['label'].split()[-1])
        for s in others) + ' |', '|---|---|' + '---|---|---|' * len(others)]
    for mode, field, label, fmt in ROWS:
        row = [label, cell(res['runs']['ours'][mode], field, fmt)]
        for s in others:
            rs = [] if fmt is None else ratios(res, mode, field, s['name'])
            row += [cell(res['runs'][s['name']][mode], field, fmt),
                    fmt_ratio({'ratio': summarize(rs)}) or 'n/a',
                    verdict(rs, 'lo') if rs else 'n/a']
        lines.append('| %s |' % ' | '.join(row))
    if res.get('leftovers'):
        lines += ['', '- left running after the rounds (killed): %s'
                  % one_line(res['leftovers'], 200)]
    return lines


def meets(run):
    g, d = run.get('gap_ms'), run.get('downtime_ms')
    return bool(run.get('kept') and g is not None and d is not None and
                g <= d + SLACK_MS)


def outcome(runs):
    """How a side's vhost-user migrations went, in words."""
    done = [r for r in runs if r.get('downtime_ms') is not None]
    errs = [r['error'] for r in runs if r.get('error')]
    return '%d/%d completed%s; %s; gap %s ms, downtime %s ms' % (
        len(done), len(runs), ' (%s)' % one_line(errs[0], 100) if errs else '',
        cell(runs, 'kept', None),
        fmt_side(summarize([r.get('gap_ms') for r in runs]), '%.0f') or 'n/a',
        fmt_side(summarize([r.get('downtime_ms') for r in runs]), '%.0f') or 'n/a')


def targets(res):
    """The issue's target, as (tag, text) lines like stall.targets; what
    each anchor did under the same target, as INFO lines."""
    want = ('TCP stall across a vhost-user migration <= downtime + %d ms, '
            'connection kept, every round' % SLACK_MS)
    ours = res['runs']['ours']['vu']
    if not ours:
        return [('SKIP', want + ': not run')]
    n = sum(meets(r) for r in ours)
    tag = 'PASS' if n == len(ours) else 'MISS'      # every round, or missed
    out = [(tag, '%s: met in %d/%d rounds; migrations: %s' % (
        want, n, len(ours), outcome(ours)))]
    for s in res['sides'][1:]:
        runs = res['runs'][s['name']]['vu']
        out.append(('INFO', '%s (no repair-helper: it has none): same target met in '
                    '%d/%d rounds; migrations: %s' % (
                        s['label'], sum(meets(r) for r in runs), len(runs),
                        outcome(runs))))
    return out


if __name__ == '__main__':
    import argparse
    from config import ANCHOR
    from guestlib import ensure_built, probe_accel
    from targets import lines
    p = argparse.ArgumentParser(description='TCP across a live migration, '
                                'ours and upstream %s' % ANCHOR['version'])
    p.add_argument('--rounds', type=int, default=2)
    o = p.parse_args()
    ensure_built()
    res = run([ANCHOR], o.rounds, probe_accel())
    print('\n'.join(report_lines(res)))
    print('\nTargets (printed, not asserted):\n')
    print(lines(targets(res)))
