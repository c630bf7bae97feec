#!/usr/bin/env python3
"""netdev_add and netdev_del of a passt netdev in a row (200 times or for
30 s), as fast as QEMU answers: upstream 10.2 "connects" to its end of the
socket pair in a thread, and a netdev_del before the completion leaves the
completion to run on the freed netdev: SIGSEGV.  Fixed by
2-passt-fixes/10.

path= is a stand-in that keeps its end of the socket pair open and ignores
SIGTERM: a passt that went away would close it, and on a QEMU without
2-passt-fixes/5 (uaf-netdev-del.py) that alone crashes QEMU after
netdev_del, hiding this race.  Like passt, it goes to the background and
writes its pid file, unless told --foreground (the series runs passt as
its child).
"""
import time

import common
from verdict import not_reproduced, reproduced

# A race: on QEMU 11.1.3 it took from 1 to 107 rounds; a fixed QEMU may
# take 0.2 s a round
ROUNDS, MAX_S = 200, 30

common.setup()
q = common.Qemu()
mute = q.stand_in('passt-mute', """
while [ $# -gt 0 ]; do
    case $1 in --pid) pidfile=$2 ;; --foreground) fg=1 ;; esac
    shift
done
# exec -a: argv[0] names the private directory, where the cleanup finds it
if [ -n "$fg" ]; then
    echo $$ > "$pidfile"
    exec -a "$0" sleep 60
fi
trap '' TERM
(exec -a "$0" sleep 60) &
echo $! > "$pidfile"
""", shell='/bin/bash')
done, deadline = 0, time.monotonic() + MAX_S
while done < ROUNDS and time.monotonic() < deadline:
    add = q.netdev_add(path=mute)
    delete = q.try_cmd('netdev_del', {'id': 'n0'})
    if 'return' not in add or 'return' not in delete:
        print(f'round {done + 1}: netdev_add: {add}; netdev_del: {delete}')
        break
    done += 1
print(f'{done} rounds of netdev_add/netdev_del answered')
# a completion for a netdev gone comes within this
down = q.went_down(2)
print(f'QEMU (pid {q.qemu_pid}) {down or "still running"}; '
      f'stderr: {q.stderr()[-300:]!r}')
if down:
    reproduced(f'netdev_add/netdev_del in a row took QEMU down after '
               f'{done} rounds answered: {down}')
not_reproduced()
