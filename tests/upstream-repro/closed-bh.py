#!/usr/bin/env python3
"""In vhost-user mode, when passt's end closes, upstream 10.2 schedules a
bottom half with the netdev's state as its argument, which nothing
cancels: a netdev_del that the main loop handles first frees the state,
and the bottom half then runs on freed memory (see hmpdel.py for how the
two come together).  Fixed by 2-passt-fixes/12.
"""
import common
from hmpdel import HmpQemu
from verdict import cannot_run, not_reproduced, reproduced

common.setup()
h = HmpQemu(())
add = h.q.netdev_add_vhost_user(common.PASST)
print(f'netdev_add vhost-user=on: {add}')
passt = h.q.wait_passt()
if 'return' not in add or not passt:
    cannot_run('no passt in vhost-user mode')
down = h.del_as_it_closes(passt)
if down:
    reproduced('QEMU went down after passt closed in vhost-user mode and '
               f'netdev_del came with it ({down}): the bottom half ran on '
               'freed memory')
not_reproduced()
