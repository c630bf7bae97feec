"""A backend's results as the reports and the JSON take them."""

import statistics


def summarize(values):
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {'median': statistics.median(v), 'min': min(v), 'max': max(v),
            'n': len(v), 'failed': len(values) - len(v)}


def result(br, status):
    """A backend's results: status, info, raw runs, per-metric summary
    and, for each metric without a value, why."""
    runs = br.runs if br else {}
    if status == 'ok' and not any(r.get('value') is not None
                                  for v in runs.values() for r in v):
        status = 'error: nothing measured'
    return {'status': status, 'info': br.info if br else {}, 'runs': runs,
            'why': br.reasons() if br else {},
            'summary': {k: summarize([r.get('value') for r in v])
                        for k, v in runs.items()}}


def one_line(text, n=100):
    """A table cell's worth of text: first line, no '|', at most n chars."""
    line = (str(text).strip().splitlines() or [''])[0].replace('|', '/')
    return line if len(line) <= n else line[:n - 3] + '...'


def notes(name, info):
    """Report lines: a backend's errors, and what was done again."""
    return ['- `%s` %s: %s' % (name, what, one_line(e, 200))
            for key, what in (('errors', 'error'),
                              ('retried', 'run again after'),
                              ('start_failures', 'started again after'))
            for e in info.get(key, [])]
