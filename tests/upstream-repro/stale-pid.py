#!/usr/bin/env python3
"""A passt whose restart failed: upstream keeps the pid of the passt that
went away, and netdev_del sends SIGTERM to it, which by then may be
another process's.  11.1 checks for pid 0, not for this.  Fixed by
2-passt-fixes/3 (its second hunk).

path= is a stand-in that runs passt the first time and exits 1 after;
strace (-f: the sid wrapper's bwrap forks QEMU) records QEMU's kill()s.
"""
import time

import common
from verdict import cannot_run, not_reproduced, reproduced

common.setup()
q = common.Qemu(strace=('-e', 'trace=kill', '-e', 'signal=none'))
pid = q.kill_passt_restart_fails()
time.sleep(2)
down = q.went_down(0.1)
if down:
    cannot_run(f'QEMU went down after the failed restart: {down}')
print(f"netdev_del: {q.try_cmd('netdev_del', {'id': 'n0'})}")
time.sleep(1)
kills = [call for call in q.strace_lines()
         if call.startswith(f'kill({pid}, SIGTERM)')]
print(f"QEMU's kill()s of passt's pid {pid}: {kills or 'none'}")
# the first is the restart's, of a passt that was still ours
stale = kills[1:]
if stale:
    reproduced('netdev_del signalled the pid of a passt that was gone: '
               + '; '.join(stale))
not_reproduced()
