"""Tables, results files, the plot and the README's copy of the table."""

import json
import os
import subprocess
import sys

from backends import (ANCHOR_PAIRS, BASELINE, BY_NAME, METRICS, anchor_of,
                      unit_label)
from config import ANCHORS, HERE, TOP, log
from results import notes, one_line
import migration
import paired
import recovery
import stall
import targets

# the steps with tables of their own: module, title
TABLES = {'stall': stall, 'recovery': recovery, 'migration': migration}
TITLES = {'stall': 'main-loop stall', 'recovery': 'recovery after passt is killed',
          'migration': 'TCP across a live migration'}


def header(meta, title):
    m = meta['machine']
    lines = ['# %s' % title, '',
             '- date: %s' % meta['date'],
             '- machine: %s, %d cores, kernel %s (load average at start %s)'
             % (m['cpu'], m['cores'], m['kernel'], ' '.join(m['loadavg'])),
             '- accelerator: %s (same guest kernel, initramfs, q35, %s RAM, '
             '1 vCPU for every backend)' % (meta['accel'], meta['mem'])
             if meta['accel'] else '- no guest: QEMU -M none',
             '- QEMU (ours, SERIES=%s): %s' % (m['series'], m['qemu'])]
    for a in ANCHORS:
        if a['key'] in m.get('qemu_anchors', {}):
            lines.append('- QEMU (the `upstream-%s-*` backends: upstream %s '
                         'as released, %s): %s' % (
                             a['key'], a['version'], a['source'],
                             m['qemu_anchors'][a['key']]))
    lines.append('- passt: %s' % m['passt'])
    return lines


def cell(summary, fmt, base, why):
    if not summary:
        return 'n/a: ' + (why or 'not measured')
    s = fmt % summary['median']
    if summary['n'] > 1:
        s += ' [%s–%s]' % (fmt % summary['min'], fmt % summary['max'])
    if base and base.get('median'):
        s += ' (%.2fx)' % (summary['median'] / base['median'])
    if summary.get('failed'):
        s += ' (%d run(s) failed)' % summary['failed']
    return s


def block_report(meta, results, names):
    lines = header(meta, 'passt benchmark') + [
        '- runs: %d x %d s per metric, one backend after the other; UDP '
        'offered %s, %d-byte datagrams' % (meta['runs'], meta['seconds'],
                                          meta['udp_rate'], meta['udp_len']),
        '- cells: median [min–max] (ratio to `%s`)' % BASELINE, '']
    avail = [n for n in names if results[n]['status'] == 'ok']
    lines.append('| metric | unit | ' + ' | '.join(avail) + ' |')
    lines.append('|---|---|' + '---|' * len(avail))
    for key, label, unit, better, fmt in METRICS:
        base = results.get(BASELINE, {}).get('summary', {}).get(key)
        cells = [cell(results[n]['summary'].get(key), fmt, base,
                      results[n]['why'].get(key)) for n in avail]
        if all(c.startswith('n/a: not run') for c in cells):
            continue
        lines.append('| %s | %s | %s |' % (label, unit_label(key),
                                            ' | '.join(cells)))
    lines.append('')
    for n in names:
        r = results[n]
        if r['status'] != 'ok':
            lines.append('- `%s`: %s' % (n, one_line(r['status'], 300)))
        lines += notes(n, r.get('info', {}))
    for a in ANCHORS:
        lines += against_anchor(results, a)
    lines += ['', 'Backends:']
    lines += ['- `%s`: %s' % (n, BY_NAME[n]['desc']) for n in names]
    return lines


def against_anchor(results, anchor):
    """Each metric of each mode, ours and the anchor's, and ours / the
    anchor's, from the block medians."""
    pairs = [(a, b) for a, b in ANCHOR_PAIRS[anchor['key']]
             if results.get(a, {}).get('status') == 'ok' and
             results.get(b, {}).get('status') == 'ok']
    if not pairs:
        return []
    lines = ['', 'Against upstream QEMU %s\'s unmodified backend, block '
             'medians (ratio: ours / upstream). Not interleaved: what the '
             'machine did between the blocks is in these ratios; the '
             'interleaved pairs (`--pairs`) are what targets are judged on.'
             % anchor['version'],
             '', '| metric | unit | ' + ' | '.join(
                 '%s | %s | ratio' % (a, b) for a, b in pairs) + ' |',
             '|---|---|' + '---|---|---|' * len(pairs)]
    for key, label, unit, better, fmt in METRICS:
        cells = []
        for a, b in pairs:
            sa = results[a]['summary'].get(key)
            sb = results[b]['summary'].get(key)
            va, vb = sa and sa['median'], sb and sb['median']
            cells += [fmt % va if va is not None else
                      'n/a: ' + results[a]['why'].get(key, 'not measured'),
                      fmt % vb if vb is not None else
                      'n/a: ' + results[b]['why'].get(key, 'not measured'),
                      '%.2fx' % (va / vb) if va is not None and vb else 'n/a']
        if all(c.startswith('n/a') for c in cells):
            continue
        lines.append('| %s | %s | %s |' % (label, unit_label(key),
                                            ' | '.join(cells)))
    return lines


def pairs_report(meta, pairs, title=None):
    lines = header(meta, title) if title else ['', '## Interleaved pairs']
    lines += [
        '- rounds: %d per metric, %d s each; in each round every metric runs '
        'on A and on B back to back, A first in odd rounds, B first in even '
        'ones' % (meta['rounds'], meta['seconds']),
        '- cells: A and B: median [min–max] of the rounds; A/B: median '
        '[min–max] of the per-round ratios; verdict: within noise when the '
        'ratios straddle 1.0 or all lie within 1%% of it, else better/worse '
        'as every round agrees (chance of all %d agreeing without a '
        'difference: %.0f%%)'
        % (meta['rounds'], 100 * 2.0 ** (1 - meta['rounds'])), '']
    for p in pairs:
        lines += paired.pair_table(p)
    return lines


def write_json(path, data):
    with open(path, 'w') as f:
        json.dump(data, f, indent=1, default=str)


def write_results(out, meta, blocks, names, pairs, full, own=None):
    """Write latest.md/json (blocks, and the pairs when both ran), the
    pairs' own latest.md/json, and for each step of own ({step: its
    module's run() results}: stall, recovery, migration) that step's
    latest.md/json in a directory of its own, which the others have too;
    returns the text printed on stdout."""
    printed = ''
    own = {k: v for k, v in (own or {}).items() if v}
    own_lines = {k: TABLES[k].report_lines(v) for k, v in own.items()}
    own_tl = {k: TABLES[k].targets(v) for k, v in own.items()}
    all_lines = [l for k in own for l in own_lines[k]]
    all_tl = [t for k in own for t in own_tl[k]]
    only = meta.get('only', ())
    tl = targets.evaluate(blocks, pairs, only=only) + all_tl
    if names:
        lines = block_report(meta, blocks, names)
        if pairs:
            lines += pairs_report(meta, pairs)
        report = '\n'.join(lines + all_lines) + '\n'
        report += '\nTargets (printed, not asserted):\n\n' + targets.lines(tl)
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, 'latest.md'), 'w') as f:
            f.write(report)
        write_json(os.path.join(out, 'latest.json'), dict({
            'meta': meta, 'targets': [list(t) for t in tl],
            'backends': {n: blocks[n] for n in names}, 'pairs': pairs}, **own))
        png = os.path.join(out, 'throughput.png')
        if plot(os.path.join(out, 'latest.json'), png):
            log('plot: %s' % png)
        log('written: %s/latest.md, latest.json' % out)
        printed += report
        if full and update_readme(report):
            log('README.md: table updated')
    if pairs:
        anchors = [a for a in ANCHORS if any(anchor_of(n) == a for p in pairs
                                             for n in (p['a'], p['b']))]
        pdir = os.path.join(out, 'upstream' if anchors else 'pairs')
        ptl = targets.evaluate(blocks, pairs, only_pairs=True, only=only) + all_tl
        report = '\n'.join(pairs_report(
            meta, pairs, 'passt backends, interleaved pairs' +
            (' against upstream QEMU %s as released' % ' and '.join(
                a['version'] for a in anchors) if anchors else '')) +
            all_lines) + '\n'
        report += '\nTargets (printed, not asserted):\n\n' + targets.lines(ptl)
        os.makedirs(pdir, exist_ok=True)
        with open(os.path.join(pdir, 'latest.md'), 'w') as f:
            f.write(report)
        write_json(os.path.join(pdir, 'latest.json'), dict({
            'meta': meta, 'targets': [list(t) for t in ptl], 'pairs': pairs},
            **own))
        log('written: %s/latest.md, latest.json' % pdir)
        if not names:
            printed += report
    for k, res in own.items():
        sdir = os.path.join(out, k)
        report = '\n'.join(header(meta, 'passt backends: ' + TITLES[k]) +
                           own_lines[k]) + '\n'
        report += ('\nTargets (printed, not asserted):\n\n' +
                   targets.lines(own_tl[k]))
        os.makedirs(sdir, exist_ok=True)
        with open(os.path.join(sdir, 'latest.md'), 'w') as f:
            f.write(report)
        write_json(os.path.join(sdir, 'latest.json'), {
            'meta': meta, 'targets': [list(t) for t in own_tl[k]], k: res})
        log('written: %s/latest.md, latest.json' % sdir)
        if not names and not pairs:
            printed += report
    return printed


def plot(json_path, png_path):
    """Draw the PNG with bench/plot.py, in an interpreter that has
    matplotlib (Debian's python3-matplotlib is for /usr/bin/python3)."""
    script = os.path.join(HERE, 'plot.py')
    for py in (sys.executable, '/usr/bin/python3'):
        if not os.path.exists(py):
            continue
        ok = subprocess.run([py, '-c', 'import matplotlib'],
                            capture_output=True).returncode == 0
        if ok:
            r = subprocess.run([py, script, json_path, png_path])
            return r.returncode == 0
    log('no matplotlib (apt-get install python3-matplotlib): no plot')
    return False


README = os.path.join(TOP, 'README.md')
README_BEGIN = '<!-- bench table: written by bench/run.py -->'
README_END = '<!-- end of bench table -->'


def update_readme(report, path=README):
    """Put the report (table, targets) between README's markers."""
    with open(path) as f:
        text = f.read()
    start, end = text.find(README_BEGIN), text.find(README_END)
    if start < 0 or end < start:
        log('%s: no bench table markers, not updated' % path)
        return False
    body = report.split('\n', 2)[2]        # without the '# title' line
    text = (text[:start + len(README_BEGIN)] + '\n' + body.rstrip('\n') +
            '\n\n![throughput per backend](bench/results/throughput.png)\n' +
            text[end:])
    with open(path, 'w') as f:
        f.write(text)
    return True
