"""Which binaries the bench runs, and where it writes.

"Ours" is the series' build that SERIES names (default for the bench:
upstream; $QEMU overrides it); the anchor is upstream QEMU 10.2 as
released ($QEMU_UPSTREAM, built by scripts/build-upstream-unmodified.sh).
Imported before hostlib/guestlib: guestlib reads $QEMU when it is
imported, and its accelerator probe and default guests must run ours.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, '..'))
BUILD = os.path.abspath(os.environ.get('BUILD', os.path.join(TOP, 'build')))
RESULTS = os.path.join(HERE, 'results')
UPSTREAM_RESULTS = os.path.join(RESULTS, 'upstream')

# Makefile exports SERIES empty when it is unset
SERIES = os.environ.get('SERIES') or 'upstream'
SERIES_BUILDS = {'upstream': 'qemu-upstream-build', '10.0': 'qemu-build'}
if SERIES not in SERIES_BUILDS:
    raise SystemExit('bench: SERIES=%s: no such series (have: %s)'
                     % (SERIES, ', '.join(SERIES_BUILDS)))
QEMU = os.path.abspath(os.environ.get('QEMU') or os.path.join(
    BUILD, SERIES_BUILDS[SERIES], 'qemu-system-x86_64'))
os.environ['QEMU'] = QEMU
QEMU_UPSTREAM = os.path.abspath(os.environ.get('QEMU_UPSTREAM') or os.path.join(
    BUILD, 'qemu-upstream-unmodified-build', 'qemu-system-x86_64'))

# after bench/ (sys.path[0] when run.py runs): tests/guest has a run.py too
sys.path[1:1] = [os.path.join(TOP, 'tests', 'guest'), os.path.join(TOP, 'guest')]


def log(msg):
    print('bench: ' + msg, file=sys.stderr, flush=True)
