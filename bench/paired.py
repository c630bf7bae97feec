"""Interleaved comparison of two backends, A and B (--pairs A:B).

Both guests are booted and kept up. For each round and each metric, the
metric runs on A and on B back to back; the order alternates round by
round (A B, then B A, ...) so that neither side always goes first. Each
round gives one ratio A/B per metric: a drift of the machine between
rounds moves both sides of a ratio, not the ratio. Reported per metric:
the median of A and of B, the median of the per-round ratios with their
min-max, and a verdict (see verdict()).
"""

import time

from backends import BY_NAME, METRIC, METRICS, STEPS, TCP_KEYS, anchor_of
from config import log
from guestlib import GuestError
from measure import COUNTED, Unavailable, start
from results import notes, one_line, result, summarize
from meters import SyscallMeter
import startup


def parse_pairs(text, sets):
    """'A:B,C:D' -> [(A, B), ...]. An item may also name a list of pairs,
    one of sets (backends.PAIR_SETS: 'upstream', 'upstream-10.2', ...);
    'default' is 'upstream'; 'none' or nothing: []."""
    out = []
    for item in text.split(','):
        item = item.strip()
        item = 'upstream' if item == 'default' else item
        if item in ('', 'none'):
            continue
        if item in sets:
            out += [ab for ab in sets[item] if ab not in out]
            continue
        a, sep, b = item.partition(':')
        if not sep or a not in BY_NAME or b not in BY_NAME or a == b:
            raise ValueError('bad pair %r (want one of %s, or A:B of two '
                             'backends of: %s)' % (item, ', '.join(sets),
                                                   ', '.join(BY_NAME)))
        out.append((a, b))
    return out


# Ratios within 1% of 1.0 are below what the counts resolve: perf attaches
# after a transfer has started, and the request/response counts include
# 20 warm-up round trips.
RESOLUTION = 0.01


def within_noise(lo, hi, want=1.0):
    """Within noise of want: the rounds' ratios straddle it, or all lie
    within RESOLUTION of it."""
    return lo <= want <= hi or (want * (1 - RESOLUTION) <= lo and
                                hi <= want * (1 + RESOLUTION))


def verdict(ratios, better):
    """better / worse / within noise, from the per-round ratios A/B.

    Within noise when the ratios' range straddles 1.0 (some rounds had A
    ahead, some B) or lies within 1% of it. Otherwise every round agrees
    on the side; with no real difference each round is a coin toss, so
    all n agreeing by chance has probability 2^(1-n) (5 rounds: 6%,
    2 rounds: 50%, so a short run cannot tell much). One ratio has no
    spread: no verdict."""
    if len(ratios) < 2:
        return 'no verdict: %d round(s)' % len(ratios)
    lo, hi = min(ratios), max(ratios)
    if within_noise(lo, hi):
        return 'within noise'
    return 'better' if (lo > 1.0) == (better == 'hi') else 'worse'


def ratio_of(va, vb):
    if vb:
        return va / vb
    return 1.0 if va == 0 else None


def compare(ra, rb):
    """Per metric: both sides' summaries, the per-round ratios, their
    summary and the verdict. ra, rb: BackendRun.runs of A and B."""
    out = {}
    for key, _, _, better, _ in METRICS:
        va = {r.get('round'): r['value'] for r in ra.get(key, [])
              if r.get('value') is not None}
        vb = {r.get('round'): r['value'] for r in rb.get(key, [])
              if r.get('value') is not None}
        rounds = [k for k in va if k in vb]
        ratios = [x for x in (ratio_of(va[k], vb[k]) for k in rounds)
                  if x is not None]
        out[key] = {'a': summarize(list(va.values())),
                    'b': summarize(list(vb.values())),
                    'ratios': ratios, 'ratio': summarize(ratios),
                    'verdict': verdict(ratios, better) if ratios else None}
    return out


def open_side(name, opts, accel, steps):
    """(BackendRun or None, status)."""
    log('=== %s: %s' % (name, BY_NAME[name]['desc']))
    try:
        return start(BY_NAME[name], opts, accel, steps), 'ok'
    except Unavailable as e:
        return None, 'not available: %s' % e
    except GuestError as e:
        return None, 'error: %s' % str(e).splitlines()[0]
    except Exception as e:      # noqa: BLE001
        return None, 'error: %s: %s' % (type(e).__name__, e)


def run_pair(a, b, opts, accel):
    t = time.monotonic()
    steps = pair_steps(opts.only)
    sides = [open_side(a, opts, accel, steps)]
    if sides[0][0]:
        sides.append(open_side(b, opts, accel, steps))
    else:
        sides.append((None, 'not started: %s is %s' % (a, sides[0][1])))
    A, B = sides[0][0], sides[1][0]
    try:
        if A and B:
            interleave(A, B, opts, steps)
    finally:
        for br in (A, B):
            if br:
                br.close()
    res = {'a': a, 'b': b, 'rounds': opts.rounds, 'seconds': opts.seconds,
           'sides': {a: result(A, sides[0][1]),
                     b: result(B, sides[1][1])}}
    if A and B:
        res['metrics'] = compare(A.runs, B.runs)
    log('pair %s:%s done (%.0f s)' % (a, b, time.monotonic() - t))
    return res


def interleave(A, B, o, steps):
    """Every round: each metric on one side, then on the other; the side
    that goes first alternates with the round. Syscalls are counted in
    the guest-initiated TCP transfers and the request/response runs
    themselves (not in transfers of their own as in the block mode): both
    sides pay the counting alike, and a round takes half the time."""
    count = 'syscalls' in steps and not SyscallMeter.why_not()

    def units():
        if 'tcp' in steps:
            for key in TCP_KEYS:
                yield key, lambda br, key=key: br.tcp(key, count=count and
                                                      key in COUNTED)
        elif count:         # --only syscalls: transfers to count in
            for key in COUNTED:
                yield 'sc_' + key, lambda br, key=key: br.tcp(
                    key, count=True, metric='sc_' + key)
        if 'tps' in steps or count:
            yield 'tps', lambda br: br.tps_once(count=count,
                                                record='tps' in steps)
        if 'udp' in steps:
            yield 'udp', lambda br: br.udp_round()
        if 'forward' in steps:
            yield 'forward', lambda br: br.forward_once()

    def order(r):
        return (A, B) if r % 2 == 0 else (B, A)

    # start-up first, while the guests are idle (see measure_blocks)
    if 'startup' in steps:
        for r in range(o.rounds):
            for br in order(r):
                if br.be.get('hotplug'):
                    br.round = r
                    br.step('startup', startup.startup_once, br, r + 1)
    for r in range(o.rounds):
        if A.dead or B.dead:
            log('pair %s:%s: stopped: %s' % (A.name, B.name, A.dead or B.dead))
            break
        log('round %d/%d: %s first' % (r + 1, o.rounds, order(r)[0].name))
        for what, fn in units():
            for br in order(r):
                br.round = r
                br.step(what, fn, br)
    for br in (A, B):
        br.finish()


# ------------------------------------------------------------- report ----
def fmt_side(s, fmt):
    if not s:
        return None
    out = fmt % s['median']
    if s['n'] > 1:
        out += ' [%s–%s]' % (fmt % s['min'], fmt % s['max'])
    return out


def fmt_ratio(m):
    r = m.get('ratio')
    if not r:
        return None
    out = '%.2fx' % r['median']
    if r['n'] > 1:
        out += ' [%.2f–%.2f]' % (r['min'], r['max'])
    return out


def pair_table(p):
    """Markdown lines of one pair."""
    a, b = p['a'], p['b']
    sa, sb = p['sides'][a], p['sides'][b]
    an = anchor_of(b) or anchor_of(a)
    lines = ['### `%s` vs `%s`%s' % (a, b, ' (upstream QEMU %s as released)'
                                     % an['version'] if an else ''), '']
    for n, s in ((a, sa), (b, sb)):
        if s['status'] != 'ok':
            lines.append('- `%s`: %s' % (n, one_line(s['status'], 300)))
        lines += notes(n, s['info'])
    if 'metrics' not in p:
        return lines + ['', 'Not compared: a side did not start.', '']
    if lines[-1]:
        lines.append('')
    lines += ['| metric | unit | %s | %s | %s/%s per round | verdict |'
              % (a, b, a, b), '|---|---|---|---|---|---|']
    for key, label, unit, better, fmt in METRICS:
        m = p['metrics'][key]
        ca = fmt_side(m['a'], fmt) or 'n/a: ' + sa['why'].get(key, 'not measured')
        cb = fmt_side(m['b'], fmt) or 'n/a: ' + sb['why'].get(key, 'not measured')
        if ca.startswith('n/a: not run') and cb.startswith('n/a: not run'):
            continue        # a step left out
        lines.append('| %s | %s%s | %s | %s | %s | %s |' % (
            label, unit, '' if better == 'hi' else ', lower is better',
            ca, cb, fmt_ratio(m) or 'n/a', m['verdict'] or 'n/a'))
    return lines + ['']


def pair_steps(only):
    """The steps a pair runs: UDP only when asked for (its offered rate is
    the same for every backend, so the ratio says little)."""
    if only:
        return [s for s in STEPS if s in only]
    return [s for s in STEPS if s != 'udp']


def metric_label(key):
    return METRIC[key][1].strip()
