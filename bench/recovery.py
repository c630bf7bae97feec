"""Recovery after passt is killed (row 1 of the issue: Recovery).

While the guest streams TCP to the host, the netdev's passt gets SIGKILL.
From the kill: *frames flow again*, when the first datagram of a UDP
sender in the guest (one every 10 ms) reaches a host sink, and *new guest
connection*, when the first TCP connection the guest opens (an attempt
every 50 ms, in parallel) delivers its data to a host server. Both are
the kernel's receive timestamps (SO_TIMESTAMPNS), not when a busy host
thread read them, and only what arrived once the killed passt was gone
counts: a datagram it sent as it died is no recovery. Nothing within
GIVE_UP s: "no recovery within 10 s", an outcome, never an empty cell.

Sides: ours and the anchors (upstream QEMU as released), in stream and
vhost-user mode, on the pairs' guest and backends (measure.start). One
mode after the other, so that two guests run at a time, not four: they
stay up across the rounds, and one whose QEMU exited or whose last kill
had no recovery (upstream in vhost-user mode: its guest has no network
left) is booted again first. Each round kills on every side in turn,
the first side alternating, as the pairs do (paired.verdict).

Ours' restart policy (net/passt.c, passt.h): a passt that ran at least
PASST_STABLE_MS (5 s) is started again at once; one that failed sooner
after 100 ms, doubling, and none after 5 such failures in a row. Each
passt killed here has run STABLE s at least (waiting for the rest where
needed), so every kill meets the first case, a restart without delay.
Upstream restarts passt in stream mode synchronously in its receive
handler as passt's socket closes, and in vhost-user mode never.
"""

import os
import signal
import socket
import struct
import time
import types

from config import ANCHORS, log
from backends import BY_NAME
from guestlib import probe_accel
from measure import start
from meters import CLK_TCK, find_passt
from paired import fmt_ratio, fmt_side, ratio_of, verdict
from results import one_line, summarize
from stall import sides_of
import hostlib as H

MODES = (('stream', 'passt'), ('vhost-user', 'passt-vhost-user'))
FIGURES = (('frames_ms', 'frames flow again (first UDP datagram at the host)'),
           ('connect_ms', 'new guest connection (first one delivering data)'))
GIVE_UP = 10.0      # s after SIGKILL: no recovery
STABLE = 6.0        # s a passt runs before it is killed: ours' PASST_STABLE_MS is 5000
TARGET_MS = 1000    # the target, both figures, ours
FLOWING = 60        # s for the three flows to start (TCG)
UDP_US, CONNECT_US = 10000, 50000
SO_TIMESTAMPNS = getattr(socket, 'SO_TIMESTAMPNS', 35)
OPTS = types.SimpleNamespace(only=['recovery'])

# every loop ends once $s exists; a connection attempt is not waited for,
# so that one lost SYN (sent again after 1 s) holds no other one up
START = r'''s={stop}; gw={gw}
socat -u /dev/zero TCP4:$gw:{sink} </dev/null >/dev/null 2>&1 &
echo stream=$!
(while [ ! -e $s ]; do
    while [ ! -e $s ]; do echo u; usleep {udp_us}; done |
        socat -u - UDP4-SENDTO:$gw:{udp}
    usleep {udp_us}
done) </dev/null >/dev/null 2>&1 &
(i=0; while [ ! -e $s ]; do
    echo c$i | timeout 3 socat -u - TCP4:$gw:{tcp},connect-timeout=2 &
    i=$((i + 1)); usleep {conn_us}
done) </dev/null >/dev/null 2>&1 &
'''
STOP = '''touch {stop}
echo "stream_state=$(cut -d' ' -f3 /proc/{pid}/stat 2>/dev/null)"
kill {pid} 2>/dev/null; true
'''


def stamped(sock, size):
    """recvmsg(): (data, when the kernel received it, on time.time()'s clock)."""
    data, anc, _, _ = sock.recvmsg(size, socket.CMSG_SPACE(16))
    for level, kind, raw in anc:
        if (level, kind) == (socket.SOL_SOCKET, SO_TIMESTAMPNS):
            sec, nsec = struct.unpack('qq', raw[:16])
            return data, sec + nsec / 1e9
    return data, time.time()


class UdpStamps(H.Server):
    """When each datagram arrived (t)."""

    def __init__(self):
        self.t = []
        super().__init__('127.0.0.1', udp=True)

    def _loop(self):
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        while not self.stop:
            try:
                self.t.append(stamped(self.sock, 2048)[1])
            except OSError:
                return


class TcpStamps(H.TcpEcho):
    """When the first data of each connection arrived (t)."""

    def __init__(self):
        self.t = []
        super().__init__('127.0.0.1')

    def _serve(self, c):
        with c:
            c.settimeout(10)
            try:
                c.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                data, t = stamped(c, 256)
            except OSError:
                return
            if data:
                self.t.append(t)


def age(pid):
    """Seconds since pid started (10 ms ticks), None when it is gone."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            started = int(f.read().rsplit(')', 1)[1].split()[19])
        with open('/proc/uptime') as f:
            return float(f.read().split()[0]) - started / CLK_TCK
    except (OSError, ValueError, IndexError, TypeError):
        return None


def wait_until(cond, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


def qemu_gone(br):
    """None while br's QEMU runs, else how it ended and its last words."""
    if br.g.running():
        return None
    said = [l for l in br.g.qemu_log().splitlines() if 'qemu-system' in l][-1:]
    return 'QEMU exited (status %s)%s' % (br.g.exitcode, ': ' + said[0] if said else '')


def kill(br, old, udp, conn):
    """SIGKILL passt old of br's guest while udp and conn count: the
    figures of the run, each None where nothing came within GIVE_UP s."""
    t_kill, m_kill = time.time(), time.monotonic()
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: H.pid_state(old) in ('gone', 'Z'), 5, 0.0005)
    dead = time.time()

    def first(ts):
        after = [t for t in list(ts) if t > dead]
        return (min(after) - t_kill) * 1e3 if after else None
    wait_until(lambda: first(udp.t) is not None and first(conn.t) is not None,
               GIVE_UP - (time.monotonic() - m_kill), 0.002)
    time.sleep(0.1)     # a connection's thread may append an earlier one late
    run = {'old_pid': old, 'dead_ms': (dead - t_kill) * 1e3, 'frames_ms': first(udp.t),
           'connect_ms': first(conn.t), 'qemu': qemu_gone(br) or 'running'}
    new = run['qemu'] == 'running' and find_passt(br.g.qmp, 'n0', br.qemu_pid)[0]
    if new and new != old and age(new) is not None:
        run['new_pid'] = new
        run['passt_ms'] = (time.monotonic() - age(new) - m_kill) * 1e3
    return run


def measure(br, r, seq):
    """One kill on br's guest while it streams: a run dict."""
    udp, conn = UdpStamps(), TcpStamps()
    sink = H.TcpPattern(b'\0' * 65536, '127.0.0.1')
    stop, pid, run = '/tmp/recovery.stop.%d' % seq, None, {'round': r}
    try:
        pid = br.a.kv(START.format(stop=stop, gw=br.host_addr, sink=sink.port,
                                   udp=udp.port, tcp=conn.port, udp_us=UDP_US,
                                   conn_us=CONNECT_US)).get('stream')
        if not wait_until(lambda: sink.bytes >= 1 << 20 and len(udp.t) >= 3
                          and len(conn.t) >= 2, FLOWING):
            raise RuntimeError('the flows did not start in %d s (stream %d bytes, '
                               '%d datagrams, %d connections)' % (
                                   FLOWING, sink.bytes, len(udp.t), len(conn.t)))
        old, why = find_passt(br.g.qmp, 'n0', br.qemu_pid)
        if not old:
            raise RuntimeError('no passt to kill: ' + why)
        time.sleep(max(0.0, STABLE - (age(old) or 0)))
        run.update(kill(br, old, udp, conn))
        run['stream_host'] = 'reset' if 'Reset' in (sink.end or '') else sink.end or 'open'
    except Exception as e:      # noqa: BLE001
        why = qemu_gone(br)
        run['error'] = one_line(why + ' during it' if why else
                                '%s: %s' % (type(e).__name__, e), 200)
    finally:
        for s in (udp, conn, sink):
            s.close()
    if pid and not qemu_gone(br):
        try:
            st = br.a.kv(STOP.format(stop=stop, pid=pid)).get('stream_state')
            run['stream_guest'] = 'stalled' if st and st != 'Z' else 'ended'
        except Exception as e:      # noqa: BLE001
            run.setdefault('error', one_line('stopping the flows: %s' % e, 200))
    return run


def outcome(run):
    """One kill, in words (the log, the report's notes)."""
    if run.get('error'):
        return 'failed: ' + run['error']
    out = ', '.join('%s %s' % (k.split('_')[0], 'no recovery' if run[k] is None
                                else '%.0f ms' % run[k])
                    for k in ('frames_ms', 'connect_ms', 'passt_ms') if k in run)
    if 'stream_host' in run:
        out += ', stream: host %s, guest %s' % (run['stream_host'],
                                                run.get('stream_guest'))
    return out + ('' if run.get('qemu', 'running') == 'running' else ', ' + run['qemu'])


def one_kill(brs, again, name, backend, r, seq, accel):
    """Round r's kill on side name's guest (brs: side -> its guest, booted
    here where it has none or again holds why to boot it again)."""
    br, why = brs.get(name), again.pop(name, None)
    why = why or (br and qemu_gone(br))
    if br and why:
        brs.pop(name).close()
        br = None
    try:
        br = br or brs.setdefault(name, start(BY_NAME[backend], OPTS, accel,
                                              ['recovery']))
    except Exception as e:      # noqa: BLE001
        one = {'round': r, 'error': one_line('the guest did not start: %s: %s' % (
            type(e).__name__, e), 200)}
    else:
        one = measure(br, r, seq)
    if why:
        one['booted_again'] = why
    if one.get('error') or None in (one.get('frames_ms'), one.get('connect_ms')):
        again[name] = 'after a failure' if one.get('error') else (
            'after no recovery' if one.get('qemu') == 'running' else one.get('qemu'))
    log('recovery: %s: %s%s' % (backend, outcome(one), ' (booted again: %s)' % why
                                if why else ''))
    return one


def run(anchors, rounds, accel=None):
    """Recovery on ours and on each anchor (config.ANCHORS entries), in
    both modes, rounds times, interleaved: the results for
    report_lines()/targets()."""
    accel = accel or probe_accel()
    sides = sides_of(anchors)
    runs = {s['name']: {m: [] for m, _ in MODES} for s in sides}
    t, seq = time.monotonic(), 0
    for mode, base in MODES:
        brs, again = {}, {}
        try:
            for r in range(rounds):
                order = sides if r % 2 == 0 else sides[::-1]
                log('recovery: %s: round %d/%d: %s first' % (
                    mode, r + 1, rounds, order[0]['name']))
                for s in order:
                    seq += 1
                    runs[s['name']][mode].append(one_kill(
                        brs, again, s['name'], base if s['name'] == 'ours' else
                        '%s-%s' % (s['name'], base), r, seq, accel))
        finally:
            for br in brs.values():
                br.close()
    log('recovery: done (%.0f s)' % (time.monotonic() - t))
    return {'rounds': rounds, 'give_up_s': GIVE_UP, 'stable_s': STABLE,
            'target_ms': TARGET_MS, 'udp_period_ms': UDP_US / 1e3,
            'connect_period_ms': CONNECT_US / 1e3, 'sides': sides,
            'modes': [m for m, _ in MODES], 'runs': runs}


# ---------------------------------------------------------------- report ----
def cell(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    lost = sum(1 for r in runs if r.get(key) is None and not r.get('error'))
    failed = [r['error'] for r in runs if r.get('error')]
    none = 'no recovery within %g s' % GIVE_UP
    out = fmt_side(summarize(vals), '%.0f') + ' ms' if vals else none if lost else \
        'n/a: ' + one_line(failed[0] if failed else 'not measured', 100)
    gone = sum(1 for r in runs if r.get('qemu', 'running') != 'running')
    for n, what in ((lost if vals else 0, none), (gone, 'QEMU exited'),
                    (len(failed) if vals or lost else 0, 'failed')):
        out += ' (%d round(s): %s)' % (n, what) if n else ''
    return out


def compare(res, mode, key, other):
    """(ratios ours/other where both recovered, every round's for the
    verdict, rounds where ours alone recovered): a round where one side
    alone recovered counts as 0 or infinity for the verdict."""
    a, b = ({r['round']: r.get(key) for r in res['runs'][n][mode] if not r.get('error')}
            for n in ('ours', other))
    num, every, alone = [], [], 0
    for k in set(a) & set(b):
        if a[k] is None and b[k] is None:
            continue
        alone += b[k] is None
        x = float('inf') if a[k] is None else 0.0 if b[k] is None else ratio_of(a[k], b[k])
        every += [] if x is None else [x]
        if x and x != float('inf'):
            num.append(x)
    return num, every, alone


def report_lines(res):
    sides, none = res['sides'], 'no recovery within %g s' % res['give_up_s']
    others = sides[1:]
    lines = [
        '', '## Recovery after passt is killed', '',
        '- while the guest streams TCP to a sink on the host\'s loopback (socat '
        'from /dev/zero to the gateway, which passt maps to the host), SIGKILL to '
        'the netdev\'s passt; meanwhile the guest sends a UDP datagram every %g ms '
        'to a host sink and opens a new TCP connection every %g ms to a host server '
        '(under TCG, with the stream, they come 20–40 and 50–100 ms apart)'
        % (res['udp_period_ms'], res['connect_period_ms']),
        '- cells: from the kill to the first datagram, and to the first data of a '
        'new connection, as the host\'s kernel timestamped them (only what came '
        'once the killed passt was gone), in ms, median [min–max] of the rounds, '
        'lower is better, "%s" where none came; ours/upstream: the per-round '
        'ratios where both recovered, verdict as for the pairs (a round where one '
        'side alone recovered counts for it)' % none,
        '- every passt killed had run %g s at least: ours starts such a passt '
        'again at once (one that ran under 5 s after 100 ms, doubling, none after '
        '5 in a row); upstream starts it again in stream mode, in its receive '
        'handler, and never in vhost-user mode' % res['stable_s'],
        '- ours keeps the guest\'s link up while it starts passt again, in both '
        'modes (vhost-user mode since 6-vhost-user-frontend/12: before it, the '
        'NIC\'s link went down until a passt was connected again, the guest '
        'dropped its neighbour entry of the gateway, and the ARP request lost in '
        'the gap went again only after 1 s, retrans_time_ms: some 1.1 s)',
        '- %d rounds, one mode after the other, one guest per side and mode, booted '
        'again after a kill without recovery; in each round every side in turn, '
        'the first side alternating' % res['rounds'], '',
        '| %s |' % ' | '.join(['after SIGKILL', 'ours'] + [
            '%s | ours/%s per round | verdict' % (s['label'], s['label'].split()[-1])
            for s in others]),
        '|---|---|' + '---|---|---|' * len(others)]
    for mode in res['modes']:
        for key, label in FIGURES:
            row = ['%s: %s' % (mode, label), cell(res['runs']['ours'][mode], key)]
            for s in others:
                num, every, alone = compare(res, mode, key, s['name'])
                row += [cell(res['runs'][s['name']][mode], key),
                        fmt_ratio({'ratio': summarize(num)}) or 'n/a',
                        (verdict(every, 'lo') if every else 'n/a') +
                        (' (%d round(s): ours alone recovered)' % alone if alone else '')]
            lines.append('| %s |' % ' | '.join(row))
    lines += ['', 'Each kill (passt: when the new passt process started, in 10 ms '
              'ticks; upstream\'s is the child passt forks once it has set up):', '']
    lines += ['- %s, %s, round %d: %s%s' % (
        s['label'], mode, r['round'] + 1, outcome(r), ' (booted again: %s)' %
        r['booted_again'] if r.get('booted_again') else '')
        for s in sides for mode in res['modes'] for r in res['runs'][s['name']][mode]]
    return lines


def targets(res):
    """The issue's target, as (tag, text) lines like targets.py's; each
    anchor's outcome as INFO lines."""
    out, ours = [], res['runs']['ours']
    for mode in res['modes']:
        want = 'recovery after passt is killed < %d ms, ours, %s mode (frames and ' \
            'a new connection)' % (TARGET_MS, mode)
        done = [r for r in ours[mode] if not r.get('error')]
        ok = [r for r in done if all(r.get(k) is not None and r[k] < TARGET_MS
                                     for k, _ in FIGURES)]
        tag = 'SKIP' if not done else 'PASS' if len(ok) == len(done) else \
            'MISS' if not ok else 'NOISE'
        out.append((tag, '%s: %s; %d of %d rounds under' % (
            want, figures(ours[mode]), len(ok), len(done))))
        for s in res['sides'][1:]:
            out.append(('INFO', '%s, %s mode, after passt is killed: %s' % (
                s['label'], mode, figures(res['runs'][s['name']][mode]))))
    return out


def figures(runs):
    return '; '.join('%s %s' % (k.split('_')[0], cell(runs, k)) for k, _ in FIGURES)


if __name__ == '__main__':
    import argparse
    p = argparse.ArgumentParser(description='recovery after passt is killed: '
                                'ours against %s' % ANCHORS[0]['version'])
    p.add_argument('--rounds', type=int, default=2)
    o = p.parse_args()
    H.ensure_built()
    res = run(ANCHORS[:1], o.rounds)
    print('\n'.join(report_lines(res)))
    print('\nTargets (printed, not asserted):\n')
    print(''.join('    %-5s %s\n' % t for t in targets(res)))
