#!/usr/bin/python3
"""Throughput per backend as a PNG, from bench/run.py's JSON.

    /usr/bin/python3 bench/plot.py [bench/results/latest.json [out.png]]

Needs matplotlib (Debian: python3-matplotlib, for /usr/bin/python3).
"""

import json
import os
import sys

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = ['tcp_g2h', 'tcp_h2g', 'tcp_h2g_fwd', 'tcp_g2h_fwd',
        'udp_g2h_rate', 'udp_h2g_rate']
LABELS = ['TCP guest→host\n(guest connects\nto host loopback)',
          'TCP host→guest\n(guest connects,\niperf3 -R)',
          'TCP host→guest\n(host connects\nvia port forward)',
          'TCP guest→host\n(port forward,\niperf3 -R)',
          'UDP guest→host\nreceived',
          'UDP host→guest\nreceived (fwd)']


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, 'results', 'latest.json')
    dst = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, 'results', 'throughput.png')
    with open(src) as f:
        data = json.load(f)
    meta, bes = data['meta'], data['backends']
    avail = [n for n in meta['backends'] if bes.get(n, {}).get('status') == 'ok']
    skipped = [n for n in meta['backends'] if n not in avail]
    if not avail:
        print('plot: no backend measured', file=sys.stderr)
        return 1
    fig, ax = plt.subplots(figsize=(12, 6))
    width = 0.8 / len(avail)
    top = 0
    for bi, n in enumerate(avail):
        xs, ys, lo, hi = [], [], [], []
        for ki, k in enumerate(KEYS):
            s = bes[n]['summary'].get(k)
            if not s:
                continue
            xs.append(ki + (bi - (len(avail) - 1) / 2) * width)
            ys.append(s['median'])
            lo.append(s['median'] - s['min'])
            hi.append(s['max'] - s['median'])
            top = max(top, s['max'])
        ax.bar(xs, ys, width * 0.95, yerr=[lo, hi], capsize=3, label=n,
               error_kw={'elinewidth': 1, 'alpha': 0.7})
        for x, y, h in zip(xs, ys, hi):
            ax.text(x, y + h + top * 0.01, '%.0f' % y, ha='center', va='bottom',
                    fontsize=7, rotation=90)
    ax.axvline(3.5, color='grey', lw=0.8, ls=':')
    ax.set_ylim(0, top * 1.18)
    ax.set_xticks(range(len(KEYS)))
    ax.set_xticklabels(LABELS, fontsize=8.5)
    ax.set_ylabel('Mbit/s  (bar: median, whiskers: min–max)')
    title = ('Throughput per backend — accel %s, %s, %d core(s), %d run(s) × %d s, '
             'UDP offered %s, %s'
             % (meta['accel'].upper(), meta['machine']['cpu'], meta['machine']['cores'],
                meta['runs'], meta['seconds'], meta['udp_rate'], meta['date'][:10]))
    ax.set_title(title, fontsize=9.5)
    if skipped:
        ax.text(0.99, 0.97, 'not measured: ' + ', '.join(skipped),
                transform=ax.transAxes, ha='right', va='top', fontsize=8,
                color='grey')
    ax.legend(loc='upper left', fontsize=9)
    ax.grid(axis='y', alpha=0.3)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)
    plt.close(fig)
    print('plot: %s' % dst, file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
