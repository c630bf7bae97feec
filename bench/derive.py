"""Figures derived per round from a BackendRun's transfers: CPU seconds
per GB and syscalls per MB (and KiB per QEMU socket write/read). Per
round, so that two backends measured in the same round of a pair give
one ratio per round.
"""

from backends import CPU_KEYS, TCP_KEYS


def by_round(runs, keys, need):
    """{round: [runs]} of the measured runs of keys that have field need."""
    out = {}
    for k in keys:
        for r in runs.get(k, []):
            if r.get('value') is not None and need in r:
                out.setdefault(r['round'], []).append(r)
    return out


def cpu_per_gb(br):
    for rnd, runs in sorted(by_round(br.runs, TCP_KEYS, 'bytes').items()):
        for f, key in zip(('qemu_cpu_s', 'qemu_io_cpu_s', 'passt_cpu_s'),
                          CPU_KEYS):
            with_f = [r for r in runs if f in r]
            gb = sum(r['bytes'] for r in with_f) / 1e9
            if gb:
                cpu = sum(r[f] for r in with_f)
                br.add(key, {'value': cpu / gb, 'cpu_s': cpu, 'gb': gb,
                               'round': rnd})
        # per transfer too, in the raw data
        for r in runs:
            gbk = r['bytes'] / 1e9
            for f in ('qemu_cpu_s', 'qemu_io_cpu_s', 'passt_cpu_s'):
                if f in r and gbk:
                    r[f.replace('_s', '_per_gb')] = r[f] / gbk


def syscalls_per_mb(br):
    """Syscalls per MB moved, per direction, and bytes per write."""
    for d in ('g2h', 'h2g'):
        keys = ['tcp_' + d, 'sc_tcp_' + d]
        for who in ('qemu', 'passt'):
            for rnd, runs in sorted(by_round(br.runs, keys, who + '_sc_all').items()):
                mb = sum(r['bytes'] for r in runs) / 1e6
                if not mb:
                    continue
                tot = {f: sum(r[who + f] for r in runs)
                       for f in ('_sc_all', '_sc_writes', '_sc_reads', '_sc_polls')}
                br.add('%s_sc_mb_%s' % (who, d),
                         {'value': tot['_sc_all'] / mb, 'mb': mb, 'round': rnd,
                          'writes_per_mb': tot['_sc_writes'] / mb,
                          'reads_per_mb': tot['_sc_reads'] / mb,
                          'polls_per_mb': tot['_sc_polls'] / mb})
                if who != 'qemu' or br.be.get('shared_memory'):
                    continue
                # QEMU writes towards the backend in g2h, reads from it
                # in h2g; in vhost-user mode frames bypass QEMU
                f = '_sc_io_writes' if d == 'g2h' else '_sc_io_reads'
                n = sum(r['qemu' + f] for r in runs)
                if n:
                    br.add('qemu_bytes_io_' + d,
                             {'value': mb * 1e6 / n / 1024, 'count': n,
                              'round': rnd})
                else:
                    br.why['qemu_bytes_io_' + d] = (
                        'frames move by read()/write(), not told from '
                        'eventfds')
