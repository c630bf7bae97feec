"""The backends and the metrics, as tables.

A backend is one entry of BACKENDS; strings are formatted with the run's
context: {passt} binary, {fwd} guest iperf3 port (TCP+UDP forwarded),
{rr} guest echo port (TCP forwarded), {sock} unix socket of a hand-started
passt, {tap} tap device name.
  netdev      -netdev option string of the guest's only NIC (id n0)
  helper      'passt': start `passt -f -1 -s {sock} ...` by hand first;
              'netns': create a namespace with a tap device, QEMU and the
              host-side tools run in it
  guest_net   'dhcp' or 'static' (tap: TAP_NET, MTU TAP_MTU)
  host_addr   how the guest reaches the host's iperf3 server: 'router'
              (gateway from DHCP, passt maps it to host loopback) or an
              address
  fwd_addr    where host-side clients reach guest services: '127.0.0.1'
              (through the backend's port forward) or the guest address
  passt_pid   'info-network' (the netdev's `info network` status, or
              QEMU's passt child), 'helper' (the hand-started passt) or
              None; then no_passt says why there is none
  hotplug     QMP netdev_add arguments for the start-up measurement
              (None: not measured, no_hotplug says why); 'helper': True to
              start a passt by hand for it
  shared_memory  guest RAM from a shared memfd (vhost-user)
  anchor      the key of one of config.ANCHORS: that upstream release's
              own, unmodified backend, which the series is measured
              against; none: config.QEMU, the series' build
What a binary can do (pcap-file, the NETDEV_PASST_CONNECTED event) is
asked of the binary itself (host.QemuCaps), not read from this table.
"""

from config import ANCHOR, ANCHOR_BY_KEY, ANCHORS

TAP_NET = ('10.77.0.1', '10.77.0.2', 24)     # host (netns) side, guest, prefix
TAP_MTU = 65520                              # same MTU passt gives the guest

# passt takes the entries of a list as one: the address of the first
# covers the ports of the others
FWD_PASST = ('tcp-ports=127.0.0.1/{fwd},tcp-ports={rr},'
             'udp-ports=127.0.0.1/{fwd}')
BACKENDS = [
    dict(name='passt',
         desc='-netdev passt (QEMU starts passt, stream socket)',
         netdev='passt,id=n0,path={passt},' + FWD_PASST,
         guest_net='dhcp', host_addr='router', fwd_addr='127.0.0.1',
         passt_pid='info-network',
         hotplug=dict(type='passt', path='{passt}')),
    dict(name='user',
         desc='-netdev user (slirp), hostfwd for the forwards',
         netdev='user,id=n0,hostfwd=tcp:127.0.0.1:{fwd}-:{fwd},'
                'hostfwd=tcp:127.0.0.1:{rr}-:{rr},'
                'hostfwd=udp:127.0.0.1:{fwd}-:{fwd}',
         guest_net='dhcp', host_addr='10.0.2.2', fwd_addr='127.0.0.1',
         passt_pid=None, no_passt='no passt: slirp runs inside QEMU',
         hotplug=dict(type='user')),
    dict(name='stream',
         desc='-netdev stream to a hand-started passt -f -1 -s SOCK',
         netdev='stream,id=n0,server=off,addr.type=unix,addr.path={sock}',
         helper='passt',
         guest_net='dhcp', host_addr='router', fwd_addr='127.0.0.1',
         passt_pid='helper',
         hotplug=dict(type='stream', server=False,
                      addr={'type': 'unix', 'path': '{sock}.hp'},
                      helper=True)),
    dict(name='tap',
         desc='-netdev tap into a namespace of ours (kernel reference, '
              'no vhost-net)',
         netdev='tap,id=n0,ifname={tap},script=no,downscript=no',
         helper='netns',
         guest_net='static', host_addr=TAP_NET[0], fwd_addr=TAP_NET[1],
         passt_pid=None, no_passt='no passt: the kernel\'s tap',
         hotplug=None,
         no_hotplug='not measured: a hot-plugged tap needs a device of its own'),
    dict(name='passt-vhost-user',
         desc='-netdev passt,vhost-user=on (memfd share=on guest RAM)',
         netdev='passt,id=n0,path={passt},vhost-user=on,' + FWD_PASST,
         guest_net='dhcp', host_addr='router', fwd_addr='127.0.0.1',
         passt_pid='info-network', shared_memory=True,
         hotplug=dict(type='passt', path='{passt}', **{'vhost-user': True})),
]
OWN = [b['name'] for b in BACKENDS]
# The passt backends again in each anchor, upstream QEMU as released, on
# the same command line (so with the same passt: path= is on it)
ANCHORED = [b for b in BACKENDS if b['name'] in ('passt', 'passt-vhost-user')]


def anchored(key, name):
    return 'upstream-%s-%s' % (key, name)


BACKENDS += [dict(b, name=anchored(an['key'], b['name']), anchor=an['key'],
                  desc='upstream QEMU %s as released: %s'
                       % (an['version'], b['desc']))
             for an in ANCHORS for b in ANCHORED]
BY_NAME = {b['name']: b for b in BACKENDS}

# The series' backend next to the same mode of an anchor's, by the names
# --pairs takes: "upstream" (the default) is the first anchor's
ANCHOR_PAIRS = {an['key']: [(b['name'], anchored(an['key'], b['name']))
                            for b in ANCHORED] for an in ANCHORS}
PAIR_SETS = {'upstream': ANCHOR_PAIRS[ANCHOR['key']],
             'upstream-all': [ab for an in ANCHORS
                              for ab in ANCHOR_PAIRS[an['key']]]}
PAIR_SETS.update(('upstream-' + k, v) for k, v in ANCHOR_PAIRS.items())


def anchor_of(name):
    """The config.ANCHORS entry whose QEMU runs backend name, or None."""
    return ANCHOR_BY_KEY.get(BY_NAME[name].get('anchor'))


BASELINE = 'user'

# Metrics: key, label, unit, better ('hi'/'lo'), format.
METRICS = [
    ('tcp_g2h', 'TCP guest->host (guest connects to host lo)', 'Mbit/s', 'hi', '%.0f'),
    ('tcp_h2g', 'TCP host->guest (guest connects, iperf3 -R)', 'Mbit/s', 'hi', '%.0f'),
    ('tcp_h2g_fwd', 'TCP host->guest (host connects via forward)', 'Mbit/s', 'hi', '%.0f'),
    ('tcp_g2h_fwd', 'TCP guest->host (forward, iperf3 -R)', 'Mbit/s', 'hi', '%.0f'),
    ('tps', 'TCP 1-byte request/response (forward)', 'trans/s', 'hi', '%.0f'),
    ('udp_g2h_rate', 'UDP guest->host received', 'Mbit/s', 'hi', '%.1f'),
    ('udp_g2h_loss', 'UDP guest->host loss', '%', 'lo', '%.2f'),
    ('udp_h2g_rate', 'UDP host->guest received (forward)', 'Mbit/s', 'hi', '%.1f'),
    ('udp_h2g_loss', 'UDP host->guest loss (forward)', '%', 'lo', '%.2f'),
    ('startup_ms', 'start-up: netdev_add to first answered frame', 'ms', 'lo', '%.1f'),
    ('ready_ms', '  of which: netdev_add to backend ready', 'ms', 'lo', '%.1f'),
    ('answer_ms', '  of which: first DHCPDISCOVER to OFFER', 'ms', 'lo', '%.2f'),
    ('plug_total_ms', '  (info) netdev_add to guest lease, incl. guest', 'ms', 'lo', '%.0f'),
    ('passt_rss_kb', 'passt RSS, hot-plugged netdev after DHCP', 'KiB', 'lo', '%.0f'),
    ('passt_rss_load_kb', 'passt RSS, guest NIC after all transfers', 'KiB', 'lo', '%.0f'),
    ('qemu_rss_delta_kb', 'QEMU RSS growth per hot-plugged NIC+netdev, guest RAM excluded', 'KiB', 'lo', '%.0f'),
    ('qemu_cpu_gb', 'QEMU CPU per GB (TCP, all threads)', 's/GB', 'lo', '%.2f'),
    ('qemu_io_cpu_gb', 'QEMU CPU per GB (TCP, non-vCPU threads)', 's/GB', 'lo', '%.2f'),
    ('passt_cpu_gb', 'passt CPU per GB (TCP)', 's/GB', 'lo', '%.2f'),
    ('qemu_sc_mb_g2h', 'QEMU syscalls per MB, TCP guest->host', '1/MB', 'lo', '%.1f'),
    ('qemu_sc_mb_h2g', 'QEMU syscalls per MB, TCP host->guest', '1/MB', 'lo', '%.1f'),
    ('qemu_bytes_io_g2h', '  KiB per QEMU socket/tap write, guest->host', 'KiB', 'hi', '%.1f'),
    ('qemu_bytes_io_h2g', '  KiB per QEMU socket/tap read, host->guest', 'KiB', 'hi', '%.1f'),
    ('passt_sc_mb_g2h', 'passt syscalls per MB, TCP guest->host', '1/MB', 'lo', '%.1f'),
    ('passt_sc_mb_h2g', 'passt syscalls per MB, TCP host->guest', '1/MB', 'lo', '%.1f'),
    ('fwd_rt_ms', 'port forward added at run time: QMP command to first answer through it', 'ms', 'lo', '%.1f'),
    ('qemu_sc_tps', 'QEMU syscalls per 1-byte request/response', '1', 'lo', '%.1f'),
    ('passt_sc_tps', 'passt syscalls per 1-byte request/response', '1', 'lo', '%.1f'),
]
METRIC = {m[0]: m for m in METRICS}
TCP_KEYS = ['tcp_g2h', 'tcp_h2g', 'tcp_h2g_fwd', 'tcp_g2h_fwd']
CPU_KEYS = ['qemu_cpu_gb', 'qemu_io_cpu_gb', 'passt_cpu_gb']
SC_KEYS = ['qemu_sc_mb_g2h', 'qemu_sc_mb_h2g', 'qemu_bytes_io_g2h',
           'qemu_bytes_io_h2g', 'passt_sc_mb_g2h', 'passt_sc_mb_h2g',
           'qemu_sc_tps', 'passt_sc_tps']
# The steps of --only and the metrics each gives
STEPS = {
    'startup': ['startup_ms', 'ready_ms', 'answer_ms', 'plug_total_ms',
                'passt_rss_kb', 'qemu_rss_delta_kb'],
    'tcp': TCP_KEYS + CPU_KEYS,
    'tps': ['tps'],
    'udp': ['udp_g2h_rate', 'udp_g2h_loss', 'udp_h2g_rate', 'udp_h2g_loss'],
    'syscalls': SC_KEYS,
    'forward': ['fwd_rt_ms'],
    # tables of their own, ours against the anchors of the pairs:
    'stall': [],        # no guest (stall.py)
    'recovery': [],     # guests of their own (recovery.py)
    'migration': [],    # guests of their own (migration.py)
}
OWN_TABLES = ('stall', 'recovery', 'migration')
STEP_OF = {k: s for s, keys in STEPS.items() for k in keys}


def unit_label(key):
    _, _, unit, better, _ = METRIC[key]
    return unit + ('' if better == 'hi' else ', lower is better')
