#!/usr/bin/env python3
"""Does our -netdev passt take what the newest upstream QEMU takes, and
give passt the same arguments for it?

  (a) every member of upstream's -netdev passt (from its query-qmp-schema)
      is a member of ours with the same shape; ours may have more;
  (b) every row of cases.py gives passt the same arguments from both
      QEMUs, QEMU's plumbing aside (passtargs.py), or differs only as an
      entry of allowlist.py explains.

TAP on stdout; the table as '#' lines after it, and in --table FILE.
Run through run.sh, which sets the binaries.
"""

import argparse
import atexit
import concurrent.futures
import os
import shutil
import signal
import sys
import tempfile

import cases
import procs
import report
import schema
import side
import verdict
from allowlist import FIXES

def _args():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--upstream', required=True, help='the anchor QEMU')
    p.add_argument('--ours', required=True, help='the QEMU checked')
    p.add_argument('--passt', required=True, help='the passt both run')
    p.add_argument('--series', choices=sorted(FIXES), default='upstream',
                   help="whose allowlist applies (default: upstream)")
    p.add_argument('--table', help='also write the table to this file')
    p.add_argument('--jobs', type=int, default=6,
                   help='rows run side by side (default 6)')
    p.add_argument('--port-base', type=int, default=27000,
                   help='first TCP/UDP port the rows forward (default 27000)')
    p.add_argument('--timeout', type=int, default=150,
                   help='seconds before the whole run gives up')
    return p.parse_args()


class Run:
    """The run's directory under /tmp (the sandboxed upstream QEMU sees
    /tmp, not TMPDIR wherever it points), and its cleanup on every exit."""

    def __init__(self):
        self.root = self.path = tempfile.mkdtemp(prefix='upstream-interface.',
                                                 dir='/tmp')
        atexit.register(self.close)
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, lambda *_: sys.exit(2))   # atexit still runs
        self.left = None

    def close(self):
        if self.root is None:
            return
        self.left = procs.end(self.root)
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None


def _members(tap, run, binary, name):
    """The passt members of @binary's schema, or None (said as TAP)."""
    found, version = side.schema(binary, os.path.join(run.root,
                                                      f'schema-{name}'))
    tap.comment(f'{name}: QEMU {version}, {binary}')
    try:
        return schema.passt_members(found)
    except LookupError as e:
        tap.result(False, f'schema: {name}: {e}')
        return None


def check_schema(tap, run, opts):
    """Part (a); False when a QEMU has no passt backend at all."""
    up = _members(tap, run, opts.upstream, 'upstream')
    ours = _members(tap, run, opts.ours, 'ours')
    if up is None or ours is None:
        return False
    results, only_ours = schema.compare(up, ours)
    for name, problem, want in results:
        tap.result(problem is None,
                   f"schema: '{name}' ({want})" +
                   (f': {problem}' if problem else ''))
    tap.result(True, 'schema: ours only (fine): ' + (', '.join(only_ours) or
                                                     'none'))
    return True


def run_row(run, opts, row):
    # the two sides one after the other: they forward the same ports
    up = side.run(opts.upstream, opts.passt,
                  os.path.join(run.root, f'r{row.number:02d}-upstream'), row)
    ours = side.run(opts.ours, opts.passt,
                    os.path.join(run.root, f'r{row.number:02d}-ours'), row)
    return row, up, ours, verdict.judge(row, up, ours, opts.series)


def check_rows(tap, run, opts):
    rows = cases.rows(opts.port_base)
    pool = concurrent.futures.ThreadPoolExecutor(opts.jobs)
    try:
        futures = [pool.submit(run_row, run, opts, r) for r in rows]
        results = [f.result() for f in futures]
    finally:
        # on a signal or the alarm: no new row starts, and the running
        # ones (each bounded) end their processes before the final sweep
        pool.shutdown(wait=True, cancel_futures=True)
    for row, up, ours, v in results:
        diag = [] if v.ok else [f'covers: {row.covers}',
                                f'upstream: {report.side(row, up)}',
                                f'ours:     {report.side(row, ours)}']
        tap.result(v.ok, f'argv {row.number}: {row.label()}: {v.text}', diag)
    return results


def main():
    opts = _args()
    signal.alarm(opts.timeout)
    signal.signal(signal.SIGALRM, lambda *_: sys.exit(
        print(f'Bail out! gave up after {opts.timeout} s') or 2))
    tap = report.Tap(sys.stdout)
    tap.comment(f'allowlist of the {opts.series} series; both QEMUs run '
                f'passt {opts.passt}')
    run = Run()
    results = check_rows(tap, run, opts) if check_schema(tap, run, opts) \
        else []
    run.close()
    if results:
        probes = verdict.judge_probes(results, opts.series)
        tap.result(probes.ok, probes.text)
    else:
        probes = verdict.Verdict(True, '', [])
    tap.result(not run.left and not os.path.exists(run.path),
               'nothing left behind: no QEMU or passt of this run, and its '
               'directory removed' +
               (f' (still there: pids {run.left})' if run.left else ''))
    tap.plan()

    used = {k for *_, v in results for k in v.fixes} | set(probes.fixes)
    tap.comment('')
    tap.comment('QEMU plumbing set aside: upstream: ' +
                report.plumbing((r[0], r[1]) for r in results) + '; ours: ' +
                report.plumbing((r[0], r[2]) for r in results))
    for fix in FIXES[opts.series]:
        if fix.key in used:
            tap.comment(f'allowed, {fix.key}: {fix.reason}')
    text = report.table(results)
    tap.comment('')
    tap.comment(text)
    if opts.table:
        with open(opts.table, 'w') as f:
            f.write(text + '\n')
    return 1 if tap.failed else 0


if __name__ == '__main__':
    sys.exit(main())
