"""Whether a row gave passt the same arguments on both QEMUs.

A row's problems each have a kind, so that an allowlist entry can explain
one kind without waving the rest of the row through:
  timeout  a QEMU did not finish the row in time
  outcome  the netdev started on one side only
  argv     passt's arguments differ (QEMU's plumbing set aside)
  param    the 'param' entries did not reach passt verbatim on our side
and, judged over the whole run rather than by row:
  probe    one QEMU runs 'passt --version' beside passt, the other never
"""

import dataclasses

import passtargs
from allowlist import FIXES


@dataclasses.dataclass
class Verdict:
    ok: bool
    text: str
    fixes: list             # keys of the allowlist entries used


def _argv_problems(row, up, ours):
    a = {tuple(passtargs.split(r, row.params())[0]) for r in up.runs}
    b = {tuple(passtargs.split(r, row.params())[0]) for r in ours.runs}
    if a == b:
        return []
    if not b:
        return [('argv', 'ours ran no passt')]
    if not a:
        return [('argv', 'upstream ran no passt')]
    if len(a) > 1 or len(b) > 1:
        return [('argv', 'passt restarted with other arguments')]
    return [('argv', 'arguments differ')]


def problems(row, up, ours):
    if 'timeout' in (up.state, ours.state):
        return [('timeout', f'timed out: upstream {up.state}, '
                            f'ours {ours.state}')]
    found = []
    if up.state != ours.state:
        found.append(('outcome', f'upstream {up.state}, ours {ours.state}'))
    found += _argv_problems(row, up, ours)
    tokens = row.params()
    if tokens and any(passtargs.carries(r, tokens) for r in up.runs) and \
       not all(passtargs.carries(r, tokens) for r in ours.runs):
        found.append(('param', "'param' not passed on verbatim"))
    return found


def judge(row, up, ours, series):
    found = problems(row, up, ours)
    if not found:
        if up.state == 'started':
            return Verdict(True, 'same', [])
        if up.runs:
            return Verdict(True, 'same; passt refused on both', [])
        return Verdict(True, 'same; QEMU refused on both, no passt run', [])
    used, unexplained = [], []
    for kind, text in found:
        fix = _explaining(series, kind, row, up, ours)
        if fix is None:
            unexplained.append(text)
        elif fix.key not in used:
            used.append(fix.key)
    if unexplained:
        return Verdict(False, 'DIFFERS: ' + '; '.join(unexplained), used)
    return Verdict(True, f"allowed ({', '.join(used)})", used)


def _explaining(series, kind, row, up, ours):
    return next((f for f in FIXES[series]
                 if kind in f.kinds and f.applies(row, up, ours)), None)


@dataclasses.dataclass
class Tally:
    probes: int             # rows in which a QEMU ran passt --version


def judge_probes(results, series):
    """Over all rows: whether the QEMUs ask passt --version alike. Per row
    it is timing (a probe may come after the row has ended): a QEMU that
    probes shows it in some rows, one that never does in none."""
    up = Tally(sum(bool(r[1].probes) for r in results))
    ours = Tally(sum(bool(r[2].probes) for r in results))
    text = (f'passt --version runs beside passt, in rows: upstream '
            f'{up.probes}, ours {ours.probes} (of {len(results)})')
    if bool(up.probes) == bool(ours.probes):
        return Verdict(True, text, [])
    fix = _explaining(series, 'probe', None, up, ours)
    if fix is None:
        return Verdict(False, text + ': DIFFERS', [])
    return Verdict(True, f'{text}: allowed ({fix.key})', [fix.key])
