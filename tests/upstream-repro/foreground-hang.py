#!/usr/bin/env python3
"""Upstream 10.2 bug: net_passt_start_daemon() waits in g_subprocess_wait()
for passt to daemonize; with param=--foreground passt never exits, so the
main loop hangs and QMP stops answering.  (A fixed QEMU may hold the main
loop for a bounded time, the series' fix up to 10 s: query-status gets 20.)
"""
import shutil
import subprocess

import common

common.setup()
q = common.Qemu()
answers = []
for name, args, wait in (('netdev_add', {'type': 'passt', 'id': 'n0',
                                         'path': common.PASST,
                                         'param': [{'str': '--foreground'}]},
                          5),
                         ('query-status', None, 20)):
    try:
        answers.append(f'{name}: {q.cmd(name, args, timeout=wait)}')
    except (common.Gone, common.NoAnswer) as e:
        answers.append(f'{name}: no answer in {wait} s ({type(e).__name__})')
print('; '.join(answers))
try:
    with open(f'/proc/{q.pid}/wchan') as f:
        wchan = f.read()
except OSError:
    wchan = '?'
children = q.children()
print(f'QEMU (pid {q.pid}) {common.describe(q.wait(0))}, main thread '
      f'waiting in {wchan!r}; its passt children: {children}')
if shutil.which('gdb'):                         # where the main thread is
    try:
        bt = subprocess.run(['gdb', '-p', str(q.pid), '-batch', '-nx',
                             '-ex', 'thread 1', '-ex', 'bt'],
                            capture_output=True, text=True, timeout=30).stdout
    except subprocess.TimeoutExpired:
        bt = ''
    for line in bt.splitlines():
        if line.startswith('#') and ('subprocess' in line or 'passt' in line):
            print('  ' + ' '.join(line.split()))
if all('no answer' in a for a in answers) and q.wait(0) is None:
    print('REPRODUCED: netdev_add param=--foreground blocks QEMU\'s main '
          'loop (g_subprocess_wait() on a passt that never exits): QMP '
          'stops answering')
    raise SystemExit(0)
print('not reproduced')
raise SystemExit(1)
