"""The table of command lines run on both QEMUs.

Every member of upstream's -netdev passt appears at least once, in the
forms users write: on the command line (QemuOpts: a list member is one
key given again, 'tcp-ports=A,tcp-ports=B'; a comma inside a value is
doubled) and through QMP's netdev_add (lists as [{'str': ...}]).

Ports are written {p0}..{p9} and become ports of the row's own: rows run
side by side, and a port two rows shared would make one of them fail for
reasons of its own. The two QEMUs of a row run one after the other.
{if} is the interface of the host's IPv4 default route (passt refuses an
outbound interface it cannot route through, lo included).
"""

import dataclasses
import json
import re

PORTS_PER_ROW = 10

# (command line after 'passt,id=n0,path=STAND-IN,', what it covers)
CLI = [
    ('', 'no member but path: the defaults'),
    ('quiet=on', 'quiet'),
    ('quiet=off', 'quiet, off'),
    ('vhost-user=on', 'vhost-user'),
    ('vhost-user=off', 'vhost-user, off'),
    ('mtu=1400', 'mtu'),
    ('mtu=99999', 'mtu passt refuses'),
    ('address=10.0.2.15,netmask=255.255.255.0', 'address, netmask'),
    ('mac=52:54:00:12:34:56', 'mac'),
    ('gateway=10.0.2.2', 'gateway'),
    ('interface=lo', 'interface'),
    ('interface=nonexistent0', 'interface that does not exist'),
    ('outbound=127.0.0.1', 'outbound'),
    ('outbound-if4={if},outbound-if6={if}', 'outbound-if4, outbound-if6'),
    ('dns=10.0.2.3', 'dns'),
    ('search=example.com', 'search, one entry'),
    ('search=a.example,search=b.example', 'search, two entries'),
    ('fqdn=guest.example', 'fqdn'),
    ('dhcp-dns=off,dhcp-search=off', 'dhcp-dns, dhcp-search'),
    ('map-host-loopback=10.0.2.2', 'map-host-loopback'),
    ('map-guest-addr=10.0.2.100', 'map-guest-addr'),
    ('dns-forward=10.0.2.3,dns-host=127.0.0.1', 'dns-forward, dns-host'),
    ('tcp=off', 'tcp'),
    ('udp=off', 'udp'),
    ('icmp=off', 'icmp'),
    ('dhcp=off', 'dhcp'),
    ('ndp=off', 'ndp'),
    ('dhcpv6=off', 'dhcpv6'),
    ('ra=off', 'ra'),
    ('freebind=on', 'freebind'),
    ('ipv4=off', 'ipv4'),
    ('ipv6=off', 'ipv6'),
    ('ipv4=off,ipv6=off', 'ipv4 and ipv6 both off'),
    ('tcp=on,udp=on,icmp=on,dhcp=on,ndp=on,dhcpv6=on,ra=on,freebind=off,'
     'ipv4=on,ipv6=on,dhcp-dns=on,dhcp-search=on',
     'the switches at their defaults'),
    ('tcp-ports={p0}', 'tcp-ports: one port'),
    ('tcp-ports={p0}-{p3}', 'tcp-ports: a range'),
    ('tcp-ports={p0}:22', 'tcp-ports: a mapping host:guest'),
    ('tcp-ports={p0}-{p1}:2200-2201', 'tcp-ports: a range mapped'),
    ('tcp-ports={p0}-{p5},tcp-ports=~{p2}-{p3}',
     'tcp-ports: an exclusion as its own entry'),
    ('tcp-ports=127.0.0.1/{p0},tcp-ports={p1}',
     'tcp-ports: an address on the first entry'),
    ('tcp-ports={p0},tcp-ports=127.0.0.1/{p1}',
     'tcp-ports: an address on a later entry'),
    ('tcp-ports=%lo/{p0}', 'tcp-ports: an interface'),
    ('tcp-ports={p0},tcp-ports={p1},tcp-ports={p2}:{p3}',
     'tcp-ports: several entries'),
    ('tcp-ports={p0},,{p1}', 'tcp-ports: a comma inside one entry'),
    ('tcp-ports=none', 'tcp-ports: none'),
    ('tcp-ports.0={p0},tcp-ports.1={p1}',
     'tcp-ports: indexed keys (not a QemuOpts form)'),
    ('udp-ports={p0}', 'udp-ports: one port'),
    ('udp-ports={p0}-{p2}:{p5}-{p7}', 'udp-ports: a range mapped'),
    ('udp-ports={p0}-{p3},udp-ports=~{p1}', 'udp-ports: an exclusion'),
    ('udp-ports=127.0.0.1/{p0},udp-ports={p1}',
     'udp-ports: an address on the first entry'),
    ('udp-ports={p0},udp-ports=127.0.0.1/{p1}',
     'udp-ports: an address on a later entry'),
    ('tcp-ports={p0},udp-ports={p1}', 'tcp-ports and udp-ports'),
    ('param=--no-map-gw', 'param: one option'),
    ('param=--mtu,param=1400', 'param: an option and its value apart'),
    ('param=--mtu=1400', 'param: option=value'),
    ('param=-4', 'param: a short option'),
    ('param=--debug', 'param: a reporting option'),
    ('mtu=1400,param=--mtu,param=1500', 'param after the member it repeats'),
    ('param=--fd,param=5', 'param: an option QEMU also sets'),
]

# Without path=, QEMU runs 'passt' from PATH: the stand-in's directory
# comes first in the PATH each QEMU gets
NO_PATH_CLI = [
    ('', 'no path: passt from PATH'),
    ('tcp-ports={p0}', 'no path, a member'),
]

# (netdev_add arguments besides type, id and path, what it covers)
QMP = [
    ({}, 'no member'),
    ({'quiet': False, 'vhost-user': False, 'mtu': 1400},
     'bool and int members as JSON'),
    ({'vhost-user': True}, 'vhost-user'),
    ({'search': [{'str': 'a.example'}, {'str': 'b.example'}]}, 'search'),
    ({'tcp-ports': [{'str': '127.0.0.1/{p0}'}, {'str': '{p1}'},
                    {'str': '{p2}-{p4},~{p3}'}]},
     'tcp-ports: address first, a single entry with an exclusion'),
    ({'udp-ports': [{'str': '{p0}'}, {'str': '{p1}:53'}]}, 'udp-ports'),
    ({'tcp-ports': [{'str': '{p0}'}, {'str': '::1/{p1}'}]},
     'tcp-ports: an address on a later entry'),
    ({'param': [{'str': '--no-map-gw'}, {'str': '--mtu'}, {'str': '1400'}]},
     'param'),
    ({'address': '10.0.2.15', 'netmask': '255.255.255.0',
      'mac': '52:54:00:12:34:56', 'gateway': '10.0.2.2',
      'interface': '{if}', 'outbound-if4': '{if}', 'dns': '10.0.2.3',
      'fqdn': 'guest.example', 'dhcp-dns': False, 'dhcp-search': False,
      'map-host-loopback': '10.0.2.2', 'map-guest-addr': '10.0.2.100',
      'dns-forward': '10.0.2.3', 'dns-host': '127.0.0.1', 'tcp': True,
      'udp': True, 'icmp': False, 'dhcp': True, 'ndp': False,
      'dhcpv6': False, 'ra': False, 'freebind': True, 'ipv6': False,
      'search': [{'str': 'example.com'}],
      'tcp-ports': [{'str': '{p0}'}], 'udp-ports': [{'str': '{p1}'}],
      'param': [{'str': '--no-map-gw'}]},
     'many members at once'),
]


def _cli_values(opts, key):
    """The values of @key in a QemuOpts string (',,' is a literal ',')."""
    items = opts.replace(',,', '\0').split(',')
    return [i.split('=', 1)[1].replace('\0', ',') for i in items
            if i.split('=', 1)[0] == key and '=' in i]


@dataclasses.dataclass
class Row:
    number: int
    cli: str = None         # -netdev options after path=, or None
    qmp: dict = None        # netdev_add arguments, or None
    covers: str = ''
    path: bool = True       # give path= (the stand-in), or leave it out

    def label(self):
        """The row as the table shows it: '...' is id=n0,path=STAND-IN."""
        if self.cli is not None:
            head = '-netdev passt,...' if self.path else \
                '-netdev passt,id=n0'
            return head + (f',{self.cli}' if self.cli else '')
        return 'netdev_add ' + json.dumps(self.qmp, separators=(',', ':'))

    def netdev_option(self, path):
        head = f'passt,id=n0,path={path}' if self.path else 'passt,id=n0'
        return head + (f',{self.cli}' if self.cli else '')

    def netdev_arguments(self, path):
        return dict(self.qmp, type='passt', id='n0', path=path)

    def params(self):
        """The 'param' entries as the user gave them."""
        if self.cli is not None:
            return _cli_values(self.cli, 'param')
        return [p['str'] for p in self.qmp.get('param', [])]


def default_interface():
    """The interface of the IPv4 default route, or 'lo' if there is none
    (the rows that name it then fail on both sides alike)."""
    try:
        with open('/proc/net/route') as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[1] == '00000000' and fields[7] == '00000000':
                    return fields[0]
    except (OSError, IndexError):
        pass
    return 'lo'


def _fill(value, base, interface):
    """@value with {pN} and {if} replaced, in strings, lists and dicts."""
    if isinstance(value, str):
        value = value.replace('{if}', interface)
        return re.sub(r'\{p(\d)\}', lambda m: str(base + int(m[1])), value)
    if isinstance(value, list):
        return [_fill(v, base, interface) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, base, interface) for k, v in value.items()}
    return value


def rows(port_base):
    table = [('cli', c, why, True) for c, why in CLI] + \
            [('cli', c, why, False) for c, why in NO_PATH_CLI] + \
            [('qmp', q, why, True) for q, why in QMP]
    interface = default_interface()
    out = []
    for i, (form, spec, why, path) in enumerate(table):
        spec = _fill(spec, port_base + PORTS_PER_ROW * i, interface)
        out.append(Row(i + 1, **{form: spec}, covers=why, path=path))
    return out
