"""Which binaries the bench runs, and where it writes.

"Ours" is the series' build that SERIES names (default for the bench:
upstream; $QEMU overrides it). The anchors are upstream QEMU releases as
released, which ours is measured against: ANCHORS, newest first; the
first is the one `make bench` pairs ours with (backends.py makes the
upstream-<key>-* backends of each).
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

# Makefile exports SERIES and UPTO empty when they are unset
SERIES = os.environ.get('SERIES') or 'upstream'
SERIES_BUILDS = {'upstream': 'qemu-upstream-build', '10.0': 'qemu-build'}
if SERIES not in SERIES_BUILDS:
    raise SystemExit('bench: SERIES=%s: no such series (have: %s)'
                     % (SERIES, ', '.join(SERIES_BUILDS)))
# UPTO: the upstream stack up to that series (scripts/config.sh's build)
UPTO = os.environ.get('UPTO') or ''
OUR_BUILD = (SERIES_BUILDS[SERIES] if not UPTO else
             'qemu-upstream-upto-%s-build' % UPTO)
QEMU = os.path.abspath(os.environ.get('QEMU') or os.path.join(
    BUILD, OUR_BUILD, 'qemu-system-x86_64'))
os.environ['QEMU'] = QEMU


def _binary(env, path):
    return os.path.abspath(os.environ.get(env) or os.path.join(BUILD, path))


# key: the release series, in backend names (upstream-11.1-passt) and in
# --pairs upstream-11.1; version: what the reports call it (run.py warns
# when the binary says otherwise); qemu: the binary, which an environment
# variable overrides; source: what the binary is, for the reports;
# made_by: what makes it, for a missing one. Sid's QEMU runs under bwrap,
# so the pid the bench starts is not QEMU's (meters.qemu_process).
ANCHORS = [
    dict(key='11.1', version='11.1.3',
         qemu=_binary('QEMU_SID', 'qemu-sid/bin/qemu-system-x86_64'),
         source="Debian sid's build, run in build/sid-root by bubblewrap",
         made_by='scripts/sid-root.sh, or make sid'),
    dict(key='10.2', version='10.2.2',
         qemu=_binary('QEMU_UPSTREAM',
                      'qemu-upstream-unmodified-build/qemu-system-x86_64'),
         source='built from the release tarball',
         made_by='scripts/build-upstream-unmodified.sh'),
]
ANCHOR = ANCHORS[0]
ANCHOR_BY_KEY = {a['key']: a for a in ANCHORS}

# after bench/ (sys.path[0] when run.py runs): tests/guest has a run.py too
sys.path[1:1] = [os.path.join(TOP, 'tests', 'guest'), os.path.join(TOP, 'guest')]


def log(msg):
    print('bench: ' + msg, file=sys.stderr, flush=True)
