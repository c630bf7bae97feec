"""The stand-in for passt that each QEMU runs as path=.

It logs its arguments and then becomes the real passt, so that the netdev
starts (or fails) as it would with passt itself; a passt that refuses its
options is still logged, since the log is written before the exec.

Sandboxed QEMU (the sid wrapper) sees /tmp and /work/main only, hence the
stand-in and its log under /tmp, and bash because sid's /bin/sh is dash,
whose exec has no -a.
"""

import os
import shlex

NAME = 'passt'     # passt picks its mode from argv[0]'s last component

SCRIPT = """#!/bin/bash
# Written by tests/upstream-interface: record argv, then run passt.
# One file a run, NUL-separated (any byte but NUL survives), named to sort
# by start time; renamed into place once whole, as a stand-in killed
# while writing must not leave a record of arguments it never had.
name={log}/"${{EPOCHREALTIME/[.,]/}}.$$"
# (printf repeats its format at least once: no arguments, no printf)
{{ [ $# -eq 0 ] || printf '%s\\0' "$@"; }} > "$name.part" &&
    mv -f "$name.part" "$name.argv" || :
# argv[0] stays this path: the cleanup finds every passt of a run by it
exec -a "$0" {passt} "$@"
"""


def install(directory, passt):
    """Write the stand-in into @directory; returns its path."""
    log = os.path.join(directory, 'log')
    os.mkdir(log)
    path = os.path.join(directory, NAME)
    with open(path, 'w') as f:
        f.write(SCRIPT.format(log=shlex.quote(log), passt=shlex.quote(passt)))
    os.chmod(path, 0o755)
    return path


def runs(directory):
    """The argument lists (argv[0] left out) of every run, oldest first."""
    log = os.path.join(directory, 'log')
    found = []
    for name in os.listdir(log):
        if not name.endswith('.argv'):
            continue
        stamp = int(name.split('.', 1)[0])
        with open(os.path.join(log, name), 'rb') as f:
            raw = f.read()
        # every argument ends in NUL, so the last piece is always empty
        args = [a.decode(errors='surrogateescape')
                for a in raw.split(b'\0')[:-1]]
        found.append((stamp, args))
    return [args for _, args in sorted(found)]
