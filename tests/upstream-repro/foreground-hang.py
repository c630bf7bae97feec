#!/usr/bin/env python3
"""param=--foreground: upstream 10.2's net_passt_start_daemon() waits in
g_subprocess_wait() for passt to daemonize, which a passt told to stay in
the foreground never does: the main loop hangs and QMP stops answering.
Fixed by 2-passt-fixes/6.  (A fixed QEMU may hold the main loop for a
bounded time, 2-passt-fixes/6 up to 10 s: query-status gets 20.)
"""
import shutil
import subprocess

import backtrace
import common
from verdict import does_not_apply, not_reproduced, reproduced


def main_thread_frames(pid):
    """gdb's backtrace lines of QEMU's main thread that name passt or
    GSubprocess; QEMU's root may be a sandbox's: gdb loads its libraries
    from there."""
    if not shutil.which('gdb'):
        return []
    try:
        bt = subprocess.run(['gdb', '-batch', '-nx',
                             '-iex', f'set sysroot /proc/{pid}/root',
                             '-p', str(pid), '-ex', 'thread 1', '-ex', 'bt'],
                            capture_output=True, text=True, timeout=30).stdout
    except subprocess.TimeoutExpired:
        return []
    return [backtrace.tidy(line) for line in bt.splitlines()
            if line.startswith('#') and ('subprocess' in line or
                                         'passt' in line)]


common.setup()
q = common.Qemu()
add = q.netdev_add(timeout=5, path=common.PASST,
                   param=[{'str': '--foreground'}])
refusal = add.get('error', {}).get('desc', '') if isinstance(add, dict) \
    else ''
if '--foreground' in refusal:
    # the 10.0 series: QEMU sets it itself, nothing to show here
    does_not_apply(f'this QEMU refuses param=--foreground: {refusal}')
answers = ['netdev_add: ' + str(add),
           'query-status: ' + str(q.try_cmd('query-status', timeout=20))]
print('; '.join(answers))
try:
    with open(f'/proc/{q.qemu_pid}/wchan') as f:
        wchan = f.read()
except OSError:
    wchan = '?'
down = q.went_down(0)
print(f'QEMU (pid {q.qemu_pid}) {down or "still running"}, main thread '
      f'waiting in {wchan!r}; its passt children: {q.children()}')
if q.gdb:                                       # one tracer at a time
    q.gdb.stop()
for line in main_thread_frames(q.qemu_pid):
    print('  ' + line)
if down:
    reproduced(f'netdev_add param=--foreground took QEMU down: {down}')
if all('no answer' in a for a in answers):
    reproduced('netdev_add param=--foreground blocks QEMU\'s main loop '
               '(g_subprocess_wait() on a passt that never exits): QMP '
               'stops answering')
not_reproduced()
