#!/usr/bin/env python3
"""In vhost-user mode passt maps guest RAM through the fds that vhost-user
passes; the default RAM has none.  Upstream 10.2 accepts a virtio-net-pci
on a vhost-user passt netdev with such RAM: the device comes up and carries
nothing, without a word.  Fixed by 3-passt-behaviour/2, which refuses it.
"""
import common
from verdict import cannot_run, not_reproduced, reproduced

common.setup()
# -S: hot-plugging needs no guest, and a guest would only use the CPU
q = common.Qemu(args=('-M', 'pc', '-accel', 'tcg', '-m', '64M', '-S'))
add = q.netdev_add_vhost_user(common.PASST)
print(f'netdev_add vhost-user=on: {add}')
if 'return' not in add:
    cannot_run('no passt netdev in vhost-user mode')
dev = q.try_cmd('device_add', {'driver': 'virtio-net-pci', 'netdev': 'n0',
                               'id': 'nic0'})
print(f'device_add virtio-net-pci on private RAM: {dev}')
down = q.went_down(0)
if down:
    reproduced(f'device_add took QEMU down: {down}')
if 'return' in dev:
    reproduced('a virtio-net-pci on RAM that passt cannot map was accepted '
               'in vhost-user mode')
not_reproduced()
