#!/usr/bin/env python3
"""A passt whose restart failed: upstream forgets neither the pid of the
passt that went away nor stops signalling it.  netdev_del then sends
SIGTERM to that pid, which by then may be another process's.  11.1
checks for pid 0, not for this.  Fixed by the series' patch 3 (its
second hunk).

path= is a stand-in that runs passt the first time and exits 1 after;
strace (-f: the sid wrapper's bwrap forks QEMU) records QEMU's kill()s.
"""
import os
import shutil
import signal
import time

import common
from verdict import cannot_run, not_reproduced, reproduced

common.setup()
if not shutil.which('strace'):
    cannot_run('no strace')
log = os.path.join(os.environ.get('TMPDIR', '/tmp'),
                   f'stale-pid-{os.getpid()}.strace')
try:
    q = common.Qemu(wrap=('strace', '-f', '-o', log, '-e', 'trace=kill',
                          '-e', 'signal=none'))
    if q.qemu_pid == q.pid:
        cannot_run('no QEMU process found under strace')
    runs = os.path.join(q.tmp, 'runs')
    once = q.stand_in('passt-once', f"""
echo run >> '{runs}'
[ "$(wc -l < '{runs}')" -eq 1 ] || exit 1
exec '{common.PASST}' "$@"
""")
    print(f'netdev_add path=<passt the first time, then exit 1>: '
          f'{q.netdev_add(path=once)}')
    pid = q.wait_passt()
    if not pid:
        cannot_run('no passt started')
    os.kill(pid, signal.SIGKILL)
    print(f'killed passt (pid {pid}) with SIGKILL')
    time.sleep(2)
    down = q.went_down(0.1)
    if down:
        cannot_run(f'QEMU went down after the failed restart: {down}')
    print(f"netdev_del: {q.try_cmd('netdev_del', {'id': 'n0'})}")
    time.sleep(1)
    with open(log) as f:
        lines = f.readlines()
finally:
    if os.path.exists(log):
        os.unlink(log)
kills = [' '.join(line.split()[1:]) for line in lines
         if line.split()[:1] == [str(q.qemu_pid)] and
         f'kill({pid}, SIGTERM)' in line]
print(f"QEMU's kill()s of passt's pid {pid}: {kills or 'none'}")
# the first is the restart's, of a passt that was still ours
stale = kills[1:]
if stale:
    reproduced('netdev_del signalled the pid of a passt that was gone: '
               + '; '.join(stale))
not_reproduced()
