#!/usr/bin/env python3
"""Side-by-side benchmark of QEMU network backends for the test guest.

    python3 bench/run.py                  # blocks of our backends, then the
                                          # interleaved pairs against upstream
                                          # QEMU 11.1 (the first anchor)
    python3 bench/run.py --quick          # ours and 11.1's, 1 run x 2 s (smoke test)
    python3 bench/run.py --backends passt,user --runs 5 --seconds 10
    python3 bench/run.py --pairs upstream # the interleaved pairs only
    python3 bench/run.py --pairs upstream-10.2    # ... against QEMU 10.2
    python3 bench/run.py --pairs passt:user --rounds 7
    python3 bench/run.py --only stall     # main-loop stall only, ours and 11.1's
    python3 bench/run.py --only recovery,migration   # passt killed, live migration

Boots the test guest (guest/build-guest.sh) on each backend, with the same
kernel, initramfs, machine and accelerator for every backend, and measures:
TCP throughput both ways (guest-initiated to a server on host loopback, and
host-initiated through a port forward), 1-byte TCP request/response
transactions per second, UDP received rate and loss at a fixed offered
rate, start-up time of a hot-plugged netdev to its first answered frame,
memory per netdev, CPU seconds per transferred GB and syscalls per MB and
per request/response of QEMU and passt; and, ours against upstream
QEMU as released in rounds of their own: the main-loop stall of
operations on a passt netdev (stall.py, without a guest), how soon the
guest's network comes back when passt is killed (recovery.py), and what
a guest TCP connection sees across a live migration (migration.py).

Two modes. Blocks (--backends): one backend after the other, absolute
figures and ratios to `user`. Pairs (--pairs A:B): both guests up, every
metric on A and on B back to back, round after round, the order
alternating; ratios A/B round by round, so that the machine's drift does
not pass for a difference (paired.py). Targets are judged on the pairs.

Writes bench/results/latest.md, latest.json and throughput.png (blocks),
bench/results/upstream/latest.md and latest.json (pairs against an
anchor, upstream QEMU as released; other pairs: bench/results/pairs/),
prints the tables and the targets as PASS/MISS/NOISE lines. A benchmark,
not a test: the exit status is 0 whether targets are met or not (non-zero
only for a harness error such as a missing QEMU).

Only host loopback and network namespaces of its own (tap backend) are
ever addressed. Needs root (network namespace, tap device).
Environment: SERIES (upstream, the default, or 10.0: whose build is
"ours"), QEMU (overrides it), QEMU_SID and QEMU_UPSTREAM (the anchors'
binaries, config.ANCHORS), PASST, GUEST_ACCEL (kvm|tcg).
"""

import argparse
import datetime
import os
import shutil
import signal
import sys
import time

import config                       # first: sets $QEMU for guestlib
from config import ANCHOR, ANCHORS, QEMU, RESULTS, log
from backends import BY_NAME, OWN, OWN_TABLES, PAIR_SETS, STEPS, anchor_of
from guestlib import GuestError, ensure_built, probe_accel
from host import machine_info, qemu_version, wait_qemu
from measure import Unavailable, start
from results import result
from meters import SyscallMeter
import migration
import paired
import recovery
import report
import stall


def options():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog='Backends: ' + ', '.join(BY_NAME))
    p.add_argument('--quick', action='store_true',
                   help='blocks of every backend, 1 run x 2 s each, no pairs '
                   '(with --pairs: 2 rounds x 2 s)')
    p.add_argument('--runs', type=int, default=3, help='block mode: runs per metric')
    p.add_argument('--seconds', type=int, default=5, help='seconds per run')
    p.add_argument('--backends',
                   help='block mode, comma-separated (default: %s; with '
                   '--quick: these and the first anchor\'s)' % ','.join(OWN))
    p.add_argument('--pairs',
                   help='interleaved pairs A:B[,C:D...] and names of '
                   'pairs: "upstream": %s; "upstream-KEY" (KEY: %s): the '
                   'same against that anchor; "upstream-all": against every '
                   'anchor; "none": no pairs (default: upstream, unless '
                   '--backends or --quick is given)'
                   % (','.join('%s:%s' % ab for ab in PAIR_SETS['upstream']),
                      ', '.join(a['key'] for a in ANCHORS)))
    p.add_argument('--rounds', type=int,
                   help='pairs: rounds per metric (default 5; --quick: 2)')
    p.add_argument('--only', default='',
                   help='comma-separated subset of %s (pairs run UDP only '
                   'when asked for; %s: ours and the anchors of --pairs in '
                   'rounds of their own, by default with the pairs)'
                   % (','.join(STEPS), ', '.join(OWN_TABLES)))
    p.add_argument('--udp-rate', default='100M', help='iperf3 -b (default 100M)')
    p.add_argument('--udp-len', type=int, default=1400,
                   help='UDP datagram size (default 1400: fits every MTU)')
    p.add_argument('--out', default=RESULTS, help='results directory')
    p.add_argument('--accel', help='kvm or tcg (default: guestlib probe)')
    p.add_argument('--no-syscalls', action='store_true',
                   help='do not count syscalls with perf')
    o = p.parse_args()
    o.full = not (o.quick or o.only or o.backends or o.pairs) and \
        os.path.abspath(o.out) == RESULTS
    if o.quick:
        o.runs, o.seconds = 1, 2
    if o.rounds is None:
        o.rounds = 2 if o.quick else 5
    o.only = [x for x in o.only.split(',') if x]
    for x in o.only:
        if x not in STEPS:
            p.error('--only: unknown step %r (have: %s)' % (x, ', '.join(STEPS)))
    if o.backends is None:
        # --quick: ours and the first anchor's, not every anchor's
        o.names = [] if o.pairs else [
            n for n in BY_NAME if anchor_of(n) in (None, ANCHOR)
        ] if o.quick else list(OWN)
    else:
        o.names = [n.strip() for n in o.backends.split(',') if n.strip()]
    for n in o.names:
        if n not in BY_NAME:
            p.error('unknown backend %r (have: %s)' % (n, ', '.join(BY_NAME)))
    if o.pairs is None:
        o.pairs = 'none' if o.backends is not None or o.quick else 'upstream'
    try:
        o.pair_list = paired.parse_pairs(o.pairs, PAIR_SETS)
    except ValueError as e:
        p.error('--pairs: %s' % e)
    # the steps with tables of their own (stall.py, recovery.py,
    # migration.py): with pairs against an anchor, or asked for; against
    # the anchors of the pairs
    o.anchors = [a for a in ANCHORS if any(
        anchor_of(n) == a for ab in o.pair_list for n in ab)]
    o.own = [s for s in OWN_TABLES if s in o.only or
             (not o.only and bool(o.anchors))]
    if o.only and all(s in OWN_TABLES for s in o.only):
        o.pair_list, o.names = [], []   # no blocks, no pairs
    if o.rounds < 1 or o.runs < 1 or o.seconds < 1:
        p.error('--rounds, --runs and --seconds are at least 1')
    return p, o


def run_blocks(o, accel):
    results = {}
    for n in o.names:
        be = BY_NAME[n]
        log('=== %s: %s' % (n, be['desc']))
        br, status = None, 'ok'
        t = time.monotonic()
        try:
            br = start(be, o, accel)
            br.run()
        except Unavailable as e:
            status = 'not available: %s' % e
        except GuestError as e:
            status = 'error: %s' % str(e).splitlines()[0]
        except Exception as e:      # noqa: BLE001
            status = 'error: %s: %s' % (type(e).__name__, e)
        log('%s: %s (%.0f s)' % (n, status, time.monotonic() - t))
        results[n] = result(br, status)
    return results


def check_version(anchor):
    """The reports name an anchor by the version config.ANCHORS gives:
    say so when its binary is another release (sid moved on, $QEMU_SID)."""
    v = qemu_version(anchor['qemu'])
    if ('version %s ' % anchor['version']) not in v + ' ':
        log('warning: %s says %r, not %s as config.ANCHORS has it: the '
            'reports call it %s' % (anchor['qemu'], v, anchor['version'],
                                    anchor['version']))


def main():
    p, o = options()
    SyscallMeter.enabled = not o.no_syscalls
    if os.geteuid() != 0:
        log('warning: not root: the tap backend will fail')
    for tool in ('iperf3', 'ip', 'setsid'):
        if not shutil.which(tool):
            p.error('%s not found (apt-get install iperf3 iproute2 util-linux)'
                    % tool)
    used = set(o.names) | {n for ab in o.pair_list for n in ab}
    if o.own or any(not anchor_of(n) for n in used):
        wait_qemu(QEMU)
    anchors = [a for a in ANCHORS if any(anchor_of(n) == a for n in used)
               or (o.own and a in o.anchors)]
    for a in anchors:
        # a missing one: its backends say so, the rest runs
        if os.access(a['qemu'], os.X_OK):
            wait_qemu(a['qemu'])
            check_version(a)
    accel = None                    # no guest: the stall alone
    if used or set(o.own) - {'stall'}:
        ensure_built()
        accel = o.accel or probe_accel()
    meta = {'date': datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
            'machine': machine_info(QEMU, anchors),
            'accel': accel, 'mem': '256M', 'series': config.SERIES,
            'runs': o.runs, 'seconds': o.seconds, 'rounds': o.rounds,
            'udp_rate': o.udp_rate, 'udp_len': o.udp_len,
            'backends': o.names, 'pairs': ['%s:%s' % ab for ab in o.pair_list],
            'only': o.only, 'own': o.own, 'sides': ['ours'] + ['upstream-' + a['key']
                                               for a in o.anchors],
            'argv': sys.argv[1:]}
    log('%s, %s cores, accel %s; blocks: %s (%d x %d s); pairs: %s (%d rounds); '
        '%s: %s' % (meta['machine']['cpu'], meta['machine']['cores'], accel,
                    ','.join(o.names) or '-', o.runs, o.seconds,
                    ','.join(meta['pairs']) or '-', o.rounds,
                    ','.join(o.own) or '-', ','.join(meta['sides'])))

    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)

    blocks = run_blocks(o, accel)
    pairs = [paired.run_pair(a, b, o, accel) for a, b in o.pair_list]
    own = {}
    if 'stall' in o.own:
        own['stall'] = stall.run(o.anchors, o.rounds)
    if 'recovery' in o.own:
        own['recovery'] = recovery.run(o.anchors, o.rounds, accel)
    if 'migration' in o.own:
        own['migration'] = migration.run(o.anchors, o.rounds, accel)
    print(report.write_results(o.out, meta, blocks, o.names, pairs, o.full, own))
    return 0


if __name__ == '__main__':
    sys.exit(main())
