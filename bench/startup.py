"""Start-up of a hot-plugged netdev: netdev_add -> ready -> first answer.

What the binary offers decides how each part is taken (host.QemuCaps):
the NETDEV_PASST_CONNECTED event for 'ready' where there is one, passt's
capture through pcap-file or, where that member is missing, through
param=--pcap in vhost-user mode.
"""

import os
import struct
import time

from config import log
from guestlib import QMPError
from host import QemuCaps, start_hand_passt, stop_proc, wait_pidfile
from meters import find_passt, rss_kb, rss_less_kb

ROOT_PORTS = 3          # rp1..rp3 of BackendRun._boot, reused round by round


def hotplug_mac(i):
    return '52:54:00:00:0b:%02x' % (i & 0xff)


def pcap_frames(path):
    """[(ts seconds, frame bytes)] from a pcap file (filter-dump)."""
    out = []
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 24:
        return out
    magic = struct.unpack('<I', data[:4])[0]
    e = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    nano = magic in (0xa1b23c4d, 0x4d3cb2a1)
    i = 24
    while i + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(e + 'IIII', data[i:i + 16])
        out.append((sec + frac / (1e9 if nano else 1e6), data[i + 16:i + 16 + incl]))
        i += 16 + incl
    return out


def dhcp_type(frame):
    """DHCP message type (1 DISCOVER, 2 OFFER, ...) of an IPv4/UDP 67/68
    frame, else None."""
    if len(frame) < 14 + 20 + 8 + 240 or frame[12:14] != b'\x08\x00':
        return None
    ihl = (frame[14] & 0x0f) * 4
    if frame[14 + 9] != 17:
        return None
    u = 14 + ihl
    sport, dport = struct.unpack('!HH', frame[u:u + 4])
    if {sport, dport} != {67, 68}:
        return None
    opts = frame[u + 8 + 240:]
    j = 0
    while j + 2 <= len(opts) and opts[j] != 255:
        if opts[j] == 0:
            j += 1
            continue
        if opts[j] == 53:
            return opts[j + 2]
        j += 2 + opts[j + 1]
    return None


def trim_heap(q):
    """Have QEMU give the heap it has freed back to the system before the
    RSS sample: its RCU thread calls malloc_trim() after a batch of
    callbacks, so freed memory (megabytes, e.g. what boot left behind)
    otherwise leaves at whatever RCU batch comes next, the hot-plug's own,
    and passes for a negative cost. Freeing a RAM block is such a batch."""
    q.cmd('object-add', **{'qom-type': 'memory-backend-ram', 'id': 'bench-trim',
                           'size': 1 << 20})
    q.cmd('object-del', id='bench-trim')
    time.sleep(0.2)


def startup_once(br, i):
    """Hot-plug netdev hp<i> (QMP netdev_add) and a virtio-net NIC on it
    into br's guest; the guest runs DHCP there. Measured:
      ready_ms   netdev_add sent -> backend ready to take frames: for
                 passt the NETDEV_PASST_CONNECTED event where the binary
                 has it (emitted once passt wrote its pid file, i.e. is
                 serving), else netdev_add's return (upstream's returns
                 once passt is in the background); for a hand-started
                 passt from its start to its pid file, plus netdev_add
                 stream; otherwise netdev_add's return
      answer_ms  first DHCPDISCOVER the guest sent -> first OFFER back,
                 both as QEMU saw them (filter-dump on the netdev), or in
                 vhost-user mode, where frames bypass QEMU, as passt saw
                 them (its capture)
      startup_ms ready_ms + answer_ms: the time to the first answered
                 frame if the guest had sent one the moment the netdev
                 existed (the guest's own PCI hot-plug and driver probe,
                 hundreds of ms under TCG, are not the backend's)
    """
    q = br.g.qmp
    caps = QemuCaps.of(br.qemu, q)
    nid, dev, mac = 'hp%d' % i, 'hpnic%d' % i, hotplug_mac(i)
    pcap = os.path.join(br.workdir, 'hp%d.pcap' % i)
    hp = dict(br.be['hotplug'])
    use_helper = hp.pop('helper', False)
    args = br.fmt(hp)
    # no filter on a vhost-user netdev: passt captures instead
    passt_pcap = bool(args.get('vhost-user'))
    if passt_pcap:
        os.chmod(br.workdir, 0o777)         # passt may run as nobody
        if caps.pcap_file:
            args['pcap-file'] = pcap
        else:
            args['param'] = args.get('param', []) + [{'str': '--pcap'},
                                                     {'str': pcap}]
    if 'addr' in args:
        args['addr'] = dict(args['addr'], path=args['addr']['path'] + str(i))
    before = rss_less_kb(br.qemu_pid, br.ram_kb)
    trim_heap(q)
    rss0 = rss_less_kb(br.qemu_pid, br.ram_kb)
    vm0 = rss_kb(br.qemu_pid)
    q.events.clear()
    t0 = time.time()
    helper_pid = None
    if use_helper:
        p, pidfile = start_hand_passt(br.ctx['passt'], args['addr']['path'],
                                      br.workdir, 'hp%d' % i)
        br.cleanup.append(lambda: stop_proc(p))
        helper_pid = wait_pidfile(pidfile)
    q.cmd('netdev_add', id=nid, **args)
    t_ret = time.time()
    t_ready = t_ret
    if args['type'] == 'passt' and caps.connected_event:
        ev = q.get_event('NETDEV_PASST_CONNECTED', timeout=10)
        while ev['data'].get('netdev-id') != nid:
            ev = q.get_event('NETDEV_PASST_CONNECTED', timeout=10)
        ts = ev['timestamp']
        t_ready = max(t_ret, ts['seconds'] + ts['microseconds'] / 1e6)
    if not passt_pcap:
        q.cmd('object-add', **{'qom-type': 'filter-dump', 'id': 'fd' + nid,
                               'netdev': nid, 'file': pcap})
    q.cmd('device_add', driver='virtio-net-pci', id=dev, netdev=nid,
          bus='rp%d' % ((i - 1) % ROOT_PORTS + 1), mac=mac)
    r = br.a.kv('wait_mac %s 30 || echo iface=none\n'
                'net_up $iface >/dev/null || echo lease=none\n'
                'echo ok=1' % mac, timeout=90)
    t_lease = time.time()
    rss1 = rss_less_kb(br.qemu_pid, br.ram_kb)
    vm1 = rss_kb(br.qemu_pid)
    pid, why = helper_pid, None
    if args['type'] == 'passt':
        pid, why = find_passt(q, nid, br.qemu_pid)
    prss = rss_kb(pid) if pid else None
    if prss is None and why:
        br.why.setdefault('passt_rss_kb', 'passt pid not found: ' + why)
    if not passt_pcap:
        q.cmd('object-del', id='fd' + nid)
    frames = pcap_frames(pcap)
    disc = next((ts for ts, f in frames if f[6:12] == bytes.fromhex(
        mac.replace(':', '')) and dhcp_type(f) == 1), None)
    offer = next((ts for ts, f in frames if disc is not None and ts >= disc
                  and dhcp_type(f) == 2), None)
    run = {'ready_ms': (t_ready - t0) * 1e3,
           'netdev_add_ms': (t_ret - t0) * 1e3,
           'plug_total_ms': (t_lease - t0) * 1e3,
           'frames': len(frames), 'lease': r.get('lease') != 'none'}
    if before and rss0:
        run['trimmed_kb'] = before - rss0
    if disc is not None and offer is not None:
        run['answer_ms'] = (offer - disc) * 1e3
        run['value'] = run['ready_ms'] + run['answer_ms']
    else:
        run['value'] = None
        run['error'] = 'no DHCP DISCOVER/OFFER pair in %d captured frames' % len(frames)
        br.why.setdefault('answer_ms', run['error'])
    br.add('startup_ms', run)
    br.add('ready_ms', {'value': run['ready_ms']})
    br.add('answer_ms', {'value': run.get('answer_ms')})
    br.add('plug_total_ms', {'value': run['plug_total_ms']})
    if prss is not None:
        br.add('passt_rss_kb', {'value': prss, 'pid': pid})
    if vm0 and vm1:
        run['qemu_vmrss_delta_kb'] = vm1 - vm0      # guest RAM included
    if rss0 and rss1:
        # only the first hot-plug: a NIC unplugged before is freed
        # lazily (RCU), so later rounds can show negative growth
        run['qemu_rss_delta_kb'] = rss1 - rss0
        if i == 1:
            br.add('qemu_rss_delta_kb', {'value': rss1 - rss0})
    log('%s: start-up #%d: ready %.1f ms + answer %s ms; lease after %.0f ms'
        % (br.name, i, run['ready_ms'],
           '%.2f' % run['answer_ms'] if 'answer_ms' in run else '?',
           run['plug_total_ms']))
    # unplug again: the next round starts from the same state
    try:
        q.cmd('device_del', id=dev)
        ev = q.get_event('DEVICE_DELETED', timeout=30)
        while ev['data'].get('device') != dev:
            ev = q.get_event('DEVICE_DELETED', timeout=30)
        # upstream's netdev_del of a netdev without a NIC crashes QEMU
        # (fixed by the upstream series' patch 2-passt-fixes/5): keep it there
        if not br.upstream:
            q.cmd('netdev_del', id=nid)
    except (QMPError, TimeoutError) as e:
        log('%s: unplug %s: %s' % (br.name, nid, e))
