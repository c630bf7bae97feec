#!/usr/bin/env python3
"""-netdev vhost-user: a netdev_add that fails on its chardev (telnet=on,
which cannot wait for a connection) answers only "Device 'vhost-user'
could not be initialized", the reason going to QEMU's stderr, and deletes
the chardev, which chardev-remove then does not find.  Fixed by
6-vhost-user-frontend/3 (the reason) and /4 (the chardev).
"""
import os

import common
from verdict import not_reproduced, reproduced

common.setup()
q = common.Qemu()
path = os.path.join(q.tmp, 'telnet.sock')
print('chardev-add c1 (telnet=on):', q.try_cmd('chardev-add', {
    'id': 'c1', 'backend': {'type': 'socket', 'data': {
        'addr': {'type': 'unix', 'data': {'path': path}},
        'server': True, 'wait': False, 'telnet': True}}}))
added = q.try_cmd('netdev_add', {'type': 'vhost-user', 'id': 'n1',
                                 'chardev': 'c1'})
print(f'netdev_add vhost-user chardev=c1: {added}')
removed = q.try_cmd('chardev-remove', {'id': 'c1'})
print(f'chardev-remove c1: {removed}')
desc = added.get('error', {}).get('desc', '') if isinstance(added, dict) \
    else ''
bugs = []
if 'telnet' not in desc:
    bugs.append(f'netdev_add did not say why ({desc!r})')
if not isinstance(removed, dict) or 'error' in removed:
    bugs.append('the failed netdev_add deleted the chardev')
if bugs:
    reproduced('; '.join(bugs))
not_reproduced()
