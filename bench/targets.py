"""The issue's targets, printed as PASS / MISS / NOISE / SKIP lines (never
asserted: the bench is not a test).

A target between two backends is judged on their interleaved pair where
one was run (--pairs): PASS when every round's ratio meets it, MISS when
none does, NOISE (within noise) when the rounds' ratios straddle it or
lie within 1% of it (paired.within_noise).
Without a pair it falls back to the ratio of the block medians, and says
so: those ratios carry whatever the machine did between the blocks.
"""

from backends import ANCHOR_PAIRS, METRIC, STEP_OF, TCP_KEYS, anchor_of
from config import ANCHOR
from paired import within_noise

# What QEMU spends: at most upstream's, in both modes
QEMU_COST = ['qemu_sc_tps', 'qemu_sc_mb_g2h', 'qemu_sc_mb_h2g',
             'qemu_cpu_gb', 'qemu_io_cpu_gb']
STARTUP_MS = 50

# label, A, B, metrics, op, A/B wanted, whether within noise meets it
SPECS = [
    ('passt >= 4x user', 'passt', 'user', TCP_KEYS, '>=', 4, False),
    ('passt >= 0.97x stream', 'passt', 'stream', TCP_KEYS, '>=', 0.97, False),
    ('vhost-user >= 3x passt', 'passt-vhost-user', 'passt', TCP_KEYS, '>=', 3, False),
    ('passt TPS >= 1.5x user', 'passt', 'user', ['tps'], '>=', 1.5, False),
]
# against each anchor, judged where it ran (evaluate)
for _a, _b in [ab for pairs in ANCHOR_PAIRS.values() for ab in pairs]:
    _v = anchor_of(_b)['version']
    SPECS += [('%s >= upstream %s' % (_a, _v), _a, _b, TCP_KEYS + ['tps'],
               '>=', 1.0, True),
              ('%s QEMU cost <= upstream %s' % (_a, _v), _a, _b, QEMU_COST,
               '<=', 1.0, False),
              # a difference smaller than the spread is no difference: the
              # medians of two runs of the same code swap places
              ('%s start-up <= upstream %s' % (_a, _v), _a, _b, ['startup_ms'],
               '<=', 1.0, True)]


def unit(key):
    u = METRIC[key][2]
    return '' if u == '1' else u


def block_median(blocks, name, key):
    r = blocks.get(name)
    if not r or r['status'] != 'ok':
        return None
    s = r['summary'].get(key)
    return s['median'] if s else None


def from_pair(label, p, key, op, want, noise_ok):
    a, b = p['a'], p['b']
    m = p['metrics'][key]
    r = m['ratio']
    what = '%s: %s: %s/%s' % (label, METRIC[key][1].strip(), a, b)
    if not r:
        why = [p['sides'][n]['why'].get(key) for n in (a, b)]
        return ('SKIP', '%s not measured (%s)' % (
            what, '; '.join('%s: %s' % (n, w) for n, w in zip((a, b), why) if w)
            or 'no round with both'))
    if r['n'] < 2:
        return ('SKIP', '%s = %.2fx in 1 round: no spread to judge the noise '
                'by (--rounds 2 or more)' % (what, r['median']))
    lo, hi = r['min'], r['max']
    if within_noise(lo, hi, want):
        tag = 'NOISE'
    else:
        tag = 'PASS' if (lo > want) == (op == '>=') else 'MISS'
    fmt = METRIC[key][4]
    text = ('%s = %.2fx [%.2f–%.2f] over %d interleaved rounds (want %s %gx%s; '
            'medians %s vs %s%s)' % (
                what, r['median'], lo, hi, r['n'], op, want,
                ', or within noise' if noise_ok else '',
                fmt % m['a']['median'], fmt % m['b']['median'], (' ' + unit(key)).rstrip()))
    if tag == 'NOISE':
        text += (': within noise, meets the target' if noise_ok else
                 ': within noise, not established')
    return tag, text


def from_blocks(label, blocks, a, b, key, op, want):
    va, vb = block_median(blocks, a, key), block_median(blocks, b, key)
    what = '%s: %s' % (label, METRIC[key][1].strip())
    if va is None or vb is None or not vb:
        return ('SKIP', '%s (%s vs %s not measured)' % (what, a, b))
    r = va / vb
    ok = r >= want if op == '>=' else r <= want
    return ('PASS' if ok else 'MISS',
            '%s: %s/%s = %.2fx (want %s %gx; %s vs %s%s; block medians, '
            'not interleaved)' % (what, a, b, r, op, want, METRIC[key][4] % va,
                                  METRIC[key][4] % vb, (' ' + unit(key)).rstrip()))


def evaluate(blocks, pairs, only_pairs=False, only=()):
    """[(tag, text)]. blocks: {name: block result}; pairs: pair results.
    only_pairs: just the targets of the pairs that ran; only: the steps
    of --only, whose metrics alone have targets (none: every step)."""
    paired = {(p['a'], p['b']): p for p in pairs if 'metrics' in p}
    ran = set(blocks) | {n for p in pairs for n in (p['a'], p['b'])}
    out = []
    for label, a, b, keys, op, want, noise_ok in SPECS:
        p = paired.get((a, b))
        if only_pairs and not p:
            continue
        if anchor_of(b) not in (None, ANCHOR) and b not in ran:
            continue        # a second anchor not asked for: no SKIP lines
        for k in keys:
            if only and STEP_OF.get(k) not in only:
                continue    # not asked for: no SKIP lines
            out.append(from_pair(label, p, k, op, want, noise_ok) if p else
                       from_blocks(label, blocks, a, b, k, op, want))
    s = block_median(blocks, 'passt', 'startup_ms')
    src = 'block'
    for p in paired.values():
        if s is None and p['a'] == 'passt' and p['metrics']['startup_ms']['a']:
            s, src = p['metrics']['startup_ms']['a']['median'], 'pair'
            ready = p['metrics']['ready_ms']['a']
            answer = p['metrics']['answer_ms']['a']
    if s is None:
        if not only_pairs and (not only or 'startup' in only):
            out.append(('SKIP', 'passt start-up < %d ms: not measured' % STARTUP_MS))
        return out
    if src == 'block':
        ready = blocks['passt']['summary'].get('ready_ms')
        answer = blocks['passt']['summary'].get('answer_ms')
    out.append(('PASS' if s < STARTUP_MS else 'MISS',
                'passt start-up < %d ms: %.1f ms to first answered frame '
                '(ready %.1f + answer %.2f); %.2fx the %d ms budget'
                % (STARTUP_MS, s, ready['median'] if ready else 0,
                   answer['median'] if answer else 0, s / STARTUP_MS,
                   STARTUP_MS)))
    return out


def lines(tl):
    return ''.join('    %-5s %s\n' % t for t in tl)
